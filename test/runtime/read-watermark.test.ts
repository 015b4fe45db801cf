/**
 * Marking a 1:1 chat read starts at the chat's read watermark (everything at or below it was
 * read before), so a read costs the messages since the last one, not the whole chat. The
 * watermark is filled in from the stored statuses when an older mailbox is upgraded (schema v9).
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { Message } from '../../protocol/index.ts';
import { migrate } from '../../durable-objects/mailbox/schema.ts';
import { MailboxStore } from '../../durable-objects/mailbox/store.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';
import { readMeta, writeMeta } from '../../durable-objects/sqlite-schema.ts';
import { undoV13 } from './store-support.ts';

const ME = '01JME000000000000000000000';
const ANN = '01JANN00000000000000000000';
const BOB = '01JB0B00000000000000000000';

const message = (from: string, to: string, n: number): Message =>
  ({ id: `01JMSG${String(n).padStart(20, '0')}`, clientId: `c${from.slice(3, 6)}${n}`, from, to, fromDevice: 'd', sentAt: n, body: { kind: 'text', text: `m${n}` } }) as Message;

async function inMailbox(body: (store: MailboxStore, sql: SqlStorage) => void): Promise<void> {
  await runInDurableObject(mailboxOf(env, `${ME}-${Math.random()}`), async (_instance, state) => {
    body(new MailboxStore(state.storage.sql), state.storage.sql);
  });
}

const watermark = (sql: SqlStorage, peer: string) =>
  sql.exec<{ read_through: number }>('SELECT read_through FROM conversations WHERE peer = ?', peer).one().read_through;

describe('reading a chat', () => {
  it('marks each incoming message read once, in order, and moves the watermark only over what it marked', async () => {
    await inMailbox((store, sql) => {
      const seqs: number[] = [];
      for (let n = 1; n <= 6; n++) {
        const incoming = n % 3 !== 0;
        const { entry } = store.recordMessage(incoming ? message(ANN, ME, n) : message(ME, ANN, n), !incoming, n);
        seqs.push(entry!.seq);
        store.recordMessage(message(BOB, ME, 100 + n), false, n); // another chat in between
      }
      expect(store.markRead(ANN, seqs[2]!)).toEqual(['cANN1', 'cANN2']);
      expect(watermark(sql, ANN)).toBe(seqs[2]);
      expect(store.markRead(ANN, seqs[2]!)).toEqual([]);
      expect(store.markRead(ANN, store.head)).toEqual(['cANN4', 'cANN5']);
      expect(store.markRead(ANN, store.head)).toEqual([]);
      // The other chat was not touched, and unread counts followed.
      expect(watermark(sql, BOB)).toBe(0);
      expect(sql.exec<{ unread: number }>('SELECT unread FROM conversations WHERE peer = ?', ANN).one().unread).toBe(0);
      expect(sql.exec<{ unread: number }>('SELECT unread FROM conversations WHERE peer = ?', BOB).one().unread).toBe(6);
      expect(store.markRead(BOB, store.head)).toHaveLength(6);
    });
  });

  it('finds the watermark of an older mailbox from its statuses when upgraded', async () => {
    await inMailbox((store, sql) => {
      const seqs = [1, 2, 3, 4].map((n) => store.recordMessage(message(ANN, ME, n), false, n).entry!.seq);
      store.recordMessage(message(BOB, ME, 9), false, 9);
      store.markRead(ANN, seqs[1]!);
      // Back to a v8 mailbox (no watermark, nor what later versions added), then upgrade.
      const version = readMeta(sql, 'schema_version');
      sql.exec('ALTER TABLE conversations DROP COLUMN read_through');
      sql.exec('ALTER TABLE group_chats DROP COLUMN large_from'); // v10
      sql.exec('ALTER TABLE group_chats DROP COLUMN large_seq');
      sql.exec('DROP TABLE large_marks'); // v11
      undoV13(sql);
      writeMeta(sql, 'schema_version', 8);
      migrate(sql);
      expect(readMeta(sql, 'schema_version')).toBe(version);
      expect(watermark(sql, ANN)).toBe(seqs[1]);
      expect(watermark(sql, BOB)).toBe(0);
      expect(store.markRead(ANN, store.head)).toEqual(['cANN3', 'cANN4']);
    });
  });
});
