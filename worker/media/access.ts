/**
 * Who may see a media item: its uploader, the recipient of a 1:1 message that named it, and the
 * current members of a group where a message named it (grants written when such a message is
 * sent: durable-objects/mailbox/media-check.ts). Everyone else gets `media_not_found`, the same
 * answer as for an id that does not exist, so ids cannot be probed.
 */
import { accessibleMediaRow, mediaRow } from '../../db/media.ts';
import type { MediaRow } from '../../db/schema.ts';
import { ApiError } from '../errors.ts';
import { verifyDownload } from './capability.ts';

/** The row of `mediaId` if `viewer` may see it (one D1 query); throws `media_not_found` otherwise. */
export async function visibleMedia(env: Env, viewer: string, mediaId: string): Promise<MediaRow> {
  const row = await accessibleMediaRow(env.DB, mediaId, viewer);
  if (row === null) throw new ApiError('media_not_found');
  return row;
}

/** Like visibleMedia, and its bytes must be verified and stored. */
export async function downloadableMedia(env: Env, viewer: string, mediaId: string): Promise<MediaRow> {
  const row = await visibleMedia(env, viewer, mediaId);
  if (row.status !== 'complete') throw new ApiError('media_not_found');
  return row;
}

/**
 * The complete media a signed download URL names, if its signature holds and it has not expired
 * (the access check was made when the URL was issued); `media_not_found` otherwise, the same
 * answer as for an id that does not exist.
 */
export async function signedMedia(env: Env, mediaId: string, expiresAt: number, sig: string, now: number): Promise<MediaRow> {
  if (!(await verifyDownload(env.TOKEN_SECRET, mediaId, expiresAt, sig, now))) throw new ApiError('media_not_found');
  const row = await mediaRow(env.DB, mediaId);
  if (row === null || row.status !== 'complete') throw new ApiError('media_not_found');
  return row;
}
