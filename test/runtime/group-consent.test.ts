/**
 * Consent to group membership through the real Worker, group objects and mailboxes: who may add
 * whom directly (privacy.groups, contacts, blocks), invites that deliver nothing until accepted,
 * invites from blocked users that their target never sees (also retroactively), invite links
 * with and without approval, and the paged list of groups.
 */
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import {
  PATHS,
  type Group,
  type GroupInvite,
  type GroupLink,
  type GroupList,
  type InviteList,
  type JoinRequestList,
  type LinkPreview,
  type MessageInfo,
  type ServerFrame,
  type SessionResponse,
} from '../../protocol/index.ts';
import { linkCode } from '../../durable-objects/group/parts.ts';
import { groupOf, mailboxOf } from '../../durable-objects/stubs.ts';
import {
  addContact,
  allowGroupAdds,
  becameActive,
  block,
  call,
  createGroup,
  eventuallyCopy,
  gseqOf,
  openToGroups,
  settled,
  textsOf,
  users,
} from './group-support.ts';
import { ackAll, connect, isType, text, type TestSocket } from './support.ts';

/** Create a group through the API naming `members` (each added or invited as their privacy says). */
async function create(owner: SessionResponse, members: SessionResponse[], title = 'Consent'): Promise<Group> {
  const res = await call('POST', PATHS.groups, owner, { title, members: members.map((m) => m.userId) });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as unknown as Group;
}

async function invitesOf(session: SessionResponse, query = ''): Promise<InviteList> {
  const res = await call('GET', `${PATHS.invites}${query}`, session);
  expect(res.status).toBe(200);
  return res.body as unknown as InviteList;
}

const ids = (list: ReadonlyArray<{ userId: string }>) => list.map((m) => m.userId).sort();

/** Frames of `socket` that come from group `groupId` (entries, typing). */
function fromGroup(socket: TestSocket, groupId: string): ServerFrame[] {
  return socket.frames.filter(
    (f) =>
      (f.type === 'group_message' && f.message.group === groupId) ||
      (f.type === 'group_event' && f.event.group === groupId) ||
      (f.type === 'typing_notice' && f.group === groupId),
  );
}

/**
 * A direct message `from` -> `to`, waited for on `to`'s socket: everything their mailbox stored
 * before it has arrived by then (one mailbox, one order).
 */
async function marker(from: TestSocket, to: SessionResponse, toSocket: TestSocket, id: string): Promise<void> {
  from.send({ type: 'send', id, to: to.userId, body: text(id) });
  await toSocket.waitFor((f): f is Extract<ServerFrame, { type: 'message' }> => f.type === 'message' && f.message.body.kind === 'text' && f.message.body.text === id);
}

