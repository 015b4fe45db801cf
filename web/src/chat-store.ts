/**
 * The client-side model: every chat (1:1 and group) with its items in mailbox order, the ticks
 * of the user's own messages and unread counts. (Who is typing comes from the SDK's
 * TypingIndicators.) Fed by the SDK's events and the
 * history / conversation list endpoints (sync.ts); read by the views, which re-render on
 * 'changed'. No DOM here. (The items themselves: chat-items.ts.)
 *
 * Merging rules (docs/PROTOCOL.md 6.15): items are identified by server message id (or event id);
 * the user's own messages also by client id, so the bubble shown while a send is pending is the
 * same one that later gets its id, seq and ticks. Items with a mailbox seq are ordered by it;
 * pending ones (no seq yet) follow, in the order they were written.
 */
import { Emitter } from '../../client/index.ts';
import type { Conversation, GroupEvent, GroupHistoryItem, GroupMessage, GroupTally, HistoryItem, Message, MessageBody, OutboxEntry, ReceiptFrame, SendAck } from '../../client/index.ts';
import {
  chatKey,
  extrasOf,
  fromMessage,
  furthest,
  isDeletedForMe,
  parseChatKey,
  pickExtras,
  quoteOf,
  compareActivity,
  tickFromTally,
  type Chat,
  type ChatItem,
  type MessageInput,
  type MessageItem,
  type Tick,
} from './chat-items.ts';

// The model lives in chat-items.ts; views and sync import it from here with the store.
export * from './chat-items.ts';

export interface StoreEvents {
  /** Something changed in chat `key` (null: possibly everything). */
  changed: { key: string | null };
}

/** Remembered ticks for messages not loaded yet (bounded). */
const MAX_REMEMBERED_TICKS = 5_000;

interface Located {
  chat: Chat;
  item: MessageItem;
}

/** Updates kept for messages not loaded yet (bounded): applied if the message arrives with a lower rev. */
const MAX_EARLY_UPDATES = 2_000;

export class ChatStore extends Emitter<StoreEvents> {
  readonly me: string;
  private readonly chats = new Map<string, Chat>();
  private readonly byMessageId = new Map<string, Located>();
  /** Own messages by `<chat key>|<client id>`. */
  private readonly byClientId = new Map<string, Located>();
  private readonly eventIds = new Set<string>();
  private readonly ticks = new Map<string, Tick>();
  /** The newest copy of messages an update named before the message itself was loaded, by id. */
  private readonly early = new Map<string, Message | GroupMessage>();
  /** Messages deleted for the user, with the rev of that deletion: an older copy must not bring them back. */
  private readonly gone = new Map<string, number>();

  constructor(me: string) {
    super();
    this.me = me;
  }

  // ------------------------------------------------------------ reading

