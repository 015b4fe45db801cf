/**
 * The cold tier: an owner's oldest history as gzip'd NDJSON objects in R2 (one per chat and UTC
 * month, at most 500 rows, seq ascending), indexed by `history_chunks` in the owner's shard.
 * Search docs of cold messages stay in D1.
 *
 * Crash safety: an object is always written before the index row naming it, and the index row is
 * inserted in the same D1 transaction that deletes the warm rows it holds. A failure between the
 * two leaves an object nothing names (invisible; a retry of the same rows rewrites the same key)
 * and the rows still warm: nothing lost, nothing shown twice.
 */
import { MAX_PARAMS, placeholders, slices } from './batching.ts';
import type { StoredRow } from './types.ts';

/** Default most rows one moveToCold call moves. */
const MAX_ROWS = 2_000;
/** Default most rows per chunk object. */
const CHUNK_ROWS = 500;
/** findCold's slack around a chunk's time range (clocks of senders and of the server differ). */
const FIND_SLACK_MS = 60_000;
/** Chunk index rows read per query while paging. */
const INDEX_PAGE = 32;
/** Seqs per delete statement (after ?1 = owner, ?2 = batch). */
const SEQS_PER_STATEMENT = MAX_PARAMS - 2;
const NO_BOUND = Number.MAX_SAFE_INTEGER;

/** A warm row on its way to cold, with the batch that wrote it. */
type DueRow = StoredRow & { batch: number };

/** An index row of history_chunks. */
type ChunkRef = { chat: string; first_seq: number; last_seq: number; key: string };

/** The object key of a chunk: `history/<owner>/<chat>/<firstSeq>-<lastSeq>.jsonl.gz`. */
export function chunkKey(owner: string, chat: string, firstSeq: number, lastSeq: number): string {
  return `history/${owner}/${chat}/${firstSeq}-${lastSeq}.jsonl.gz`;
}

/** 'YYYY-MM' of a time, UTC. */
function monthOf(at: number): string {
  return new Date(at).toISOString().slice(0, 7);
}

/**
 * Split due rows into chunks: by chat and UTC month, seq ascending, at most `chunkRows` each.
 * Deterministic, so a retry over the same rows produces the same chunks (and keys).
 */
export function planChunks<T extends StoredRow>(rows: readonly T[], chunkRows: number): T[][] {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const key = `${row.chat}\n${monthOf(row.at)}`;
    const group = groups.get(key);
    if (group) group.push(row);
    else groups.set(key, [row]);
  }
  const chunks: T[][] = [];
  for (const group of groups.values()) {
    group.sort((a, b) => a.seq - b.seq);
    chunks.push(...slices(group, chunkRows));
  }
  return chunks;
}

/**
 * Move warm rows sent before `olderThan` (oldest first, at most maxRows) to R2. Per chunk: the
 * object first, then one D1 batch inserting its index row and deleting those warm rows (only
 * where no newer batch rewrote them meanwhile; such a row stays warm and is moved next time).
 */
export async function moveToCold(
  db: D1Database,
  bucket: R2Bucket,
  owner: string,
  olderThan: number,
  opts: { maxRows?: number; chunkRows?: number } = {},
): Promise<{ chunks: number; rows: number }> {
  const { results } = await db
    .prepare('SELECT seq, chat, id, at, row, batch FROM history_warm WHERE owner = ? AND at < ? ORDER BY at, seq LIMIT ?')
    .bind(owner, olderThan, opts.maxRows ?? MAX_ROWS)
    .all<DueRow>();
  const chunks = planChunks(results, opts.chunkRows ?? CHUNK_ROWS);
  for (const chunk of chunks) {
    const bytes = await writeChunkObject(bucket, owner, chunk);
    await commitChunk(db, owner, chunk, bytes);
  }
  return { chunks: chunks.length, rows: results.length };
}

/** Step 1 of a chunk: its object in R2. Answers the stored size. */
export async function writeChunkObject(bucket: R2Bucket, owner: string, chunk: readonly StoredRow[]): Promise<number> {
  const first = chunk[0];
  const last = chunk[chunk.length - 1];
  if (!first || !last) throw new Error('empty chunk');
  return putRows(bucket, chunkKey(owner, first.chat, first.seq, last.seq), chunk);
}

