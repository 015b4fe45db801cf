/**
 * Multipart uploads (files over MEDIA_PART_SIZE) through the Worker's own URLs: parts are
 * streamed into an R2 multipart upload one request each, in any order, any number of times (a
 * part sent again replaces the earlier one), so a cut connection costs one part at most; the
 * status URL tells a client which parts arrived. Completing assembles the parts in R2, then
 * reads the object back once through crypto.DigestStream: only bytes whose size and SHA-256
 * match the declaration are kept (content-shared as in upload.ts), anything else is deleted.
 *
 * Every URL carries the same capability (capability.ts), valid until it expires or the upload is
 * resumed with a new one (slot.ts) or completed.
 */
import { MEDIA_PART_SIZE, mediaPartCount, type MediaInfo, type MediaPartReceipt, type MediaPartsStatus } from '../../protocol/index.ts';
import { completeMedia, failMedia } from '../../db/media.ts';
import { claimMultipart, dropParts, openMultipart, partsOf, recordPart } from '../../db/media-parts.ts';
import type { MediaRow } from '../../db/schema.ts';
import { ApiError } from '../errors.ts';
import { verifyCapability } from './capability.ts';
import { uploadKey } from './keys.ts';
import { hex, reuseStoredCopy } from './upload.ts';

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
  if (fed.status === 'rejected' || stored.status === 'rejected') {
    const reason = fed.status === 'rejected' ? fed.reason : stored.status === 'rejected' ? stored.reason : null;
    // A body of the wrong length is the client's mistake; anything else is storage trouble.
    if (fed.status === 'rejected') throw new ApiError('media_part_invalid', `Part ${input.part} must have exactly ${length} bytes`);
    console.error('media part failed', reason);
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

/** Size and SHA-256 of a stored object, read once through crypto.DigestStream. */
async function measureObject(env: Env, key: string): Promise<{ size: number; sha256: string } | null> {
  const object = await env.MEDIA.get(key);
  if (object === null) return null;
  const digest = new crypto.DigestStream('SHA-256');
  await object.body.pipeTo(digest);
  return { size: object.size, sha256: hex(await digest.digest) };
}

/**
 * Assemble the parts and verify them. Refuses with `upload_incomplete` (changing nothing) while
 * a part is missing; a mismatch deletes the object and marks the media failed.
 */
export async function completeMultipart(env: Env, mediaId: string, capability: string, now: number): Promise<MediaRow> {
  const open = await openUpload(env, mediaId, capability, now);
  const parts = await partsOf(env.DB, open.id);
  const count = mediaPartCount(open.size);
  const missing = count - parts.length;
  if (missing > 0) throw new ApiError('upload_incomplete', `${missing} of ${count} parts are missing`);
  const nonce = await verifyCapability(env.TOKEN_SECRET, mediaId, capability, now);
  const row = nonce === null ? null : await claimMultipart(env.DB, mediaId, nonce, now);
  if (row === null) throw new ApiError('upload_capability_invalid');

  const key = uploadKey(row.id);
  const upload = env.MEDIA.resumeMultipartUpload(key, open.uploadId);
  try {
    await upload.complete(parts.map((p) => ({ partNumber: p.part, etag: p.etag })));
  } catch (err) {
    console.error('media multipart complete failed', err);
    await failMedia(env.DB, row.id);
    await dropParts(env.DB, row.id);
    throw new ApiError('unavailable', 'The parts could not be assembled; request a new slot and upload again');
  }
  const measured = await measureObject(env, key);
  await dropParts(env.DB, row.id);
  if (measured === null || measured.size !== row.size || measured.sha256 !== row.sha256) {
    await env.MEDIA.delete(key);
    await failMedia(env.DB, row.id);
    throw new ApiError('media_mismatch', 'The assembled parts do not match the declared size and SHA-256');
  }
  const blobKey = await reuseStoredCopy(env, row, key);
  const complete = await completeMedia(env.DB, row.id, blobKey, now);
  if (complete === null) throw new ApiError('upload_capability_invalid');
  return complete;
}

/** The answer of a finished upload. */
export function infoOf(row: MediaRow): MediaInfo {
  return { id: row.id, kind: row.kind, mime: row.mime, size: row.size, sha256: row.sha256, createdAt: row.createdAt, status: row.status };
}
