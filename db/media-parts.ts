/**
 * Multipart uploads in D1 (files over MEDIA_PART_SIZE; worker/media/multipart.ts): resuming an
 * unfinished upload with a fresh capability, and the parts received so far with their R2 entity
 * tags. The upload's capability nonce stays on the row while parts arrive (unlike a single PUT's,
 * it is used many times) and is replaced when the upload is resumed, so an older URL stops working.
 */
import { and, asc, eq, gt, isNotNull } from 'drizzle-orm';
import { accountsDb, type DbLike } from './accounts.ts';
import { media, mediaParts, type MediaRow } from './schema.ts';

/** The unfinished multipart upload of these exact bytes and type by this owner, if one can still be resumed. */
export async function resumableMedia(db: DbLike, owner: string, sha256: string, size: number, mime: string, now: number): Promise<MediaRow | null> {
  const [row] = await accountsDb(db)
    .select()
    .from(media)
    .where(
      and(
        eq(media.ownerId, owner),
        eq(media.sha256, sha256),
        eq(media.size, size),
        eq(media.mime, mime),
        eq(media.status, 'pending'),
        isNotNull(media.uploadId),
        gt(media.expiresAt, now),
      ),
    )
    .limit(1);
  return row ?? null;
}

/** Replace the capability of a pending multipart upload (the previous one stops working). */
export async function renewMultipartCapability(db: DbLike, id: string, nonce: string, uploadExpiresAt: number): Promise<boolean> {
  const rows = await accountsDb(db)
    .update(media)
    .set({ uploadNonce: nonce, uploadExpiresAt })
    .where(and(eq(media.id, id), eq(media.status, 'pending'), isNotNull(media.uploadId)))
    .returning({ id: media.id });
  return rows.length === 1;
}

/** The pending multipart upload `id` if `nonce` is its live capability, else null. */
export async function openMultipart(db: DbLike, id: string, nonce: string, now: number): Promise<MediaRow | null> {
  const [row] = await accountsDb(db)
    .select()
    .from(media)
    .where(and(eq(media.id, id), eq(media.status, 'pending'), eq(media.uploadNonce, nonce), gt(media.uploadExpiresAt, now), isNotNull(media.uploadId)))
    .limit(1);
  return row ?? null;
}

export type PartRow = { part: number; etag: string; size: number };

/** Record a part (a part sent again replaces the earlier one's entity tag). */
export async function recordPart(db: DbLike, mediaId: string, part: PartRow): Promise<void> {
  await accountsDb(db)
    .insert(mediaParts)
    .values({ mediaId, ...part })
    .onConflictDoUpdate({ target: [mediaParts.mediaId, mediaParts.part], set: { etag: part.etag, size: part.size } });
}

/** The parts received for `mediaId`, by part number. */
export async function partsOf(db: DbLike, mediaId: string): Promise<PartRow[]> {
  return accountsDb(db)
    .select({ part: mediaParts.part, etag: mediaParts.etag, size: mediaParts.size })
    .from(mediaParts)
    .where(eq(mediaParts.mediaId, mediaId))
    .orderBy(asc(mediaParts.part));
}

/** Forget the parts of a finished (complete or refused) upload. */
export async function dropParts(db: DbLike, mediaId: string): Promise<void> {
  await accountsDb(db).delete(mediaParts).where(eq(mediaParts.mediaId, mediaId));
}

/**
 * Take a multipart upload for completion: pending → uploading, nonce cleared (no part is
 * accepted any more), only with its live capability. Answers the row, or null.
 */
export async function claimMultipart(db: DbLike, id: string, nonce: string, now: number): Promise<MediaRow | null> {
  const [row] = await accountsDb(db)
    .update(media)
    .set({ status: 'uploading', uploadNonce: null })
    .where(and(eq(media.id, id), eq(media.status, 'pending'), eq(media.uploadNonce, nonce), gt(media.uploadExpiresAt, now), isNotNull(media.uploadId)))
    .returning();
  return row ?? null;
}
