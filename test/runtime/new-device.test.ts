/**
 * New devices and account events in the mailbox: a device is owed every entry stored after its
 * login (live or on its first connect, whatever other devices acked), its start is no
 * acknowledgement, a device without history reads nothing from before its login, the other
 * devices are told of logins, removals and account events, and group invites arrive as entries
 * (never from someone the user blocked).
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { PATHS, type AccountEventFrame, type ServerFrame, type SessionResponse } from '../../protocol/index.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';
import { block, call, createGroup, users } from './group-support.ts';
import { ackAll, connect, isType, login, text, type TestSocket } from './support.ts';

async function phoneOf(session: SessionResponse): Promise<string> {
  return (await call('GET', PATHS.me, session)).body.phone as string;
}

/** Another device of `session`'s account, logged in now (no PIN: it gets no history). */
async function secondDevice(session: SessionResponse, name: string): Promise<SessionResponse> {
  const device = await login(await phoneOf(session), name);
  expect(device.userId).toBe(session.userId);
  expect(device.history).toBe(false);
  // What the login route does; repeated here it changes nothing (a device is registered once).
  await mailboxOf(env, session.userId).deviceAdded({ deviceId: device.deviceId, name, platform: 'other', withPin: false, history: false, at: Date.now() });
  return device;
}

const seqOf = (f: ServerFrame): number => ('seq' in f ? (f.seq ?? -1) : -1);

function accountEvents(socket: TestSocket): AccountEventFrame[] {
  return socket.of('account_event');
}

