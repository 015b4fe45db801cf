/**
 * Made-up ids create nothing: a frame or request naming a user or group that does not exist is
 * answered `user_not_found` / `group_not_found` without instantiating an object for it (every
 * such object would be one more stored object, for free, for anyone). Objects are counted
 * before and after with `listDurableObjectIds`.
 */
import { listDurableObjectIds, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { PATHS, type Group, type SessionResponse } from '../../protocol/index.ts';
import { groupOf, mailboxOf } from '../../durable-objects/stubs.ts';
import { call, settled } from './group-support.ts';
import { connect, isType, login, text, type TestSocket } from './support.ts';

// German mobile numbers (+49 157 and eight digits); steps of 1,000 keep each in its own block
// of 1,000 numbers (the unit of the per-prefix edge limit on code requests).
let phoneCounter = 10_000_000 + Math.floor(Math.random() * 80_000) * 1_000;
function freshPhone(): string {
  phoneCounter += 1_000;
  return `+49157${phoneCounter}`;
}

async function signUp(n: number): Promise<SessionResponse[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => login(freshPhone(), `bad-ids-${i}`)));
}

/** A well-formed id (a ULID) that nobody created. */
function madeUp(): string {
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  return `01J${Array.from(crypto.getRandomValues(new Uint8Array(23)), (b) => alphabet[b % 32]).join('')}`;
}

async function objectCounts(): Promise<{ mailboxes: number; groups: number }> {
  return { mailboxes: (await listDurableObjectIds(env.MAILBOX)).length, groups: (await listDurableObjectIds(env.GROUP)).length };
}

/** Wait until the socket has answered everything sent so far (frames are handled in order). */
async function drained(socket: TestSocket): Promise<void> {
  const pongs = socket.of('pong').length;
  socket.send({ type: 'ping' });
  await socket.waitFor(isType('pong'), pongs + 1);
}

