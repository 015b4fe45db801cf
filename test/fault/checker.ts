/** Decides whether a recorded fault-run history kept the delivery promise: no loss, duplicate, reorder, phantom or misroute. */
import { chatKey, formatEvent } from './history.ts';
import type { AckEvent, DeliverEvent, DeviceAddedEvent, ErrorEvent, HistoryEvent, MemberEvent, OutcomeEvent, SendEvent } from './history.ts';

/**
 * The ways a run can break the promise "every acked message reaches every device owed it,
 * exactly once, in order, unaltered, and nowhere else":
 * - `lost`: acked, yet never delivered to a device owed it. Owed: every declared device of the
 *   recipient and of the sender (but the sending device), or in a group of every user who was a
 *   member before the first send attempt and stayed one to the end; a device added after the first
 *   attempt began is not owed it (its cursor may start after the entry). Unacked messages are owed
 *   nowhere: the sender was never promised anything.
 * - `duplicated`: one message (sender, client id) delivered twice to one device, or stored twice:
 *   its copies (or its ack) carry different message ids. Retries must be idempotent.
 * - `reordered`: a device's mailbox seqs did not rise strictly, or two messages of one sender in
 *   one chat whose order is known reached a device in the opposite order. The order is known when
 *   the second's first attempt began after the first was acked, or when the first was written on a
 *   connection, and acked there, before the second's first attempt on that same connection (a
 *   socket is read in order). Across chats nothing is promised (a group's fan-out and a direct
 *   mailbox write race legitimately).
 * - `phantom`: delivered although never sent (before its first attempt, or not at all), refused
 *   by the server (every attempt answered with a non-retryable error), or altered (another body
 *   or chat than the one sent).
 * - `misrouted`: delivered to a user outside the audience: in a direct chat neither sender nor
 *   peer; in a group someone who was not a member at any moment the server could have fanned it
 *   out (from its first attempt to its ack, or to the delivery when it was never acked).
 * - `ackConflict`: the server answered one message with two different message ids (or gseqs), or
 *   acked it and later refused a retry of it with a non-retryable error.
 * A send whose connection died unanswered may be delivered or not — but at most once; once any
 * attempt of it is acked, it is owed like any other.
 */
export type ViolationKind = 'lost' | 'duplicated' | 'reordered' | 'phantom' | 'misrouted' | 'ackConflict';

export const VIOLATION_KINDS: readonly ViolationKind[] = ['lost', 'duplicated', 'reordered', 'phantom', 'misrouted', 'ackConflict'];

export interface Violation {
  kind: ViolationKind;
  summary: string;
  /** The few events that show it, in history order. */
  trace: HistoryEvent[];
}

export interface CheckCounts {
  /** Send attempts (frames written), retries included. */
  attempts: number;
  /** Distinct messages: (sender, client id). */
  sent: number;
  /** Messages acked at least once. */
  acked: number;
  /** Deliveries recorded, on all devices. */
  delivered: number;
  /** (acked message, device) pairs the server owed a delivery. */
  owed: number;
}

export interface CheckReport {
  ok: boolean;
  counts: CheckCounts;
  violations: Record<ViolationKind, Violation[]>;
}

/** One message: every attempt with the same (sender, client id). */
interface Message {
  attempts: SendEvent[];
  /** Acked attempts' acks, in order. */
  acks: AckEvent[];
  /** Attempts that ended in a non-retryable error. */
  refusals: number;
  /** Its first delivery to each `user/device` it reached. */
  deliveredTo: Map<string, DeliverEvent>;
  /** The message id it was stored under (its ack's, else its first copy's), to spot a second one. */
  messageId?: { id: string; event: AckEvent | DeliverEvent };
  storedTwiceReported?: boolean;
}

