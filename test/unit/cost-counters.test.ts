// The bench's cost counters (lib/cost-counters.ts) without a runtime: the switch, which
// statements count as writes, and how write turns become commits. The counters inside real
// objects are tested end to end in test/e2e/cost-counters.e2e.test.ts.
import { describe, expect, it } from 'vitest';
import { costCountersOn, countCosts, emptyTally, isWriteStatement, turnTracker } from '../../lib/cost-counters.ts';

describe('the cost counters switch', () => {
  it('is on only with both LOCAL_DEVELOPMENT=true and LOCAL_COST_COUNTERS=on', () => {
    expect(costCountersOn({ LOCAL_DEVELOPMENT: 'true', LOCAL_COST_COUNTERS: 'on' })).toBe(true);
    expect(costCountersOn({ LOCAL_DEVELOPMENT: 'false', LOCAL_COST_COUNTERS: 'on' })).toBe(false);
    expect(costCountersOn({ LOCAL_DEVELOPMENT: 'true', LOCAL_COST_COUNTERS: 'true' })).toBe(false);
    expect(costCountersOn({ LOCAL_DEVELOPMENT: 'true' })).toBe(false);
  });

  it('off, hands the object its own state back untouched (nothing is wrapped)', () => {
    const ctx = { id: { name: 'u1', toString: () => 'u1' }, storage: { sql: { exec: () => undefined } } };
    class Probe {
      ping(): string {
        return 'pong';
      }
    }
    const probe = new Probe();
    const before = Probe.prototype.ping;
    expect(countCosts('mailbox', probe, ctx, { LOCAL_DEVELOPMENT: 'true' })).toBe(ctx);
    expect(Probe.prototype.ping).toBe(before);
  });
});

describe('write statements', () => {
  it.each([
    ['SELECT seq FROM mailbox WHERE seq > ?', false],
    ['  -- the head\n  select max(seq) from mailbox', false],
    ['PRAGMA table_info(mailbox)', false],
    ['EXPLAIN QUERY PLAN SELECT 1', false],
    ['WITH t AS (SELECT 1) SELECT * FROM t', false],
    ['INSERT INTO mailbox (seq, text) VALUES (?, ?)', true],
    ['UPDATE meta SET value = ? WHERE key = ?', true],
    ['DELETE FROM mailbox WHERE at < ?', true],
    ['INSERT OR IGNORE INTO seen (id) VALUES (?)', true],
    ['REPLACE INTO meta VALUES (?, ?)', true],
    ['CREATE TABLE IF NOT EXISTS t (a)', true],
    ['WITH old AS (SELECT seq FROM mailbox) DELETE FROM mailbox WHERE seq IN old', true],
    ['PRAGMA user_version = 3', true],
  ])('%s -> write %s', (sql, write) => {
    expect(isWriteStatement(sql)).toBe(write);
  });
});

describe('commits counted from write turns', () => {
  /** A stand-in runtime: microtasks and timers run when the test says. */
  function fakeRuntime() {
    const microtasks: Array<() => void> = [];
    const timers: Array<() => void> = [];
    const run = (queue: Array<() => void>): void => {
      for (const fn of queue.splice(0)) fn();
    };
    return {
      schedule: { microtask: (fn: () => void) => void microtasks.push(fn), timer: (fn: () => void) => void timers.push(fn) },
      endTurn: () => run(microtasks),
      fireTimers: () => run(timers),
    };
  }

  it('counts writes of one turn once, and each later turn that wrote again', () => {
    const tally = emptyTally();
    const runtime = fakeRuntime();
    const wrote = turnTracker(tally, runtime.schedule);
    wrote();
    wrote();
    wrote();
    expect(tally.commits).toBe(1);
    runtime.endTurn();
    wrote();
    expect(tally.commits).toBe(2);
    // Both turns fell in one timer window: the lower bound says one.
    expect(tally.commitsLow).toBe(1);
    runtime.endTurn();
    runtime.fireTimers();
    wrote();
    expect(tally).toMatchObject({ commits: 3, commitsLow: 2 });
  });

  it('counts nothing for turns that only read', () => {
    const tally = emptyTally();
    turnTracker(tally, fakeRuntime().schedule);
    expect(tally).toMatchObject({ commits: 0, commitsLow: 0 });
  });
});
