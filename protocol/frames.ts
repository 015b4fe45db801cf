/**
 * WebSocket frames, both directions. Every frame is one JSON text message with a `type`
 * discriminator. `parseClientFrame` is the only way the server reads a frame; `parseServerFrame`
 * the only way a client does.
 *
 * Mailbox frames (`message`, `receipt`, `read_marker`, and for groups `group_message`,
 * `group_event`, `group_receipt`, `group_read_marker`) carry `seq`: the entry's position in the
 * receiving user's mailbox. Seqs reach a connection contiguously (n, n+1, ...); a device acks
 * the highest seq it has processed and resumes from it after a reconnect.
 */
import { z } from 'zod';
import { AccountEventSchema } from './account.ts';
import { ERROR_CODES } from './errors.ts';
import { GROUP_TALLY_MAX, MAX_FRAME_BYTES, PRESENCE_WATCH_MAX, RECEIPT_MAX_IDS } from './limits.ts';
import { GroupEventSchema, GroupIdSchema, GroupMessageSchema, GroupSeqSchema, GroupTallySchema } from './groups.ts';
import { GroupEntriesFrameSchema, GroupHeadsFrameSchema, GroupLiveFrameSchema, GroupPullFrameSchema } from './large-groups.ts';
import {
  ActionSchema,
  ActionSummarySchema,
  ChatRefSchema,
  ClientIdSchema,
  MessageBodySchema,
  MessageIdSchema,
  MessageSchema,
  SeqSchema,
  UserIdSchema,
  DeviceIdSchema,
} from './messages.ts';

// ---------------------------------------------------------------- client -> server

/** Send a 1:1 message. Answered by `sent` (stored durably) or `error` with the same `id`. */
export const SendFrameSchema = z.strictObject({
  type: z.literal('send'),
  /** Client-generated id; resending the same id never stores or delivers twice. */
  id: ClientIdSchema,
  to: UserIdSchema,
  body: MessageBodySchema,
  /** Reply: the id of a message of this chat to quote (the server copies its snippet into `replyTo`). */
  replyTo: MessageIdSchema.optional(),
  /**
   * Forward: the id of a message you have (any chat) whose body this repeats exactly; its media
   * is reused without an upload, and the copy is marked `forwarded` (one hop more than it had).
   */
  forward: MessageIdSchema.optional(),
});

/** "I have processed every mailbox entry up to and including `upTo`." Drives delivered ticks. */
export const AckFrameSchema = z.strictObject({
  type: z.literal('ack'),
  upTo: SeqSchema,
});

/** "I have read the messages from `peer` up to mailbox seq `upTo`." Drives read ticks. */
export const ReadFrameSchema = z.strictObject({
  type: z.literal('read'),
  peer: UserIdSchema,
  upTo: SeqSchema,
});

/** Ask the server to (re)send mailbox entries after `after` (gap repair). */
export const ResumeFrameSchema = z.strictObject({
  type: z.literal('resume'),
  after: SeqSchema,
});

/**
 * Send a message to a group. Answered by `group_sent` (stored in the group's log) or `error`
 * with the same `id`. Idempotent per (group, sender, id).
 */
export const GroupSendFrameSchema = z.strictObject({
  type: z.literal('group_send'),
  id: ClientIdSchema,
  group: GroupIdSchema,
  body: MessageBodySchema,
  /** As in `send`: a message of this group to quote. */
  replyTo: MessageIdSchema.optional(),
  /** As in `send`: a message you have whose body this forwards. */
  forward: MessageIdSchema.optional(),
});

/**
 * An action on a message of `chat` (react, edit, delete, star: see ActionSchema). Answered by
 * `acted` once it is stored, or `error` with the same `id`. Idempotent per client id, like a send;
 * every device of the chat's members then gets the changed message as an update entry.
 */
export const ActionFrameSchema = z.strictObject({
  type: z.literal('action'),
  id: ClientIdSchema,
  chat: ChatRefSchema,
  /** The message acted on (its server id). */
  target: MessageIdSchema,
  action: ActionSchema,
});

