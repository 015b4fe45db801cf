/**
 * Search in a large group's log for one member (read diffusion: their mailbox holds no copy, so
 * its index cannot find these messages). The log indexes its messages after the switch
 * (`log_search`, schema 7); a member finds only what they may see: messages inside their
 * membership intervals, nothing stored before `notBefore` (a device without history), newest
 * first, paged by gseq. Reads only; refusals are thrown as `GroupError`s.
 */
import { filterClauses, ftsQuery, highlightsOf } from '../../db/history/index.ts';
import { SEARCH_KINDS } from '../../protocol/index.ts';
import { covers } from './members.ts';
import { GroupError } from './result.ts';
import type { GroupState } from './state.ts';

type SearchKind = (typeof SEARCH_KINDS)[number];

/** One hit in the log. */
export type LogHit = { gseq: number; messageId: string; from: string; at: number; kind: SearchKind; snippet: string; highlights: Array<[number, number]> };

export type LogSearchQuery = {
  q: string;
  from?: string;
  kind?: string;
  since?: number;
  until?: number;
  /** Strictly below this gseq. */
  before: number;
  limit: number;
  notBefore: number;
};

/** Index rows one call reads at most (hits outside the member's intervals are skipped). */
const SCAN_MAX = 1_000;
const SNIPPET_TOKENS = 12;

/** Hits for `member`, newest first; `nextBefore` continues below (null: nothing older). */
export function searchLog(state: GroupState, member: string, query: LogSearchQuery): { hits: LogHit[]; nextBefore: number | null } {
  state.settingsOrThrow();
  const intervals = state.parts.members.intervals(member);
  if (intervals.length === 0) throw new GroupError('not_group_member');
  const match = ftsQuery(query.q);
  if (match === null) return { hits: [], nextBefore: null };
  const where = ['log_search MATCH ?', 'rowid < ?'];
  const params: Array<string | number> = [match, query.before];
  // A device without history finds nothing stored before its login.
  const since = Math.max(query.since ?? 0, query.notBefore);
  filterClauses({ sender: query.from, kind: query.kind, since: since > 0 ? since : undefined, until: query.until }, '', where, params);
  const rows = state.sql
    .exec<{ gseq: number; sender: string; kind: string; at: number; snippet: string; id: string }>(
      `SELECT s.rowid AS gseq, s.sender, s.kind, s.at, snippet(log_search, 0, char(2), char(3), '…', ${SNIPPET_TOKENS}) AS snippet, l.id
       FROM log_search s CROSS JOIN log l ON l.gseq = s.rowid
       WHERE ${where.map((w) => `s.${w}`).join(' AND ')} ORDER BY s.rowid DESC LIMIT ?`,
      ...params,
      SCAN_MAX,
    )
    .toArray();
  const hits: LogHit[] = [];
  for (const row of rows) {
    if (!covers(intervals, row.gseq)) continue;
    const kind = SEARCH_KINDS.find((k) => k === row.kind);
    if (!kind) continue;
    if (hits.length === query.limit) return { hits, nextBefore: hits[hits.length - 1]!.gseq };
    hits.push({ gseq: row.gseq, messageId: row.id, from: row.sender, at: Number(row.at), kind, ...highlightsOf(row.snippet) });
  }
  // Read as far as allowed without filling the page: go on below the last row read.
  return { hits, nextBefore: rows.length === SCAN_MAX ? rows[rows.length - 1]!.gseq : null };
}
