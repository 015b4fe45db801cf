/**
 * The fault-run history checker: accepts a correct history, and names each kind of broken one;
 * and the deliberately broken client (tamper.ts) the end-to-end proof uses breaks exactly one thing.
 */
import { describe, expect, it } from 'vitest';
import { checkHistory, formatReport, VIOLATION_KINDS } from '../fault/checker.ts';
import type { CheckReport, Violation, ViolationKind } from '../fault/checker.ts';
import { HistoryRecorder } from '../fault/history.ts';
import type { ChatRef, DeliverEvent, HistoryEvent, SendEvent } from '../fault/history.ts';
import { DeliveryTamper, namesTamper, type TamperMode, type TamperRecord } from '../fault/tamper.ts';

/**
 * A tiny correct "server" on top of the recorder: mailbox seqs per user (one entry per message,
 * the same seq on every device of that user), so tests write only who sends and who receives.
 */
class World {
  readonly rec = new HistoryRecorder();
  private readonly heads = new Map<string, number>();
  private readonly entries = new Map<string, number>();
  private readonly sends = new Map<string, SendEvent>();
  private ids = 0;

  send(user: string, device: string, connection: string, chat: ChatRef, clientId: string): number {
    const at = this.rec.send({ user, device, connection, chat, clientId, body: `${user}:${clientId}` });
    this.sends.set(clientId, this.rec.events[at] as SendEvent);
    return at;
  }

  /** Acks with a message id derived from the client id, the same for every retry. */
  ack(attempt: number): void {
    const send = this.rec.events[attempt] as SendEvent;
    this.rec.ack(attempt, `m-${send.clientId}`, send.chat.kind === 'group' ? ++this.ids : undefined);
  }

  /** Delivers `clientId` to `user`'s `devices`, at the seq its entry has in that user's mailbox. */
  deliver(clientId: string, user: string, ...devices: string[]): void {
    const send = this.sends.get(clientId);
    if (!send) throw new Error(`no send ${clientId}`);
    const entry = `${user}\u0000${clientId}`;
    let seq = this.entries.get(entry);
    if (seq === undefined) {
      seq = (this.heads.get(user) ?? 0) + 1;
      this.heads.set(user, seq);
      this.entries.set(entry, seq);
    }
    for (const device of devices) {
      this.rec.deliver({ user, device, chat: send.chat, from: send.user, clientId, messageId: `m-${clientId}`, body: send.body, seq });
    }
  }
}

const bob: ChatRef = { kind: 'direct', peer: 'bob' };
const group: ChatRef = { kind: 'group', group: 'g' };

