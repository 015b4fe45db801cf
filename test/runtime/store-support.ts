/**
 * Shared by the tests that drive the mailbox modules against a real Durable Object SQLite: the
 * user, a peer and its device, an incoming 1:1 message numbered `n`, and a fresh object's storage.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { mailboxOf } from '../../durable-objects/stubs.ts';
import type { UserMailbox } from '../../durable-objects/user-mailbox.ts';
import type { Message } from '../../protocol/index.ts';

export const ME = '01JDQ3ZK8Y6W2V9T7R5P3N1M0A';
export const PEER = '01JDQ3ZK8Y6W2V9T7R5P3N1M0B';
export const DEVICE = '01JDQ3ZK8Y6W2V9T7R5P3N1M0C';

/** Message `n` from PEER to ME (client id `c<n>`, sent at 1,000 + n). */
export function incoming(n: number, text = `m${n}`): Message {
  return {
    id: `01JDQ3ZK8Y6W2V9T7R5P3N${String(n).padStart(4, '0')}`,
    clientId: `c${n}`,
    from: PEER,
    fromDevice: DEVICE,
    to: ME,
    sentAt: 1_000 + n,
    body: { kind: 'text', text },
  };
}

/** Run against a fresh object's SQLite (schema already migrated by its constructor). */
export function withSql<R>(name: string, fn: (sql: SqlStorage) => R | Promise<R>): Promise<R> {
  return runInDurableObject(mailboxOf(env, name), (_i: UserMailbox, state) => fn(state.storage.sql));
}

/** Undo schemas v14 and v15 (a message's entry built from its history row): tests that upgrade an older object. */
export function undoV14(sql: SqlStorage): void {
  for (const table of ['messages', 'group_entries']) {
    sql.exec(`DROP TRIGGER ${table}_keep_entry_update`);
    sql.exec(`DROP TRIGGER ${table}_keep_entry_delete`);
  }
}

/** Undo schemas v13 (the chat's newest seq no longer stored), v14 and v15: tests that upgrade a v12 object or older. */
export function undoV13(sql: SqlStorage): void {
  sql.exec('ALTER TABLE conversations ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0');
  undoV14(sql);
}

/**
 * Rows of a user's object whose text contains `needle`: rows of the history table `table`
 * (`messages` for 1:1, `group_entries` for group copies) and sync-log entries as devices get them
 * (an entry stored as '' is its message's history row, so it is read from that row).
 */
export function tracesIn(sql: SqlStorage, table: 'messages' | 'group_entries', needle: string): number {
  const column = table === 'messages' ? 'message' : 'entry';
  const like = `%${needle}%`;
  const rows = sql.exec<{ n: number }>(`SELECT count(*) AS n FROM ${table} WHERE ${column} LIKE ?`, like).one().n;
  const entries = sql
    .exec<{ n: number }>(
      `SELECT count(*) AS n FROM mailbox e
       WHERE (CASE e.frame WHEN '' THEN (SELECT h.${column} FROM ${table} h WHERE h.seq = e.seq) ELSE e.frame END) LIKE ?`,
      like,
    )
    .one().n;
  return rows + entries;
}
