/**
 * Message content: what a sender writes (`MessageBody`) and what every device receives
 * (`Message`). Bodies are a discriminated union on `kind`; the server validates and stores them
 * but never interprets `ciphertext` bodies.
 */
import { z } from 'zod';
import { CLIENT_ID_PATTERN, MAX_TEXT_LENGTH, ULID_PATTERN } from './limits.ts';

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

export const MessageBodySchema = z.discriminatedUnion('kind', [
  TextBodySchema,
  LocationBodySchema,
  ContactBodySchema,
  CiphertextBodySchema,
]);
export type MessageBody = z.infer<typeof MessageBodySchema>;
export type MessageKind = MessageBody['kind'];

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
  body: MessageBodySchema,
});
export type Message = z.infer<typeof MessageSchema>;

/** Delivery state of a message as its sender sees it ("ticks"). Only ever moves forward. */
export const MessageStatusSchema = z.enum(['sent', 'delivered', 'read']);
export type MessageStatus = z.infer<typeof MessageStatusSchema>;

/** Rank of each status so "only ever moves forward" is a comparison. */
export const STATUS_RANK: Record<MessageStatus, number> = { sent: 1, delivered: 2, read: 3 };
