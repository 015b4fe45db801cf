/**
 * The client-side model: every chat (1:1 and group) with its items in mailbox order, the ticks
 * of the user's own messages and unread counts. (Who is typing comes from the SDK's
 * TypingIndicators.) Fed by the SDK's events and the
 * history / conversation list endpoints (sync.ts); read by the views, which re-render on
 * 'changed'. No DOM here. (The items themselves: chat-items.ts; pure functions over a chat's
 * items: chat-timeline.ts; what is kept for messages not loaded yet: message-memory.ts.)
 *
 * Merging rules (docs/PROTOCOL.md 6.15): items are identified by server message id (or event id);
 * the user's own messages also by client id, so the bubble shown while a send is pending is the
 * same one that later gets its id, seq and ticks. Items with a mailbox seq are ordered by it;
 * pending ones (no seq yet) follow, in the order they were written.
 */
import { Emitter } from '../../client/index.ts';
import type { Conversation, GroupEvent, GroupHistoryItem, GroupMessage, GroupTally, HistoryItem, Message, MessageBody, OutboxEntry, ReceiptFrame, SendAck } from '../../client/index.ts';
import { chatKey, extrasOf, fromMessage, furthest, isDeletedForMe, compareActivity, tickFromTally, type Chat, type ChatItem, type MessageInput, type MessageItem, type Tick } from './chat-items.ts';
import { applyMembership, countUnread, emptyChat, insertBySeq, mergeCopy, pendingItem, receivedItem } from './chat-timeline.ts';
import { LateUpdates, TickMemory } from './message-memory.ts';

// The model lives in chat-items.ts; views and sync import it from here with the store.
export * from './chat-items.ts';

export interface StoreEvents {
  /** Something changed in chat `key` (null: possibly everything). */
  changed: { key: string | null };
}

interface Located {
  chat: Chat;
  item: MessageItem;
}

export class ChatStore extends Emitter<StoreEvents> {
  readonly me: string;
  private readonly chats = new Map<string, Chat>();
  private readonly byMessageId = new Map<string, Located>();
  /** Own messages by `<chat key>|<client id>`. */
  private readonly byClientId = new Map<string, Located>();
  private readonly eventIds = new Set<string>();
  private readonly ticks = new TickMemory();
  private readonly late = new LateUpdates();

  constructor(me: string) {
    super();
    this.me = me;
  }

  // ------------------------------------------------------------ reading

  /** The chat with this key, created empty if it does not exist yet. */
  chat(key: string): Chat {
    let chat = this.chats.get(key);
    if (chat === undefined) {
      chat = emptyChat(key);
      this.chats.set(key, chat);
    }
    return chat;
  }

  /** Chats that have anything to show, most recent activity first (pending messages count as newest). */
  list(): Chat[] {
    return [...this.chats.values()].filter((c) => c.items.length > 0).sort((a, b) => compareActivity(b, a));
  }

  /** The newest item of a chat (what the chat list shows). */
  last(chat: Chat): ChatItem | null {
    return chat.items[chat.items.length - 1] ?? null;
  }

  totalUnread(): number {
    let total = 0;
    for (const chat of this.chats.values()) total += chat.unread;
    return total;
  }

  // ------------------------------------------------------------ server data

  /** A page of GET /v1/conversations: each chat's newest entry and unread count. */
  applyConversations(conversations: readonly Conversation[]): void {
    for (const conversation of conversations) {
      const chat =
        conversation.kind === 'direct' ? this.chat(chatKey('direct', conversation.peer)) : this.chat(chatKey('group', conversation.group));
      const asOf = conversation.last.seq;
      // A large group's newest entry comes from its log (no mailbox seq): not shown by this client yet.
      if (asOf === null) continue;
      if (conversation.kind === 'direct') this.addDirectItem(chat, conversation.last);
      else this.addGroupItem(chat, conversation.last);
      chat.unreadCountedUpTo = Math.max(chat.unreadCountedUpTo, asOf);
      // The server counted up to `asOf`; add what arrived live after that. If this device read
      // further meanwhile, the server's number is already stale: count locally.
      chat.unread =
        chat.readUpTo >= asOf ? countUnread(chat, chat.readUpTo) : conversation.unread + countUnread(chat, asOf);
      chat.markedUnread = conversation.markedUnread === true;
    }
    this.emit('changed', { key: null });
  }

