/**
 * The SDK's large-group stream (client/large-groups.ts) against scripted frames: it pulls from
 * the switch after `group_heads` (only once the mailbox reached the switch entry), pages until
 * the head, takes live frames that continue its cursor, pulls on a gap, never emits an entry
 * twice, and survives a lost connection and a refused pull.
 */
import { describe, expect, it, vi } from 'vitest';
import { LargeGroups } from '../../client/large-groups.ts';
import type { ClientFrame, GroupEntry, GroupPullFrame } from '../../protocol/index.ts';

const G = '01JDQ5A1B2C3D4E5F6G7H8J9KM';
const ANN = '01JDQ3ZK8Y6W2V9T7R5P3N1M0Q';

function message(gseq: number): GroupEntry {
  return {
    type: 'message',
    message: { id: `01JDQ6${String(gseq).padStart(20, '0')}`, group: G, gseq, clientId: `c-${gseq}`, from: ANN, fromDevice: ANN, sentAt: gseq, body: { kind: 'text', text: `m ${gseq}` } },
  };
}
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => message(from + i));

function harness(options: { connected?: boolean; mailbox?: number } = {}) {
  const sent: GroupPullFrame[] = [];
  const emitted: number[] = [];
  let connected = options.connected ?? true;
  let mailbox = options.mailbox ?? 0;
  let ids = 0;
  const large = new LargeGroups({
    send: (frame: ClientFrame) => {
      if (!connected) return false;
      if (frame.type === 'group_pull') sent.push(frame);
      return true;
    },
    emit: (_group, entries) => emitted.push(...entries.map((e) => (e.type === 'message' ? e.message.gseq : -1))),
    mailboxCursor: () => mailbox,
    newId: () => `p${++ids}`,
  });
  return {
    large,
    sent,
    emitted,
    setConnected: (v: boolean) => (connected = v),
    setMailbox: (v: number) => (mailbox = v),
    answer: (pull: GroupPullFrame, through: number, head: number) =>
      large.onFrame({ type: 'group_entries', id: pull.id, group: G, entries: range(pull.after + 1, through), through, head }),
  };
}