/**
 * Mark a chat unread (`unread: true`, the dot in the chat list) or clear that mark without reading.
 * Reading the chat clears it too. Synced to your other devices by a `chat_marker` entry.
 */
export const MarkUnreadFrameSchema = z.strictObject({
  type: z.literal('mark_unread'),
  chat: ChatRefSchema,
  unread: z.boolean(),
});

/**
 * "I have read the group's entries up to mailbox seq `upTo`" or, for a large group's log (whose
 * entries have no mailbox seq), "up to gseq `gseq`": exactly one of the two. Drives the senders'
 * read tallies.
 */
export const GroupReadFrameSchema = z.strictObject({
  type: z.literal('group_read'),
  group: GroupIdSchema,
  upTo: SeqSchema.optional(),
  gseq: GroupSeqSchema.optional(),
});

/** What a typing indicator shows. `stopped` clears it at once (otherwise it expires after TYPING_TTL_MS). */
export const TypingStateSchema = z.enum(['typing', 'recording', 'stopped']);
export type TypingState = z.infer<typeof TypingStateSchema>;

/** "I am typing to `to`." Ephemeral: relayed to the peer's connected devices, never stored. */
export const TypingFrameSchema = z.strictObject({
  type: z.literal('typing'),
  to: UserIdSchema,
  state: TypingStateSchema,
});

/** "I am typing in `group`." Ephemeral, relayed to members who are likely online. */
export const GroupTypingFrameSchema = z.strictObject({
  type: z.literal('group_typing'),
  group: GroupIdSchema,
  state: TypingStateSchema,
});

/**
 * "Show me these users' presence" (the chats this device has open). Replaces this connection's
 * previous list; `[]` stops watching. Answered by one `presence` frame per user at once and
 * another whenever one comes online or goes offline, while the connection lasts.
 */
export const PresenceWatchFrameSchema = z.strictObject({
  type: z.literal('presence_watch'),
  users: z.array(UserIdSchema).max(PRESENCE_WATCH_MAX),
});

/**
 * "The user is using the app now" (opened it, brought it to the foreground). Updates last seen,
 * like sending and reading do; background syncs never do.
 */
export const ActiveFrameSchema = z.strictObject({ type: z.literal('active') });

/** Heartbeat. Send exactly the string HEARTBEAT_PING so the runtime can answer without waking the object. */
export const PingFrameSchema = z.strictObject({ type: z.literal('ping') });

export const ClientFrameSchema = z.discriminatedUnion('type', [
  SendFrameSchema,
  AckFrameSchema,
  ReadFrameSchema,
  ResumeFrameSchema,
  PingFrameSchema,
  GroupSendFrameSchema,
  GroupReadFrameSchema,
  TypingFrameSchema,
  GroupTypingFrameSchema,
  PresenceWatchFrameSchema,
  ActiveFrameSchema,
  ActionFrameSchema,
  MarkUnreadFrameSchema,
  GroupPullFrameSchema,
]);
export type ClientFrame = z.infer<typeof ClientFrameSchema>;
export type SendFrame = z.infer<typeof SendFrameSchema>;
export type AckFrame = z.infer<typeof AckFrameSchema>;
export type ReadFrame = z.infer<typeof ReadFrameSchema>;
export type ResumeFrame = z.infer<typeof ResumeFrameSchema>;
export type GroupSendFrame = z.infer<typeof GroupSendFrameSchema>;
export type GroupReadFrame = z.infer<typeof GroupReadFrameSchema>;
export type TypingFrame = z.infer<typeof TypingFrameSchema>;
export type GroupTypingFrame = z.infer<typeof GroupTypingFrameSchema>;
export type PresenceWatchFrame = z.infer<typeof PresenceWatchFrameSchema>;
export type ActiveFrame = z.infer<typeof ActiveFrameSchema>;
export type ActionFrame = z.infer<typeof ActionFrameSchema>;
export type MarkUnreadFrame = z.infer<typeof MarkUnreadFrameSchema>;
export const CLIENT_FRAME_TYPES = [
  'send',
  'ack',
  'read',
  'resume',
  'ping',
  'group_send',
  'group_read',
  'typing',
  'group_typing',
  'presence_watch',
  'active',
  'action',
  'mark_unread',
  'group_pull',
] as const;

