/**
 * Exponential backoff with "full jitter": the delay before attempt n is uniformly random in
 * [0, min(cap, base * 2^n)). Full jitter (rather than "base * 2^n ± a little") spreads a crowd of
 * clients that lost the same server at the same moment evenly over the window, so a deploy or a
 * network blip does not turn into synchronized reconnect waves.
 * See https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/.
 */

/** Tuning for {@link Backoff} and {@link fullJitterDelay}. */
export interface BackoffOptions {
  /** Upper bound of the first delay, ms. Default 250. */
  baseMs?: number;
  /** Largest upper bound any delay can have, ms. Default 30 000. */
  capMs?: number;
  /** Source of randomness in [0, 1). Default `Math.random`; inject a fixed one in tests. */
  random?: () => number;
}

export const DEFAULT_BACKOFF_BASE_MS = 250;
export const DEFAULT_BACKOFF_CAP_MS = 30_000;

/** The window [0, ceiling) the delay of attempt `attempt` (0-based) is drawn from. */
export function backoffCeiling(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? DEFAULT_BACKOFF_BASE_MS;
  const cap = options.capMs ?? DEFAULT_BACKOFF_CAP_MS;
  // 2 ** large overflows to Infinity, which Math.min turns back into the cap.
  return Math.max(0, Math.min(cap, base * 2 ** Math.max(0, attempt)));
}

/**
 * The delay before retry number `attempt` (0-based): uniformly random in [0, ceiling).
 *
 * @example
 * fullJitterDelay(0);                 // somewhere in [0, 250)
 * fullJitterDelay(10, { capMs: 5000 }); // somewhere in [0, 5000)
 */
export function fullJitterDelay(attempt: number, options: BackoffOptions = {}): number {
  const raw = (options.random ?? Math.random)();
  // Clamp a misbehaving random source so the bounds hold no matter what is injected.
  const r = Number.isFinite(raw) ? Math.min(Math.max(raw, 0), 1) : 0;
  const ceiling = backoffCeiling(attempt, options);
  return Math.min(Math.floor(r * ceiling), Math.max(0, ceiling - 1));
}

/**
 * A stateful backoff sequence: call `next()` before each retry and `reset()` after a success.
 *
 * @example
 * const backoff = new Backoff({ baseMs: 250, capMs: 30_000 });
 * setTimeout(reconnect, backoff.next());
 * // ... once connected:
 * backoff.reset();
 */
export class Backoff {
  private attemptCount = 0;
  private readonly options: BackoffOptions;

  constructor(options: BackoffOptions = {}) {
    this.options = options;
  }

  /** How many delays have been handed out since the last reset. */
  get attempt(): number {
    return this.attemptCount;
  }

  /** The delay for the next retry; advances the sequence. */
  next(): number {
    const delay = fullJitterDelay(this.attemptCount, this.options);
    this.attemptCount += 1;
    return delay;
  }

  /** Start over from the base delay (call after a successful attempt). */
  reset(): void {
    this.attemptCount = 0;
  }
}
