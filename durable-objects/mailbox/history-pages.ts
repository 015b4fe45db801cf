/**
 * History pages and search across the tiers, as one device may read them: the hot rows of this
 * object merged with what the user's history shard holds (warm rows, cold chunks), newest first,
 * with the same `before` cursors (mailbox seqs) whichever tier a row is in, and never at or
 * below the device's history floor. A row present in two tiers (brought back while a batch
 * carrying it was in flight) is shown once, from this object.
 */
import {
  SEARCH_KINDS,
  type ChatRef,
  type GroupEntry,
  type GroupTally,
  type HistoryItem,
  type Message,
  type SearchHit,
  type SearchPage,
  type SearchQuery,
} from '../../protocol/index.ts';
import { filterClauses, ftsQuery, highlightsOf, searchArchived, type SearchFilter, type SearchRow, type StoredRow } from '../../db/history/index.ts';
import type { HistoryTiers } from './history-tiers.ts';
import { mergeNewestFirst } from './history-tiers.ts';
import { rowColumns } from './hot-rows.ts';
import { statusName } from './message-rows.ts';
import type { CopiedGroupItem } from './group-inbox.ts';

type Page<T> = { items: T[]; nextBefore: number | null };

/**
 * One page of a chat: `hot` is this object's page (at most `limit`, with its own nextBefore);
 * archived rows are asked for only when they could be on it.
 */
export async function mergedPage<T extends { seq: number }>(
  tiers: HistoryTiers,
  chat: string,
  hot: Page<T>,
  query: { before: number | undefined; floor: number; limit: number },
  itemOf: (row: StoredRow) => T | null,
): Promise<Page<T>> {
  const { before, floor, limit } = query;
  if (!tiers.hasArchive(chat)) return hot;
  // A full hot page only needs archived rows newer than its oldest item.
  const full = hot.items.length === limit;
  const above = full ? Math.max(floor, hot.items[hot.items.length - 1]!.seq) : floor;
  const archived = (await tiers.archivedRows(chat, before, above, limit + 1))
    .map(itemOf)
    .filter((item): item is T => item !== null);
  const merged = mergeNewestFirst([hot.items, archived], limit + 1);
  const page = merged.slice(0, limit);
  const more = merged.length > limit || hot.nextBefore !== null || (full && tiers.hasArchiveBelow(chat, page[page.length - 1]!.seq, floor));
  return { items: page, nextBefore: more && page.length > 0 ? page[page.length - 1]!.seq : null };
}

/** A 1:1 history item from an archived row (null for a row of another kind). */
export function directItem(row: StoredRow): HistoryItem | null {
  const columns = rowColumns(row.row);
  if (columns.t !== 'd' || columns.hidden === 1) return null;
  return {
    seq: row.seq,
    message: JSON.parse(String(columns.message)) as Message,
    status: statusName(Number(columns.status), columns.outgoing === 1),
  };
}

/** A group history item from an archived row. */
export function groupItem(row: StoredRow): CopiedGroupItem | null {
  const columns = rowColumns(row.row);
  if (columns.t !== 'g' || columns.hidden === 1) return null;
  return {
    seq: row.seq,
    entry: JSON.parse(String(columns.entry)) as GroupEntry,
    tally: columns.tally === null || columns.tally === undefined ? null : (JSON.parse(String(columns.tally)) as GroupTally),
    read: columns.read === 1,
  };
}

/**
 * Search this user's history (every tier) as a device with history floor `floor` may see it.
 * Permission is by construction: this object's index holds only this user's copies, and the
 * shard's documents are keyed by this user; a group's messages are here only for the time this
 * user was a member. Deleted messages left both indexes when they were deleted.
 */
export async function searchHistory(sql: SqlStorage, tiers: HistoryTiers, owner: string, query: SearchQuery, floor: number): Promise<SearchPage> {
  const match = ftsQuery(query.q);
  if (match === null) return { hits: [], nextBefore: null };
  const chat = query.peer ? `d:${query.peer}` : query.group ? `g:${query.group}` : undefined;
  const filter = {
    match,
    ...(chat === undefined ? {} : { chat }),
    ...(query.from === undefined ? {} : { sender: query.from }),
    ...(query.kind === undefined ? {} : { kind: query.kind }),
    ...(query.since === undefined ? {} : { since: query.since }),
    ...(query.until === undefined ? {} : { until: query.until }),
    ...(query.before === undefined ? {} : { before: query.before }),
    floor,
    limit: query.limit + 1,
  };
  const hot = hotSearch(sql, filter);
  const archived = tiers.hasArchive(chat)
    ? (await searchArchived(tiers.shard().db, owner, filter)).filter((row) => !tiers.hot.has(row.seq))
    : [];
  const merged = mergeNewestFirst([hot, archived], query.limit + 1);
  const page = merged.slice(0, query.limit);
  return {
    hits: page.map(hitOf).filter((hit): hit is SearchHit => hit !== null),
    nextBefore: merged.length > query.limit ? page[page.length - 1]!.seq : null,
  };
}

/** The object's own index (search_hot), newest first. */
function hotSearch(sql: SqlStorage, filter: SearchFilter): SearchRow[] {
  const where = ['search_hot MATCH ?', 'rowid < ?', 'rowid > ?'];
  const args: Array<string | number> = [filter.match, filter.before ?? Number.MAX_SAFE_INTEGER, filter.floor];
  filterClauses(filter, '', where, args);
  return sql
    .exec<SearchRow>(
      `SELECT rowid AS seq, chat, id, sender, kind, at, snippet(search_hot, 0, char(2), char(3), '…', 12) AS snippet
       FROM search_hot WHERE ${where.join(' AND ')} ORDER BY rowid DESC LIMIT ?`,
      ...args,
      filter.limit,
    )
    .toArray();
}

function hitOf(row: SearchRow): SearchHit | null {
  const chat = chatRef(row.chat);
  const kind = SEARCH_KINDS.find((k) => k === row.kind);
  if (!chat || !kind) return null;
  const { snippet, highlights } = highlightsOf(row.snippet);
  return { seq: row.seq, chat, messageId: row.id, from: row.sender, at: Number(row.at), kind, snippet, highlights };
}

function chatRef(chat: string): ChatRef | null {
  if (chat.startsWith('d:')) return { kind: 'direct', peer: chat.slice(2) };
  if (chat.startsWith('g:')) return { kind: 'group', group: chat.slice(2) };
  return null;
}
