/**
 * The group log: every message, system event and update (an action on a message) of one group,
 * numbered by `gseq` (head+1, never reused). This is the one order all members see. A message's
 * row holds the message as it is now (actions rewrite it in place: the log keeps no edit
 * history). Synchronous, so an append commits with whatever else the same event writes.
 */
import type { ActionSummary, GroupChange, GroupEntry, GroupMessage, MessageBody, Quote } from '../../protocol/index.ts';

export type NewMessage = {
  id: string;
  clientId: string;
  from: string;
  fromDevice: string;
  body: MessageBody;
  at: number;
  replyTo?: Quote;
  forwarded?: number;
};

export type NewUpdate = {
  id: string;
  by: string;
  clientId: string;
  at: number;
  action: ActionSummary;
  /** The target after the change. */
  message: GroupMessage;
  /** What a retry under the same client id must repeat. */
  fingerprint: string;
};

/** What a sender stored under a client id: a message, or an update with its fingerprint. */
export type ClientEntry = { gseq: number; entry: GroupEntry; fingerprint: string | null };

/** A log row as fan-out and gap repair read it. */
export type LogRow = { gseq: number; membership: boolean; target: number | null; entry: GroupEntry };

export class GroupLog {
  #head: number;

  constructor(
    private readonly sql: SqlStorage,
    private readonly groupId: () => string,
  ) {
    this.#head = sql.exec<{ head: number | null }>('SELECT max(gseq) AS head FROM log').one().head ?? 0;
  }

  get head(): number {
    return this.#head;
  }

  /** Whatever this sender stored under this client id (messages and updates share the id space). */
  findByClient(sender: string, clientId: string): ClientEntry | null {
    const row = this.sql
      .exec<{ gseq: number; entry: string; fingerprint: string | null }>(
        'SELECT gseq, entry, fingerprint FROM log WHERE sender = ? AND client_id = ?',
        sender,
        clientId,
      )
      .toArray()[0];
    return row ? { gseq: row.gseq, entry: JSON.parse(row.entry) as GroupEntry, fingerprint: row.fingerprint } : null;
  }

  /** A message by its server id (message info, replies, actions): as it is now. */
  messageById(messageId: string): GroupMessage | null {
    const row = this.sql
      .exec<{ entry: string }>("SELECT entry FROM log WHERE id = ? AND kind = 'message'", messageId)
      .toArray()[0];
    if (!row) return null;
    const entry = JSON.parse(row.entry) as GroupEntry;
    return entry.type === 'message' ? entry.message : null;
  }

  appendMessage(m: NewMessage): GroupMessage {
    const gseq = this.#head + 1;
    const message: GroupMessage = {
      id: m.id,
      group: this.groupId(),
      gseq,
      clientId: m.clientId,
      from: m.from,
      fromDevice: m.fromDevice,
      sentAt: m.at,
      body: m.body,
      ...(m.replyTo ? { replyTo: m.replyTo } : {}),
      ...(m.forwarded !== undefined ? { forwarded: m.forwarded } : {}),
    };
    this.#insert(gseq, m.id, 'message', m.from, m.clientId, false, { type: 'message', message });
    return message;
  }

  /** Store a message's new state in its own row (the log keeps no earlier versions). */
  replaceMessage(message: GroupMessage): void {
    const entry: GroupEntry = { type: 'message', message };
    this.sql.exec("UPDATE log SET entry = ? WHERE gseq = ? AND kind = 'message'", JSON.stringify(entry), message.gseq);
  }

  /** Whether a message of the log (not deleted) names media `mediaId` (index log_media). */
  namesMedia(mediaId: string): boolean {
    return (
      this.sql
        .exec(
          "SELECT 1 FROM log WHERE json_extract(entry, '$.message.body.media.id') = ? AND json_extract(entry, '$.message.body.media.id') IS NOT NULL LIMIT 1",
          mediaId,
        )
        .toArray().length > 0
    );
  }

  /** Append an update of message `u.message` (its gseq is the target's). */
  appendUpdate(u: NewUpdate): GroupEntry {
    const gseq = this.#head + 1;
    const entry: GroupEntry = {
      type: 'update',
      update: { id: u.id, group: this.groupId(), gseq, by: u.by, at: u.at, action: u.action, message: u.message },
    };
    this.#insert(gseq, u.id, 'update', u.by, u.clientId, false, entry, { target: u.message.gseq, fingerprint: u.fingerprint });
    return entry;
  }

