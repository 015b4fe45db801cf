/**
 * Expiry of uploads that never completed (run by the Cron Trigger, worker/index.ts `scheduled`):
 * slots whose capability expired unused, uploads stuck half-way and refused uploads are deleted
 * with their R2 object (an unfinished multipart upload is aborted), and so are complete uploads
 * nothing ever named (no message, profile photo or group picture) once their slot expired.
 *
 * Order and races: rows are deleted first, in one conditional statement (see db/media.ts), and
 * only the objects of rows actually deleted are removed afterwards. A slot claimed just before
 * its expiry is `uploading`, no longer matches, and keeps its object; a deleted row can no longer
 * be claimed. An object another row still names (content addressing through blob_key) is kept.
 * A run that dies between the two steps leaves objects no row names: R2 lifecycle rules on the
 * bucket are the backstop for those (issue 12, Lifecycle).
 */
import { MEDIA_PENDING_TTL_MS } from '../../protocol/index.ts';
import { countMedia, deleteExpiredMedia, referencedBlobKeys } from '../../db/media.ts';
import { uploadKey } from './keys.ts';

/** Rows deleted per run at most; a backlog is worked off by the following runs. */
export const MEDIA_SWEEP_BATCH = 200;

/** Rows deleted, and R2 keys deleted (an unused slot never had an object; deleting it is harmless). */
export type SweepResult = { swept: number; keysDeleted: number };

/**
 * Delete expired uploads as of `now`: at most `limit` rows, idempotent (a second run finds
 * nothing more), safe next to concurrent uploads.
 *
 * @example
 * await sweepExpiredMedia(env, controller.scheduledTime);
 */
export async function sweepExpiredMedia(env: Env, now: number, limit = MEDIA_SWEEP_BATCH): Promise<SweepResult> {
  const rows = await deleteExpiredMedia(env.DB, now, now - MEDIA_PENDING_TTL_MS, limit);
  if (rows.length === 0) return { swept: 0, keysDeleted: 0 };
  // An unfinished multipart upload's parts are R2's until aborted (or its own 7-day cleanup).
  await Promise.allSettled(
    rows.flatMap((row) => (row.uploadId === null ? [] : [env.MEDIA.resumeMultipartUpload(uploadKey(row.id), row.uploadId).abort()])),
  );
  // Each row's own key, and the shared object a verified duplicate pointed at: kept while named.
  const keys = [...new Set(rows.flatMap((row) => [uploadKey(row.id), ...(row.blobKey === null ? [] : [row.blobKey])]))];
  const referenced = await referencedBlobKeys(env.DB, keys);
  const orphans = keys.filter((key) => !referenced.has(key));
  if (orphans.length > 0) await env.MEDIA.delete(orphans);
  await countMedia(env.DB, 'swept', rows.length);
  return { swept: rows.length, keysDeleted: orphans.length };
}
