/**
 * The chat model the store keeps and the views draw: chats, their items (messages with ticks,
 * quotes, reactions, edits and tombstones; group events), chat keys, and the pure functions that
 * build items from the server's messages. No state and no DOM here (chat-store.ts holds the state).
 */
import type { GroupMessage, GroupTally, Message, MessageStatus } from '../../client/index.ts';
import { QUOTE_SNIPPET_MAX, UlidSchema, isMediaBody } from '../../protocol/index.ts';
import type { ChatRef, GroupEvent, Quote, Reaction, StoredBody } from '../../protocol/index.ts';
import { bodyText } from './format.ts';

export type ChatKind = 'direct' | 'group';

/** What a message of one's own shows: a clock, one tick, two ticks, two blue ticks, or an alert. */
export type Tick = 'pending' | MessageStatus | 'failed';

const TICK_RANK: Record<Tick, number> = { failed: -1, pending: 0, sent: 1, delivered: 2, read: 3 };

export interface MessageItem {
  type: 'message';
  /** Stable key for the DOM: `c:<clientId>` for one's own messages, `m:<id>` for others'. */
  key: string;
  /**
   * Mailbox seq; null while the message is pending (or sent but its copy has not arrived yet),
   * and for an entry of a large group's log (read diffusion: no copy in the mailbox).
   */
  seq: number | null;
  /** Group messages: position in the group's log (what orders a group chat); null for 1:1 and while pending. */
  gseq: number | null;
  /** Server message id, once known. */
  id: string | null;
  clientId: string;
  from: string;
  own: boolean;
  /** Server time (client time while pending), ms since the epoch. */
  at: number;
  /** What was sent (possibly edited), or a tombstone (`kind: 'deleted'`). */
  body: StoredBody;
  /** Own messages only. */
  tick: Tick | null;
  /** Why a send failed for good (own messages with tick 'failed'). */
  error: string | null;
  /** The message this one answers. */
  replyTo: Quote | null;
  /** Forward hops (0: not forwarded). */
  forwarded: number;
  /** When it was last edited (null: never). */
  editedAt: number | null;
  /** One per user, oldest first. */
  reactions: readonly Reaction[];
  /** Starred by the user (their devices only). */
  starred: boolean;
  /** Changes made to this copy: of two copies the higher is the newer (0: none). */
  rev: number;
  /** The server's copy as last received (null while pending): what a forward repeats. */
  source: Message | GroupMessage | null;
}

export interface EventItem {
  type: 'event';
  key: string;
  /** Mailbox seq; null for an event of a large group's log. */
  seq: number | null;
  /** `event.gseq`: its place in the group chat. */
  gseq: number;
  event: GroupEvent;
}

export type ChatItem = MessageItem | EventItem;

/**
 * A history page's cursor: a mailbox seq, or (a large group's log part, read before the
 * mailbox's copy below it) a gseq. Spread into the history request's options.
 */
export type HistoryCursor = { before: number } | { beforeGseq: number };

/**
 * An item's place in its chat: a group's entries are ordered by gseq (the one order every member
 * sees, whether an entry came through the mailbox or from a large group's log), 1:1 messages by
 * mailbox seq. Null: no place yet (a send still pending), shown after the others.
 */
export function orderOf(item: ChatItem): number | null {
  return item.gseq ?? item.seq;
}

/** When an item happened (server time; a pending send's client time), ms since the epoch. */
export function timeOf(item: ChatItem): number {
  return item.type === 'message' ? item.at : item.event.at;
}

export interface Chat {
  /** `d:<userId>` or `g:<groupId>`. */
  key: string;
  kind: ChatKind;
  /** The peer's user id, or the group id. */
  id: string;
  /** In order (see `orderOf`); items without a place yet (pending sends) follow. */
  items: ChatItem[];
  /** Where the next older history page starts: undefined until the newest page loaded, null at the start. */
  older: HistoryCursor | null | undefined;
  /** History loading state, for the view's top row. */
  history: 'idle' | 'loading' | 'error';
  unread: number;
  /**
   * The server's unread count (chat list) covers messages up to this place (see `orderOf`): a
   * live copy of one of them (redelivered after a reload) must not be counted again.
   */
  unreadCountedUpTo: number;
  /** Highest place marked read (by this or another device): a mailbox seq in 1:1 chats, a gseq in groups. */
  readUpTo: number;
  /**
   * Groups delivered by read diffusion (large groups): entries after the switch come from the
   * group's log (no mailbox seq) and are read by gseq.
   */
  large: boolean;
  /** Groups: the user is no longer a member. */
  left: boolean;
  /** The user marked the chat unread ("mark as unread", synced across devices); reading it clears the mark. */
  markedUnread: boolean;
}

