/**
 * The ledger: every message the bench sends, until it is fully accounted for. It measures
 * latencies (send -> recipient receives it, send -> `sent` frame, send -> `delivered` receipt;
 * all performance.now() in this one process) and checks integrity on the side: per directed
 * pair (A -> B) the k-th message must arrive after the (k-1)-th, exactly once.
 *
 * Client ids are `<phase tag><counter>` (e.g. `f1a2`), so a late or duplicated frame is
 * attributed to its phase even after its entry was retired.
 */
import { Samples, type LatencySummary } from './stats.ts';

export type Flavor = 'messenger' | 'relay';

export type PhaseResult = {
  name: string;
  /** Messages sent during the phase window. */
  sent: number;
  /** Of those, received by their recipient (at any time until the drain ended). */
  received: number;
  /** Received messages per second within the phase window (the throughput figure). */
  deliveredPerSec: number;
  /** Sent per second within the window (for the fixed-rate phase: did the generator keep up). */
  sentPerSec: number;
  windowMs: number;
  /** Time the phase waited after its window for stragglers. */
  drainMs: number;
  latency: LatencySummary | null;
  /** send -> `sent` frame (messenger only). */
  sentAck: LatencySummary | null;
  /** send -> `delivered` receipt at the sender (messenger only). */
  deliveredReceipt: LatencySummary | null;
  integrity: {
    /** Sent, not failed, and not received by the end of the run (after every drain). */
    lost: number;
    /** Received more than once. */
    duplicated: number;
    /** Arrived after a later message of the same directed pair. */
    outOfOrder: number;
    /** Arrived at a client other than the addressee. */
    misrouted: number;
    /** Answered with an `error` frame, by code. */
    failed: Record<string, number>;
    /** Answered with an error, yet the recipient received it. */
    deliveredAfterFailure: number;
    /** Messenger: `sent` frame never came (not failed) by the end of the run. */
    missingSentAcks: number;
    /** Messenger: `delivered` receipt never came (by the end of the run) although the recipient received it. */
    missingReceipts: number;
    /** Messenger: `sent` frames marked duplicate (the bench never retries, so expected 0). */
    duplicateFlags: number;
    /** Messenger: `sent` frames or receipts repeated for the same message. */
    repeatedAcks: number;
    /** Deliveries, sent acks or receipts that came only after the phase's drain timed out. */
    lateAfterDrain: number;
  };
};

type Entry = {
  id: string;
  phase: PhaseStats;
  sender: number;
  recipient: number;
  /** Position of this message in its directed pair's sequence (1, 2, ...). */
  k: number;
  t0: number;
  received: boolean;
  sentAck: boolean;
  receipt: boolean;
  failed: boolean;
};

/** Counters and samples of one phase. */
export class PhaseStats {
  readonly latency = new Samples();
  readonly sentAckLatency = new Samples();
  readonly receiptLatency = new Samples();
  sent = 0;
  sentInWindow = 0;
  received = 0;
  receivedInWindow = 0;
  sentAcks = 0;
  receipts = 0;
  /** Received although the sender was told it failed. */
  deliveredAfterFailure = 0;
  /** Failed before reaching the recipient. */
  failedCount = 0;
  /** Failed in total (an error may also come after the recipient got the message). */
  failedAll = 0;
  /** Failed although the recipient received it. */
  failedAfterDelivery = 0;
  readonly failed: Record<string, number> = {};
  duplicated = 0;
  outOfOrder = 0;
  misrouted = 0;
  duplicateFlags = 0;
  repeatedAcks = 0;
  windowStart = 0;
  windowEnd = Number.POSITIVE_INFINITY;
  drainMs = 0;
  /** Set when the phase's drain gave up; what arrives afterwards is counted as late. */
  drainTimedOut = false;
  /** Deliveries, sent acks and receipts that arrived after the drain gave up. */
  lateAfterDrain = 0;
  /** Called after each of this phase's messages is received or fails (closed-loop driver). */
  onSettled: (() => void) | null = null;

