/**
 * Rows of `messages` as the history, the chat list and the tiers show them: a history item from
 * a row, a page from rows fetched with LIMIT n+1, and a status rank's name.
 */
import { STATUS_RANK, type HistoryItem, type Message, type MessageStatus } from '../../protocol/index.ts';

export type MessageRow = { seq: number; message: string; status: number; outgoing: number };

export function historyItem(row: MessageRow): HistoryItem {
  return { seq: row.seq, message: JSON.parse(row.message) as Message, status: statusName(row.status, row.outgoing === 1) };
}

/** Rows fetched with LIMIT n+1, newest first: the page and the cursor for the next one. */
export function pageOf<R extends { seq: number }, T>(rows: R[], limit: number, map: (row: R) => T): { items: T[]; nextBefore: number | null } {
  const page = rows.slice(0, limit);
  return { items: page.map(map), nextBefore: rows.length > limit ? page[page.length - 1]!.seq : null };
}

export function statusName(rank: number, outgoing: boolean): MessageStatus {
  if (rank >= STATUS_RANK.read) return 'read';
  if (rank >= STATUS_RANK.delivered || !outgoing) return 'delivered';
  return 'sent';
}
