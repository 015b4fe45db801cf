/**
 * The hot search index (`search_hot`, FTS5) catches up in batches instead of on every insert.
 *
 * Indexing a row inside the message's own commit made FTS5 write a new segment per commit: about
 * a fifth of the CPU and a third of the bytes written per message (bench, stop 28). So the index
 * holds every searchable row with seq at or below a watermark (`meta.search_through`), and the
 * rows above it are the backlog:
 * - the backlog is indexed in one statement once it is `SEARCH_BATCH` entries long (in the turn
 *   of the entry that makes it so: no commit of its own), and before any search reads the index,
 *   so a search always sees every message;
 * - the schema's triggers keep rows at or below the watermark right (an edit or deletion
 *   re-indexes or removes the row in the same statement; a row put back by the history tiers at
 *   its old seq is indexed as it is inserted), and leave rows above it to the catch-up, which
 *   reads them as they are by then.
 */
import { searchTextSql } from '../../lib/search-sql.ts';
import { readMeta } from '../sqlite-schema.ts';

/** Mailbox entries (of any kind) after the watermark that start a catch-up. */
export const SEARCH_BATCH = 64;

/** The `meta` key of the watermark. */
const THROUGH = 'search_through';
/** The watermark, as the triggers read it. */
export const SEARCH_THROUGH_SQL = `(SELECT value FROM meta WHERE key = '${THROUGH}')`;

/** Searchable text of a 1:1 row (`messages.message`) and of a group row (`group_entries.entry`). */
const DIRECT_TEXT = (row: string): string => searchTextSql(`${row}.message`, '$.body');
const GROUP_TEXT = (row: string): string => searchTextSql(`${row}.entry`, '$.message.body');
/** What the hot search index holds of a row (rowid = mailbox seq). */
export const DIRECT_DOC = (row: string): string =>
  `${row}.seq, ${DIRECT_TEXT(row)}, 'd:' || ${row}.peer, ${row}.id, ${row}.sender, json_extract(${row}.message, '$.body.kind'), json_extract(${row}.message, '$.sentAt')`;
export const GROUP_DOC = (row: string): string =>
  `${row}.seq, ${GROUP_TEXT(row)}, 'g:' || ${row}.group_id, ${row}.message_id, ${row}.sender, json_extract(${row}.entry, '$.message.body.kind'), json_extract(${row}.entry, '$.message.sentAt')`;
export const DIRECT_INDEXED = (row: string): string => `${row}.hidden = 0 AND ${DIRECT_TEXT(row)} IS NOT NULL`;
export const GROUP_INDEXED = (row: string): string =>
  `${row}.hidden = 0 AND ${row}.message_id IS NOT NULL AND ${GROUP_TEXT(row)} IS NOT NULL`;
export const DOC_COLUMNS = 'rowid, text, chat, id, sender, kind, at';

export class SearchBacklog {
  /** Every searchable row with seq at or below this is in the index (as last written by this instance). */
  #through: number;

  constructor(private readonly sql: SqlStorage) {
    this.#through = readMeta(sql, THROUGH);
  }

  /** An entry was appended at `head`: index the backlog once it is a batch. */
  appended(head: number): void {
    if (head - this.#through >= SEARCH_BATCH) this.catchUp(head);
  }

  /** Index every row above the watermark up to `head` (before a search reads the index). */
  catchUp(head: number): void {
    if (head <= this.#through) return;
    // One statement for both tables. The lower bound is the stored watermark, not the one in
    // memory: a second instance over the same storage (tests make them) may have moved it, and
    // a row indexed twice would fail the insert.
    this.sql.exec(
      `INSERT INTO search_hot (${DOC_COLUMNS})
       SELECT ${DIRECT_DOC('m')} FROM messages m WHERE m.seq > ${SEARCH_THROUGH_SQL} AND m.seq <= ? AND ${DIRECT_INDEXED('m')}
       UNION ALL
       SELECT ${GROUP_DOC('g')} FROM group_entries g WHERE g.seq > ${SEARCH_THROUGH_SQL} AND g.seq <= ? AND ${GROUP_INDEXED('g')}`,
      head,
      head,
    );
    // Never backwards (that instance's head may be behind the stored watermark).
    this.sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('${THROUGH}', max(?, coalesce(${SEARCH_THROUGH_SQL}, 0)))`, head);
    this.#through = head;
  }
}