/** The history, indexed by pass 1. */
interface Index {
  messages: Map<string, Message>;
  /** Send attempts by their `at`, with their outcome once it came. */
  attempts: Map<number, { send: SendEvent; message: Message; outcome?: OutcomeEvent }>;
  devicesByUser: Map<string, DeviceAddedEvent[]>;
  /** group → user → that user's joins and leaves, alternating. */
  membership: Map<string, Map<string, MemberEvent[]>>;
  deliveries: DeliverEvent[];
  /** Non-retryable errors for attempts of a message that had already been acked. */
  refusedAfterAck: { message: Message; error: ErrorEvent }[];
}

/** When a user may have been a group member: intervals from a join's request to the leave's confirmation. */
interface MayBeMember {
  starts: number[];
  /** Rising: each leave is confirmed after the previous one. */
  ends: number[];
  /** suffixMinStart[i] = min(starts[i..]): with `ends` rising, one binary search finds an overlap. */
  suffixMinStart: number[];
  changes: MemberEvent[];
}

/** Group membership as the checks need it. */
interface Membership {
  /** By `group\0user`. */
  mayBeMember: Map<string, MayBeMember>;
  /** group → users whose last change was a join, and since when (its confirmation). */
  finalMembers: Map<string, { user: string; since: number }[]>;
}

type Reporter = (kind: ViolationKind, summary: string, ...trace: (HistoryEvent | undefined)[]) => void;

/** Deliveries of one sender's messages in one chat to one device, in delivery order (first copies only). */
type Stream = { message: Message; delivery: DeliverEvent }[];

const messageKey = (user: string, clientId: string) => `${user}\u0000${clientId}`;
const deviceKey = (user: string, device: string) => `${user}/${device}`;
const memberKey = (group: string, user: string) => `${group}\u0000${user}`;

/** The history could not have been recorded by a working driver: a driver bug, not a server fault. */
export class MalformedHistoryError extends Error {}

/**
 * Checks a history (see history.ts). Pure and deterministic; O(n log n) in the events plus the
 * owed deliveries. Throws MalformedHistoryError on a history no driver could have recorded
 * (an outcome of no attempt, a join while a member, `at` not rising).
 */
export function checkHistory(events: readonly HistoryEvent[]): CheckReport {
  const violations: Record<ViolationKind, Violation[]> = { lost: [], duplicated: [], reordered: [], phantom: [], misrouted: [], ackConflict: [] };
  const report: Reporter = (kind, summary, ...trace) => {
    const unique = [...new Set(trace.filter((e): e is HistoryEvent => e !== undefined))];
    violations[kind].push({ kind, summary, trace: unique.sort((a, b) => a.at - b.at) });
  };
  const index = indexHistory(events);
  const membership = membershipOf(index);
  checkAcks(index, report);
  const streams = checkDeliveries(index, membership, report);
  for (const stream of streams.values()) checkOrder(stream, index, report);
  const { acked, owed } = checkLost(index, membership, report);
  const counts: CheckCounts = { attempts: index.attempts.size, sent: index.messages.size, acked, delivered: index.deliveries.length, owed };
  return { ok: VIOLATION_KINDS.every((k) => violations[k].length === 0), counts, violations };
}

