/**
 * What the outbox (outbox.ts) holds: unconfirmed sends and message actions, as plain JSON a
 * store can persist, with the frames that (re)send them, what confirms them, and how entries
 * read back from a store are checked.
 */
import { ActionSchema, ChatRefSchema, ClientIdSchema, GroupIdSchema, MessageBodySchema, MessageIdSchema, UserIdSchema } from '../protocol/index.ts';
import type {
  Action,
  ActedFrame,
  ActionFrame,
  ChatRef,
  GroupSendFrame,
  GroupSentFrame,
  MessageBody,
  SendFrame,
  SentFrame,
} from '../protocol/index.ts';

interface OutboxEntryBase {
  /** Client-generated id, [A-Za-z0-9_-]{1,64}; reused verbatim for every resend. */
  clientId: string;
  body: MessageBody;
  /** When the user sent it, ms since the epoch (display only; order is the array order). */
  createdAt: number;
  /** A reply: the server id of the quoted message (same chat). Resent as is: the server's idempotency compares it. */
  replyTo?: string;
  /** A forward: the server id of the message whose body this repeats. Resent as is, like `replyTo`. */
  forward?: string;
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

/**
 * One unconfirmed message action (react, edit, delete, star): kept, resent and confirmed like a
 * send, in the same queue, so actions and sends keep their relative order.
 */
export interface ActionOutboxEntry {
  clientId: string;
  /** The chat of the message acted on. */
  chat: ChatRef;
  /** The server id of the message acted on. */
  target: string;
  action: Action;
  createdAt: number;
}

/** Anything the outbox holds: a send or an action (narrow with {@link isActionEntry}). */
export type OutboxRecord = OutboxEntry | ActionOutboxEntry;

/** The server's confirmation of a send: `sent` for a 1:1 entry, `group_sent` for a group entry. */
export type SendAck = SentFrame | GroupSentFrame;

/** What settles an outbox record: a send's `sent` / `group_sent`, an action's `acted`. */
export type OutboxAnswer = SendAck | ActedFrame;

/** Whether `record` is an action (else a send). */
export function isActionEntry(record: OutboxRecord): record is ActionOutboxEntry {
  return 'action' in record;
}

/**
 * The frame that (re)sends `entry`: `send` for a 1:1 entry, `group_send` for a group entry, always
 * with the entry's own client id (and its `replyTo` / `forward`).
 *
 * @example
 * for (const entry of outbox.pending()) connection.send(sendFrameFor(entry));
 */
export function sendFrameFor(entry: OutboxEntry): SendFrame | GroupSendFrame {
  const refs = {
    ...(entry.replyTo === undefined ? {} : { replyTo: entry.replyTo }),
    ...(entry.forward === undefined ? {} : { forward: entry.forward }),
  };
  if (entry.group !== undefined) return { type: 'group_send', id: entry.clientId, group: entry.group, body: entry.body, ...refs };
  return { type: 'send', id: entry.clientId, to: entry.to, body: entry.body, ...refs };
}

/** The frame that (re)sends any outbox record: a send frame, or an `action` frame with the record's client id. */
export function frameFor(record: OutboxRecord): SendFrame | GroupSendFrame | ActionFrame {
  if (!isActionEntry(record)) return sendFrameFor(record);
  return { type: 'action', id: record.clientId, chat: record.chat, target: record.target, action: record.action };
}

/** Whether two chat references name the same chat. */
export function sameChat(a: ChatRef, b: ChatRef): boolean {
  return a.kind === 'direct' ? b.kind === 'direct' && a.peer === b.peer : b.kind === 'group' && a.group === b.group;
}

/** Whether `answer` confirms `record`: the same kind of frame, for the same recipient, group or message. */
export function answerMatches(record: OutboxRecord, answer: OutboxAnswer): boolean {
  if (isActionEntry(record)) return answer.type === 'acted' && answer.target === record.target && sameChat(answer.chat, record.chat);
  if (answer.type === 'acted') return false;
  return answer.type === 'group_sent' ? record.group === answer.group : record.to === answer.to;
}

/** Whether two records are the same request (used to refuse reusing a pending client id for another one). */
export function sameRequest(a: OutboxRecord, b: OutboxRecord): boolean {
  if (isActionEntry(a) || isActionEntry(b)) {
    // Same content too: the server would answer another action under a reused id with id_conflict anyway.
    return isActionEntry(a) && isActionEntry(b) && a.target === b.target && sameChat(a.chat, b.chat) && JSON.stringify(a.action) === JSON.stringify(b.action);
  }
  return a.to === b.to && a.group === b.group;
}

/** A copy holding only the fields of its kind (stored data may carry anything else). */
export function copyRecord(record: OutboxRecord): OutboxRecord {
  if (isActionEntry(record)) {
    const { clientId, chat, target, action, createdAt } = record;
    return { clientId, chat, target, action, createdAt };
  }
  return copyEntry(record);
}

/** A copy of a send entry holding only its own fields. */
export function copyEntry(entry: OutboxEntry): OutboxEntry {
  const { clientId, body, createdAt } = entry;
  const refs = {
    ...(entry.replyTo === undefined ? {} : { replyTo: entry.replyTo }),
    ...(entry.forward === undefined ? {} : { forward: entry.forward }),
  };
  return entry.group !== undefined
    ? { clientId, group: entry.group, body, createdAt, ...refs }
    : { clientId, to: entry.to, body, createdAt, ...refs };
}

/** A stored record is usable when its fields are valid and (a send) it names exactly one target. */
export function isValidRecord(value: unknown): value is OutboxRecord {
  if (typeof value !== 'object' || value === null) return false;
  const entry = value as Record<string, unknown>;
  if (!ClientIdSchema.safeParse(entry.clientId).success || typeof entry.createdAt !== 'number') return false;
  if ('action' in entry) {
    return (
      ActionSchema.safeParse(entry.action).success &&
      ChatRefSchema.safeParse(entry.chat).success &&
      MessageIdSchema.safeParse(entry.target).success
    );
  }
  const target =
    entry.group === undefined
      ? UserIdSchema.safeParse(entry.to).success
      : entry.to === undefined && GroupIdSchema.safeParse(entry.group).success;
  const ref = (field: unknown): boolean => field === undefined || MessageIdSchema.safeParse(field).success;
  return target && MessageBodySchema.safeParse(entry.body).success && ref(entry.replyTo) && ref(entry.forward);
}
