/**
 * One user's outgoing 1:1 messages: idempotent by client id (a retry gets the original ack; the
 * same id reused for a different message is refused), concurrent retries sharing one attempt,
 * storage at the recipient first (that is what "sent" promises), then the sender's own copy,
 * which the user's other devices sync from.
 *
 * Also the one race between the two objects: a recipient's device can ack, and its receipt
 * arrive here, before this object has written its copy. Such receipts are held and applied
 * with the copy instead of being lost.
 */
import { STATUS_RANK, type Message, type Quote, type SendFrame } from '../../protocol/index.ts';
import { Dispatcher, type DeliverBatch } from './dispatch.ts';
import { FrameError } from './frame-error.ts';
import type { Receipt, ReceiptStatus } from './receipts.ts';
import type { MailboxStore, StoredEntry, StoredMessage } from './store.ts';

export type Sender = {
  userId: string;
  deviceId: string;
  /**
   * Offered the sender's new copy right after it was stored and before it is published, so the
   * sending connection can answer with the copy in its `sent` (and then skips the entry when it
   * is published). Only a send that stores a new copy calls it; retries never do.
   */
  answerWithCopy?: (entry: StoredEntry, copy: Message, stored: StoredMessage) => void;
};

export type OutgoingDeps = {
  store: MailboxStore;
  /** Store a batch at the recipient's object (in order); resolves when durable there. */
  deliver: DeliverBatch;
  /** Push new entries of this user's mailbox to its devices. */
  publish: (entries: StoredEntry[]) => void;
  /** Apply a receipt to this user's messages (used for held receipts). */
  applyReceipt: (receipt: Receipt) => void;
  /** The quote of `replyTo` and the hops of `forward` (throws FrameError to refuse). */
  references?: (frame: SendFrame) => { replyTo?: Quote; forwarded?: number };
  /** A message was recorded in this user's history (actions that arrived before it apply now). */
  recorded?: (message: Message) => void;
  /** Check a body naming media and grant the recipient (throws to refuse); nothing for other bodies. */
  admitBody?: (sender: string, to: string, body: Message['body']) => Promise<void>;
  newId: () => string;
};

export class OutgoingMessages {
  readonly #deps: OutgoingDeps;
  readonly #dispatcher: Dispatcher;
  /** Sends in progress by client id, so concurrent retries of one id share one outcome. */
  readonly #inFlight = new Map<string, { fingerprint: string; result: Promise<StoredMessage> }>();
  /** Client ids between "submitted to the recipient" and "own copy stored". */
  readonly #awaitingCopy = new Set<string>();
  /** Receipts that arrived while their message was awaiting its copy. */
  readonly #early = new Map<string, Receipt>();

  constructor(deps: OutgoingDeps) {
    this.#deps = deps;
    this.#dispatcher = new Dispatcher(deps.deliver);
  }

  /**
   * Send (or re-answer) one `send` frame; resolves with what the recipient stored.
   *
   * @example
   * const stored = await outgoing.send({ userId, deviceId }, frame); // { id, sentAt, duplicate }
   */
  async send(sender: Sender, frame: SendFrame): Promise<StoredMessage> {
    if (frame.to === sender.userId) throw new FrameError('self_message');
    const fingerprint = fingerprintOf(frame.to, frame.body, frame.replyTo, frame.forward);
    const known = this.#deps.store.findBySenderClientId(sender.userId, frame.id);
    if (known) {
      if (!isRetryOf(frame, known)) throw new FrameError('id_conflict');
      return { id: known.id, sentAt: known.sentAt, duplicate: true };
    }
    const inFlight = this.#inFlight.get(frame.id);
    if (inFlight) {
      if (inFlight.fingerprint !== fingerprint) throw new FrameError('id_conflict');
      return { ...(await inFlight.result), duplicate: true };
    }
    const result = this.#sendNew(sender, frame).finally(() => this.#inFlight.delete(frame.id));
    this.#inFlight.set(frame.id, { fingerprint, result });
    return result;
  }

  /**
   * Keep receipts for messages that are still awaiting their copy (`applied`: the client ids the
   * receipt did advance). A later, stronger receipt replaces a weaker one.
   */
  holdEarly(receipt: Receipt, applied: ReadonlySet<string>): void {
    for (const clientId of receipt.clientIds) {
      if (applied.has(clientId) || !this.#awaitingCopy.has(clientId)) continue;
      const held = this.#early.get(clientId);
      if (!held || rank(receipt.status) > rank(held.status)) this.#early.set(clientId, { ...receipt, clientIds: [clientId] });
    }
  }

  async #sendNew(sender: Sender, frame: SendFrame): Promise<StoredMessage> {
    const references = this.#deps.references?.(frame) ?? {};
    await this.#deps.admitBody?.(sender.userId, frame.to, frame.body);
    const message: Message = {
      id: this.#deps.newId(),
      clientId: frame.id,
      from: sender.userId,
      fromDevice: sender.deviceId,
      to: frame.to,
      sentAt: Date.now(),
      body: frame.body,
      ...references,
    };
    this.#awaitingCopy.add(frame.id);
    try {
      const atRecipient = await this.#dispatcher.submit(message);
      // The recipient may already hold this id from an earlier attempt: keep its identity.
      const copy: Message = { ...message, id: atRecipient.id, sentAt: atRecipient.sentAt };
      const { entry } = this.#deps.store.recordMessage(copy, true, Date.now());
      if (entry) {
        // Before publishing: a merged answer moves that connection past the entry first.
        sender.answerWithCopy?.(entry, copy, atRecipient);
        this.#deps.publish([entry]);
        this.#deps.recorded?.(copy);
      }
      const early = this.#early.get(frame.id);
      if (early) this.#deps.applyReceipt(early);
      return atRecipient;
    } finally {
      this.#awaitingCopy.delete(frame.id);
      this.#early.delete(frame.id);
    }
  }
}

/** What must match for a resend to count as a retry: recipient, body, and what it replies to and forwards. */
function fingerprintOf(to: string, body: Message['body'], replyTo?: string, forward?: string): string {
  return `${to}\u0000${JSON.stringify(body)}\u0000${replyTo ?? ''}\u0000${forward ?? ''}`;
}

/**
 * Whether `frame` repeats the stored `known` message: same recipient, quote and forward, and the
 * same body unless the message was edited or deleted since (a late retry of an edited message is
 * still the same send).
 */
function isRetryOf(frame: SendFrame, known: Message): boolean {
  const changed = known.editedAt !== undefined || known.body.kind === 'deleted';
  // A deleted message keeps neither its quote nor its body.
  const deleted = known.body.kind === 'deleted';
  return (
    known.to === frame.to &&
    (deleted || known.replyTo?.id === frame.replyTo) &&
    (known.forwarded !== undefined) === (frame.forward !== undefined) &&
    (changed || JSON.stringify(known.body) === JSON.stringify(frame.body))
  );
}

function rank(status: ReceiptStatus): number {
  return STATUS_RANK[status];
}