// ---------------------------------------------------------------- server -> client

/** First frame on every connection. */
export const HelloFrameSchema = z.strictObject({
  type: z.literal('hello'),
  userId: UserIdSchema,
  deviceId: DeviceIdSchema,
  /** The seq delivery starts after (your cursor, or the oldest kept entry if it expired). */
  cursor: SeqSchema,
  /** Highest seq in your mailbox right now; entries up to it follow unless you are caught up. */
  head: SeqSchema,
  serverTime: z.number().int(),
});

/** The message `id` (client id) was stored durably: one tick. Repeated verbatim for retries. */
export const SentFrameSchema = z.strictObject({
  type: z.literal('sent'),
  id: ClientIdSchema,
  messageId: MessageIdSchema,
  to: UserIdSchema,
  sentAt: z.number().int(),
  /** True when this id had been stored before (a retry). */
  duplicate: z.boolean(),
  /**
   * Both or neither. Present when this answer also carries the sender's own copy of the message,
   * the mailbox entry at `seq` (instead of a separate `message` frame on this connection): a
   * client processes it exactly like `{"type":"message","seq":seq,"message":message}`, then the
   * answer. Only on a connection that was caught up; never on a retry's answer.
   */
  seq: SeqSchema.optional(),
  message: MessageSchema.optional(),
}).refine((frame) => (frame.seq === undefined) === (frame.message === undefined), {
  message: 'seq and message come together',
  path: ['seq'],
});

/** A mailbox entry holding a message, incoming or sent by another of your devices (multi-device). */
export const MessageFrameSchema = z.strictObject({
  type: z.literal('message'),
  seq: SeqSchema,
  message: MessageSchema,
});

/** A mailbox entry telling a sender that `by` received (`delivered`) or read (`read`) messages. */
export const ReceiptFrameSchema = z.strictObject({
  type: z.literal('receipt'),
  seq: SeqSchema,
  status: z.enum(['delivered', 'read']),
  /** The recipient who received or read them. */
  by: UserIdSchema,
  messageIds: z.array(MessageIdSchema).min(1).max(RECEIPT_MAX_IDS),
  at: z.number().int(),
});

/** A mailbox entry telling your other devices that you read `peer`'s messages up to `upTo`. */
export const ReadMarkerFrameSchema = z.strictObject({
  type: z.literal('read_marker'),
  seq: SeqSchema,
  peer: UserIdSchema,
  upTo: SeqSchema,
  at: z.number().int(),
});

/** The group message `id` (client id) is stored in the group's log: one tick. Repeated verbatim for retries. */
export const GroupSentFrameSchema = z.strictObject({
  type: z.literal('group_sent'),
  id: ClientIdSchema,
  group: GroupIdSchema,
  messageId: MessageIdSchema,
  gseq: GroupSeqSchema,
  sentAt: z.number().int(),
  duplicate: z.boolean(),
});

/** The action `id` (client id) is stored: every copy it applies to has it. Repeated verbatim for retries. */
export const ActedFrameSchema = z.strictObject({
  type: z.literal('acted'),
  id: ClientIdSchema,
  chat: ChatRefSchema,
  target: MessageIdSchema,
  /** True when this id had been stored before (a retry). */
  duplicate: z.boolean(),
});

/**
 * A mailbox entry: a 1:1 message changed (someone reacted, the sender edited or deleted it, you
 * starred or deleted it for yourself on another device). `message` is the whole message as it is
 * now on your copy: replace yours when its `rev` is higher. It may name a message your device
 * does not have (older than what it loaded, or before its login): keep or ignore it.
 */