export function chatKey(kind: ChatKind, id: string): string {
  return `${kind === 'direct' ? 'd' : 'g'}:${id}`;
}

/** The protocol's name for a chat (actions, markers). */
export function chatRef(chat: Pick<Chat, 'kind' | 'id'>): ChatRef {
  return chat.kind === 'direct' ? { kind: 'direct', peer: chat.id } : { kind: 'group', group: chat.id };
}

/** The store's key of a protocol chat reference. */
export function keyOfRef(ref: ChatRef): string {
  return ref.kind === 'direct' ? chatKey('direct', ref.peer) : chatKey('group', ref.group);
}

/** The kind and id in a chat key, or null for anything else (e.g. a hand-edited URL). */
export function parseChatKey(key: string): { kind: ChatKind; id: string } | null {
  const match = /^([dg]):(.+)$/.exec(key);
  if (match === null || !UlidSchema.safeParse(match[2]).success) return null;
  return { kind: match[1] === 'd' ? 'direct' : 'group', id: match[2] ?? '' };
}

/** The furthest tick of a group message: read / delivered once every recipient has it. */
export function tickFromTally(tally: GroupTally): Tick {
  if (tally.of === 0) return 'sent';
  if (tally.read >= tally.of) return 'read';
  if (tally.delivered >= tally.of) return 'delivered';
  return 'sent';
}

export function furthest(a: Tick | null, b: Tick | null | undefined): Tick | null {
  if (b === null || b === undefined) return a;
  if (a === null) return b;
  return TICK_RANK[b] > TICK_RANK[a] ? b : a;
}

/** What a stored message carries besides who sent what when. */
export type Extras = Pick<MessageItem, 'replyTo' | 'forwarded' | 'editedAt' | 'reactions' | 'starred' | 'rev' | 'source'>;

export interface MessageInput extends Extras {
  id: string;
  clientId: string;
  seq: number | null;
  gseq: number | null;
  from: string;
  at: number;
  body: StoredBody;
  tick: Tick | null;
}

export function fromMessage(message: Message | GroupMessage): Omit<MessageInput, 'seq' | 'tick'> {
  const gseq = 'gseq' in message ? message.gseq : null;
  return { id: message.id, clientId: message.clientId, gseq, from: message.from, at: message.sentAt, body: message.body, ...extrasOf(message) };
}

export function extrasOf(message: Message | GroupMessage): Extras {
  return {
    replyTo: message.replyTo ?? null,
    forwarded: message.forwarded ?? 0,
    editedAt: message.editedAt ?? null,
    reactions: message.reactions ?? [],
    starred: message.starred === true,
    rev: message.rev ?? 0,
    source: message,
  };
}

export function pickExtras(input: Extras): Extras {
  const { replyTo, forwarded, editedAt, reactions, starred, rev, source } = input;
  return { replyTo, forwarded, editedAt, reactions, starred, rev, source };
}

export function isDeletedForMe(body: StoredBody): boolean {
  return body.kind === 'deleted' && body.scope === 'me';
}

/** The quote a reply to `item` carries (the server stores its own copy; this one shows while pending). */
export function quoteOf(item: MessageItem): Quote | null {
  const body = item.body;
  if (item.id === null || body.kind === 'deleted') return null;
  const snippet = isMediaBody(body) ? (body.caption ?? (body.kind === 'document' ? (body.fileName ?? '') : '')) : body.kind === 'text' ? body.text : bodyText(body);
  return { id: item.id, from: item.from, kind: body.kind, snippet: snippet.slice(0, QUOTE_SNIPPET_MAX) };
}

/** Whether a body is a tombstone ("This message was deleted"). */
export function isDeleted(body: StoredBody): body is Extract<StoredBody, { kind: 'deleted' }> {
  return body.kind === 'deleted';
}

/** When the newest item of a chat is still pending: when it was written (else 0). */
function pendingSince(chat: Chat): number {
  const last = chat.items[chat.items.length - 1];
  return last !== undefined && orderOf(last) === null ? timeOf(last) : 0;
}

/**
 * Newer activity compares greater: a pending message beats anything placed; then the time of the
 * newest item (a large group's log entries have no mailbox seq to compare, and the server places
 * those chats by time too), then its mailbox seq.
 */
export function compareActivity(a: Chat, b: Chat): number {
  const pending = pendingSince(a) - pendingSince(b);
  if (pending !== 0) return pending;
  const lastA = a.items[a.items.length - 1];
  const lastB = b.items[b.items.length - 1];
  const time = (lastA === undefined ? 0 : timeOf(lastA)) - (lastB === undefined ? 0 : timeOf(lastB));
  if (time !== 0) return time;
  return (lastA?.seq ?? 0) - (lastB?.seq ?? 0);
}
