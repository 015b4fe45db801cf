/**
 * Who may see a media item. This slice: its uploader only. Everyone else gets `media_not_found`,
 * the same answer as for an id that does not exist, so ids cannot be probed. (Participants of a
 * conversation whose message names the media come with message bodies.)
 */
import { mediaRow } from '../../db/media.ts';
import type { MediaRow } from '../../db/schema.ts';
import { ApiError } from '../errors.ts';

/** The row of `mediaId` if `viewer` may see it; throws `media_not_found` otherwise. */
export async function visibleMedia(env: Env, viewer: string, mediaId: string): Promise<MediaRow> {
  const row = await mediaRow(env.DB, mediaId);
  if (row === null || row.ownerId !== viewer) throw new ApiError('media_not_found');
  return row;
}

/** Like visibleMedia, and its bytes must be verified and stored. */
export async function downloadableMedia(env: Env, viewer: string, mediaId: string): Promise<MediaRow> {
  const row = await visibleMedia(env, viewer, mediaId);
  if (row.status !== 'complete') throw new ApiError('media_not_found');
  return row;
}
