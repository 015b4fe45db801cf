/**
 * Group membership: roles, the log intervals each person belongs to, and per-member receipt
 * watermarks (the highest gseq delivered to / read by them). All synchronous SQL on the group
 * object's storage.
 */
import type { GroupMember, GroupRole, GroupTally } from '../../protocol/index.ts';
import { markPending } from './mirror-pending.ts';

export type MemberRow = {
  userId: string;
  role: GroupRole;
  joinedGseq: number;
  joinedAt: number;
  deliveredGseq: number;
  readGseq: number;
  activeAt: number;
};

type Row = {
  user_id: string;
  role: GroupRole;
  joined_gseq: number;
  joined_at: number;
  delivered_gseq: number;
  read_gseq: number;
  active_at: number;
};

const toMember = (r: Row): MemberRow => ({
  userId: r.user_id,
  role: r.role,
  joinedGseq: r.joined_gseq,
  joinedAt: r.joined_at,
  deliveredGseq: r.delivered_gseq,
  readGseq: r.read_gseq,
  activeAt: r.active_at,
});

export type ReceiptStatus = 'delivered' | 'read';

export class Members {
  /**
   * count(*) reads the whole smallest index (measured: ~1.6 ms at 100,000 members), and every post
   * asks it: kept in memory, dropped by every write to the table (recounted once after it).
   */
  #count: number | null = null;

  constructor(private readonly sql: SqlStorage) {}

  get(userId: string): MemberRow | null {
    const row = this.sql.exec<Row>('SELECT * FROM members WHERE user_id = ?', userId).toArray()[0];
    return row ? toMember(row) : null;
  }

  /** Current members, oldest first. */
  all(): MemberRow[] {
    return this.sql.exec<Row>('SELECT * FROM members ORDER BY joined_gseq, user_id').toArray().map(toMember);
  }

  /** Current members' ids. */
  ids(): string[] {
    return this.sql.exec<{ user_id: string }>('SELECT user_id FROM members').toArray().map((r) => r.user_id);
  }

  count(): number {
    this.#count ??= this.sql.exec<{ n: number }>('SELECT count(*) AS n FROM members').one().n;
    return this.#count;
  }

  adminCount(): number {
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM members WHERE role = 'admin'").one().n;
  }

  /** The admins, oldest first, at most `limit` (index members_admins). */
  admins(limit: number): MemberRow[] {
    return this.sql
      .exec<Row>("SELECT * FROM members WHERE role = 'admin' ORDER BY joined_gseq, user_id LIMIT ?", limit)
      .toArray()
      .map(toMember);
  }

  /** A page of members by user id: ids above `after`, at most `limit` (the table's own order: no sort). */
  page(after: string, limit: number): MemberRow[] {
    return this.sql.exec<Row>('SELECT * FROM members WHERE user_id > ? ORDER BY user_id LIMIT ?', after, limit).toArray().map(toMember);
  }

  /**
   * Up to `limit` members with a receipt at or after `since` other than `except`, most recent
   * first (index members_active: a typing notice must not read every member of a large group).
   */
  recentlyActive(since: number, except: string, limit: number): string[] {
    return this.sql
      .exec<{ user_id: string }>('SELECT user_id FROM members WHERE active_at >= ? AND user_id != ? ORDER BY active_at DESC LIMIT ?', since, except, limit)
      .toArray()
      .map((r) => r.user_id);
  }

  /** Add people who are not members yet; they see the log from `joinedGseq` on. */
  add(userIds: readonly string[], role: GroupRole, joinedGseq: number, at: number): void {
    this.#count = null;
    markPending(this.sql, userIds);
    for (const userId of userIds) {
      this.sql.exec(
        `INSERT INTO members (user_id, role, joined_gseq, joined_at, delivered_gseq, read_gseq, active_at)
         VALUES (?, ?, ?, ?, ?, ?, 0)`,
        userId,
        role,
        joinedGseq,
        at,
        // Watermarks start just before the joining: nothing earlier is theirs (see tallies).
        joinedGseq - 1,
        joinedGseq - 1,
      );
    }
  }

  /** End a membership at `leftGseq` (the removal entry, which they still receive). */
  remove(userId: string, leftGseq: number): void {
    const row = this.get(userId);
    if (!row) return;
    this.sql.exec(
      'INSERT OR REPLACE INTO past_members (user_id, joined_gseq, left_gseq) VALUES (?, ?, ?)',
      userId,
      row.joinedGseq,
      leftGseq,
    );
    this.sql.exec('DELETE FROM members WHERE user_id = ?', userId);
    this.#count = null;
    markPending(this.sql, [userId]);
  }

  setRole(userId: string, role: GroupRole): void {
    this.sql.exec('UPDATE members SET role = ? WHERE user_id = ?', role, userId);
    markPending(this.sql, [userId]);
  }

