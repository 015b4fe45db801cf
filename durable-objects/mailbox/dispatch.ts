/**
 * Outgoing 1:1 delivery from a sender's object to each recipient's object, in order.
 *
 * One queue per recipient: while a batch is in flight to that recipient, later messages wait
 * and then travel together in the next batch. That keeps one sender's messages to one recipient
 * in send order (a batch is appended in order, batches go one at a time) and turns a burst into
 * a few RPCs, each committed by the recipient as one write.
 */
import type { Message } from '../../protocol/index.ts';
import type { StoredMessage } from './store.ts';

/** Delivers a batch to one recipient; resolves with one result per message, in order. */
export type DeliverBatch = (recipient: string, messages: Message[]) => Promise<StoredMessage[]>;

type Pending = {
  message: Message;
  resolve: (stored: StoredMessage) => void;
  reject: (error: unknown) => void;
};

/** Largest batch in one RPC; keeps the recipient's single write and the RPC payload bounded. */
const MAX_BATCH = 256;

export class Dispatcher {
  readonly #queues = new Map<string, Pending[]>();
  readonly #busy = new Set<string>();

  constructor(private readonly deliver: DeliverBatch) {}

  /**
   * Queue a message for its recipient; resolves once the recipient stored it durably.
   *
   * @example
   * const stored = await dispatcher.submit(message); // { id, sentAt, duplicate }
   */
  submit(message: Message): Promise<StoredMessage> {
    return new Promise((resolve, reject) => {
      const queue = this.#queues.get(message.to) ?? [];
      queue.push({ message, resolve, reject });
      this.#queues.set(message.to, queue);
      if (!this.#busy.has(message.to)) void this.#drain(message.to);
    });
  }

  async #drain(recipient: string): Promise<void> {
    this.#busy.add(recipient);
    try {
      for (;;) {
        const queue = this.#queues.get(recipient);
        if (!queue || queue.length === 0) break;
        const batch = queue.splice(0, MAX_BATCH);
        try {
          const results = await this.deliver(
            recipient,
            batch.map((p) => p.message),
          );
          batch.forEach((p, i) => p.resolve(results[i]!));
        } catch (error) {
          // Fail everything queued behind this batch too: if a later message went through
          // while an earlier one failed, the recipient would see them out of order.
          const rest = queue.splice(0, queue.length);
          for (const p of [...batch, ...rest]) p.reject(error);
        }
      }
    } finally {
      this.#queues.delete(recipient);
      this.#busy.delete(recipient);
    }
  }
}