/** Pass 1: sorts the events into messages, attempts, devices, memberships and deliveries. */
function indexHistory(events: readonly HistoryEvent[]): Index {
  const index: Index = { messages: new Map(), attempts: new Map(), devicesByUser: new Map(), membership: new Map(), deliveries: [], refusedAfterAck: [] };
  let previousAt = -Infinity;
  for (const e of events) {
    if (!(e.at > previousAt)) throw new MalformedHistoryError(`event #${e.at} is not after #${previousAt}`);
    previousAt = e.at;
    switch (e.type) {
      case 'device_added': {
        const list = index.devicesByUser.get(e.user) ?? [];
        if (list.some((d) => d.device === e.device)) throw new MalformedHistoryError(`device ${deviceKey(e.user, e.device)} added twice`);
        list.push(e);
        index.devicesByUser.set(e.user, list);
        break;
      }
      case 'member': {
        const byUser = index.membership.get(e.group) ?? new Map<string, MemberEvent[]>();
        index.membership.set(e.group, byUser);
        const list = byUser.get(e.user) ?? [];
        byUser.set(e.user, list);
        const wasMember = list.at(-1)?.change === 'joined';
        if (wasMember === (e.change === 'joined')) throw new MalformedHistoryError(`#${e.at}: ${e.user} ${e.change} group ${e.group} twice in a row`);
        if (e.requestedAt > e.at) throw new MalformedHistoryError(`#${e.at}: requested after it was confirmed`);
        list.push(e);
        break;
      }
      case 'send': {
        const key = messageKey(e.user, e.clientId);
        const message = index.messages.get(key) ?? { attempts: [], acks: [], refusals: 0, deliveredTo: new Map<string, DeliverEvent>() };
        index.messages.set(key, message);
        message.attempts.push(e);
        index.attempts.set(e.at, { send: e, message });
        break;
      }
      case 'ack':
      case 'error':
      case 'unknown': {
        const attempt = index.attempts.get(e.attempt);
        if (!attempt) throw new MalformedHistoryError(`#${e.at}: outcome of #${e.attempt}, which is no send attempt`);
        if (attempt.outcome) throw new MalformedHistoryError(`#${e.at}: attempt #${e.attempt} already had an outcome (#${attempt.outcome.at})`);
        attempt.outcome = e;
        const { message } = attempt;
        if (e.type === 'ack') message.acks.push(e);
        if (e.type === 'error' && !e.retryable) {
          message.refusals++;
          if (message.acks.length > 0) index.refusedAfterAck.push({ message, error: e });
        }
        break;
      }
      case 'deliver':
        index.deliveries.push(e);
        break;
    }
  }
  return index;
}

const sendOf = (index: Index, outcome: OutcomeEvent) => index.attempts.get(outcome.attempt)?.send;

/** Ack conflicts: every answer for one message must agree, and an acked message stays acked. */
function checkAcks(index: Index, report: Reporter): void {
  for (const message of index.messages.values()) {
    const [first, ...rest] = message.acks;
    const other = first && rest.find((a) => a.messageId !== first.messageId || a.gseq !== first.gseq);
    if (first && other) {
      report('ackConflict', `${describe(message)} acked as ${first.messageId} and as ${other.messageId}`, sendOf(index, first), first, sendOf(index, other), other);
    }
  }
  for (const { message, error } of index.refusedAfterAck) {
    const ack = message.acks[0] as AckEvent;
    report('ackConflict', `${describe(message)} was acked, then a retry was refused (${error.code})`, sendOf(index, ack), ack, sendOf(index, error), error);
  }
}

function membershipOf(index: Index): Membership {
  const membership: Membership = { mayBeMember: new Map(), finalMembers: new Map() };
  for (const [group, byUser] of index.membership) {
    const finals: { user: string; since: number }[] = [];
    for (const [user, changes] of byUser) {
      const window: MayBeMember = { starts: [], ends: [], suffixMinStart: [], changes };
      changes.forEach((change, i) => {
        if (change.change !== 'joined') return;
        window.starts.push(change.requestedAt);
        window.ends.push(changes[i + 1]?.at ?? Infinity);
      });
      let min = Infinity;
      for (let i = window.starts.length - 1; i >= 0; i--) window.suffixMinStart[i] = min = Math.min(min, window.starts[i] ?? Infinity);
      const last = changes.at(-1);
      if (last?.change === 'joined') finals.push({ user, since: last.at });
      membership.mayBeMember.set(memberKey(group, user), window);
    }
    membership.finalMembers.set(group, finals);
  }
  return membership;
}

/**
 * Pass 2, every delivery in the order devices saw them: phantom, misrouted, duplicated and the
 * mailbox seq order. Returns the first copies per (sender, chat, device) for the order check.
 */