  /** A page of 1:1 history (newest first, as the server sends it). */
  addDirectHistory(peer: string, items: readonly HistoryItem[], nextBefore: number | null): void {
    const chat = this.chat(chatKey('direct', peer));
    for (const item of items) this.addDirectItem(chat, item);
    this.pageLoaded(chat, nextBefore);
  }

  /** A page of group history (newest first). */
  addGroupHistory(group: string, items: readonly GroupHistoryItem[], nextBefore: number | null): void {
    const chat = this.chat(chatKey('group', group));
    for (const item of items) this.addGroupItem(chat, item);
    this.pageLoaded(chat, nextBefore);
  }

  setHistoryState(key: string, state: Chat['history']): void {
    const chat = this.chat(key);
    if (chat.history === state) return;
    chat.history = state;
    this.emit('changed', { key });
  }

  // ------------------------------------------------------------ live events

  /** A 1:1 `message` entry (incoming, or one's own from this or another device). */
  addMessage(message: Message, seq: number): void {
    const own = message.from === this.me;
    const chat = this.chat(chatKey('direct', own ? message.to : message.from));
    const known = this.byMessageId.has(message.id);
    this.upsertMessage(chat, { ...fromMessage(message), seq, tick: own ? 'sent' : null });
    if (!own) this.incoming(chat, seq, known);
    this.emit('changed', { key: chat.key });
  }

  /** A `group_message` entry. */
  addGroupMessage(message: GroupMessage, seq: number): void {
    const own = message.from === this.me;
    const chat = this.chat(chatKey('group', message.group));
    const known = this.byMessageId.has(message.id);
    this.upsertMessage(chat, { ...fromMessage(message), seq, tick: own ? 'sent' : null });
    if (!own) this.incoming(chat, seq, known);
    this.emit('changed', { key: chat.key });
  }

  /** A `group_event` entry (system message). */
  addGroupEvent(event: GroupEvent, seq: number): void {
    const chat = this.chat(chatKey('group', event.group));
    this.addEvent(chat, event, seq);
    this.emit('changed', { key: chat.key });
  }

  /**
   * A `message_update` / `group_message_update` (or a group history page's update entry): the
   * message as it is now. Replaces the copy when newer (`rev`); kept for later when the message
   * is not loaded. A message deleted for the user leaves their chat.
   */
  applyUpdate(message: Message | GroupMessage): void {
    const key = this.updateQuietly(message);
    if (key !== null) this.emit('changed', { key });
  }

  /** A chat was marked unread (or the mark cleared) here or on another device. */
  setMarkedUnread(key: string, unread: boolean): void {
    const chat = this.chat(key);
    if (chat.markedUnread === unread) return;
    chat.markedUnread = unread;
    this.emit('changed', { key });
  }

  /** A loaded message by server id, with its chat. */
  message(id: string): { chat: Chat; item: MessageItem } | undefined {
    return this.byMessageId.get(id);
  }

  /**
   * A message just written (or restored from the outbox after a reload): shown at once, pending,
   * with the quote of the message it replies to and the "Forwarded" of a forward, as far as the
   * store has those messages (the server's copy brings its own).
   */
  addPending(entry: OutboxEntry): void {
    const chat = entry.group !== undefined ? this.chat(chatKey('group', entry.group)) : this.chat(chatKey('direct', entry.to));
    const ref = `${chat.key}|${entry.clientId}`;
    if (this.byClientId.has(ref)) return;
    const quoted = entry.replyTo === undefined ? undefined : this.byMessageId.get(entry.replyTo)?.item;
    const forwardOf = entry.forward === undefined ? undefined : this.byMessageId.get(entry.forward)?.item;
    const item = pendingItem(entry, this.me, quoted, forwardOf);
    chat.items.push(item);
    this.byClientId.set(ref, { chat, item });
    this.emit('changed', { key: chat.key });
  }

