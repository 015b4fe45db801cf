/**
 * Push notices of a large group (durable-objects/group/notices.ts): at most one per burst, to the
 * members without a connected device, the sender left out; the window's held messages go out as
 * one notice when it ends. The clock and the timer are driven by hand.
 */
import { describe, expect, it } from 'vitest';
import type { GroupEntry, GroupMessage } from '../../protocol/index.ts';
import type { Notice } from '../../durable-objects/group/fanout-job.ts';
import type { LogRow } from '../../durable-objects/group/log.ts';
import { Notices } from '../../durable-objects/group/notices.ts';

const GROUP = '01KDWR09C0ZWWAK62MXG4V4SN9';
const BURST = 30_000;
const MAX_GAP = 4 * BURST;

function message(gseq: number, from: string): GroupMessage {
  return {
    id: `m${gseq}`,
    group: GROUP,
    gseq,
    clientId: `c${gseq}`,
    from,
    fromDevice: 'd',
    sentAt: gseq,
    body: { kind: 'text', text: `text ${gseq}` },
  };
}

function row(entry: GroupEntry): LogRow {
  const gseq = entry.type === 'message' ? entry.message.gseq : entry.type === 'event' ? entry.event.gseq : entry.update.gseq;
  return { gseq, membership: false, target: null, entry };
}

const msg = (gseq: number, from = 'ann'): LogRow => row({ type: 'message', message: message(gseq, from) });
const event = (gseq: number): LogRow =>
  row({ type: 'event', event: { id: `e${gseq}`, group: GROUP, gseq, by: 'ann', at: gseq, change: { kind: 'title_changed', title: 'x' } } });

function harness(online: string[] = []) {
  let now = 1_000_000;
  const sent: Array<{ to: string[]; notice: Notice }> = [];
  const timers: Array<{ at: number; task: () => void }> = [];
  const notices = new Notices({
    members: () => ['ann', 'bob', 'cat', 'dan'],
    online: () => new Set(online),
    send: async (to, notice) => void sent.push({ to, notice }),
    burstMs: BURST,
    maxGapMs: MAX_GAP,
    now: () => now,
    schedule: (ms, task) => void timers.push({ at: now + ms, task }),
  });
  return {
    notices,
    sent,
    timers,
    advance(ms: number) {
      now += ms;
      const due = timers.filter((t) => t.at <= now);
      timers.splice(0, timers.length, ...timers.filter((t) => t.at > now));
      for (const t of due) t.task();
    },
  };
}

describe('large group notices', () => {
  it('the first message after a quiet spell goes out at once, to members away, without its sender', () => {
    const h = harness(['cat']);
    h.notices.after([msg(10, 'ann')]);
    expect(h.sent).toEqual([{ to: ['bob', 'dan'], notice: { message: message(10, 'ann'), count: 1 } }]);
  });

  it('holds what follows within the burst and sends it as one notice when the window ends, with the count and the newest', () => {
    const h = harness();
    h.notices.after([msg(10)]);
    h.notices.after([msg(11), msg(12, 'bob')]);
    h.notices.after([msg(13, 'cat')]);
    expect(h.sent).toHaveLength(1);
    expect(h.timers).toHaveLength(1);
    h.advance(BURST - 1);
    expect(h.sent).toHaveLength(1);
    h.advance(1);
    expect(h.sent).toHaveLength(2);
    expect(h.sent[1]).toEqual({ to: ['ann', 'bob', 'dan'], notice: { message: message(13, 'cat'), count: 3 } });
    // That notice opened a new window: the next message is held again, not sent at once.
    h.notices.after([msg(14)]);
    expect(h.sent).toHaveLength(2);
    h.advance(BURST);
    expect(h.sent[2]!.notice).toEqual({ message: message(14, 'ann'), count: 1 });
    // After a quiet window, a message goes out at once again.
    h.advance(BURST);
    h.notices.after([msg(15)]);
    expect(h.sent).toHaveLength(4);
  });

  it('events alone notify no one; nobody away means no notice', () => {
    const h = harness();
    h.notices.after([event(5)]);
    expect(h.sent).toEqual([]);
    const everyone = harness(['ann', 'bob', 'cat', 'dan']);
    everyone.notices.after([msg(6)]);
    expect(everyone.sent).toEqual([]);
    expect(everyone.notices.stats.notices).toBe(0);
  });

  it('a member who stays away from a busy group gets notices at growing gaps, up to the longest, each counting what came since the last', () => {
    const h = harness();
    let t = 0;
    h.notices.after([msg(0)]);
    for (let i = 1; i <= 60; i++) {
      h.advance(10_000);
      t += 10_000;
      h.notices.after([msg(i)]);
    }
    h.advance(MAX_GAP);
    t += MAX_GAP;
    // Every notice bob got, with the time it was sent (each `sent` entry is pushed when sent).
    const toBob = h.sent.filter((s) => s.to.includes('bob'));
    expect(toBob.map((s) => s.notice.count).reduce((a, b) => a + b, 0)).toBe(61);
    expect(toBob[toBob.length - 1]!.notice.message).toEqual(message(60, 'ann'));
    expect(t).toBe(720_000);
    // At 0, 30, 90, 210 s, then every MAX_GAP (120 s): 8 notices in 12 minutes, not 25.
    expect(toBob.map((s) => s.notice.count)).toEqual([1, 2, 6, 12, 12, 12, 12, 4]);
  });

  it('news that waited for a member\'s gap goes out when the gap ends, even if the group went quiet', () => {
    const h = harness();
    h.notices.after([msg(1)]); // t 0: to bob, cat, dan; next gap 30 s
    h.advance(35_000);
    h.notices.after([msg(2)]); // t 35: the window passed and their gap too: sent; next gap 60 s (t 95)
    expect(h.sent).toHaveLength(2);
    h.advance(35_000);
    h.notices.after([msg(3)]); // t 70: window open, but nobody's gap passed
    expect(h.sent).toHaveLength(2);
    h.advance(24_999);
    expect(h.sent).toHaveLength(2);
    h.advance(1);
    expect(h.sent[2]).toEqual({ to: ['bob', 'cat', 'dan'], notice: { message: message(3, 'ann'), count: 1 } });
    h.advance(10 * MAX_GAP);
    expect(h.sent).toHaveLength(3);
  });

  it('a member whose device connected starts over: their next notice goes at once, the others keep their gaps', () => {
    const online: string[] = [];
    const h = harness(online);
    h.notices.after([msg(1)]);
    h.advance(35_000);
    h.notices.after([msg(2)]); // everyone away now waits 60 s (t 95)
    h.advance(5_000);
    online.push('bob');
    h.notices.present('bob');
    online.pop();
    h.advance(30_000);
    h.notices.after([msg(3)]); // t 70
    expect(h.sent[2]).toEqual({ to: ['bob'], notice: { message: message(3, 'ann'), count: 1 } });
    // Their gap ends at t 95, inside the burst window that bob's notice opened (until t 100).
    h.advance(29_999);
    expect(h.sent).toHaveLength(3);
    h.advance(1);
    expect(h.sent[3]).toEqual({ to: ['cat', 'dan'], notice: { message: message(3, 'ann'), count: 1 } });
  });
});