  /** The longest-standing member who is not `except` (who inherits admin when the last admin leaves). */
  senior(except: string): MemberRow | null {
    const row = this.sql
      .exec<Row>('SELECT * FROM members WHERE user_id != ? ORDER BY joined_gseq, user_id LIMIT 1', except)
      .toArray()[0];
    return row ? toMember(row) : null;
  }

  /**
   * Everyone who receives entry `gseq`: current members who joined at or before it, and former
   * members whose membership covered it. Most recently active first (their last receipt), so
   * people with a connected device are served before offline mailboxes. With `seen`: only those
   * who also received entry `seen` (an update goes to the members who have its message).
   */
  audienceAt(gseq: number, seen?: number): Array<{ userId: string; activeAt: number }> {
    const also =
      seen === undefined
        ? ''
        : `WHERE EXISTS (SELECT 1 FROM members m WHERE m.user_id = a.user_id AND m.joined_gseq <= ?2)
              OR EXISTS (SELECT 1 FROM past_members p WHERE p.user_id = a.user_id AND p.joined_gseq <= ?2 AND p.left_gseq >= ?2)`;
    return this.sql
      .exec<{ user_id: string; active_at: number }>(
        `SELECT user_id, max(active_at) AS active_at FROM (
           SELECT user_id, active_at FROM members WHERE joined_gseq <= ?1
           UNION ALL
           SELECT user_id, 0 FROM past_members WHERE joined_gseq <= ?1 AND left_gseq >= ?1
         ) a ${also} GROUP BY user_id ORDER BY max(active_at) DESC, user_id`,
        ...(seen === undefined ? [gseq] : [gseq, seen]),
      )
      .toArray()
      .map((r) => ({ userId: r.user_id, activeAt: r.active_at }));
  }

  /** The log intervals `userId` may see, as [from, to] (to = Infinity for the current membership). */
  intervals(userId: string): Array<[number, number]> {
    const past = this.sql
      .exec<{ joined_gseq: number; left_gseq: number }>(
        'SELECT joined_gseq, left_gseq FROM past_members WHERE user_id = ?',
        userId,
      )
      .toArray()
      .map((r): [number, number] => [r.joined_gseq, r.left_gseq]);
    const current = this.get(userId);
    return current ? [...past, [current.joinedGseq, Number.POSITIVE_INFINITY]] : past;
  }

  /**
   * Move a member's watermark forward (reading implies delivery). Returns the previous
   * delivered watermark when something moved, null otherwise.
   */
  advance(userId: string, status: ReceiptStatus, gseq: number, at: number): { from: number } | null {
    const row = this.get(userId);
    if (!row) return null;
    const moved = status === 'read' ? gseq > row.readGseq : gseq > row.deliveredGseq;
    if (!moved) return null;
    const read = status === 'read' ? gseq : row.readGseq;
    const delivered = Math.max(row.deliveredGseq, gseq);
    this.sql.exec(
      'UPDATE members SET delivered_gseq = ?, read_gseq = ?, active_at = ? WHERE user_id = ?',
      delivered,
      read,
      at,
      userId,
    );
    this.sql.exec('INSERT INTO receipt_log (user_id, status, up_to, at) VALUES (?, ?, ?, ?)', userId, status, gseq, at);
    return { from: Math.min(status === 'read' ? row.readGseq : row.deliveredGseq, row.deliveredGseq) };
  }

  /**
   * Delivered / read counts of messages, over the members (other than the sender) who were there
   * when each was sent. Every watermark starts just before its member's joining, so for a
   * message at g: of = members − count(joined > g), delivered = count(delivered ≥ g) −
   * count(joined > g), read likewise, each minus the sender where they count. Three grouped
   * index scans per call (only watermarks and joinings at or after the oldest message are
   * read), not one pass over every member per message.
   */
  tallies(messages: ReadonlyArray<{ gseq: number; id: string; sender: string }>): GroupTally[] {
    if (messages.length === 0) return [];
    const oldest = Math.min(...messages.map((m) => m.gseq));
    const total = this.count();
    const histogram = (column: 'delivered_gseq' | 'read_gseq' | 'joined_gseq', from: number) =>
      new Suffix(
        this.sql
          .exec<{ at: number; n: number }>(`SELECT ${column} AS at, count(*) AS n FROM members WHERE ${column} >= ? GROUP BY ${column}`, from)
          .toArray(),
      );
    const delivered = histogram('delivered_gseq', oldest);
    const read = histogram('read_gseq', oldest);
    const joinedAfter = histogram('joined_gseq', oldest + 1);
    const senders = new Map<string, MemberRow | null>();
    return messages.map((m) => {
      if (!senders.has(m.sender)) senders.set(m.sender, this.get(m.sender));
      const sender = senders.get(m.sender);
      const senderThere = sender != null && sender.joinedGseq <= m.gseq;
      const late = joinedAfter.atLeast(m.gseq + 1);
      return {
        messageId: m.id,
        gseq: m.gseq,
        of: total - late - (senderThere ? 1 : 0),
        delivered: delivered.atLeast(m.gseq) - late - (senderThere && sender.deliveredGseq >= m.gseq ? 1 : 0),
        read: read.atLeast(m.gseq) - late - (senderThere && sender.readGseq >= m.gseq ? 1 : 0),
      };
    });
  }

