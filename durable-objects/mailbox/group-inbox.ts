/**
 * The group side of a user's mailbox: entries of the groups' logs as this user received them,
 * per-group progress (`through`: how far the log has been received, in gseq), read state and
 * tallies of the user's own messages, and the durable outbox of group receipts. Synchronous SQL,
 * like MailboxStore, so writes commit together with the mailbox entries they accompany.
 *
 * Order: a group's entries are appended to the mailbox strictly in gseq order. The caller hands
 * `record` only entries that continue from `through` (it repairs gaps first), so every member
 * sees the group in the group's one order, whatever order fan-out batches arrive in.
 *
 * Updates (actions on messages) change this user's copy of their message in place and append a
 * `group_message_update` entry (./group-copies.ts); they are not rows of their own (no history
 * item, no unread, not the chat list's last entry).
 */
import {
  GROUP_TALLY_MAX,
  gseqOf,
  type Action,
  type GroupConversation,
  type GroupEntry,
  type GroupHistoryItem,
  type GroupMessage,
  type GroupTally,
} from '../../protocol/index.ts';
import { GroupCopies } from './group-copies.ts';
import { pageOf } from './message-rows.ts';
import type { MailboxStore, StoredEntry } from './store.ts';

export type GroupReceiptStatus = 'delivered' | 'read';

/** A starred group message, as GET /v1/starred lists it. */
export type StarredGroupItem = { seq: number; chat: { kind: 'group'; group: string }; message: GroupMessage };

/** Actions only this user's devices see: star, delete for me. */
export type LocalAction = Extract<Action, { kind: 'star' }> | { kind: 'delete'; scope: 'me' };

export { gseqOf };

/** A large group in the chat list, as this mailbox knows it (the log part comes from the group object). */
export type LargeChat = { group: string; from: number; readGseq: number; unread: number; markedUnread: boolean; last: CopiedGroupItem | null };

