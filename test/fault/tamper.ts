/**
 * A deliberately broken client, to prove the checker can fail end to end: it sits between the
 * SDK's delivery events and what the application (the history) sees, and breaks the promise
 * exactly once, then passes everything through:
 * - `drop`: swallows one message (the SDK has processed it and still acks it, so the server
 *   never sends it again): the checker must call it `lost`;
 * - `duplicate`: surfaces one message twice: `duplicated`;
 * - `swap`: holds one message until the next one of the same conversation (sender and chat)
 *   arrives right after it, and surfaces the two in the opposite order: `reordered`.
 * Only incoming 1:1 messages (from another user) are tampered with: every device of their
 * recipient is owed them whatever happens to group membership, so a dropped one is always lost.
 */
import type { Violation } from './checker.ts';
import { chatKey, type DeliverEvent } from './history.ts';

export type TamperMode = 'drop' | 'duplicate' | 'swap';

export const TAMPER_MODES: readonly TamperMode[] = ['drop', 'duplicate', 'swap'];

/** A delivery as the recorder takes it. */
export type Delivery = Omit<DeliverEvent, 'type' | 'at' | 'time'>;

/** What the tamper did: the device and the message(s) it broke (for `swap`, in their true order). */
export interface TamperRecord {
  mode: TamperMode;
  /** The driver's label of the device (`u1d0`), when it was a driver's device. */
  label?: string;
  user: string;
  device: string;
  messages: Pick<Delivery, 'from' | 'clientId' | 'messageId' | 'seq'>[];
}

const conversation = (d: Delivery) => `${d.from}\u0000${chatKey(d.chat)}`;
const brief = ({ from, clientId, messageId, seq }: Delivery) => ({ from, clientId, messageId, seq });

export class DeliveryTamper {
  /** Set once the fault was injected. */
  fired: TamperRecord | undefined;
  private held: Delivery | undefined;
  private holdTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * `surface` is what the app sees. For `swap`, a held message no partner follows within
   * `holdMs` is surfaced as it came (late, but in order) and the next one is tried; without
   * `holdMs` it waits for the next delivery or {@link flush}.
   */
  constructor(
    readonly mode: TamperMode,
    private readonly surface: (delivery: Delivery) => void,
    private readonly holdMs?: number,
  ) {}

  /** One delivery from the SDK, in the order the SDK surfaced it. */
  push(d: Delivery): void {
    const held = this.held;
    if (held) {
      this.release();
      if (conversation(held) === conversation(d)) {
        this.surface(d);
        this.surface(held);
        this.fired = { mode: this.mode, user: d.user, device: d.device, messages: [brief(held), brief(d)] };
        return;
      }
      this.surface(held);
    }
    if (this.fired || d.chat.kind !== 'direct' || d.from === d.user) {
      this.surface(d);
      return;
    }
    switch (this.mode) {
      case 'drop':
        this.fired = { mode: 'drop', user: d.user, device: d.device, messages: [brief(d)] };
        return;
      case 'duplicate':
        this.surface(d);
        this.surface(d);
        this.fired = { mode: 'duplicate', user: d.user, device: d.device, messages: [brief(d)] };
        return;
      case 'swap':
        this.held = d;
        if (this.holdMs !== undefined) {
          this.holdTimer = setTimeout(() => this.flush(), this.holdMs);
          this.holdTimer.unref?.();
        }
        return;
    }
  }

  /** Surfaces a held message now (no swap this time). */
  flush(): void {
    const held = this.held;
    this.release();
    if (held) this.surface(held);
  }

  private release(): void {
    if (this.holdTimer !== undefined) clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    this.held = undefined;
  }
}

/**
 * Whether a violation is the one a tamper caused: its trace shows the tampered device and one of
 * the messages it broke.
 */
export function namesTamper(violation: Pick<Violation, 'trace'>, record: TamperRecord): boolean {
  const onDevice = violation.trace.some((e) => (e.type === 'deliver' || e.type === 'device_added') && e.user === record.user && e.device === record.device);
  const aboutMessage = violation.trace.some((e) =>
    record.messages.some((m) => (e.type === 'send' && e.user === m.from && e.clientId === m.clientId) || (e.type === 'deliver' && e.from === m.from && e.clientId === m.clientId)),
  );
  return onDevice && aboutMessage;
}
