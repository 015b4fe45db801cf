/**
 * Typing indicators: relayed live to the peer's connected devices (1:1) or to the members of a
 * group who are likely online, never stored, rate limited (repeats dropped; every relay, a
 * change of state too, paid from the device's typing budgets: test/runtime/limits.test.ts),
 * dropped for blocked senders (in groups too), refused for people and groups that do not exist.
 */
import { describe, expect, it } from 'vitest';
import { PATHS, TYPING_TTL_MS } from '../../protocol/index.ts';
import { becameActive, block, call, createGroup, settled, users } from './group-support.ts';
import { ackAll, connect, isType } from './support.ts';

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('typing indicators', () => {
  it('reach the peer live, with an expiry; repeats within a second are dropped; nothing is stored', async () => {
    const [ann, bob] = await users(2);
    const a = await connect(ann!);
    const b = await connect(bob!);
    a.send({ type: 'typing', to: bob!.userId, state: 'typing' });
    const [notice] = await b.waitFor(isType('typing_notice'));
    expect(notice).toEqual({ type: 'typing_notice', from: ann!.userId, group: null, state: 'typing', expiresInMs: TYPING_TTL_MS });

    // Keystroke spam: the same state again within the interval is not relayed; a change is
    // (within the budget of 4 relays per conversation: this is the second).
    for (let i = 0; i < 5; i++) a.send({ type: 'typing', to: bob!.userId, state: 'typing' });
    a.send({ type: 'typing', to: bob!.userId, state: 'stopped' });
    await b.waitFor((f): f is never => f.type === 'typing_notice' && f.state === 'stopped');
    await pause(150);
    expect(b.of('typing_notice').map((n) => n.state)).toEqual(['typing', 'stopped']);

    // Ephemeral: no mailbox entry, no chat, and a device connecting later sees nothing.
    expect((await call('GET', PATHS.conversations, bob!)).body).toMatchObject({ conversations: [] });
    const later = await connect(bob!);
    await pause(100);
    expect(later.frames.filter((f) => f.type !== 'hello')).toEqual([]);
    for (const s of [a, b, later]) s.close();
  });

  it('is refused for yourself and dropped for a blocked sender', async () => {
    const [ann, bob] = await users(2);
    const a = await connect(ann!);
    const b = await connect(bob!);
    a.send({ type: 'typing', to: ann!.userId, state: 'typing' });
    expect((await a.waitFor(isType('error')))[0]).toMatchObject({ code: 'self_message' });

    await call('PUT', PATHS.block(ann!.userId), bob!);
    a.send({ type: 'typing', to: bob!.userId, state: 'typing' });
    await pause(200);
    expect(b.of('typing_notice')).toEqual([]);
    a.send({ type: 'typing', to: bob!.userId, state: 'bored' } as never);
    expect((await a.waitFor(isType('error'), 2))[1]).toMatchObject({ code: 'validation_failed' });
    a.close();
    b.close();
  });

  it('in a group reaches members who are active, not the typist; non-members are refused and reach no one', async () => {
    const [ann, bob, cat, outsider] = await users(4);
    const group = await createGroup(ann!, [bob!, cat!]);
    const b = await connect(bob!);
    const c = await connect(cat!);
    // Bob and Cat ack the setup events: their receipts mark them active in the group.
    await b.waitFor(isType('group_event'));
    await c.waitFor(isType('group_event'));
    ackAll(b);
    ackAll(c);
    await settled(group.groupId);
    // Delivered progress is gathered for up to 500 ms: wait until the group has it, not a fixed time.
    await becameActive(group.groupId, bob!.userId);
    await becameActive(group.groupId, cat!.userId);
    const a = await connect(ann!);
    a.send({ type: 'group_typing', group: group.groupId, state: 'recording' });
    for (const s of [b, c]) {
      const [notice] = await s.waitFor(isType('typing_notice'));
      expect(notice).toMatchObject({ from: ann!.userId, group: group.groupId, state: 'recording' });
    }
    await pause(100);
    expect(a.of('typing_notice')).toEqual([]);

    // The outsider's mailbox knows no such group: refused there, without asking the group.
    const o = await connect(outsider!);
    o.send({ type: 'group_typing', group: group.groupId, state: 'typing' });
    expect((await o.waitFor(isType('error')))[0]).toMatchObject({ id: null, code: 'group_not_found' });
    await pause(200);
    expect(b.of('typing_notice')).toHaveLength(1);
    expect(c.of('typing_notice')).toHaveLength(1);
    for (const s of [a, b, c, o]) s.close();
  });

  it('in a group, notices from someone a member blocked are dropped for that member only', async () => {
    const [ann, bob, cat] = await users(3);
    const group = await createGroup(ann!, [bob!, cat!]);
    const b = await connect(bob!);
    const c = await connect(cat!);
    await b.waitFor(isType('group_event'));
    await c.waitFor(isType('group_event'));
    ackAll(b);
    ackAll(c);
    await settled(group.groupId);
    await becameActive(group.groupId, bob!.userId);
    await becameActive(group.groupId, cat!.userId);
    await block(bob!, ann!);

    const a = await connect(ann!);
    a.send({ type: 'group_typing', group: group.groupId, state: 'typing' });
    expect((await c.waitFor(isType('typing_notice')))[0]).toMatchObject({ from: ann!.userId, group: group.groupId });
    // Cat types next: Bob gets Cat's notice, and never Ann's.
    c.send({ type: 'group_typing', group: group.groupId, state: 'typing' });
    const [fromCat] = await b.waitFor(isType('typing_notice'));
    expect(fromCat).toMatchObject({ from: cat!.userId, group: group.groupId });
    expect(b.of('typing_notice').map((n) => n.from)).toEqual([cat!.userId]);
    for (const s of [a, b, c]) s.close();
  });
});