  /** Current members other than `except` who were there at `gseq` and have it (`delivered`) or read it. */
  reached(gseq: number, status: ReceiptStatus, except: string): string[] {
    const column = status === 'read' ? 'read_gseq' : 'delivered_gseq';
    return this.sql
      .exec<{ user_id: string }>(`SELECT user_id FROM members WHERE ${column} >= ? AND joined_gseq <= ? AND user_id != ? ORDER BY joined_gseq, user_id`, gseq, gseq, except)
      .toArray()
      .map((r) => r.user_id);
  }

  /** First time each member's delivered / read watermark reached `gseq`. */
  receiptTimes(gseq: number): Map<string, { delivered: number; read: number | null }> {
    const rows = this.sql
      .exec<{ user_id: string; status: ReceiptStatus; at: number }>(
        'SELECT user_id, status, min(at) AS at FROM receipt_log WHERE up_to >= ? GROUP BY user_id, status',
        gseq,
      )
      .toArray();
    const times = new Map<string, { delivered: number; read: number | null }>();
    for (const r of rows) {
      const t = times.get(r.user_id) ?? { delivered: r.at, read: null };
      t.delivered = Math.min(t.delivered, r.at);
      if (r.status === 'read') t.read = r.at;
      times.set(r.user_id, t);
    }
    return times;
  }

  /** Forget receipt times older than `cutoff` (message info covers recent messages). */
  pruneReceiptLog(cutoff: number): void {
    // Rows are appended as time goes (rowid order is `at` order) and `at` has no index: delete
    // everything before the oldest row still kept, found by walking from the start. That reads
    // the rows it deletes and one more, not the whole table on every alarm (a busy large group
    // logs one row per connected member every 2 s, millions over the 30 days kept).
    this.sql.exec(
      `DELETE FROM receipt_log WHERE rowid < coalesce(
         (SELECT rowid FROM receipt_log WHERE at >= ? ORDER BY rowid LIMIT 1),
         (SELECT max(rowid) + 1 FROM receipt_log))`,
      cutoff,
    );
  }

  /**
   * The members a group's view lists, oldest first: all of them up to `limit`; in a larger group
   * `viewer`, the admins and the longest-standing members, `limit` in all (the rest are listed
   * page by page, `page`).
   */
  view(viewer: string, limit: number): GroupMember[] {
    const shown = (rows: MemberRow[]) => rows.map((m) => ({ userId: m.userId, role: m.role, joinedAt: m.joinedAt }));
    if (this.count() <= limit) return shown(this.all());
    const picked = new Map<string, MemberRow>();
    const me = this.get(viewer);
    if (me) picked.set(me.userId, me);
    for (const admin of this.admins(limit)) if (picked.size < limit) picked.set(admin.userId, admin);
    const oldest = this.sql.exec<Row>('SELECT * FROM members ORDER BY joined_gseq, user_id LIMIT ?', limit).toArray().map(toMember);
    for (const m of oldest) if (picked.size < limit) picked.set(m.userId, m);
    return shown([...picked.values()].sort((a, b) => a.joinedGseq - b.joinedGseq || (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0)));
  }
}

/** Counts by value, answering "how many at or above x" by binary search over suffix sums. */
class Suffix {
  readonly #values: number[];
  readonly #atOrAbove: number[];

  constructor(rows: ReadonlyArray<{ at: number; n: number }>) {
    const sorted = [...rows].sort((a, b) => a.at - b.at);
    this.#values = sorted.map((r) => r.at);
    this.#atOrAbove = new Array<number>(sorted.length + 1).fill(0);
    for (let i = sorted.length - 1; i >= 0; i--) this.#atOrAbove[i] = this.#atOrAbove[i + 1]! + sorted[i]!.n;
  }

  atLeast(x: number): number {
    let lo = 0;
    let hi = this.#values.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#values[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return this.#atOrAbove[lo]!;
  }
}

/**
 * The log rows a member with these membership intervals may see: rows inside an interval, and an
 * update only if its message (`target`) was inside one too.
 */
export function visibleRows<R extends { gseq: number; target: number | null }>(rows: readonly R[], intervals: ReadonlyArray<[number, number]>): R[] {
  return rows.filter((r) => covers(intervals, r.gseq) && (r.target === null || covers(intervals, r.target)));
}

/** Whether membership intervals (joined, left; both inclusive) cover log position `gseq`. */
export function covers(intervals: ReadonlyArray<[number, number]>, gseq: number): boolean {
  return intervals.some(([from, to]) => gseq >= from && gseq <= to);
}