  constructor(
    readonly name: string,
    readonly tag: string,
    readonly flavor: Flavor,
  ) {}

  /** Messages not yet received (and not failed). */
  get awaitingDelivery(): number {
    return this.sent - this.received - this.failedCount;
  }

  /** Everything still owed for this phase: deliveries, and for the messenger sent acks and receipts. */
  get outstanding(): number {
    if (this.flavor === 'relay') return this.awaitingDelivery;
    const settled = this.sent - this.failedAll;
    return this.awaitingDelivery + (settled - this.sentAcks) + (settled - this.receipts);
  }

  result(): PhaseResult {
    const windowMs = Math.min(this.windowEnd, performance.now()) - this.windowStart;
    const settled = this.sent - this.failedAll;
    const messenger = this.flavor === 'messenger';
    return {
      name: this.name,
      sent: this.sent,
      received: this.received,
      deliveredPerSec: Math.round((this.receivedInWindow / windowMs) * 1000),
      sentPerSec: Math.round((this.sentInWindow / windowMs) * 1000),
      windowMs: Math.round(windowMs),
      drainMs: Math.round(this.drainMs),
      latency: this.latency.summary(),
      sentAck: messenger ? this.sentAckLatency.summary() : null,
      deliveredReceipt: messenger ? this.receiptLatency.summary() : null,
      integrity: {
        lost: this.awaitingDelivery,
        duplicated: this.duplicated,
        outOfOrder: this.outOfOrder,
        misrouted: this.misrouted,
        failed: { ...this.failed },
        deliveredAfterFailure: this.deliveredAfterFailure,
        missingSentAcks: messenger ? settled - this.sentAcks : 0,
        missingReceipts: messenger ? this.received - this.failedAfterDelivery - this.receipts : 0,
        duplicateFlags: this.duplicateFlags,
        repeatedAcks: this.repeatedAcks,
        lateAfterDrain: this.lateAfterDrain,
      },
    };
  }
}

export class Ledger {
  readonly #byId = new Map<string, Entry>();
  readonly #byMessageId = new Map<string, Entry>();
  /** Receipts that arrived before the `sent` frame that names their message id. */
  readonly #earlyReceipts = new Map<string, number>();
  readonly #phases = new Map<string, PhaseStats>();
  /** Directed pair (sender * users + recipient) -> messages sent so far. */
  readonly #pairSent = new Map<number, number>();
  /** Directed pair -> highest k received so far. */
  readonly #pairReceived = new Map<number, number>();
  #counter = 0;
  /** Frames the ledger could not attribute to any phase (should stay 0). */
  unattributed = 0;
  /** Error frames that named no message. */
  readonly unattributedErrors: Record<string, number> = {};
  /** `read` receipts (the bench never reads, so expected 0). */
  readReceipts = 0;

  constructor(
    readonly flavor: Flavor,
    readonly users: number,
  ) {}

