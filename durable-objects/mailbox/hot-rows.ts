/**
 * The hot tier's side of moving history: which rows of this user's object are past the hot
 * window, how a row travels (its columns as JSON, with a digest so the object can tell whether
 * it changed while travelling), dropping a row once the warm tier has it, and putting a row
 * back (an action on an archived message brings it home first). Synchronous SQL over the
 * `messages` (1:1) and `group_entries` (groups) tables; the seq is the same in every tier.
 */
import type { ArchivedRow } from '../../db/history/index.ts';
import { searchTextSql } from '../../lib/search-sql.ts';

/** A row on its way to the warm tier: what the shard stores, and the digest the object checks on return. */
export type OutgoingRow = ArchivedRow & { digest: string };

/** What the hot window keeps: rows newer than `cutoff` (ms), the newest `keep` of each chat, starred rows. */
export type HotWindow = { cutoff: number; keep: number };

const DIRECT_COLUMNS = ['peer', 'id', 'outgoing', 'sender', 'client_id', 'status', 'message', 'hidden', 'starred_at'] as const;
const GROUP_COLUMNS = ['group_id', 'gseq', 'sender', 'read', 'tally', 'entry', 'message_id', 'hidden', 'starred_at'] as const;

/** One travelling row: its table's columns by name (the seq travels beside it). */
type RowColumns = { t: 'd' | 'g' } & Record<string, string | number | null>;

const DIRECT_SELECT = `seq, ${DIRECT_COLUMNS.join(', ')}, ${searchTextSql('message', '$.body')} AS text,
  json_extract(message, '$.body.kind') AS kind, json_extract(message, '$.sentAt') AS at`;
const groupAt = (entry: string): string => `coalesce(json_extract(${entry}, '$.message.sentAt'), json_extract(${entry}, '$.event.at'))`;
const GROUP_AT = groupAt('entry');
const GROUP_SELECT = `seq, ${GROUP_COLUMNS.join(', ')}, ${searchTextSql('entry', '$.message.body')} AS text,
  coalesce(json_extract(entry, '$.message.body.kind'), 'event') AS kind, ${GROUP_AT} AS at`;

type SelectedRow = Record<string, string | number | null> & { seq: number; text: string | null; kind: string; at: number };

export class HotRows {
  constructor(private readonly sql: SqlStorage) {}

  /**
   * Rows past the hot window, oldest first, at most `limit` of each table. Rows deleted for this
   * user are not among them: they are dropped here instead (nothing of them is shown any more,
   * so no tier keeps them).
   */
  due(window: HotWindow, limit: number): OutgoingRow[] {
    const keepOffset = Math.max(0, window.keep - 1);
    this.sql.exec(
      `DELETE FROM messages WHERE seq IN (SELECT m.seq FROM messages m WHERE m.hidden = 1 AND json_extract(m.message, '$.sentAt') < ?
         AND EXISTS (SELECT 1 FROM messages n WHERE n.peer = m.peer AND n.seq > m.seq LIMIT 1 OFFSET ?) LIMIT ?)`,
      window.cutoff,
      keepOffset,
      limit,
    );
    this.sql.exec(
      `DELETE FROM group_entries WHERE seq IN (SELECT g.seq FROM group_entries g WHERE g.hidden = 1 AND ${groupAt('g.entry')} < ?
         AND EXISTS (SELECT 1 FROM group_entries n WHERE n.group_id = g.group_id AND n.gseq > g.gseq LIMIT 1 OFFSET ?) LIMIT ?)`,
      window.cutoff,
      keepOffset,
      limit,
    );
    const direct = this.sql
      .exec<SelectedRow>(
        `SELECT ${DIRECT_SELECT} FROM messages m
         WHERE starred_at IS NULL AND hidden = 0 AND json_extract(message, '$.sentAt') < ?
           AND EXISTS (SELECT 1 FROM messages n WHERE n.peer = m.peer AND n.seq > m.seq LIMIT 1 OFFSET ?)
         ORDER BY seq LIMIT ?`,
        window.cutoff,
        keepOffset,
        limit,
      )
      .toArray();
    const group = this.sql
      .exec<SelectedRow>(
        `SELECT ${GROUP_SELECT} FROM group_entries g
         WHERE starred_at IS NULL AND hidden = 0 AND ${GROUP_AT} < ?
           AND EXISTS (SELECT 1 FROM group_entries n WHERE n.group_id = g.group_id AND n.gseq > g.gseq LIMIT 1 OFFSET ?)
         ORDER BY seq LIMIT ?`,
        window.cutoff,
        keepOffset,
        limit,
      )
      .toArray();
    return [...direct.map((r) => outgoing('d', r)), ...group.map((r) => outgoing('g', r))].sort((a, b) => a.seq - b.seq).slice(0, limit);
  }