/** 1:1 and group traffic with retries, unknown outcomes, a device added and members joining and leaving. */
function cleanHistory(): HistoryEvent[] {
  const w = new World();
  const { rec } = w;
  rec.deviceAdded('alice', 'a1');
  rec.deviceAdded('alice', 'a2');
  rec.deviceAdded('bob', 'b1');
  rec.deviceAdded('carol', 'c1');
  rec.deviceAdded('dave', 'd1');
  for (const user of ['alice', 'bob', 'carol']) rec.member('g', user, 'joined');

  // m1: plain 1:1; its recipient's later device b2 is not owed it.
  w.ack(w.send('alice', 'a1', 'conn1', bob, 'm1'));
  w.deliver('m1', 'bob', 'b1');
  w.deliver('m1', 'alice', 'a2');
  // m2: the connection dies unanswered, the retry on a new one is acked: owed, delivered once.
  rec.unknown(w.send('alice', 'a1', 'conn1', bob, 'm2'));
  w.ack(w.send('alice', 'a1', 'conn2', bob, 'm2'));
  w.deliver('m2', 'bob', 'b1');
  w.deliver('m2', 'alice', 'a2');
  // m3: unknown and never retried: delivered to bob only, which is allowed.
  rec.unknown(w.send('alice', 'a1', 'conn2', bob, 'm3'));
  w.deliver('m3', 'bob', 'b1');
  // m4: a retryable error, then acked.
  rec.error(w.send('alice', 'a1', 'conn3', bob, 'm4'), 'rate_limited', true);
  w.ack(w.send('alice', 'a1', 'conn3', bob, 'm4'));
  w.deliver('m4', 'alice', 'a2');
  w.deliver('m4', 'bob', 'b1');
  // Bob adds a device; m5 is owed to it, and m6/m7 are pipelined on one connection.
  rec.deviceAdded('bob', 'b2');
  w.ack(w.send('alice', 'a1', 'conn3', bob, 'm5'));
  const m6 = w.send('alice', 'a1', 'conn3', bob, 'm6');
  const m7 = w.send('alice', 'a1', 'conn3', bob, 'm7');
  w.deliver('m5', 'bob', 'b1', 'b2');
  w.deliver('m6', 'bob', 'b2', 'b1');
  w.ack(m6);
  w.deliver('m7', 'bob', 'b1', 'b2');
  w.ack(m7);
  w.deliver('m5', 'alice', 'a2');
  w.deliver('m6', 'alice', 'a2');
  w.deliver('m7', 'alice', 'a2');
  // Bob answers: a message the other way.
  w.ack(w.send('bob', 'b1', 'conn4', { kind: 'direct', peer: 'alice' }, 'r1'));
  w.deliver('r1', 'alice', 'a1', 'a2');
  w.deliver('r1', 'bob', 'b2');

  // Group: g1 to alice, bob, carol.
  w.ack(w.send('alice', 'a1', 'conn3', group, 'g1'));
  w.deliver('g1', 'bob', 'b1', 'b2');
  w.deliver('g1', 'carol', 'c1');
  w.deliver('g1', 'alice', 'a2');
  // Dave joins; g2 is sent while his join is in flight, so it may reach him or not (it does).
  const joinRequested = rec.position();
  const g2 = w.send('carol', 'c1', 'conn5', group, 'g2');
  rec.member('g', 'dave', 'joined', joinRequested);
  w.ack(g2);
  w.deliver('g2', 'dave', 'd1');
  w.deliver('g2', 'alice', 'a1', 'a2');
  w.deliver('g2', 'bob', 'b1', 'b2');
  // g3 after the join: owed to dave too.
  w.ack(w.send('carol', 'c1', 'conn5', group, 'g3'));
  w.deliver('g3', 'alice', 'a1', 'a2');
  w.deliver('g3', 'bob', 'b1', 'b2');
  w.deliver('g3', 'dave', 'd1');
  // Carol leaves; g4 is owed to everyone else, not to her.
  rec.member('g', 'carol', 'left');
  w.ack(w.send('bob', 'b1', 'conn4', group, 'g4'));
  w.deliver('g4', 'alice', 'a1', 'a2');
  w.deliver('g4', 'dave', 'd1');
  w.deliver('g4', 'bob', 'b2');
  // g5: refused (a non-retryable error) and delivered nowhere.
  rec.error(w.send('carol', 'c1', 'conn5', group, 'g5'), 'not_member', false);
  return rec.events;
}

/** The kinds of violation found, with how many of each. */
function found(report: CheckReport): Partial<Record<ViolationKind, number>> {
  return Object.fromEntries(VIOLATION_KINDS.filter((k) => report.violations[k].length > 0).map((k) => [k, report.violations[k].length]));
}

const isDelivery = (clientId: string, device: string) => (e: HistoryEvent): e is DeliverEvent =>
  e.type === 'deliver' && e.clientId === clientId && e.device === device;

function indexOf(events: HistoryEvent[], clientId: string, device: string): number {
  const i = events.findIndex(isDelivery(clientId, device));
  if (i < 0) throw new Error(`no delivery of ${clientId} to ${device}`);
  return i;
}

type Unplaced<E = HistoryEvent> = E extends HistoryEvent ? Omit<E, 'at'> : never;

/** Appends events after the last one, keeping `at` increasing. */
function append(events: HistoryEvent[], ...more: Unplaced[]): HistoryEvent[] {
  let at = (events.at(-1)?.at ?? 0) + 1;
  return [...events, ...more.map((e) => ({ ...e, at: at++ }) as HistoryEvent)];
}

