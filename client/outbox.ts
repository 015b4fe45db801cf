/**
 * The local outbox: every message the user sent that the server has not yet confirmed with a
 * `sent` frame (1:1) or a `group_sent` frame (group), in the order the user sent them.
 *
 * Why it exists: a send can be lost anywhere (socket drops before or after the server stored it,
 * tab closes, server restarts). Each entry keeps its client id for its whole life and is resent
 * with that SAME id after every reconnect; the server treats a repeated id as the same message, so
 * "resend everything not confirmed" is always safe and never duplicates. An entry leaves the
 * outbox only when it is confirmed (`sent` / `group_sent`) or definitively rejected (a non-retryable
 * error). 1:1 and group sends share one queue, so their relative order survives reconnects too.
 *
 * Persistence is pluggable through {@link OutboxStore}: the default keeps entries in memory; a
 * browser can save them to localStorage/IndexedDB so unsent messages survive a reload.
 */
import { ClientIdSchema, GroupIdSchema, MessageBodySchema, UserIdSchema } from '../protocol/index.ts';
import type { GroupSendFrame, GroupSentFrame, MessageBody, SendFrame, SentFrame } from '../protocol/index.ts';
import { MessengerError } from './transport.ts';

interface OutboxEntryBase {
  /** Client-generated id, [A-Za-z0-9_-]{1,64}; reused verbatim for every resend. */
  clientId: string;
  body: MessageBody;
  /** When the user sent it, ms since the epoch (display only; order is the array order). */
  createdAt: number;
}

/** An unconfirmed 1:1 send (the only kind older SDK versions persisted: `to` without `group`). */
export interface DirectOutboxEntry extends OutboxEntryBase {
  /** The recipient's user id. */
  to: string;
  group?: undefined;
}

/** An unconfirmed group send. */
export interface GroupOutboxEntry extends OutboxEntryBase {
  /** The group's id. */
  group: string;
  to?: undefined;
}

/**
 * One unconfirmed send. Plain JSON so stores can serialize it as is; exactly one of `to` and
 * `group` is set (narrow with `entry.group !== undefined`).
 */
export type OutboxEntry = DirectOutboxEntry | GroupOutboxEntry;

/** The server's confirmation of a send: `sent` for a 1:1 entry, `group_sent` for a group entry. */
export type SendAck = SentFrame | GroupSentFrame;

/**
 * The frame that (re)sends `entry`: `send` for a 1:1 entry, `group_send` for a group entry, always
 * with the entry's own client id.
 *
 * @example
 * for (const entry of outbox.pending()) connection.send(sendFrameFor(entry));
 */
export function sendFrameFor(entry: OutboxEntry): SendFrame | GroupSendFrame {
  if (entry.group !== undefined) return { type: 'group_send', id: entry.clientId, group: entry.group, body: entry.body };
  return { type: 'send', id: entry.clientId, to: entry.to, body: entry.body };
}

/** Whether `ack` confirms `entry`: the same kind of send to the same recipient or group. */
function ackMatches(entry: OutboxEntry, ack: SendAck): boolean {
  return ack.type === 'group_sent' ? entry.group === ack.group : entry.to === ack.to;
}

/** A copy holding only the fields of its kind (stored data may carry anything else). */
function copyEntry(entry: OutboxEntry): OutboxEntry {
  const { clientId, body, createdAt } = entry;
  return entry.group !== undefined ? { clientId, group: entry.group, body, createdAt } : { clientId, to: entry.to, body, createdAt };
}

/**
 * Where outbox entries are persisted. `save` receives the whole ordered list after every change
 * (the outbox is small, and whole-list writes keep order trivially correct). Either method may be
 * synchronous or return a Promise.
 *
 * @example
 * const localStorageOutbox: OutboxStore = {
 *   load: () => JSON.parse(localStorage.getItem('outbox') ?? '[]'),
 *   save: (entries) => localStorage.setItem('outbox', JSON.stringify(entries)),
 * };
 */
export interface OutboxStore {
  load(): readonly OutboxEntry[] | Promise<readonly OutboxEntry[]>;
  save(entries: readonly OutboxEntry[]): void | Promise<void>;
}

/** The default store: keeps a copy in memory (so nothing survives the process). */
export class MemoryOutboxStore implements OutboxStore {
  private entries: OutboxEntry[] = [];

  load(): readonly OutboxEntry[] {
    return this.entries.map(copyEntry);
  }

  save(entries: readonly OutboxEntry[]): void {
    this.entries = entries.map(copyEntry);
  }
}

function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * A fresh client message id: 32 hex characters from `crypto.randomUUID()`, or 22 base64url
 * characters of `crypto.getRandomValues` where randomUUID is missing (browsers only expose it in
 * secure contexts). Always matches CLIENT_ID_PATTERN.
 *
 * @example
 * generateClientId(); // "3f1c9a0e5b7d4e2f8a6b1c0d9e8f7a6b"
 */
export function generateClientId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID().replace(/-/g, '');
  return base64url(crypto.getRandomValues(new Uint8Array(16)));
}

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

/** Options for {@link Outbox}. */
export interface OutboxOptions {
  store?: OutboxStore;
  generateId?: () => string;
  now?: () => number;
  /** Called when the store fails to load or save (the in-memory outbox keeps working). */
  onStoreError?: (error: unknown) => void;
}

interface Deferred {
  promise: Promise<SendAck>;
  resolve: (frame: SendAck) => void;
  reject: (error: MessengerError) => void;
}

