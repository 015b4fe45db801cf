/**
 * Multipart uploads (files over MEDIA_PART_SIZE) through the Worker's own URLs: parts are
 * streamed into an R2 multipart upload one request each, in any order, any number of times (a
 * part sent again replaces the earlier one), so a cut connection costs one part at most; the
 * status URL tells a client which parts arrived. Completing assembles the parts in R2, then
 * reads the object back once through crypto.DigestStream: only bytes whose size and SHA-256
 * match the declaration are kept (content-shared as in upload.ts), anything else is deleted.
 *
 * Every URL carries the same capability (capability.ts), valid until it expires or the upload is
 * resumed with a new one (slot.ts) or completed. With direct uploads (direct.ts) the parts go
 * to R2 presigned URLs instead and the client reports their entity tags when completing; a single
 * presigned PUT is completed here too.
 */
import { MEDIA_PART_SIZE, mediaPartCount, type MediaInfo, type MediaPartReceipt, type MediaPartsStatus } from '../../protocol/index.ts';
import { toHex } from '../../lib/hex.ts';
import { claimUpload, completeMedia, failMedia } from '../../db/media.ts';
import { claimMultipart, dropParts, openMultipart, partsOf, recordPart } from '../../db/media-parts.ts';
import type { MediaRow } from '../../db/schema.ts';
import { ApiError } from '../errors.ts';
import { verifyCapability } from './capability.ts';
import { uploadKey } from './keys.ts';
import { reuseStoredCopy } from './upload.ts';

/** The bytes part `part` (1-based) of an upload of `size` bytes must have. */
export function partLength(size: number, part: number): number {
  return part < mediaPartCount(size) ? MEDIA_PART_SIZE : size - (mediaPartCount(size) - 1) * MEDIA_PART_SIZE;
}

/** The open multipart upload the capability names; throws upload_capability_invalid otherwise. */
async function openUpload(env: Env, mediaId: string, capability: string, now: number): Promise<MediaRow & { uploadId: string }> {
  const nonce = await verifyCapability(env.TOKEN_SECRET, mediaId, capability, now);
  const row = nonce === null ? null : await openMultipart(env.DB, mediaId, nonce, now);
  if (row === null || row.uploadId === null) throw new ApiError('upload_capability_invalid');
  return { ...row, uploadId: row.uploadId };
}

export type PartInput = {
  mediaId: string;
  capability: string;
  part: number;
  body: ReadableStream<Uint8Array> | null;
  contentLength: number | null;
  now: number;
  /** Charge the upload's owner for the part (their `media_part_user` budget); throws when spent. */
  charge: (owner: string) => Promise<void>;
};

/**
 * Stream one part into the R2 multipart upload and record its entity tag. The part must have
 * exactly its expected length (a shorter or longer body fails the fixed-length stream and
 * records nothing).
 */
export async function receivePart(env: Env, input: PartInput): Promise<MediaPartReceipt> {
  const row = await openUpload(env, input.mediaId, input.capability, input.now);
  await input.charge(row.ownerId);
  const count = mediaPartCount(row.size);
  if (!Number.isInteger(input.part) || input.part < 1 || input.part > count) {
    throw new ApiError('media_part_invalid', `This upload has parts 1 to ${count}`);
  }
  const length = partLength(row.size, input.part);
  if (input.body === null || (input.contentLength !== null && input.contentLength !== length)) {
    throw new ApiError('media_part_invalid', `Part ${input.part} must have exactly ${length} bytes`);
  }
  const fixed = new FixedLengthStream(length);
  const upload = env.MEDIA.resumeMultipartUpload(uploadKey(row.id), row.uploadId);
  const [fed, stored] = await Promise.allSettled([input.body.pipeTo(fixed.writable), upload.uploadPart(input.part, fixed.readable)]);
  // A body of the wrong length is the client's mistake; anything else is storage trouble.
  if (fed.status === 'rejected') throw new ApiError('media_part_invalid', `Part ${input.part} must have exactly ${length} bytes`);
  if (stored.status === 'rejected') {
    console.error('media part failed', stored.reason);
    throw new ApiError('unavailable', 'The part could not be stored; send it again');
  }
  await recordPart(env.DB, row.id, { part: input.part, etag: stored.value.etag, size: length });
  return { part: input.part, etag: stored.value.etag, size: length };
}

/** Which parts of the upload have arrived (to resume after a cut connection). */
export async function partsStatus(env: Env, mediaId: string, capability: string, now: number): Promise<MediaPartsStatus> {
  const row = await openUpload(env, mediaId, capability, now);
  const parts = await partsOf(env.DB, row.id);
  return { mediaId: row.id, partCount: mediaPartCount(row.size), received: parts.map((p) => p.part), expiresAt: row.uploadExpiresAt };
}

