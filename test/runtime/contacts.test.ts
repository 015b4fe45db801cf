/**
 * Contacts and blocking through the real Worker and mailbox objects. Blocking is silent: the
 * blocked user's 1:1 messages get "sent" but are never stored at, delivered to or ticked by the
 * blocker; unblocking lets new messages through (not the ones sent while blocked).
 */
import { describe, expect, it } from 'vitest';
import { BlockListSchema, ContactListSchema, ContactSchema, ConversationListSchema, PATHS } from '../../protocol/index.ts';
import { call, users } from './group-support.ts';
import { api, connect, isType, login, nextPhone, text } from './support.ts';

describe('contacts', () => {
  it('adds by phone number, lists with profiles and labels, removes', async () => {
    const [ann, bob] = await users(2);
    const bobPhone = ((await (await api(PATHS.me, { token: bob!.token })).json()) as { phone: string }).phone;
    await api(PATHS.me, { method: 'PATCH', token: bob!.token, body: JSON.stringify({ displayName: 'Bob' }) });

    // Written with spaces, as people type numbers: normalised to E.164.
    const spaced = `${bobPhone.slice(0, 3)} ${bobPhone.slice(3, 6)} ${bobPhone.slice(6)}`;
    const added = await call('POST', PATHS.contacts, ann!, { phone: spaced, name: 'Bobby' });
    expect(added.status).toBe(201);
    expect(ContactSchema.parse(added.body)).toMatchObject({ userId: bob!.userId, phone: bobPhone, displayName: 'Bob', name: 'Bobby' });
    // Adding again updates the label, never duplicates.
    expect((await call('POST', PATHS.contacts, ann!, { phone: bobPhone, name: 'B.' })).status).toBe(201);
    const list = ContactListSchema.parse((await call('GET', PATHS.contacts, ann!)).body);
    expect(list.contacts.map((c) => [c.userId, c.name])).toEqual([[bob!.userId, 'B.']]);
    // Bob's own list is his alone.
    expect(ContactListSchema.parse((await call('GET', PATHS.contacts, bob!)).body).contacts).toEqual([]);

    expect((await call('DELETE', PATHS.contact(bob!.userId), ann!)).status).toBe(204);
    expect((await call('DELETE', PATHS.contact(bob!.userId), ann!)).body.error?.code).toBe('user_not_found');
    expect(ContactListSchema.parse((await call('GET', PATHS.contacts, ann!)).body).contacts).toEqual([]);
  });

  it('refuses bad input with typed errors', async () => {
    const [ann] = await users(1);
    const me = (await (await api(PATHS.me, { token: ann!.token })).json()) as { phone: string };
    expect((await call('POST', PATHS.contacts, ann!, { phone: 'not a phone' })).body.error?.code).toBe('invalid_phone');
    expect((await call('POST', PATHS.contacts, ann!, { phone: '+4915199999999' })).body.error?.code).toBe('user_not_found');
    expect((await call('POST', PATHS.contacts, ann!, { phone: me.phone })).body.error?.code).toBe('self_reference');
    expect((await call('POST', PATHS.contacts, ann!, { phone: me.phone, extra: 1 })).body.error?.code).toBe('validation_failed');
    expect((await call('DELETE', PATHS.contact('nope'), ann!)).status).toBe(400);
    expect((await api(PATHS.contacts)).status).toBe(401);
    expect(ContactListSchema.parse((await call('GET', PATHS.contacts, ann!)).body).contacts).toEqual([]);
  });
});

describe('blocking', () => {
  it('drops a blocked user’s messages silently; unblocking lets new ones through', async () => {
    const [ann, bob, cat] = await users(3);
    const a = await connect(ann!);
    const b = await connect(bob!);
    const c = await connect(cat!);
    expect((await call('PUT', PATHS.block(bob!.userId), ann!)).status).toBe(204);
    expect(BlockListSchema.parse((await call('GET', PATHS.blocks, ann!)).body).blocked.map((x) => x.userId)).toEqual([bob!.userId]);

    // Bob sees "sent" as usual, and nothing else: Ann's devices get nothing, no delivered tick.
    b.send({ type: 'send', id: 'while-blocked', to: ann!.userId, body: text('can you hear me?') });
    const [sent] = await b.waitFor(isType('sent'));
    expect(sent).toMatchObject({ id: 'while-blocked', duplicate: false });
    // "sent" means Ann's mailbox already took (or dropped) it; Cat's later message reaches Ann's
    // socket after anything stored before it, so once it is there, Bob's would have been too.
    c.send({ type: 'send', id: 'from-cat', to: ann!.userId, body: text('barrier') });
    await c.waitFor(isType('sent'));
    const [fromCat] = await a.waitFor(isType('message'));
    expect(fromCat!.message).toMatchObject({ from: cat!.userId, clientId: 'from-cat' });
    expect(a.of('message').filter((m) => m.message.from === bob!.userId)).toEqual([]);
    expect(b.of('receipt')).toEqual([]);
    const chats = ConversationListSchema.parse((await call('GET', PATHS.conversations, ann!)).body).conversations;
    expect(chats.map((chat) => (chat.kind === 'direct' ? chat.peer : chat.group))).toEqual([cat!.userId]);
    expect((await call('GET', PATHS.history(bob!.userId), ann!)).body).toMatchObject({ messages: [] });
    // Ann can still write to Bob (blocking is one-way and silent).
    a.send({ type: 'send', id: 'from-ann', to: bob!.userId, body: text('hi') });
    await b.waitFor(isType('message'));

    expect((await call('DELETE', PATHS.block(bob!.userId), ann!)).status).toBe(204);
    b.send({ type: 'send', id: 'after-unblock', to: ann!.userId, body: text('hello again') });
    const fromBob = (f: Parameters<Parameters<typeof a.waitFor>[0]>[0]): f is Extract<typeof f, { type: 'message' }> =>
      f.type === 'message' && f.message.from === bob!.userId;
    const [incoming] = await a.waitFor(fromBob);
    expect(incoming!.message).toMatchObject({ clientId: 'after-unblock' });
    expect(a.frames.filter(fromBob).map((m) => m.message.clientId)).toEqual(['after-unblock']);
    a.close();
    b.close();
    c.close();
  });

  it('refuses to block yourself or nobody; unblocking is idempotent', async () => {
    const [ann] = await users(1);
    expect((await call('PUT', PATHS.block(ann!.userId), ann!)).body.error?.code).toBe('self_reference');
    expect((await call('PUT', PATHS.block('01ARZ3NDEKTSV4RRFFQ69G5FAV'), ann!)).body.error?.code).toBe('user_not_found');
    expect((await call('DELETE', PATHS.block('01ARZ3NDEKTSV4RRFFQ69G5FAV'), ann!)).status).toBe(204);
    expect((await call('PUT', PATHS.block('bad'), ann!)).status).toBe(400);
    expect(BlockListSchema.parse((await call('GET', PATHS.blocks, ann!)).body).blocked).toEqual([]);
    const other = await login(nextPhone());
    expect((await call('PUT', PATHS.block(other.userId), ann!)).status).toBe(204);
    expect((await call('PUT', PATHS.block(other.userId), ann!)).status).toBe(204);
    expect(BlockListSchema.parse((await call('GET', PATHS.blocks, ann!)).body).blocked).toHaveLength(1);
  });
});