function checkDeliveries(index: Index, membership: Membership, report: Reporter): Map<string, Stream> {
  const lastOnDevice = new Map<string, DeliverEvent>();
  const streams = new Map<string, Stream>();
  for (const d of index.deliveries) {
    const device = deviceKey(d.user, d.device);
    const message = index.messages.get(messageKey(d.from, d.clientId));
    const first = message?.attempts[0];
    if (!message || !first || first.at > d.at) {
      report('phantom', `${device} got a message ${d.from} never sent (clientId ${d.clientId})`, first, d);
      continue;
    }
    const firstAck = message.acks[0];
    if (d.body !== first.body || chatKey(d.chat) !== chatKey(first.chat)) {
      report('phantom', `${device} got ${describe(message)} altered`, first, d);
    }
    if (!firstAck && message.refusals === message.attempts.length) {
      report('phantom', `${device} got ${describe(message)}, which the server refused`, ...message.attempts, d);
    }
    const until = firstAck?.at ?? d.at;
    if (!inAudience(first, d.user, until, membership)) {
      const changes = first.chat.kind === 'group' ? membership.mayBeMember.get(memberKey(first.chat.group, d.user))?.changes ?? [] : [];
      const nearby = [...changes.filter((c) => c.at <= until).slice(-2), changes.find((c) => c.at > until)];
      report('misrouted', `${device} got ${describe(message)}, outside its audience`, first, firstAck, ...nearby, d);
    }

    const earlier = message.deliveredTo.get(device);
    if (earlier) {
      report('duplicated', `${device} got ${describe(message)} twice`, earlier, d);
      continue;
    }
    message.deliveredTo.set(device, d);
    message.messageId ??= firstAck ? { id: firstAck.messageId, event: firstAck } : { id: d.messageId, event: d };
    if (message.messageId.id !== d.messageId && !message.storedTwiceReported) {
      message.storedTwiceReported = true;
      report('duplicated', `${describe(message)} stored twice: ${message.messageId.id} and ${d.messageId}`, first, message.messageId.event, d);
    }

    // Mailbox seqs rise strictly per device; a large group's gseqs per device and group.
    const sequence = d.stream === undefined ? device : `${device}\u0000${d.stream}`;
    const previous = lastOnDevice.get(sequence);
    if (previous && d.seq <= previous.seq) {
      report('reordered', `${device}'s ${d.stream ?? 'mailbox'} seq went from ${previous.seq} to ${d.seq}`, previous, d);
    }
    lastOnDevice.set(sequence, d);

    const key = `${d.from}\u0000${chatKey(first.chat)}\u0000${device}`;
    const stream = streams.get(key) ?? [];
    streams.set(key, stream);
    stream.push({ message, delivery: d });
  }
  return streams;
}

/**
 * One stream's order, in one scan: for each delivery Y, is there an earlier-delivered X that Y
 * must precede? Keeping the X with the latest first attempt (overall, and per connection) is
 * enough: if any X's first attempt began after Y's ack, that one's did.
 */
function checkOrder(stream: Stream, index: Index, report: Reporter): void {
  let latest: Stream[number] | undefined;
  const latestOn = new Map<string, Stream[number]>();
  const firstOf = (entry: Stream[number]) => entry.message.attempts[0] as SendEvent;
  for (const y of stream) {
    const yFirst = firstOf(y);
    const yAck = y.message.acks[0];
    if (latest && yAck && yAck.at < firstOf(latest).at) {
      report('reordered', `${describe(y.message)} was acked before ${describe(latest.message)} was sent, yet delivered after it`, sendOf(index, yAck), yAck, firstOf(latest), latest.delivery, y.delivery);
    } else {
      for (const ack of y.message.acks) {
        const attempt = sendOf(index, ack) as SendEvent;
        const x = latestOn.get(attempt.connection);
        if (x && firstOf(x).at > attempt.at) {
          report('reordered', `${describe(y.message)} was written (and acked) on ${attempt.connection} before ${describe(x.message)} was first written there, yet delivered after it`, attempt, ack, firstOf(x), x.delivery, y.delivery);
          break;
        }
      }
    }
    if (!latest || yFirst.at > firstOf(latest).at) latest = y;
    const onConnection = latestOn.get(yFirst.connection);
    if (!onConnection || yFirst.at > firstOf(onConnection).at) latestOn.set(yFirst.connection, y);
  }
}

