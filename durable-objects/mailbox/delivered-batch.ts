/**
 * Delivered receipts gathered per sender. A device acks every few frames; each ack that delivers
 * incoming messages used to cost one call to each sender's object right away. Now the client ids
 * wait here for up to GATHER_MS (or until MAX_IDS are waiting) and each sender gets one call per
 * round, as group watermarks already do. Read receipts do not come here: they stay immediate.
 *
 * Memory only, so nothing is written per ack. What an eviction loses is re-derived: the device
 * cursors that covered these receipts are not written while they wait (see `held`), so after a
 * restart the device's next acknowledgement starts from the older stored cursor and delivers the
 * same messages again; applying is idempotent at the sender. Whoever must write the cursors now
 * (a socket closing, a connect, the alarm) first hands the waiting receipts to the durable outbox
 * with `take`, in the same commit.
 */
import type { Receipt } from './receipts.ts';

/** Longest a delivered receipt waits for company. */
export const GATHER_MS = 500;
/** A round goes at once when this many client ids wait. */
export const MAX_IDS = 256;

export type DeliveredBatchDeps = {
  /** Apply one sender's receipt at their object; rejects if it could not. */
  send: (receipt: Receipt) => Promise<void>;
  /** Receipts a round could not deliver: into the durable outbox, retried by the alarm. */
  failed: (receipts: Receipt[]) => void;
};

/** A delivered receipt riding on a call to its peer (`takeFor`), settled with whether that call succeeded. */
export type RidingReceipt = { receipt: Receipt; settled: (ok: boolean) => void };

export class DeliveredBatch {
  /** Sender → client ids in acknowledgement order, and the latest delivery time. */
  readonly #waiting = new Map<string, { clientIds: string[]; at: number }>();
  #count = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  /**
   * Rounds sent but not yet answered. Until a round's calls settle, a crash could lose them just
   * as it would lose waiting ones, so they also hold the cursors and `take` hands them over too.
   */
  readonly #inFlight = new Set<{ receipts: Receipt[]; taken: boolean }>();

  constructor(private readonly deps: DeliveredBatchDeps) {}

  /** Whether receipts wait here (then device cursors must not be written without `take`). */
  get held(): boolean {
    return this.#count > 0 || this.#inFlight.size > 0;
  }

  add(peer: string, clientIds: readonly string[], at: number): void {
    if (clientIds.length === 0) return;
    const waiting = this.#waiting.get(peer);
    if (waiting) {
      waiting.clientIds.push(...clientIds);
      waiting.at = Math.max(waiting.at, at);
    } else {
      this.#waiting.set(peer, { clientIds: [...clientIds], at });
    }
    this.#count += clientIds.length;
    if (this.#count >= MAX_IDS) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), GATHER_MS);
  }

  /**
   * Everything not yet known applied, removed from here (for the durable outbox): the waiting
   * receipts and those of rounds still in flight (which may then arrive twice: applying is
   * idempotent at the sender; a taken round's failure is not handed to `failed` again).
   */
  take(): Receipt[] {
    const receipts = this.#takeWaiting();
    for (const round of this.#inFlight) {
      round.taken = true;
      receipts.push(...round.receipts);
    }
    this.#inFlight.clear();
    return receipts;
  }

  /**
   * The receipt waiting for `peer`, taken to ride on a call this object makes to that peer anyway
   * (a message to them: the reply carries the ticks of what it answers, no call of its own).
   * Until `settled`, it counts as in flight (held, and handed over by `take`); `settled(false)`
   * (the call failed) hands it to `failed` like a failed round.
   */
  takeFor(peer: string): RidingReceipt | null {
    const waiting = this.#waiting.get(peer);
    if (!waiting) return null;
    this.#waiting.delete(peer);
    this.#count -= waiting.clientIds.length;
    if (this.#waiting.size === 0 && this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    const receipt: Receipt = { peer, status: 'delivered', clientIds: waiting.clientIds, at: waiting.at };
    const round = { receipts: [receipt], taken: false };
    this.#inFlight.add(round);
    return {
      receipt,
      settled: (ok) => {
        if (!this.#inFlight.delete(round) || round.taken) return;
        if (!ok) this.deps.failed([receipt]);
      },
    };
  }

  /** Send every waiting receipt now: one call per sender; failures go to `failed`. */
  async flush(): Promise<void> {
    const round = { receipts: this.#takeWaiting(), taken: false };
    if (round.receipts.length === 0) return;
    this.#inFlight.add(round);
    const results = await Promise.allSettled(round.receipts.map((r) => this.deps.send(r)));
    this.#inFlight.delete(round);
    if (round.taken) return;
    const failed = round.receipts.filter((_, i) => results[i]!.status === 'rejected');
    if (failed.length > 0) this.deps.failed(failed);
  }

  #takeWaiting(): Receipt[] {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const receipts = [...this.#waiting].map(([peer, w]): Receipt => ({ peer, status: 'delivered', clientIds: w.clientIds, at: w.at }));
    this.#waiting.clear();
    this.#count = 0;
    return receipts;
  }
}
