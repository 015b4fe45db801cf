/**
 * The 1:1 chat list against a real Durable Object SQLite: the newest message of each chat is read
 * from the messages when the list is asked for, so an outgoing message writes nothing to the
 * chat list once its row exists, an incoming one only counts as unread, and the list still shows
 * the right last message when the newest row is gone.
 */
import { describe, expect, it } from 'vitest';
import { migrate } from '../../durable-objects/mailbox/schema.ts';
import { MailboxStore } from '../../durable-objects/mailbox/store.ts';
import { readMeta, writeMeta } from '../../durable-objects/sqlite-schema.ts';
import type { Message } from '../../protocol/index.ts';
import { ME, PEER, incoming, undoV13, withSql } from './store-support.ts';

const OTHER = '01JDQ3ZK8Y6W2V9T7R5P3N1M0D';

/** Message `n` from ME to `to` (client id `o<n>`). */
function outgoing(n: number, to = PEER): Message {
  return { ...incoming(n), id: `01JDQ3ZK8Y6W2V9T7R5P3O${String(n).padStart(4, '0')}`, clientId: `o${n}`, from: ME, to };
}

/** `sql` whose statements are also written to `log`. */
function logged(sql: SqlStorage, log: string[]): SqlStorage {
  return new Proxy(sql, {
    get(target, prop) {
      if (prop === 'exec') {
        return (query: string, ...bindings: SqlStorageValue[]) => {
          log.push(query);
          return target.exec(query, ...bindings);
        };
      }
      const value = Reflect.get(target, prop) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

const touchesChats = (log: string[]): string[] => log.filter((q) => q.includes('conversations'));

describe('the 1:1 chat list', () => {
  it('writes nothing for an outgoing message once the chat has a row, and counts each incoming one', () =>
    withSql('chat-list-statements', (sql) => {
      const log: string[] = [];
      const store = new MailboxStore(logged(sql, log));
      store.recordMessage(outgoing(1), true, 1);
      expect(touchesChats(log)).toHaveLength(1); // the chat's first message makes its row
      log.length = 0;
      store.recordMessage(outgoing(2), true, 2);
      store.recordMessage(outgoing(3), true, 3);
      expect(touchesChats(log)).toEqual([]);
      store.recordMessage(incoming(4), false, 4);
      expect(touchesChats(log)).toHaveLength(1); // the unread count
      // A retry stores nothing, so it counts nothing.
      log.length = 0;
      store.recordMessage(incoming(4), false, 5);
      expect(touchesChats(log)).toEqual([]);
      expect(store.chats.conversations(undefined, 10).items.map((c) => [c.peer, c.unread, c.last?.message.clientId])).toEqual([[PEER, 1, 'c4']]);
    }));

  it('lists chats newest first by their last message in either direction, with unread counts and pages', () =>
    withSql('chat-list-order', (sql) => {
      const store = new MailboxStore(sql);
      store.recordMessage(incoming(1), false, 1); // seq 1, PEER
      store.recordMessage(outgoing(2, OTHER), true, 2); // seq 2, OTHER
      store.recordMessage(incoming(3), false, 3); // seq 3, PEER
      store.recordMessage(outgoing(4, OTHER), true, 4); // seq 4, OTHER: newest
      const list = store.chats.conversations(undefined, 10);
      expect(list.items.map((c) => [c.peer, c.last?.seq, c.unread])).toEqual([
        [OTHER, 4, 0],
        [PEER, 3, 2],
      ]);
      expect(list.nextBefore).toBeNull();
      const first = store.chats.conversations(undefined, 1);
      expect(first.items.map((c) => c.peer)).toEqual([OTHER]);
      expect(first.nextBefore).toBe(4);
      expect(store.chats.conversations(first.nextBefore!, 1).items.map((c) => c.peer)).toEqual([PEER]);
      // An outgoing reply moves the chat to the top; reading it clears the count.
      store.recordMessage(outgoing(5), true, 5);
      expect(store.markRead(PEER, 3)).toEqual(['c1', 'c3']);
      expect(store.chats.conversations(undefined, 10).items.map((c) => [c.peer, c.last?.seq, c.unread])).toEqual([
        [PEER, 5, 0],
        [OTHER, 4, 0],
      ]);
      // Above a device's floor only newer messages list and count.
      store.recordMessage(incoming(6), false, 6);
      expect(store.chats.conversations(undefined, 10, 5).items.map((c) => [c.peer, c.last?.seq, c.unread])).toEqual([[PEER, 6, 1]]);
    }));

  it('shows the newest message still kept when the newest row is gone', () =>
    withSql('chat-list-dropped', (sql) => {
      const store = new MailboxStore(sql);
      store.recordMessage(incoming(1), false, 1);
      store.recordMessage(outgoing(2), true, 2);
      // As the archiver drops a row deleted for this user.
      sql.exec('DELETE FROM messages WHERE seq = 2');
      expect(store.chats.conversations(undefined, 10).items.map((c) => [c.peer, c.last?.seq])).toEqual([[PEER, 1]]);
    }));

  it('upgrades a mailbox whose chat rows still carry the newest seq', () =>
    withSql('chat-list-upgrade', (sql) => {
      const store = new MailboxStore(sql);
      store.recordMessage(incoming(1), false, 1);
      store.recordMessage(outgoing(2), true, 2);
      const version = readMeta(sql, 'schema_version');
      // Back to v12, whose rows kept `last_seq`, then upgrade.
      undoV13(sql);
      sql.exec('UPDATE conversations SET last_seq = 2');
      writeMeta(sql, 'schema_version', 12);
      migrate(sql);
      expect(readMeta(sql, 'schema_version')).toBe(version);
      expect(sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('conversations')").toArray().map((r) => r.name)).not.toContain('last_seq');
      const fresh = new MailboxStore(sql);
      fresh.recordMessage(outgoing(3), true, 3);
      expect(fresh.chats.conversations(undefined, 10).items.map((c) => [c.peer, c.last?.seq, c.unread])).toEqual([[PEER, 3, 1]]);
    }));
});
