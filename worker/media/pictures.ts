/**
 * Profile photos and group pictures through the media path: both must be complete `avatar`
 * uploads. A profile photo must be the user's own upload; who may download it follows the owner's
 * profile privacy (db/media.ts photoSeenBy). A group picture may be any avatar the admin may use
 * (their own, or the group's current one); the group is granted it, so its current members may
 * download it and nobody else.
 */
import { accessibleMediaRow, grantMedia, markMediaReferenced, mediaRow, releaseMedia, usableAvatar } from '../../db/media.ts';
import { ApiError } from '../errors.ts';

/** Throw unless `mediaId` is a complete avatar upload of `userId`'s own. */
export async function checkOwnAvatar(env: Env, userId: string, mediaId: string): Promise<void> {
  const row = await mediaRow(env.DB, mediaId);
  // Someone else's media answers exactly as a missing id: ids cannot be probed.
  if (row === null || row.ownerId !== userId) throw new ApiError('media_not_found');
  if (row.kind !== 'avatar' || row.status !== 'complete') {
    throw new ApiError('media_kind_mismatch', 'A profile photo must be a complete avatar upload (kind avatar)');
  }
}

/**
 * After the profile photo changed from `before` to `after`: the new one no longer expires, the
 * old one expires now unless a group picture or a message still names it (the sweep checks).
 */
export async function photoChanged(env: Env, before: string | null, after: string | null, now: number): Promise<void> {
  if (after !== null) await markMediaReferenced(env.DB, after, now);
  if (before !== null && before !== after) await releaseMedia(env.DB, before, now);
}

/** Throw unless `actor` may use `mediaId` as a group picture. */
export async function checkGroupPicture(env: Env, actor: string, mediaId: string): Promise<void> {
  if ((await usableAvatar(env.DB, mediaId, actor)) !== null) return;
  // Media the actor may not see answers exactly as a missing id.
  if ((await accessibleMediaRow(env.DB, mediaId, actor)) === null) throw new ApiError('media_not_found');
  throw new ApiError('media_kind_mismatch', 'A group picture must be a complete avatar upload (kind avatar)');
}

/** After a group's picture was set: its members may download it. */
export async function grantGroupPicture(env: Env, groupId: string, mediaId: string, now: number): Promise<void> {
  await grantMedia(env.DB, mediaId, { kind: 'group', id: groupId }, now);
}
