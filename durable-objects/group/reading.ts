/**
 * Reading a large group's log for one member (read diffusion: their mailbox holds no copy of
 * what came after the switch): history pages, newest first, and what the chat list shows of the
 * group (its newest entry and the member's unread count). Only what the member may see: entries
 * inside their membership intervals, and for a device registered without history nothing stored
 * before it (`notBefore`). Reads only; refusals are thrown as `GroupError`s.
 */
import type { GroupEntry, GroupMessage, GroupTally } from '../../protocol/index.ts';
import { covers, visibleRows } from './members.ts';
import { GroupError } from './result.ts';
import type { GroupState } from './state.ts';

/** A history item read from the log: the entry, and for the member's own messages their tally. */
export type LogItem = { entry: GroupEntry; tally: GroupTally | null };

/** Log rows one page may read at most (entries the member may not see are skipped, not returned). */
const SCAN_MAX = 2_048;
/** Rows read per statement. */
const BATCH = 256;
/** Unread counts stop here (a client shows "9999+"). */
export const UNREAD_COUNT_MAX = 9_999;

export type LogPageQuery = {
  /** Strictly below this gseq (the first page: above the head). */
  before: number;
  /** Strictly above this gseq: the part of the log the member's mailbox holds ends here. */
  after: number;
  limit: number;
  /** Nothing stored before this time (ms), 0 for everything. */
  notBefore: number;
};

/**
 * A page of the log as `member` sees it, newest first: messages (as they are now: actions are
 * folded in) and events. `nextBefore` continues below; null when nothing visible is left. A page
 * reads at most SCAN_MAX rows, so it may be short when the member may not see much of the range.
 */
export function logPage(state: GroupState, member: string, query: LogPageQuery): { items: LogItem[]; nextBefore: number | null } {
  state.settingsOrThrow();
  const { log, members } = state.parts;
  const intervals = members.intervals(member);
  if (intervals.length === 0) throw new GroupError('not_group_member');
  const bottom = Math.max(query.after, Math.min(...intervals.map(([from]) => from)) - 1);
  let upper = Math.min(query.before - 1, log.head, Math.max(...intervals.map(([, to]) => to)));
  const found: Array<{ gseq: number; entry: GroupEntry }> = [];
  let nextBefore: number | null = null;
  let scanned = 0;
  scan: while (upper > bottom) {
    if (scanned >= SCAN_MAX) {
      nextBefore = upper + 1;
      break;
    }
    const rows = log.newestFirst(bottom, upper, Math.min(BATCH, SCAN_MAX - scanned));
    if (rows.length === 0) break;
    scanned += rows.length;
    for (const row of visibleRows(rows, intervals)) {
      if (query.notBefore > 0 && storedAt(row.entry) < query.notBefore) break scan;
      if (found.length === query.limit) {
        nextBefore = found[found.length - 1]!.gseq;
        break scan;
      }
      found.push({ gseq: row.gseq, entry: row.entry });
    }
    upper = rows[rows.length - 1]!.gseq - 1;
  }
  return { items: withTallies(state, member, found), nextBefore };
}

/**
 * What the chat list shows of the group for `member`: the newest entry they may see above
 * `after` (null when there is none), how many others' messages above `max(readGseq, after)` they
 * have not read (up to UNREAD_COUNT_MAX), and the log's head.
 */
export function chatSummary(
  state: GroupState,
  member: string,
  query: { after: number; readGseq: number; notBefore: number },
): { last: LogItem | null; unread: number; head: number } {
  const page = logPage(state, member, { before: Number.MAX_SAFE_INTEGER, after: query.after, limit: 1, notBefore: query.notBefore });
  const { log, members } = state.parts;
  const readThrough = Math.max(query.after, query.readGseq);
  let unread = 0;
  for (const [from, to] of members.intervals(member)) {
    unread += log.countOthersMessages(Math.max(readThrough, from - 1), Math.min(to, log.head), member, UNREAD_COUNT_MAX - unread);
    if (unread >= UNREAD_COUNT_MAX) break;
  }
  return { last: page.items[0] ?? null, unread, head: log.head };
}

/** Message `messageId` as it is now, if `member` may see it (a push preview of a large group's message); null otherwise. */
export function visibleMessage(state: GroupState, member: string, messageId: string): GroupMessage | null {
  if (!state.find()) return null;
  const { log, members } = state.parts;
  const message = log.messageById(messageId);
  if (!message) return null;
  return covers(members.intervals(member), message.gseq) ? message : null;
}

/** The messages of `ids` that `member` may see, as they are now (a large group's starred list); the others are left out. */
export function visibleMessages(state: GroupState, member: string, ids: readonly string[]): GroupMessage[] {
  return ids.flatMap((id) => visibleMessage(state, member, id) ?? []);
}

/** The member's own messages get their tally (one tally round for the page). */
function withTallies(state: GroupState, member: string, found: ReadonlyArray<{ gseq: number; entry: GroupEntry }>): LogItem[] {
  const own = found.flatMap((f) =>
    f.entry.type === 'message' && f.entry.message.from === member ? [{ gseq: f.gseq, id: f.entry.message.id, sender: member }] : [],
  );
  const tallies = new Map(state.parts.members.tallies(own).map((t) => [t.gseq, t]));
  return found.map((f) => ({ entry: f.entry, tally: tallies.get(f.gseq) ?? null }));
}

/** When an entry was stored (messages: sent; events and updates: made). */
export function storedAt(entry: GroupEntry): number {
  if (entry.type === 'message') return entry.message.sentAt;
  return entry.type === 'event' ? entry.event.at : entry.update.at;
}