describe('LargeGroups (SDK)', () => {
  it('pulls from the switch to the head page by page after group_heads, then follows live frames', () => {
    const h = harness({ mailbox: 50 });
    h.large.onFrame({ type: 'group_heads', groups: [{ group: G, head: 1_010, from: 10, seq: 40 }] });
    expect(h.sent.map((p) => [p.after, p.limit])).toEqual([[10, 500]]);
    h.answer(h.sent[0]!, 510, 1_010);
    expect(h.sent.map((p) => p.after)).toEqual([10, 510]);
    h.answer(h.sent[1]!, 1_010, 1_010);
    expect(h.sent).toHaveLength(2);
    expect(h.emitted).toEqual(range(11, 1_010).map((e) => (e.type === 'message' ? e.message.gseq : 0)));
    // Live, continuing the cursor: emitted at once, no pull.
    h.large.onFrame({ type: 'group_live', group: G, entries: [message(1_011), message(1_012)], after: 1_010, through: 1_012 });
    expect(h.emitted.slice(-2)).toEqual([1_011, 1_012]);
    expect(h.sent).toHaveLength(2);
    expect(h.large.cursor(G)).toBe(1_012);
  });

  it('waits for the mailbox to reach the switch entry before pulling (the chat stays in order)', () => {
    const h = harness({ mailbox: 10 });
    h.large.onFrame({ type: 'group_heads', groups: [{ group: G, head: 25, from: 20, seq: 40 }] });
    h.large.onFrame({ type: 'group_live', group: G, entries: [message(26)], after: 25, through: 26 });
    expect(h.sent).toEqual([]);
    expect(h.emitted).toEqual([]);
    h.large.onMailboxProgress(39);
    expect(h.sent).toEqual([]);
    h.large.onMailboxProgress(40);
    expect(h.sent.map((p) => p.after)).toEqual([20]);
    h.answer(h.sent[0]!, 26, 26);
    expect(h.emitted).toEqual([21, 22, 23, 24, 25, 26]);
  });

  it('a live frame after a gap makes it pull; what the pull brings and live frames meanwhile are emitted once', () => {
    const h = harness();
    h.large.onFrame({ type: 'group_heads', groups: [{ group: G, head: 5, from: 5, seq: null }] });
    expect(h.sent).toEqual([]);
    h.large.onFrame({ type: 'group_live', group: G, entries: [message(8)], after: 7, through: 8 });
    expect(h.sent.map((p) => p.after)).toEqual([5]);
    // While the pull is in flight another live frame arrives: it waits for the pull.
    h.large.onFrame({ type: 'group_live', group: G, entries: [message(9)], after: 8, through: 9 });
    h.answer(h.sent[0]!, 8, 9);
    expect(h.sent.map((p) => p.after)).toEqual([5, 8]);
    h.answer(h.sent[1]!, 9, 9);
    // A repeat of something already emitted is dropped.
    h.large.onFrame({ type: 'group_live', group: G, entries: [message(9)], after: 8, through: 9 });
    expect(h.emitted).toEqual([6, 7, 8, 9]);
  });

  it('a lost connection drops the pull in flight; the next group_heads pulls again from the cursor', () => {
    const h = harness();
    h.large.onFrame({ type: 'group_heads', groups: [{ group: G, head: 700, from: 0, seq: null }] });
    h.answer(h.sent[0]!, 500, 700);
    expect(h.sent.map((p) => p.after)).toEqual([0, 500]);
    // The answer to the second pull is lost with the connection.
    h.large.onDisconnect();
    h.setConnected(false);
    h.large.onFrame({ type: 'group_live', group: G, entries: [message(701)], after: 700, through: 701 });
    h.setConnected(true);
    h.large.onFrame({ type: 'group_heads', groups: [{ group: G, head: 701, from: 0, seq: null }] });
    expect(h.sent.map((p) => p.after)).toEqual([0, 500, 500]);
    // An answer to the pull of the old connection is ignored.
    h.answer(h.sent[1]!, 700, 701);
    expect(h.emitted).toHaveLength(500);
    h.answer(h.sent[2]!, 701, 701);
    expect(h.emitted).toEqual(Array.from({ length: 701 }, (_, i) => i + 1));
  });

  it('a refused pull is tried again after retryAfterMs; an error for another id is not taken', () => {
    vi.useFakeTimers();
    try {
      const h = harness();
      h.large.onFrame({ type: 'group_heads', groups: [{ group: G, head: 3, from: 0, seq: null }] });
      expect(h.large.onPullRefused('someone-elses-send', 100)).toBe(false);
      expect(h.large.onPullRefused(h.sent[0]!.id, 250)).toBe(true);
      expect(h.sent).toHaveLength(1);
      vi.advanceTimersByTime(249);
      expect(h.sent).toHaveLength(1);
      vi.advanceTimersByTime(1);
      expect(h.sent.map((p) => p.after)).toEqual([0, 0]);
      h.answer(h.sent[1]!, 3, 3);
      expect(h.emitted).toEqual([1, 2, 3]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('starts a group from a stored cursor when it is past the switch', () => {
    const stored = new Map([[G, 30]]);
    const sent: GroupPullFrame[] = [];
    const large = new LargeGroups({
      send: (f) => (f.type === 'group_pull' ? sent.push(f) > 0 : true),
      emit: () => undefined,
      mailboxCursor: () => 0,
      store: { get: (g) => stored.get(g), set: (g, v) => void stored.set(g, v) },
      newId: () => 'p',
    });
    large.onFrame({ type: 'group_heads', groups: [{ group: G, head: 40, from: 20, seq: null }] });
    expect(sent.map((p) => p.after)).toEqual([30]);
  });
});
