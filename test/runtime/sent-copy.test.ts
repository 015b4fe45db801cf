/**
 * The `sent` answer that carries the sender's own copy (issue 15): on a caught-up sending
 * connection the copy's mailbox entry arrives inside `sent` (with `seq` and `message`) instead of
 * as a separate `message` frame; everywhere else (other devices, a connection that is behind, a
 * retry) nothing changed.
 */
import { evictDurableObject, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { DELIVERY_WINDOW } from '../../protocol/index.ts';
import type { UserMailbox } from '../../durable-objects/user-mailbox.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';
import { api, connect, isType, login, nextPhone, text } from './support.ts';

async function pair() {
  const alice = await login(nextPhone(), 'alice-phone');
  const bob = await login(nextPhone(), 'bob-phone');
  return { alice, bob };
}

async function phoneOf(token: string): Promise<string> {
  const res = await api('/v1/me', { token });
  return ((await res.json()) as { phone: string }).phone;
}

const settle = (ms = 100) => new Promise((r) => setTimeout(r, ms));

describe('sent with the sender’s copy', () => {
  it('carries the copy (seq and message) on the sending connection, which gets no separate echo', async () => {
    const { alice, bob } = await pair();
    const a = await connect(alice);
    const b = await connect(bob);

    a.send({ type: 'send', id: 'merged-1', to: bob.userId, body: text('hello bob') });
    const [sent] = await a.waitFor(isType('sent'));
    expect(sent).toMatchObject({ id: 'merged-1', to: bob.userId, duplicate: false });
    expect(sent!.seq).toBeTypeOf('number');
    expect(sent!.message).toEqual({
      id: sent!.messageId,
      clientId: 'merged-1',
      from: alice.userId,
      fromDevice: alice.deviceId,
      to: bob.userId,
      sentAt: sent!.sentAt,
      body: { kind: 'text', text: 'hello bob' },
    });
    // The copy is the newest entry of Alice's mailbox.
    expect((await mailboxOf(env, alice.userId).stats()).head).toBe(sent!.seq);

    await b.waitFor(isType('message'));
    await settle();
    expect(a.of('message')).toEqual([]);

    // The entry counts as sent on this connection: acking it is valid, and a resume from before
    // it repeats it as the `message` frame it stands for, with the same message.
    a.send({ type: 'ack', upTo: sent!.seq! });
    a.send({ type: 'resume', after: sent!.seq! - 1 });
    const [again] = await a.waitFor(isType('message'));
    expect(again).toEqual({ type: 'message', seq: sent!.seq, message: sent!.message });
    expect(a.of('error')).toEqual([]);

    // The next send is merged again, with the next seq.
    a.send({ type: 'send', id: 'merged-2', to: bob.userId, body: text('again') });
    const [, second] = await a.waitFor(isType('sent'), 2);
    expect(second).toMatchObject({ id: 'merged-2', seq: sent!.seq! + 1 });
    a.close();
    b.close();
  });

  it("still gives the sender's other devices the copy as a message entry", async () => {
    const { alice, bob } = await pair();
    const phone = await connect(alice);
    const desktop = await connect(await login(await phoneOf(alice.token), 'alice-desktop'));
    const b = await connect(bob);

    phone.send({ type: 'send', id: 'multi-merged', to: bob.userId, body: text('from my phone') });
    const [sent] = await phone.waitFor(isType('sent'));
    const [copy] = await desktop.waitFor(isType('message'));
    expect(sent!.seq).toBeTypeOf('number');
    expect(copy).toEqual({ type: 'message', seq: sent!.seq, message: sent!.message });
    expect(desktop.of('sent')).toEqual([]);
    await settle();
    expect(phone.of('message')).toEqual([]);
    for (const s of [phone, desktop, b]) s.close();
  });

  it('answers a connection that is behind (its window full) with a plain sent; the copy follows in order', async () => {
    const { alice, bob } = await pair();
    const stub = mailboxOf(env, alice.userId) as DurableObjectStub<UserMailbox>;
    // More entries than the delivery window, owed to Alice's device before it connects.
    const filler = DELIVERY_WINDOW + 5;
    await runInDurableObject(stub, (_instance, state) => {
      const sql = state.storage.sql;
      const head = sql.exec<{ seq: number | null }>('SELECT max(seq) AS seq FROM mailbox').one().seq ?? 0;
      const now = Date.now();
      for (let seq = head + 1; seq <= head + filler; seq++) {
        const frame = JSON.stringify({ type: 'read_marker', seq, peer: bob.userId, upTo: 0, at: now });
        sql.exec('INSERT INTO mailbox (seq, kind, frame, created_at) VALUES (?, ?, ?, ?)', seq, 'read_marker', frame, now);
      }
    });
    // The store reads its head when the object starts.
    await evictDurableObject(stub);
    const a = await connect(alice);
    const b = await connect(bob);
    const markers = await a.waitFor(isType('read_marker'), DELIVERY_WINDOW, 10_000);
    const lastSent = markers.at(-1)!.seq;

    a.send({ type: 'send', id: 'behind-1', to: bob.userId, body: text('while behind') });
    const [sent] = await a.waitFor(isType('sent'));
    expect(sent).toEqual({ type: 'sent', id: 'behind-1', messageId: sent!.messageId, to: bob.userId, sentAt: sent!.sentAt, duplicate: false });
    await settle();
    expect(a.of('message')).toEqual([]);

    // Acking what it has opens the window: the rest of the markers, then the copy, in order.
    a.send({ type: 'ack', upTo: lastSent });
    const [copy] = await a.waitFor(isType('message'));
    expect(copy!.message).toMatchObject({ id: sent!.messageId, clientId: 'behind-1', from: alice.userId });
    const seqs = a.frames.flatMap((f) => (f.type === 'read_marker' || f.type === 'message' ? [f.seq] : []));
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => seqs[0]! + i));
    expect(seqs.at(-1)).toBe(copy!.seq);
    a.close();
    b.close();
  });

  it('answers a retry with a plain sent (duplicate) and no second copy', async () => {
    const { alice, bob } = await pair();
    const a = await connect(alice);
    const b = await connect(bob);
    const frame = { type: 'send', id: 'retry-merged', to: bob.userId, body: text('once') } as const;
    a.send(frame);
    const [first] = await a.waitFor(isType('sent'));
    expect(first!.seq).toBeTypeOf('number');
    a.send(frame);
    const [, retry] = await a.waitFor(isType('sent'), 2);
    expect(retry).toEqual({ type: 'sent', id: 'retry-merged', messageId: first!.messageId, to: bob.userId, sentAt: first!.sentAt, duplicate: true });

    // Concurrent retries of a fresh id: one answer carries the copy, the others are plain duplicates.
    for (let i = 0; i < 4; i++) a.send({ ...frame, id: 'burst-merged' });
    const burst = (await a.waitFor(isType('sent'), 6)).slice(2);
    expect(burst.filter((s) => s.seq !== undefined)).toHaveLength(1);
    expect(burst.filter((s) => s.seq !== undefined)[0]!.duplicate).toBe(false);
    expect(burst.filter((s) => s.duplicate).every((s) => s.seq === undefined && s.message === undefined)).toBe(true);
    await settle();
    expect(a.of('message')).toEqual([]);
    expect((await mailboxOf(env, alice.userId).stats()).head).toBe(burst.find((s) => s.seq !== undefined)!.seq);
    a.close();
    b.close();
  });
});
