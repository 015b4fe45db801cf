/**
 * The group side of a user's mailbox: entries of the groups' logs as this user received them,
 * per-group progress (`through`: how far the log has been received, in gseq), read state and
 * tallies of the user's own messages, and the durable outbox of group receipts. Synchronous SQL,
 * like MailboxStore, so writes commit together with the mailbox entries they accompany.
 *
 * Order: a group's entries are appended to the mailbox strictly in gseq order. The caller hands
 * `record` only entries that continue from `through` (it repairs gaps first), so every member
 * sees the group in the group's one order, whatever order fan-out batches arrive in.
 */
import {
  GROUP_TALLY_MAX,
  type GroupConversation,
  type GroupEntry,
  type GroupHistoryItem,
  type GroupTally,
} from '../../protocol/index.ts';
import { pageOf, type MailboxStore, type StoredEntry } from './store.ts';

export type GroupReceiptStatus = 'delivered' | 'read';

export function gseqOf(entry: GroupEntry): number {
  return entry.type === 'message' ? entry.message.gseq : entry.event.gseq;
}

/** Whether `entry` is where `self`'s membership begins (its first entry needs no gap repair). */
export function startsMembership(entry: GroupEntry, self: string): boolean {
  if (entry.type !== 'event') return false;
  const { change, by } = entry.event;
  return (
    (change.kind === 'created' && by === self) ||
    (change.kind === 'members_added' && change.members.includes(self)) ||
    (change.kind === 'member_joined' && change.member === self)
  );
}

export class GroupInbox {
  constructor(
    private readonly sql: SqlStorage,
    private readonly store: MailboxStore,
  ) {}

  /** How far this user has received `group`'s log (0: never heard of it). */
  through(group: string): number {
    return this.#chat(group)?.through ?? 0;
  }

  /** Whether this user ever received anything of `group`. */
  knows(group: string): boolean {
    return this.#chat(group) !== null;
  }

  /**
   * Append entries (in gseq order, continuing the log) and advance `through` to at least
   * `through`. Entries already stored are skipped. Returns the new mailbox entries.
   */
  record(group: string, entries: readonly GroupEntry[], through: number, self: string, now: number): StoredEntry[] {
    const chat = this.#chat(group) ?? { through: 0, read_gseq: 0, last_seq: 0, unread: 0 };
    const stored: StoredEntry[] = [];
    let unread = 0;
    for (const entry of entries) {
      const gseq = gseqOf(entry);
      if (gseq <= chat.through) continue;
      const mine = entry.type === 'message' ? entry.message.from === self : true;
      const mailboxEntry =
        entry.type === 'message'
          ? this.store.append({ type: 'group_message', message: entry.message }, now)
          : this.store.append({ type: 'group_event', event: entry.event }, now);
      this.sql.exec(
        'INSERT INTO group_entries (seq, group_id, gseq, sender, read, tally, entry) VALUES (?, ?, ?, ?, ?, NULL, ?)',
        mailboxEntry.seq,
        group,
        gseq,
        entry.type === 'message' ? entry.message.from : null,
        mine ? 1 : 0,
        JSON.stringify(entry),
      );
      if (!mine) unread++;
      chat.through = gseq;
      chat.last_seq = mailboxEntry.seq;
      stored.push(mailboxEntry);
    }
    chat.through = Math.max(chat.through, through);
    this.sql.exec(
      `INSERT INTO group_chats (group_id, through, read_gseq, last_seq, unread) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (group_id) DO UPDATE SET through = excluded.through, last_seq = excluded.last_seq, unread = unread + ?`,
      group,
      chat.through,
      chat.read_gseq,
      chat.last_seq,
      unread,
      unread,
    );
    return stored;
  }

  /** Store new tallies of this user's own messages; returns the `group_receipt` entries for its devices. */
  recordTallies(group: string, tallies: readonly GroupTally[], now: number): StoredEntry[] {
    const known = tallies.filter((t) => {
      const changed = this.sql
        .exec('UPDATE group_entries SET tally = ? WHERE group_id = ? AND gseq = ? RETURNING seq', JSON.stringify(t), group, t.gseq)
        .toArray();
      return changed.length > 0;
    });
    const entries: StoredEntry[] = [];
    for (let i = 0; i < known.length; i += GROUP_TALLY_MAX) {
      entries.push(this.store.append({ type: 'group_receipt', group, tallies: known.slice(i, i + GROUP_TALLY_MAX), at: now }, now));
    }
    return entries;
  }

  /** The highest gseq per group among mailbox entries after < seq <= upTo (what an ack delivered). */
  deliveredBetween(after: number, upTo: number): Map<string, number> {
    const rows = this.sql
      .exec<{ group_id: string; gseq: number }>(
        'SELECT group_id, max(gseq) AS gseq FROM group_entries WHERE seq > ? AND seq <= ? GROUP BY group_id',
        after,
        upTo,
      )
      .toArray();
    return new Map(rows.map((r) => [r.group_id, r.gseq]));
  }

