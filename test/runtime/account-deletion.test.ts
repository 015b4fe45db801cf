// Deleting an account (DELETE /v1/me): the confirmation, the device-too-new rule, what is left
// afterwards (nothing readable: D1 rows, devices, push tokens, contacts, blocks, PIN, groups,
// mailbox), what others see (user_not_found, recipient_not_found, member_left), that the number
// signs up as a new account, and that a deletion that stopped halfway completes when retried.
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { CLOSE_CODES, PATHS, SessionResponseSchema, type Group, type SessionResponse } from '../../protocol/index.ts';
import type { GaugeHub } from '../../durable-objects/gauge-hub.ts';
import { gaugeHubOf, groupOf, mailboxOf } from '../../durable-objects/stubs.ts';
import { findUserById, findUserByPhone, userExists } from '../../db/accounts.ts';
import { call, createGroup, users } from './group-support.ts';
import { api, connect, isType, login, nextClientIp, nextPhone, refreshRaw, text, verifyLogin } from './support.ts';

function deleteMe(session: SessionResponse, phone: string): Promise<Response> {
  return api(PATHS.me, { method: 'DELETE', token: session.token, body: JSON.stringify({ phone }) });
}

async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

async function addContact(owner: SessionResponse, phone: string): Promise<void> {
  const res = await call('POST', PATHS.contacts, owner, { phone });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}

/** Everything D1 holds that names the user (or their number), to compare before and after. */
async function footprint(userId: string, phone: string): Promise<Record<string, unknown>> {
  const all = async (sql: string, ...binds: unknown[]) => (await env.DB.prepare(sql).bind(...binds).all()).results;
  return {
    user: await env.DB.prepare('select * from users where id = ?').bind(userId).first(),
    devices: await all('select * from devices where user_id = ? order by id', userId),
    pushTokens: await all('select * from push_tokens where user_id = ?', userId),
    contacts: await all('select * from contacts where owner_id = ? or contact_id = ? order by owner_id, contact_id', userId, userId),
    blocks: await all('select * from blocks where owner_id = ? or blocked_id = ? order by owner_id, blocked_id', userId, userId),
    pin: await all('select * from account_pins where user_id = ?', userId),
    pinChallenges: await all('select * from pin_challenges where user_id = ?', userId),
    otp: await all('select * from otp_challenges where phone = ?', phone),
    otpResends: await all('select * from otp_resends where phone = ?', phone),
    groupMembers: await all('select * from group_members where user_id = ? order by group_id', userId),
    groupInvites: await all('select * from group_invites where user_id = ? order by group_id', userId),
  };
}

