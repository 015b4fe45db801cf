/**
 * The local outbox: every message the user sent that the server has not yet confirmed with a
 * `sent` frame (1:1) or a `group_sent` frame (group), and every message action (react, edit,
 * delete, star) not yet confirmed with `acted`, in the order the user made them.
 *
 * Why it exists: a send can be lost anywhere (socket drops before or after the server stored it,
 * tab closes, server restarts). Each entry keeps its client id for its whole life and is resent
 * with that SAME id after every reconnect; the server treats a repeated id as the same message
 * (or action), so "resend everything not confirmed" is always safe and never duplicates. An entry
 * leaves the outbox only when it is confirmed or definitively rejected (a non-retryable error).
 * 1:1 sends, group sends and actions share one queue, so their relative order survives
 * reconnects too (a star and the unstar after it arrive in that order).
 *
 * Persistence is pluggable through {@link OutboxStore} (outbox-store.ts): the default keeps
 * entries in memory; a browser can save them to localStorage/IndexedDB so unsent messages survive
 * a reload. The entry types and their frames are in outbox-entries.ts.
 */
import { ClientIdSchema } from '../protocol/index.ts';
import type { Action, ActedFrame, ChatRef, GroupSentFrame, MessageBody, SentFrame } from '../protocol/index.ts';
import { answerMatches, copyEntry, copyRecord, isActionEntry, isValidRecord, sameRequest } from './outbox-entries.ts';
import type { ActionOutboxEntry, OutboxAnswer, OutboxEntry, OutboxRecord, SendAck } from './outbox-entries.ts';
import { MemoryOutboxStore, generateClientId } from './outbox-store.ts';
import type { OutboxStore } from './outbox-store.ts';
import { MessengerError } from './transport.ts';

export * from './outbox-entries.ts';
export * from './outbox-store.ts';

/**
 * What {@link Outbox.add} and {@link Outbox.addGroup} return: the id, and a promise settled by the
 * server's answer. `A` is the confirming frame: `SentFrame` for 1:1 sends, `GroupSentFrame` for
 * group sends, either one when the kind is not known statically (e.g. a restored entry).
 */
export interface PendingSend<A extends SendAck = SendAck> {
  clientId: string;
  /**
   * Resolves with the first `sent` / `group_sent` frame for this id; rejects with a non-retryable
   * MessengerError.
   */
  sent: Promise<A>;
}

/** What {@link Outbox.addAction} (and the client's react, edit, delete and star) return. */
export interface PendingAction {
  clientId: string;
  /** Resolves with the first `acted` frame for this id (a retry's duplicate too); rejects with a non-retryable MessengerError. */
  done: Promise<ActedFrame>;
}

/** A send's reply and forward references (server message ids). */
export interface SendRefs {
  replyTo?: string | undefined;
  forward?: string | undefined;
}

/** Options for {@link Outbox}. */
export interface OutboxOptions {
  store?: OutboxStore;
  generateId?: () => string;
  now?: () => number;
  /** Called when the store fails to load or save (the in-memory outbox keeps working). */
  onStoreError?: (error: unknown) => void;
}

interface Deferred {
  promise: Promise<OutboxAnswer>;
  resolve: (frame: OutboxAnswer) => void;
  reject: (error: MessengerError) => void;
}

