/**
 * Media rows in D1 (the bytes are in R2: worker/media/). One row per upload slot; the status
 * moves pending → uploading (the capability was used) → complete | failed, each step one
 * conditional update so concurrent requests cannot both take it.
 */
import { and, eq, exists, gt, inArray, lte, ne, or, sql } from 'drizzle-orm';
import { accountsDb, type DbLike } from './accounts.ts';
import { groupMembers, media, mediaAccess, mediaCounters, type MediaRow } from './schema.ts';

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
  return or(eq(media.ownerId, user), exists(userGrant), exists(groupGrant));
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
  await accountsDb(db)
    .insert(mediaAccess)
    .values({ mediaId: id, granteeKind: grantee.kind, granteeId: grantee.id, grantedAt: now })
    .onConflictDoNothing();
}

// ---------------------------------------------------------------- expiry (worker/media/sweep.ts)

/**
 * Rows no upload can complete any more: `pending` past its capability's expiry (a claim needs
 * upload_expires_at > now, so none can start), `uploading` past the slot's expiry (24 h after the
 * slot: far beyond any request's lifetime, so no stream is still writing), `failed` older than
 * `failedBefore`. `complete` rows are never expired here.
 */
function expired(now: number, failedBefore: number) {
  return or(
    and(eq(media.status, 'pending'), lte(media.uploadExpiresAt, now)),
    and(eq(media.status, 'uploading'), lte(media.expiresAt, now)),
    and(eq(media.status, 'failed'), lte(media.createdAt, failedBefore)),
  );
}

/**
 * Delete up to `limit` expired rows in ONE statement (so a concurrent claim either took the row
 * first, and it is no longer pending, or finds it gone). Answers the ids actually deleted.
 */
export async function deleteExpiredMedia(db: DbLike, now: number, failedBefore: number, limit: number): Promise<string[]> {
  const d = accountsDb(db);
  const batch = d.select({ id: media.id }).from(media).where(expired(now, failedBefore)).limit(limit);
  const rows = await d
    .delete(media)
    .where(and(inArray(media.id, batch), expired(now, failedBefore)))
    .returning({ id: media.id });
  return rows.map((row) => row.id);
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
