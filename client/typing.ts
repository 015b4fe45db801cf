/**
 * `TypingIndicators`: who is typing where, from a client's `typing_notice` events.
 *
 * The protocol's rules (docs/PROTOCOL.md, `typing_notice`): a notice shows an indicator for
 * `expiresInMs` (TYPING_TTL_MS, 6 s); a repeat of it restarts that time; `stopped` hides it at
 * once. Senders repeat `typing` every few seconds while the user types, so an indicator whose
 * repeats stop (the app was closed, the connection dropped) goes away on its own.
 *
 * Indicators are kept per conversation (`direct:<userId>` for a 1:1 chat, named by the peer, and
 * `group:<groupId>`) and per user within it. A message from someone also hides their indicator
 * in that conversation, as messengers do.
 */
import type { ConversationRef, GroupMessage, Message, TypingNoticeFrame } from '../protocol/index.ts';
import { Emitter } from './events.ts';
import type { Listener } from './events.ts';

/** A conversation's key: `direct:<peer's user id>` or `group:<group id>`. */
export type TypingKey = `direct:${string}` | `group:${string}`;

/** One visible indicator: `userId` is typing (or recording a voice note) in `conversation`. */
export interface TypingEntry {
  key: TypingKey;
  conversation: ConversationRef;
  userId: string;
  state: 'typing' | 'recording';
  /** When it disappears unless repeated, ms since the epoch (by the `now` option's clock). */
  expiresAt: number;
}

export interface TypingIndicatorsEvents {
  /**
   * Who is typing changed (someone started, switched between typing and recording, stopped,
   * sent a message, or their indicator expired): every visible indicator, oldest first. A repeat
   * that only extends an indicator does not emit.
   */
  change: TypingEntry[];
}

/** Timer functions (injectable for tests). Handles are opaque. */
export interface TypingTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * What TypingIndicators subscribes to: a `MessengerClient` (any emitter of these events works).
 * Typing notices show indicators; a message hides its sender's. Each `on` returns an unsubscribe
 * function.
 */
export interface TypingSource {
  on(event: 'typing_notice', listener: Listener<TypingNoticeFrame>): () => void;
  on(event: 'message', listener: Listener<{ message: Message; own: boolean }>): () => void;
  on(event: 'group_message', listener: Listener<{ message: GroupMessage; own: boolean }>): () => void;
}

export interface TypingIndicatorsOptions {
  /** Default: the global `setTimeout` / `clearTimeout` (looked up at call time, so fake timers apply). */
  timers?: TypingTimers;
  /** Clock for `expiresAt`. Default `Date.now`. */
  now?: () => number;
}

const globalTimers: TypingTimers = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** The key of a conversation, e.g. `direct:01J…` or `group:01K…`. */
export function typingKey(conversation: ConversationRef): TypingKey {
  return conversation.kind === 'direct' ? `direct:${conversation.id}` : `group:${conversation.id}`;
}

/** The conversation a typing notice belongs to: the group, or (1:1) the chat with its sender. */
export function typingConversation(frame: Pick<TypingNoticeFrame, 'from' | 'group'>): ConversationRef {
  return frame.group === null ? { kind: 'direct', id: frame.from } : { kind: 'group', id: frame.group };
}

interface Slot {
  entry: TypingEntry;
  timer: unknown;
}

/**
 * Keeps "who is typing where" for a UI, from a client's typing notices.
 *
 * @example
 * const typing = new TypingIndicators(client);
 * typing.on('change', () => renderTyping(typing.typingIn({ kind: 'direct', id: peerId })));
 * // "Ann is typing…" in a group:
 * const names = typing.typingIn({ kind: 'group', id: groupId }).map((e) => nameOf(e.userId));
 * typing.dispose();                                    // on logout / unmount
 */