describe('group adds need consent', () => {
  it('a stranger’s add becomes an invite: the invitee receives nothing from the group until accepting, then what follows', async () => {
    const [ann, bob, cat] = await users(3);
    await openToGroups(cat!);
    const b = await connect(bob!);
    const c = await connect(cat!);
    const group = await create(ann!, [bob!, cat!], 'Picnic');
    // Cat (open to adds) is a member; bob (default: contacts only) is invited, which only admins see.
    expect(ids(group.members)).toEqual([ann!.userId, cat!.userId].sort());
    expect(group.invites).toEqual([{ userId: bob!.userId, invitedBy: ann!.userId, at: expect.any(Number) }]);
    expect(((await call('GET', PATHS.group(group.groupId), cat!)).body as unknown as Group).invites).toEqual([]);

    // Bob's devices are told of the invite, and it is in his list.
    const [invite] = await b.waitFor(isType('group_invite'));
    expect(invite).toMatchObject({ group: group.groupId, title: 'Picnic', invitedBy: ann!.userId });
    const list = await invitesOf(bob!);
    expect(list).toEqual({
      invites: [{ groupId: group.groupId, title: 'Picnic', memberCount: 2, invitedBy: ann!.userId, at: group.invites[0]!.at }] satisfies GroupInvite[],
      nextBefore: null,
    });
    // ... but he is no member: nothing to see, nothing listed.
    expect((await call('GET', PATHS.group(group.groupId), bob!)).body.error?.code).toBe('not_group_member');
    expect((await call('GET', PATHS.groupHistory(group.groupId), bob!)).body.error?.code).toBe('not_group_member');
    expect((await call('GET', PATHS.groups, bob!)).body).toEqual({ groups: [], nextBefore: null });

    // A message and typing in the group reach cat (active) and not bob.
    await c.waitFor(isType('group_event'));
    ackAll(c);
    await becameActive(group.groupId, cat!.userId);
    const a = await connect(ann!);
    a.send({ type: 'group_typing', group: group.groupId, state: 'typing' });
    a.send({ type: 'group_send', id: 'before', group: group.groupId, body: text('before bob') });
    await c.waitFor(isType('typing_notice'));
    await c.waitFor(isType('group_message'));
    await settled(group.groupId);
    await marker(a, bob!, b, 'marker-1');
    expect(fromGroup(b, group.groupId)).toEqual([]);
    expect(b.of('typing_notice')).toEqual([]);

    // Bob accepts: he joins from a member_joined event on, and receives what follows.
    const accepted = await call('POST', PATHS.inviteAccept(group.groupId), bob!);
    expect(accepted.status).toBe(200);
    const joined = accepted.body as unknown as Group;
    expect(ids(joined.members)).toEqual([ann!.userId, bob!.userId, cat!.userId].sort());
    expect(joined.invites).toEqual([]);
    const [event] = await b.waitFor(isType('group_event'));
    expect(event!.event).toMatchObject({ by: bob!.userId, gseq: joined.head, change: { kind: 'member_joined', member: bob!.userId, via: 'invite' } });
    a.send({ type: 'group_send', id: 'after', group: group.groupId, body: text('welcome bob') });
    const [message] = await b.waitFor(isType('group_message'));
    expect(message!.message.body).toEqual(text('welcome bob'));
    const copy = await eventuallyCopy(bob!, group.groupId, (e) => textsOf(e).includes('welcome bob'));
    expect(copy.map(gseqOf)).toEqual([joined.head, joined.head + 1]);
    expect(textsOf(copy)).toEqual(['welcome bob']);
    expect((await invitesOf(bob!)).invites).toEqual([]);
    expect((await call('GET', PATHS.groups, bob!)).body).toMatchObject({ groups: [{ groupId: group.groupId, role: 'member', memberCount: 3 }] });

    // There is nothing left to accept.
    const again = await call('POST', PATHS.inviteAccept(group.groupId), bob!);
    expect([again.status, again.body.error?.code]).toEqual([404, 'invite_not_found']);
    for (const s of [a, b, c]) s.close();
  });

  it('an add by someone the target blocked is an invite the target never sees; the adder’s answer looks the same as for a stranger', async () => {
    const [ann, bob, stranger, dan] = await users(4);
    await block(bob!, ann!);
    const b = await connect(bob!);

    const blocked = await create(ann!, [bob!], 'Spam');
    const unblocked = await create(ann!, [stranger!], 'Spam');
    // Same shape, same fields: only the ids differ.
    const shape = (g: Group, target: string) =>
      JSON.parse(JSON.stringify(g).replaceAll(g.groupId, 'G').replaceAll(target, 'T').replace(/"(at|createdAt|joinedAt)":\d+/g, '"$1":0')) as unknown;
    expect(shape(blocked, bob!.userId)).toEqual(shape(unblocked, stranger!.userId));
    expect(blocked.invites).toEqual([{ userId: bob!.userId, invitedBy: ann!.userId, at: expect.any(Number) }]);
    // Adding later instead of at creation: the same.
    const later = await create(ann!, [], 'Later');
    const added = await call('POST', PATHS.groupMembers(later.groupId), ann!, { members: [bob!.userId] });
    expect(added.status).toBe(200);
    expect((added.body as unknown as Group).invites).toEqual([{ userId: bob!.userId, invitedBy: ann!.userId, at: expect.any(Number) }]);

    // Bob hears nothing of either; an invite from dan (not blocked), sent after, arrives.
    const fromDan = await create(dan!, [bob!], 'Dan’s');
    const [invite] = await b.waitFor(isType('group_invite'));
    expect(invite).toMatchObject({ group: fromDan.groupId, invitedBy: dan!.userId });
    const d = await connect(dan!);
    await marker(d, bob!, b, 'marker-2');
    expect(b.of('group_invite').map((f) => f.group)).toEqual([fromDan.groupId]);
    expect((await invitesOf(bob!)).invites.map((i) => i.groupId)).toEqual([fromDan.groupId]);
    for (const g of [blocked, later]) {
      expect(fromGroup(b, g.groupId)).toEqual([]);
      // Nor can he accept what he cannot see; the invite stays pending for the adder.
      const accept = await call('POST', PATHS.inviteAccept(g.groupId), bob!);
      expect([accept.status, accept.body.error?.code]).toEqual([404, 'invite_not_found']);
      const view = (await call('GET', PATHS.group(g.groupId), ann!)).body as unknown as Group;
      expect([ids(view.members), ids(view.invites)]).toEqual([[ann!.userId], [bob!.userId]]);
    }
    b.close();
    d.close();
  });

  it('blocking after an invite hides it retroactively; unblocking shows it again', async () => {
    const [ann, bob] = await users(2);
    const group = await create(ann!, [bob!]);
    expect((await invitesOf(bob!)).invites.map((i) => i.groupId)).toEqual([group.groupId]);

    await block(bob!, ann!);
    expect(await invitesOf(bob!)).toEqual({ invites: [], nextBefore: null });
    const refused = await call('POST', PATHS.inviteAccept(group.groupId), bob!);
    expect([refused.status, refused.body.error?.code]).toEqual([404, 'invite_not_found']);
    const view = (await call('GET', PATHS.group(group.groupId), ann!)).body as unknown as Group;
    expect([ids(view.members), ids(view.invites)]).toEqual([[ann!.userId], [bob!.userId]]);

    expect((await call('DELETE', PATHS.block(ann!.userId), bob!)).status).toBe(204);
    expect((await invitesOf(bob!)).invites.map((i) => i.groupId)).toEqual([group.groupId]);
    expect((await call('POST', PATHS.inviteAccept(group.groupId), bob!)).status).toBe(200);
  });

  it('privacy.groups decides: everyone, and contacts who have the adder, are added; nobody means an invite even from a contact', async () => {
    const [ann, open, friend, closed, other] = await users(5);
    await allowGroupAdds(open!, 'everyone');
    await addContact(friend!, ann!); // 'contacts' (the default), and ann is in friend's contacts
    await allowGroupAdds(closed!, 'nobody');
    await addContact(closed!, ann!);
    await addContact(ann!, other!); // ann has other in her contacts: that is not other's consent
    const group = await create(ann!, [open!, friend!, closed!, other!]);
    expect(ids(group.members)).toEqual([ann!.userId, open!.userId, friend!.userId].sort());
    expect(ids(group.invites)).toEqual([closed!.userId, other!.userId].sort());
    expect((await invitesOf(closed!)).invites.map((i) => i.groupId)).toEqual([group.groupId]);
    expect((await invitesOf(open!)).invites).toEqual([]);

    // A direct add of someone already invited (their setting changed meanwhile) uses the invite up.
    await allowGroupAdds(other!, 'everyone');
    const added = (await call('POST', PATHS.groupMembers(group.groupId), ann!, { members: [other!.userId] })).body as unknown as Group;
    expect(ids(added.members)).toContain(other!.userId);
    expect(ids(added.invites)).toEqual([closed!.userId]);
    expect((await invitesOf(other!)).invites).toEqual([]);
  });

  it('declining removes an invite; accepting nothing is invite_not_found; admins re-invite idempotently and withdraw', async () => {
    const [ann, bob, cat, dan] = await users(4);
    await openToGroups(dan!);
    const group = await create(ann!, [bob!, cat!, dan!]);
    expect(ids(group.invites)).toEqual([bob!.userId, cat!.userId].sort());

    expect((await call('POST', PATHS.inviteDecline(group.groupId), cat!)).status).toBe(204);
    expect((await invitesOf(cat!)).invites).toEqual([]);
    // Idempotent, and nothing is left to accept.
    expect((await call('POST', PATHS.inviteDecline(group.groupId), cat!)).status).toBe(204);
    const nothing = await call('POST', PATHS.inviteAccept(group.groupId), cat!);
    expect([nothing.status, nothing.body.error?.code]).toEqual([404, 'invite_not_found']);
    const unknown = await call('POST', PATHS.inviteAccept('01ARZ3NDEKTSV4RRFFQ69G5FAV'), cat!);
    expect([unknown.status, unknown.body.error?.code]).toEqual([404, 'group_not_found']);
    expect((await call('POST', PATHS.inviteAccept('not-a-group'), cat!)).status).toBe(400);

    // Adding bob again keeps his one invite as it was.
    const again = (await call('POST', PATHS.groupMembers(group.groupId), ann!, { members: [bob!.userId] })).body as unknown as Group;
    expect(again.invites).toEqual(group.invites.filter((i) => i.userId === bob!.userId));
    expect(again.head).toBe(group.head);

    // Withdrawing: admins only.
    const byMember = await call('DELETE', PATHS.groupInvite(group.groupId, bob!.userId), dan!);
    expect([byMember.status, byMember.body.error?.code]).toEqual([403, 'not_group_admin']);
    const withdrawn = await call('DELETE', PATHS.groupInvite(group.groupId, bob!.userId), ann!);
    expect(withdrawn.status).toBe(200);
    expect((withdrawn.body as unknown as Group).invites).toEqual([]);
    expect((await invitesOf(bob!)).invites).toEqual([]);
    const twice = await call('DELETE', PATHS.groupInvite(group.groupId, bob!.userId), ann!);
    expect([twice.status, twice.body.error?.code]).toEqual([404, 'invite_not_found']);
    const after = (await call('GET', PATHS.group(group.groupId), ann!)).body as unknown as Group;
    expect([ids(after.members), after.invites, after.head]).toEqual([[ann!.userId, dan!.userId].sort(), [], group.head]);
  });

  it('an invite whose notification did not go out is told later by the alarm; the list has it meanwhile', async () => {
    const [ann, bob] = await users(2);
    const b = await connect(bob!);
    const group = await create(ann!, [bob!]);
    await b.waitFor(isType('group_invite'));
    // As if the mailbox call had failed: the invite is recorded as untold.
    const stub = groupOf(env, group.groupId);
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec('UPDATE invites SET notified = 0');
    });
    expect((await invitesOf(bob!)).invites.map((i) => i.groupId)).toEqual([group.groupId]);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const frames = await b.waitFor(isType('group_invite'), 2);
    expect(frames.map((f) => [f.group, f.invitedBy, f.at])).toEqual([
      [group.groupId, ann!.userId, group.invites[0]!.at],
      [group.groupId, ann!.userId, group.invites[0]!.at],
    ]);
    // Told now: a later alarm tells nobody again.
    await runInDurableObject(stub, (_instance, state) => {
      expect(state.storage.sql.exec<{ n: number }>('SELECT count(*) AS n FROM invites WHERE notified = 0').one().n).toBe(0);
    });
    b.close();
  });

  it('lists invites newest group first, in pages', async () => {
    const [bob, ...admins] = await users(4);
    const groups: Group[] = [];
    for (const admin of admins) groups.push(await create(admin, [bob!]));
    const newest = groups.map((g) => g.groupId).reverse();
    const first = await invitesOf(bob!, '?limit=2');
    expect(first.invites.map((i) => i.groupId)).toEqual(newest.slice(0, 2));
    expect(first.nextBefore).toBe(newest[1]);
    const second = await invitesOf(bob!, `?limit=2&before=${first.nextBefore}`);
    expect(second).toEqual({ invites: [expect.objectContaining({ groupId: newest[2] })], nextBefore: null });
    expect((await call('GET', `${PATHS.invites}?limit=0`, bob!)).status).toBe(400);
  });
});

