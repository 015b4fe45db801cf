/**
 * The read receipts setting, reciprocal as in WhatsApp: with it off a user sends no read
 * receipts (the sender sees "delivered", never "read") and sees no one's; delivered ticks are
 * unaffected; the user's own devices still learn what was read. In groups a member with it off
 * is never counted as having read, and a sender with it off sees read counts of 0. Reads made
 * while it was off are never announced, also after turning it back on.
 *
 * That no read receipt is on its way is proven, not waited for: the reader's object flushes
 * its receipt outbox (its alarm), and the sender's socket then receives a later frame.
 */
import { runDurableObjectAlarm } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { PATHS, type GroupReceiptFrame, type MessageInfo, type ReceiptFrame, type SessionResponse } from '../../protocol/index.ts';
import { groupOf, mailboxOf } from '../../durable-objects/stubs.ts';
import { call, createGroup, users } from './group-support.ts';
import { ackAll, connect, isType, text, type TestSocket } from './support.ts';

async function receiptsOff(session: SessionResponse, off = true): Promise<void> {
  const res = await call('PATCH', PATHS.settings, session, { privacy: { readReceipts: !off } });
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ privacy: { readReceipts: !off } });
}

/** Everything the reader's object had to relay has been applied by the senders' objects. */
async function flushed(reader: SessionResponse): Promise<void> {
  expect(await runDurableObjectAlarm(mailboxOf(env, reader.userId))).toBe(true);
  expect((await mailboxOf(env, reader.userId).stats()).pendingReceipts).toBe(0);
}

/** `socket`'s own send round trip: every frame its object pushed to it before has arrived. */
async function roundTrip(socket: TestSocket, to: SessionResponse, id: string): Promise<void> {
  socket.send({ type: 'send', id, to: to.userId, body: text(id) });
  await socket.waitFor((f): f is never => f.type === 'sent' && f.id === id);
}

const reads = (socket: TestSocket): ReceiptFrame[] => socket.of('receipt').filter((r) => r.status === 'read');

async function statusesAt(session: SessionResponse, peer: SessionResponse): Promise<Record<string, string>> {
  const page = await mailboxOf(env, session.userId).history(peer.userId, undefined, 50);
  return Object.fromEntries(page.messages.map((m) => [m.message.clientId, m.status]));
}

describe('read receipts (1:1)', () => {
  it('off at the reader: the sender sees delivered, never read; the reader\'s devices still see the read', async () => {
    const [ann, bob] = await users(2);
    await receiptsOff(bob!);
    const a = await connect(ann!);
    const b = await connect(bob!);
    a.send({ type: 'send', id: 'm1', to: bob!.userId, body: text('did you read this?') });
    const [incoming] = await b.waitFor(isType('message'));
    ackAll(b);
    expect((await a.waitFor(isType('receipt')))[0]).toMatchObject({ status: 'delivered', by: bob!.userId });

    b.send({ type: 'read', peer: ann!.userId, upTo: incoming!.seq });
    expect((await b.waitFor(isType('read_marker')))[0]).toMatchObject({ peer: ann!.userId, upTo: incoming!.seq });
    await flushed(bob!);
    await roundTrip(a, bob!, 'after-the-read');
    expect(reads(a)).toEqual([]);
    expect((await statusesAt(ann!, bob!)).m1).toBe('delivered');
    // Read at the reader's side all the same (history and unread count).
    expect((await statusesAt(bob!, ann!)).m1).toBe('read');
    a.close();
    b.close();
  });

  it("off at the sender: others' reads are not shown (reciprocity), delivered still is", async () => {
    const [ann, bob] = await users(2);
    await receiptsOff(ann!);
    const a = await connect(ann!);
    const b = await connect(bob!);
    a.send({ type: 'send', id: 'm1', to: bob!.userId, body: text('hi') });
    const [incoming] = await b.waitFor(isType('message'));
    ackAll(b);
    expect((await a.waitFor(isType('receipt')))[0]).toMatchObject({ status: 'delivered' });

    // Bob has receipts on: his read is sent, and Ann's object drops it.
    b.send({ type: 'read', peer: ann!.userId, upTo: incoming!.seq });
    await b.waitFor(isType('read_marker'));
    await flushed(bob!);
    await roundTrip(a, bob!, 'probe');
    expect(reads(a)).toEqual([]);
    expect((await statusesAt(ann!, bob!)).m1).toBe('delivered');
    a.close();
    b.close();
  });

  it('turned back on: later reads are sent; reads made while it was off never are', async () => {
    const [ann, bob] = await users(2);
    await receiptsOff(bob!);
    const a = await connect(ann!);
    const b = await connect(bob!);
    a.send({ type: 'send', id: 'while-off', to: bob!.userId, body: text('1') });
    const [first] = await b.waitFor(isType('message'));
    b.send({ type: 'read', peer: ann!.userId, upTo: first!.seq });
    await b.waitFor(isType('read_marker'));

    await receiptsOff(bob!, false);
    a.send({ type: 'send', id: 'while-on', to: bob!.userId, body: text('2') });
    const [, second] = await b.waitFor(isType('message'), 2);
    const sent = (await a.waitFor(isType('sent'), 2)).find((f) => f.id === 'while-on');
    b.send({ type: 'read', peer: ann!.userId, upTo: second!.seq });
    const [read] = await a.waitFor((f): f is ReceiptFrame => f.type === 'receipt' && f.status === 'read');
    expect(read!.messageIds).toEqual([sent!.messageId]);
    await flushed(bob!);
    await roundTrip(a, bob!, 'probe');
    expect(reads(a)).toHaveLength(1);
    expect(await statusesAt(ann!, bob!)).toMatchObject({ 'while-off': 'sent', 'while-on': 'read' });
    a.close();
    b.close();
  });
});

