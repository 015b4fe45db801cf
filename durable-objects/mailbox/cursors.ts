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

export class DeviceCursors {
  readonly #unsaved = new Map<string, number>();
  #watermark: number;

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

  /** Write recorded cursors; call within an event that writes anyway, so it shares the commit. */
  persist(now: number): void {
    for (const [deviceId, acked] of this.#unsaved) this.store.saveDeviceCursor(deviceId, acked, now);
    this.#unsaved.clear();
  }

  forget(deviceId: string): void {
    this.#unsaved.delete(deviceId);
    this.store.forgetDevice(deviceId);
  }
}
