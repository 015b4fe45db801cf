/**
 * Upload slots (`POST /v1/media`): check a declared upload against MEDIA_LIMITS, answer the
 * owner's existing copy of the same bytes, or store a pending row and a capability to upload.
 *
 * Deduplication and privacy: a slot is answered with an existing id only when the SAME user
 * already has a complete upload of those bytes (same SHA-256, size and type). Another user's
 * upload is never granted by hash: knowing (or guessing) a hash must not give access to someone
 * else's file, nor reveal that anyone stored it (a slot answer is the same whether or not others
 * hold the bytes). So everyone else uploads the bytes in full; only after their upload is
 * verified may the server keep one stored object for both (worker/media/upload.ts), while each
 * upload keeps its own id, owner and access rules.
 *
 * Files over MEDIA_PART_SIZE are uploaded in parts (an R2 multipart upload, worker/media/multipart.ts);
 * asking again for the same bytes while such an upload of yours is unfinished resumes it.
 */
import { ulid } from 'ulid';
import {
  MEDIA_LIMITS,
  MEDIA_MULTIPART_TTL_MS,
  MEDIA_PENDING_TTL_MS,
  mediaMimeAllowed,
  mediaPartCount,
  type MediaKind,
} from '../../protocol/index.ts';
import { insertPendingMedia, ownCompleteMedia } from '../../db/media.ts';
import { partsOf, renewMultipartCapability, resumableMedia } from '../../db/media-parts.ts';
import { ApiError } from '../errors.ts';
import { issueCapability } from './capability.ts';
import { uploadKey } from './keys.ts';

/** A validated slot request (protocol MediaSlotRequestSchema output: mime reduced, hash lowercase). */
export type SlotRequest = { kind: MediaKind; mime: string; size: number; sha256: string };

export type Slot = {
      mediaId: string;
      capability: string;
      expiresAt: number;
      partCount: number;
      received: number[];
      /** The R2 multipart upload (partCount > 1). */
      uploadId: string | null;
};

/**
 * Throw the typed refusal of an upload the limits table does not allow (before any budget is
 * spent or anything stored).
 */
export function checkMediaLimits(request: SlotRequest): void {
  const limits = MEDIA_LIMITS[request.kind];
  if (!mediaMimeAllowed(request.kind, request.mime)) {
    throw new ApiError('media_type_not_allowed', `${request.mime} is not accepted as ${request.kind}`);
  }
  if (request.size > limits.maxBytes) {
    throw new ApiError('media_too_large', `${request.kind} uploads are limited to ${limits.maxBytes} bytes`);
  }
}

/** The id of `owner`'s own complete upload of these exact bytes and type (the deduplicated answer), if any. */
export async function ownCopy(env: Env, owner: string, request: SlotRequest): Promise<string | null> {
  return ownCompleteMedia(env.DB, owner, request.sha256, request.size, request.mime);
}

/**
 * A new pending upload for `owner` (or their unfinished multipart upload of the same bytes,
 * resumed). Callers answer `ownCopy` first and charge the budgets before this stores anything.
 *
 * @example
 * const slot = await openSlot(env, userId, { kind: 'image', mime: 'image/png', size: 1234, sha256 }, Date.now());
 */
export async function openSlot(env: Env, owner: string, request: SlotRequest, now: number): Promise<Slot> {
  checkMediaLimits(request);
  const partCount = mediaPartCount(request.size);
  if (partCount > 1) {
    const resumed = await resumeMultipart(env, owner, request, now);
    if (resumed !== null) return resumed;
  }
  const mediaId = ulid(now);
  const ttl = partCount > 1 ? MEDIA_MULTIPART_TTL_MS : undefined;
  const { capability, nonce, expiresAt } = await issueCapability(env.TOKEN_SECRET, mediaId, now, ttl);
  const uploadId = partCount > 1 ? (await env.MEDIA.createMultipartUpload(uploadKey(mediaId), { httpMetadata: { contentType: request.mime } })).uploadId : null;
  await insertPendingMedia(env.DB, {
    id: mediaId,
    ownerId: owner,
    kind: request.kind,
    mime: request.mime,
    size: request.size,
    sha256: request.sha256,
    uploadNonce: nonce,
    uploadExpiresAt: expiresAt,
    expiresAt: now + MEDIA_PENDING_TTL_MS,
    createdAt: now,
    uploadId,
  });
  return { mediaId, capability, expiresAt, partCount, received: [], uploadId };
}

/**
 * The owner's unfinished multipart upload of the same bytes, with a fresh capability (the old
 * one stops working) and the parts it holds, or null to start a new one. Capped at the slot's
 * own expiry: what the sweep may delete is never handed out again.
 */
async function resumeMultipart(env: Env, owner: string, request: SlotRequest, now: number): Promise<Slot | null> {
  const row = await resumableMedia(env.DB, owner, request.sha256, request.size, request.mime, now);
  if (row === null) return null;
  const ttl = Math.min(MEDIA_MULTIPART_TTL_MS, row.expiresAt - now);
  const { capability, nonce, expiresAt } = await issueCapability(env.TOKEN_SECRET, row.id, now, ttl);
  if (!(await renewMultipartCapability(env.DB, row.id, nonce, expiresAt))) return null;
  const received = (await partsOf(env.DB, row.id)).map((p) => p.part);
  return { mediaId: row.id, capability, expiresAt, partCount: mediaPartCount(row.size), received, uploadId: row.uploadId };
}