describe('read receipts in groups', () => {
  it('a member with them off is never counted as read; a sender with them off sees read counts of 0', async () => {
    const [ann, bob, cat] = await users(3);
    await receiptsOff(bob!);
    const group = await createGroup(ann!, [bob!, cat!]);
    const a = await connect(ann!);
    const b = await connect(bob!);
    const c = await connect(cat!);
    a.send({ type: 'group_send', id: 'q1', group: group.groupId, body: text('who is coming?') });
    const [sent] = await a.waitFor(isType('group_sent'));
    const [atBob] = await b.waitFor(isType('group_message'));
    const [atCat] = await c.waitFor(isType('group_message'));
    ackAll(b);
    ackAll(c);

    // Bob reads first (receipts off), then Cat (on); by the time Cat counts, Bob's read was flushed.
    b.send({ type: 'group_read', group: group.groupId, upTo: atBob!.seq });
    await b.waitFor(isType('group_read_marker'));
    await flushed(bob!);
    c.send({ type: 'group_read', group: group.groupId, upTo: atCat!.seq });
    await c.waitFor(isType('group_read_marker'));
    await flushed(cat!);
    await groupOf(env, group.groupId).flushTallies();
    const tallyOf = (f: GroupReceiptFrame) => f.tallies.find((t) => t.messageId === sent!.messageId);
    await a.waitFor((f): f is GroupReceiptFrame => f.type === 'group_receipt' && tallyOf(f)?.delivered === 2 && tallyOf(f)?.read === 1);

    const info = (await call('GET', PATHS.groupMessageInfo(group.groupId, sent!.messageId), ann!)).body as unknown as MessageInfo;
    expect(info.tally).toMatchObject({ of: 2, delivered: 2, read: 1 });
    expect(info.read.map((r) => r.userId)).toEqual([cat!.userId]);
    expect(info.delivered.map((r) => r.userId).sort()).toEqual([bob!.userId, cat!.userId].sort());
    expect(a.of('group_receipt').flatMap((f) => f.tallies).every((t) => t.read <= 1)).toBe(true);

    // Ann turns hers off: the group still counts Cat's read of her next message, but the tallies
    // reach Ann with read 0 (and are stored so, for her history).
    await receiptsOff(ann!);
    a.send({ type: 'group_send', id: 'q2', group: group.groupId, body: text('anyone?') });
    const [, second] = await a.waitFor(isType('group_sent'), 2);
    const [, cat2] = await c.waitFor(isType('group_message'), 2);
    ackAll(c);
    c.send({ type: 'group_read', group: group.groupId, upTo: cat2!.seq });
    await c.waitFor(isType('group_read_marker'), 2);
    await flushed(cat!);
    const counted = await groupOf(env, group.groupId).messageInfo(ann!.userId, second!.messageId);
    if (!counted.ok) throw new Error(counted.code);
    expect(counted.value.tally.read).toBe(1);
    // What the group pushes to Ann (its timer may also have): the count as the group has it.
    await mailboxOf(env, ann!.userId).groupTallies(group.groupId, [counted.value.tally]);
    const { delivered } = counted.value.tally;
    await a.waitFor((f): f is GroupReceiptFrame => f.type === 'group_receipt' && f.tallies.some((t) => t.messageId === second!.messageId && t.delivered === delivered));
    const history = await call('GET', PATHS.groupHistory(group.groupId), ann!);
    const mine = (history.body.entries as Array<{ entry: { message?: { id: string } }; tally: { read: number } | null }>).find(
      (e) => e.entry.message?.id === second!.messageId,
    );
    expect(mine!.tally).toMatchObject({ read: 0 });
    expect(a.of('group_receipt').flatMap((f) => f.tallies).filter((t) => t.messageId === second!.messageId).every((t) => t.read === 0)).toBe(true);
    for (const s of [a, b, c]) s.close();
  });
});
