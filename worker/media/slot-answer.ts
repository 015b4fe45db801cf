/**
 * The upload instructions of a new (or resumed) slot (protocol MediaUpload): the Worker's own
 * capability URLs, or, with direct uploads configured (direct.ts), R2 presigned URLs for the
 * bytes while status and completion stay on the Worker.
 */
import { MEDIA_PART_SIZE, PATHS, type MediaUpload } from '../../protocol/index.ts';
import type { DirectUploadConfig } from './direct.ts';
import { presignPut } from './direct.ts';
import { uploadKey } from './keys.ts';
import type { Slot } from './slot.ts';

/**
 * @example
 * const upload = await uploadOf(slot, 'image/png', c.req.url, directUploadConfig(c.env), Date.now());
 */
export async function uploadOf(slot: Slot, mime: string, base: string, direct: DirectUploadConfig | null, now: number): Promise<MediaUpload> {
  const cap = `?cap=${encodeURIComponent(slot.capability)}`;
  const at = (path: string): string => new URL(`${path}${cap}`, base).toString();
  const headers = { 'Content-Type': mime };
  const key = uploadKey(slot.mediaId);
  if (slot.partCount === 1) {
    if (direct === null) return { mode: 'single', url: at(PATHS.mediaContent(slot.mediaId)), method: 'PUT', headers, expiresAt: slot.expiresAt };
    const url = await presignPut(direct, key, now, slot.expiresAt);
    return { mode: 'single', url, method: 'PUT', headers, expiresAt: slot.expiresAt, completeUrl: at(PATHS.mediaComplete(slot.mediaId)) };
  }
  const numbers = Array.from({ length: slot.partCount }, (_, i) => i + 1);
  const { uploadId } = slot;
  const partUrls =
    direct === null || uploadId === null
      ? numbers.map((n) => at(PATHS.mediaPart(slot.mediaId, n)))
      : await Promise.all(numbers.map((partNumber) => presignPut(direct, key, now, slot.expiresAt, { uploadId, partNumber })));
  return {
    mode: 'multipart',
    partSize: MEDIA_PART_SIZE,
    partCount: slot.partCount,
    partUrls,
    method: 'PUT',
    headers,
    statusUrl: at(PATHS.mediaParts(slot.mediaId)),
    completeUrl: at(PATHS.mediaComplete(slot.mediaId)),
    expiresAt: slot.expiresAt,
    received: slot.received,
  };
}
