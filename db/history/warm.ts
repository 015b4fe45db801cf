/**
 * The warm tier: message copies that left an owner's Durable Object, in the owner's history shard
 * (`history_warm`), with their search documents (`search_docs`, indexed by `search_fts`).
 * Writes come from the `history-archive` queue consumer, reads from the owner's object.
 */
import { MAX_PARAMS, placeholders, runBatches, slices } from './batching.ts';
import type { ArchivedRow, StoredRow } from './types.ts';

/** Columns of a StoredRow, in SELECT order. */
const STORED = 'seq, chat, id, at, row';
/** Rows per multi-row statement: ?1 = owner, ?2 = batch, then 7 per row (within MAX_PARAMS). */
const ROWS_PER_STATEMENT = Math.floor((MAX_PARAMS - 2) / 7);
/** Seqs per `seq IN (...)` statement, after ?1 = owner and ?2 = batch. */
const SEQS_PER_STATEMENT = MAX_PARAMS - 2;

/** An upper bound for `before` when a page starts at the newest row. */
const NO_BOUND = Number.MAX_SAFE_INTEGER;

/**
 * Store a batch of archived rows (idempotent). A row is written unless the shard already holds that
 * seq from a newer batch; its search doc is then upserted, or deleted when the row has no
 * searchable text. Redelivered and stale batches therefore change nothing. One db.batch (one
 * transaction) for up to ~460 rows; larger inputs take several, each a whole number of rows.
 */
export async function putWarm(db: D1Database, owner: string, batch: number, rows: ArchivedRow[]): Promise<void> {
  const groups = slices(rows, ROWS_PER_STATEMENT).map((slice) => sliceStatements(db, owner, batch, slice));
  await runBatches(db, groups);
}

/** The statements storing one slice of rows: warm upsert, then search-doc upsert and delete. */
function sliceStatements(db: D1Database, owner: string, batch: number, rows: ArchivedRow[]): D1PreparedStatement[] {
  const statements = [warmUpsert(db, owner, batch, rows)];
  const indexed = rows.filter(isSearchable);
  if (indexed.length > 0) statements.push(docUpsert(db, owner, batch, indexed));
  const unindexed = rows.filter((row) => !isSearchable(row));
  if (unindexed.length > 0) statements.push(docDelete(db, owner, batch, unindexed.map((row) => row.seq)));
  return statements;
}

/** A search doc needs text, and a message id and sender for the hit it becomes. */
function isSearchable(row: ArchivedRow): row is ArchivedRow & { text: string; id: string; sender: string } {
  return row.text !== null && row.id !== null && row.sender !== null;
}

function warmUpsert(db: D1Database, owner: string, batch: number, rows: ArchivedRow[]): D1PreparedStatement {
  const values = rows.map((_, i) => {
    const p = 3 + i * 7;
    return `(?1, ?${p}, ?${p + 1}, ?${p + 2}, ?${p + 3}, ?${p + 4}, ?${p + 5}, ?2, ?${p + 6})`;
  });
  const sql = `INSERT INTO history_warm (owner, seq, chat, id, sender, at, kind, batch, row) VALUES ${values.join(', ')}
    ON CONFLICT (owner, seq) DO UPDATE SET chat = excluded.chat, id = excluded.id, sender = excluded.sender, at = excluded.at,
      kind = excluded.kind, batch = excluded.batch, row = excluded.row
    WHERE excluded.batch >= history_warm.batch`;
  const params = rows.flatMap((r) => [r.seq, r.chat, r.id, r.sender, r.at, r.kind, r.row]);
  return db.prepare(sql).bind(owner, batch, ...params);
}

/**
 * Upsert the docs of rows whose warm row now carries this batch (just written, or already equal):
 * a row a newer batch wrote keeps the doc that batch left, or its absence.
 */
