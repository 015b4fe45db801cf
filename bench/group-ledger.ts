/**
 * The group ledger: every group message the bench sends, until each connected member (other
 * than the sender) has received it. It measures send -> first member, send -> last connected
 * member (the group figure), send -> `group_sent`, and checks integrity per member and group:
 * the group log's `gseq` must grow by exactly one from entry to entry (messages and system
 * events alike), so a repeat, a reordering or a gap is seen wherever it happens.
 *
 * It is the clients' sink in the group scenario; 1:1 frames are not expected there and count
 * as unattributed.
 */
import type { GroupEvent, GroupMessage } from '../protocol/index.ts';
import type { ClientSink } from './clients.ts';
import { Samples, type LatencySummary } from './stats.ts';

/** What every group phase reports, the messenger's and the bare relay's alike: its timings and rates. */
export type PhaseFigures = {
  name: string;
  /** Group messages sent during the phase. */
  sent: number;
  /** Of those, received by every connected member (other than the sender) by the end of the drain. */
  completed: number;
  /** Completed inside the window, per second: sustained group messages/s. */
  messagesPerSec: number;
  /** Messages received by connected members inside the window, per second. */
  connectedDeliveriesPerSec: number;
  windowMs: number;
  drainMs: number;
  /** send -> the last connected member (other than the sender) has it: the group latency. */
  lastMember: LatencySummary | null;
  /** send -> the first member has it. */
  firstMember: LatencySummary | null;
};

export type GroupPhaseResult = PhaseFigures & {
  /** send -> `group_sent` at the sender (stored in the group's log). */
  sentAck: LatencySummary | null;
  /** Answered with an `error` frame, by code. */
  failed: Record<string, number>;
  /** Not failed, yet not received by every connected member by the end of the drain. */
  incomplete: number;
  /** Member deliveries still missing for those. */
  missingDeliveries: number;
  /** `group_sent` never came (not failed). */
  missingSentAcks: number;
};

type Pending = {
  id: string;
  phase: GroupPhase;
  group: string;
  sender: number;
  t0: number;
  /** Connected members other than the sender who still have to receive it. */
  waiting: Set<number>;
  first: number | null;
  sentAck: boolean;
  failed: boolean;
};

/** Counters and samples of one group phase. */
export class GroupPhase {
  readonly lastMember = new Samples();
  readonly firstMember = new Samples();
  readonly sentAckLatency = new Samples();
  sent = 0;
  completed = 0;
  completedInWindow = 0;
  deliveriesInWindow = 0;
  sentAcks = 0;
  failedCount = 0;
  readonly failed: Record<string, number> = {};
  windowStart = 0;
  windowEnd = Number.POSITIVE_INFINITY;
  drainMs = 0;
  /** Called when one of this phase's messages is complete or failed (drivers chain on it). */
  onSettled: (() => void) | null = null;

  constructor(readonly name: string) {}

  /** Sent, not failed, and not yet received by every connected member. */
  get open(): number {
    return this.sent - this.completed - this.failedCount;
  }
}

/** Integrity over a whole group case (setup and warm-up included). */
export type GroupIntegrity = {
  /** An entry whose gseq was not the member's previous one + 1 (something skipped). */
  gseqGaps: number;
  /** An entry at or below the member's previous gseq (repeated or out of order). */
  gseqRepeats: number;
  /** A message reached a client that is not a connected member of its group. */
  misrouted: number;
  /** Entries received, by kind (connected members, sender echoes included). */
  messages: number;
  events: number;
};

export class GroupLedger implements ClientSink {
  readonly #pending = new Map<string, Pending>();
  /** `${group} ${member}` -> last gseq received. */
  readonly #lastGseq = new Map<string, number>();
  /** group -> connected member clients. */
  readonly #connected = new Map<string, ReadonlySet<number>>();
  readonly #integrity = new Map<string, GroupIntegrity>();
  #counter = 0;
  /** Frames and errors the ledger could not attribute (1:1 frames, unknown ids): expected 0. */
  unattributed = 0;
  readonly unattributedErrors: Record<string, number> = {};

  /** Declare a group and which clients are its connected members. */
  addGroup(group: string, connected: ReadonlySet<number>): void {
    this.#connected.set(group, connected);
    this.#integrity.set(group, { gseqGaps: 0, gseqRepeats: 0, misrouted: 0, messages: 0, events: 0 });
  }

