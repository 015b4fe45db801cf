/**
 * Device cursors: how far each of the user's devices has acknowledged the mailbox, and the
 * highest of them (the delivered watermark: every incoming message at or below it has reached
 * a device).
 *
 * Acks are the most frequent frame, so they are recorded in memory and written to SQLite
 * together with the next write the object makes anyway (or when a socket closes), not in a
 * commit of their own. Losing the unwritten ones (an eviction) is harmless: devices send their
 * cursor when they reconnect, and receipts derived from them are idempotent at the sender.
 */
import type { MailboxStore } from './store.ts';

/** Piggybacked writes happen at most this often; closes, connects and alarms write at once. */
const PERSIST_INTERVAL_MS = 1_000;

export class DeviceCursors {
  readonly #unsaved = new Map<string, number>();
  #watermark: number;
  #persistedAt = 0;

  constructor(private readonly store: MailboxStore) {
    this.#watermark = store.deliveredWatermark();
  }

  /** Highest seq any device acknowledged. */
  get watermark(): number {
    return this.#watermark;
  }

  /** A device's cursor, or null for a device this mailbox has never seen. */
  of(deviceId: string): number | null {
    return this.#unsaved.get(deviceId) ?? this.store.deviceCursor(deviceId);
  }

  /** Record an acknowledgement (never moves a cursor back); returns the previous watermark. */
  record(deviceId: string, acked: number): number {
    const previous = this.#watermark;
    if (acked > (this.of(deviceId) ?? -1)) this.#unsaved.set(deviceId, acked);
    this.#watermark = Math.max(previous, acked);
    return previous;
  }

  /** Write recorded cursors now. */
  persist(now: number): void {
    for (const [deviceId, acked] of this.#unsaved) this.store.saveDeviceCursor(deviceId, acked, now);
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
    this.#unsaved.delete(deviceId);
    this.store.forgetDevice(deviceId);
  }
}
