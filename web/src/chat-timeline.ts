/**
 * Pure functions over one chat's items, which the store keeps in order (`orderOf`: mailbox seq in
 * 1:1 chats, gseq in groups): a new empty chat, inserting in order, the newest places a read
 * marker needs, unread counting, whether a group event
 * changes the user's own membership, the bubble of a message still being sent, and building or
 * refreshing an item from the server's copy. They mutate only the chat or item they are given and
 * emit nothing (chat-store.ts finds the items and decides when a change is told).
 */
import type { OutboxEntry } from '../../client/index.ts';
import type { GroupEvent } from '../../protocol/index.ts';
import { furthest, orderOf, parseChatKey, pickExtras, quoteOf, type Chat, type ChatItem, type MessageInput, type MessageItem, type Tick } from './chat-items.ts';

/** A chat with nothing loaded yet; throws for anything that is not a chat key (a bug, not input). */
export function emptyChat(key: string): Chat {
  const parsed = parseChatKey(key);
  if (parsed === null) throw new Error(`not a chat key: ${key}`);
  return {
    key,
    kind: parsed.kind,
    id: parsed.id,
    items: [],
    older: undefined,
    history: 'idle',
    unread: 0,
    unreadCountedUpTo: 0,
    readUpTo: 0,
    large: false,
    left: false,
    markedUnread: false,
  };
}

/** Insert in order (`orderOf`); items without a place stay at the end. */
export function insertInOrder(chat: Chat, item: ChatItem): void {
  const items = chat.items;
  const place = orderOf(item);
  if (place === null) {
    items.push(item);
    return;
  }
  let i = items.length;
  while (i > 0) {
    const previous = items[i - 1];
    const before = previous === undefined ? null : orderOf(previous);
    if (before !== null && before < place) break;
    i -= 1;
  }
  items.splice(i, 0, item);
}

/** Highest place (`orderOf`) in a chat (0 when none). */
export function newestPlace(chat: Chat): number {
  for (let i = chat.items.length - 1; i >= 0; i--) {
    const item = chat.items[i];
    const place = item === undefined ? null : orderOf(item);
    if (place !== null) return place;
  }
  return 0;
}

/** Highest place of a message from someone else (0 when none): what a read marker must cover. */
export function newestIncomingPlace(chat: Chat): number {
  for (let i = chat.items.length - 1; i >= 0; i--) {
    const item = chat.items[i];
    const place = item === undefined ? null : orderOf(item);
    if (item?.type === 'message' && !item.own && place !== null) return place;
  }
  return 0;
}

/**
 * The place (gseq) a group's read marker by mailbox seq `upTo` reaches: the newest loaded entry
 * with a mailbox seq up to it (0 when none is loaded).
 */
export function gseqThroughSeq(chat: Chat, upTo: number): number {
  let through = 0;
  for (const item of chat.items) {
    if (item.seq !== null && item.seq <= upTo && item.gseq !== null) through = Math.max(through, item.gseq);
  }
  return through;
}

/** Highest mailbox seq in a chat (0 when none). */
export function newestSeq(chat: Chat): number {
  for (let i = chat.items.length - 1; i >= 0; i--) {
    const seq = chat.items[i]?.seq;
    if (seq !== null && seq !== undefined) return seq;
  }
  return 0;
}

/** Others' messages in memory placed after `after`. */
export function countUnread(chat: Chat, after: number): number {
  return chat.items.filter((i) => {
    const place = orderOf(i);
    return i.type === 'message' && !i.own && place !== null && place > after;
  }).length;
}

/**
 * Follow a group event (already inserted) that may add or remove the user `me`: only the newest
 * such event decides, so an older one loaded with a history page changes nothing.
 */
export function applyMembership(chat: Chat, event: GroupEvent, me: string): void {
  if (event.gseq < newestMembershipGseq(chat, me)) return;
  const change = event.change;
  if ((change.kind === 'member_removed' || change.kind === 'member_left') && change.member === me) chat.left = true;
  if (change.kind === 'members_added' && change.members.includes(me)) chat.left = false;
  if (change.kind === 'member_joined' && change.member === me) chat.left = false;
  if (change.kind === 'created' && event.by === me) chat.left = false;
}

function newestMembershipGseq(chat: Chat, me: string): number {
  let newest = 0;
  for (const item of chat.items) {
    if (item.type !== 'event') continue;
    const c = item.event.change;
    const mine =
      ((c.kind === 'member_removed' || c.kind === 'member_left') && c.member === me) ||
      (c.kind === 'members_added' && c.members.includes(me)) ||
      (c.kind === 'member_joined' && c.member === me);
    if (mine && item.gseq > newest) newest = item.gseq;
  }
  return newest;
}

/**
 * The bubble of one's own message before the server has it: pending, with the quote of the
 * message it replies to and the hop count of a forward as far as the store has those messages
 * (`quoted`, `forwardOf`); the server's copy later brings its own.
 */
export function pendingItem(entry: OutboxEntry, me: string, quoted: MessageItem | undefined, forwardOf: MessageItem | undefined): MessageItem {
  return {
    type: 'message',
    key: `c:${entry.clientId}`,
    seq: null,
    gseq: null,
    id: null,
    clientId: entry.clientId,
    from: me,
    own: true,
    at: entry.createdAt,
    body: entry.body,
    tick: 'pending',
    error: null,
    replyTo: quoted === undefined ? null : quoteOf(quoted),
    forwarded: entry.forward === undefined ? 0 : (forwardOf?.forwarded ?? 0) + 1,
    editedAt: null,
    reactions: [],
    starred: false,
    rev: 0,
    source: null,
  };
}

/** The item of a server copy not loaded before (`remembered`: a tick a receipt brought before it). */
export function receivedItem(input: MessageInput, own: boolean, remembered: Tick | undefined): MessageItem {
  return {
    type: 'message',
    key: own ? `c:${input.clientId}` : `m:${input.id}`,
    seq: input.seq,
    gseq: input.gseq,
    id: input.id,
    clientId: input.clientId,
    from: input.from,
    own,
    at: input.at,
    body: input.body,
    tick: own ? furthest(input.tick, remembered) : null,
    error: null,
    ...pickExtras(input),
  };
}

/** Bring a loaded item (in `chat`) up to date with a copy of it: the server's, or a newer update. */
export function mergeCopy(chat: Chat, item: MessageItem, input: MessageInput, own: boolean): void {
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
  const seq = input.seq ?? item.seq;
  const gseq = input.gseq ?? item.gseq;
  if (seq !== item.seq || gseq !== item.gseq) {
    // It got its place (its copy arrived, from the mailbox or a large group's log): move it there.
    item.seq = seq;
    item.gseq = gseq;
    place(chat, item);
  }
}

/** Put an item (already in `chat`, or not) where its place (`orderOf`) now says. */
export function place(chat: Chat, item: ChatItem): void {
  const index = chat.items.indexOf(item);
  if (index >= 0) chat.items.splice(index, 1);
  insertInOrder(chat, item);
}
