/**
 * The mailbox modules against a real Durable Object SQLite: seq assignment, idempotent
 * recording, forward-only ticks, retention bookkeeping, the receipt relay's retry, and settings
 * stored before a field existed.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { ReceiptRelay, type Receipt } from '../../durable-objects/mailbox/receipts.ts';
import { UserSettings } from '../../durable-objects/mailbox/settings.ts';
import { MailboxStore } from '../../durable-objects/mailbox/store.ts';
import type { UserMailbox } from '../../durable-objects/user-mailbox.ts';
import { DEFAULT_PRIVACY, type Message } from '../../protocol/index.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';

const ME = '01JDQ3ZK8Y6W2V9T7R5P3N1M0A';
const PEER = '01JDQ3ZK8Y6W2V9T7R5P3N1M0B';
const DEVICE = '01JDQ3ZK8Y6W2V9T7R5P3N1M0C';

function incoming(n: number): Message {
  return {
    id: `01JDQ3ZK8Y6W2V9T7R5P3N${String(n).padStart(4, '0')}`,
    clientId: `c${n}`,
    from: PEER,
    fromDevice: DEVICE,
    to: ME,
    sentAt: 1_000 + n,
    body: { kind: 'text', text: `m${n}` },
  };
}

/** Run against a fresh object's SQLite (schema already migrated by its constructor). */
function withSql<R>(name: string, fn: (sql: SqlStorage) => R | Promise<R>): Promise<R> {
  return runInDurableObject(mailboxOf(env, name), (_i: UserMailbox, state) => fn(state.storage.sql));
}

describe('MailboxStore', () => {
  it('assigns contiguous seqs and records a (sender, client id) once', () =>
    withSql('store-seq', (sql) => {
      const store = new MailboxStore(sql);
      const first = store.recordMessage(incoming(1), false, 10);
      const again = store.recordMessage({ ...incoming(1), id: '01JDQ3ZK8Y6W2V9T7R5P3NZZZZ' }, false, 11);
      const second = store.recordMessage(incoming(2), false, 12);
      expect(first.entry?.seq).toBe(1);
      expect(again).toEqual({ stored: { id: incoming(1).id, sentAt: incoming(1).sentAt, duplicate: true }, entry: null });
      expect(second.entry?.seq).toBe(2);
      expect(store.head).toBe(2);
      expect(store.range(0, 10).map((e) => JSON.parse(e.text).seq)).toEqual([1, 2]);
      // The serialised frame is exactly what a device receives.
      expect(JSON.parse(store.range(1, 1)[0]!.text)).toEqual({ type: 'message', seq: 2, message: incoming(2) });
    }));

  it('finds what an ack delivered, and moves read ticks forward only', () =>
    withSql('store-ticks', (sql) => {
      const store = new MailboxStore(sql);
      for (let n = 1; n <= 3; n++) store.recordMessage(incoming(n), false, n);
      expect(store.incomingBetween(0, 2)).toEqual(new Map([[PEER, ['c1', 'c2']]]));
      expect(store.incomingBetween(2, 2).size).toBe(0);
      expect(store.markRead(PEER, 3)).toEqual(['c1', 'c2', 'c3']);
      expect(store.markRead(PEER, 3)).toEqual([]);
      expect(store.history(PEER, undefined, 10).items.map((i) => i.status)).toEqual(['read', 'read', 'read']);
    }));

  it('answers an ack past every incoming message without a query, and still sees messages recorded after it learned that', () =>
    withSql('store-ack-skip', (sql) => {
      const store = new MailboxStore(sql);
      expect(store.incomingBetween(0, 0).size).toBe(0); // nothing here yet: learned "0"
      store.recordMessage({ ...incoming(1), from: ME, to: PEER }, true, 1); // the user's own copy
      expect(store.incomingBetween(0, 1).size).toBe(0);
      store.recordMessage(incoming(2), false, 2);
      expect(store.incomingBetween(1, 2)).toEqual(new Map([[PEER, ['c2']]]));
      expect(store.incomingBetween(2, 2).size).toBe(0);
      // A row put back under an older seq (as the history tiers do) is found once the cache is dropped.
      sql.exec('UPDATE messages SET seq = 5 WHERE seq = 2');
      store.forgetLastIncoming();
      expect(store.incomingBetween(2, 5)).toEqual(new Map([[PEER, ['c2']]]));
    }));

  it('keeps the head after pruning and reports what was pruned', () =>
    withSql('store-prune', (sql) => {
      const store = new MailboxStore(sql);
      for (let n = 1; n <= 4; n++) store.recordMessage(incoming(n), false, n * 100);
      expect(store.pruneBefore(250)).toBe(2);
      expect(store.prunedThrough).toBe(2);
      expect(store.depth()).toBe(2);
      // A fresh store over the same database agrees (state survives eviction).
      const reopened = new MailboxStore(sql);
      expect(reopened.head).toBe(4);
      expect(reopened.prunedThrough).toBe(2);
      expect(store.pruneBefore(10_000)).toBe(2);
      const empty = new MailboxStore(sql);
      expect(empty.head).toBe(4);
      expect(empty.append({ type: 'read_marker', peer: PEER, upTo: 4, at: 1 }, 1).seq).toBe(5);
    }));
});