/** Lost: every acked message against every device owed it. */
function checkLost(index: Index, membership: Membership, report: Reporter): { acked: number; owed: number } {
  let acked = 0;
  let owed = 0;
  for (const message of index.messages.values()) {
    const ack = message.acks[0];
    const first = message.attempts[0];
    if (!ack || !first) continue;
    acked++;
    const sendingDevices = new Set(message.attempts.map((a) => a.device));
    const users = first.chat.kind === 'direct'
      ? [...new Set([first.user, first.chat.peer])]
      : (membership.finalMembers.get(first.chat.group) ?? []).filter((m) => m.since < first.at).map((m) => m.user);
    for (const user of users) {
      for (const added of index.devicesByUser.get(user) ?? []) {
        if (added.at > first.at || (user === first.user && sendingDevices.has(added.device))) continue;
        owed++;
        const device = deviceKey(user, added.device);
        if (!message.deliveredTo.has(device)) report('lost', `${describe(message)} was acked but never reached ${device}`, first, sendOf(index, ack), ack, added);
      }
    }
  }
  return { acked, owed };
}

/** May `user` receive this message? `until` ends the window in which the server picked its audience. */
function inAudience(first: SendEvent, user: string, until: number, membership: Membership): boolean {
  if (first.chat.kind === 'direct') return user === first.user || user === first.chat.peer;
  const window = membership.mayBeMember.get(memberKey(first.chat.group, user));
  if (!window) return false;
  // The first interval still open at the first attempt; any from there on that began by `until` overlaps.
  let lo = 0;
  let hi = window.ends.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((window.ends[mid] ?? Infinity) < first.at) lo = mid + 1;
    else hi = mid;
  }
  return lo < window.ends.length && (window.suffixMinStart[lo] ?? Infinity) <= until;
}

function describe(message: Message): string {
  const first = message.attempts[0] as SendEvent;
  return `${first.user}'s ${chatKey(first.chat)} message ${first.clientId}`;
}

const LABELS: Record<ViolationKind, string> = {
  lost: 'lost',
  duplicated: 'duplicated',
  reordered: 'reordered',
  phantom: 'phantom',
  misrouted: 'misrouted',
  ackConflict: 'ack conflicts',
};

/** A summary table, then up to `tracesPerKind` traces of each kind of violation found. */
export function formatReport(report: CheckReport, tracesPerKind = 3): string {
  const { counts, violations } = report;
  const rows: [string, number][] = [
    ['attempts', counts.attempts],
    ['sent', counts.sent],
    ['acked', counts.acked],
    ['delivered', counts.delivered],
    ['owed', counts.owed],
    ...VIOLATION_KINDS.map((k): [string, number] => [LABELS[k], violations[k].length]),
  ];
  const lines = [`history check: ${report.ok ? 'OK' : 'VIOLATIONS FOUND'}`];
  for (const [label, value] of rows) lines.push(`  ${label.padEnd(14)}${String(value).padStart(9)}`);
  for (const kind of VIOLATION_KINDS) {
    const found = violations[kind];
    if (found.length === 0) continue;
    lines.push('', `${LABELS[kind]}: ${found.length}${found.length > tracesPerKind ? ` (first ${tracesPerKind})` : ''}`);
    for (const v of found.slice(0, tracesPerKind)) {
      lines.push(`  ${v.summary}`);
      for (const e of v.trace) lines.push(`    ${formatEvent(e)}`);
    }
  }
  return lines.join('\n');
}
