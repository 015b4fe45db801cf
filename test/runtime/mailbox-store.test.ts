/**
 * The mailbox modules against a real Durable Object SQLite: seq assignment, idempotent
 * recording, forward-only ticks, retention bookkeeping, the receipt relay's retry, settings
 * stored before a field existed, and how often last activity is written.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { PresenceTracker } from '../../durable-objects/mailbox/presence.ts';
import { ReceiptRelay, type Receipt } from '../../durable-objects/mailbox/receipts.ts';
import { UserSettings } from '../../durable-objects/mailbox/settings.ts';
import { migrate } from '../../durable-objects/mailbox/schema.ts';
import { MailboxStore } from '../../durable-objects/mailbox/store.ts';
import { writeMeta } from '../../durable-objects/sqlite-schema.ts';
import type { UserMailbox } from '../../durable-objects/user-mailbox.ts';
import { DEFAULT_PRIVACY, type GroupMessage } from '../../protocol/index.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';
import { ME, PEER, incoming, undoV14, withSql } from './store-support.ts';

const GROUP = '01JDQ3ZK8Y6W2V9T7R5P3N1G00';

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

  it("stores a message's JSON once, and its entry says what it said when appended after the row changes or goes", () =>
    withSql('store-json-once', (sql) => {
      const store = new MailboxStore(sql);
      const storedFrame = (seq: number) => sql.exec<{ frame: string }>('SELECT frame FROM mailbox WHERE seq = ?', seq).one().frame;
      const entryOf = (seq: number) => store.range(seq - 1, 1)[0]?.text;
      const appended = [1, 2, 3].map((n) => store.recordMessage(incoming(n), false, n).entry!);
      const original = (n: number) => JSON.stringify({ type: 'message', seq: n, message: incoming(n) });
      // What the device got at append time, and what a device syncing later gets, are the same text.
      expect(appended.map((e) => e.text)).toEqual([original(1), original(2), original(3)]);
      expect(store.range(0, 10).map((e) => e.text)).toEqual([original(1), original(2), original(3)]);
      expect([1, 2, 3].map(storedFrame)).toEqual(['', '', '']);
      // The history row changes (an edit): the entry was written out first, as it was.
      sql.exec('UPDATE messages SET message = ? WHERE seq = 1', JSON.stringify({ ...incoming(1), body: { kind: 'text', text: 'edited' } }));
      expect(storedFrame(1)).toBe(original(1));
      expect(entryOf(1)).toBe(original(1));
      // A status change is not a change of the message: nothing is written out.
      sql.exec('UPDATE messages SET status = 3 WHERE seq = 2');
      expect(storedFrame(2)).toBe('');
      // The row goes (archived, or dropped): the entry stays whole.
      sql.exec('DELETE FROM messages WHERE seq = 3');
      expect(entryOf(3)).toBe(original(3));
      // A deletion rewrites the entry of a message whose row did not change before.
      store.rewriteEntries(2, { ...incoming(2), body: { kind: 'deleted' } });
      expect(JSON.parse(entryOf(2)!)).toEqual({ type: 'message', seq: 2, message: { ...incoming(2), body: { kind: 'deleted' } } });
    }));

  it("stores a group message's JSON once in its copy, and writes the entry out before the copy changes or goes", () =>
    withSql('store-json-once-group', (sql) => {
      const store = new MailboxStore(sql);
      const copy = (n: number): GroupMessage => {
        const { to: _to, ...rest } = incoming(n);
        return { ...rest, group: GROUP, gseq: n };
      };
      const original = (seq: number, n: number) => JSON.stringify({ type: 'group_message', seq, message: copy(n) });
      const record = (n: number, entryJson = JSON.stringify({ type: 'message', message: copy(n) })) => {
        const entry = store.appendGroupMessage(copy(n), entryJson, n);
        sql.exec(
          'INSERT INTO group_entries (seq, group_id, gseq, sender, read, tally, entry, message_id) VALUES (?, ?, ?, ?, 0, NULL, ?, ?)',
          entry.seq,
          GROUP,
          n,
          PEER,
          entryJson,
          copy(n).id,
        );
        return entry;
      };
      const storedFrame = (seq: number) => sql.exec<{ frame: string }>('SELECT frame FROM mailbox WHERE seq = ?', seq).one().frame;
      expect([1, 2, 3].map((n) => record(n).text)).toEqual([original(1, 1), original(2, 2), original(3, 3)]);
      expect([1, 2, 3].map(storedFrame)).toEqual(['', '', '']);
      expect(store.range(0, 10).map((e) => e.text)).toEqual([original(1, 1), original(2, 2), original(3, 3)]);
      // The copy changes (an edit), or goes: the entry was written out first, as it was.
      sql.exec('UPDATE group_entries SET entry = ? WHERE seq = 1', JSON.stringify({ type: 'message', message: { ...copy(1), body: { kind: 'text', text: 'edited' } } }));
      sql.exec('DELETE FROM group_entries WHERE seq = 2');
      sql.exec("UPDATE group_entries SET tally = '{}', read = 1 WHERE seq = 3"); // not a change of the message
      expect([1, 2, 3].map(storedFrame)).toEqual([original(1, 1), original(2, 2), '']);
      expect(store.range(0, 10).map((e) => e.text)).toEqual([original(1, 1), original(2, 2), original(3, 3)]);
      // A copy not written the way this object writes them keeps its entry whole.
      const odd = record(4, JSON.stringify({ message: copy(4), type: 'message' }));
      expect(storedFrame(odd.seq)).toBe(original(4, 4));
      expect(store.range(3, 1)[0]!.text).toBe(original(4, 4));
    }));

  it('gives up the second copy of messages stored before, where it is the same, when upgraded', () =>
    withSql('store-json-once-upgrade', (sql) => {
      const store = new MailboxStore(sql);
      for (let n = 1; n <= 3; n++) store.recordMessage(incoming(n), false, n);
      const texts = store.range(0, 10).map((e) => e.text);
      // Back to v13, where every entry kept its frame; entry 3 was rewritten (no longer its row's copy).
      undoV14(sql);
      sql.exec('UPDATE mailbox SET frame = ? WHERE seq = 1', texts[0]!);
      sql.exec('UPDATE mailbox SET frame = ? WHERE seq = 2', texts[1]!);
      sql.exec(`UPDATE mailbox SET frame = '{"type":"message","seq":3,"message":{}}' WHERE seq = 3`);
      writeMeta(sql, 'schema_version', 13);
      migrate(sql);
      const frames = sql.exec<{ frame: string }>('SELECT frame FROM mailbox ORDER BY seq').toArray().map((r) => r.frame);
      expect(frames).toEqual(['', '', '{"type":"message","seq":3,"message":{}}']);
      expect(store.range(0, 2).map((e) => e.text)).toEqual(texts.slice(0, 2));
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

  it('answers acks of what it just recorded from memory, and older ranges from the table, alike', () =>
    withSql('store-ack-memory', (sql) => {
      const queries: string[] = [];
      const counted = new Proxy(sql, {
        get: (target, prop) =>
          prop === 'exec'
            ? (query: string, ...bindings: never[]) => {
                if (query.startsWith('SELECT client_id, sender FROM messages')) queries.push(query);
                return target.exec(query, ...bindings);
              }
            : (Reflect.get(target, prop) as unknown),
      });
      const store = new MailboxStore(counted);
      const other = '01JDQ3ZK8Y6W2V9T7R5P3N1M0D';
      for (let n = 1; n <= 600; n++) {
        store.recordMessage(n % 3 === 0 ? { ...incoming(n), from: other } : incoming(n), false, n);
        if (n % 50 === 0) store.recordMessage({ ...incoming(10_000 + n), from: ME, to: PEER }, true, n); // own copies between
      }
      const head = store.head;
      // A fresh instance (after an eviction) has nothing in memory: every answer comes from the table.
      const fromTable = new MailboxStore(sql);
      for (const [after, upTo] of [[head - 3, head], [head - 100, head - 40], [head - 500, head - 499]] as const) {
        expect(store.incomingBetween(after, upTo)).toEqual(fromTable.incomingBetween(after, upTo));
      }
      expect(queries).toHaveLength(0);
      expect(store.incomingBetween(head - 3, head).get(PEER)?.length).toBeGreaterThan(0);
      // Older than the 512 remembered: the table answers, the same as for the fresh instance.
      expect(store.incomingBetween(0, 10)).toEqual(new Map([[PEER, ['c1', 'c2', 'c4', 'c5', 'c7', 'c8', 'c10']], [other, ['c3', 'c6', 'c9']]]));
      expect(queries).toHaveLength(1);
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
      expect(empty.depth()).toBe(0);
      expect(empty.append({ type: 'read_marker', peer: PEER, upTo: 4, at: 1 }, 1).seq).toBe(5);
      // The depth is arithmetic (head - pruned through): it must agree with the table.
      const rows = () => sql.exec<{ n: number }>('SELECT count(*) AS n FROM mailbox').one().n;
      expect(empty.depth()).toBe(rows());
      for (let n = 5; n <= 8; n++) empty.recordMessage(incoming(n), false, 20_000 + n);
      expect(empty.pruneBefore(20_006)).toBe(2);
      expect([empty.depth(), new MailboxStore(sql).depth()]).toEqual([rows(), rows()]);
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

describe('PresenceTracker', () => {
  it('keeps last activity current in memory, writes it at most every 30 s, and when told the user went away', () =>
    runInDurableObject(mailboxOf(env, 'tracker-activity'), (_i: UserMailbox, state) => {
      const stored = () => new PresenceTracker(state, state.storage.sql).lastSeen;
      const tracker = new PresenceTracker(state, state.storage.sql);
      const t = 1_767_000_000_000;
      tracker.recordActivity(t);
      expect(stored()).toBe(t); // the first activity is written
      tracker.recordActivity(t + 5_000);
      tracker.recordActivity(t + 1_000); // a late, older time moves nothing back
      expect(tracker.lastSeen).toBe(t + 5_000);
      expect(stored()).toBe(t); // within 30 s of the last write: memory only
      tracker.recordActivity(t + 30_000);
      expect(stored()).toBe(t + 30_000);
      tracker.recordActivity(t + 31_000);
      tracker.persistActivity(); // the last device went away
      expect(stored()).toBe(t + 31_000);
    }));
});