/** Size, SHA-256 and entity tag of a stored object, read once through crypto.DigestStream. */
async function measureObject(env: Env, key: string): Promise<{ size: number; sha256: string; etag: string } | null> {
  const object = await env.MEDIA.get(key);
  if (object === null) return null;
  const digest = new crypto.DigestStream('SHA-256');
  await object.body.pipeTo(digest);
  return { size: object.size, sha256: toHex(await digest.digest), etag: object.etag };
}

export type CompleteInput = {
  mediaId: string;
  capability: string;
  /** The entity tags a client got from presigned part URLs (used only when direct uploads are on). */
  clientParts: { part: number; etag: string }[] | undefined;
  /** Whether this deployment hands out presigned URLs (worker/media/direct.ts). */
  direct: boolean;
  now: number;
};

/**
 * Finish an upload that is not a single PUT through the Worker: assemble a multipart upload's
 * parts (refusing with `upload_incomplete`, changing nothing, while one is missing), or take a
 * single presigned PUT's object; then read the bytes back and verify them. A mismatch deletes
 * the object and marks the media failed.
 */
export async function completeUpload(env: Env, input: CompleteInput): Promise<MediaRow> {
  const { mediaId, capability, now } = input;
  const nonce = await verifyCapability(env.TOKEN_SECRET, mediaId, capability, now);
  if (nonce === null) throw new ApiError('upload_capability_invalid');
  const open = await openMultipart(env.DB, mediaId, nonce, now);
  const key = uploadKey(mediaId);
  let row: MediaRow | null;
  let direct: boolean;
  if (open !== null && open.uploadId !== null) {
    const parts = await assembleParts(env, open, input);
    row = await claimMultipart(env.DB, mediaId, nonce, now);
    if (row === null) throw new ApiError('upload_capability_invalid');
    direct = parts.direct;
    try {
      await env.MEDIA.resumeMultipartUpload(key, open.uploadId).complete(parts.list);
    } catch (err) {
      console.error('media multipart complete failed', err);
      await Promise.all([failMedia(env.DB, row.id), dropParts(env.DB, row.id)]);
      throw new ApiError('unavailable', 'The parts could not be assembled; request a new slot and upload again');
    }
    await dropParts(env.DB, row.id);
  } else {
    // A single presigned PUT (the Worker's own single PUT verifies as it receives).
    if (!input.direct) throw new ApiError('upload_capability_invalid');
    row = await claimUpload(env.DB, mediaId, nonce, now);
    if (row === null) throw new ApiError('upload_capability_invalid');
    direct = true;
  }
  const measured = await measureObject(env, key);
  if (measured === null || measured.size !== row.size || measured.sha256 !== row.sha256) {
    await env.MEDIA.delete(key);
    await failMedia(env.DB, row.id);
    throw new ApiError('media_mismatch', measured === null ? 'No bytes were uploaded' : 'The uploaded bytes do not match the declared size and SHA-256');
  }
  const blob = await reuseStoredCopy(env, row, { key, etag: direct ? measured.etag : null });
  const complete = await completeMedia(env.DB, row.id, blob, now);
  if (complete === null) throw new ApiError('upload_capability_invalid');
  return complete;
}

/**
 * The parts to assemble, by number: those the Worker received, and with direct uploads those
 * the client reports. Throws `upload_incomplete` while one is missing.
 */
async function assembleParts(env: Env, row: MediaRow, input: CompleteInput): Promise<{ list: R2UploadedPart[]; direct: boolean }> {
  const count = mediaPartCount(row.size);
  const etags = new Map<number, string>();
  let direct = false;
  if (input.direct) {
    for (const p of input.clientParts ?? []) {
      if (p.part <= count) etags.set(p.part, p.etag);
    }
    direct = etags.size > 0;
  }
  for (const p of await partsOf(env.DB, row.id)) etags.set(p.part, p.etag);
  const missing = count - etags.size;
  if (missing > 0) throw new ApiError('upload_incomplete', `${missing} of ${count} parts are missing`);
  return { list: [...etags].sort(([a], [b]) => a - b).map(([partNumber, etag]) => ({ partNumber, etag })), direct };
}

/** The answer of a finished upload. */
export function infoOf(row: MediaRow): MediaInfo {
  return { id: row.id, kind: row.kind, mime: row.mime, size: row.size, sha256: row.sha256, createdAt: row.createdAt, status: row.status };
}
