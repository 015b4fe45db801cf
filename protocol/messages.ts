/**
 * Message content: what a sender writes (`MessageBody`) and what every device receives
 * (`Message`). Bodies are a discriminated union on `kind`; the server validates and stores them
 * but never interprets `ciphertext` bodies.
 */
import { z } from 'zod';
import { CLIENT_ID_PATTERN, MAX_TEXT_LENGTH, ULID_PATTERN } from './limits.ts';
import { nameText, noteText } from './text.ts';

export const UlidSchema = z.string().regex(ULID_PATTERN, 'expected a 26-character ULID');
export const UserIdSchema = UlidSchema;
export const DeviceIdSchema = UlidSchema;
export const MessageIdSchema = UlidSchema;
export const ClientIdSchema = z.string().regex(CLIENT_ID_PATTERN, 'expected 1-64 characters of [A-Za-z0-9_-]');
/** A mailbox sequence number: 1, 2, 3, ... per user; 0 means "nothing yet". */
export const SeqSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
/** A non-negative integer written in a query string ("" and "abc" are errors, not 0). */
export const QuerySeqSchema = z.string().regex(/^[0-9]{1,16}$/, 'expected a non-negative integer').transform(Number).pipe(SeqSchema);

export const TextBodySchema = z.strictObject({
  kind: z.literal('text'),
  text: z.string().min(1).max(MAX_TEXT_LENGTH),
});

export const LocationBodySchema = z.strictObject({
  kind: z.literal('location'),
  latitude: z.number().min(-90).max(90),
  longitude: z.number().min(-180).max(180),
  name: z.string().max(256).optional(),
});

export const ContactBodySchema = z.strictObject({
  kind: z.literal('contact'),
  name: z.string().min(1).max(256),
  phone: z.string().min(1).max(32),
});

/** End-to-end encrypted payload: opaque to the server (base64, up to 48 KiB of text). */
export const CiphertextBodySchema = z.strictObject({
  kind: z.literal('ciphertext'),
  /** Application-defined scheme tag, e.g. "signal/v1". */
  scheme: z.string().min(1).max(32),
  data: z.base64().min(1).max(49_152),
});

/** Longest caption of a media message, in UTF-16 code units. */
export const MAX_CAPTION_LENGTH = 1024;
/** Longest inline thumbnail of a media message, in base64 characters (about 6 KB of JPEG/WebP). */
export const MAX_THUMBNAIL_BASE64 = 8192;

/**
 * The uploaded media a body names (protocol/media.ts): its id, and the type and size it was
 * uploaded with, which the server checks against the upload when the message is sent. The type
 * is as the upload slot stored it: lowercase, no parameters. (Ids are ULIDs; MediaIdSchema is
 * not imported here because protocol/media.ts imports this module.)
 */
export const MediaRefSchema = z.strictObject({
  id: UlidSchema,
  mime: z.string().regex(/^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/, 'expected a lowercase MIME type such as image/jpeg'),
  size: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
});
export type MediaRef = z.infer<typeof MediaRefSchema>;

const mediaBodyFields = {
  media: MediaRefSchema,
  caption: noteText(MAX_CAPTION_LENGTH).optional(),
  /** A small JPEG or WebP preview shown before the media is downloaded: strict base64. */
  thumbnail: z.base64().min(1).max(MAX_THUMBNAIL_BASE64).optional(),
};
const dimension = z.number().int().min(1).max(20_000);
const durationMs = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const ImageBodySchema = z.strictObject({
  kind: z.literal('image'),
  ...mediaBodyFields,
  width: dimension.optional(),
  height: dimension.optional(),
});

/** A video (a GIF is sent as a short video). */
export const VideoBodySchema = z.strictObject({
  kind: z.literal('video'),
  ...mediaBodyFields,
  width: dimension.optional(),
  height: dimension.optional(),
  durationMs: durationMs.optional(),
});

export const VoiceBodySchema = z.strictObject({
  kind: z.literal('voice'),
  ...mediaBodyFields,
  durationMs: durationMs.optional(),
});

export const DocumentBodySchema = z.strictObject({
  kind: z.literal('document'),
  ...mediaBodyFields,
  fileName: nameText(255).optional(),
});

