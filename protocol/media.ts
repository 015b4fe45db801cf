/**
 * Media (photos, video, voice notes, documents, stickers, avatars): the kinds, one limits table,
 * and the bodies of the upload slot, upload and info endpoints. Bytes live in R2; D1 holds one
 * row per upload (its owner, declared size and SHA-256, and whether it was verified).
 */
import { z } from 'zod';
import { UlidSchema } from './messages.ts';

const KB = 1024;
const MB = 1024 * KB;

export const MEDIA_KINDS = ['image', 'video', 'voice', 'document', 'sticker', 'avatar'] as const;
export const MediaKindSchema = z.enum(MEDIA_KINDS);
export type MediaKind = z.infer<typeof MediaKindSchema>;

/**
 * Types a browser runs or renders as an active document when given them inline. Refused even as
 * documents (which are always served as `application/octet-stream` attachments anyway), so no
 * client ever holds one labelled as what it is.
 */
export const MEDIA_DENIED_MIMES = [
  'text/html',
  'application/xhtml+xml',
  'image/svg+xml',
  'text/xml',
  'application/xml',
  'text/javascript',
  'application/javascript',
  'application/ecmascript',
  'text/ecmascript',
  'application/x-javascript',
  'application/wasm',
  'application/x-shockwave-flash',
  'text/xsl',
  'application/xslt+xml',
] as const;

export type MediaKindLimits = {
  /** The largest upload accepted, in bytes. */
  maxBytes: number;
  /** The MIME types accepted (lowercase, no parameters), or 'any' but MEDIA_DENIED_MIMES. */
  mimes: readonly string[] | 'any';
};

/**
 * What each kind accepts. `image`, `video`, `voice`, `sticker` and `avatar` are served inline
 * with their own type (every listed type is a passive image, video or audio format); documents
 * are always served as `application/octet-stream` attachments.
 */
export const MEDIA_LIMITS = {
  image: { maxBytes: 16 * MB, mimes: ['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/heic', 'image/heif'] },
  video: { maxBytes: 100 * MB, mimes: ['video/mp4', 'video/webm', 'video/quicktime', 'video/3gpp'] },
  voice: { maxBytes: 16 * MB, mimes: ['audio/ogg', 'audio/webm', 'audio/mp4', 'audio/mpeg', 'audio/aac'] },
  document: { maxBytes: 100 * MB, mimes: 'any' },
  sticker: { maxBytes: 500 * KB, mimes: ['image/webp', 'image/png'] },
  avatar: { maxBytes: 5 * MB, mimes: ['image/jpeg', 'image/png', 'image/webp'] },
} as const satisfies Record<MediaKind, MediaKindLimits>;

/** An upload capability is valid this long after the slot is answered. */
export const MEDIA_UPLOAD_TTL_MS = 15 * 60_000;
/** A slot that is not uploaded (or, later, never referenced by a message) expires after this. */
export const MEDIA_PENDING_TTL_MS = 24 * 60 * 60_000;

/**
 * Whether `mime` (lowercase, no parameters) may be uploaded as `kind`.
 *
 * @example
 * mediaMimeAllowed('sticker', 'image/jpeg') // false
 */
export function mediaMimeAllowed(kind: MediaKind, mime: string): boolean {
  const mimes: readonly string[] | 'any' = MEDIA_LIMITS[kind].mimes;
  if (mimes === 'any') return !(MEDIA_DENIED_MIMES as readonly string[]).includes(mime);
  return mimes.includes(mime);
}

/**
 * A MIME type as clients send it (`audio/webm;codecs=opus`), reduced to its lowercase essence
 * (`audio/webm`): parameters are dropped, the rest must be `type/subtype` tokens.
 */
export const MediaMimeSchema = z
  .string()
  .max(255)
  .transform((value) => (value.split(';')[0] ?? '').trim().toLowerCase())
  .pipe(z.string().regex(/^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/, 'expected a MIME type such as image/jpeg'));

export const MediaIdSchema = UlidSchema;
export const Sha256HexSchema = z
  .string()
  .regex(/^[0-9a-fA-F]{64}$/, 'expected 64 hex characters')
  .transform((value) => value.toLowerCase());

/** Lifecycle of an upload: the slot, its one upload attempt, the verified result or the refusal. */
export const MediaStatusSchema = z.enum(['pending', 'uploading', 'complete', 'failed']);
export type MediaStatus = z.infer<typeof MediaStatusSchema>;

// ---- POST /v1/media
export const MediaSlotRequestSchema = z.strictObject({
  kind: MediaKindSchema,
  mime: MediaMimeSchema,
  /** Exact size in bytes; the upload must match it. */
  size: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  /** SHA-256 of the bytes, hex; the upload must match it. */
  sha256: Sha256HexSchema,
});
export type MediaSlotRequest = z.input<typeof MediaSlotRequestSchema>;

/**
 * Files up to this size are uploaded with one PUT; larger ones in parts of exactly this size (the
 * last part smaller), each sent, retried and resumed on its own (R2 multipart upload).
 */
export const MEDIA_PART_SIZE = 8 * MB;
/** A multipart upload's capability works this long (it is reused for every part, unlike a single PUT's). */
export const MEDIA_MULTIPART_TTL_MS = 6 * 60 * 60_000;
/** A signed download URL (GET /v1/media/:id/url) works this long. */
export const MEDIA_URL_TTL_MS = 30 * 60_000;

