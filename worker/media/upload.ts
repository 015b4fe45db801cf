/**
 * Receiving the bytes of an upload slot (`PUT /v1/media/:id/content?cap=`): the body is streamed
 * into R2 while it is hashed (crypto.DigestStream) and counted, never buffered whole; a body
 * longer than declared is cut off at the first excess byte. Only bytes whose size and SHA-256
 * match the declaration are kept and mark the media complete; anything else is deleted and the
 * media is marked failed.
 *
 * Storage: each upload is written to its own key `blobs/<mediaId>`, so an unverified body can
 * never overwrite bytes someone else relies on. Once verified, if another complete upload of the
 * same bytes already has a stored object, the new copy is deleted and this media points at that
 * object (content addressing through D1's `blob_key`, which R2 alone cannot do without copying).
 * Ids, owners and access stay per upload (see slot.ts on privacy).
 */
import { toHex } from '../../lib/hex.ts';
import { claimUpload, completeMedia, failMedia, sharedBlob, type StoredBlob } from '../../db/media.ts';
import type { MediaRow } from '../../db/schema.ts';
import { ApiError } from '../errors.ts';
import { verifyCapability } from './capability.ts';
import { uploadKey } from './keys.ts';

export type UploadInput = {
  mediaId: string;
  capability: string;
  body: ReadableStream<Uint8Array> | null;
  /** The request's Content-Length, when it has one. */
  contentLength: number | null;
  now: number;
};


/**
 * Copies a body into `sink` while hashing and counting it; stops at the first byte past `limit`,
 * so an oversized body is never read further. (A plain read loop rather than a pipe through a
 * TransformStream: every promise is awaited here, so a refused body leaves none dangling.)
 */
class Meter {
  bytes = 0;
  overflow = false;
  readonly digest = new crypto.DigestStream('SHA-256');

  constructor(private readonly limit: number) {
    // Read only after a complete copy; a refused one aborts it, which must not go unhandled.
    this.digest.digest.catch(() => undefined);
  }

  async copy(body: ReadableStream<Uint8Array>, sink: WritableStream<Uint8Array>): Promise<void> {
    const reader = body.getReader();
    const writer = sink.getWriter();
    const hasher = this.digest.getWriter();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        this.bytes += value.byteLength;
        if (this.bytes > this.limit) {
          this.overflow = true;
          throw new ApiError('media_mismatch', 'The body is larger than the declared size');
        }
        // The hasher has taken the chunk in once its write settles; only then is it passed on.
        await hasher.write(value);
        await writer.write(value);
      }
      if (this.bytes < this.limit) throw new ApiError('media_mismatch', 'The body is shorter than the declared size');
      await hasher.close();
      await writer.close();
    } catch (err) {
      await Promise.allSettled([reader.cancel(err), writer.abort(err), hasher.abort(err)]);
      throw err;
    }
  }
}

/**
 * Verify the capability, take it (single use), stream the body into R2 and verify it.
 * Answers the complete media row; throws `upload_capability_invalid` or `media_mismatch`.
 */
export async function receiveUpload(env: Env, input: UploadInput): Promise<MediaRow> {
  const { mediaId, capability, body, contentLength, now } = input;
  const nonce = await verifyCapability(env.TOKEN_SECRET, mediaId, capability, now);
  if (nonce === null) throw new ApiError('upload_capability_invalid');
  const row = await claimUpload(env.DB, mediaId, nonce, now);
  if (row === null) throw new ApiError('upload_capability_invalid');

  const key = uploadKey(mediaId);
  const refuse = async (message: string): Promise<never> => {
    await env.MEDIA.delete(key);
    await failMedia(env.DB, mediaId);
    throw new ApiError('media_mismatch', message);
  };
  if (body === null) return refuse('The body is empty');
  // A declared length that differs is refused before a byte is read.
  if (contentLength !== null && contentLength !== row.size) {
    return refuse(`The body has ${contentLength} bytes; the slot declared ${row.size}`);
  }

  const meter = new Meter(row.size);
  // R2 needs to know the length up front; the fixed-length stream also errors on a short body.
  const fixed = new FixedLengthStream(row.size);
  const [fed, put] = await Promise.allSettled([
    meter.copy(body, fixed.writable),
    env.MEDIA.put(key, fixed.readable, { httpMetadata: { contentType: row.mime } }),
  ]);
  if (meter.overflow || meter.bytes !== row.size) return refuse(`The body does not have the ${row.size} bytes the slot declared`);
  if (fed.status === 'rejected' || put.status === 'rejected') {
    await env.MEDIA.delete(key);
    await failMedia(env.DB, mediaId);
    console.error('media upload failed', fed.status === 'rejected' ? fed.reason : put.status === 'rejected' ? put.reason : null);
    throw new ApiError('unavailable', 'The upload could not be stored; request a new slot and retry');
  }
  const sha256 = toHex(await meter.digest.digest);
  if (sha256 !== row.sha256) return refuse('The SHA-256 of the body differs from the declared one');

  const blob = await reuseStoredCopy(env, row, { key, etag: null });
  const complete = await completeMedia(env.DB, mediaId, blob, now);
  if (complete === null) throw new ApiError('upload_capability_invalid');
  return complete;
}

/**
 * After verification: an existing stored object of the same bytes (another complete upload's),
 * with this upload's copy deleted; or this upload's own object. An object uploaded straight to
 * R2 is shared only while it still has its verified entity tag.
 */
export async function reuseStoredCopy(env: Env, row: MediaRow, own: StoredBlob): Promise<StoredBlob> {
  const shared = await sharedBlob(env.DB, row.sha256, row.size, row.id);
  if (shared === null || shared.key === own.key) return own;
  const head = await env.MEDIA.head(shared.key);
  if (head === null || head.size !== row.size || (shared.etag !== null && head.etag !== shared.etag)) return own;
  await env.MEDIA.delete(own.key);
  return shared;
}
