/**
 * Device cursors: how far each of the user's devices has acknowledged the mailbox, the highest
 * of them (the watermark, where a device registered before starts were recorded begins), and
 * what an acknowledgement newly delivers.
 *
 * Acks are the most frequent frame, so they are recorded in memory and written to SQLite
 * together with the next write the object makes anyway (or when a socket closes), not in a
 * commit of their own. Losing the unwritten ones (an eviction) is harmless: devices send their
 * cursor when they reconnect, and receipts derived from them are idempotent at the sender.
 */
import type { MailboxStore } from './store.ts';

/**
 * Piggybacked writes happen at most this often; closes, connects and alarms write at once. At one
 * message a second a shorter interval was a statement per message, and what a longer one risks
 * is only entries sent again to a device after an eviction (it names its own cursor).
 */
const PERSIST_INTERVAL_MS = 15_000;

/** The part of the mailbox a device has received: (start, cursor]. */
export type Coverage = { start: number; cursor: number };

export class DeviceCursors {
  /** Every device's cursor (a handful of rows: loaded once, kept in memory). */
  readonly #cursors: Map<string, number>;
  readonly #unsaved = new Set<string>();
  #persistedAt = 0;

  constructor(private readonly store: MailboxStore) {
    this.#cursors = store.deviceCursors();
  }

  /** Highest seq any device acknowledged. */
  get watermark(): number {
    let highest = 0;
    for (const acked of this.#cursors.values()) highest = Math.max(highest, acked);
    return highest;
  }

  /** A device's cursor, or null for a device that never acknowledged anything. */
  of(deviceId: string): number | null {
    return this.#cursors.get(deviceId) ?? null;
  }

  /** Every device's cursor. */
  all(): ReadonlyMap<string, number> {
    return this.#cursors;
  }

  /** Record an acknowledgement (never moves a cursor back); returns the previous watermark. */
  record(deviceId: string, acked: number): number {
    const previous = this.watermark;
    if (acked > (this.of(deviceId) ?? -1)) {
      this.#cursors.set(deviceId, acked);
      this.#unsaved.add(deviceId);
    }
    return previous;
  }

  /** Write recorded cursors now. */
  persist(now: number): void {
    for (const deviceId of this.#unsaved) this.store.saveDeviceCursor(deviceId, this.#cursors.get(deviceId)!, now);
    this.#unsaved.clear();
    this.#persistedAt = now;
  }

  /**
   * Write recorded cursors if the last write is a while ago. Call it within an event that writes
   * anyway, so it shares that commit; under load that keeps the devices table out of most commits.
   */
  persistIfDue(now: number): void {
    if (this.#unsaved.size > 0 && now - this.#persistedAt >= PERSIST_INTERVAL_MS) this.persist(now);
  }

  forget(deviceId: string): void {
    this.#cursors.delete(deviceId);
    this.#unsaved.delete(deviceId);
    this.store.forgetDevice(deviceId);
  }
}

/**
 * The parts of (from, upTo] that none of `others` covers, in order: what an acknowledgement
 * delivers for the first time. Devices start at different points (a device registered by a
 * login is owed only what came after it), so what one device acks says nothing about entries
 * below its start that another device has not received yet.
 *
 * @example
 * uncovered(0, 10, [{ start: 3, cursor: 6 }]) // [[0, 3], [6, 10]]: seqs 1-3 and 7-10
 */
export function uncovered(from: number, upTo: number, others: readonly Coverage[]): Array<[after: number, through: number]> {
  const ranges: Array<[number, number]> = [];
  let at = from;
  const sorted = others.filter((c) => c.cursor > c.start).sort((a, b) => a.start - b.start);
  for (const { start, cursor } of sorted) {
    if (at >= upTo) break;
    if (cursor <= at) continue;
    if (start > at) ranges.push([at, Math.min(start, upTo)]);
    at = Math.max(at, cursor);
  }
  if (at < upTo) ranges.push([at, upTo]);
  return ranges;
}