  /** The body of one's own pending message changed (a media upload finished: its media id is known now). */
  setBody(key: string, clientId: string, body: MessageBody): void {
    const located = this.byClientId.get(`${key}|${clientId}`);
    if (located === undefined) return;
    located.item.body = body;
    this.emit('changed', { key });
  }

  /** Take back one's own message that never left (an upload that failed and is sent again as a new one). */
  removePending(key: string, clientId: string): void {
    const ref = `${key}|${clientId}`;
    const located = this.byClientId.get(ref);
    if (located === undefined || located.item.id !== null) return;
    const index = located.chat.items.indexOf(located.item);
    if (index >= 0) located.chat.items.splice(index, 1);
    this.byClientId.delete(ref);
    this.emit('changed', { key });
  }

  /** `sent` / `group_sent`: the server stored it (one tick). */
  confirm(ack: SendAck): void {
    const key = ack.type === 'group_sent' ? chatKey('group', ack.group) : chatKey('direct', ack.to);
    const located = this.byClientId.get(`${key}|${ack.id}`);
    if (located === undefined) return;
    const { item } = located;
    item.id = ack.messageId;
    item.at = ack.sentAt;
    item.error = null;
    item.tick = furthest(item.tick === 'failed' ? 'pending' : item.tick, 'sent');
    item.tick = furthest(item.tick, this.ticks.get(ack.messageId));
    this.byMessageId.set(ack.messageId, located);
    this.emit('changed', { key });
  }

  /** A send was rejected for good. */
  fail(entry: OutboxEntry, reason: string): void {
    const key = entry.group !== undefined ? chatKey('group', entry.group) : chatKey('direct', entry.to);
    const located = this.byClientId.get(`${key}|${entry.clientId}`);
    if (located === undefined) return;
    located.item.tick = 'failed';
    located.item.error = reason;
    this.emit('changed', { key });
  }

  /** 1:1 `receipt`: the peer received or read some of one's messages. */
  applyReceipt(frame: ReceiptFrame): void {
    const touched = new Set<string>();
    for (const id of frame.messageIds) {
      const key = this.raiseTick(id, frame.status);
      if (key !== null) touched.add(key);
    }
    for (const key of touched) this.emit('changed', { key });
  }

  /** `group_receipt` tallies (running totals). */
  applyTallies(tallies: readonly GroupTally[]): void {
    const touched = new Set<string>();
    for (const tally of tallies) {
      const key = this.raiseTick(tally.messageId, tickFromTally(tally));
      if (key !== null) touched.add(key);
    }
    for (const key of touched) this.emit('changed', { key });
  }

  /** This or another device read chat `key` up to `upTo`. */
  markRead(key: string, upTo: number): void {
    const chat = this.chat(key);
    chat.readUpTo = Math.max(chat.readUpTo, upTo);
    const unread = countUnread(chat, chat.readUpTo);
    if (unread === chat.unread) return;
    chat.unread = unread;
    this.emit('changed', { key });
  }

  /** Forget everything (after `cursor_expired`: history is refetched). Pending sends stay. */
  reset(pending: readonly OutboxEntry[]): void {
    this.chats.clear();
    this.byMessageId.clear();
    this.byClientId.clear();
    this.eventIds.clear();
    for (const entry of pending) this.addPending(entry);
    this.emit('changed', { key: null });
  }

  // ------------------------------------------------------------ internals

  private addDirectItem(chat: Chat, item: HistoryItem): void {
    const own = item.message.from === this.me;
    this.upsertMessage(chat, { ...fromMessage(item.message), seq: item.seq, tick: own ? item.status : null });
  }

