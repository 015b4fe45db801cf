/**
 * Group commit in a busy mailbox (durable-objects/mailbox/gather.ts): calls that arrive before
 * the round runs are applied together, in arrival order, each answered with its own result; one
 * caller's failure is theirs alone; nothing is answered before its round ran.
 */
import { describe, expect, it } from 'vitest';
import { Gather } from '../../durable-objects/mailbox/gather.ts';

/** A `later` the test runs by hand: the rounds scheduled so far. */
function manualLater(): { later: (task: () => void) => void; run: () => void; pending: () => number } {
  const tasks: Array<() => void> = [];
  return { later: (task) => void tasks.push(task), run: () => tasks.splice(0).forEach((t) => t()), pending: () => tasks.length };
}

describe('Gather', () => {
  it('applies the calls that arrived before the round together, in order, each answered with its own result', async () => {
    const clock = manualLater();
    const applied: number[][] = [];
    let round: number[] = [];
    const gather = new Gather<number, string>({
      apply: (n) => {
        round.push(n);
        return `stored ${n}`;
      },
      later: clock.later,
    });
    const answered: string[] = [];
    const calls = [1, 2, 3].map((n) => gather.submit(n).then((r) => void answered.push(r)));
    expect(clock.pending()).toBe(1); // one round scheduled for all three
    await Promise.resolve();
    expect(answered).toEqual([]); // nothing answered before its round ran
    clock.run();
    applied.push(round);
    round = [];
    await Promise.all(calls);
    expect(answered).toEqual(['stored 1', 'stored 2', 'stored 3']);
    // A later call starts a new round.
    const fourth = gather.submit(4);
    expect(clock.pending()).toBe(1);
    clock.run();
    applied.push(round);
    expect(await fourth).toBe('stored 4');
    expect(applied).toEqual([[1, 2, 3], [4]]);
    expect(gather.stats).toEqual({ rounds: 2, calls: 4 });
  });

  it('rejects only the call whose input failed; the others in its round are applied and answered', async () => {
    const clock = manualLater();
    const gather = new Gather<number, number>({
      apply: (n) => {
        if (n === 2) throw new Error('bad input 2');
        return n * 10;
      },
      later: clock.later,
    });
    const results = [1, 2, 3].map((n) => gather.submit(n));
    clock.run();
    const settled = await Promise.allSettled(results);
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).toEqual([10, 'bad input 2', 30]);
  });

  it('runs its rounds on a real timer when not given one', async () => {
    const gather = new Gather<string, string>({ apply: (s) => s.toUpperCase() });
    expect(await Promise.all([gather.submit('a'), gather.submit('b')])).toEqual(['A', 'B']);
    expect(gather.stats).toEqual({ rounds: 1, calls: 2 });
  });
});
