/**
 * The hot search index catches up in batches (durable-objects/mailbox/search-backlog.ts): a
 * message costs the index nothing in its own commit, the backlog is indexed once it is a batch
 * and before every search, rows changed or hidden while waiting are indexed as they are by then,
 * rows already indexed are re-indexed in the statement that changes them, a row put back at its
 * old seq is indexed at once, and an object upgraded from v11 indexes nothing twice.
 */
import { describe, expect, it } from 'vitest';
import { SEARCH_BATCH } from '../../durable-objects/mailbox/search-backlog.ts';
import { migrate } from '../../durable-objects/mailbox/schema.ts';
import { MailboxStore } from '../../durable-objects/mailbox/store.ts';
import { readMeta, writeMeta } from '../../durable-objects/sqlite-schema.ts';
import type { Message } from '../../protocol/index.ts';
import { incoming as message, undoV13, withSql } from './store-support.ts';

/** Message `n` with its own searchable word. */
const incoming = (n: number, text = `word${n}`): Message => message(n, text);

/** Seqs the index finds for a word, ascending. */
function hits(sql: SqlStorage, word: string): number[] {
  return sql
    .exec<{ seq: number }>('SELECT rowid AS seq FROM search_hot WHERE search_hot MATCH ? ORDER BY rowid', word)
    .toArray()
    .map((r) => r.seq);
}

function indexed(sql: SqlStorage): number {
  return sql.exec<{ n: number }>('SELECT count(*) AS n FROM search_hot').one().n;
}

function setText(sql: SqlStorage, seq: number, message: Message, text: string): void {
  sql.exec('UPDATE messages SET message = ? WHERE seq = ?', JSON.stringify({ ...message, body: { kind: 'text', text } }), seq);
}

describe('search backlog', () => {
  it('indexes nothing per message, then a whole batch in the turn that completes it', () =>
    withSql('backlog-batch', (sql) => {
      const store = new MailboxStore(sql);
      for (let n = 1; n < SEARCH_BATCH; n++) store.recordMessage(incoming(n), false, n);
      expect(indexed(sql)).toBe(0);
      expect(readMeta(sql, 'search_through')).toBe(0);
      store.recordMessage(incoming(SEARCH_BATCH), false, SEARCH_BATCH);
      expect(indexed(sql)).toBe(SEARCH_BATCH);
      expect(readMeta(sql, 'search_through')).toBe(SEARCH_BATCH);
      store.recordMessage(incoming(SEARCH_BATCH + 1), false, 0);
      expect(hits(sql, `word${SEARCH_BATCH + 1}`)).toEqual([]);
      // A search first takes in what waits.
      store.indexForSearch();
      expect(hits(sql, `word${SEARCH_BATCH + 1}`)).toEqual([SEARCH_BATCH + 1]);
      expect(indexed(sql)).toBe(SEARCH_BATCH + 1);
      // Nothing waits: a second catch-up writes nothing.
      store.indexForSearch();
      expect(indexed(sql)).toBe(SEARCH_BATCH + 1);
    }));

  it('indexes a waiting row as it is when the backlog is taken in (edited, hidden, deleted)', () =>
    withSql('backlog-changed', (sql) => {
      const store = new MailboxStore(sql);
      const seqs = [1, 2, 3, 4].map((n) => store.recordMessage(incoming(n, `original${n}`), false, n).entry!.seq);
      setText(sql, seqs[0]!, incoming(1), 'editedone');
      sql.exec('UPDATE messages SET hidden = 1 WHERE seq = ?', seqs[1]!);
      sql.exec('DELETE FROM messages WHERE seq = ?', seqs[2]!);
      store.indexForSearch();
      expect(hits(sql, 'original1')).toEqual([]);
      expect(hits(sql, 'editedone')).toEqual([seqs[0]]);
      expect(hits(sql, 'original2')).toEqual([]);
      expect(hits(sql, 'original3')).toEqual([]);
      expect(hits(sql, 'original4')).toEqual([seqs[3]]);
      expect(indexed(sql)).toBe(2);
    }));

  it('re-indexes an indexed row in the statement that changes it, and indexes a row put back at its old seq', () =>
    withSql('backlog-indexed', (sql) => {
      const store = new MailboxStore(sql);
      const seqs = [1, 2, 3].map((n) => store.recordMessage(incoming(n, `first${n}`), false, n).entry!.seq);
      store.indexForSearch();
      setText(sql, seqs[0]!, incoming(1), 'secondone');
      expect(hits(sql, 'first1')).toEqual([]);
      expect(hits(sql, 'secondone')).toEqual([seqs[0]]);
      sql.exec('UPDATE messages SET hidden = 1 WHERE seq = ?', seqs[1]!);
      expect(hits(sql, 'first2')).toEqual([]);
      // The history tiers move a row out and bring it back at the same seq.
      const row = sql.exec('SELECT * FROM messages WHERE seq = ?', seqs[2]!).one();
      sql.exec('DELETE FROM messages WHERE seq = ?', seqs[2]!);
      expect(hits(sql, 'first3')).toEqual([]);
      sql.exec(
        'INSERT INTO messages (seq, id, peer, outgoing, sender, client_id, status, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        row.seq,
        row.id,
        row.peer,
        row.outgoing,
        row.sender,
        row.client_id,
        row.status,
        row.message,
      );
      expect(hits(sql, 'first3')).toEqual([seqs[2]]);
      store.indexForSearch();
      expect(indexed(sql)).toBe(2);
    }));

  it('upgrades a v11 object (every row indexed by its triggers) without indexing a row twice', () =>
    withSql('backlog-upgrade', (sql) => {
      const store = new MailboxStore(sql);
      for (let n = 1; n <= 5; n++) store.recordMessage(incoming(n), false, n);
      store.indexForSearch();
      // What v11 left: all rows indexed, no watermark.
      sql.exec("DELETE FROM meta WHERE key = 'search_through'");
      undoV13(sql);
      const version = readMeta(sql, 'schema_version');
      writeMeta(sql, 'schema_version', 11);
      migrate(sql);
      expect(readMeta(sql, 'schema_version')).toBe(version);
      expect(readMeta(sql, 'search_through')).toBe(5);
      const upgraded = new MailboxStore(sql);
      for (let n = 6; n <= 8; n++) upgraded.recordMessage(incoming(n), false, n);
      upgraded.indexForSearch();
      expect(indexed(sql)).toBe(8);
      expect(hits(sql, 'word7')).toEqual([7]);
      // The first instance's remembered watermark is stale; its catch-up reads the stored one.
      store.indexForSearch();
      expect(indexed(sql)).toBe(8);
    }));
});