  /**
   * Mark `group`'s entries up to mailbox seq `upTo` read. Returns the gseq now read through,
   * or null when that moved nothing.
   */
  markRead(group: string, upTo: number): number | null {
    const chat = this.#chat(group);
    if (!chat) return null;
    const gseq =
      this.sql
        .exec<{ gseq: number | null }>('SELECT max(gseq) AS gseq FROM group_entries WHERE group_id = ? AND seq <= ?', group, upTo)
        .one().gseq ?? 0;
    if (gseq <= chat.read_gseq) return null;
    const marked = this.sql
      .exec('UPDATE group_entries SET read = 1 WHERE group_id = ? AND gseq <= ? AND read = 0 RETURNING seq', group, gseq)
      .toArray().length;
    this.sql.exec(
      'UPDATE group_chats SET read_gseq = ?, unread = max(0, unread - ?) WHERE group_id = ?',
      gseq,
      marked,
      group,
    );
    return gseq;
  }

  /**
   * A page of `group` as this user received it, newest first, strictly below mailbox seq
   * `before` and above `floor` (a device registered without history sees nothing at or below it).
   */
  history(group: string, before: number | undefined, limit: number, floor = 0): { items: GroupHistoryItem[]; nextBefore: number | null } {
    const rows = this.sql
      .exec<EntryRow>(
        `SELECT seq, read, tally, entry FROM group_entries
         WHERE group_id = ? AND seq < ? AND seq > ? ORDER BY gseq DESC LIMIT ?`,
        group,
        before ?? Number.MAX_SAFE_INTEGER,
        floor,
        limit + 1,
      )
      .toArray();
    return pageOf(rows, limit, historyItem);
  }

  /**
   * Group chats for the chat list, by newest entry, strictly below mailbox seq `before`. Above a
   * `floor`, only chats with an entry above it are listed, and only those entries count as unread.
   */
  chatList(before: number | undefined, limit: number, floor = 0): { items: GroupConversation[]; nextBefore: number | null } {
    const unread = floor > 0 ? '(SELECT count(*) FROM group_entries u WHERE u.group_id = c.group_id AND u.read = 0 AND u.seq > ?)' : 'c.unread';
    const rows = this.sql
      .exec<EntryRow & { group_id: string; unread: number }>(
        `SELECT c.group_id, ${unread} AS unread, e.seq, e.read, e.tally, e.entry
         FROM group_chats c JOIN group_entries e ON e.seq = c.last_seq
         WHERE c.last_seq < ? AND c.last_seq > ? ORDER BY c.last_seq DESC LIMIT ?`,
        ...(floor > 0 ? [floor] : []),
        before ?? Number.MAX_SAFE_INTEGER,
        floor,
        limit + 1,
      )
      .toArray();
    return pageOf(rows, limit, (r) => ({ kind: 'group', group: r.group_id, last: historyItem(r), unread: r.unread }));
  }

  // ------------------------------------------------------------------ receipt outbox

  /** Remember a watermark to tell `group` (kept until the group object took it). */
  queueReceipt(group: string, status: GroupReceiptStatus, upTo: number): void {
    this.sql.exec(
      `INSERT INTO group_receipt_outbox (group_id, status, up_to) VALUES (?, ?, ?)
       ON CONFLICT (group_id, status) DO UPDATE SET up_to = max(up_to, excluded.up_to)`,
      group,
      status,
      upTo,
    );
  }

  pendingReceipts(): Array<{ group: string; status: GroupReceiptStatus; upTo: number }> {
    return this.sql
      .exec<{ group_id: string; status: GroupReceiptStatus; up_to: number }>('SELECT group_id, status, up_to FROM group_receipt_outbox')
      .toArray()
      .map((r) => ({ group: r.group_id, status: r.status, upTo: r.up_to }));
  }

  /** The group took this watermark: drop the row unless a newer one replaced it meanwhile. */
  receiptSent(group: string, status: GroupReceiptStatus, upTo: number): void {
    this.sql.exec('DELETE FROM group_receipt_outbox WHERE group_id = ? AND status = ? AND up_to <= ?', group, status, upTo);
  }

  #chat(group: string): { through: number; read_gseq: number; last_seq: number; unread: number } | null {
    return (
      this.sql
        .exec<{ through: number; read_gseq: number; last_seq: number; unread: number }>(
          'SELECT through, read_gseq, last_seq, unread FROM group_chats WHERE group_id = ?',
          group,
        )
        .toArray()[0] ?? null
    );
  }
}

type EntryRow = { seq: number; read: number; tally: string | null; entry: string };

function historyItem(row: EntryRow): GroupHistoryItem {
  return {
    seq: row.seq,
    entry: JSON.parse(row.entry) as GroupEntry,
    tally: row.tally === null ? null : (JSON.parse(row.tally) as GroupTally),
    read: row.read === 1,
  };
}