function docUpsert(db: D1Database, owner: string, batch: number, rows: Array<ArchivedRow & { text: string; id: string; sender: string }>): D1PreparedStatement {
  const values = rows.map((_, i) => `(${placeholders(3 + i * 7, 7)})`);
  // VALUES columns: column1 seq, column2 chat, column3 id, column4 sender, column5 kind, column6 at, column7 text.
  const sql = `INSERT INTO search_docs (owner, seq, chat, id, sender, kind, at, text)
    SELECT ?1, v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7
    FROM (VALUES ${values.join(', ')}) AS v
    JOIN history_warm AS w ON w.owner = ?1 AND w.seq = v.column1 AND w.batch = ?2
    WHERE true
    ON CONFLICT (owner, seq) DO UPDATE SET chat = excluded.chat, id = excluded.id, sender = excluded.sender, kind = excluded.kind,
      at = excluded.at, text = excluded.text
    WHERE search_docs.text IS NOT excluded.text OR search_docs.kind IS NOT excluded.kind OR search_docs.at IS NOT excluded.at
      OR search_docs.sender IS NOT excluded.sender OR search_docs.id IS NOT excluded.id OR search_docs.chat IS NOT excluded.chat`;
  const params = rows.flatMap((r) => [r.seq, r.chat, r.id, r.sender, r.kind, r.at, r.text]);
  return db.prepare(sql).bind(owner, batch, ...params);
}

/** Delete the docs of rows (of this batch) that are no longer searchable, e.g. a recalled message's tombstone. */
function docDelete(db: D1Database, owner: string, batch: number, seqs: number[]): D1PreparedStatement {
  const sql = `DELETE FROM search_docs WHERE owner = ?1 AND seq IN (${placeholders(3, seqs.length)})
    AND EXISTS (SELECT 1 FROM history_warm AS w WHERE w.owner = ?1 AND w.seq = search_docs.seq AND w.batch = ?2)`;
  return db.prepare(sql).bind(owner, batch, ...seqs);
}

/** A page of one chat's warm rows: seq < before, seq > floor, newest first, at most `limit`. */
export async function warmPage(
  db: D1Database,
  owner: string,
  chat: string,
  opts: { before?: number; floor: number; limit: number },
): Promise<StoredRow[]> {
  const { results } = await db
    .prepare(`SELECT ${STORED} FROM history_warm WHERE owner = ? AND chat = ? AND seq < ? AND seq > ? ORDER BY seq DESC LIMIT ?`)
    .bind(owner, chat, opts.before ?? NO_BOUND, opts.floor, opts.limit)
    .all<StoredRow>();
  return results;
}

/** The warm row of a message by its server id, if it is warm. */
export async function findWarm(db: D1Database, owner: string, id: string): Promise<StoredRow | null> {
  return db.prepare(`SELECT ${STORED} FROM history_warm WHERE owner = ? AND id = ? LIMIT 1`).bind(owner, id).first<StoredRow>();
}

/** Delete warm rows and their search docs (a message brought back hot for an action). */
export async function deleteWarm(db: D1Database, owner: string, seqs: number[]): Promise<void> {
  const groups = slices(seqs, SEQS_PER_STATEMENT).map((slice) => {
    const list = placeholders(2, slice.length);
    return [
      db.prepare(`DELETE FROM history_warm WHERE owner = ?1 AND seq IN (${list})`).bind(owner, ...slice),
      db.prepare(`DELETE FROM search_docs WHERE owner = ?1 AND seq IN (${list})`).bind(owner, ...slice),
    ];
  });
  await runBatches(db, groups);
}

/** Warm rows sent before `olderThan`, oldest first, at most `limit` (those due to go cold). */
export async function warmDue(db: D1Database, owner: string, olderThan: number, limit: number): Promise<StoredRow[]> {
  const { results } = await db
    .prepare(`SELECT ${STORED} FROM history_warm WHERE owner = ? AND at < ? ORDER BY at, seq LIMIT ?`)
    .bind(owner, olderThan, limit)
    .all<StoredRow>();
  return results;
}