export const MessageUpdateFrameSchema = z.strictObject({
  type: z.literal('message_update'),
  seq: SeqSchema,
  by: UserIdSchema,
  action: ActionSummarySchema,
  at: z.number().int(),
  message: MessageSchema,
});

/**
 * A mailbox entry: a group message changed. `gseq` is the update's position in the group's log
 * (reactions, edits, deletions for everyone), or null for what only your devices see (star, delete
 * for me). `message` is the message as it is now on your copy.
 */
export const GroupMessageUpdateFrameSchema = z.strictObject({
  type: z.literal('group_message_update'),
  seq: SeqSchema,
  gseq: GroupSeqSchema.nullable(),
  by: UserIdSchema,
  action: ActionSummarySchema,
  at: z.number().int(),
  message: GroupMessageSchema,
});

/** A mailbox entry telling your devices a chat was marked unread (or the mark cleared). */
export const ChatMarkerFrameSchema = z.strictObject({
  type: z.literal('chat_marker'),
  seq: SeqSchema,
  chat: ChatRefSchema,
  unread: z.boolean(),
  at: z.number().int(),
});

/** A mailbox entry holding a group message (yours too, so your other devices see what you sent). */
export const GroupMessageFrameSchema = z.strictObject({
  type: z.literal('group_message'),
  seq: SeqSchema,
  message: GroupMessageSchema,
});

/** A mailbox entry holding a group system message ("Ann added Bob"), in log order with messages. */
export const GroupEventFrameSchema = z.strictObject({
  type: z.literal('group_event'),
  seq: SeqSchema,
  event: GroupEventSchema,
});

/** A mailbox entry for a sender: how many members have and have read some of your group messages. */
export const GroupReceiptFrameSchema = z.strictObject({
  type: z.literal('group_receipt'),
  seq: SeqSchema,
  group: GroupIdSchema,
  tallies: z.array(GroupTallySchema).min(1).max(GROUP_TALLY_MAX),
  at: z.number().int(),
});

/**
 * A mailbox entry telling your other devices that you read the group up to mailbox seq `upTo`
 * (0: nothing of it in your mailbox is newly read) and, when the read named a gseq (large
 * groups), up to gseq `gseq` of its log.
 */
export const GroupReadMarkerFrameSchema = z.strictObject({
  type: z.literal('group_read_marker'),
  seq: SeqSchema,
  group: GroupIdSchema,
  upTo: SeqSchema,
  gseq: GroupSeqSchema.optional(),
  at: z.number().int(),
});

/**
 * A mailbox entry: someone invited you to a group (they may not add you directly, see
 * `privacy.groups`). You receive nothing from the group unless you accept (`POST
 * /v1/invites/:groupId/accept`); `GET /v1/invites` lists the invites still pending. Invites from
 * someone you blocked never arrive.
 */
export const GroupInviteFrameSchema = z.strictObject({
  type: z.literal('group_invite'),
  seq: SeqSchema,
  group: GroupIdSchema,
  /** The group's title when you were invited. */
  title: z.string(),
  invitedBy: UserIdSchema,
  at: z.number().int(),
});

/** A mailbox entry about your account, for all your devices: a device logged in or was removed, the PIN changed. */
export const AccountEventFrameSchema = z.strictObject({
  type: z.literal('account_event'),
  seq: SeqSchema,
  event: AccountEventSchema,
  at: z.number().int(),
});

/** Someone is typing to you (`group` null) or in a group. Ephemeral: no seq, no ack, not stored. */
export const TypingNoticeFrameSchema = z.strictObject({
  type: z.literal('typing_notice'),
  from: UserIdSchema,
  group: GroupIdSchema.nullable(),
  state: TypingStateSchema,
  /** Hide the indicator after this long without another notice. */
  expiresInMs: z.number().int().min(0),
});

/**
 * A watched user's presence as you may see it: sent when you start watching and whenever they
 * come online or go offline. Ephemeral (no seq). Hidden presence reads `online: false, lastSeen: null`.
 */
