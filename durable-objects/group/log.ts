/**
 * The group log: every message and system event of one group, numbered by `gseq` (head+1, never
 * reused). This is the one order all members see. Synchronous, so an append commits with
 * whatever else the same event writes.
 */
import type { GroupChange, GroupEntry, GroupMessage, MessageBody } from '../../protocol/index.ts';

export type NewMessage = { id: string; clientId: string; from: string; fromDevice: string; body: MessageBody; at: number };

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

  /** The message this sender already stored under this client id (idempotency), if any. */
  findMessage(sender: string, clientId: string): GroupMessage | null {
    const row = this.sql
      .exec<{ entry: string }>('SELECT entry FROM log WHERE sender = ? AND client_id = ?', sender, clientId)
      .toArray()[0];
    if (!row) return null;
    const entry = JSON.parse(row.entry) as GroupEntry;
    return entry.type === 'message' ? entry.message : null;
  }

  /** A message by its server id (for "message info"). */
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
    };
    this.#insert(gseq, m.id, 'message', m.from, m.clientId, false, { type: 'message', message });
    return message;
  }

  /** Append a system event; `membership` marks entries that change who receives what follows. */
  appendEvent(id: string, by: string, change: GroupChange, at: number, membership: boolean): GroupEntry {
    const gseq = this.#head + 1;
    const entry: GroupEntry = { type: 'event', event: { id, group: this.groupId(), gseq, by, at, change } };
    this.#insert(gseq, id, 'event', by, null, membership, entry);
    return entry;
  }

  /** Entries with after < gseq <= upTo, in order, at most `limit`; each with whether it changed membership. */
  range(after: number, upTo: number, limit: number): Array<{ gseq: number; membership: boolean; entry: GroupEntry }> {
    return this.sql
      .exec<{ gseq: number; audience: number; entry: string }>(
        'SELECT gseq, audience, entry FROM log WHERE gseq > ? AND gseq <= ? ORDER BY gseq LIMIT ?',
        after,
        upTo,
        limit,
      )
      .toArray()
      .map((r) => ({ gseq: r.gseq, membership: r.audience === 1, entry: JSON.parse(r.entry) as GroupEntry }));
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

  #insert(gseq: number, id: string, kind: string, sender: string, clientId: string | null, membership: boolean, entry: GroupEntry): void {
    this.sql.exec(
      'INSERT INTO log (gseq, id, kind, sender, client_id, audience, entry) VALUES (?, ?, ?, ?, ?, ?, ?)',
      gseq,
      id,
      kind,
      sender,
      clientId,
      membership ? 1 : 0,
      JSON.stringify(entry),
    );
    this.#head = gseq;
  }
}
