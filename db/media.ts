/**
 * Media rows in D1 (the bytes are in R2: worker/media/). One row per upload slot; the status
 * moves pending → uploading (the capability was used) → complete | failed, each step one
 * conditional update so concurrent requests cannot both take it.
 */
import { and, eq, gt, ne } from 'drizzle-orm';
import { accountsDb, type DbLike } from './accounts.ts';
import { media, type MediaRow } from './schema.ts';

export type NewMedia = Pick<
  MediaRow,
  'id' | 'ownerId' | 'kind' | 'mime' | 'size' | 'sha256' | 'uploadNonce' | 'uploadExpiresAt' | 'expiresAt' | 'createdAt'
>;

/** Store a new upload slot (status pending). */
export async function insertPendingMedia(db: DbLike, row: NewMedia): Promise<void> {
  await accountsDb(db)
    .insert(media)
    .values({ ...row, status: 'pending' });
}

/** The row of a media id, whatever its owner or status (callers decide who may see it). */
export async function mediaRow(db: DbLike, id: string): Promise<MediaRow | null> {
  const [row] = await accountsDb(db).select().from(media).where(eq(media.id, id)).limit(1);
  return row ?? null;
}

/** The id of a complete upload of these exact bytes and type by this owner, if any. */
export async function ownCompleteMedia(db: DbLike, owner: string, sha256: string, size: number, mime: string): Promise<string | null> {
  const [row] = await accountsDb(db)
    .select({ id: media.id })
    .from(media)
    .where(and(eq(media.ownerId, owner), eq(media.sha256, sha256), eq(media.size, size), eq(media.mime, mime), eq(media.status, 'complete')))
    .limit(1);
  return row?.id ?? null;
}

/**
 * Take the upload capability with this nonce: pending → uploading, nonce cleared, only while it
 * is unexpired. Answers the row, or null when it was used, expired or never existed.
 */
export async function claimUpload(db: DbLike, id: string, nonce: string, now: number): Promise<MediaRow | null> {
  const [row] = await accountsDb(db)
    .update(media)
    .set({ status: 'uploading', uploadNonce: null })
    .where(and(eq(media.id, id), eq(media.status, 'pending'), eq(media.uploadNonce, nonce), gt(media.uploadExpiresAt, now)))
    .returning();
  return row ?? null;
}

/** The stored object of another complete upload of the same bytes, if any (cross-user sharing of storage only). */
export async function sharedBlobKey(db: DbLike, sha256: string, size: number, exceptId: string): Promise<string | null> {
  const [row] = await accountsDb(db)
    .select({ blobKey: media.blobKey })
    .from(media)
    .where(and(eq(media.sha256, sha256), eq(media.size, size), eq(media.status, 'complete'), ne(media.id, exceptId)))
    .limit(1);
  return row?.blobKey ?? null;
}

/** uploading → complete with its object: one update. False if the row was not uploading. */
export async function completeMedia(db: DbLike, id: string, blobKey: string, now: number): Promise<MediaRow | null> {
  const [row] = await accountsDb(db)
    .update(media)
    .set({ status: 'complete', blobKey, completedAt: now })
    .where(and(eq(media.id, id), eq(media.status, 'uploading')))
    .returning();
  return row ?? null;
}

/** uploading → failed (the bytes did not match; nothing is stored). */
export async function failMedia(db: DbLike, id: string): Promise<void> {
  await accountsDb(db)
    .update(media)
    .set({ status: 'failed' })
    .where(and(eq(media.id, id), eq(media.status, 'uploading')));
}