  phase(name: string, tag: string): PhaseStats {
    if (!/^[a-z]$/.test(tag) || this.#phases.has(tag)) throw new Error(`bad or reused phase tag ${tag}`);
    const stats = new PhaseStats(name, tag, this.flavor);
    this.#phases.set(tag, stats);
    return stats;
  }

  /** Record a send; returns the client id to put in the frame. */
  send(phase: PhaseStats, sender: number, recipient: number, t0: number): string {
    const pair = sender * this.users + recipient;
    const k = (this.#pairSent.get(pair) ?? 0) + 1;
    this.#pairSent.set(pair, k);
    const id = `${phase.tag}${(++this.#counter).toString(36)}`;
    this.#byId.set(id, { id, phase, sender, recipient, k, t0, received: false, sentAck: false, receipt: false, failed: false });
    phase.sent++;
    if (t0 <= phase.windowEnd) phase.sentInWindow++;
    return id;
  }

  /** The recipient client `at` received message `id`. */
  delivered(id: string, at: number, now: number): void {
    const entry = this.#byId.get(id);
    if (!entry || entry.received) {
      this.#phaseOf(id, (p) => p.duplicated++);
      return;
    }
    const phase = entry.phase;
    if (entry.failed) {
      phase.deliveredAfterFailure++;
      return;
    }
    entry.received = true;
    phase.received++;
    if (phase.drainTimedOut) phase.lateAfterDrain++;
    if (now <= phase.windowEnd) phase.receivedInWindow++;
    phase.latency.add(now - entry.t0);
    if (at !== entry.recipient) phase.misrouted++;
    const pair = entry.sender * this.users + entry.recipient;
    const highest = this.#pairReceived.get(pair) ?? 0;
    if (entry.k < highest) phase.outOfOrder++;
    else this.#pairReceived.set(pair, entry.k);
    this.#retireIfDone(entry);
    phase.onSettled?.();
  }

  /** The sender got `sent` for `id`. */
  sentAck(id: string, messageId: string, duplicate: boolean, now: number): void {
    const entry = this.#byId.get(id);
    if (!entry || entry.sentAck) {
      this.#phaseOf(id, (p) => p.repeatedAcks++);
      return;
    }
    entry.sentAck = true;
    entry.phase.sentAcks++;
    if (entry.phase.drainTimedOut) entry.phase.lateAfterDrain++;
    if (duplicate) entry.phase.duplicateFlags++;
    entry.phase.sentAckLatency.add(now - entry.t0);
    const early = this.#earlyReceipts.get(messageId);
    if (early !== undefined) {
      this.#earlyReceipts.delete(messageId);
      this.#markReceipt(entry, early);
    } else {
      this.#byMessageId.set(messageId, entry);
    }
    this.#retireIfDone(entry);
  }

  /** The sender got a receipt naming `messageIds`. */
  receipt(status: 'delivered' | 'read', messageIds: readonly string[], now: number): void {
    if (status === 'read') {
      this.readReceipts += messageIds.length;
      return;
    }
    for (const messageId of messageIds) {
      const entry = this.#byMessageId.get(messageId);
      if (entry) {
        this.#byMessageId.delete(messageId);
        this.#markReceipt(entry, now);
        this.#retireIfDone(entry);
      } else {
        this.#earlyReceipts.set(messageId, now);
      }
    }
  }

  /** The server answered `id` (or nothing identifiable) with an error frame. */
  failed(id: string | null, code: string): void {
    const entry = id === null ? undefined : this.#byId.get(id);
    if (!entry || entry.failed) {
      this.unattributedErrors[code] = (this.unattributedErrors[code] ?? 0) + 1;
      return;
    }
    const phase = entry.phase;
    entry.failed = true;
    phase.failedAll++;
    if (entry.received) {
      // The recipient has it, but the sender was told it failed: a lie either way; keep it visible.
      phase.failed[`${code} (after delivery)`] = (phase.failed[`${code} (after delivery)`] ?? 0) + 1;
      phase.failedAfterDelivery++;
      return;
    }
    phase.failedCount++;
    phase.failed[code] = (phase.failed[code] ?? 0) + 1;
    // Kept (failures are rare) so a delivery despite the error is recognised.
    phase.onSettled?.();
  }

  /** Receipts still parked without a matching `sent` frame (should be 0 after a drain). */
  get orphanReceipts(): number {
    return this.#earlyReceipts.size;
  }

  #markReceipt(entry: Entry, at: number): void {
    if (entry.receipt) {
      entry.phase.repeatedAcks++;
      return;
    }
    entry.receipt = true;
    entry.phase.receipts++;
    if (entry.phase.drainTimedOut) entry.phase.lateAfterDrain++;
    entry.phase.receiptLatency.add(at - entry.t0);
  }

  /** Forget a fully accounted message; a repeat of it is then attributed by its id's phase tag. */
  #retireIfDone(entry: Entry): void {
    if (entry.received && (this.flavor === 'relay' || (entry.sentAck && entry.receipt))) this.#byId.delete(entry.id);
  }

  #phaseOf(id: string, update: (phase: PhaseStats) => void): void {
    const phase = this.#phases.get(id.slice(0, 1));
    if (phase) update(phase);
    else this.unattributed++;
  }
}