/** The number of parts an upload of `size` bytes is sent in: 1 for a single PUT. */
export function mediaPartCount(size: number): number {
  return size <= MEDIA_PART_SIZE ? 1 : Math.ceil(size / MEDIA_PART_SIZE);
}

/** One PUT of the whole file (files up to MEDIA_PART_SIZE). */
export const MediaSingleUploadSchema = z.strictObject({
  mode: z.literal('single'),
  /** Absolute URL to send the bytes to (it carries a single-use capability: no bearer token needed). */
  url: z.string(),
  method: z.literal('PUT'),
  /** Headers to send with the bytes. */
  headers: z.record(z.string(), z.string()),
  /** The URL stops working at this time, ms since the epoch. */
  expiresAt: z.number().int(),
  /**
   * Present when the URL is not the Worker's own (an R2 presigned URL: the bytes never pass through
   * the Worker): POST here (no body needed) after the PUT succeeded, to have the upload verified.
   * Absent: the PUT's own answer is the verified MediaInfo.
   */
  completeUrl: z.string().optional(),
});

/**
 * Parts of MEDIA_PART_SIZE bytes (the last one smaller), in any order and any number of times
 * (a part sent again replaces the earlier one); then POST `completeUrl`, which assembles the parts
 * and verifies size and SHA-256. All URLs carry the same capability, good until `expiresAt`.
 */
export const MediaMultipartUploadSchema = z.strictObject({
  mode: z.literal('multipart'),
  partSize: z.number().int().positive(),
  partCount: z.number().int().min(2),
  /**
   * `partUrls[i]` takes part number i + 1, by PUT with `headers`. A Worker URL answers
   * MediaPartReceipt; an R2 presigned URL answers an empty body with the part's entity tag in the
   * `ETag` response header. Either way, keep the tag: MediaCompleteRequest.parts sends them back.
   */
  partUrls: z.array(z.string()),
  method: z.literal('PUT'),
  headers: z.record(z.string(), z.string()),
  /** GET: the parts the server already holds (MediaPartsStatus), to resume after a cut connection. */
  statusUrl: z.string(),
  /** POST (body MediaCompleteRequest) once every part is sent: answers MediaInfo. */
  completeUrl: z.string(),
  expiresAt: z.number().int(),
  /**
   * Parts already received when this slot was answered: asking again for a slot with the same
   * kind, type, size and SHA-256 while a multipart upload of yours is unfinished resumes it (same
   * media id, fresh capability) instead of starting over.
   */
  received: z.array(z.number().int().positive()),
});

export const MediaUploadSchema = z.discriminatedUnion('mode', [MediaSingleUploadSchema, MediaMultipartUploadSchema]);
export type MediaUpload = z.infer<typeof MediaUploadSchema>;
export type MediaSingleUpload = z.infer<typeof MediaSingleUploadSchema>;
export type MediaMultipartUpload = z.infer<typeof MediaMultipartUploadSchema>;

export const MediaSlotResponseSchema = z.discriminatedUnion('deduplicated', [
  /** You already uploaded these exact bytes with this type: reuse the id, upload nothing. */
  z.strictObject({ mediaId: MediaIdSchema, deduplicated: z.literal(true) }),
  z.strictObject({ mediaId: MediaIdSchema, deduplicated: z.literal(false), upload: MediaUploadSchema }),
]);
export type MediaSlotResponse = z.infer<typeof MediaSlotResponseSchema>;

// ---- PUT a part (Worker URL): the answer
export const MediaPartReceiptSchema = z.strictObject({
  part: z.number().int().positive(),
  /** The part's entity tag (what R2 answered for it). */
  etag: z.string(),
  size: z.number().int().positive(),
});
export type MediaPartReceipt = z.infer<typeof MediaPartReceiptSchema>;

// ---- GET statusUrl
export const MediaPartsStatusSchema = z.strictObject({
  mediaId: MediaIdSchema,
  partCount: z.number().int().positive(),
  /** Part numbers received, ascending. */
  received: z.array(z.number().int().positive()),
  expiresAt: z.number().int(),
});
export type MediaPartsStatus = z.infer<typeof MediaPartsStatusSchema>;

// ---- POST completeUrl
export const MediaCompleteRequestSchema = z.strictObject({
  /**
   * The entity tags the storage answered for each part, needed only for presigned part URLs (the
   * Worker records them itself for its own URLs and ignores this).
   */
  parts: z
    .array(z.strictObject({ part: z.number().int().positive(), etag: z.string().max(200) }))
    .max(1000)
    .optional(),
});
export type MediaCompleteRequest = z.infer<typeof MediaCompleteRequestSchema>;

// ---- GET /v1/media/:id/url
/**
 * A short-lived URL for `<img>`, `<video>` and `<audio>` tags: no bearer token (URLs end up in
 * logs and caches), a signature over the media id and the expiry instead. Whoever holds it may
 * fetch the bytes until `expiresAt` (Range, ETag as the download route); ask again after that.
 */
export const MediaUrlSchema = z.strictObject({
  url: z.string(),
  expiresAt: z.number().int(),
});
export type MediaUrl = z.infer<typeof MediaUrlSchema>;

// ---- GET /v1/media/:id/info, and the answer of a successful upload
export const MediaInfoSchema = z.strictObject({
  id: MediaIdSchema,
  kind: MediaKindSchema,
  mime: z.string(),
  size: z.number().int().positive(),
  sha256: z.string(),
  createdAt: z.number().int(),
  status: MediaStatusSchema,
});
export type MediaInfo = z.infer<typeof MediaInfoSchema>;