  /** The chat with this key, created empty if it does not exist yet. */
  chat(key: string): Chat {
    let chat = this.chats.get(key);
    if (chat === undefined) {
      const parsed = parseChatKey(key);
      if (parsed === null) throw new Error(`not a chat key: ${key}`);
      chat = {
        key,
        kind: parsed.kind,
        id: parsed.id,
        items: [],
        older: undefined,
        history: 'idle',
        unread: 0,
        unreadCountedUpTo: 0,
        readUpTo: 0,
        left: false,
        markedUnread: false,
      };
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

  /** Highest mailbox seq in a chat (0 when none). */
  newestSeq(chat: Chat): number {
    for (let i = chat.items.length - 1; i >= 0; i--) {
      const seq = chat.items[i]?.seq;
      if (seq !== null && seq !== undefined) return seq;
    }
    return 0;
  }

  /** Highest seq of a message from someone else (0 when none): what a read marker must cover. */
  newestIncomingSeq(chat: Chat): number {
    for (let i = chat.items.length - 1; i >= 0; i--) {
      const item = chat.items[i];
      if (item?.type === 'message' && !item.own && item.seq !== null) return item.seq;
    }
    return 0;
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
      if (conversation.kind === 'direct') this.addDirectItem(chat, conversation.last);
      else this.addGroupItem(chat, conversation.last);
      const asOf = conversation.last.seq;
      chat.unreadCountedUpTo = Math.max(chat.unreadCountedUpTo, asOf);
      // The server counted up to `asOf`; add what arrived live after that. If this device read
      // further meanwhile, the server's number is already stale: count locally.
      chat.unread =
        chat.readUpTo >= asOf ? this.countUnread(chat, chat.readUpTo) : conversation.unread + this.countUnread(chat, asOf);
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
    const item: MessageItem = {
      type: 'message',
      key: `c:${entry.clientId}`,
      seq: null,
      id: null,
      clientId: entry.clientId,
      from: this.me,
      own: true,
      at: entry.createdAt,
      body: entry.body,
      tick: 'pending',
      error: null,
      replyTo: quoted === undefined ? null : quoteOf(quoted),
      forwarded: entry.forward === undefined ? 0 : (this.byMessageId.get(entry.forward)?.item.forwarded ?? 0) + 1,
      editedAt: null,
      reactions: [],
      starred: false,
      rev: 0,
      source: null,
    };
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
    const unread = this.countUnread(chat, chat.readUpTo);
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
    this.insert(chat, { type: 'event', key: `e:${event.id}`, seq, event });
    const change = event.change;
    // Membership of the user: only the newest such event decides.
    if (seq >= this.newestMembershipSeq(chat)) {
      if ((change.kind === 'member_removed' || change.kind === 'member_left') && change.member === this.me) chat.left = true;
      if (change.kind === 'members_added' && change.members.includes(this.me)) chat.left = false;
      if (change.kind === 'member_joined' && change.member === this.me) chat.left = false;
      if (change.kind === 'created' && event.by === this.me) chat.left = false;
    }
  }

  private newestMembershipSeq(chat: Chat): number {
    let newest = 0;
    for (const item of chat.items) {
      if (item.type !== 'event') continue;
      const c = item.event.change;
      const mine =
        ((c.kind === 'member_removed' || c.kind === 'member_left') && c.member === this.me) ||
        (c.kind === 'members_added' && c.members.includes(this.me)) ||
        (c.kind === 'member_joined' && c.member === this.me);
      if (mine && item.seq > newest) newest = item.seq;
    }
    return newest;
  }

  private upsertMessage(chat: Chat, given: MessageInput): MessageItem | null {
    const own = given.from === this.me;
    // An update that arrived before the message: its copy is newer.
    const early = this.early.get(given.id);
    const input = early !== undefined && (early.rev ?? 0) > given.rev ? { ...given, ...extrasOf(early), body: early.body } : given;
    if (early !== undefined) this.early.delete(given.id);
    const goneRev = this.gone.get(given.id);
    if (goneRev !== undefined && input.rev <= goneRev) return null;
    const ref = `${chat.key}|${input.clientId}`;
    const located = this.byMessageId.get(input.id) ?? (own ? this.byClientId.get(ref) : undefined);
    if (isDeletedForMe(input.body)) {
      // Deleted for me: gone from this user's chats (history pages no longer list it either).
      if (located !== undefined) this.remove(located, ref);
      this.gone.set(input.id, input.rev);
      return null;
    }
    if (located !== undefined) {
      const { item } = located;
      item.id = input.id;
      item.at = input.at;
      // A copy is replaced only by a newer one (a history page read while an update arrived is older).
      if (input.rev >= item.rev) {
        // The server's copy names the stored media (the pending bubble's body may not yet).
        item.body = input.body;
        Object.assign(item, pickExtras(input));
      }
      if (own) {
        item.tick = furthest(item.tick === 'failed' ? 'pending' : item.tick, input.tick);
        item.error = null;
      }
      this.byMessageId.set(input.id, located);
      if (input.seq !== null && item.seq !== input.seq) {
        // It got its place in the mailbox (its copy arrived): move it there.
        const index = located.chat.items.indexOf(item);
        if (index >= 0) located.chat.items.splice(index, 1);
        item.seq = input.seq;
        this.insert(located.chat, item);
      }
      return item;
    }
    const item: MessageItem = {
      type: 'message',
      key: own ? `c:${input.clientId}` : `m:${input.id}`,
      seq: input.seq,
      id: input.id,
      clientId: input.clientId,
      from: input.from,
      own,
      at: input.at,
      body: input.body,
      tick: own ? furthest(input.tick, this.ticks.get(input.id)) : null,
      error: null,
      ...pickExtras(input),
    };
    this.insert(chat, item);
    this.byMessageId.set(input.id, { chat, item });
    if (own) this.byClientId.set(ref, { chat, item });
    return item;
  }

  /** Apply an update without emitting; returns the key of the chat it changed (null: none, or kept for later). */
  private updateQuietly(message: Message | GroupMessage): string | null {
    const located = this.byMessageId.get(message.id);
    const rev = message.rev ?? 0;
    if (located === undefined) {
      // Not loaded (older than what is shown, or on its way): keep the newest copy for when it comes.
      const goneRev = this.gone.get(message.id);
      if (goneRev !== undefined && rev <= goneRev) return null;
      const kept = this.early.get(message.id);
      if (kept === undefined || (kept.rev ?? 0) < rev) {
        this.early.delete(message.id);
        this.early.set(message.id, message);
        if (this.early.size > MAX_EARLY_UPDATES) {
          const oldest = this.early.keys().next();
          if (oldest.done !== true) this.early.delete(oldest.value);
        }
      }
      return null;
    }
    if (rev <= located.item.rev) return null;
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

  /** Others' messages in memory after `after`. */
  private countUnread(chat: Chat, after: number): number {
    return chat.items.filter((i) => i.type === 'message' && !i.own && i.seq !== null && i.seq > after).length;
  }

  /** Raise the tick of message `id`; returns the chat key it is in, or null when it is not loaded. */
  private raiseTick(id: string, tick: Tick): string | null {
    const remembered = furthest(this.ticks.get(id) ?? null, tick);
    if (remembered !== null) {
      this.ticks.delete(id); // re-insert: most recently touched last
      this.ticks.set(id, remembered);
      if (this.ticks.size > MAX_REMEMBERED_TICKS) {
        const oldest = this.ticks.keys().next();
        if (oldest.done !== true) this.ticks.delete(oldest.value);
      }
    }
    const located = this.byMessageId.get(id);
    if (located === undefined || !located.item.own) return null;
    const next = furthest(located.item.tick, tick);
    if (next === located.item.tick) return null;
    located.item.tick = next;
    return located.chat.key;
  }

  /** Insert by seq; items without a seq stay at the end. */
  private insert(chat: Chat, item: ChatItem): void {
    const items = chat.items;
    if (item.seq === null) {
      items.push(item);
      return;
    }
    let i = items.length;
    while (i > 0) {
      const previous = items[i - 1];
      if (previous !== undefined && previous.seq !== null && previous.seq < item.seq) break;
      i -= 1;
    }
    items.splice(i, 0, item);
  }

  private pageLoaded(chat: Chat, nextBefore: number | null): void {
    // Pages come newest first and then ever older: the latest page's cursor is the one to follow.
    chat.older = nextBefore;
    chat.history = 'idle';
    this.emit('changed', { key: chat.key });
  }
}
