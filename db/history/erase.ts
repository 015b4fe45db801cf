/**
 * Deleting an account removes its history from the warm and cold tiers too: every archive
 * object of the owner (R2, by prefix) and every row of the owner in its shard (warm rows, chunk
 * index, search documents; the FTS index follows by trigger). Idempotent, so an account
 * deletion that failed half-way can run it again.
 */

/** R2 list pages are at most 1,000 keys; deletes take up to 1,000 keys at once. */
const LIST_LIMIT = 1_000;

export async function eraseOwner(db: D1Database, bucket: R2Bucket, owner: string): Promise<{ objects: number }> {
  let objects = 0;
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix: `history/${owner}/`, limit: LIST_LIMIT, ...(cursor === undefined ? {} : { cursor }) });
    if (page.objects.length > 0) await bucket.delete(page.objects.map((o) => o.key));
    objects += page.objects.length;
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor !== undefined);
  // Objects before rows: a retry finds what is left by prefix either way.
  await db.batch([
    db.prepare('DELETE FROM history_chunks WHERE owner = ?').bind(owner),
    db.prepare('DELETE FROM history_warm WHERE owner = ?').bind(owner),
    db.prepare('DELETE FROM search_docs WHERE owner = ?').bind(owner),
  ]);
  return { objects };
}