export const PresenceFrameSchema = z.strictObject({
  type: z.literal('presence'),
  userId: UserIdSchema,
  online: z.boolean(),
  lastSeen: z.number().int().nullable(),
});

export const ErrorFrameSchema = z.strictObject({
  type: z.literal('error'),
  /** Client id of the `send`, `group_send` or `action` frame this answers, when there is one. */
  id: ClientIdSchema.nullable(),
  code: z.enum(ERROR_CODES),
  message: z.string(),
  retryable: z.boolean(),
  /** With `rate_limited`: wait this long, then the same frame can pass (resend it with the same id). */
  retryAfterMs: z.number().int().nonnegative().optional(),
  /**
   * The type of the client frame this error answers, when it answers one (frames without an id,
   * such as `presence_watch` or `resume`, can only be told apart by it).
   */
  frame: z.enum(CLIENT_FRAME_TYPES).optional(),
});

export const PongFrameSchema = z.strictObject({ type: z.literal('pong') });

export const MailboxFrameSchema = z.discriminatedUnion('type', [
  MessageFrameSchema,
  ReceiptFrameSchema,
  ReadMarkerFrameSchema,
  GroupMessageFrameSchema,
  GroupEventFrameSchema,
  GroupReceiptFrameSchema,
  GroupReadMarkerFrameSchema,
  GroupInviteFrameSchema,
  AccountEventFrameSchema,
  MessageUpdateFrameSchema,
  GroupMessageUpdateFrameSchema,
  ChatMarkerFrameSchema,
]);
export type MailboxFrame = z.infer<typeof MailboxFrameSchema>;

export const ServerFrameSchema = z.discriminatedUnion('type', [
  HelloFrameSchema,
  SentFrameSchema,
  MessageFrameSchema,
  ReceiptFrameSchema,
  ReadMarkerFrameSchema,
  GroupSentFrameSchema,
  GroupMessageFrameSchema,
  GroupEventFrameSchema,
  GroupReceiptFrameSchema,
  GroupReadMarkerFrameSchema,
  GroupInviteFrameSchema,
  AccountEventFrameSchema,
  MessageUpdateFrameSchema,
  GroupMessageUpdateFrameSchema,
  ChatMarkerFrameSchema,
  ActedFrameSchema,
  TypingNoticeFrameSchema,
  PresenceFrameSchema,
  ErrorFrameSchema,
  PongFrameSchema,
  GroupEntriesFrameSchema,
  GroupLiveFrameSchema,
  GroupHeadsFrameSchema,
]);
export type ServerFrame = z.infer<typeof ServerFrameSchema>;
export type HelloFrame = z.infer<typeof HelloFrameSchema>;
export type SentFrame = z.infer<typeof SentFrameSchema>;
export type MessageFrame = z.infer<typeof MessageFrameSchema>;
export type ReceiptFrame = z.infer<typeof ReceiptFrameSchema>;
export type ReadMarkerFrame = z.infer<typeof ReadMarkerFrameSchema>;
export type ErrorFrame = z.infer<typeof ErrorFrameSchema>;
export type GroupSentFrame = z.infer<typeof GroupSentFrameSchema>;
export type GroupMessageFrame = z.infer<typeof GroupMessageFrameSchema>;
export type GroupEventFrame = z.infer<typeof GroupEventFrameSchema>;
export type GroupReceiptFrame = z.infer<typeof GroupReceiptFrameSchema>;
export type GroupReadMarkerFrame = z.infer<typeof GroupReadMarkerFrameSchema>;
export type TypingNoticeFrame = z.infer<typeof TypingNoticeFrameSchema>;
export type PresenceFrame = z.infer<typeof PresenceFrameSchema>;
export type GroupInviteFrame = z.infer<typeof GroupInviteFrameSchema>;
export type AccountEventFrame = z.infer<typeof AccountEventFrameSchema>;
export type ActedFrame = z.infer<typeof ActedFrameSchema>;
export type MessageUpdateFrame = z.infer<typeof MessageUpdateFrameSchema>;
export type GroupMessageUpdateFrame = z.infer<typeof GroupMessageUpdateFrameSchema>;
export type ChatMarkerFrame = z.infer<typeof ChatMarkerFrameSchema>;

