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
 */
import { ulid } from 'ulid';
import { MEDIA_LIMITS, MEDIA_PENDING_TTL_MS, mediaMimeAllowed, type MediaKind } from '../../protocol/index.ts';
import { insertPendingMedia, ownCompleteMedia } from '../../db/media.ts';
import { ApiError } from '../errors.ts';
import { issueCapability } from './capability.ts';

/** A validated slot request (protocol MediaSlotRequestSchema output: mime reduced, hash lowercase). */
export type SlotRequest = { kind: MediaKind; mime: string; size: number; sha256: string };

export type Slot =
  | { mediaId: string; deduplicated: true }
  | { mediaId: string; deduplicated: false; capability: string; expiresAt: number };

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

/**
 * Answer a slot for `owner`: their own complete copy of these bytes, or a new pending upload.
 *
 * @example
 * const slot = await openSlot(env, userId, { kind: 'image', mime: 'image/png', size: 1234, sha256 }, Date.now());
 */
export async function openSlot(env: Env, owner: string, request: SlotRequest, now: number): Promise<Slot> {
  checkMediaLimits(request);
  const existing = await ownCompleteMedia(env.DB, owner, request.sha256, request.size, request.mime);
  if (existing !== null) return { mediaId: existing, deduplicated: true };
  const mediaId = ulid(now);
  const { capability, nonce, expiresAt } = await issueCapability(env.TOKEN_SECRET, mediaId, now);
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
  });
  return { mediaId, deduplicated: false, capability, expiresAt };
}
