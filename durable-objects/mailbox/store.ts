/**
 * The mailbox store: one user's ordered sync log (`mailbox`), message history (`messages`) and
 * per-device cursors, on the Durable Object's SQLite. Every method is synchronous, so a batch of
 * calls made without an `await` in between commits together (one fsync for the whole batch).
 *
 * Sequence numbers are assigned here and only here: head+1, never reused, even after pruning.
 */
import {
  STATUS_RANK,
  type MailboxFrame,
  type Message,
  type MessageStatus,
  type HistoryItem,
  type GroupMessage,
} from '../../protocol/index.ts';
import { readMeta, writeMeta } from '../sqlite-schema.ts';
import { SearchBacklog } from './search-backlog.ts';
import { ChatList } from './chat-list.ts';
import { directFrame, groupFrame } from './shared-frames.ts';
import { historyItem, pageOf, type MessageRow } from './message-rows.ts';

/** A mailbox frame before it has a position: the store adds `seq`. */
export type MailboxEntry = MailboxFrame extends infer F ? (F extends { seq: number } ? Omit<F, 'seq'> : never) : never;

/** A stored entry ready to send: the JSON text already contains its seq. */
export type StoredEntry = { seq: number; text: string };

export type StoredMessage = { id: string; sentAt: number; duplicate: boolean };

/** Incoming messages remembered for acks (beyond them an ack reads the table). */
const RECENT_INCOMING_MAX = 512;

export class MailboxStore {
  #head: number;
  #prunedThrough: number;
  /**
   * Highest seq of an incoming 1:1 message here (0: none); null until first needed or after rows
   * were brought back from the history tiers. Too high is harmless (a query runs), never too low.
   */
  #lastIncoming: number | null = null;
  /**
   * The incoming 1:1 messages recorded by this instance (seq → sender and client id, in seq
   * order), at most RECENT_INCOMING_MAX: every one with seq above `#recentFrom` is here. A device's
   * ack is answered from it without a query (most acks follow what was just delivered).
   */
  readonly #recent = new Map<number, { sender: string; clientId: string }>();
  #recentFrom: number;
  /** The rows the hot search index has not taken in yet (indexed in batches, and before a search). */
  readonly #search: SearchBacklog;

  /** The 1:1 chat list (unread counts, read watermarks, "marked unread"). */
  readonly chats: ChatList;

  constructor(private readonly sql: SqlStorage) {
    this.#search = new SearchBacklog(sql);
    this.chats = new ChatList(sql);
    this.#prunedThrough = readMeta(sql, 'pruned_through');
    const max = sql.exec<{ seq: number | null }>('SELECT max(seq) AS seq FROM mailbox').one().seq;
    this.#head = Math.max(max ?? 0, this.#prunedThrough);
    this.#recentFrom = this.#head;
  }

  /** Highest seq ever assigned. */
  get head(): number {
    return this.#head;
  }

  /** Entries with seq <= this were removed by retention; a cursor below it has a hole. */
  get prunedThrough(): number {
    return this.#prunedThrough;
  }

  /** Append one entry; returns it with its new seq and serialised frame. */
  append(entry: MailboxEntry, now: number): StoredEntry {
    const seq = this.#head + 1;
    // `seq` goes right after `type` so frames read naturally in logs and docs.
    const { type, ...rest } = entry;
    const text = JSON.stringify({ type, seq, ...rest });
    this.sql.exec('INSERT INTO mailbox (seq, kind, frame, created_at) VALUES (?, ?, ?, ?)', seq, type, text, now);
    this.#head = seq;
    this.#search.appended(seq);
    return { seq, text };
  }

  /**
   * A group message's copy, whose message is the `group_entries` row stored at the same seq with
   * `entryJson` (what group-inbox writes): stored once, like a 1:1 message's entry.
   */
  appendGroupMessage(message: GroupMessage, entryJson: string, now: number): StoredEntry {
    const seq = this.#head + 1;
    const text = groupFrame(seq, entryJson);
    return text === null ? this.append({ type: 'group_message', message }, now) : this.#appendShared('group_message', seq, text, now);
  }