// ---------------------------------------------------------------- parsing

export type FrameParseError = {
  code: 'invalid_json' | 'validation_failed' | 'unknown_frame_type' | 'payload_too_large';
  message: string;
  /** The `id` field of the frame if one could be read, so the error can name the send it answers. */
  id: string | null;
};

export type ParseResult<T> = { ok: true; frame: T } | { ok: false; error: FrameParseError };

const encoder = new TextEncoder();

function readId(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || !('id' in value)) return null;
  const id = (value as { id: unknown }).id;
  return typeof id === 'string' && ClientIdSchema.safeParse(id).success ? id : null;
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(frame)'}: ${issue.message}`)
    .join('; ');
}

function parseFrame<T>(
  raw: string | ArrayBuffer,
  schema: z.ZodType<T>,
  knownTypes: readonly string[],
  maxBytes: number,
): ParseResult<T> {
  if (typeof raw !== 'string') {
    return { ok: false, error: { code: 'validation_failed', message: 'Frames are JSON text, not binary', id: null } };
  }
  // Cheap length check first; multi-byte characters can only make the byte count larger.
  if (raw.length > maxBytes || encoder.encode(raw).byteLength > maxBytes) {
    return { ok: false, error: { code: 'payload_too_large', message: `Frame exceeds ${maxBytes} bytes`, id: null } };
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { ok: false, error: { code: 'invalid_json', message: 'Frame is not valid JSON', id: null } };
  }
  const id = readId(value);
  const type = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
  if (typeof type !== 'string' || !knownTypes.includes(type)) {
    return {
      ok: false,
      error: { code: 'unknown_frame_type', message: `Unknown frame type ${JSON.stringify(type ?? null)}`, id },
    };
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    return { ok: false, error: { code: 'validation_failed', message: describeIssues(result.error), id } };
  }
  return { ok: true, frame: result.data };
}

/**
 * Parse and validate one frame received from a client.
 *
 * @example
 * const result = parseClientFrame('{"type":"ack","upTo":7}');
 * if (result.ok) handle(result.frame); else reply(result.error);
 */
export function parseClientFrame(raw: string | ArrayBuffer): ParseResult<ClientFrame> {
  return parseFrame(raw, ClientFrameSchema, CLIENT_FRAME_TYPES, MAX_FRAME_BYTES);
}

const SERVER_FRAME_TYPES = [
  'hello',
  'sent',
  'message',
  'receipt',
  'read_marker',
  'group_sent',
  'group_message',
  'group_event',
  'group_receipt',
  'group_read_marker',
  'group_invite',
  'account_event',
  'message_update',
  'group_message_update',
  'chat_marker',
  'acted',
  'typing_notice',
  'presence',
  'error',
  'pong',
  'group_entries',
  'group_live',
  'group_heads',
] as const satisfies readonly ServerFrame['type'][];
// A frame type added to ServerFrameSchema but not listed above would be refused as unknown.
type UnlistedServerFrame = Exclude<ServerFrame['type'], (typeof SERVER_FRAME_TYPES)[number]>;
const allServerFramesListed: [UnlistedServerFrame] extends [never] ? true : UnlistedServerFrame = true;
void allServerFramesListed;

/**
 * Parse and validate one frame received from the server (used by the SDK). MAX_FRAME_BYTES limits
 * what clients send; server frames carry metadata on top of a client's body, so they are not
 * held to it (the runtime's own message limit applies).
 */
export function parseServerFrame(raw: string | ArrayBuffer): ParseResult<ServerFrame> {
  return parseFrame(raw, ServerFrameSchema, SERVER_FRAME_TYPES, Number.POSITIVE_INFINITY);
}