/** Write rows as a chunk object under `key`; answers its size in bytes. */
async function putRows(bucket: R2Bucket, key: string, rows: readonly StoredRow[]): Promise<number> {
  const bytes = await gzipRows(rows);
  await bucket.put(key, bytes, { httpMetadata: { contentType: 'application/gzip' } });
  return bytes.byteLength;
}

/** Step 2 of a chunk: one D1 transaction inserting its index row and deleting its warm rows. */
export async function commitChunk(db: D1Database, owner: string, chunk: readonly DueRow[], bytes: number): Promise<void> {
  const first = chunk[0];
  const last = chunk[chunk.length - 1];
  if (!first || !last) throw new Error('empty chunk');
  const ats = chunk.map((row) => row.at);
  // A row rewritten by a later batch after it was read is newer than what the object holds: keep it warm.
  const newestBatch = Math.max(...chunk.map((row) => row.batch));
  const statements = [
    db
      .prepare(
        `INSERT OR REPLACE INTO history_chunks (owner, chat, first_seq, last_seq, first_at, last_at, count, bytes, key)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .bind(owner, first.chat, first.seq, last.seq, Math.min(...ats), Math.max(...ats), chunk.length, bytes, chunkKey(owner, first.chat, first.seq, last.seq)),
    ...slices(
      chunk.map((row) => row.seq),
      SEQS_PER_STATEMENT,
    ).map((seqs) =>
      db
        .prepare(`DELETE FROM history_warm WHERE owner = ?1 AND batch <= ?2 AND seq IN (${placeholders(3, seqs.length)})`)
        .bind(owner, newestBatch, ...seqs),
    ),
  ];
  await db.batch(statements);
}

/**
 * A page of one chat's cold rows: seq < before, seq > floor, newest first, at most `limit`, each
 * seq once. Walks the chat's chunks by last_seq, newest first, reading an object only while the
 * rows found so far might still be beaten by it (chunks of one chat can overlap in seq: months
 * are by send time, and rows that stayed hot longer, e.g. starred, go cold later).
 */
export async function coldPage(
  db: D1Database,
  bucket: R2Bucket,
  owner: string,
  chat: string,
  opts: { before?: number; floor: number; limit: number },
): Promise<StoredRow[]> {
  const before = opts.before ?? NO_BOUND;
  if (opts.limit <= 0) return [];
  const found = new Map<number, StoredRow>();
  let cursor = NO_BOUND;
  for (;;) {
    const refs = await chunkRefs(db, owner, chat, before, opts.floor, cursor);
    for (const [i, ref] of refs.entries()) {
      for (const row of await readChunk(bucket, ref.key)) {
        if (row.seq < before && row.seq > opts.floor && !found.has(row.seq)) found.set(row.seq, row);
      }
      // Every chunk not read yet holds only seqs <= its last_seq <= the next one's.
      const next = refs[i + 1]?.last_seq;
      if (next !== undefined && countAbove(found, next) >= opts.limit) return newest(found, opts.limit);
    }
    const last = refs[refs.length - 1];
    if (refs.length < INDEX_PAGE || !last) break;
    // The next index page's chunks all end at or below this one's last: enough already?
    if (countAbove(found, last.last_seq) >= opts.limit) break;
    cursor = last.last_seq;
  }
  return newest(found, opts.limit);
}

/** A page of chunk index rows that may hold seqs in (floor, before), last_seq below `cursor`, newest first. */
async function chunkRefs(db: D1Database, owner: string, chat: string, before: number, floor: number, cursor: number): Promise<ChunkRef[]> {
  const { results } = await db
    .prepare(
      `SELECT chat, first_seq, last_seq, key FROM history_chunks
       WHERE owner = ? AND chat = ? AND last_seq > ? AND last_seq < ? AND first_seq < ?
       ORDER BY last_seq DESC LIMIT ?`,
    )
    .bind(owner, chat, floor, cursor, before, INDEX_PAGE)
    .all<ChunkRef>();
  return results;
}

function countAbove(found: Map<number, StoredRow>, seq: number): number {
  let n = 0;
  for (const key of found.keys()) if (key > seq) n++;
  return n;
}

function newest(found: Map<number, StoredRow>, limit: number): StoredRow[] {
  return [...found.values()].sort((a, b) => b.seq - a.seq).slice(0, limit);
}

/**
 * The cold row of a message by its server id: looked for in the chat's chunks whose time range
 * (give or take a minute) holds `at`, the message's send time.
 */
export async function findCold(
  db: D1Database,
  bucket: R2Bucket,
  owner: string,
  chat: string,
  id: string,
  at: number,
): Promise<(StoredRow & { chunk: string }) | null> {
  const { results } = await db
    .prepare('SELECT key FROM history_chunks WHERE owner = ? AND chat = ? AND first_at <= ? AND last_at >= ? ORDER BY last_seq DESC')
    .bind(owner, chat, at + FIND_SLACK_MS, at - FIND_SLACK_MS)
    .all<{ key: string }>();
  for (const { key } of results) {
    const row = (await readChunk(bucket, key)).find((r) => r.id === id);
    if (row) return { ...row, chunk: key };
  }
  return null;
}

/**
 * Remove one message from a chunk (it was brought back hot): the object is rewritten without it
 * under the same key (or, when it was the last row, the index row and then the object are
 * deleted), the index row follows, and the message's search doc is deleted. Idempotent: a retry
 * after a failure anywhere converges on the same state.
 */
export async function removeFromCold(db: D1Database, bucket: R2Bucket, owner: string, chunk: string, seq: number): Promise<void> {
  const deleteDoc = db.prepare('DELETE FROM search_docs WHERE owner = ? AND seq = ?').bind(owner, seq);
  const ref = await db
    .prepare('SELECT chat, first_seq, last_seq, key FROM history_chunks WHERE owner = ? AND key = ?')
    .bind(owner, chunk)
    .first<ChunkRef>();
  if (!ref) {
    // No index row: the object was already emptied (only its deletion failed) or never committed.
    await deleteDoc.run();
    await bucket.delete(chunk);
    return;
  }
  const stored = await readChunk(bucket, chunk);
  const rows = stored.filter((row) => row.seq !== seq);
  const indexRow = [owner, ref.chat, ref.last_seq] as const;
  if (rows.length === 0) {
    await db.batch([db.prepare('DELETE FROM history_chunks WHERE owner = ? AND chat = ? AND last_seq = ?').bind(...indexRow), deleteDoc]);
    await bucket.delete(chunk);
    return;
  }
  // Already rewritten by an earlier attempt whose D1 step failed: only the index row is left to do.
  const size = rows.length < stored.length ? await putRows(bucket, chunk, rows) : ((await bucket.head(chunk))?.size ?? 0);
  const ats = rows.map((row) => row.at);
  await db.batch([
    db
      .prepare(
        `UPDATE history_chunks SET first_seq = ?, last_seq = ?, first_at = ?, last_at = ?, count = ?, bytes = ?
         WHERE owner = ? AND chat = ? AND last_seq = ?`,
      )
      .bind(rows[0]?.seq, rows[rows.length - 1]?.seq, Math.min(...ats), Math.max(...ats), rows.length, size, ...indexRow),
    deleteDoc,
  ]);
}

/** The rows of a chunk object, seq ascending. A missing object named by the index is an error, never an empty page. */
export async function readChunk(bucket: R2Bucket, key: string): Promise<StoredRow[]> {
  const object = await bucket.get(key);
  if (!object) throw new Error(`history chunk ${key} is missing from R2`);
  const text = await new Response(object.body.pipeThrough(new DecompressionStream('gzip'))).text();
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as StoredRow);
}

/** NDJSON of the rows (StoredRow fields only, one per line), gzip'd. */
async function gzipRows(rows: readonly StoredRow[]): Promise<Uint8Array> {
  const text = rows.map((r) => JSON.stringify({ seq: r.seq, chat: r.chat, id: r.id, at: r.at, row: r.row })).join('\n') + '\n';
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