  /**
   * An entry whose message is the history row stored at the same seq (`messages`,
   * `group_entries`): the entry keeps '' and its frame is built from that row when read (`range`),
   * so the message's JSON is stored once. Triggers (schema v14, v15) write the frame in full
   * before that row changes or goes, so the entry still says what it said when it was appended.
   */
  #appendShared(kind: 'message' | 'group_message', seq: number, text: string, now: number): StoredEntry {
    this.sql.exec(`INSERT INTO mailbox (seq, kind, frame, created_at) VALUES (?, ?, '', ?)`, seq, kind, now);
    this.#head = seq;
    this.#search.appended(seq);
    return { seq, text };
  }

  /** Bring the hot search index up to date (every message stored so far becomes searchable). */
  indexForSearch(): void {
    this.#search.catchUp(this.#head);
  }

  /** Entries with after < seq <= after+limit, in order. */
  range(after: number, limit: number): StoredEntry[] {
    // An entry kept as '' is its message's frame, built from the history row at its seq.
    const rows = this.sql
      .exec<{ seq: number; frame: string; message: string | null; entry: string | null }>(
        `SELECT e.seq, e.frame, m.message, g.entry FROM mailbox e
         LEFT JOIN messages m ON e.frame = '' AND e.kind = 'message' AND m.seq = e.seq
         LEFT JOIN group_entries g ON e.frame = '' AND e.kind = 'group_message' AND g.seq = e.seq
         WHERE e.seq > ? ORDER BY e.seq LIMIT ?`,
        after,
        limit,
      )
      .toArray();
    const entries: StoredEntry[] = [];
    for (const row of rows) {
      const text = row.frame !== '' ? row.frame : row.message !== null ? directFrame(row.seq, row.message) : row.entry !== null ? groupFrame(row.seq, row.entry) : null;
      if (text !== null) entries.push({ seq: row.seq, text });
      // Cannot happen while the triggers stand (a row leaves only after its entry was written out).
      else console.error(`mailbox entry ${row.seq} has neither a frame nor a history row; skipped`);
    }
    return entries;
  }

  /** Creation time of the oldest kept entry, for scheduling expiry; null when empty. */
  oldestCreatedAt(): number | null {
    return this.sql.exec<{ at: number }>('SELECT created_at AS at FROM mailbox ORDER BY seq LIMIT 1').toArray()[0]?.at ?? null;
  }

  /** Remove entries created before `cutoff`; returns how many. */
  pruneBefore(cutoff: number): number {
    // created_at grows with seq, so the expired entries are a prefix: walk to its end (cost is
    // proportional to what is removed) and delete the seq range.
    const firstKept = this.sql
      .exec<{ seq: number }>('SELECT seq FROM mailbox WHERE created_at >= ? ORDER BY seq LIMIT 1', cutoff)
      .toArray()[0]?.seq;
    const end = firstKept ?? this.#head + 1;
    const removed = this.sql
      .exec<{ n: number; top: number | null }>('SELECT count(*) AS n, max(seq) AS top FROM mailbox WHERE seq < ?', end)
      .one();
    if (removed.n === 0 || removed.top === null) return 0;
    this.sql.exec('DELETE FROM mailbox WHERE seq < ?', end);
    if (removed.top > this.#prunedThrough) {
      this.#prunedThrough = removed.top;
      writeMeta(this.sql, 'pruned_through', removed.top);
    }
    return removed.n;
  }

  /**
   * Number of entries currently kept (the mailbox depth metric, reported on every connect and
   * disconnect): seqs are contiguous and only retention removes entries, always a prefix, so this
   * is arithmetic, not a count over the table.
   */
  depth(): number {
    return this.#head - this.#prunedThrough;
  }

  // ------------------------------------------------------------------ messages

  /** Whether `peer` ever wrote to this user in a 1:1 chat (a message from them is in the history). */
  heardFrom(peer: string): boolean {
    return this.sql.exec('SELECT 1 FROM messages WHERE peer = ? AND outgoing = 0 LIMIT 1', peer).toArray().length > 0;
  }

  /** The stored message a sender already sent with this client id, if any (idempotency). */
  findBySenderClientId(sender: string, clientId: string): Message | null {
    const row = this.sql
      .exec<{ message: string }>('SELECT message FROM messages WHERE sender = ? AND client_id = ?', sender, clientId)
      .toArray()[0];
    return row ? (JSON.parse(row.message) as Message) : null;
  }

  /**
   * Record a message in this user's history and mailbox (incoming, or the sender's own copy),
   * unless this sender already stored this client id. Returns the stored identity either way.
   */
  recordMessage(message: Message, outgoing: boolean, now: number): { stored: StoredMessage; entry: StoredEntry | null } {
    const peer = outgoing ? message.to : message.from;
    const seq = this.#head + 1;
    // The idempotency index decides in the insert itself (no SELECT first): a row already there
    // for this (sender, client id) inserts nothing and returns nothing, and only then is it read.
    const json = JSON.stringify(message);
    const inserted = this.sql
      .exec(
        `INSERT INTO messages (seq, id, peer, outgoing, sender, client_id, status, message)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (sender, client_id) DO NOTHING RETURNING seq`,
        seq,
        message.id,
        peer,
        outgoing ? 1 : 0,
        message.from,
        message.clientId,
        STATUS_RANK.sent,
        json,
      )
      .toArray();
    if (inserted.length === 0) {
      const existing = this.findBySenderClientId(message.from, message.clientId);
      if (!existing) throw new Error(`message ${message.clientId} of ${message.from} neither stored nor found`);
      return { stored: { id: existing.id, sentAt: existing.sentAt, duplicate: true }, entry: null };
    }
    const entry = this.#appendShared('message', seq, directFrame(seq, json), now);
    if (!outgoing) this.#rememberIncoming(entry.seq, message);
    this.chats.recorded(peer, !outgoing);
    return { stored: { id: message.id, sentAt: message.sentAt, duplicate: false }, entry };
  }

  /**
   * Client ids of incoming messages with after < seq <= upTo, grouped by sender (seq order):
   * what a device's ack just delivered. Answered from memory when the range is among the
   * messages this instance recorded (the usual ack), from the table otherwise. Read-only:
   * "delivered" is not a stored flag but "seq at or below the highest cursor any device
   * acknowledged", so acks cost no write of their own.
   */
  incomingBetween(after: number, upTo: number): Map<string, string[]> {
    // Most acks cover no incoming 1:1 message (the user's own copies, group entries, markers): no query.
    if (after >= this.#lastIncomingSeq()) return new Map();
    if (after >= this.#recentFrom) {
      const recent = [...this.#recent].filter(([seq]) => seq > after && seq <= upTo).map(([, m]) => m);
      return groupBy(recent, (m) => m.sender, (m) => m.clientId);
    }
    const rows = this.sql
      .exec<{ client_id: string; sender: string }>(
        'SELECT client_id, sender FROM messages WHERE seq > ? AND seq <= ? AND outgoing = 0 ORDER BY seq',
        after,
        upTo,
      )
      .toArray();
    return groupBy(rows, (r) => r.sender, (r) => r.client_id);
  }

  /** Rows were put back in `messages` out of order (history tiers): forget the cached highest incoming seq. */
  forgetLastIncoming(): void {
    this.#lastIncoming = null;
    // Restored rows may sit anywhere: this instance answers acks from the table from now on.
    this.#recent.clear();
    this.#recentFrom = Number.MAX_SAFE_INTEGER;
  }

  #rememberIncoming(seq: number, message: Message): void {
    if (this.#lastIncoming !== null) this.#lastIncoming = Math.max(this.#lastIncoming, seq);
    if (this.#recentFrom === Number.MAX_SAFE_INTEGER) return;
    this.#recent.set(seq, { sender: message.from, clientId: message.clientId });
    if (this.#recent.size <= RECENT_INCOMING_MAX) return;
    const [oldest] = this.#recent.keys();
    this.#recent.delete(oldest!);
    this.#recentFrom = oldest!;
  }

  #lastIncomingSeq(): number {
    this.#lastIncoming ??=
      this.sql.exec<{ seq: number }>('SELECT seq FROM messages WHERE outgoing = 0 ORDER BY seq DESC LIMIT 1').toArray()[0]?.seq ?? 0;
    return this.#lastIncoming;
  }

  /** Mark incoming messages from `peer` with seq <= upTo as read; returns their client ids (seq order). */
  markRead(peer: string, upTo: number): string[] {
    // Only after the chat's read watermark: everything at or below it was read before.
    const clientIds = this.sql
      .exec<{ client_id: string; seq: number }>(
        `UPDATE messages SET status = ?
         WHERE peer = ? AND seq > coalesce((SELECT read_through FROM conversations WHERE peer = ?), 0) AND seq <= ? AND outgoing = 0 AND status < ?
         RETURNING client_id, seq`,
        STATUS_RANK.read,
        peer,
        peer,
        upTo,
        STATUS_RANK.read,
      )
      .toArray()
      .sort((a, b) => a.seq - b.seq)
      .map((r) => r.client_id);
    if (clientIds.length > 0) this.chats.read(peer, clientIds.length, upTo);
    return clientIds;
  }

  /**
   * Advance the status of messages `self` sent to `peer`, named by client id; returns those that
   * moved forward, in seq order (a repeated or late receipt moves nothing).
   */
  advanceOutgoing(
    self: string,
    peer: string,
    clientIds: readonly string[],
    status: Exclude<MessageStatus, 'sent'>,
  ): Array<{ id: string; clientId: string }> {
    if (clientIds.length === 0) return [];
    const rank = STATUS_RANK[status];
    // `+peer`: found through the idempotency index (sender, client id), one lookup per id. Left
    // to itself SQLite picked (peer, seq) and read the whole conversation for every receipt
    // (found by the history bench: 456 -> 75 msg/s by 20,000 messages in one chat).
    return this.sql
      .exec<{ id: string; client_id: string; seq: number }>(
        `UPDATE messages SET status = ?
         WHERE sender = ? AND client_id IN (SELECT value FROM json_each(?)) AND +peer = ? AND outgoing = 1 AND status < ?
         RETURNING id, client_id, seq`,
        rank,
        self,
        JSON.stringify(clientIds),
        peer,
        rank,
      )
      .toArray()
      .sort((a, b) => a.seq - b.seq)
      .map((r) => ({ id: r.id, clientId: r.client_id }));
  }

  /**
   * A page of the conversation with `peer`, newest first, strictly below `before` and above
   * `floor` (a device registered without history sees nothing at or below its floor).
   */
  history(peer: string, before: number | undefined, limit: number, floor = 0): { items: HistoryItem[]; nextBefore: number | null } {
    const rows = this.sql
      .exec<MessageRow>(
        `SELECT seq, message, status, outgoing FROM messages
         WHERE peer = ? AND seq < ? AND seq > ? AND hidden = 0 ORDER BY seq DESC LIMIT ?`,
        peer,
        before ?? Number.MAX_SAFE_INTEGER,
        floor,
        limit + 1,
      )
      .toArray();
    return pageOf(rows, limit, historyItem);
  }

  // ------------------------------------------------------------------ copies of changed messages

  /**
   * Replace the message carried by its own mailbox entry and by every update entry linked to it
   * (`linkEntry`) with `message`: what a deletion leaves in the sync log devices resume from.
   */
  rewriteEntries(messageSeq: number, message: unknown): void {
    const seqs = [
      messageSeq,
      ...this.sql
        .exec<{ entry_seq: number }>('SELECT entry_seq FROM message_entries WHERE message_seq = ?', messageSeq)
        .toArray()
        .map((r) => r.entry_seq),
    ];
    for (const seq of seqs) {
      const row = this.sql.exec<{ kind: string; frame: string }>('SELECT kind, frame FROM mailbox WHERE seq = ?', seq).toArray()[0];
      if (!row) continue; // expired by retention
      // '': the message's own entry, not written out yet (its history row did not change).
      const frame = (row.frame === '' ? { type: row.kind, seq } : JSON.parse(row.frame)) as { message?: unknown };
      frame.message = message;
      this.sql.exec('UPDATE mailbox SET frame = ? WHERE seq = ?', JSON.stringify(frame), seq);
    }
  }

  /** Remember that mailbox entry `entrySeq` carries a copy of the message at `messageSeq`. */
  linkEntry(messageSeq: number, entrySeq: number): void {
    this.sql.exec('INSERT OR IGNORE INTO message_entries (message_seq, entry_seq) VALUES (?, ?)', messageSeq, entrySeq);
  }

  // ------------------------------------------------------------------ device cursors

  /** The stored cursor of a device, or null for a device this mailbox has never seen. */
  deviceCursor(deviceId: string): number | null {
    const row = this.sql.exec<{ acked: number }>('SELECT acked FROM devices WHERE device_id = ?', deviceId).toArray()[0];
    return row ? row.acked : null;
  }

  /** Every device's stored cursor. */
  deviceCursors(): Map<string, number> {
    return new Map(this.sql.exec<{ device_id: string; acked: number }>('SELECT device_id, acked FROM devices').toArray().map((r) => [r.device_id, r.acked]));
  }

  /** Record a device's acknowledged cursor (never moves backwards). */
  saveDeviceCursor(deviceId: string, acked: number, now: number): void {
    this.sql.exec(
      `INSERT INTO devices (device_id, acked, last_seen_at) VALUES (?, ?, ?)
       ON CONFLICT (device_id) DO UPDATE SET acked = max(acked, excluded.acked), last_seen_at = excluded.last_seen_at`,
      deviceId,
      acked,
      now,
    );
  }

  forgetDevice(deviceId: string): void {
    this.sql.exec('DELETE FROM devices WHERE device_id = ?', deviceId);
  }
}

function groupBy<T>(items: readonly T[], key: (item: T) => string, value: (item: T) => string): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const item of items) {
    const k = key(item);
    const list = groups.get(k);
    if (list) list.push(value(item));
    else groups.set(k, [value(item)]);
  }
  return groups;
}
