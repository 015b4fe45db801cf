/**
 * Media rows in D1 (the bytes are in R2: worker/media/). One row per upload slot; the status
 * moves pending → uploading (the capability was used) → complete | failed, each step one
 * conditional update so concurrent requests cannot both take it.
 */
import { and, eq, exists, gt, inArray, isNull, lte, ne, notExists, or, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/sqlite-core';
import { accountsDb, type DbLike } from './accounts.ts';
import { blocks, contacts, groupMembers, media, mediaAccess, mediaCounters, mediaParts, users, type MediaRow } from './schema.ts';

export type NewMedia = Pick<
  MediaRow,
  'id' | 'ownerId' | 'kind' | 'mime' | 'size' | 'sha256' | 'uploadNonce' | 'uploadExpiresAt' | 'expiresAt' | 'createdAt' | 'uploadId'
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
 * Take the single-PUT upload capability with this nonce: pending → uploading, nonce cleared, only
 * while it is unexpired (a multipart upload is taken by db/media-parts.ts claimMultipart). Answers the row, or null when it was used, expired or never existed.
 */
export async function claimUpload(db: DbLike, id: string, nonce: string, now: number): Promise<MediaRow | null> {
  const [row] = await accountsDb(db)
    .update(media)
    .set({ status: 'uploading', uploadNonce: null })
    .where(
      and(eq(media.id, id), eq(media.status, 'pending'), eq(media.uploadNonce, nonce), gt(media.uploadExpiresAt, now), isNull(media.uploadId)),
    )
    .returning();
  return row ?? null;
}

/** A stored object: its key, and the entity tag it must still have when it was uploaded straight to R2. */
export type StoredBlob = { key: string; etag: string | null };

/** The stored object of another complete upload of the same bytes, if any (cross-user sharing of storage only). */
export async function sharedBlob(db: DbLike, sha256: string, size: number, exceptId: string): Promise<StoredBlob | null> {
  const [row] = await accountsDb(db)
    .select({ key: media.blobKey, etag: media.blobEtag })
    .from(media)
    .where(and(eq(media.sha256, sha256), eq(media.size, size), eq(media.status, 'complete'), ne(media.id, exceptId)))
    .limit(1);
  return row?.key ? { key: row.key, etag: row.etag } : null;
}

/** uploading → complete with its object: one update. False if the row was not uploading. */
export async function completeMedia(db: DbLike, id: string, blob: StoredBlob, now: number): Promise<MediaRow | null> {
  const [row] = await accountsDb(db)
    .update(media)
    .set({ status: 'complete', blobKey: blob.key, blobEtag: blob.etag, completedAt: now, uploadId: null })
    .where(and(eq(media.id, id), eq(media.status, 'uploading')))
    .returning();
  return row ?? null;
}

/** uploading → failed (the bytes did not match; nothing is stored). */
export async function failMedia(db: DbLike, id: string): Promise<void> {
  await accountsDb(db)
    .update(media)
    .set({ status: 'failed', uploadId: null })
    .where(and(eq(media.id, id), eq(media.status, 'uploading')));
}

// ---------------------------------------------------------------- access (messages naming media)

/**
 * Whether `user` may use media `id`: they uploaded it, it was granted to them, or it was granted
 * to a group they are a member of now (the group_members mirror: a removed member loses access).
 */
function usableBy(db: DbLike, user: string) {
  const d = accountsDb(db);
  const userGrant = d
    .select({ one: sql`1` })
    .from(mediaAccess)
    .where(and(eq(mediaAccess.mediaId, media.id), eq(mediaAccess.granteeKind, 'user'), eq(mediaAccess.granteeId, user)));
  const groupGrant = d
    .select({ one: sql`1` })
    .from(mediaAccess)
    .innerJoin(groupMembers, and(eq(groupMembers.groupId, mediaAccess.granteeId), eq(groupMembers.userId, user)))
    .where(and(eq(mediaAccess.mediaId, media.id), eq(mediaAccess.granteeKind, 'group')));
  return or(eq(media.ownerId, user), exists(userGrant), exists(groupGrant), exists(photoSeenBy(db, user)));
}

/**
 * Profile photos: someone's current photo is visible to `viewer` under the same rule as their
 * about (db/privacy.ts aboutVisible): never to someone the owner blocked; to everyone, to the
 * owner's contacts, or to nobody, as the owner's `privacy.profile` says.
 */
function photoSeenBy(db: DbLike, viewer: string) {
  const owner = alias(users, 'photo_owner');
  return accountsDb(db)
    .select({ one: sql`1` })
    .from(owner)
    .where(
      and(
        eq(owner.photo, media.id),
        isNull(owner.deletedAt),
        notExists(
          accountsDb(db)
            .select({ one: sql`1` })
            .from(blocks)
            .where(and(eq(blocks.ownerId, owner.id), eq(blocks.blockedId, viewer))),
        ),
        or(
          eq(owner.profileVisibility, 'everyone'),
          and(
            eq(owner.profileVisibility, 'contacts'),
            exists(
              accountsDb(db)
                .select({ one: sql`1` })
                .from(contacts)
                .where(and(eq(contacts.ownerId, owner.id), eq(contacts.contactId, viewer))),
            ),
          ),
        ),
      ),
    );
}

/** The row of `id` if `viewer` may see it (uploader or grantee), else null: one query. */
export async function accessibleMediaRow(db: DbLike, id: string, viewer: string): Promise<MediaRow | null> {
  const [row] = await accountsDb(db)
    .select()
    .from(media)
    .where(and(eq(media.id, id), usableBy(db, viewer)))
    .limit(1);
  return row ?? null;
}

/**
 * Whether a message body may name media `id` with this type and size: the upload is complete,
 * matches both, and `sender` may use it (uploaded it or may download it: forwarding). One query.
 */
export async function sendableMedia(db: DbLike, id: string, mime: string, size: number, sender: string): Promise<boolean> {
  const [row] = await accountsDb(db)
    .select({ id: media.id })
    .from(media)
    .where(and(eq(media.id, id), eq(media.status, 'complete'), eq(media.mime, mime), eq(media.size, size), usableBy(db, sender)))
    .limit(1);
  return row !== undefined;
}

/** Grant `grantee` download access to media `id` (idempotent: an existing grant is kept as is). */
export async function grantMedia(db: DbLike, id: string, grantee: { kind: 'user' | 'group'; id: string }, now: number): Promise<void> {
  const d = accountsDb(db);
  await d.batch([
    d.insert(mediaAccess).values({ mediaId: id, granteeKind: grantee.kind, granteeId: grantee.id, grantedAt: now }).onConflictDoNothing(),
    d.update(media).set({ referencedAt: now }).where(and(eq(media.id, id), isNull(media.referencedAt))),
  ]);
}

/** Record that something (a profile photo) names media `id`: it no longer expires unreferenced. */
export async function markMediaReferenced(db: DbLike, id: string, now: number): Promise<void> {
  await accountsDb(db)
    .update(media)
    .set({ referencedAt: now })
    .where(and(eq(media.id, id), isNull(media.referencedAt)));
}

/**
 * Nothing names media `id` any more through its owner's profile (a photo was replaced or
 * removed): it expires at `now` unless a message or group still names it (grants) — the sweep
 * checks that, and whether it became someone's photo again, before deleting anything.
 */
export async function releaseMedia(db: DbLike, id: string, now: number): Promise<void> {
  await accountsDb(db).update(media).set({ referencedAt: null, expiresAt: now }).where(eq(media.id, id));
}

/**
 * The complete `avatar` upload `id` if `user` may set it as a picture (their own upload, or one
 * they may download, e.g. a picture another admin set), else null.
 */
export async function usableAvatar(db: DbLike, id: string, user: string): Promise<MediaRow | null> {
  const [row] = await accountsDb(db)
    .select()
    .from(media)
    .where(and(eq(media.id, id), eq(media.kind, 'avatar'), eq(media.status, 'complete'), usableBy(db, user)))
    .limit(1);
  return row ?? null;
}

// ---------------------------------------------------------------- expiry (worker/media/sweep.ts)

/**
 * Rows to delete: `pending` past its capability's expiry (a claim needs upload_expires_at > now,
 * so none can start), `uploading` past the slot's expiry (24 h after the slot: far beyond any
 * request's lifetime, so no stream is still writing), `failed` older than `failedBefore`, and
 * `complete` uploads past their expiry that nothing names: no message grant, no one's profile
 * photo, and never referenced since (or released when a photo was replaced).
 */
function expired(db: DbLike, now: number, failedBefore: number) {
  const d = accountsDb(db);
  return or(
    and(eq(media.status, 'pending'), lte(media.uploadExpiresAt, now)),
    and(eq(media.status, 'uploading'), lte(media.expiresAt, now)),
    and(eq(media.status, 'failed'), lte(media.createdAt, failedBefore)),
    and(
      eq(media.status, 'complete'),
      isNull(media.referencedAt),
      lte(media.expiresAt, now),
      notExists(d.select({ one: sql`1` }).from(mediaAccess).where(eq(mediaAccess.mediaId, media.id))),
      notExists(d.select({ one: sql`1` }).from(users).where(eq(users.photo, media.id))),
    ),
  );
}

/** What the sweep deleted: the row's id, its object key and its unfinished R2 multipart upload. */
export type ExpiredMedia = { id: string; blobKey: string | null; uploadId: string | null };

/**
 * Delete up to `limit` expired rows (and the parts of unfinished multipart uploads among them)
 * in one batch (so a concurrent claim either took the row first, and it no longer matches, or
 * finds it gone). Answers the rows actually deleted.
 */
export async function deleteExpiredMedia(db: DbLike, now: number, failedBefore: number, limit: number): Promise<ExpiredMedia[]> {
  const d = accountsDb(db);
  const candidates = await d.select({ id: media.id }).from(media).where(expired(db, now, failedBefore)).limit(limit);
  if (candidates.length === 0) return [];
  const ids = candidates.map((row) => row.id);
  const [, rows] = await d.batch([
    d.delete(mediaParts).where(inArray(mediaParts.mediaId, ids)),
    d
      .delete(media)
      .where(and(inArray(media.id, ids), expired(db, now, failedBefore)))
      .returning({ id: media.id, blobKey: media.blobKey, uploadId: media.uploadId }),
  ]);
  return rows;
}

/** Which of these R2 keys some media row still names as its stored object. */
export async function referencedBlobKeys(db: DbLike, keys: string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const rows = await accountsDb(db).selectDistinct({ key: media.blobKey }).from(media).where(inArray(media.blobKey, keys));
  return new Set(rows.flatMap((row) => (row.key === null ? [] : [row.key])));
}

/** Add `n` to a media counter (e.g. 'swept'). */
export async function countMedia(db: DbLike, name: string, n: number): Promise<void> {
  if (n <= 0) return;
  await accountsDb(db)
    .insert(mediaCounters)
    .values({ name, count: n })
    .onConflictDoUpdate({ target: mediaCounters.name, set: { count: sql`${mediaCounters.count} + ${n}` } });
}

export type MediaTotals = {
  /** Complete uploads, and the bytes of the objects they are stored in (a shared object once). */
  stored: { count: number; bytes: number };
  /** Uploads not finished yet: slots not used and uploads in progress. */
  pending: number;
  failed: number;
  /**
   * Complete uploads whose bytes are another upload's object (verified duplicates): their
   * blob_key is not their own upload key `blobs/<id>` (worker/media/upload.ts uploadKey).
   */
  dedupHits: number;
  /** Rows deleted by expiry sweeps so far. */
  swept: number;
};

/** The media figures of GET /v1/metrics. */
export async function mediaTotals(db: DbLike): Promise<MediaTotals> {
  const d = accountsDb(db);
  const objects = d
    .select({ size: sql<number>`max(${media.size})`.as('size') })
    .from(media)
    .where(eq(media.status, 'complete'))
    .groupBy(media.blobKey)
    .as('objects');
  const [statuses, bytes, counters] = await Promise.all([
    d
      .select({
        complete: sql<number>`sum(case when ${media.status} = 'complete' then 1 else 0 end)`,
        pending: sql<number>`sum(case when ${media.status} in ('pending', 'uploading') then 1 else 0 end)`,
        failed: sql<number>`sum(case when ${media.status} = 'failed' then 1 else 0 end)`,
        shared: sql<number>`sum(case when ${media.status} = 'complete' and ${media.blobKey} <> 'blobs/' || ${media.id} then 1 else 0 end)`,
      })
      .from(media),
    d.select({ bytes: sql<number>`sum(${objects.size})` }).from(objects),
    d.select().from(mediaCounters),
  ]);
  const [totals] = statuses;
  const swept = counters.find((row) => row.name === 'swept')?.count ?? 0;
  return {
    stored: { count: Number(totals?.complete ?? 0), bytes: Number(bytes[0]?.bytes ?? 0) },
    pending: Number(totals?.pending ?? 0),
    failed: Number(totals?.failed ?? 0),
    dedupHits: Number(totals?.shared ?? 0),
    swept,
  };
}

/**
 * A message naming media `id` was deleted for everyone: `grantee` (the recipient, or the group)
 * may no longer download it. When no grant is left, nothing names it any more: it expires now and
 * the sweep deletes the bytes (unless it became a profile photo meanwhile; the sweep checks).
 */
export async function revokeMediaGrant(db: DbLike, id: string, grantee: { kind: 'user' | 'group'; id: string }, now: number): Promise<void> {
  const d = accountsDb(db);
  await d.batch([
    d.delete(mediaAccess).where(and(eq(mediaAccess.mediaId, id), eq(mediaAccess.granteeKind, grantee.kind), eq(mediaAccess.granteeId, grantee.id))),
    d
      .update(media)
      .set({ referencedAt: null, expiresAt: now })
      .where(and(eq(media.id, id), notExists(d.select({ one: sql`1` }).from(mediaAccess).where(eq(mediaAccess.mediaId, id))))),
  ]);
}