describe('a new device', () => {
  it('first connecting after another device acked everything receives every entry since its login, in order, once', async () => {
    const [ann, bob] = await users(2);
    const a = await connect(ann!);
    const bobSocket = await connect(bob!);
    const laptop = await secondDevice(ann!, 'ann-laptop');
    const [added] = await a.waitFor(isType('account_event'));
    expect(added!.event).toEqual({ kind: 'device_added', deviceId: laptop.deviceId, name: 'ann-laptop', platform: 'other', withPin: false });
    ackAll(a);

    // Device A receives, acks and reads three messages before the laptop ever connects.
    for (let i = 1; i <= 3; i++) bobSocket.send({ type: 'send', id: `since-${i}`, to: ann!.userId, body: text(`${i}`) });
    const got = await a.waitFor(isType('message'), 3);
    ackAll(a);
    await bobSocket.waitFor((f): f is never => f.type === 'receipt' && f.status === 'delivered' && f.messageIds.length === 3);
    a.send({ type: 'read', peer: bob!.userId, upTo: got[2]!.seq });
    const [marker] = await a.waitFor(isType('read_marker'));
    ackAll(a);

    const l = await connect(laptop);
    const [hello] = l.of('hello');
    expect(hello!.cursor).toBe(added!.seq);
    const expected = [...got.map((m) => m.seq), marker!.seq];
    const frames = await l.waitFor((f): f is ServerFrame => f.type !== 'hello', expected.length);
    expect(frames.map(seqOf)).toEqual(expected);
    expect(frames.map((f) => f.type)).toEqual(['message', 'message', 'message', 'read_marker']);

    // And live from then on, without repeats: one more message reaches both devices once.
    bobSocket.send({ type: 'send', id: 'after', to: ann!.userId, body: text('after') });
    const [, , , live] = await l.waitFor(isType('message'), 4);
    expect(live!.message.clientId).toBe('after');
    await a.waitFor(isType('message'), 4);
    expect(l.frames.filter((f) => f.type !== 'hello').map(seqOf)).toEqual([...expected, live!.seq]);
    for (const s of [a, bobSocket, l]) s.close();
  });

  it('does not count its start as an acknowledgement: what came before its login is delivered only when a device that has it acks', async () => {
    const [ann, bob] = await users(2);
    const bobSocket = await connect(bob!);
    bobSocket.send({ type: 'send', id: 'early', to: ann!.userId, body: text('before the laptop') });
    const [early] = await bobSocket.waitFor(isType('sent'));

    // Ann's laptop logs in after it, connects (never acking its start) and goes away.
    const laptop = await secondDevice(ann!, 'ann-laptop');
    const l1 = await connect(laptop);
    l1.close();
    await l1.waitClosed();

    // A later message: the laptop receives and acks it; only that one is delivered.
    bobSocket.send({ type: 'send', id: 'late', to: ann!.userId, body: text('after the laptop') });
    const [, late] = await bobSocket.waitFor(isType('sent'), 2);
    const l2 = await connect(laptop);
    const [onLaptop] = await l2.waitFor(isType('message'));
    expect(onLaptop!.message.clientId).toBe('late');
    ackAll(l2);
    const [delivered] = await bobSocket.waitFor(isType('receipt'));
    expect(delivered).toMatchObject({ status: 'delivered', messageIds: [late!.messageId] });

    // Ann's first device comes online, receives both and acks: now the early one is delivered too.
    const phone = await connect(ann!);
    const onPhone = await phone.waitFor(isType('message'), 2);
    expect(onPhone.map((m) => m.message.clientId)).toEqual(['early', 'late']);
    ackAll(phone);
    const receipts = await bobSocket.waitFor(isType('receipt'), 2);
    expect(receipts[1]).toMatchObject({ status: 'delivered', messageIds: [early!.messageId] });
    const page = await mailboxOf(env, bob!.userId).history(ann!.userId, undefined, 10);
    expect(page.messages.map((m) => m.status)).toEqual(['delivered', 'delivered']);
    for (const s of [bobSocket, l2, phone]) s.close();
  });

  it('without history reads nothing from before its login: history, chat list, group history, and no cursor reaches below it', async () => {
    const [ann, bob, cat] = await users(3);
    const group = await createGroup(bob!, [ann!]);
    const bobSocket = await connect(bob!);
    bobSocket.send({ type: 'send', id: 'old-1', to: ann!.userId, body: text('old') });
    bobSocket.send({ type: 'group_send', id: 'old-g', group: group.groupId, body: text('old in group') });
    const catSocket = await connect(cat!);
    catSocket.send({ type: 'send', id: 'cat-old', to: ann!.userId, body: text('only before') });
    await bobSocket.waitFor(isType('group_sent'));
    await bobSocket.waitFor(isType('sent'));
    await catSocket.waitFor(isType('sent'));
    const annGroup = await mailboxOf(env, ann!.userId);
    await expect.poll(async () => (await annGroup.groupHistory(group.groupId, { limit: 10 }))?.entries.length ?? 0).toBeGreaterThan(1);

    const laptop = await secondDevice(ann!, 'ann-laptop');
    bobSocket.send({ type: 'send', id: 'new-1', to: ann!.userId, body: text('new') });
    bobSocket.send({ type: 'group_send', id: 'new-g', group: group.groupId, body: text('new in group') });
    await bobSocket.waitFor(isType('sent'), 2);
    await bobSocket.waitFor(isType('group_sent'), 2);
    await expect
      .poll(async () => (await annGroup.groupHistory(group.groupId, { limit: 10 }))?.entries.some((e) => e.entry.type === 'message' && e.entry.message.clientId === 'new-g'))
      .toBe(true);

    // Through the routes, as the laptop: only what came after its login.
    const history = await call('GET', PATHS.history(bob!.userId), laptop);
    expect((history.body.messages as Array<{ message: { clientId: string } }>).map((m) => m.message.clientId)).toEqual(['new-1']);
    const list = (await call('GET', PATHS.conversations, laptop)).body.conversations as Array<{ kind: string; peer?: string; group?: string; unread: number }>;
    // Cat's chat has nothing after the login: not listed. Unread counts only what the laptop may see.
    expect(list.map((c) => [c.kind, c.peer ?? c.group, c.unread]).sort()).toEqual([
      ['direct', bob!.userId, 1],
      ['group', group.groupId, 1],
    ]);
    const groupPage = await call('GET', PATHS.groupHistory(group.groupId), laptop);
    const groupTexts = (groupPage.body.entries as Array<{ entry: { type: string; message?: { clientId: string } } }>).map((e) => e.entry.message?.clientId ?? e.entry.type);
    expect(groupTexts).toEqual(['new-g']);
    expect((await call('GET', PATHS.history(cat!.userId), laptop)).body.messages).toEqual([]);

    // The phone (the account's first device, with history) still sees everything.
    const phoneHistory = await call('GET', PATHS.history(bob!.userId), ann!);
    expect((phoneHistory.body.messages as unknown[]).length).toBe(2);
    expect(((await call('GET', PATHS.conversations, ann!)).body.conversations as unknown[]).length).toBe(3);

    // Asking to start from 0 starts at its login instead; a resume cannot rewind below it either.
    const l = await connect(laptop, 0);
    const floor = l.of('hello')[0]!.cursor;
    expect(floor).toBeGreaterThan(0);
    const first = await l.waitFor((f): f is ServerFrame => f.type !== 'hello');
    expect(seqOf(first[0]!)).toBe(floor + 1);
    l.send({ type: 'resume', after: 0 });
    l.send({ type: 'ping' });
    await l.waitFor(isType('pong'));
    expect(l.frames.filter((f) => 'seq' in f).every((f) => seqOf(f) > floor)).toBe(true);
    for (const s of [bobSocket, catSocket, l]) s.close();
  });
});