describe('ReceiptRelay', () => {
  it('keeps receipts until the sender applied them, coalescing per peer and status', () =>
    withSql('relay', async (sql) => {
      const applied: Receipt[] = [];
      let fail = true;
      const relay = new ReceiptRelay(sql, async (r) => {
        if (fail) throw new Error('sender unreachable');
        applied.push(r);
      });
      relay.enqueue([
        { peer: PEER, status: 'delivered', clientIds: ['a', 'b'], at: 1 },
        { peer: PEER, status: 'delivered', clientIds: ['c'], at: 2 },
        { peer: PEER, status: 'read', clientIds: ['a'], at: 3 },
        { peer: PEER, status: 'read', clientIds: [], at: 4 },
      ]);
      expect(relay.pending()).toBe(3);
      expect(await relay.flush()).toBe(false);
      expect(relay.pending()).toBe(3);

      fail = false;
      expect(await relay.flush()).toBe(true);
      expect(relay.pending()).toBe(0);
      expect(applied).toEqual([
        { peer: PEER, status: 'delivered', clientIds: ['a', 'b', 'c'], at: 2 },
        { peer: PEER, status: 'read', clientIds: ['a'], at: 3 },
      ]);
    }));
});

describe('UserSettings', () => {
  it('reads privacy stored before the newer fields existed over the defaults, keeping every choice made', () =>
    withSql('settings-legacy', (sql) => {
      sql.exec("INSERT OR REPLACE INTO settings (key, value) VALUES ('privacy', ?)", JSON.stringify({ lastSeen: 'nobody', online: 'everyone' }));
      const settings = new UserSettings(sql);
      expect(settings.privacy).toEqual({ ...DEFAULT_PRIVACY, lastSeen: 'nobody', online: 'everyone' });
      // An update of a new field keeps the old choices, and says what changed.
      expect(settings.update({ privacy: { readReceipts: false } })).toEqual({ presenceChanged: false, readReceiptsChanged: true });
      expect(new UserSettings(sql).privacy).toEqual({ ...DEFAULT_PRIVACY, lastSeen: 'nobody', online: 'everyone', readReceipts: false });
      expect(settings.update({ privacy: { lastSeen: 'contacts' } })).toEqual({ presenceChanged: true, readReceiptsChanged: false });
      // Something unreadable falls back to the defaults rather than failing the object.
      sql.exec("INSERT OR REPLACE INTO settings (key, value) VALUES ('privacy', ?)", JSON.stringify('nope'));
      expect(new UserSettings(sql).privacy).toEqual(DEFAULT_PRIVACY);
    }));
});