  private addGroupItem(chat: Chat, item: GroupHistoryItem): void {
    // Entries of a large group's log (no mailbox seq): not shown by this client yet.
    if (item.seq === null) return;
    if (item.entry.type === 'event') {
      this.addEvent(chat, item.entry.event, item.seq);
      return;
    }
    if (item.entry.type === 'update') {
      this.updateQuietly(item.entry.update.message);
      return;
    }
    const message = item.entry.message;
    const own = message.from === this.me;
    const tick = own ? (item.tally === null ? 'sent' : tickFromTally(item.tally)) : null;
    this.upsertMessage(chat, { ...fromMessage(message), seq: item.seq, tick });
  }

  private addEvent(chat: Chat, event: GroupEvent, seq: number): void {
    if (this.eventIds.has(event.id)) return;
    this.eventIds.add(event.id);
    insertBySeq(chat, { type: 'event', key: `e:${event.id}`, seq, event });
    applyMembership(chat, event, seq, this.me);
  }

  private upsertMessage(chat: Chat, given: MessageInput): MessageItem | null {
    const own = given.from === this.me;
    // An update that arrived before the message: its copy is newer.
    const early = this.late.take(given.id);
    const input = early !== undefined && (early.rev ?? 0) > given.rev ? { ...given, ...extrasOf(early), body: early.body } : given;
    if (this.late.isGone(given.id, input.rev)) return null;
    const ref = `${chat.key}|${input.clientId}`;
    const located = this.byMessageId.get(input.id) ?? (own ? this.byClientId.get(ref) : undefined);
    if (isDeletedForMe(input.body)) {
      // Deleted for me: gone from this user's chats (history pages no longer list it either).
      if (located !== undefined) this.remove(located, ref);
      this.late.markGone(input.id, input.rev);
      return null;
    }
    if (located !== undefined) {
      mergeCopy(located.chat, located.item, input, own);
      this.byMessageId.set(input.id, located);
      return located.item;
    }
    const item = receivedItem(input, own, this.ticks.get(input.id));
    insertBySeq(chat, item);
    this.byMessageId.set(input.id, { chat, item });
    if (own) this.byClientId.set(ref, { chat, item });
    return item;
  }

  /** Apply an update without emitting; returns the key of the chat it changed (null: none, or kept for later). */
  private updateQuietly(message: Message | GroupMessage): string | null {
    const located = this.byMessageId.get(message.id);
    if (located === undefined) {
      // Not loaded (older than what is shown, or on its way): keep the newest copy for when it comes.
      this.late.keep(message);
      return null;
    }
    if ((message.rev ?? 0) <= located.item.rev) return null;
    const { chat, item } = located;
    this.upsertMessage(chat, { ...fromMessage(message), seq: item.seq, tick: item.tick });
    return chat.key;
  }

  private remove(located: Located, ref: string): void {
    const index = located.chat.items.indexOf(located.item);
    if (index >= 0) located.chat.items.splice(index, 1);
    if (located.item.id !== null) this.byMessageId.delete(located.item.id);
    if (located.item.own) this.byClientId.delete(ref);
  }

  /** Someone else's message arrived live: it may be unread. */
  private incoming(chat: Chat, seq: number, alreadyKnown: boolean): void {
    if (!alreadyKnown && seq > chat.readUpTo && seq > chat.unreadCountedUpTo) chat.unread += 1;
  }

  /** Raise the tick of message `id`; returns the chat key it is in, or null when it is not loaded. */
  private raiseTick(id: string, tick: Tick): string | null {
    this.ticks.raise(id, tick);
    const located = this.byMessageId.get(id);
    if (located === undefined || !located.item.own) return null;
    const next = furthest(located.item.tick, tick);
    if (next === located.item.tick) return null;
    located.item.tick = next;
    return located.chat.key;
  }

  private pageLoaded(chat: Chat, nextBefore: number | null): void {
    // Pages come newest first and then ever older: the latest page's cursor is the one to follow.
    chat.older = nextBefore;
    chat.history = 'idle';
    this.emit('changed', { key: chat.key });
  }
}