describe('account events', () => {
  it('tell the other devices of logins, removals and PIN events; a repeated registration adds nothing', async () => {
    const [ann] = await users(1);
    const a = await connect(ann!);
    const laptop = await secondDevice(ann!, 'ann-laptop');
    await a.waitFor(isType('account_event'));
    const stub = mailboxOf(env, ann!.userId);
    const head = (await stub.stats()).head;
    await stub.deviceAdded({ deviceId: laptop.deviceId, name: 'again', platform: 'other', withPin: true, history: true, at: Date.now() });
    expect((await stub.stats()).head).toBe(head);

    await stub.accountEvent({ kind: 'pin_changed', enabled: true, deviceId: ann!.deviceId });
    const l = await connect(laptop);
    expect((await l.waitFor(isType('account_event')))[0]!.event).toEqual({ kind: 'pin_changed', enabled: true, deviceId: ann!.deviceId });

    // The laptop is revoked: it is closed, the phone is told.
    await stub.revokeDevice(laptop.deviceId);
    expect((await l.waitClosed()).code).toBe(4001);
    const events = await a.waitFor(isType('account_event'), 3);
    expect(events.map((e) => e.event.kind)).toEqual(['device_added', 'pin_changed', 'device_removed']);
    expect(events[2]!.event).toEqual({ kind: 'device_removed', deviceId: laptop.deviceId });
    expect(accountEvents(l).map((e) => e.event.kind)).toEqual(['pin_changed']);
    // Revoking it again tells nobody twice.
    const afterRemoval = (await stub.stats()).head;
    await stub.revokeDevice(laptop.deviceId);
    expect((await stub.stats()).head).toBe(afterRemoval);
    a.close();
  });

  it('group invites arrive as entries, except from someone the user blocked (dropped, silently)', async () => {
    const [ann, bob, eve] = await users(3);
    await block(ann!, eve!);
    const a = await connect(ann!);
    const stub = mailboxOf(env, ann!.userId);
    const at = Date.now();
    await stub.groupInvited({ group: '01JDQ3ZK8Y6W2V9T7R5P3N1M0E', title: 'Spam', invitedBy: eve!.userId, at });
    await stub.groupInvited({ group: '01JDQ3ZK8Y6W2V9T7R5P3N1M0F', title: 'Climbing', invitedBy: bob!.userId, at });
    const [invite] = await a.waitFor(isType('group_invite'));
    expect(invite).toMatchObject({ group: '01JDQ3ZK8Y6W2V9T7R5P3N1M0F', title: 'Climbing', invitedBy: bob!.userId, at });
    expect(a.of('group_invite')).toHaveLength(1);
    a.close();
  });
});
