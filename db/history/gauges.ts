/**
 * Operators' gauges of one history shard (GET /v1/metrics sums them over shards). Each is an
 * aggregate over a whole table: D1 bills every row these read, so call it from the metrics route
 * only, not per request.
 */

export type ShardGauges = {
  warmRows: number;
  /** Sum of the warm rows' `row` lengths (characters of JSON). */
  warmBytes: number;
  coldChunks: number;
  coldMessages: number;
  /** Stored (gzip'd) bytes of the chunk objects. */
  coldBytes: number;
  searchDocs: number;
  /** How far behind the cold move is: now - coldAfterMs - the oldest warm row's time, at least 0. */
  coldLagMs: number;
};

/** Counts and sizes of a shard's tiers; `coldLagMs` is 0 when nothing is warm. */
export async function shardGauges(db: D1Database, coldAfterMs: number, now: number): Promise<ShardGauges> {
  const [warm, cold, docs] = await db.batch<Record<string, number | null>>([
    db.prepare('SELECT count(*) AS n, coalesce(sum(length(row)), 0) AS bytes, min(at) AS oldest FROM history_warm'),
    db.prepare('SELECT count(*) AS n, coalesce(sum(count), 0) AS messages, coalesce(sum(bytes), 0) AS bytes FROM history_chunks'),
    db.prepare('SELECT count(*) AS n FROM search_docs'),
  ]);
  const w = warm?.results[0] ?? {};
  const c = cold?.results[0] ?? {};
  const oldest = w.oldest ?? null;
  return {
    warmRows: Number(w.n ?? 0),
    warmBytes: Number(w.bytes ?? 0),
    coldChunks: Number(c.n ?? 0),
    coldMessages: Number(c.messages ?? 0),
    coldBytes: Number(c.bytes ?? 0),
    searchDocs: Number(docs?.results[0]?.n ?? 0),
    coldLagMs: oldest === null ? 0 : Math.max(0, now - coldAfterMs - oldest),
  };
}