  /** Integrity of `group` so far. */
  integrityOf(group: string): GroupIntegrity {
    return { ...this.#integrityFor(group) };
  }

  /** The lowest last-received gseq over `group`'s connected members (0 if one has nothing yet). */
  lowestGseq(group: string): number {
    let lowest = Number.POSITIVE_INFINITY;
    for (const member of this.#connected.get(group) ?? []) lowest = Math.min(lowest, this.#lastGseq.get(`${group} ${member}`) ?? 0);
    return lowest === Number.POSITIVE_INFINITY ? 0 : lowest;
  }

  /** Record a send; returns the client id to put in the frame. */
  send(phase: GroupPhase, group: string, sender: number, t0: number): string {
    const id = `g${(++this.#counter).toString(36)}`;
    const waiting = new Set(this.#connected.get(group) ?? []);
    waiting.delete(sender);
    this.#pending.set(id, { id, phase, group, sender, t0, waiting, first: null, sentAck: false, failed: false });
    phase.sent++;
    return id;
  }

  groupEntry(recipient: number, entry: GroupMessage | GroupEvent, kind: 'message' | 'event', now: number): void {
    const integrity = this.#integrityFor(entry.group);
    this.#checkOrder(integrity, entry.group, recipient, entry.gseq);
    if (kind === 'event') {
      integrity.events++;
      return;
    }
    integrity.messages++;
    if (!this.#connected.get(entry.group)?.has(recipient)) integrity.misrouted++;
    const message = entry as GroupMessage;
    const pending = this.#pending.get(message.clientId);
    if (!pending || pending.sender === recipient || !pending.waiting.delete(recipient)) return;
    const phase = pending.phase;
    if (now <= phase.windowEnd) phase.deliveriesInWindow++;
    if (pending.first === null) {
      pending.first = now;
      phase.firstMember.add(now - pending.t0);
    }
    if (pending.waiting.size > 0 || pending.failed) return;
    phase.completed++;
    if (now <= phase.windowEnd) phase.completedInWindow++;
    phase.lastMember.add(now - pending.t0);
    this.#retireIfDone(pending);
    phase.onSettled?.();
  }

  groupSent(clientId: string, _gseq: number, now: number): void {
    const pending = this.#pending.get(clientId);
    if (!pending || pending.sentAck) {
      this.unattributed++;
      return;
    }
    pending.sentAck = true;
    pending.phase.sentAcks++;
    pending.phase.sentAckLatency.add(now - pending.t0);
    this.#retireIfDone(pending);
  }

  failed(clientId: string | null, code: string): void {
    const pending = clientId === null ? undefined : this.#pending.get(clientId);
    if (!pending || pending.failed) {
      this.unattributedErrors[code] = (this.unattributedErrors[code] ?? 0) + 1;
      return;
    }
    pending.failed = true;
    const phase = pending.phase;
    phase.failed[code] = (phase.failed[code] ?? 0) + 1;
    if (pending.waiting.size === 0) return; // complete already: visible in `failed`, nothing to settle
    phase.failedCount++;
    phase.onSettled?.();
  }

  // 1:1 frames: none are sent in the group scenario.
  delivered(): void {
    this.unattributed++;
  }

  sentAck(): void {
    this.unattributed++;
  }

  receipt(): void {
    this.unattributed++;
  }

  result(phase: GroupPhase): GroupPhaseResult {
    const windowMs = Math.min(phase.windowEnd, performance.now()) - phase.windowStart;
    let incomplete = 0;
    let missingDeliveries = 0;
    let missingSentAcks = 0;
    for (const p of this.#pending.values()) {
      if (p.phase !== phase || p.failed) continue;
      if (p.waiting.size > 0) {
        incomplete++;
        missingDeliveries += p.waiting.size;
      }
      if (!p.sentAck) missingSentAcks++;
    }
    return {
      ...phaseFigures(phase, windowMs),
      sentAck: phase.sentAckLatency.summary(),
      failed: { ...phase.failed },
      incomplete,
      missingDeliveries,
      missingSentAcks,
    };
  }

  #checkOrder(integrity: GroupIntegrity, group: string, member: number, gseq: number): void {
    const key = `${group} ${member}`;
    const last = this.#lastGseq.get(key);
    if (last !== undefined && gseq <= last) {
      integrity.gseqRepeats++;
      return;
    }
    // The first entry a member sees is wherever its membership starts; after that, no skips.
    if (last !== undefined && gseq !== last + 1) integrity.gseqGaps++;
    this.#lastGseq.set(key, gseq);
  }

  /** Counters of `group` (one not declared with addGroup gets its own on first sight). */
  #integrityFor(group: string): GroupIntegrity {
    let integrity = this.#integrity.get(group);
    if (!integrity) {
      integrity = { gseqGaps: 0, gseqRepeats: 0, misrouted: 0, messages: 0, events: 0 };
      this.#integrity.set(group, integrity);
    }
    return integrity;
  }

  /** Forget a fully accounted message (everyone has it, `group_sent` came). */
  #retireIfDone(pending: Pending): void {
    if (pending.waiting.size === 0 && pending.sentAck) this.#pending.delete(pending.id);
  }
}

const round1 = (value: number): number => Math.round(value * 10) / 10;

/** A phase's timings and rates over its window (`windowMs`: the window as far as it ran). */
export function phaseFigures(phase: GroupPhase, windowMs: number): PhaseFigures {
  return {
    name: phase.name,
    sent: phase.sent,
    completed: phase.completed,
    messagesPerSec: round1((phase.completedInWindow / windowMs) * 1000),
    connectedDeliveriesPerSec: Math.round((phase.deliveriesInWindow / windowMs) * 1000),
    windowMs: Math.round(windowMs),
    drainMs: Math.round(phase.drainMs),
    lastMember: phase.lastMember.summary(),
    firstMember: phase.firstMember.summary(),
  };
}
