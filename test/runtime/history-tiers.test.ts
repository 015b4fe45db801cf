/**
 * History tiers (issue 14) through the real Worker, mailbox objects, archive queue, history
 * shards (D1) and archive (R2), with the clock moved by calling the alarm's history step
 * (`historyTick(now)`) directly: 1,000 messages age from hot to warm to cold and page back
 * identical and in order from every tier boundary; a batch delivered twice; a failure between
 * "written to the next tier" and "dropped from this one"; recalls of warm and cold messages.
 */
import { createExecutionContext, createMessageBatch, getQueueResult, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import worker from '../../worker/index.ts';
import { env } from 'cloudflare:workers';
import { describe, expect, it, vi } from 'vitest';
import { GroupHistoryPageSchema, HistoryPageSchema, PATHS, SearchPageSchema, type HistoryItem, type SessionResponse } from '../../protocol/index.ts';
import type { UserMailbox } from '../../durable-objects/user-mailbox.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';
import { historyShards, putWarm } from '../../db/history/index.ts';
import { HotRows } from '../../durable-objects/mailbox/hot-rows.ts';
import { api, connect, isType, login, nextPhone, text, type TestSocket } from './support.ts';
import { createGroup, eventuallyCopy, settled, textsOf, users } from './group-support.ts';

const DAY = 86_400_000;

function mailbox(userId: string): DurableObjectStub<UserMailbox> {
  return mailboxOf(env, userId) as DurableObjectStub<UserMailbox>;
}

/** Where a user's history is now: rows in the object, warm rows and cold chunks in its shard. */
async function tiers(userId: string): Promise<{ hot: number; warm: number; coldRows: number; inFlight: number }> {
  const hot = await runInDurableObject(mailbox(userId), (_i, state) => {
    const sql = state.storage.sql;
    return {
      rows: sql.exec<{ n: number }>('SELECT (SELECT count(*) FROM messages) + (SELECT count(*) FROM group_entries) AS n').one().n,
      inFlight: sql.exec<{ value: number }>("SELECT value FROM meta WHERE key = 'archive_in_flight'").toArray()[0]?.value ?? 0,
    };
  });
  const { db } = historyShards(env).of(userId);
  const warm = (await db.prepare('SELECT count(*) AS n FROM history_warm WHERE owner = ?').bind(userId).first<{ n: number }>())?.n ?? 0;
  const coldRows = (await db.prepare('SELECT coalesce(sum(count), 0) AS n FROM history_chunks WHERE owner = ?').bind(userId).first<{ n: number }>())?.n ?? 0;
  return { hot: hot.rows, warm, coldRows, inFlight: hot.inFlight };
}

/** Run the archive as of `now` until nothing more is due and every batch was confirmed by the consumer. */
async function archiveAll(userId: string, now: number): Promise<void> {
  const deadline = performance.now() + 20_000;
  for (;;) {
    await mailbox(userId).historyTick(now);
    const state = await tiers(userId);
    if (state.inFlight === 0) {
      const again = await mailbox(userId).historyTick(now);
      if (again.sent === 0 && (await tiers(userId)).inFlight === 0) return;
    }
    if (performance.now() > deadline) throw new Error(`archive did not settle: ${JSON.stringify(state)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function page(owner: SessionResponse, peer: string, before: number | undefined, limit: number) {
  const query = new URLSearchParams({ limit: String(limit), ...(before === undefined ? {} : { before: String(before) }) });
  const res = await api(`${PATHS.history(peer)}?${query}`, { token: owner.token });
  expect(res.status).toBe(200);
  return HistoryPageSchema.parse(await res.json());
}

/** The whole conversation, newest first, in pages of `limit`. */
async function everything(owner: SessionResponse, peer: string, limit: number): Promise<HistoryItem[]> {
  const all: HistoryItem[] = [];
  let before: number | undefined;
  for (;;) {
    const p = await page(owner, peer, before, limit);
    all.push(...p.messages);
    if (p.nextBefore === null) return all;
    before = p.nextBefore;
  }
}

async function sendMany(from: TestSocket, to: string, prefix: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) from.send({ type: 'send', id: `${prefix}${i}`, to, body: text(`${prefix} message ${i} zebra${i}`) });
  await from.waitFor(isType('sent'), n, 20_000);
}

async function search(session: SessionResponse, q: string) {
  const res = await api(`${PATHS.search}?${new URLSearchParams({ q, limit: '50' })}`, { token: session.token });
  expect(res.status, await res.clone().text()).toBe(200);
  return SearchPageSchema.parse(await res.json());
}

describe('history tiers', () => {
  it('1,000 messages move hot -> warm -> cold and page back identical and in order from every boundary', { timeout: 120_000 }, async () => {
    const alice = await login(nextPhone());
    const bob = await login(nextPhone());
    const a = await connect(alice);
    const b = await connect(bob);
    await sendMany(a, bob.userId, 'a', 500);
    await sendMany(b, alice.userId, 'b', 500);
    a.close();
    b.close();
    const original = await everything(alice, bob.userId, 200);
    expect(original).toHaveLength(1_000);

    // Eight days later: all but the newest message leave the object, through the queue, into the shard.
    await archiveAll(alice.userId, Date.now() + 8 * DAY);
    expect(await tiers(alice.userId)).toMatchObject({ hot: 1, warm: 999, coldRows: 0 });
    // (Pages of 50 and 200: the per-device request limit of the API allows 300 requests per 10 s.)
    for (const limit of [50, 200]) expect(await everything(alice, bob.userId, limit)).toEqual(original);

    // The oldest 400 pass the cold threshold: gzip chunks in R2, the rest stays warm.
    const boundary = original[600]!.message.sentAt;
    const moved = await mailbox(alice.userId).historyTick(boundary + 90 * DAY, true);
    const state = await tiers(alice.userId);
    expect(moved.cold.rows).toBe(state.coldRows);
    expect(state.coldRows).toBeGreaterThan(0);
    expect(state.warm + state.coldRows + state.hot).toBe(1_000);
    for (const limit of [1, 50, 200]) {
      if (limit === 1) {
        // Every boundary one at a time would be 1,000 requests: check the pages around the tier edges instead.
        const edge = original.findIndex((item) => item.message.sentAt < boundary);
        for (const start of [0, 1, edge - 1, edge, edge + 1]) {
          const before = start === 0 ? undefined : original[start - 1]!.seq;
          expect((await page(alice, bob.userId, before, 3)).messages).toEqual(original.slice(start, start + 3));
        }
        continue;
      }
      expect(await everything(alice, bob.userId, limit)).toEqual(original);
    }
    // Warm and cold hits are found too, with their snippets, newest first.
    const found = await search(alice, 'zebra7');
    expect(found.hits.map((h) => h.messageId)).toEqual(original.filter((i) => i.message.body.kind === 'text' && /zebra7\d*$/.test(i.message.body.text)).map((i) => i.message.id).slice(0, 50));
  });

  it('a batch delivered twice stores once; a failure after the shard write and before the drop loses and repeats nothing', { timeout: 60_000 }, async () => {
    const alice = await login(nextPhone());
    const bob = await login(nextPhone());
    const a = await connect(alice);
    await sendMany(a, bob.userId, 'x', 30);
    a.close();
    const original = await everything(alice, bob.userId, 50);
    const now = Date.now() + 8 * DAY;
    // What the object would send, captured as the queue would carry it, then written twice
    // (a redelivery) without telling the object (the consumer died before confirming).
    // Let the queue's own consumer store and confirm the batch, then replay its rows by hand.
    await archiveAll(alice.userId, now);
    const { db } = historyShards(env).of(alice.userId);
    const rows = await db.prepare('SELECT seq, chat, id, sender, at, kind, row FROM history_warm WHERE owner = ? ORDER BY seq').bind(alice.userId).all<{ seq: number; chat: string; id: string; sender: string; at: number; kind: string; row: string }>();
    expect(rows.results).toHaveLength(29);
    // The same batch delivered again (same number, same rows): one row per seq.
    const again = rows.results.map((r) => ({ ...r, text: `x message zebra` }));
    await putWarm(db, alice.userId, 7, again.map((r) => ({ ...r, text: 'fresh copy' })));
    await putWarm(db, alice.userId, 7, again.map((r) => ({ ...r, text: 'fresh copy' })));
    expect((await tiers(alice.userId)).warm).toBe(29);
    // An older batch (a retry that lost the race to a newer one) never overwrites it.
    await putWarm(db, alice.userId, 3, again.map((r) => ({ ...r, text: 'stale copy' })));
    expect((await search(alice, 'stale')).hits).toHaveLength(0);
    expect((await search(alice, 'fresh')).hits).toHaveLength(29);
    expect(await everything(alice, bob.userId, 50)).toEqual(original);

    // A failure between the two steps: the shard has the rows (written by hand here, as the
    // consumer would) but the object was never told. Both tiers hold them: pages and search show
    // each once (the object's copy wins), and the next round moves them for good.
    const carol = await login(nextPhone());
    const c = await connect(carol);
    await sendMany(c, bob.userId, 'y', 10);
    c.close();
    const before = await everything(carol, bob.userId, 50);
    const due = await runInDurableObject(mailbox(carol.userId), (_i, state) => new HotRows(state.storage.sql).due({ cutoff: now - 7 * DAY, keep: 1 }, 200));
    expect(due).toHaveLength(9);
    const shard = historyShards(env).of(carol.userId).db;
    await putWarm(shard, carol.userId, 1, due);
    await mailbox(carol.userId).historyTick(Date.now()); // nothing due yet; marks the chat as archived only when confirmed
    expect(await tiers(carol.userId)).toMatchObject({ hot: 10, warm: 9 });
    expect(await everything(carol, bob.userId, 4)).toEqual(before);
    expect((await search(carol, 'y')).hits.map((h) => h.seq)).toEqual(before.map((i) => i.seq));
    await archiveAll(carol.userId, now);
    expect(await tiers(carol.userId)).toMatchObject({ hot: 1, warm: 9, inFlight: 0 });
    expect(await everything(carol, bob.userId, 4)).toEqual(before);
    expect((await search(carol, 'y')).hits.map((h) => h.seq)).toEqual(before.map((i) => i.seq));
  });

  it('a row too big for a queue message is written to the shard by the object itself', { timeout: 60_000 }, async () => {
    const alice = await login(nextPhone());
    const bob = await login(nextPhone());
    const a = await connect(alice);
    a.send({ type: 'send', id: 'big', to: bob.userId, body: text('a'.repeat(16_000)) });
    const [sent] = await a.waitFor((f): f is Extract<typeof f, { type: 'sent' }> => f.type === 'sent' && f.id === 'big');
    // Two edits: the sender's copy keeps earlier versions, so the row is ~50,000 characters.
    for (const [n, letter] of ['b', 'c'].entries()) {
      a.send({ type: 'action', id: `e${n}`, chat: { kind: 'direct', peer: bob.userId }, target: sent!.messageId, action: { kind: 'edit', body: text(letter.repeat(16_000)) } });
      await a.waitFor((f): f is Extract<typeof f, { type: 'acted' }> => f.type === 'acted' && f.id === `e${n}`);
    }
    await sendMany(a, bob.userId, 'after', 2);
    a.close();
    const original = await everything(alice, bob.userId, 50);
    await archiveAll(alice.userId, Date.now() + 8 * DAY);
    expect(await tiers(alice.userId)).toMatchObject({ hot: 1, warm: 2 });
    const after = await everything(alice, bob.userId, 50);
    expect(after).toEqual(original);
    expect(after.at(-1)?.message.edits).toHaveLength(2);
  });

  it('recall of a warm and of a cold message removes its content from every tier', { timeout: 60_000 }, async () => {
    const alice = await login(nextPhone());
    const bob = await login(nextPhone());
    const a = await connect(alice);
    const b = await connect(bob);
    await sendMany(a, bob.userId, 'r', 20);
    const original = await everything(alice, bob.userId, 50);
    const now = Date.now() + 8 * DAY;
    await archiveAll(alice.userId, now);
    await archiveAll(bob.userId, now);
    // The oldest ten go cold in Alice's object (Bob's copies stay warm).
    await mailbox(alice.userId).historyTick(original[10]!.message.sentAt + 90 * DAY, true);
    const warmTarget = original[5]!.message; // warm for Alice
    const coldTarget = original[15]!.message; // cold for Alice
    for (const [n, target] of [warmTarget, coldTarget].entries()) {
      a.send({ type: 'action', id: `del${n}`, chat: { kind: 'direct', peer: bob.userId }, target: target.id, action: { kind: 'delete', scope: 'everyone' } });
      const [answer] = await a.waitFor((f): f is Extract<typeof f, { type: 'acted' | 'error' }> => (f.type === 'acted' || f.type === 'error') && f.id === `del${n}`);
      expect(answer?.type, JSON.stringify(answer)).toBe('acted');
    }
    const after = await everything(alice, bob.userId, 50);
    expect(after.map((i) => i.seq)).toEqual(original.map((i) => i.seq));
    for (const target of [warmTarget, coldTarget]) {
      expect(after.find((i) => i.message.id === target.id)?.message.body.kind).toBe('deleted');
      const bobsCopy = (await everything(bob, alice.userId, 50)).find((i) => i.message.id === target.id);
      expect(bobsCopy?.message.body.kind).toBe('deleted');
      const word = target.body.kind === 'text' ? target.body.text.split(' ').pop()! : '';
      expect((await search(alice, word)).hits).toEqual([]);
      expect((await search(bob, word)).hits).toEqual([]);
    }
    // No trace of the recalled text in either user's shard rows or archive chunks.
    for (const user of [alice.userId, bob.userId]) {
      const { db } = historyShards(env).of(user);
      for (const target of [warmTarget, coldTarget]) {
        const body = target.body.kind === 'text' ? target.body.text : '';
        const warm = await db.prepare('SELECT count(*) AS n FROM history_warm WHERE owner = ? AND row LIKE ?').bind(user, `%${body}%`).first<{ n: number }>();
        expect(warm?.n).toBe(0);
        const docs = await db.prepare('SELECT count(*) AS n FROM search_docs WHERE owner = ? AND text = ?').bind(user, body).first<{ n: number }>();
        expect(docs?.n).toBe(0);
      }
      const chunks = await db.prepare('SELECT key FROM history_chunks WHERE owner = ?').bind(user).all<{ key: string }>();
      for (const { key } of chunks.results) {
        const object = await env.MEDIA.get(key);
        const plain = await new Response(object!.body.pipeThrough(new DecompressionStream('gzip'))).text();
        for (const target of [warmTarget, coldTarget]) expect(plain).not.toContain(target.body.kind === 'text' ? target.body.text : '');
      }
    }
    a.close();
    b.close();
  });

  it('a reply to and a forward of an archived message work as on a recent one', { timeout: 60_000 }, async () => {
    const alice = await login(nextPhone());
    const bob = await login(nextPhone());
    const carol = await login(nextPhone());
    const a = await connect(alice);
    await sendMany(a, bob.userId, 'old', 5);
    const original = await everything(alice, bob.userId, 50);
    await archiveAll(alice.userId, Date.now() + 8 * DAY);
    expect(await tiers(alice.userId)).toMatchObject({ hot: 1, warm: 4 });
    const target = original[3]!.message; // warm now
    a.send({ type: 'send', id: 'reply', to: bob.userId, body: text('answering an old one'), replyTo: target.id });
    const [replied] = await a.waitFor((f): f is Extract<typeof f, { type: 'sent' | 'error' }> => (f.type === 'sent' || f.type === 'error') && f.id === 'reply');
    expect(replied?.type, JSON.stringify(replied)).toBe('sent');
    const other = original[2]!.message;
    a.send({ type: 'send', id: 'fwd', to: carol.userId, body: other.body as ReturnType<typeof text>, forward: other.id });
    const [forwarded] = await a.waitFor((f): f is Extract<typeof f, { type: 'sent' | 'error' }> => (f.type === 'sent' || f.type === 'error') && f.id === 'fwd');
    expect(forwarded?.type, JSON.stringify(forwarded)).toBe('sent');
    const toCarol = await everything(alice, carol.userId, 50);
    expect(toCarol[0]?.message.forwarded).toBe(1);
    const withBob = await everything(alice, bob.userId, 50);
    expect(withBob[0]?.message.replyTo).toMatchObject({ id: target.id, snippet: target.body.kind === 'text' ? target.body.text : '' });
    expect(withBob.map((i) => i.seq).slice(1)).toEqual(original.map((i) => i.seq));
    a.close();
  });

  it('reactions and stars on archived group messages reach the members\' copies', { timeout: 60_000 }, async () => {
    const [ann, bob] = await users(2);
    const group = await createGroup(ann!, [bob!]);
    const a = await connect(ann!);
    const b = await connect(bob!);
    for (let i = 0; i < 4; i++) {
      a.send({ type: 'group_send', id: `g${i}`, group: group.groupId, body: text(`group note ${i}`) });
      await a.waitFor((f): f is Extract<typeof f, { type: 'group_sent' }> => f.type === 'group_sent' && f.id === `g${i}`);
    }
    await settled(group.groupId);
    await eventuallyCopy(bob!, group.groupId, (e) => textsOf(e).length === 4);
    const groupPage = async (s: SessionResponse) => {
      const res = await api(`${PATHS.groupHistory(group.groupId)}?limit=50`, { token: s.token });
      return GroupHistoryPageSchema.parse(await res.json()).entries;
    };
    const before = await groupPage(bob!);
    await archiveAll(bob!.userId, Date.now() + 8 * DAY);
    await archiveAll(ann!.userId, Date.now() + 8 * DAY);
    expect((await tiers(bob!.userId)).hot).toBe(1);
    expect(await groupPage(bob!)).toEqual(before);
    const first = before.find((e) => e.entry.type === 'message' && e.entry.message.body.kind === 'text' && e.entry.message.body.text === 'group note 0')!;
    const target = first.entry.type === 'message' ? first.entry.message.id : '';
    // Ann reacts (the group's update reaches Bob's archived copy), Bob stars his copy.
    a.send({ type: 'action', id: 'r', chat: { kind: 'group', group: group.groupId }, target, action: { kind: 'react', emoji: '🎉' } });
    await a.waitFor((f): f is Extract<typeof f, { type: 'acted' }> => f.type === 'acted' && f.id === 'r');
    b.send({ type: 'action', id: 's', chat: { kind: 'group', group: group.groupId }, target, action: { kind: 'star', starred: true } });
    await b.waitFor((f): f is Extract<typeof f, { type: 'acted' }> => f.type === 'acted' && f.id === 's');
    await settled(group.groupId);
    const deadline = performance.now() + 10_000;
    for (;;) {
      const item = (await groupPage(bob!)).find((e) => e.seq === first.seq);
      const message = item?.entry.type === 'message' ? item.entry.message : undefined;
      if (message?.reactions?.some((r) => r.emoji === '🎉') && message.starred === true) break;
      if (performance.now() > deadline) throw new Error(`bob's copy never got the reaction and star: ${JSON.stringify(item)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await groupPage(bob!)).map((e) => e.seq)).toEqual(before.map((e) => e.seq));
    a.close();
    b.close();
  });

  it('the object\'s own alarm archives once the hot window has passed, and then sleeps until due', { timeout: 60_000 }, async () => {
    const alice = await login(nextPhone());
    const bob = await login(nextPhone());
    const a = await connect(alice);
    await sendMany(a, bob.userId, 'alarm', 6);
    a.close();
    const original = await everything(alice, bob.userId, 50);
    const stub = mailbox(alice.userId);
    // The alarm is set for when the oldest message leaves the hot window (7 days).
    const alarmAt = await runInDurableObject(stub, (_i, state) => state.storage.getAlarm());
    expect(alarmAt).not.toBeNull();
    expect(alarmAt!).toBeLessThanOrEqual(original.at(-1)!.message.sentAt + 7 * DAY + 60_000);
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + 8 * DAY);
      const deadline = performance.now() + 20_000;
      while ((await tiers(alice.userId)).hot > 1 || (await tiers(alice.userId)).inFlight > 0) {
        await runDurableObjectAlarm(stub);
        if (performance.now() > deadline) throw new Error(`the alarm did not archive: ${JSON.stringify(await tiers(alice.userId))}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(await tiers(alice.userId)).toMatchObject({ hot: 1, warm: 5 });
      // Nothing more is due: after one more look, the next alarm is at least an hour away (not a busy loop).
      vi.setSystemTime(Date.now() + 2_000); // the faked clock stands still otherwise
      await runDurableObjectAlarm(stub);
      const next = await runInDurableObject(stub, (_i, state) => state.storage.getAlarm());
      const meta = await runInDurableObject(stub, (_i, state) => state.storage.sql.exec('SELECT key, value FROM meta').toArray());
      expect(next === null || next >= Date.now() + 60 * 60_000 - 1_000, `next alarm in ${((next ?? 0) - Date.now()) / 1000} s; ${JSON.stringify(meta)}`).toBe(true);
    } finally {
      vi.useRealTimers();
    }
    expect(await everything(alice, bob.userId, 50)).toEqual(original);
  });

  it('deleting the account erases its warm rows, search documents and archive chunks', { timeout: 60_000 }, async () => {
    const phone = nextPhone();
    const alice = await login(phone);
    const bob = await login(nextPhone());
    const a = await connect(alice);
    await sendMany(a, bob.userId, 'gone', 20);
    a.close();
    const original = await everything(alice, bob.userId, 50);
    await archiveAll(alice.userId, Date.now() + 8 * DAY);
    await mailbox(alice.userId).historyTick(original[10]!.message.sentAt + 90 * DAY, true);
    const before = await tiers(alice.userId);
    expect(before.warm).toBeGreaterThan(0);
    expect(before.coldRows).toBeGreaterThan(0);
    const res = await api(PATHS.me, { method: 'DELETE', token: alice.token, body: JSON.stringify({ phone }) });
    expect(res.status, await res.clone().text()).toBe(204);
    const { db } = historyShards(env).of(alice.userId);
    for (const table of ['history_warm', 'history_chunks', 'search_docs']) {
      expect((await db.prepare(`SELECT count(*) AS n FROM ${table} WHERE owner = ?`).bind(alice.userId).first<{ n: number }>())?.n, table).toBe(0);
    }
    expect((await env.MEDIA.list({ prefix: `history/${alice.userId}/` })).objects).toEqual([]);
    // A batch that was still in the queue arrives after the deletion: written, then removed again.
    const late = original.slice(0, 3).map((item) => ({
      seq: item.seq, chat: `d:${bob.userId}`, id: item.message.id, sender: alice.userId, at: item.message.sentAt,
      kind: 'text', text: 'late batch', row: JSON.stringify({ t: 'd', message: JSON.stringify(item.message) }), digest: 'x',
    }));
    const batch = createMessageBatch('history-archive', [{ id: 'late', timestamp: new Date(), attempts: 1, body: { owner: alice.userId, batch: 99, rows: late } }]);
    const ctx = createExecutionContext();
    await worker.queue!(batch, env, ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(['late']);
    expect((await db.prepare('SELECT count(*) AS n FROM history_warm WHERE owner = ?').bind(alice.userId).first<{ n: number }>())?.n).toBe(0);
    expect((await db.prepare('SELECT count(*) AS n FROM search_docs WHERE owner = ?').bind(alice.userId).first<{ n: number }>())?.n).toBe(0);
    // Bob's copies are his own and stay.
    expect(await everything(bob, alice.userId, 50)).toHaveLength(20);
  });
});