  /**
   * Make every update of the message at `target` carry `message` (a tombstone): after a deletion
   * for everyone no row of the log holds its content. Returns how many rows were rewritten.
   */
  rewriteUpdates(target: number, message: GroupMessage): number {
    const rows = this.sql
      .exec<{ gseq: number; entry: string }>('SELECT gseq, entry FROM log WHERE target = ?', target)
      .toArray();
    for (const row of rows) {
      const entry = JSON.parse(row.entry) as GroupEntry;
      if (entry.type !== 'update') continue;
      entry.update.message = message;
      this.sql.exec('UPDATE log SET entry = ? WHERE gseq = ?', JSON.stringify(entry), row.gseq);
    }
    return rows.length;
  }

  /** How many edits message `target` has had (the log keeps no versions, so it counts the updates). */
  editCount(target: number): number {
    return this.sql
      .exec<{ n: number }>(
        "SELECT count(*) AS n FROM log WHERE target = ? AND json_extract(entry, '$.update.action.kind') = 'edit'",
        target,
      )
      .one().n;
  }

  /** Whether any entry with after < gseq <= upTo changed membership (then their audiences differ). */
  membershipBetween(after: number, upTo: number): boolean {
    return this.sql.exec('SELECT 1 FROM log WHERE audience = 1 AND gseq > ? AND gseq <= ? LIMIT 1', after, upTo).toArray().length > 0;
  }

  /** Append a system event; `membership` marks entries that change who receives what follows. */
  appendEvent(id: string, by: string, change: GroupChange, at: number, membership: boolean): GroupEntry {
    const gseq = this.#head + 1;
    const entry: GroupEntry = { type: 'event', event: { id, group: this.groupId(), gseq, by, at, change } };
    this.#insert(gseq, id, 'event', by, null, membership, entry);
    return entry;
  }

  /**
   * Entries with after < gseq <= upTo, in order, at most `limit`; each with whether it changed
   * membership and, for updates, the gseq of the message it changes.
   */
  range(after: number, upTo: number, limit: number): LogRow[] {
    return this.sql
      .exec<{ gseq: number; audience: number; target: number | null; entry: string }>(
        'SELECT gseq, audience, target, entry FROM log WHERE gseq > ? AND gseq <= ? ORDER BY gseq LIMIT ?',
        after,
        upTo,
        limit,
      )
      .toArray()
      .map((r) => ({ gseq: r.gseq, membership: r.audience === 1, target: r.target, entry: JSON.parse(r.entry) as GroupEntry }));
  }

  /** Messages (not events) with from <= gseq <= to, newest last: what tallies are computed for. */
  messagesBetween(from: number, to: number, limit: number): Array<{ gseq: number; id: string; sender: string }> {
    return this.sql
      .exec<{ gseq: number; id: string; sender: string }>(
        `SELECT gseq, id, sender FROM log
         WHERE kind = 'message' AND gseq >= ? AND gseq <= ? ORDER BY gseq DESC LIMIT ?`,
        from,
        to,
        limit,
      )
      .toArray()
      .reverse();
  }

  /**
   * Messages and events (updates are folded into the messages they change) with after < gseq <=
   * upTo, newest first, at most `limit`: history pages read from the log.
   */
  newestFirst(after: number, upTo: number, limit: number): LogRow[] {
    return this.sql
      .exec<{ gseq: number; audience: number; entry: string }>(
        `SELECT gseq, audience, entry FROM log
         WHERE gseq > ? AND gseq <= ? AND kind != 'update' ORDER BY gseq DESC LIMIT ?`,
        after,
        upTo,
        limit,
      )
      .toArray()
      .map((r) => ({ gseq: r.gseq, membership: r.audience === 1, target: null, entry: JSON.parse(r.entry) as GroupEntry }));
  }

  /** Messages not sent by `except` with after < gseq <= upTo, counted up to `cap`: an unread count. */
  countOthersMessages(after: number, upTo: number, except: string, cap: number): number {
    if (upTo <= after) return 0;
    return this.sql
      .exec<{ n: number }>(
        `SELECT count(*) AS n FROM (SELECT 1 FROM log WHERE gseq > ? AND gseq <= ? AND kind = 'message' AND sender != ? LIMIT ?)`,
        after,
        upTo,
        except,
        cap,
      )
      .one().n;
  }

  #insert(
    gseq: number,
    id: string,
    kind: 'message' | 'event' | 'update',
    sender: string,
    clientId: string | null,
    membership: boolean,
    entry: GroupEntry,
    update: { target: number; fingerprint: string } | null = null,
  ): void {
    this.sql.exec(
      'INSERT INTO log (gseq, id, kind, sender, client_id, audience, entry, target, fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      gseq,
      id,
      kind,
      sender,
      clientId,
      membership ? 1 : 0,
      JSON.stringify(entry),
      update?.target ?? null,
      update?.fingerprint ?? null,
    );
    this.#head = gseq;
  }
}