describe('made-up ids', () => {
  it('typing to a user that does not exist is refused and creates no mailbox; typing to a real peer still works', async () => {
    const [ann, bob] = await signUp(2);
    const a = await connect(ann!);
    const b = await connect(bob!);
    const before = await objectCounts();
    const ghosts = [madeUp(), madeUp(), madeUp()];
    for (const ghost of ghosts) a.send({ type: 'typing', to: ghost, state: 'typing' });
    const errors = await a.waitFor(isType('error'), 3);
    expect(errors.map((e) => [e.id, e.code])).toEqual(ghosts.map(() => [null, 'user_not_found']));
    a.send({ type: 'typing', to: bob!.userId, state: 'typing' });
    await b.waitFor(isType('typing_notice'));
    await drained(a);
    expect(await objectCounts()).toEqual(before);
    a.close();
    b.close();
  });

  it('group frames for a group that does not exist are refused without reaching any group object', async () => {
    const [ann, bob, outsider] = await signUp(3);
    const created = await call('POST', PATHS.groups, ann!, { title: 'Real', members: [bob!.userId] });
    const group = created.body as unknown as Group;
    await settled(group.groupId);
    const o = await connect(outsider!);
    const before = await objectCounts();
    const ghost = madeUp();
    o.send({ type: 'group_typing', group: ghost, state: 'typing' });
    // A real group one is not in: refused the same way (the mailbox knows only its own groups).
    o.send({ type: 'group_typing', group: group.groupId, state: 'typing' });
    o.send({ type: 'group_send', id: 'ghost-send', group: ghost, body: text('anyone?') });
    const errors = await o.waitFor(isType('error'), 3);
    expect(errors.map((e) => [e.id, e.code])).toEqual([
      [null, 'group_not_found'],
      [null, 'group_not_found'],
      ['ghost-send', 'group_not_found'],
    ]);
    await drained(o);
    expect(await objectCounts()).toEqual(before);
    expect((await groupOf(env, group.groupId).stats()).head).toBe(group.head);
    o.close();
  });

  it('group routes and queries for a group that does not exist answer group_not_found and create nothing', async () => {
    const [ann, bob] = await signUp(2);
    const ghost = madeUp();
    // The caller's own mailbox answers some of these; it exists before we count.
    await mailboxOf(env, ann!.userId).stats();
    const before = await objectCounts();
    const requests: Array<[string, string, unknown?]> = [
      ['GET', PATHS.group(ghost)],
      ['PATCH', PATHS.group(ghost), { title: 'mine' }],
      ['POST', PATHS.groupMembers(ghost), { members: [bob!.userId] }],
      ['DELETE', PATHS.groupMember(ghost, bob!.userId)],
      ['PUT', PATHS.groupAdmin(ghost, bob!.userId)],
      ['DELETE', PATHS.groupAdmin(ghost, bob!.userId)],
      ['POST', PATHS.groupLeave(ghost)],
      ['GET', PATHS.groupMessageInfo(ghost, madeUp())],
      ['PUT', PATHS.mute('group', ghost), { until: null }],
    ];
    for (const [method, path, body] of requests) {
      const res = await call(method, path, ann!, body);
      expect([res.status, res.body.error?.code], `${method} ${path}`).toEqual([404, 'group_not_found']);
    }
    // History is the caller's own copy: never a member, nothing to show.
    expect((await call('GET', PATHS.groupHistory(ghost), ann!)).body.error?.code).toBe('not_group_member');
    expect(await objectCounts()).toEqual(before);
    // Adding members to a group that does not exist costs none of the budget either.
    expect(await mailboxOf(env, ann!.userId).spend('group_add_user', 1_024)).toEqual({ ok: true });
  });

  it('user queries for a user that does not exist answer user_not_found and create nothing', async () => {
    const [ann] = await signUp(1);
    const a = await connect(ann!);
    const ghost = madeUp();
    const before = await objectCounts();
    for (const [method, path] of [
      ['GET', PATHS.user(ghost)],
      ['GET', PATHS.presence(ghost)],
      ['PUT', PATHS.block(ghost)],
    ] as const) {
      const res = await call(method, path, ann!);
      expect([res.status, res.body.error?.code], `${method} ${path}`).toEqual([404, 'user_not_found']);
    }
    expect((await call('PUT', PATHS.mute('direct', ghost), ann!, { until: null })).body.error?.code).toBe('user_not_found');
    expect((await call('GET', PATHS.history(ghost), ann!)).body).toEqual({ messages: [], nextBefore: null });
    a.send({ type: 'send', id: 'to-nobody', to: ghost, body: text('hello?') });
    expect((await a.waitFor(isType('error')))[0]).toMatchObject({ id: 'to-nobody', code: 'recipient_not_found' });
    // Watching someone who does not exist answers nothing for them.
    a.send({ type: 'presence_watch', users: [ghost] });
    await drained(a);
    expect(a.of('presence')).toEqual([]);
    expect(await objectCounts()).toEqual(before);
    a.close();
  });

  it('a group object addressed by an id nobody created writes nothing, and neither does a refused creation', async () => {
    const [ann] = await signUp(1);
    const tables = (stub: DurableObjectStub) =>
      runInDurableObject(stub, (_instance, state) => state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table'").toArray());
    const blank = groupOf(env, madeUp());
    expect(await blank.view(ann!.userId)).toEqual({ ok: false, code: 'group_not_found', message: null });
    expect(await blank.post({ sender: ann!.userId, device: ann!.deviceId, clientId: 'x', body: text('x') })).toMatchObject({ ok: false, code: 'group_not_found' });
    await blank.receipt(ann!.userId, 'read', 5);
    await blank.typing(ann!.userId, 'typing');
    expect(await blank.stats()).toMatchObject({ head: 0, members: 0, backlog: 0 });
    expect(await tables(blank)).toEqual([]);

    const id = madeUp();
    const refused = groupOf(env, id);
    const tooMany = Array.from({ length: 1_024 }, () => madeUp());
    const result = await refused.create({ groupId: id, actor: ann!.userId, title: 'x', description: '', onlyAdminsSend: false, targets: { direct: tooMany, invite: [], quiet: [] } });
    expect(result).toMatchObject({ ok: false, code: 'group_full' });
    expect(await tables(refused)).toEqual([]);
  });
});