export class TypingIndicators extends Emitter<TypingIndicatorsEvents> {
  private readonly timers: TypingTimers;
  private readonly now: () => number;
  /** Conversation key → user id → indicator (Maps keep insertion order: oldest first). */
  private readonly byConversation = new Map<TypingKey, Map<string, Slot>>();
  private readonly unsubscribe: Array<() => void> = [];
  private disposed = false;

  constructor(source: TypingSource, options: TypingIndicatorsOptions = {}) {
    super();
    this.timers = options.timers ?? globalTimers;
    this.now = options.now ?? (() => Date.now());
    this.unsubscribe.push(
      source.on('typing_notice', (frame) => this.handle(frame)),
      source.on('message', ({ message, own }) => {
        if (!own) this.remove(typingKey({ kind: 'direct', id: message.from }), message.from);
      }),
      source.on('group_message', ({ message, own }) => {
        if (!own) this.remove(typingKey({ kind: 'group', id: message.group }), message.from);
      }),
    );
  }

  /** Apply one typing notice (done for every `typing_notice` of the source; public for tests and custom feeds). */
  handle(frame: TypingNoticeFrame): void {
    if (this.disposed) return;
    const conversation = typingConversation(frame);
    const key = typingKey(conversation);
    if (frame.state === 'stopped' || frame.expiresInMs <= 0) {
      this.remove(key, frame.from);
      return;
    }
    let users = this.byConversation.get(key);
    if (users === undefined) {
      users = new Map();
      this.byConversation.set(key, users);
    }
    const existing = users.get(frame.from);
    if (existing !== undefined) this.timers.clearTimeout(existing.timer);
    const entry: TypingEntry = { key, conversation, userId: frame.from, state: frame.state, expiresAt: this.now() + frame.expiresInMs };
    const timer = this.timers.setTimeout(() => {
      // Only this very indicator: a repeat replaced the slot (and cleared this timer) already.
      if (users.get(frame.from)?.entry === entry) this.remove(key, frame.from);
    }, frame.expiresInMs);
    users.set(frame.from, { entry, timer });
    if (existing === undefined || existing.entry.state !== entry.state) this.emitChange();
  }

  /** Every visible indicator, oldest conversation first, then oldest user first. */
  list(): TypingEntry[] {
    return [...this.byConversation.values()].flatMap((users) => [...users.values()].map((slot) => ({ ...slot.entry })));
  }

  /**
   * Who is typing in one conversation (a `ConversationRef` or its key), oldest first.
   *
   * @example
   * const [someone] = typing.typingIn({ kind: 'direct', id: peerId });
   * header.textContent = someone === undefined ? '' : someone.state === 'recording' ? 'recording audio…' : 'typing…';
   */
  typingIn(conversation: ConversationRef | TypingKey): TypingEntry[] {
    const key = typeof conversation === 'string' ? conversation : typingKey(conversation);
    return [...(this.byConversation.get(key)?.values() ?? [])].map((slot) => ({ ...slot.entry }));
  }

  /** Hide every indicator now (e.g. after the connection dropped). Emits 'change' if any was shown. */
  clear(): void {
    const had = this.byConversation.size > 0;
    this.clearAll();
    if (had) this.emitChange();
  }

  /** Stop listening to the source, cancel every timer and forget every indicator (no 'change'). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const off of this.unsubscribe.splice(0)) off();
    this.clearAll();
    this.removeAllListeners();
  }

  private remove(key: TypingKey, userId: string): void {
    const users = this.byConversation.get(key);
    const slot = users?.get(userId);
    if (users === undefined || slot === undefined) return;
    this.timers.clearTimeout(slot.timer);
    users.delete(userId);
    if (users.size === 0) this.byConversation.delete(key);
    this.emitChange();
  }

  private clearAll(): void {
    for (const users of this.byConversation.values()) for (const slot of users.values()) this.timers.clearTimeout(slot.timer);
    this.byConversation.clear();
  }

  private emitChange(): void {
    this.emit('change', this.list());
  }
}