/** A history item of an entry copied into this mailbox: it has a mailbox seq. */
export type CopiedGroupItem = GroupHistoryItem & { seq: number };

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
  /** Groups whose chat is marked unread; null until first needed. */
  #marked: Set<string> | null = null;

  /** Highest seq of a group entry here (0: none); null until needed or after rows came back from the tiers. Never too low. */
  #lastEntry: number | null = null;

  /** This user's copies of group messages and what acts on them. */
  readonly copies: GroupCopies;

  constructor(
    private readonly sql: SqlStorage,
    private readonly store: MailboxStore,
  ) {
    this.copies = new GroupCopies(sql, store);
  }

  /** Rows were put back in `group_entries` out of order (history tiers): forget the cached highest seq. */
  forgetLastEntry(): void {
    this.#lastEntry = null;
  }

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
    /** The group's switch to read diffusion, if it is among these entries. */
    let switched: { gseq: number; seq: number } | null = null;
    for (const entry of entries) {
      const gseq = gseqOf(entry);
      if (gseq <= chat.through) continue;
      if (entry.type === 'update') {
        // Moves `through` like any entry, but neither the chat list nor the unread count.
        const changed = this.copies.applyUpdate(group, entry.update, self, now);
        if (changed) stored.push(changed);
        chat.through = gseq;
        continue;
      }
      const mine = entry.type === 'message' ? entry.message.from === self : true;
      const entryJson = JSON.stringify(entry);
      const mailboxEntry =
        entry.type === 'message'
          ? this.store.appendGroupMessage(entry.message, entryJson, now)
          : this.store.append({ type: 'group_event', event: entry.event }, now);
      this.sql.exec(
        'INSERT INTO group_entries (seq, group_id, gseq, sender, read, tally, entry, message_id) VALUES (?, ?, ?, ?, ?, NULL, ?, ?)',
        mailboxEntry.seq,
        group,
        gseq,
        entry.type === 'message' ? entry.message.from : null,
        mine ? 1 : 0,
        entryJson,
        entry.type === 'message' ? entry.message.id : null,
      );
      if (this.#lastEntry !== null) this.#lastEntry = Math.max(this.#lastEntry, mailboxEntry.seq);
      if (!mine) unread++;
      if (entry.type === 'event' && entry.event.change.kind === 'delivery_changed') switched = { gseq, seq: mailboxEntry.seq };
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
    if (switched) {
      this.sql.exec('UPDATE group_chats SET large_from = ?, large_seq = ? WHERE group_id = ? AND large_from IS NULL', switched.gseq, switched.seq, group);
    }
    return stored;
  }

  /**
   * Store new tallies of this user's own messages; returns the `group_receipt` entries for its
   * devices. A large group's messages after the switch have no copy here to store them on: their
   * tallies only go to the devices (history pages read them from the group).
   */
  recordTallies(group: string, tallies: readonly GroupTally[], now: number): StoredEntry[] {
    const from = this.largeFrom(group);
    const known = tallies.filter((t) => {
      if (from !== null && t.gseq > from) return true;
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
    // A user in no group, or an ack past every group entry: no query.
    this.#lastEntry ??= this.sql.exec<{ seq: number }>('SELECT seq FROM group_entries ORDER BY seq DESC LIMIT 1').toArray()[0]?.seq ?? 0;
    if (after >= this.#lastEntry) return new Map();
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
    const gseq =
      this.sql
        .exec<{ gseq: number | null }>('SELECT max(gseq) AS gseq FROM group_entries WHERE group_id = ? AND seq <= ?', group, upTo)
        .one().gseq ?? 0;
    return this.markReadThrough(group, gseq);
  }

  /**
   * Mark `group` read through gseq `gseq` (a large group's log is named by gseq: its entries have
   * no mailbox seq). Returns `gseq`, or null when that moved nothing.
   */
  markReadThrough(group: string, gseq: number): number | null {
    const chat = this.#chat(group);
    if (!chat) return null;
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
  history(group: string, before: number | undefined, limit: number, floor = 0): { items: CopiedGroupItem[]; nextBefore: number | null } {
    const rows = this.sql
      .exec<EntryRow>(
        `SELECT seq, read, tally, entry FROM group_entries
         WHERE group_id = ? AND seq < ? AND seq > ? AND hidden = 0 ORDER BY gseq DESC LIMIT ?`,
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
  chatList(before: number | undefined, limit: number, floor = 0): { items: Array<GroupConversation & { last: CopiedGroupItem }>; nextBefore: number | null } {
    const unread = floor > 0 ? '(SELECT count(*) FROM group_entries u WHERE u.group_id = c.group_id AND u.read = 0 AND u.seq > ?)' : 'c.unread';
    const rows = this.sql
      .exec<EntryRow & { group_id: string; unread: number; marked_unread: number }>(
        `SELECT c.group_id, ${unread} AS unread, c.marked_unread, e.seq, e.read, e.tally, e.entry
         FROM group_chats c JOIN group_entries e ON e.seq = c.last_seq
         WHERE c.large_from IS NULL AND c.last_seq < ? AND c.last_seq > ? ORDER BY c.last_seq DESC LIMIT ?`,
        ...(floor > 0 ? [floor] : []),
        before ?? Number.MAX_SAFE_INTEGER,
        floor,
        limit + 1,
      )
      .toArray();
    return pageOf(rows, limit, (r) => ({
      kind: 'group',
      group: r.group_id,
      last: historyItem(r),
      unread: r.unread,
      markedUnread: r.marked_unread === 1,
    }));
  }

  /**
   * The large groups (read diffusion) for the chat list: where their log part begins, how far
   * this user read, the unread count and last entry of the part copied here (null when nothing
   * of the group is here above `floor`, e.g. they joined after the switch), "marked unread".
   */
  largeChats(floor = 0): LargeChat[] {
    const unread = floor > 0 ? '(SELECT count(*) FROM group_entries u WHERE u.group_id = c.group_id AND u.read = 0 AND u.seq > ?)' : 'c.unread';
    return this.sql
      .exec<Partial<EntryRow> & { group_id: string; large_from: number; read_gseq: number; unread: number; marked_unread: number }>(
        `SELECT c.group_id, c.large_from, c.read_gseq, ${unread} AS unread, c.marked_unread, e.seq, e.read, e.tally, e.entry
         FROM group_chats c LEFT JOIN group_entries e ON e.seq = c.last_seq AND e.seq > ?
         WHERE c.large_from IS NOT NULL`,
        ...(floor > 0 ? [floor] : []),
        floor,
      )
      .toArray()
      .map((r) => ({
        group: r.group_id,
        from: r.large_from,
        readGseq: r.read_gseq,
        unread: r.unread,
        markedUnread: r.marked_unread === 1,
        last: r.seq == null || r.entry == null ? null : historyItem({ seq: r.seq, read: r.read ?? 0, tally: r.tally ?? null, entry: r.entry }),
      }));
  }

  /** The newest mailbox seq holding an entry of `group` at or below gseq `gseq` (0: none). */
  seqThrough(group: string, gseq: number): number {
    return (
      this.sql.exec<{ seq: number | null }>('SELECT max(seq) AS seq FROM group_entries WHERE group_id = ? AND gseq <= ?', group, gseq).one().seq ?? 0
    );
  }

  /** How far this user read `group`, in gseq (0: nothing, or a group never received). */
  readGseq(group: string): number {
    return this.#chat(group)?.read_gseq ?? 0;
  }

  /** Where `group`'s log part begins for this user (read diffusion), or null for a group copied here. */
  largeFrom(group: string): number | null {
    return this.sql.exec<{ large_from: number | null }>('SELECT large_from FROM group_chats WHERE group_id = ?', group).toArray()[0]?.large_from ?? null;
  }

  /**
   * Set or clear the "marked unread" flag of `group` and tell this user's devices (`chat_marker`).
   * Null for a group this user never received, or when the flag already was so.
   */
  markUnread(group: string, unread: boolean, at: number): StoredEntry | null {
    // Clearing is what every group read asks: answered from memory when the group is not marked.
    const marked = this.#markedGroups();
    if (!unread && !marked.has(group)) return null;
    const changed = this.sql
      .exec('UPDATE group_chats SET marked_unread = ? WHERE group_id = ? AND marked_unread != ? RETURNING group_id', unread ? 1 : 0, group, unread ? 1 : 0)
      .toArray();
    if (changed.length === 0) return null;
    if (unread) marked.add(group);
    else marked.delete(group);
    return this.store.append({ type: 'chat_marker', chat: { kind: 'group', group }, unread, at }, at);
  }

  /** Groups marked unread, read once per wake. */
  #markedGroups(): Set<string> {
    this.#marked ??= new Set(
      this.sql.exec<{ group_id: string }>('SELECT group_id FROM group_chats WHERE marked_unread = 1').toArray().map((r) => r.group_id),
    );
    return this.#marked;
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

function historyItem(row: EntryRow): CopiedGroupItem {
  return {
    seq: row.seq,
    entry: JSON.parse(row.entry) as GroupEntry,
    tally: row.tally === null ? null : (JSON.parse(row.tally) as GroupTally),
    read: row.read === 1,
  };
}