/** Swaps which delivery happened first; with `keepSeqs` the mailbox seqs stay in rising order. */
function swap(events: HistoryEvent[], i: number, j: number, keepSeqs: boolean): HistoryEvent[] {
  const copy = [...events];
  const a = events[i] as DeliverEvent;
  const b = events[j] as DeliverEvent;
  copy[i] = { ...b, at: a.at, seq: keepSeqs ? a.seq : b.seq };
  copy[j] = { ...a, at: b.at, seq: keepSeqs ? b.seq : a.seq };
  return copy;
}

describe('checkHistory', () => {
  it('accepts a correct history: retries, unknown outcomes, a device added, members joining and leaving', () => {
    const report = checkHistory(cleanHistory());
    expect(found(report)).toEqual({});
    expect(report.ok).toBe(true);
    // m1..m7, r1, g1..g5 = 13 messages; 15 attempts; 11 acked (m3 and g5 never were).
    expect(report.counts).toMatchObject({ sent: 13, attempts: 15, acked: 11 });
    // Owed: m1,m2,m4 → b1,a2 (6); m5,m6,m7 → b1,b2,a2 (9); r1 → a1,a2,b2 (3); g1 → a2,b1,b2 (3:
    // carol left by the end, dave joined later); g2 → a1,a2,b1,b2 (4: dave's join was in flight);
    // g3 → a1,a2,b1,b2,d1 (5); g4 → a1,a2,b2,d1 (4). Delivered beyond that: m3 to b1, g1 to c1, g2 to d1.
    expect(report.counts.owed).toBe(34);
    expect(report.counts.delivered).toBe(37);
  });

  it('names a dropped delivery as lost, also for a message acked only on a retry', () => {
    const events = cleanHistory();
    for (const [clientId, device] of [['m1', 'b1'], ['m2', 'a2'], ['m5', 'b2'], ['g3', 'd1']] as const) {
      const dropped = events.filter((_, i) => i !== indexOf(events, clientId, device));
      const report = checkHistory(dropped);
      expect(found(report)).toEqual({ lost: 1 });
      expect(report.violations.lost[0]?.summary).toContain(`${clientId} was acked but never reached`);
      expect(report.violations.lost[0]?.summary).toContain(`/${device}`);
    }
  });

  it('names a second delivery to one device as duplicated, unacked messages included', () => {
    const events = cleanHistory();
    for (const clientId of ['m1', 'm3']) {
      const report = checkHistory(append(events, events[indexOf(events, clientId, 'b1')] as DeliverEvent));
      expect(found(report)).toEqual({ duplicated: 1 });
      expect(report.violations.duplicated[0]?.trace.every((e) => e.type === 'deliver' && e.clientId === clientId)).toBe(true);
    }
  });

  it('names a message stored twice (a copy with another message id) as duplicated', () => {
    const events = cleanHistory();
    const i = indexOf(events, 'm2', 'a2');
    const altered = events.map((e, k) => (k === i ? { ...(e as DeliverEvent), messageId: 'm-other' } : e));
    const report = checkHistory(altered);
    expect(found(report)).toEqual({ duplicated: 1 });
    expect(report.violations.duplicated[0]?.summary).toContain('stored twice');
  });

  it('names swapped deliveries as reordered: by ack-before-send, by connection, and by mailbox seq', () => {
    const events = cleanHistory();
    // m6 was sent after m5 was acked.
    const byAck = checkHistory(swap(events, indexOf(events, 'm5', 'a2'), indexOf(events, 'm6', 'a2'), true));
    expect(found(byAck)).toEqual({ reordered: 1 });
    expect(byAck.violations.reordered[0]?.summary).toContain('was acked before');
    // m6 and m7 were both written on conn3 before either was acked: only the connection's order
    // says m6 comes first.
    const byConnection = checkHistory(swap(events, indexOf(events, 'm6', 'b2'), indexOf(events, 'm7', 'b2'), true));
    expect(found(byConnection)).toEqual({ reordered: 1 });
    expect(byConnection.violations.reordered[0]?.summary).toContain('written (and acked) on conn3');
    // Swapping the seqs with the messages also breaks the device's rising mailbox seq.
    const withSeqs = checkHistory(swap(events, indexOf(events, 'm5', 'a2'), indexOf(events, 'm6', 'a2'), false));
    expect(found(withSeqs)).toEqual({ reordered: 2 });
    expect(withSeqs.violations.reordered.map((v) => v.summary).join('\n')).toContain('mailbox seq went from');
  });

  it('does not call an order reordered when nothing fixed it (different connections, both in flight)', () => {
    const w = new World();
    w.rec.deviceAdded('bob', 'b1');
    const x = w.send('alice', 'a1', 'connA', bob, 'x');
    const y = w.send('alice', 'a1', 'connB', bob, 'y');
    w.deliver('y', 'bob', 'b1');
    w.deliver('x', 'bob', 'b1');
    w.ack(x);
    w.ack(y);
    expect(found(checkHistory(w.rec.events))).toEqual({});
  });

  it('names a delivery nobody sent, or with another body or chat, as phantom', () => {
    const events = cleanHistory();
    const template = events[indexOf(events, 'm1', 'b1')] as DeliverEvent;
    const neverSent = checkHistory(append(events, { ...template, clientId: 'nobody', messageId: 'm-nobody', seq: 99 }));
    expect(found(neverSent)).toEqual({ phantom: 1 });
    expect(neverSent.violations.phantom[0]?.summary).toContain('never sent');

    const i = indexOf(events, 'g3', 'd1');
    const alteredBody = checkHistory(events.map((e, k) => (k === i ? { ...(e as DeliverEvent), body: 'forged' } : e)));
    expect(found(alteredBody)).toEqual({ phantom: 1 });
    expect(alteredBody.violations.phantom[0]?.summary).toContain('altered');

    const refused = checkHistory(append(events, { ...template, from: 'carol', clientId: 'g5', messageId: 'm-g5', body: 'carol:g5', chat: group, seq: 99 }));
    expect(found(refused)).toEqual({ phantom: 1 });
    expect(refused.violations.phantom[0]?.summary).toContain('refused');
  });

  it('names a delivery outside the audience as misrouted: a stranger in 1:1, a non-member in a group', () => {
    const events = cleanHistory();
    const m1 = events[indexOf(events, 'm1', 'b1')] as DeliverEvent;
    const stranger = checkHistory(append(events, { ...m1, user: 'carol', device: 'c1', seq: 99 }));
    expect(found(stranger)).toEqual({ misrouted: 1 });

    // g4 was sent after carol left; g1 before dave asked to join.
    const g4 = events[indexOf(events, 'g4', 'd1')] as DeliverEvent;
    const g1 = events[indexOf(events, 'g1', 'c1')] as DeliverEvent;
    const report = checkHistory(append(events, { ...g4, user: 'carol', device: 'c1', seq: 98 }, { ...g1, user: 'dave', device: 'd1', seq: 99 }));
    expect(found(report)).toEqual({ misrouted: 2 });
    expect(report.violations.misrouted[0]?.trace.some((e) => e.type === 'member' && e.change === 'left')).toBe(true);
  });

  it('names two acks with different ids, or an ack then a refusal, as an ack conflict', () => {
    const events = cleanHistory();
    const m1 = events.find((e): e is SendEvent => e.type === 'send' && e.clientId === 'm1') as SendEvent;
    const retryAt = (events.at(-1)?.at ?? 0) + 1;
    const twoIds = checkHistory(append(events, { ...m1, connection: 'conn9' }, { type: 'ack', attempt: retryAt, messageId: 'm-second' }));
    expect(found(twoIds)).toEqual({ ackConflict: 1 });
    expect(twoIds.violations.ackConflict[0]?.summary).toContain('acked as m-m1 and as m-second');

    const refusedLater = checkHistory(append(events, { ...m1, connection: 'conn9' }, { type: 'error', attempt: retryAt, code: 'invalid_frame', retryable: false }));
    expect(found(refusedLater)).toEqual({ ackConflict: 1 });
  });

  it('rejects a history the driver could not have recorded', () => {
    const events = cleanHistory();
    expect(() => checkHistory(append(events, { type: 'ack', attempt: 10_000, messageId: 'x' }))).toThrow(/no send attempt/);
    expect(() => checkHistory([events[1], events[0], ...events.slice(2)] as HistoryEvent[])).toThrow(/is not after/);
    expect(() => checkHistory(append(events, { type: 'member', group: 'g', user: 'alice', change: 'joined', requestedAt: 0 }))).toThrow(/twice in a row/);
  });

  it('formats a summary table and the first traces', () => {
    const clean = formatReport(checkHistory(cleanHistory()));
    expect(clean).toMatch(/^history check: OK/);
    expect(clean).toMatch(/lost\s+0/);
    expect(clean).toMatch(/ack conflicts\s+0/);

    const events = cleanHistory();
    const broken = formatReport(checkHistory(events.filter((_, i) => i !== indexOf(events, 'm1', 'b1'))), 1);
    expect(broken).toMatch(/lost\s+1/);
    expect(broken).toContain("alice's direct:bob message m1 was acked but never reached bob/b1");
    expect(broken).toMatch(/#\d+\s+send\s+alice\/a1 on conn1/);
  });
});

/** A seeded generator of correct histories, with deliveries lagging behind in per-device queues. */
function bigHistory(messages: number, seed: number): HistoryEvent[] {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const rec = new HistoryRecorder();
  const users = Array.from({ length: 40 }, (_, i) => `u${i}`);
  const devices = (user: string) => [`${user}-d1`, `${user}-d2`];
  const groups = Array.from({ length: 6 }, (_, g) => ({ id: `g${g}`, members: users.filter((_, i) => i % 6 === g || i % 7 === g) }));
  for (const user of users) for (const device of devices(user)) rec.deviceAdded(user, device);
  for (const g of groups) for (const user of g.members) rec.member(g.id, user, 'joined');
  const heads = new Map<string, number>();
  const queues = new Map<string, Omit<DeliverEvent, 'type' | 'at'>[]>();
  const flush = (device: string) => {
    for (const d of queues.get(device) ?? []) rec.deliver(d);
    queues.set(device, []);
  };
  for (let n = 0; n < messages; n++) {
    const user = pick(users);
    const device = pick(devices(user));
    const inGroups = groups.filter((g) => g.members.includes(user));
    const chat: ChatRef = random() < 0.3 && inGroups.length > 0 ? { kind: 'group', group: pick(inGroups).id } : { kind: 'direct', peer: pick(users.filter((u) => u !== user)) };
    const clientId = `c${n}`;
    const body = `b${n}`;
    const first = rec.send({ user, device, connection: `${device}#${n >> 4}`, chat, clientId, body });
    let attempt = first;
    if (random() < 0.05) {
      rec.unknown(first);
      attempt = rec.send({ user, device, connection: `${device}#retry${n}`, chat, clientId, body });
    }
    rec.ack(attempt, `m${n}`, chat.kind === 'group' ? n : undefined);
    const audience = chat.kind === 'direct' ? [user, chat.peer] : (groups.find((g) => g.id === chat.group)?.members ?? []);
    for (const member of audience) {
      const seq = (heads.get(member) ?? 0) + 1;
      heads.set(member, seq);
      for (const target of devices(member)) {
        if (target === device) continue;
        const queue = queues.get(target) ?? [];
        queues.set(target, queue);
        queue.push({ user: member, device: target, chat, from: user, clientId, messageId: `m${n}`, body, seq });
      }
    }
    if (random() < 0.2) flush(pick(devices(pick(users))));
  }
  for (const user of users) for (const device of devices(user)) flush(device);
  return rec.events;
}

describe('checkHistory at the long run’s scale', () => {
  it('checks over 100,000 events in a few seconds, and still finds one dropped delivery', { timeout: 20_000 }, () => {
    const events = bigHistory(10_000, 16);
    expect(events.length).toBeGreaterThan(100_000);
    const report = checkHistory(events);
    expect(found(report)).toEqual({});
    expect(report.counts.sent).toBe(10_000);
    expect(report.counts.delivered).toBe(report.counts.owed);

    const dropAt = events.findIndex((e, i) => i > events.length / 2 && e.type === 'deliver');
    const dropped = checkHistory(events.filter((_, i) => i !== dropAt));
    expect(found(dropped)).toEqual({ lost: 1 });
  });
});

/**
 * Replays a history, passing one device's deliveries through a tamper (as RecordedDevice does),
 * with every reference (outcomes to attempts, membership requests) moved to the new positions.
 */
function tampered(events: readonly HistoryEvent[], user: string, device: string, mode: TamperMode) {
  const rec = new HistoryRecorder();
  const tamper = new DeliveryTamper(mode, (d) => rec.deliver(d));
  const moved = new Map<number, number>();
  for (const e of events) {
    moved.set(e.at, rec.position());
    const to = (at: number) => moved.get(at) ?? rec.position();
    switch (e.type) {
      case 'device_added':
        rec.deviceAdded(e.user, e.device);
        break;
      case 'member':
        rec.member(e.group, e.user, e.change, to(e.requestedAt));
        break;
      case 'send':
        rec.send({ user: e.user, device: e.device, connection: e.connection, chat: e.chat, clientId: e.clientId, body: e.body });
        break;
      case 'ack':
        rec.ack(to(e.attempt), e.messageId, e.gseq);
        break;
      case 'error':
        rec.error(to(e.attempt), e.code, e.retryable);
        break;
      case 'unknown':
        rec.unknown(to(e.attempt));
        break;
      case 'deliver': {
        const { type: _type, at: _at, time: _time, ...delivery } = e;
        if (e.user === user && e.device === device) tamper.push(delivery);
        else rec.deliver(delivery);
        break;
      }
    }
  }
  tamper.flush();
  return { events: rec.events, fired: tamper.fired, report: checkHistory(rec.events) };
}

describe('the tampered client (the end-to-end proof’s fake)', () => {
  it('swaps only adjacent messages of one conversation: a held one is surfaced in order when another chat comes next', () => {
    // a2 gets alice's own messages and group messages (never tampered with), and r1 from bob,
    // which is followed by a group message: the swap never finds its pair.
    const run = tampered(cleanHistory(), 'alice', 'a2', 'swap');
    expect(run.fired).toBeUndefined();
    expect(found(run.report)).toEqual({});
    expect(run.report.counts.delivered).toBe(cleanHistory().filter((e) => e.type === 'deliver').length);
  });

  it('drops one incoming message: exactly one loss, naming the device and the message', () => {
    const run = tampered(cleanHistory(), 'bob', 'b1', 'drop');
    expect(run.fired).toMatchObject({ mode: 'drop', user: 'bob', device: 'b1', messages: [{ from: 'alice', clientId: 'm1' }] });
    expect(found(run.report)).toEqual({ lost: 1 });
    expect(namesTamper(run.report.violations.lost[0] as Violation, run.fired as TamperRecord)).toBe(true);
    expect(run.report.counts.delivered).toBe(cleanHistory().filter((e) => e.type === 'deliver').length - 1);
  });

  it('surfaces one message twice: exactly one duplicate', () => {
    const run = tampered(cleanHistory(), 'bob', 'b1', 'duplicate');
    expect(run.fired?.messages.map((m) => m.clientId)).toEqual(['m1']);
    expect(found(run.report)).toEqual({ duplicated: 1 });
    expect(namesTamper(run.report.violations.duplicated[0] as Violation, run.fired as TamperRecord)).toBe(true);
  });

  it('swaps two consecutive messages of one conversation: reordered by mailbox seq and by ack-before-send, nothing else', () => {
    const run = tampered(cleanHistory(), 'bob', 'b1', 'swap');
    expect(run.fired?.messages.map((m) => m.clientId)).toEqual(['m1', 'm2']);
    expect(found(run.report)).toEqual({ reordered: 2 });
    for (const v of run.report.violations.reordered) expect(namesTamper(v, run.fired as TamperRecord)).toBe(true);
  });

  it('tampers once: later messages pass through', () => {
    const run = tampered(cleanHistory(), 'bob', 'b1', 'duplicate');
    const b1 = run.events.filter((e): e is DeliverEvent => e.type === 'deliver' && e.device === 'b1').map((e) => e.clientId);
    expect(b1.filter((id) => id === 'm1')).toHaveLength(2);
    expect(new Set(b1.filter((id) => id !== 'm1')).size).toBe(b1.length - 2);
  });
});
