import { describe, expect, it } from 'vitest';
import { Backoff, backoffCeiling, fullJitterDelay } from '../../client/backoff.ts';

describe('backoff with full jitter', () => {
  it('doubles the ceiling per attempt from the base up to the cap', () => {
    const options = { baseMs: 250, capMs: 30_000 };
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((n) => backoffCeiling(n, options))).toEqual([
      250, 500, 1000, 2000, 4000, 8000, 16_000, 30_000,
    ]);
    // Huge attempt numbers overflow 2^n to Infinity; the cap must still hold.
    expect(backoffCeiling(5000, options)).toBe(30_000);
  });

  it('scales the delay by the random draw (full jitter: anywhere from 0 to the ceiling)', () => {
    expect(fullJitterDelay(3, { baseMs: 100, random: () => 0 })).toBe(0);
    expect(fullJitterDelay(3, { baseMs: 100, random: () => 0.5 })).toBe(400);
    expect(fullJitterDelay(3, { baseMs: 100, random: () => 0.25 })).toBe(200);
    // random() === 1 (a broken source) still stays strictly below the ceiling.
    expect(fullJitterDelay(3, { baseMs: 100, random: () => 1 })).toBe(799);
    expect(fullJitterDelay(3, { baseMs: 100, random: () => Number.NaN })).toBe(0);
  });

  it('stays within [0, min(cap, base * 2^n)) for every attempt with the real random source', () => {
    for (let attempt = 0; attempt < 40; attempt++) {
      const ceiling = backoffCeiling(attempt, { baseMs: 250, capMs: 30_000 });
      for (let i = 0; i < 50; i++) {
        const delay = fullJitterDelay(attempt, { baseMs: 250, capMs: 30_000 });
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(ceiling);
      }
    }
  });

  it('actually jitters: many draws for one attempt are spread out, not constant', () => {
    const delays = new Set(Array.from({ length: 200 }, () => fullJitterDelay(6, { baseMs: 250 })));
    expect(delays.size).toBeGreaterThan(50);
  });

  it('Backoff advances per next() and restarts from the base after reset()', () => {
    const backoff = new Backoff({ baseMs: 250, capMs: 1000, random: () => 0.999 });
    expect([backoff.next(), backoff.next(), backoff.next(), backoff.next()]).toEqual([249, 499, 999, 999]);
    expect(backoff.attempt).toBe(4);
    backoff.reset();
    expect(backoff.attempt).toBe(0);
    expect(backoff.next()).toBe(249);
  });
});
