/**
 * The client-side model: every chat (1:1 and group) with its items in order, the ticks
 * of the user's own messages and unread counts. (Who is typing comes from the SDK's
 * TypingIndicators.) Fed by the SDK's events and the
 * history / conversation list endpoints (sync.ts); read by the views, which re-render on
 * 'changed'. No DOM here. (The items themselves: chat-items.ts; the index and how one copy is
 * merged: chat-index.ts; pure functions over a chat's items: chat-timeline.ts; what is kept for
 * messages not loaded yet: message-memory.ts.)
 *
 * Merging rules (docs/PROTOCOL.md 6.15): items are identified by server message id (or event id);
 * the user's own messages also by client id, so the bubble shown while a send is pending is the
 * same one that later gets its id, seq and ticks. Items are ordered by their place (`orderOf`:
 * mailbox seq in 1:1 chats, gseq in groups, so a large group's log entries, which have no mailbox
 * seq, fall in line with the copied ones); pending ones (no place yet) follow, in the order they
 * were written. Read and unread are counted in the same places.
 */
import type { Conversation, GroupEntry, GroupEvent, GroupHistoryPage, GroupMessage, GroupTally, HistoryItem, Message, MessageBody, OutboxEntry, ReceiptFrame, SendAck } from '../../client/index.ts';
import { gseqOf } from '../../protocol/index.ts';
import { chatKey, fromMessage, furthest, compareActivity, tickFromTally, type Chat, type ChatItem, type HistoryCursor, type MessageItem } from './chat-items.ts';
import { ChatIndex } from './chat-index.ts';
import { countUnread, gseqThroughSeq, pendingItem, place } from './chat-timeline.ts';

// The model lives in chat-items.ts; views and sync import it from here with the store.
export * from './chat-items.ts';
export type { StoreEvents } from './chat-index.ts';

export class ChatStore extends ChatIndex {
  // ------------------------------------------------------------ reading

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
      let asOf: number;
      if (conversation.kind === 'direct') {
        this.addDirectItem(chat, conversation.last);
        asOf = conversation.last.seq;
      } else {
        // A large group's count covers its log up to the head when the list was made.
        if (conversation.log !== undefined) chat.large = true;
        this.addGroupItem(chat, conversation.last);
        asOf = Math.max(gseqOf(conversation.last.entry), conversation.log?.head ?? 0);
      }
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
    this.pageLoaded(chat, nextBefore === null ? null : { before: nextBefore });
  }

  /**
   * A page of group history (newest first). A large group's pages hold its log part first (items
   * with `seq` null, paged by `nextBeforeGseq`), then the mailbox's copy below the switch.
   */
  addGroupHistory(group: string, page: GroupHistoryPage): void {
    const chat = this.chat(chatKey('group', group));
    for (const item of page.entries) this.addGroupItem(chat, item);
    const { nextBefore, nextBeforeGseq } = page;
    if (nextBeforeGseq !== undefined) chat.large = true;
    this.pageLoaded(chat, nextBeforeGseq != null ? { beforeGseq: nextBeforeGseq } : nextBefore === null ? null : { before: nextBefore });
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
    if (!own) this.incoming(chat, message.gseq, known);
    this.emit('changed', { key: chat.key });
  }

  /**
   * An entry of a large group's log (`group_log_entry`, read diffusion: no mailbox seq): a
   * message, a system event, or an update of a message shown.
   */
  addLogEntry(group: string, entry: GroupEntry): void {
    const chat = this.chat(chatKey('group', group));
    chat.large = true;
    if (entry.type === 'event') this.addEvent(chat, entry.event, null);
    else if (entry.type === 'update') this.updateQuietly(entry.update.message);
    else {
      const { message } = entry;
      const own = message.from === this.me;
      const known = this.byMessageId.has(message.id);
      this.upsertMessage(chat, { ...fromMessage(message), seq: null, tick: own ? 'sent' : null });
      if (!own) this.incoming(chat, message.gseq, known);
    }
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
    // A group message has its place (gseq) now, before its copy arrives.
    if (ack.type === 'group_sent' && item.gseq === null) {
      item.gseq = ack.gseq;
      place(located.chat, item);
    }
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

  /**
   * Another device read a group: up to mailbox seq `upTo` and, for a large group's log, up to
   * `gseq` (what loaded entries the mailbox seq reaches decides the gseq of the copied part).
   */
  markGroupRead(group: string, upTo: number, gseq: number | undefined): void {
    const key = chatKey('group', group);
    this.markRead(key, Math.max(gseq ?? 0, gseqThroughSeq(this.chat(key), upTo)));
  }

  /** This or another device read chat `key` up to place `upTo` (a mailbox seq in 1:1 chats, a gseq in groups). */
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

  private pageLoaded(chat: Chat, older: HistoryCursor | null): void {
    // Pages come newest first and then ever older: the latest page's cursor is the one to follow.
    chat.older = older;
    chat.history = 'idle';
    this.emit('changed', { key: chat.key });
  }
}
