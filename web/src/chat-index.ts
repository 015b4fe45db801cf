/**
 * The chat store's index and merging rules (chat-store.ts is the API the app feeds and reads):
 * the chats by key, loaded messages by server id and one's own by client id, the events shown,
 * ticks and updates that came before their message; and how one copy of a message or event is
 * taken in (inserted at its place, or merged into the item already shown). Emits nothing itself.
 */
import { Emitter } from '../../client/index.ts';
import type { GroupEvent, GroupHistoryItem, GroupMessage, HistoryItem, Message } from '../../client/index.ts';
import { extrasOf, fromMessage, furthest, isDeletedForMe, tickFromTally, type Chat, type MessageInput, type MessageItem, type Tick } from './chat-items.ts';
import { applyMembership, emptyChat, insertInOrder, mergeCopy, receivedItem } from './chat-timeline.ts';
import { LateUpdates, TickMemory } from './message-memory.ts';

export interface StoreEvents {
  /** Something changed in chat `key` (null: possibly everything). */
  changed: { key: string | null };
}

export interface Located {
  chat: Chat;
  item: MessageItem;
}

export abstract class ChatIndex extends Emitter<StoreEvents> {
  readonly me: string;
  protected readonly chats = new Map<string, Chat>();
  protected readonly byMessageId = new Map<string, Located>();
  /** Own messages by `<chat key>|<client id>`. */
  protected readonly byClientId = new Map<string, Located>();
  protected readonly eventIds = new Set<string>();
  protected readonly ticks = new TickMemory();
  protected readonly late = new LateUpdates();

  constructor(me: string) {
    super();
    this.me = me;
  }

  /** The chat with this key, created empty if it does not exist yet. */
  chat(key: string): Chat {
    let chat = this.chats.get(key);
    if (chat === undefined) {
      chat = emptyChat(key);
      this.chats.set(key, chat);
    }
    return chat;
  }

  protected addDirectItem(chat: Chat, item: HistoryItem): void {
    const own = item.message.from === this.me;
    this.upsertMessage(chat, { ...fromMessage(item.message), seq: item.seq, tick: own ? item.status : null });
  }

  /** A group history item: copied into the mailbox (`seq`), or from a large group's log (`seq` null). */
  protected addGroupItem(chat: Chat, item: GroupHistoryItem): void {
    if (item.seq === null) chat.large = true;
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

  protected addEvent(chat: Chat, event: GroupEvent, seq: number | null): void {
    if (event.change.kind === 'delivery_changed') chat.large = true;
    if (this.eventIds.has(event.id)) return;
    this.eventIds.add(event.id);
    insertInOrder(chat, { type: 'event', key: `e:${event.id}`, seq, gseq: event.gseq, event });
    applyMembership(chat, event, this.me);
  }

  protected upsertMessage(chat: Chat, given: MessageInput): MessageItem | null {
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
    insertInOrder(chat, item);
    this.byMessageId.set(input.id, { chat, item });
    if (own) this.byClientId.set(ref, { chat, item });
    return item;
  }

  /** Apply an update without emitting; returns the key of the chat it changed (null: none, or kept for later). */
  protected updateQuietly(message: Message | GroupMessage): string | null {
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

  protected remove(located: Located, ref: string): void {
    const index = located.chat.items.indexOf(located.item);
    if (index >= 0) located.chat.items.splice(index, 1);
    if (located.item.id !== null) this.byMessageId.delete(located.item.id);
    if (located.item.own) this.byClientId.delete(ref);
  }

  /** Someone else's message arrived live (at place `at`): it may be unread. */
  protected incoming(chat: Chat, at: number, alreadyKnown: boolean): void {
    if (!alreadyKnown && at > chat.readUpTo && at > chat.unreadCountedUpTo) chat.unread += 1;
  }

  /** Raise the tick of message `id`; returns the chat key it is in, or null when it is not loaded. */
  protected raiseTick(id: string, tick: Tick): string | null {
    this.ticks.raise(id, tick);
    const located = this.byMessageId.get(id);
    if (located === undefined || !located.item.own) return null;
    const next = furthest(located.item.tick, tick);
    if (next === located.item.tick) return null;
    located.item.tick = next;
    return located.chat.key;
  }
}
