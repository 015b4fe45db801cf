/**
 * Pure functions over one chat's items, which the store keeps in mailbox order: a new empty chat,
 * inserting by seq, the newest seqs a read marker needs, unread counting, whether a group event
 * changes the user's own membership, the bubble of a message still being sent, and building or
 * refreshing an item from the server's copy. They mutate only the chat or item they are given and
 * emit nothing (chat-store.ts finds the items and decides when a change is told).
 */
import type { OutboxEntry } from '../../client/index.ts';
import type { GroupEvent } from '../../protocol/index.ts';
import { furthest, parseChatKey, pickExtras, quoteOf, type Chat, type ChatItem, type MessageInput, type MessageItem, type Tick } from './chat-items.ts';

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
    left: false,
    markedUnread: false,
  };
}

/** Insert by seq; items without a seq stay at the end. */
export function insertBySeq(chat: Chat, item: ChatItem): void {
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

/** Highest mailbox seq in a chat (0 when none). */
export function newestSeq(chat: Chat): number {
  for (let i = chat.items.length - 1; i >= 0; i--) {
    const seq = chat.items[i]?.seq;
    if (seq !== null && seq !== undefined) return seq;
  }
  return 0;
}

/** Highest seq of a message from someone else (0 when none): what a read marker must cover. */
export function newestIncomingSeq(chat: Chat): number {
  for (let i = chat.items.length - 1; i >= 0; i--) {
    const item = chat.items[i];
    if (item?.type === 'message' && !item.own && item.seq !== null) return item.seq;
  }
  return 0;
}

/** Others' messages in memory after `after`. */
export function countUnread(chat: Chat, after: number): number {
  return chat.items.filter((i) => i.type === 'message' && !i.own && i.seq !== null && i.seq > after).length;
}

/**
 * Follow a group event (already inserted at `seq`) that may add or remove the user `me`: only the
 * newest such event decides, so an older one loaded with a history page changes nothing.
 */
export function applyMembership(chat: Chat, event: GroupEvent, seq: number, me: string): void {
  if (seq < newestMembershipSeq(chat, me)) return;
  const change = event.change;
  if ((change.kind === 'member_removed' || change.kind === 'member_left') && change.member === me) chat.left = true;
  if (change.kind === 'members_added' && change.members.includes(me)) chat.left = false;
  if (change.kind === 'member_joined' && change.member === me) chat.left = false;
  if (change.kind === 'created' && event.by === me) chat.left = false;
}

function newestMembershipSeq(chat: Chat, me: string): number {
  let newest = 0;
  for (const item of chat.items) {
    if (item.type !== 'event') continue;
    const c = item.event.change;
    const mine =
      ((c.kind === 'member_removed' || c.kind === 'member_left') && c.member === me) ||
      (c.kind === 'members_added' && c.members.includes(me)) ||
      (c.kind === 'member_joined' && c.member === me);
    if (mine && item.seq > newest) newest = item.seq;
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
  if (input.seq !== null && item.seq !== input.seq) {
    // It got its place in the mailbox (its copy arrived): move it there.
    const index = chat.items.indexOf(item);
    if (index >= 0) chat.items.splice(index, 1);
    item.seq = input.seq;
    insertBySeq(chat, item);
  }
}