export const StickerBodySchema = z.strictObject({
  kind: z.literal('sticker'),
  ...mediaBodyFields,
  width: dimension.optional(),
  height: dimension.optional(),
});

export const MessageBodySchema = z.discriminatedUnion('kind', [
  TextBodySchema,
  LocationBodySchema,
  ContactBodySchema,
  CiphertextBodySchema,
  ImageBodySchema,
  VideoBodySchema,
  VoiceBodySchema,
  DocumentBodySchema,
  StickerBodySchema,
]);
export type MessageBody = z.infer<typeof MessageBodySchema>;
export type MessageKind = MessageBody['kind'];
export type ImageBody = z.infer<typeof ImageBodySchema>;
export type VideoBody = z.infer<typeof VideoBodySchema>;
export type VoiceBody = z.infer<typeof VoiceBodySchema>;
export type DocumentBody = z.infer<typeof DocumentBodySchema>;
export type StickerBody = z.infer<typeof StickerBodySchema>;
/** A body that names uploaded media. */
export type MediaBody = ImageBody | VideoBody | VoiceBody | DocumentBody | StickerBody;

export const MEDIA_BODY_KINDS = ['image', 'video', 'voice', 'document', 'sticker'] as const satisfies readonly MediaBody['kind'][];

/** Whether a body names uploaded media (its id must be checked when it is sent). */
export function isMediaBody(body: MessageBody | StoredBody): body is MediaBody {
  return (MEDIA_BODY_KINDS as readonly string[]).includes(body.kind);
}

// ---------------------------------------------------------------- message actions

/** Longest quoted snippet kept with a reply, in UTF-16 code units. */
export const QUOTE_SNIPPET_MAX = 160;
/** Longest reaction: one emoji, with skin tone and joiner sequences (UTF-16 code units). */
export const REACTION_MAX_LENGTH = 16;
/** A forward of a message that was forwarded this many times or more shows "forwarded many times". */
export const FORWARDED_MANY_TIMES = 5;
/** Most earlier versions an edited message keeps (further edits are refused: `not_editable`). */
export const EDIT_HISTORY_MAX = 20;
/** Defaults of the deployment's EDIT_WINDOW_MINUTES and RECALL_WINDOW_HOURS (WhatsApp's). */
export const EDIT_WINDOW_DEFAULT_MS = 15 * 60_000;
export const RECALL_WINDOW_DEFAULT_MS = 48 * 3_600_000;

/** What a message became when deleted: content and media reference gone, on every copy it applies to. */
export const DeletedBodySchema = z.strictObject({
  kind: z.literal('deleted'),
  /** Who deleted it: the sender, or (groups) an admin ("deleted by an admin" when not the sender). */
  by: UserIdSchema,
  /** `everyone`: recalled for all; `me`: only on the deleter's devices (history no longer lists it). */
  scope: z.enum(['everyone', 'me']),
  at: z.number().int(),
});
export type DeletedBody = z.infer<typeof DeletedBodySchema>;

/** The body of a stored message: what was sent (possibly edited), or a tombstone. */
export const StoredBodySchema = z.discriminatedUnion('kind', [...MessageBodySchema.options, DeletedBodySchema]);
export type StoredBody = z.infer<typeof StoredBodySchema>;
export type StoredKind = StoredBody['kind'];

/** The message a reply quotes, copied when the reply is sent: it survives the original's deletion. */
export const QuoteSchema = z.strictObject({
  id: MessageIdSchema,
  from: UserIdSchema,
  kind: z.enum(['text', 'location', 'contact', 'ciphertext', 'image', 'video', 'voice', 'document', 'sticker'] satisfies MessageKind[]),
  /** Text, caption, file or place name, cut to QUOTE_SNIPPET_MAX ('' for media without one). */
  snippet: z.string().max(QUOTE_SNIPPET_MAX),
});
export type Quote = z.infer<typeof QuoteSchema>;

/** One user's reaction (one per user per message; a new one replaces it). */
export const ReactionSchema = z.strictObject({
  by: UserIdSchema,
  emoji: z.string().min(1).max(REACTION_MAX_LENGTH),
  at: z.number().int(),
});
export type Reaction = z.infer<typeof ReactionSchema>;