function deferred(): Deferred {
  let resolve!: (frame: OutboxAnswer) => void;
  let reject!: (error: MessengerError) => void;
  const promise = new Promise<OutboxAnswer>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Mark as handled: callers often fire and forget (they listen to 'failed' instead), and an
  // unobserved rejection would crash Node. Anyone awaiting `promise` still sees the rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** Only the refs that are set (an entry never carries `replyTo: undefined`). */
function definedRefs(refs: SendRefs): { replyTo?: string; forward?: string } {
  return {
    ...(refs.replyTo === undefined ? {} : { replyTo: refs.replyTo }),
    ...(refs.forward === undefined ? {} : { forward: refs.forward }),
  };
}

/**
 * Ordered, id-keyed queue of pending sends and actions. It does not talk to the network: the
 * client calls `records()` to (re)send and `settle()`/`fail()` when the server answers.
 *
 * @example
 * const outbox = new Outbox();
 * const { clientId, sent } = outbox.add(peerId, { kind: 'text', text: 'hi' });
 * outbox.addGroup(groupId, { kind: 'text', text: 'hi all' });
 * outbox.addAction({ kind: 'direct', peer: peerId }, messageId, { kind: 'react', emoji: '👍' });
 * for (const record of outbox.records()) socket.send(JSON.stringify(frameFor(record)));
 * outbox.settle(sentFrame); // resolves `sent` once; later duplicates return undefined
 */
export class Outbox {
  /** Map iteration order is insertion order: that is the send order. */
  private readonly entries = new Map<string, OutboxRecord>();
  private readonly deferreds = new Map<string, Deferred>();
  private readonly store: OutboxStore;
  private readonly generateId: () => string;
  private readonly now: () => number;
  private readonly onStoreError: (error: unknown) => void;
  /** Settles when persisted entries have been merged in (immediately for synchronous stores). */
  readonly ready: Promise<void>;
  private restored = false;

  constructor(options: OutboxOptions = {}) {
    this.store = options.store ?? new MemoryOutboxStore();
    this.generateId = options.generateId ?? generateClientId;
    this.now = options.now ?? Date.now;
    this.onStoreError = options.onStoreError ?? (() => undefined);
    this.ready = this.restore();
  }

  /** Whether persisted entries have been loaded (true right after construction for sync stores). */
  get isRestored(): boolean {
    return this.restored;
  }

  /** Number of pending records (sends and actions). */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Queue a 1:1 message to user `to` (a reply or forward with `refs`). With an explicit
   * `clientId` that is already pending, returns the existing entry's promise instead of queueing
   * twice.
   */
  add(to: string, body: MessageBody, clientId: string = this.generateId(), refs: SendRefs = {}): PendingSend<SentFrame> {
    // The cast holds because settle() resolves a 1:1 entry only with a `sent` frame.
    const pending = this.enqueue({ clientId, to, body, createdAt: this.now(), ...definedRefs(refs) });
    return { clientId, sent: pending as Promise<SentFrame> };
  }

  /**
   * Queue a message to group `group` (a reply or forward with `refs`). With an explicit
   * `clientId` that is already pending, returns the existing entry's promise instead of queueing
   * twice.
   */
  addGroup(group: string, body: MessageBody, clientId: string = this.generateId(), refs: SendRefs = {}): PendingSend<GroupSentFrame> {
    // The cast holds because settle() resolves a group entry only with a `group_sent` frame.
    const pending = this.enqueue({ clientId, group, body, createdAt: this.now(), ...definedRefs(refs) });
    return { clientId, sent: pending as Promise<GroupSentFrame> };
  }

  /** Queue an action on message `target` of `chat` (validated by the caller). */
  addAction(chat: ChatRef, target: string, action: Action, clientId: string = this.generateId()): PendingAction {
    // The cast holds because settle() resolves an action entry only with an `acted` frame.
    const pending = this.enqueue({ clientId, chat, target, action, createdAt: this.now() });
    return { clientId, done: pending as Promise<ActedFrame> };
  }

  /** Pending sends in original send order (copies; mutating them does not affect the outbox). Actions: {@link pendingActions}. */
  pending(): OutboxEntry[] {
    return this.records().filter((record): record is OutboxEntry => !isActionEntry(record));
  }

  /** Pending actions in the order they were made (copies). */
  pendingActions(): ActionOutboxEntry[] {
    return this.records().filter(isActionEntry);
  }

  /** Every pending record, sends and actions, in order (copies): what a reconnect resends. */
  records(): OutboxRecord[] {
    return [...this.entries.values()].map(copyRecord);
  }

  /** Whether a send or an action with this client id is pending. */
  has(clientId: string): boolean {
    return this.entries.has(clientId);
  }

  /** The pending send with this client id (undefined for actions: see {@link getRecord}). */
  get(clientId: string): OutboxEntry | undefined {
    const entry = this.entries.get(clientId);
    return entry === undefined || isActionEntry(entry) ? undefined : copyEntry(entry);
  }

  /** The pending send or action with this client id. */
  getRecord(clientId: string): OutboxRecord | undefined {
    const entry = this.entries.get(clientId);
    return entry === undefined ? undefined : copyRecord(entry);
  }

  /** The promise for a pending record (e.g. one restored from the store after a reload). */
  promise(clientId: string): Promise<OutboxAnswer> | undefined {
    return this.deferreds.get(clientId)?.promise;
  }

  /**
   * The server confirmed `frame.id` (`sent`, `group_sent` or `acted`): remove the record and
   * resolve its promise. Returns the record the first time, undefined for unknown ids or repeated
   * confirmations (so callers emit their event exactly once per record). A frame that does not
   * fit the record (`sent` for a group entry or an action, another recipient, group or message)
   * is not a confirmation of it and is ignored.
   */
  settle(frame: SendAck): OutboxEntry | undefined;
  settle(frame: ActedFrame): ActionOutboxEntry | undefined;
  settle(frame: OutboxAnswer): OutboxRecord | undefined;
  settle(frame: OutboxAnswer): OutboxRecord | undefined {
    const entry = this.entries.get(frame.id);
    if (entry === undefined || !answerMatches(entry, frame)) return undefined;
    this.entries.delete(frame.id);
    const d = this.deferreds.get(frame.id);
    this.deferreds.delete(frame.id);
    this.persist();
    d?.resolve(frame);
    return entry;
  }

  /** The server rejected `clientId` for good: remove the record and reject its promise. */
  fail(clientId: string, error: MessengerError): OutboxRecord | undefined {
    const entry = this.entries.get(clientId);
    if (entry === undefined) return undefined;
    this.entries.delete(clientId);
    const d = this.deferreds.get(clientId);
    this.deferreds.delete(clientId);
    this.persist();
    d?.reject(error);
    return entry;
  }

  private enqueue(entry: OutboxRecord): Promise<OutboxAnswer> {
    const { clientId } = entry;
    if (!ClientIdSchema.safeParse(clientId).success) {
      throw new MessengerError('validation_failed', `Client id ${JSON.stringify(clientId)} must be 1-64 characters of [A-Za-z0-9_-]`);
    }
    const pending = this.entries.get(clientId);
    if (pending !== undefined && !sameRequest(pending, entry)) {
      // Returning the other entry's promise would hand the caller the wrong kind of confirmation.
      throw new MessengerError('id_conflict', `Client id ${JSON.stringify(clientId)} is already pending for another recipient or action`);
    }
    const existing = this.deferreds.get(clientId);
    if (existing !== undefined) return existing.promise;
    this.entries.set(clientId, entry);
    const d = deferred();
    this.deferreds.set(clientId, d);
    this.persist();
    return d.promise;
  }

  private restore(): Promise<void> {
    let loaded: readonly OutboxRecord[] | Promise<readonly OutboxRecord[]>;
    try {
      loaded = this.store.load();
    } catch (error) {
      this.onStoreError(error);
      this.restored = true;
      return Promise.resolve();
    }
    if (!isPromiseLike(loaded)) {
      // Synchronous store: merge now so entries are resendable before the first hello.
      this.merge(loaded);
      return Promise.resolve();
    }
    return Promise.resolve(loaded).then(
      (entries) => this.merge(entries),
      (error: unknown) => {
        this.onStoreError(error);
        this.restored = true;
        if (this.entries.size > 0) this.persist();
      },
    );
  }

  /** Persisted entries go first: they were sent before anything queued in this session. */
  private merge(loaded: readonly OutboxRecord[]): void {
    const current = [...this.entries.values()];
    this.entries.clear();
    for (const entry of Array.isArray(loaded) ? (loaded as unknown[]) : []) {
      // Stored data may be stale or tampered with; a bad entry would poison every resend.
      if (!isValidRecord(entry) || this.entries.has(entry.clientId)) continue;
      this.entries.set(entry.clientId, copyRecord(entry));
      if (!this.deferreds.has(entry.clientId)) this.deferreds.set(entry.clientId, deferred());
    }
    for (const entry of current) {
      if (!this.entries.has(entry.clientId)) this.entries.set(entry.clientId, entry);
    }
    this.restored = true;
    if (current.length > 0) this.persist();
  }

  private persist(): void {
    // Until the stored list has been read, saving would overwrite it with only this session's
    // entries; merge() saves the combined list once loading finishes.
    if (!this.restored) return;
    try {
      const result = this.store.save(this.records());
      if (isPromiseLike(result)) result.then(undefined, this.onStoreError);
    } catch (error) {
      this.onStoreError(error);
    }
  }
}