describe('invite links', () => {
  it('admins create, show, replace and revoke the link; anyone with it previews and joins; old codes are link_not_found', async () => {
    const [ann, bob, cat, dan] = await users(4);
    const group = await createGroup(ann!, [bob!], { description: 'all welcome' });

    // Only admins manage the link.
    for (const [method, body] of [['POST', {}], ['GET', undefined], ['DELETE', undefined]] as const) {
      const res = await call(method, PATHS.groupLink(group.groupId), bob!, body);
      expect([method, res.status, res.body.error?.code]).toEqual([method, 403, 'not_group_admin']);
    }
    const none = await call('GET', PATHS.groupLink(group.groupId), ann!);
    expect([none.status, none.body.error?.code]).toEqual([404, 'link_not_found']);

    const created = await call('POST', PATHS.groupLink(group.groupId), ann!, {});
    expect(created.status).toBe(201);
    const link = created.body as unknown as GroupLink;
    expect(link).toEqual({ groupId: group.groupId, code: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/), approval: false, createdBy: ann!.userId, createdAt: expect.any(Number) });
    expect((await call('GET', PATHS.groupLink(group.groupId), ann!)).body).toEqual(link);

    // Anyone logged in who has the code sees a preview and can join.
    const preview = await call('GET', PATHS.link(link.code), cat!);
    expect(preview.body).toEqual({ groupId: group.groupId, title: 'Test group', description: 'all welcome', memberCount: 2, approval: false } satisfies LinkPreview);
    const joined = await call('POST', PATHS.linkJoin(link.code), cat!);
    expect(joined.status).toBe(200);
    expect(joined.body).toMatchObject({ status: 'joined', group: { groupId: group.groupId } });
    expect(ids((joined.body as unknown as { group: Group }).group.members)).toEqual([ann!.userId, bob!.userId, cat!.userId].sort());
    const copy = await eventuallyCopy(cat!, group.groupId, (e) => e.length === 1);
    expect(copy[0]).toMatchObject({ type: 'event', event: { by: cat!.userId, change: { kind: 'member_joined', member: cat!.userId, via: 'link' } } });
    const twice = await call('POST', PATHS.linkJoin(link.code), cat!);
    expect([twice.status, twice.body.error?.code]).toEqual([409, 'already_member']);

    // Replacing gives a new code; the old one stops working.
    const replaced = (await call('POST', PATHS.groupLink(group.groupId), ann!, { approval: false })).body as unknown as GroupLink;
    expect(replaced.code).not.toBe(link.code);
    for (const res of [await call('GET', PATHS.link(link.code), dan!), await call('POST', PATHS.linkJoin(link.code), dan!)]) {
      expect([res.status, res.body.error?.code]).toEqual([404, 'link_not_found']);
    }
    // Revoking: the new code stops working too.
    expect((await call('DELETE', PATHS.groupLink(group.groupId), ann!)).status).toBe(204);
    expect((await call('DELETE', PATHS.groupLink(group.groupId), ann!)).status).toBe(204);
    expect((await call('GET', PATHS.link(replaced.code), dan!)).body.error?.code).toBe('link_not_found');
    expect((await call('GET', PATHS.groupLink(group.groupId), ann!)).body.error?.code).toBe('link_not_found');
    // Unknown and malformed codes are the same answer.
    for (const code of ['AAAAAAAAAAAAAAAAAAAAAA', 'short', 'has spaces and is wrong!']) {
      const res = await call('GET', PATHS.link(code), dan!);
      expect([code, res.status, res.body.error?.code]).toEqual([code, 404, 'link_not_found']);
    }
    const view = (await call('GET', PATHS.group(group.groupId), ann!)).body as unknown as Group;
    expect(ids(view.members)).not.toContain(dan!.userId);
  });

  it('with approval, joining records a request that admins approve or decline; requests outlive the link', async () => {
    const [ann, bob, cat, dan, eve] = await users(5);
    await openToGroups(eve!);
    const group = await create(ann!, [eve!]);
    const link = (await call('POST', PATHS.groupLink(group.groupId), ann!, { approval: true })).body as unknown as GroupLink;
    expect(link.approval).toBe(true);
    expect((await call('GET', PATHS.link(link.code), bob!)).body).toMatchObject({ approval: true, memberCount: 2 });

    for (const who of [bob!, cat!, bob!]) {
      const res = await call('POST', PATHS.linkJoin(link.code), who);
      expect(res.body).toEqual({ status: 'requested', groupId: group.groupId });
    }
    expect((await call('GET', PATHS.group(group.groupId), bob!)).body.error?.code).toBe('not_group_member');
    const requests = (await call('GET', PATHS.groupRequests(group.groupId), ann!)).body as unknown as JoinRequestList;
    expect(ids(requests.requests)).toEqual([bob!.userId, cat!.userId].sort());
    // Members who are not admins do not decide.
    for (const res of [
      await call('GET', PATHS.groupRequests(group.groupId), eve!),
      await call('POST', PATHS.groupRequestApprove(group.groupId, bob!.userId), eve!),
      await call('DELETE', PATHS.groupRequest(group.groupId, bob!.userId), eve!),
    ]) {
      expect([res.status, res.body.error?.code]).toEqual([403, 'not_group_admin']);
    }

    const approved = await call('POST', PATHS.groupRequestApprove(group.groupId, bob!.userId), ann!);
    expect(approved.status).toBe(200);
    expect(ids((approved.body as unknown as Group).members)).toContain(bob!.userId);
    const copy = await eventuallyCopy(bob!, group.groupId, (e) => e.length === 1);
    expect(copy[0]).toMatchObject({ type: 'event', event: { by: ann!.userId, change: { kind: 'member_joined', member: bob!.userId, via: 'request' } } });

    expect((await call('DELETE', PATHS.groupRequest(group.groupId, cat!.userId), ann!)).status).toBe(204);
    for (const res of [
      await call('POST', PATHS.groupRequestApprove(group.groupId, cat!.userId), ann!),
      await call('DELETE', PATHS.groupRequest(group.groupId, cat!.userId), ann!),
    ]) {
      expect([res.status, res.body.error?.code]).toEqual([404, 'request_not_found']);
    }
    expect((await call('GET', PATHS.group(group.groupId), cat!)).body.error?.code).toBe('not_group_member');

    // A request made before the link was revoked can still be approved.
    await call('POST', PATHS.linkJoin(link.code), dan!);
    expect((await call('DELETE', PATHS.groupLink(group.groupId), ann!)).status).toBe(204);
    expect(((await call('GET', PATHS.groupRequests(group.groupId), ann!)).body as unknown as JoinRequestList).requests.map((r) => r.userId)).toEqual([dan!.userId]);
    expect((await call('POST', PATHS.groupRequestApprove(group.groupId, dan!.userId), ann!)).status).toBe(200);
  });

  it('link codes never start with - or _ (a bare code must not look like a command-line option)', () => {
    const draws = ['-O3kqYhV2d9s8b7n6m5l4k', '_aBcDeFgHiJkLmNoPqRsTu', 'Q9w8e7r6t5y4u3i2o1p0aZ'];
    expect(linkCode(() => draws.shift()!)).toBe('Q9w8e7r6t5y4u3i2o1p0aZ');
    expect(draws).toEqual([]);
    for (let i = 0; i < 200; i++) expect(linkCode()).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{21}$/);
  });

  it('the request of someone who deleted their account is dropped when an admin looks', async () => {
    const [ann, bob, cat] = await users(3);
    const group = await create(ann!, []);
    const link = (await call('POST', PATHS.groupLink(group.groupId), ann!, { approval: true })).body as unknown as GroupLink;
    for (const who of [bob!, cat!]) expect((await call('POST', PATHS.linkJoin(link.code), who)).body).toMatchObject({ status: 'requested' });
    const phone = ((await call('GET', PATHS.me, bob!)).body as unknown as { phone: string }).phone;
    expect((await call('DELETE', PATHS.me, bob!, { phone })).status).toBe(204);
    const list = (await call('GET', PATHS.groupRequests(group.groupId), ann!)).body as unknown as JoinRequestList;
    expect(list.requests.map((r) => r.userId)).toEqual([cat!.userId]);
    // Gone from the group object too, not only from the answer.
    expect(await groupOf(env, group.groupId).joinRequests(ann!.userId)).toMatchObject({ ok: true, value: { requests: [{ userId: cat!.userId }] } });
  });

  it('joining through a link costs a group_join_user token; with none left it is refused and changes nothing', async () => {
    const [ann, bob] = await users(2);
    const group = await create(ann!, []);
    const link = (await call('POST', PATHS.groupLink(group.groupId), ann!, {})).body as unknown as GroupLink;
    expect(await mailboxOf(env, bob!.userId).spend('group_join_user', 30)).toEqual({ ok: true });
    const refused = await call('POST', PATHS.linkJoin(link.code), bob!);
    expect([refused.status, refused.body.error?.code]).toEqual([429, 'rate_limited']);
    const view = (await call('GET', PATHS.group(group.groupId), ann!)).body as unknown as Group;
    expect([ids(view.members), view.head]).toEqual([[ann!.userId], group.head]);
  });
});