/** An earlier version of an edited message (kept on the sender's copy only). */
export const EditRecordSchema = z.strictObject({ body: MessageBodySchema, at: z.number().int() });
export type EditRecord = z.infer<typeof EditRecordSchema>;

/**
 * An action on a message you can see:
 * - `react`: set your reaction (`emoji`), or remove it (`null`);
 * - `edit`: the sender, within the edit window: a text's new text, or a media message's new caption
 *   (same kind and media, only `caption` may differ);
 * - `delete`: `everyone` (the sender within the recall window; group admins any message) or `me`
 *   (only your devices);
 * - `star`: mark or unmark (only your devices; `GET /v1/starred` lists them).
 */
export const ActionSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('react'), emoji: z.string().min(1).max(REACTION_MAX_LENGTH).regex(/^\S+$/u, 'expected one emoji').nullable() }),
  z.strictObject({ kind: z.literal('edit'), body: MessageBodySchema }),
  z.strictObject({ kind: z.literal('delete'), scope: z.enum(['everyone', 'me']) }),
  z.strictObject({ kind: z.literal('star'), starred: z.boolean() }),
]);
export type Action = z.infer<typeof ActionSchema>;

/** What an update entry says happened (the content itself is in the message it carries). */
export const ActionSummarySchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('react'), emoji: z.string().nullable() }),
  z.strictObject({ kind: z.literal('edit') }),
  z.strictObject({ kind: z.literal('delete'), scope: z.enum(['everyone', 'me']) }),
  z.strictObject({ kind: z.literal('star'), starred: z.boolean() }),
]);
export type ActionSummary = z.infer<typeof ActionSummarySchema>;

/** Which chat a frame is about: a 1:1 conversation (by the other user) or a group. */
export const ChatRefSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('direct'), peer: UserIdSchema }),
  z.strictObject({ kind: z.literal('group'), group: UlidSchema }),
]);
export type ChatRef = z.infer<typeof ChatRefSchema>;

/**
 * What a stored message carries besides its body, in 1:1 chats and groups alike. Absent fields
 * mean "none". `rev` counts the changes made to this copy: of two copies of one message, the
 * higher `rev` is the newer (a history page read while an update arrives).
 */
export const messageExtras = {
  /** The message this one answers. */
  replyTo: QuoteSchema.optional(),
  /** Forwarded: how many hops (1 = forwarded once); FORWARDED_MANY_TIMES or more shows "forwarded many times". */
  forwarded: z.number().int().min(1).optional(),
  /** When it was last edited. */
  editedAt: z.number().int().optional(),
  /** Earlier versions, oldest first: only on the sender's own copy (their devices). */
  edits: z.array(EditRecordSchema).max(EDIT_HISTORY_MAX).optional(),
  /** Reactions, oldest first, one per user. */
  reactions: z.array(ReactionSchema).optional(),
  /** You starred it (your copy only). */
  starred: z.literal(true).optional(),
  rev: z.number().int().min(1).optional(),
};

/** A stored 1:1 message as every device of sender and recipient sees it. */
export const MessageSchema = z.strictObject({
  /** Server-assigned id, the same in both mailboxes. */
  id: MessageIdSchema,
  /** The sender's client-generated id (unique per sender). */
  clientId: ClientIdSchema,
  from: UserIdSchema,
  fromDevice: DeviceIdSchema,
  to: UserIdSchema,
  /** Server time the message was stored, ms since the epoch. Display only: order by seq. */
  sentAt: z.number().int(),
  body: StoredBodySchema,
  ...messageExtras,
});
export type Message = z.infer<typeof MessageSchema>;

/** Delivery state of a message as its sender sees it ("ticks"). Only ever moves forward. */
export const MessageStatusSchema = z.enum(['sent', 'delivered', 'read']);
export type MessageStatus = z.infer<typeof MessageStatusSchema>;

/** Rank of each status so "only ever moves forward" is a comparison. */
export const STATUS_RANK: Record<MessageStatus, number> = { sent: 1, delivered: 2, read: 3 };