describe('DELETE /v1/me', () => {
  it('refuses a confirmation that is not the account’s number, and changes nothing', async () => {
    const phone = nextPhone();
    const alice = await login(phone);
    // The first authenticated request records the device as seen; do it before the snapshot.
    await api(PATHS.me, { token: alice.token });
    const before = await footprint(alice.userId, phone);
    for (const wrong of [nextPhone(), 'not a number', phone.slice(0, -1)]) {
      const res = await deleteMe(alice, wrong);
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe('confirmation_mismatch');
    }
    const bad = await api(PATHS.me, { method: 'DELETE', token: alice.token, body: JSON.stringify({}) });
    expect(bad.status).toBe(400);
    expect(await footprint(alice.userId, phone)).toEqual(before);
    expect((await api(PATHS.me, { token: alice.token })).status).toBe(200);
  });

  it('refuses a device logged in with the SMS code alone less than a day ago, and changes nothing', async () => {
    const phone = nextPhone();
    const owner = await login(phone, 'owner');
    const intruder = await login(phone, 'intruder');
    await Promise.all([api(PATHS.me, { token: owner.token }), api(PATHS.me, { token: intruder.token })]);
    const before = await footprint(owner.userId, phone);
    const res = await deleteMe(intruder, phone);
    expect(res.status).toBe(403);
    expect(await errorCode(res)).toBe('device_too_new');
    expect(await footprint(owner.userId, phone)).toEqual(before);
    expect((await api(PATHS.me, { token: owner.token })).status).toBe(200);
  });

  it('leaves nothing readable, others see the account gone, and the number signs up afresh', async () => {
    const phone = nextPhone();
    const alice = await login(phone, 'alice phone');
    const [bob, carol, dave] = await users(3);
    const bobPhone = ((await call('GET', PATHS.me, bob!)).body as { phone: string }).phone;

    // Contacts both ways, blocks both ways, a push token, a PIN with a pending login, a group
    // (Alice is its admin), a pending invite to another group, a login code in flight.
    await addContact(bob!, phone);
    await addContact(carol!, phone);
    await addContact(alice, bobPhone);
    expect((await call('PUT', PATHS.block(dave!.userId), alice)).status).toBe(204);
    expect((await call('PUT', PATHS.block(alice.userId), dave!)).status).toBe(204);
    expect((await call('PUT', PATHS.pushToken, alice, { platform: 'fcm', token: `alice-${alice.userId}` })).status).toBe(200);
    const group = await createGroup(alice, [bob!, carol!]);
    const invitedTo = await createGroup(dave!, [alice]);
    expect((await call('PUT', PATHS.pin, alice, { pin: '112233' })).status).toBe(200);
    expect('pinRequired' in (await verifyLogin(phone))).toBe(true);
    expect((await api(PATHS.requestOtp, { method: 'POST', body: JSON.stringify({ phone }), headers: { 'CF-Connecting-IP': nextClientIp() } })).status).toBe(200);

    const before = await footprint(alice.userId, phone);
    expect(before.contacts).toHaveLength(3);
    expect(before.blocks).toHaveLength(2);
    expect(before.pushTokens).toHaveLength(1);
    expect(before.pin).toHaveLength(1);
    expect(before.pinChallenges).toHaveLength(1);
    expect(before.otp).toHaveLength(1);
    expect(before.groupMembers).toEqual([expect.objectContaining({ group_id: group.groupId, role: 'admin' })]);
    expect(before.groupInvites).toEqual([expect.objectContaining({ group_id: invitedTo.groupId })]);

    // Bob has written to Alice before (his mailbox knows she exists).
    const bobSocket = await connect(bob!);
    bobSocket.send({ type: 'send', id: 'before', to: alice.userId, body: text('hello') });
    await bobSocket.waitFor(isType('sent'));
    const aliceSocket = await connect(alice);

    // Confirmed in another notation of the same number.
    const res = await deleteMe(alice, `00${phone.slice(1)}`);
    expect(res.status, await res.clone().text()).toBe(204);

    // Her socket is closed for good, every token of hers is refused.
    expect((await aliceSocket.waitClosed()).code).toBe(CLOSE_CODES.account_deleted);
    expect((await api(PATHS.me, { token: alice.token })).status).toBe(401);
    // Told why: the account is gone (not merely this device logged out).
    expect(await errorCode(await api(PATHS.me, { token: alice.token }))).toBe('account_deleted');
    expect(await errorCode(await refreshRaw(alice.refreshToken))).toBe('account_deleted');

    // D1: only the tombstone and the logged-out devices are left.
    const after = await footprint(alice.userId, phone);
    expect(after).toMatchObject({
      pushTokens: [],
      contacts: [],
      blocks: [],
      pin: [],
      pinChallenges: [],
      otp: [],
      otpResends: [],
      groupMembers: [],
      groupInvites: [],
    });
    expect(after.user).toMatchObject({ phone: `deleted:${alice.userId}`, display_name: '', about: '', deleted_at: expect.any(Number) });
    expect((after.devices as Array<{ revoked_at: number | null; refresh_hash: string | null }>).every((d) => d.revoked_at !== null && d.refresh_hash === null)).toBe(true);
    expect(await findUserById(env.DB, alice.userId)).toBeNull();
    expect(await findUserByPhone(env.DB, `deleted:${alice.userId}`)).toBeNull();
    expect(await userExists(env.DB, alice.userId)).toBe(false);
    // Her gauges are gone from their hub, and the closing socket did not bring them back.
    const hub = gaugeHubOf(env, alice.userId) as DurableObjectStub<GaugeHub>;
    expect(await runInDurableObject(hub, (_i, state) => state.storage.sql.exec('SELECT 1 FROM gauges WHERE user_id = ?', alice.userId).toArray())).toEqual([]);

    // Others: no profile, no look-up, no contact, no messages.
    expect((await call('GET', PATHS.user(alice.userId), bob!)).body.error?.code).toBe('user_not_found');
    expect((await call('GET', PATHS.userByPhone(phone), carol!)).body.error?.code).toBe('user_not_found');
    expect(((await call('GET', PATHS.contacts, bob!)).body as { contacts: unknown[] }).contacts).toEqual([]);
    bobSocket.send({ type: 'send', id: 'after', to: alice.userId, body: text('are you there?') });
    const [refused] = await bobSocket.waitFor((f): f is Extract<typeof f, { type: 'error' }> => f.type === 'error' && f.id === 'after');
    expect(refused!.code).toBe('recipient_not_found');
    bobSocket.close();

    // The group: she left, and one of the two who joined with the group took over as admin.
    const view = (await call('GET', PATHS.group(group.groupId), bob!)).body as unknown as Group;
    expect(view.members.map((m) => m.userId).sort()).toEqual([bob!.userId, carol!.userId].sort());
    expect(view.members.filter((m) => m.role === 'admin')).toHaveLength(1);
    const carolSocket = await connect(carol!);
    const events = await carolSocket.waitFor(
      (f): f is Extract<typeof f, { type: 'group_event' }> => f.type === 'group_event' && f.event.change.kind === 'member_left',
    );
    expect(events[0]!.event.by).toBe(alice.userId);
    carolSocket.close();

    // The number is free: a new, empty account.
    const fresh = SessionResponseSchema.parse(await verifyLogin(phone, 'new owner'));
    expect(fresh.newUser).toBe(true);
    expect(fresh.userId).not.toBe(alice.userId);
    expect(fresh.history).toBe(true);
    expect((await call('GET', PATHS.me, fresh)).body).toMatchObject({ userId: fresh.userId, phone, displayName: '' });
    expect(((await call('GET', PATHS.contacts, fresh)).body as { contacts: unknown[] }).contacts).toEqual([]);
    expect(((await call('GET', PATHS.groups, fresh)).body as { groups: unknown[] }).groups).toEqual([]);
    expect(((await call('GET', PATHS.conversations, fresh)).body as { conversations: unknown[] }).conversations).toEqual([]);
    expect((await call('GET', PATHS.pin, fresh)).body).toEqual({ enabled: false, resetAt: null });
  });

  it('completes when retried after stopping halfway (groups left and mailbox wiped, D1 not yet)', async () => {
    const phone = nextPhone();
    const alice = await login(phone);
    const [bob] = await users(1);
    await addContact(bob!, phone);
    const group = await createGroup(alice, [bob!]);
    // The first attempt got this far, then failed.
    const left = await groupOf(env, group.groupId).leave(alice.userId);
    expect(left.ok).toBe(true);
    await mailboxOf(env, alice.userId).wipe();

    // The device is still logged in and the number still matches: the retry goes through.
    const res = await deleteMe(alice, phone);
    expect(res.status, await res.clone().text()).toBe(204);
    const after = await footprint(alice.userId, phone);
    expect(after.user).toMatchObject({ deleted_at: expect.any(Number), phone: `deleted:${alice.userId}` });
    expect(after.groupMembers).toEqual([]);
    expect(after.contacts).toEqual([]);
    const view = (await call('GET', PATHS.group(group.groupId), bob!)).body as unknown as Group;
    expect(view.members.map((m) => m.userId)).toEqual([bob!.userId]);
  });
});