  /**
   * The warm tier stored these rows: drop each one still exactly as it was sent (a row changed
   * meanwhile — a reaction, a star — stays and goes with a later batch). Returns, per chat, the
   * lowest and highest seq dropped, and how many were.
   */
  drop(rows: ReadonlyArray<{ seq: number; digest: string }>): { moved: Map<string, { min: number; max: number }>; dropped: number } {
    const moved = new Map<string, { min: number; max: number }>();
    let dropped = 0;
    for (const { seq, digest } of rows) {
      const current = this.#select(seq);
      if (!current || current.digest !== digest) continue;
      this.sql.exec(current.chat.startsWith('d:') ? 'DELETE FROM messages WHERE seq = ?' : 'DELETE FROM group_entries WHERE seq = ?', seq);
      const range = moved.get(current.chat);
      moved.set(current.chat, { min: Math.min(range?.min ?? seq, seq), max: Math.max(range?.max ?? seq, seq) });
      dropped++;
    }
    return { moved, dropped };
  }

  /** Whether mailbox seq `seq` is a row of this object (hot), of either table. */
  has(seq: number): boolean {
    return (
      this.sql.exec('SELECT 1 FROM messages WHERE seq = ? UNION ALL SELECT 1 FROM group_entries WHERE seq = ?', seq, seq).toArray().length > 0
    );
  }

  /** Whether message `id` has a copy here (either table, hidden or not). */
  hasMessage(id: string): boolean {
    return (
      this.sql
        .exec('SELECT 1 FROM messages WHERE id = ? UNION ALL SELECT 1 FROM group_entries WHERE message_id = ?', id, id)
        .toArray().length > 0
    );
  }

  /** Put a row that came back from the warm or cold tier where it was (same seq); false when a row has that seq already. */
  restore(seq: number, row: string): boolean {
    if (this.has(seq)) return false;
    const columns = JSON.parse(row) as RowColumns;
    const names = columns.t === 'd' ? DIRECT_COLUMNS : GROUP_COLUMNS;
    const table = columns.t === 'd' ? 'messages' : 'group_entries';
    this.sql.exec(
      `INSERT INTO ${table} (seq, ${names.join(', ')}) VALUES (?, ${names.map(() => '?').join(', ')})`,
      seq,
      ...names.map((name) => columns[name] ?? null),
    );
    return true;
  }

  /** Rows of both tables (for the operators' gauge; a count, so only at archive time). */
  count(): number {
    return this.sql.exec<{ n: number }>('SELECT (SELECT count(*) FROM messages) + (SELECT count(*) FROM group_entries) AS n').one().n;
  }

  /** One row as it would travel now, or null. */
  #select(seq: number): OutgoingRow | null {
    const direct = this.sql.exec<SelectedRow>(`SELECT ${DIRECT_SELECT} FROM messages WHERE seq = ?`, seq).toArray()[0];
    if (direct) return outgoing('d', direct);
    const group = this.sql.exec<SelectedRow>(`SELECT ${GROUP_SELECT} FROM group_entries WHERE seq = ?`, seq).toArray()[0];
    return group ? outgoing('g', group) : null;
  }
}

function outgoing(t: 'd' | 'g', selected: SelectedRow): OutgoingRow {
  const names = t === 'd' ? DIRECT_COLUMNS : GROUP_COLUMNS;
  const columns: RowColumns = { t };
  for (const name of names) columns[name] = selected[name] ?? null;
  const row = JSON.stringify(columns);
  return {
    seq: selected.seq,
    chat: t === 'd' ? `d:${String(selected.peer)}` : `g:${String(selected.group_id)}`,
    id: t === 'd' ? (selected.id as string) : ((selected.message_id as string | null) ?? null),
    sender: (selected.sender as string | null) ?? null,
    at: Number(selected.at ?? 0),
    kind: selected.kind,
    text: selected.text,
    row,
    digest: digestOf(row),
  };
}

/** FNV-1a over the row's JSON: tells a row changed in flight from one that did not (not a security check). */
export function digestOf(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `${text.length.toString(36)}.${hash.toString(36)}`;
}

/** The columns of a stored row, parsed (history pages turn them into items). */
export function rowColumns(row: string): RowColumns {
  return JSON.parse(row) as RowColumns;
}
