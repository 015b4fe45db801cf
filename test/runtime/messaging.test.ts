/**
 * 1:1 messaging through the real Worker and Durable Objects: sent / delivered / read ticks,
 * multi-device, ordering, idempotency, offline delivery and resume, hibernation.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { UserMailbox } from '../../durable-objects/user-mailbox.ts';
import type { ServerFrame } from '../../protocol/index.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';
import { ackAll, api, connect, isType, login, nextPhone, text } from './support.ts';

async function pair() {
  const alice = await login(nextPhone(), 'alice-phone');
  const bob = await login(nextPhone(), 'bob-phone');
  return { alice, bob };
}

function stubOf(userId: string): DurableObjectStub<UserMailbox> {
  return mailboxOf(env, userId);
}

describe('1:1 messages', () => {
  it('acks sent after storing, delivers live, and routes delivered and read ticks back', async () => {
    const { alice, bob } = await pair();
    const a = await connect(alice);
    const b = await connect(bob);

    a.send({ type: 'send', id: 'm-1', to: bob.userId, body: text('hello bob') });
    const [sent] = await a.waitFor(isType('sent'));
    expect(sent).toMatchObject({ id: 'm-1', to: bob.userId, duplicate: false });

    const [incoming] = await b.waitFor(isType('message'));
    expect(incoming!.message).toMatchObject({
      id: sent!.messageId,
      clientId: 'm-1',
      from: alice.userId,
      fromDevice: alice.deviceId,
      to: bob.userId,
      body: { kind: 'text', text: 'hello bob' },
    });

    // Stored in the recipient's mailbox before the ack.
    const stats = await stubOf(bob.userId).stats();
    expect(stats.head).toBe(incoming!.seq);

    b.send({ type: 'ack', upTo: incoming!.seq });
    const [delivered] = await a.waitFor(isType('receipt'));
    expect(delivered).toMatchObject({ status: 'delivered', by: bob.userId, messageIds: [sent!.messageId] });

    b.send({ type: 'read', peer: alice.userId, upTo: incoming!.seq });
    const receipts = await a.waitFor(isType('receipt'), 2);
    expect(receipts[1]).toMatchObject({ status: 'read', by: bob.userId, messageIds: [sent!.messageId] });

    // Bob's read shows on his other devices as a read marker.
    const [marker] = await b.waitFor(isType('read_marker'));
    expect(marker).toMatchObject({ peer: alice.userId, upTo: incoming!.seq });
    a.close();
    b.close();
  });

  it('lets a reply carry the delivered tick of what it answers: stored with the reply, in one commit, once', async () => {
    const { alice, bob } = await pair();
    const a = await connect(alice);
    const b = await connect(bob);
    a.send({ type: 'send', id: 'q-1', to: bob.userId, body: text('lunch?') });
    const [sent] = await a.waitFor(isType('sent'));
    const [incoming] = await b.waitFor(isType('message'));
    // Bob's device acks and he answers at once: the tick waits in his object (up to 500 ms) and
    // leaves with the reply instead of in a call of its own.
    b.send({ type: 'ack', upTo: incoming!.seq });
    b.send({ type: 'send', id: 'r-1', to: alice.userId, body: text('sure') });
    const isReply = (f: ServerFrame): f is Extract<ServerFrame, { type: 'message' }> => f.type === 'message' && f.message.clientId === 'r-1';
    const [reply] = await a.waitFor(isReply);
    const [delivered] = await a.waitFor(isType('receipt'));
    expect(delivered).toMatchObject({ status: 'delivered', by: bob.userId, messageIds: [sent!.messageId] });
    // Appended at Alice's in the same turn as the reply, just before it.
    expect(delivered!.seq).toBe(reply!.seq - 1);
    // And only once: nothing follows when the gathering window has passed.
    await new Promise((r) => setTimeout(r, 1_200));
    expect(a.of('receipt')).toHaveLength(1);
    a.close();
    b.close();
  });

  it("shows a device's sends on the sender's other devices, and receipts on all of them", async () => {
    const { alice, bob } = await pair();
    const alicePhone = await connect(alice);
    const aliceDesktop = await connect(await login(await phoneOf(alice.token), 'alice-desktop'));
    const b = await connect(bob);

    alicePhone.send({ type: 'send', id: 'multi-1', to: bob.userId, body: text('from my phone') });
    const [copy] = await aliceDesktop.waitFor(isType('message'));
    expect(copy!.message).toMatchObject({ clientId: 'multi-1', from: alice.userId, to: bob.userId });

    const [incoming] = await b.waitFor(isType('message'));
    b.send({ type: 'ack', upTo: incoming!.seq });
    const [onDesktop] = await aliceDesktop.waitFor(isType('receipt'));
    const [onPhone] = await alicePhone.waitFor(isType('receipt'));
    expect(onDesktop).toEqual(onPhone);
    expect(onDesktop!.status).toBe('delivered');
    for (const s of [alicePhone, aliceDesktop, b]) s.close();
  });

  it('delivers 100 rapid sends in send order with contiguous seqs', async () => {
    const { alice, bob } = await pair();
    const a = await connect(alice);
    const b = await connect(bob);
    for (let i = 0; i < 100; i++) a.send({ type: 'send', id: `order-${i}`, to: bob.userId, body: text(`#${i}`) });
    const received = await b.waitFor(isType('message'), 100, 10_000);
    expect(received.map((f) => f.message.clientId)).toEqual(Array.from({ length: 100 }, (_, i) => `order-${i}`));
    const seqs = received.map((f) => f.seq);
    expect(seqs).toEqual(Array.from({ length: 100 }, (_, i) => seqs[0]! + i));
    await a.waitFor(isType('sent'), 100, 10_000);
    a.close();
    b.close();
  });

  it('stores and delivers a retried id once and repeats the same ack', async () => {
    const { alice, bob } = await pair();
    const a = await connect(alice);
    const b = await connect(bob);
    const frame = { type: 'send', id: 'retry-me', to: bob.userId, body: text('once') } as const;
    a.send(frame);
    const [first] = await a.waitFor(isType('sent'));
    a.send(frame);
    const [, second] = await a.waitFor(isType('sent'), 2);
    expect(second).toMatchObject({ messageId: first!.messageId, sentAt: first!.sentAt, duplicate: true });

    // Concurrent retries of a fresh id: one stored message, every ack names it.
    for (let i = 0; i < 5; i++) a.send({ ...frame, id: 'burst-id' });
    const acks = (await a.waitFor(isType('sent'), 7)).slice(2);
    expect(new Set(acks.map((s) => s.messageId)).size).toBe(1);
    expect(acks.filter((s) => !s.duplicate)).toHaveLength(1);

    await new Promise((r) => setTimeout(r, 100));
    const messages = b.of('message');
    expect(messages.map((m) => m.message.clientId)).toEqual(['retry-me', 'burst-id']);
    const page = await stubOf(bob.userId).history(alice.userId, undefined, 50);
    expect(page.messages).toHaveLength(2);
    a.close();
    b.close();
  });

  it('keeps messages for an offline recipient and resumes from the cursor without loss or repeats', async () => {
    const { alice, bob } = await pair();
    const a = await connect(alice);
    for (let i = 1; i <= 5; i++) a.send({ type: 'send', id: `off-${i}`, to: bob.userId, body: text(`${i}`) });
    await a.waitFor(isType('sent'), 5);

    const first = await connect(bob);
    const got = await first.waitFor(isType('message'), 5);
    expect(got.map((f) => f.message.clientId)).toEqual(['off-1', 'off-2', 'off-3', 'off-4', 'off-5']);
    first.send({ type: 'ack', upTo: got[2]!.seq });
    // Delivered ticks for exactly the acked three.
    const [receipt] = await a.waitFor(isType('receipt'));
    expect(receipt!.messageIds).toHaveLength(3);
    first.close();
    await first.waitClosed();

    for (let i = 6; i <= 7; i++) a.send({ type: 'send', id: `off-${i}`, to: bob.userId, body: text(`${i}`) });
    await a.waitFor(isType('sent'), 7);

    const second = await connect(bob, got[2]!.seq);
    const resumed = await second.waitFor(isType('message'), 4);
    expect(resumed.map((f) => f.message.clientId)).toEqual(['off-4', 'off-5', 'off-6', 'off-7']);
    await new Promise((r) => setTimeout(r, 100));
    expect(second.of('message')).toHaveLength(4);
    a.close();
    second.close();
  });

  it('continues from the saved cursor when a device reconnects without one', async () => {
    const { alice, bob } = await pair();
    const a = await connect(alice);
    a.send({ type: 'send', id: 'saved-1', to: bob.userId, body: text('1') });
    a.send({ type: 'send', id: 'saved-2', to: bob.userId, body: text('2') });
    await a.waitFor(isType('sent'), 2);
    const b1 = await connect(bob);
    const [m1] = await b1.waitFor(isType('message'));
    b1.send({ type: 'ack', upTo: m1!.seq });
    await a.waitFor(isType('receipt'));
    b1.close();
    await b1.waitClosed();
    const b2 = await connect(bob);
    const [hello] = b2.of('hello');
    expect(hello!.cursor).toBe(m1!.seq);
    const [m2] = await b2.waitFor(isType('message'));
    expect(m2!.message.clientId).toBe('saved-2');
    a.close();
    b2.close();
  });

  it("keeps a device's cursor when the object was evicted between its ack and its close", async () => {
    const { alice, bob } = await pair();
    const a = await connect(alice);
    a.send({ type: 'send', id: 'evict-1', to: bob.userId, body: text('1') });
    await a.waitFor(isType('sent'));
    const b1 = await connect(bob);
    const [m1] = await b1.waitFor(isType('message'));
    b1.send({ type: 'ack', upTo: m1!.seq });
    await a.waitFor(isType('receipt'));
    // The ack lived only in memory; evict, then close the still-open socket.
    await evictDurableObject(stubOf(bob.userId));
    b1.close();
    await b1.waitClosed();
    await new Promise((r) => setTimeout(r, 50));
    const b2 = await connect(bob);
    expect(b2.of('hello')[0]!.cursor).toBe(m1!.seq);
    a.close();
    b2.close();
  });

  it('keeps working after the object is evicted while sockets hibernate', async () => {
    const { alice, bob } = await pair();
    const a = await connect(alice);
    const b = await connect(bob);
    a.send({ type: 'send', id: 'before', to: bob.userId, body: text('before') });
    await b.waitFor(isType('message'));
    ackAll(b);
    await a.waitFor(isType('receipt'));

    await evictDurableObject(stubOf(alice.userId));
    await evictDurableObject(stubOf(bob.userId));

    a.send({ type: 'send', id: 'after', to: bob.userId, body: text('after') });
    const [, after] = await b.waitFor(isType('message'), 2);
    expect(after!.message.clientId).toBe('after');
    expect(after!.seq).toBe(b.of('message')[0]!.seq + 1);
    b.send({ type: 'ack', upTo: after!.seq });
    const receipts = await a.waitFor(isType('receipt'), 2);
    expect(receipts[1]!.messageIds).toEqual([after!.message.id]);
    a.close();
    b.close();
  });

  it('replaces an older connection of the same device', async () => {
    const { alice } = await pair();
    const first = await connect(alice);
    const second = await connect(alice);
    const closed = await first.waitClosed();
    expect(closed.code).toBe(4002);
    expect(second.closed).toBeNull();
    second.close();
  });

  it('pages history newest first and only from the caller\'s own mailbox', async () => {
    const { alice, bob } = await pair();
    const carol = await login(nextPhone());
    const a = await connect(alice);
    for (let i = 0; i < 7; i++) a.send({ type: 'send', id: `h-${i}`, to: bob.userId, body: text(`${i}`) });
    await a.waitFor(isType('sent'), 7);

    const page1 = await stubOf(bob.userId).history(alice.userId, undefined, 3);
    expect(page1.messages.map((m) => m.message.clientId)).toEqual(['h-6', 'h-5', 'h-4']);
    const page2 = await stubOf(bob.userId).history(alice.userId, page1.nextBefore!, 3);
    expect(page2.messages.map((m) => m.message.clientId)).toEqual(['h-3', 'h-2', 'h-1']);
    const page3 = await stubOf(bob.userId).history(alice.userId, page2.nextBefore!, 3);
    expect(page3.messages.map((m) => m.message.clientId)).toEqual(['h-0']);
    expect(page3.nextBefore).toBeNull();

    // The sender's own history shows the same conversation with ticks.
    const own = await stubOf(alice.userId).history(bob.userId, undefined, 10);
    expect(own.messages).toHaveLength(7);
    expect(own.messages.every((m) => m.status === 'sent')).toBe(true);

    // Carol asking about Alice's conversation gets her own (empty) mailbox.
    const leak = await stubOf(carol.userId).history(alice.userId, undefined, 10);
    expect(leak.messages).toEqual([]);
    a.close();
  });
});

async function phoneOf(token: string): Promise<string> {
  const res = await api('/v1/me', { token });
  return ((await res.json()) as { phone: string }).phone;
}

describe('chat list and big receipts', () => {
  it('lists conversations by recent activity with unread counts', async () => {
    const { alice, bob } = await pair();
    const carol = await login(nextPhone());
    const a = await connect(alice);
    const c = await connect(carol);
    a.send({ type: 'send', id: 'to-bob', to: bob.userId, body: text('hi bob') });
    await a.waitFor(isType('sent'));
    c.send({ type: 'send', id: 'to-alice-1', to: alice.userId, body: text('hi alice') });
    c.send({ type: 'send', id: 'to-alice-2', to: alice.userId, body: text('you there?') });
    await c.waitFor(isType('sent'), 2);

    const res = await api('/v1/conversations', { token: alice.token });
    expect(res.status).toBe(200);
    const list = (await res.json()) as { conversations: Array<{ peer: string; unread: number; last: { seq: number; message: { clientId: string } } }>; nextBefore: number | null };
    expect(list.conversations.map((x) => [x.peer, x.unread, x.last.message.clientId])).toEqual([
      [carol.userId, 2, 'to-alice-2'],
      [bob.userId, 0, 'to-bob'],
    ]);
    expect(list.nextBefore).toBeNull();

    // Reading clears the unread count; paging by `before` continues the list.
    a.send({ type: 'read', peer: carol.userId, upTo: list.conversations[0]!.last.seq });
    await c.waitFor(isType('receipt'));
    const page1 = await mailboxOf(env, alice.userId).conversations(undefined, 1);
    expect(page1.conversations.map((x) => [x.kind === 'direct' && x.peer, x.unread])).toEqual([[carol.userId, 0]]);
    const page2 = await mailboxOf(env, alice.userId).conversations(page1.nextBefore!, 1);
    expect(page2.conversations.map((x) => x.kind === 'direct' && x.peer)).toEqual([bob.userId]);
    expect(page2.nextBefore).toBeNull();
    a.close();
    c.close();
  });

  it('splits receipts for hundreds of messages into small frames, each id once', async () => {
    const { alice, bob } = await pair();
    const a = await connect(alice);
    // 500: a device's whole send burst (send_device), still two receipt frames' worth of ids.
    const count = 500;
    for (let i = 0; i < count; i++) a.send({ type: 'send', id: `bulk-${i}`, to: bob.userId, body: text(`${i}`) });
    const sent = await a.waitFor(isType('sent'), count, 15_000);
    const b = await connect(bob);
    const got = await b.waitFor(isType('message'), count, 15_000);
    b.send({ type: 'ack', upTo: got[count - 1]!.seq });
    const delivered = () => a.of('receipt').filter((r) => r.status === 'delivered');
    const deadline = Date.now() + 15_000;
    while (delivered().flatMap((r) => r.messageIds).length < count && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const receipts = delivered();
    expect(receipts.every((r) => r.messageIds.length <= 256)).toBe(true);
    const ids = receipts.flatMap((r) => r.messageIds);
    expect(ids.length).toBe(count);
    expect(new Set(ids)).toEqual(new Set(sent.map((s) => s.messageId)));
    a.close();
    b.close();
  }, 30_000); // 500 messages: seconds on a busy machine, more than the default 5 s
});

describe('retention', () => {
  it('expires old entries by alarm and tells a stale cursor to refetch history', async () => {
    const { alice, bob } = await pair();
    const stub = stubOf(bob.userId);
    // Whatever the account's mailbox holds before (its device's login entry) ages with the first three.
    const base = (await stub.stats()).head;
    const a = await connect(alice);
    for (let i = 0; i < 3; i++) a.send({ type: 'send', id: `old-${i}`, to: bob.userId, body: text(`${i}`) });
    await a.waitFor(isType('sent'), 3);
    a.send({ type: 'send', id: 'fresh', to: bob.userId, body: text('fresh') });
    await a.waitFor(isType('sent'), 4);

    // Age the first three messages past the retention window.
    await runInDurableObject(stub, (_instance: UserMailbox, state) => {
      const cutoff = Date.now() - 31 * 86_400_000;
      state.storage.sql.exec('UPDATE mailbox SET created_at = ? WHERE seq <= ?', cutoff, base + 3);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const stats = await stub.stats();
    expect(stats.depth).toBe(1);
    expect(stats.head).toBe(base + 4);

    const b = await connect(bob, 0);
    const [hello] = b.of('hello');
    expect(hello!.cursor).toBe(base + 3);
    const [expired] = await b.waitFor(isType('error'));
    expect(expired).toMatchObject({ code: 'cursor_expired', retryable: false });
    const [only] = await b.waitFor(isType('message'));
    expect(only!.message.clientId).toBe('fresh');
    // History still has all four: expiry drops undelivered sync entries, not the conversation.
    const page = await stub.history(alice.userId, undefined, 10);
    expect(page.messages).toHaveLength(4);
    a.close();
    b.close();
  });
});

describe('account deletion (wipe)', () => {
  it('closes the sockets, leaves no storage, refuses connections and deliveries, and never stores again', async () => {
    const { alice, bob } = await pair();
    const a = await connect(alice);
    const b = await connect(bob);
    b.send({ type: 'send', id: 'before', to: alice.userId, body: text('still there?') });
    await a.waitFor(isType('message'));
    await b.waitFor(isType('sent'));
    const stub = stubOf(alice.userId);
    await stub.block(bob.userId);

    await stub.wipe();
    expect((await a.waitClosed()).code).toBe(4005);
    const leftovers = () =>
      runInDurableObject(stub, async (_instance: UserMailbox, state) => ({
        tables: state.storage.sql
          .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' ORDER BY name")
          .toArray()
          .map((r) => r.name),
        alarm: await state.storage.getAlarm(),
      }));
    expect(await leftovers()).toEqual({ tables: ['tombstone'], alarm: null });

    // Bob's object knew Alice: it learns she is gone, now and on every later try.
    b.send({ type: 'send', id: 'after', to: alice.userId, body: text('hello?') });
    expect((await b.waitFor(isType('error')))[0]).toMatchObject({ id: 'after', code: 'recipient_not_found' });
    b.send({ type: 'send', id: 'again', to: alice.userId, body: text('hello??') });
    expect((await b.waitFor(isType('error'), 2))[1]).toMatchObject({ id: 'again', code: 'recipient_not_found' });
    expect(b.of('sent')).toHaveLength(1);

    // Whatever else reaches it stores nothing, also after an eviction (no table is recreated).
    await evictDurableObject(stub);
    const group = '01JDQ3ZK8Y6W2V9T7R5P3N1M0G';
    expect(await stub.deliverGroup(group, [])).toBe(0);
    await stub.typingNotice(bob.userId, null, 'typing');
    await stub.groupInvited({ group, title: 'x', invitedBy: bob.userId, at: Date.now() });
    await stub.deviceAdded({ deviceId: alice.deviceId, name: 'x', platform: 'other', withPin: false, history: true, at: Date.now() });
    await stub.applyReceipts(bob.userId, 'delivered', ['before'], Date.now());
    expect(await stub.presenceFor(bob.userId, { viewerShares: true, viewerBlocks: false }, true)).toEqual({ userId: alice.userId, online: false, lastSeen: null });
    expect(await stub.presenceNotice({ userId: bob.userId, online: true, lastSeen: null })).toBe(false);
    expect(await stub.stats()).toEqual({ head: 0, depth: 0, connections: 0, pendingReceipts: 0 });
    expect(await stub.blocked()).toEqual({ blocked: [] });
    expect(await leftovers()).toEqual({ tables: ['tombstone'], alarm: null });

    // Connecting is refused (here past the Worker, whose own check of the device comes first in production).
    await expect(connect(alice)).rejects.toThrow(/401/);
    await stub.wipe();
    expect(await leftovers()).toEqual({ tables: ['tombstone'], alarm: null });
    b.close();
  });
});
