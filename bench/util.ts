/**
 * Small helpers shared by the bench modules: progress lines on stderr, a bounded-concurrency
 * map, sleeping, and a seeded pseudo-random generator (so runs choose the same pairs).
 */

/** Progress and status lines go to stderr so stdout holds only the report. */
export function note(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Prints `label done/total` at most every `everyMs` (and always at the end). */
export function progressPrinter(label: string, total: number, everyMs = 1_000): (done: number) => void {
  const start = performance.now();
  let last = start;
  return (done) => {
    const now = performance.now();
    if (done < total && now - last < everyMs) return;
    last = now;
    note(`${label} ${done}/${total} (${((now - start) / 1000).toFixed(1)} s)`);
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Run `task(i)` for i in [0, count) with at most `concurrency` running at once; results in
 * index order. The first failure stops new tasks and rejects.
 */
export async function mapPool<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < count) {
      const i = next++;
      try {
        results[i] = await task(i);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

/** mulberry32: a tiny, fast, seeded PRNG returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Reject if `promise` has not settled within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`${message} (after ${ms} ms)`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