describe('my groups', () => {
  it('GET /v1/groups pages newest group first', async () => {
    const [ann] = await users(1);
    const created: string[] = [];
    for (let i = 0; i < 5; i++) created.push((await create(ann!, [], `g${i}`)).groupId);
    const newest = [...created].reverse();
    const pages: string[][] = [];
    let before: string | null = null;
    do {
      const res = await call('GET', `${PATHS.groups}?limit=2${before ? `&before=${before}` : ''}`, ann!);
      expect(res.status).toBe(200);
      const page = res.body as unknown as GroupList;
      pages.push(page.groups.map((g) => g.groupId));
      before = page.nextBefore;
    } while (before !== null);
    expect(pages).toEqual([newest.slice(0, 2), newest.slice(2, 4), newest.slice(4)]);
    expect((await call('GET', `${PATHS.groups}?before=nope`, ann!)).status).toBe(400);
  });
});

describe('message info and read receipts', () => {
  it('a sender with read receipts off sees no reads, only deliveries', async () => {
    const [ann, bob] = await users(2);
    const group = await createGroup(ann!, [bob!]);
    const a = await connect(ann!);
    const b = await connect(bob!);
    a.send({ type: 'group_send', id: 'q', group: group.groupId, body: text('read me') });
    const [sent] = await a.waitFor(isType('group_sent'));
    const [got] = await b.waitFor(isType('group_message'));
    ackAll(b);
    b.send({ type: 'group_read', group: group.groupId, upTo: got!.seq });
    await a.waitFor((f): f is Extract<ServerFrame, { type: 'group_receipt' }> => f.type === 'group_receipt' && f.tallies.some((t) => t.read === 1));
    const path = PATHS.groupMessageInfo(group.groupId, sent!.messageId);
    const on = await call('GET', path, ann!);
    expect(on.body).toMatchObject({ tally: { delivered: 1, read: 1 }, read: [{ userId: bob!.userId }] });

    const off = await call('PATCH', PATHS.settings, ann!, { privacy: { readReceipts: false } });
    expect(off.status).toBe(200);
    const info = await call('GET', path, ann!);
    expect(info.body).toMatchObject({ tally: { of: 1, delivered: 1, read: 0 }, delivered: [{ userId: bob!.userId }], read: [] });
    a.close();
    b.close();
  });

  it('a member who blocked the sender is not listed with their receipt times (the counts stay sums)', async () => {
    const [ann, bob, cat] = await users(3);
    const group = await createGroup(ann!, [bob!, cat!]);
    const a = await connect(ann!);
    const b = await connect(bob!);
    const c = await connect(cat!);
    a.send({ type: 'group_send', id: 'seen', group: group.groupId, body: text('who read this?') });
    const [sent] = await a.waitFor(isType('group_sent'));
    for (const member of [b, c]) {
      const [got] = await member.waitFor(isType('group_message'));
      ackAll(member);
      member.send({ type: 'group_read', group: group.groupId, upTo: got!.seq });
    }
    await a.waitFor((f): f is Extract<ServerFrame, { type: 'group_receipt' }> => f.type === 'group_receipt' && f.tallies.some((t) => t.read === 2));
    const path = PATHS.groupMessageInfo(group.groupId, sent!.messageId);
    const before = await call('GET', path, ann!);
    expect(before.body).toMatchObject({ tally: { delivered: 2, read: 2 } });
    expect((before.body as unknown as MessageInfo).read.map((r) => r.userId).sort()).toEqual([bob!.userId, cat!.userId].sort());

    expect((await call('PUT', PATHS.block(ann!.userId), bob!)).status).toBe(204);
    const after = (await call('GET', path, ann!)).body as unknown as MessageInfo;
    expect(after.tally).toMatchObject({ delivered: 2, read: 2 });
    expect(after.delivered.map((r) => r.userId)).toEqual([cat!.userId]);
    expect(after.read.map((r) => r.userId)).toEqual([cat!.userId]);
    a.close();
    b.close();
    c.close();
  });
});
