/**
 * Group commit in a busy object (durable-objects/gather.ts): an idle object applies a call at
 * once; calls arriving while that commit is in flight are applied together afterwards, in
 * arrival order, each answered with its own result as its round is applied (the runtime's
 * output gate holds the answer until the commit); one caller's failure is theirs alone; a
 * failed commit does not stop the rounds after it.
 */
import { describe, expect, it } from 'vitest';
import { Gather } from '../../durable-objects/gather.ts';

/** A storage whose commits the test completes by hand. */
function manualCommits(): { settle: () => Promise<void>; commit: (error?: Error) => Promise<void>; pending: () => number } {
  const waiting: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  return {
    settle: () => new Promise<void>((resolve, reject) => void waiting.push({ resolve, reject })),
    commit: async (error) => {
      const next = waiting.shift();
      if (!next) throw new Error('no commit in flight');
      if (error) next.reject(error);
      else next.resolve();
      // Let the answers and the next round run.
      for (let i = 0; i < 5; i++) await Promise.resolve();
    },
    pending: () => waiting.length,
  };
}

describe('Gather', () => {
  it('applies an idle call at once and gathers the calls that arrive during its commit into one round', async () => {
    const storage = manualCommits();
    const applied: number[] = [];
    const gather = new Gather<number, string>({
      apply: (n) => {
        applied.push(n);
        return `stored ${n}`;
      },
      settle: storage.settle,
    });
    const first = gather.submit(1);
    expect(applied).toEqual([1]); // no waiting before the first write
    expect(await first).toBe('stored 1'); // answered with its round (the output gate holds it until the commit)
    const rest = [2, 3, 4].map((n) => gather.submit(n));
    expect(applied).toEqual([1]); // they wait for the commit in flight
    let answered = 0;
    for (const r of rest) void r.then(() => answered++);
    await Promise.resolve();
    expect(answered).toBe(0);
    await storage.commit();
    expect(applied).toEqual([1, 2, 3, 4]); // the next round, all three in one turn
    expect(await Promise.all(rest)).toEqual(['stored 2', 'stored 3', 'stored 4']);
    expect(storage.pending()).toBe(1); // one commit for the three
    await storage.commit();
    expect(gather.stats).toEqual({ rounds: 2, calls: 4 });
    // Idle again: the next call is applied at once.
    const again = gather.submit(5);
    expect(applied).toEqual([1, 2, 3, 4, 5]);
    expect(await again).toBe('stored 5');
  });

  it('rejects only the call whose input failed; the others in its round are applied and answered', async () => {
    const storage = manualCommits();
    const gather = new Gather<number, number>({
      apply: (n) => {
        if (n === 3) throw new Error('bad input 3');
        return n * 10;
      },
      settle: storage.settle,
    });
    const results = [1, 2, 3, 4].map((n) => gather.submit(n));
    await storage.commit(); // round [1]
    await storage.commit(); // round [2, 3, 4]
    const settled = await Promise.allSettled(results);
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).toEqual([10, 20, 'bad input 3', 40]);
  });

  it('carries on with the next round when a commit failed (the runtime fails the gated answers)', async () => {
    const storage = manualCommits();
    const gather = new Gather<number, number>({ apply: (n) => n, settle: storage.settle });
    expect(await gather.submit(1)).toBe(1);
    const second = gather.submit(2);
    await storage.commit(new Error('storage reset'));
    expect(await second).toBe(2);
    await storage.commit();
    expect(gather.stats).toEqual({ rounds: 2, calls: 2 });
  });
});