function deferred(): Deferred {
  let resolve!: (frame: SendAck) => void;
  let reject!: (error: MessengerError) => void;
  const promise = new Promise<SendAck>((res, rej) => {
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

/** A stored entry is usable when its fields are valid and it names exactly one target. */
function isValidEntry(value: unknown): value is OutboxEntry {
  if (typeof value !== 'object' || value === null) return false;
  const entry = value as { clientId?: unknown; to?: unknown; group?: unknown; body?: unknown; createdAt?: unknown };
  const target =
    entry.group === undefined
      ? UserIdSchema.safeParse(entry.to).success
      : entry.to === undefined && GroupIdSchema.safeParse(entry.group).success;
  return (
    target &&
    ClientIdSchema.safeParse(entry.clientId).success &&
    MessageBodySchema.safeParse(entry.body).success &&
    typeof entry.createdAt === 'number'
  );
}

/**
 * Ordered, id-keyed queue of pending sends. It does not talk to the network: the client calls
 * `pending()` to (re)send and `settle()`/`fail()` when the server answers.
 *
 * @example
 * const outbox = new Outbox();
 * const { clientId, sent } = outbox.add(peerId, { kind: 'text', text: 'hi' });
 * outbox.addGroup(groupId, { kind: 'text', text: 'hi all' });
 * for (const entry of outbox.pending()) socket.send(JSON.stringify(sendFrameFor(entry)));
 * outbox.settle(sentFrame); // resolves `sent` once; later duplicates return undefined
 */
export class Outbox {
  /** Map iteration order is insertion order: that is the send order. */
  private readonly entries = new Map<string, OutboxEntry>();
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

  /** Number of pending entries. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Queue a 1:1 message to user `to`. With an explicit `clientId` that is already pending, returns
   * the existing entry's promise instead of queueing twice.
   */
  add(to: string, body: MessageBody, clientId: string = this.generateId()): PendingSend<SentFrame> {
    // The cast holds because settle() resolves a 1:1 entry only with a `sent` frame.
    return this.enqueue({ clientId, to, body, createdAt: this.now() }) as PendingSend<SentFrame>;
  }

  /**
   * Queue a message to group `group`. With an explicit `clientId` that is already pending, returns
   * the existing entry's promise instead of queueing twice.
   */
  addGroup(group: string, body: MessageBody, clientId: string = this.generateId()): PendingSend<GroupSentFrame> {
    // The cast holds because settle() resolves a group entry only with a `group_sent` frame.
    return this.enqueue({ clientId, group, body, createdAt: this.now() }) as PendingSend<GroupSentFrame>;
  }

  /** Pending entries in original send order (copies; mutating them does not affect the outbox). */
  pending(): OutboxEntry[] {
    return [...this.entries.values()].map(copyEntry);
  }

  has(clientId: string): boolean {
    return this.entries.has(clientId);
  }

  get(clientId: string): OutboxEntry | undefined {
    const entry = this.entries.get(clientId);
    return entry === undefined ? undefined : copyEntry(entry);
  }

  /** The promise for a pending entry (e.g. one restored from the store after a reload). */
  promise(clientId: string): Promise<SendAck> | undefined {
    return this.deferreds.get(clientId)?.promise;
  }

  /**
   * The server confirmed `frame.id`: remove the entry and resolve its promise. Returns the entry
   * the first time, undefined for unknown ids or repeated confirmations (so callers emit 'sent' /
   * 'group_sent' exactly once per message). A frame that does not fit the entry (`sent` for a
   * group entry, another recipient or group) is not a confirmation of it and is ignored.
   */
  settle(frame: SendAck): OutboxEntry | undefined {
    const entry = this.entries.get(frame.id);
    if (entry === undefined || !ackMatches(entry, frame)) return undefined;
    this.entries.delete(frame.id);
    const d = this.deferreds.get(frame.id);
    this.deferreds.delete(frame.id);
    this.persist();
    d?.resolve(frame);
    return entry;
  }

  /** The server rejected `clientId` for good: remove the entry and reject its promise. */
  fail(clientId: string, error: MessengerError): OutboxEntry | undefined {
    const entry = this.entries.get(clientId);
    if (entry === undefined) return undefined;
    this.entries.delete(clientId);
    const d = this.deferreds.get(clientId);
    this.deferreds.delete(clientId);
    this.persist();
    d?.reject(error);
    return entry;
  }

  private enqueue(entry: OutboxEntry): PendingSend {
    const { clientId } = entry;
    if (!ClientIdSchema.safeParse(clientId).success) {
      throw new MessengerError('validation_failed', `Client id ${JSON.stringify(clientId)} must be 1-64 characters of [A-Za-z0-9_-]`);
    }
    const pending = this.entries.get(clientId);
    if (pending !== undefined && (pending.to !== entry.to || pending.group !== entry.group)) {
      // Returning the other entry's promise would hand the caller the wrong kind of confirmation.
      throw new MessengerError('id_conflict', `Client id ${JSON.stringify(clientId)} is already pending for another recipient`);
    }
    const existing = this.deferreds.get(clientId);
    if (existing !== undefined) return { clientId, sent: existing.promise };
    this.entries.set(clientId, entry);
    const d = deferred();
    this.deferreds.set(clientId, d);
    this.persist();
    return { clientId, sent: d.promise };
  }

  private restore(): Promise<void> {
    let loaded: readonly OutboxEntry[] | Promise<readonly OutboxEntry[]>;
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
  private merge(loaded: readonly OutboxEntry[]): void {
    const current = [...this.entries.values()];
    this.entries.clear();
    for (const entry of Array.isArray(loaded) ? loaded : []) {
      // Stored data may be stale or tampered with; a bad entry would poison every resend.
      if (!isValidEntry(entry) || this.entries.has(entry.clientId)) continue;
      this.entries.set(entry.clientId, copyEntry(entry));
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
      const result = this.store.save(this.pending());
      if (isPromiseLike(result)) result.then(undefined, this.onStoreError);
    } catch (error) {
      this.onStoreError(error);
    }
  }
}
