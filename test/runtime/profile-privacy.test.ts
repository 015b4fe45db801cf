/**
 * Profile privacy through the real Worker, mailbox objects and D1: who reads a user's about (by
 * id and by phone) for each `privacy.profile` value and relation, blocks hiding it now and later,
 * and the D1 mirrors of the privacy settings and blocks that the Worker decides with.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { ulid } from 'ulid';
import { describe, expect, it } from 'vitest';
import {
  BlockListSchema,
  ContactListSchema,
  PATHS,
  ProfileSchema,
  SettingsSchema,
  type Audience,
  type Profile,
  type SessionResponse,
} from '../../protocol/index.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';
import { call } from './group-support.ts';
import { connect, isType, login, nextPhone, text } from './support.ts';

type Person = SessionResponse & { phone: string };

async function person(name: string, about = ''): Promise<Person> {
  const phone = nextPhone();
  const session = await login(phone, name);
  const res = await call('PATCH', PATHS.me, session, { displayName: name, ...(about === '' ? {} : { about }) });
  expect(res.status).toBe(200);
  return { ...session, phone };
}

async function setPrivacy(who: SessionResponse, privacy: Record<string, unknown>): Promise<void> {
  const res = await call('PATCH', PATHS.settings, who, { privacy });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

async function addContact(owner: SessionResponse, contact: Person): Promise<void> {
  expect((await call('POST', PATHS.contacts, owner, { phone: contact.phone })).status).toBe(201);
}

async function block(owner: SessionResponse, target: SessionResponse): Promise<void> {
  expect((await call('PUT', PATHS.block(target.userId), owner)).status).toBe(204);
}

/** `owner`'s profile as `viewer` reads it by id; checked against the schema, and never with a phone number. */
async function profileById(viewer: SessionResponse, owner: SessionResponse): Promise<Profile> {
  const res = await call('GET', PATHS.user(owner.userId), viewer);
  expect(res.status).toBe(200);
  expect(res.body).not.toHaveProperty('phone');
  return ProfileSchema.parse(res.body);
}

async function profileByPhone(viewer: SessionResponse, owner: Person): Promise<Profile> {
  const res = await call('GET', PATHS.userByPhone(owner.phone), viewer);
  expect(res.status).toBe(200);
  expect(res.body).not.toHaveProperty('phone');
  return ProfileSchema.parse(res.body);
}

async function aboutSeen(viewer: SessionResponse, owner: Person): Promise<string> {
  const byId = await profileById(viewer, owner);
  const byPhone = await profileByPhone(viewer, owner);
  expect(byPhone).toEqual(byId);
  return byId.about;
}

type MirrorRow = { profile_visibility: string; group_add: string; read_receipts: number };

async function mirroredPrivacy(userId: string): Promise<MirrorRow | null> {
  return env.DB.prepare('SELECT profile_visibility, group_add, read_receipts FROM users WHERE id = ?').bind(userId).first<MirrorRow>();
}

async function mirroredBlocks(ownerId: string): Promise<Array<{ blocked_id: string; created_at: number }>> {
  const { results } = await env.DB.prepare('SELECT blocked_id, created_at FROM blocks WHERE owner_id = ? ORDER BY blocked_id').bind(ownerId).all<{
    blocked_id: string;
    created_at: number;
  }>();
  return results;
}

describe('about by relation', () => {
  // Stranger: not in the owner's contacts. Contact: in the owner's contacts. Blocked: in the
  // owner's contacts too, and blocked by the owner (the block wins over everything).
  const cases: Array<[Audience, { stranger: boolean; contact: boolean; blocked: boolean }]> = [
    ['everyone', { stranger: true, contact: true, blocked: false }],
    ['contacts', { stranger: false, contact: true, blocked: false }],
    ['nobody', { stranger: false, contact: false, blocked: false }],
  ];

  it.each(cases)('profile: %s', async (visibility, expected) => {
    const owner = await person('Olga', 'Diving in Dahab');
    const [stranger, contact, blocked] = await Promise.all([person('Sam'), person('Cleo'), person('Bea')]);
    await addContact(owner, contact);
    await addContact(owner, blocked);
    await block(owner, blocked);
    await setPrivacy(owner, { profile: visibility });

    const shown = (yes: boolean): string => (yes ? 'Diving in Dahab' : '');
    expect(await aboutSeen(stranger, owner)).toBe(shown(expected.stranger));
    expect(await aboutSeen(contact, owner)).toBe(shown(expected.contact));
    expect(await aboutSeen(blocked, owner)).toBe(shown(expected.blocked));
    // The display name is always there, and a hidden about looks exactly like an empty one.
    expect(await profileById(blocked, owner)).toEqual({ userId: owner.userId, displayName: 'Olga', about: shown(expected.blocked), photo: null });
    // The owner always reads their own, and only GET /v1/me carries the number.
    expect((await profileById(owner, owner)).about).toBe('Diving in Dahab');
    expect(ProfileSchema.parse((await call('GET', PATHS.me, owner)).body)).toEqual({
      userId: owner.userId,
      displayName: 'Olga',
      about: 'Diving in Dahab',
      photo: null,
      phone: owner.phone,
    });
  });

  it('is for contacts by default: settings, mirror and answers agree', async () => {
    const owner = await person('Olga', 'Hello');
    const [stranger, contact] = await Promise.all([person('Sam'), person('Cleo')]);
    await addContact(owner, contact);
    expect(SettingsSchema.parse((await call('GET', PATHS.settings, owner)).body).privacy.profile).toBe('contacts');
    expect(await mirroredPrivacy(owner.userId)).toEqual({ profile_visibility: 'contacts', group_add: 'contacts', read_receipts: 1 });
    expect(await aboutSeen(stranger, owner)).toBe('');
    expect(await aboutSeen(contact, owner)).toBe('Hello');
  });

  it('counts the owner’s contacts, not the viewer’s', async () => {
    const owner = await person('Olga', 'Hello');
    const fan = await person('Finn');
    // Finn saved Olga's number; Olga never saved Finn's.
    await addContact(fan, owner);
    expect(await aboutSeen(fan, owner)).toBe('');
  });

  it('answers a look-up by phone with id and name only, the about when allowed', async () => {
    const owner = await person('Olga', 'Hello');
    const [stranger, contact] = await Promise.all([person('Sam'), person('Cleo')]);
    await addContact(owner, contact);
    expect(await profileByPhone(stranger, owner)).toEqual({ userId: owner.userId, displayName: 'Olga', about: '', photo: null });
    expect(await profileByPhone(contact, owner)).toEqual({ userId: owner.userId, displayName: 'Olga', about: 'Hello', photo: null });
    // Looking oneself up by number does not echo the number either.
    expect(await profileByPhone(owner, owner)).toEqual({ userId: owner.userId, displayName: 'Olga', about: 'Hello', photo: null });
    expect((await call('GET', PATHS.userByPhone(nextPhone()), stranger)).body.error?.code).toBe('user_not_found');
  });

  it('shows a blocked user neither the current about nor later changes; unblocking shows the current one', async () => {
    const owner = await person('Olga', 'First');
    const [blocked, stranger] = await Promise.all([person('Bea'), person('Sam')]);
    await setPrivacy(owner, { profile: 'everyone' });
    expect(await aboutSeen(blocked, owner)).toBe('First');

    await block(owner, blocked);
    expect(await aboutSeen(blocked, owner)).toBe('');
    expect((await call('PATCH', PATHS.me, owner, { about: 'Second' })).status).toBe(200);
    expect(await aboutSeen(stranger, owner)).toBe('Second');
    expect(await aboutSeen(blocked, owner)).toBe('');
    // Blocking is one-way: the owner still reads the blocked user's profile as their privacy says.
    expect((await profileById(owner, blocked)).displayName).toBe('Bea');

    expect((await call('DELETE', PATHS.block(blocked.userId), owner)).status).toBe(204);
    expect(await aboutSeen(blocked, owner)).toBe('Second');
  });

  it('keeps contact lists free of about and of other users’ hidden fields', async () => {
    const owner = await person('Olga');
    const friend = await person('Cleo', 'Secret plans');
    await setPrivacy(friend, { profile: 'everyone' });
    await addContact(owner, friend);
    const [listed] = ContactListSchema.parse((await call('GET', PATHS.contacts, owner)).body).contacts;
    expect(listed).toMatchObject({ userId: friend.userId, displayName: 'Cleo', phone: friend.phone });
    expect(listed).not.toHaveProperty('about');
  });
});

describe('the privacy mirror in D1', () => {
  it('follows every settings update, from the mailbox’s answer', async () => {
    const owner = await person('Olga');
    await setPrivacy(owner, { groups: 'everyone' });
    expect(await mirroredPrivacy(owner.userId)).toEqual({ profile_visibility: 'contacts', group_add: 'everyone', read_receipts: 1 });
    await setPrivacy(owner, { profile: 'nobody', readReceipts: false });
    expect(await mirroredPrivacy(owner.userId)).toEqual({ profile_visibility: 'nobody', group_add: 'everyone', read_receipts: 0 });
    // A notifications-only update rewrites the same values (and so repairs a mirror that drifted).
    await env.DB.prepare("UPDATE users SET group_add = 'nobody' WHERE id = ?").bind(owner.userId).run();
    expect((await call('PATCH', PATHS.settings, owner, { notifications: { previews: true } })).status).toBe(200);
    expect(await mirroredPrivacy(owner.userId)).toEqual({ profile_visibility: 'nobody', group_add: 'everyone', read_receipts: 0 });
    const { privacy } = SettingsSchema.parse((await call('GET', PATHS.settings, owner)).body);
    expect(privacy).toMatchObject({ groups: 'everyone', profile: 'nobody', readReceipts: false });
  });

  it('refuses invalid values with validation_failed and changes nothing', async () => {
    const owner = await person('Olga', 'Hello');
    const stranger = await person('Sam');
    await setPrivacy(owner, { profile: 'everyone', groups: 'nobody' });
    const settingsBefore = (await call('GET', PATHS.settings, owner)).body;
    const mirrorBefore = await mirroredPrivacy(owner.userId);

    for (const privacy of [
      { groups: 'friends' },
      { profile: 'all' },
      { readReceipts: 'yes' },
      { profile: null },
      { profile: 'contacts', photo: 'everyone' },
      // One bad field refuses the whole update, including the good one.
      { groups: 'everyone', readReceipts: 0 },
    ]) {
      const res = await call('PATCH', PATHS.settings, owner, { privacy });
      expect(res.status, JSON.stringify(privacy)).toBe(400);
      expect(res.body.error?.code).toBe('validation_failed');
    }
    expect((await call('GET', PATHS.settings, owner)).body).toEqual(settingsBefore);
    expect(await mirroredPrivacy(owner.userId)).toEqual(mirrorBefore);
    expect(await aboutSeen(stranger, owner)).toBe('Hello');
  });
});

describe('the block mirror in D1', () => {
  it('adds and removes the row with the mailbox, idempotently', async () => {
    const [owner, target] = await Promise.all([person('Olga'), person('Bea')]);
    await block(owner, target);
    const [row] = await mirroredBlocks(owner.userId);
    expect(row?.blocked_id).toBe(target.userId);
    await block(owner, target);
    expect(await mirroredBlocks(owner.userId)).toEqual([row]);
    // Blocking is not mutual: the target's side has no row.
    expect(await mirroredBlocks(target.userId)).toEqual([]);

    expect((await call('DELETE', PATHS.block(target.userId), owner)).status).toBe(204);
    expect(await mirroredBlocks(owner.userId)).toEqual([]);
    expect((await call('DELETE', PATHS.block(target.userId), owner)).status).toBe(204);
    expect(await mirroredBlocks(owner.userId)).toEqual([]);
    expect(BlockListSchema.parse((await call('GET', PATHS.blocks, owner)).body).blocked).toEqual([]);
  });

  it('writes no row for a refused block', async () => {
    const owner = await person('Olga');
    expect((await call('PUT', PATHS.block(owner.userId), owner)).body.error?.code).toBe('self_reference');
    expect((await call('PUT', PATHS.block('01ARZ3NDEKTSV4RRFFQ69G5FAV'), owner)).body.error?.code).toBe('user_not_found');
    expect((await call('PUT', PATHS.block('not-an-id'), owner)).body.error?.code).toBe('validation_failed');
    expect(await mirroredBlocks(owner.userId)).toEqual([]);
  });

  it('is repaired from the mailbox’s list when the list is read (blocks from before the mirror)', async () => {
    const [owner, old, stale, current] = await Promise.all([person('Olga'), person('Otto'), person('Stan'), person('Cara')]);
    // A block the mailbox holds but D1 does not (made before the mirror existed) ...
    await mailboxOf(env, owner.userId).block(old.userId);
    const at = BlockListSchema.parse(await mailboxOf(env, owner.userId).blocked()).blocked[0]!.at;
    // ... a row D1 holds but the mailbox does not (an unblock whose mirror write failed) ...
    await env.DB.prepare('INSERT INTO blocks (owner_id, blocked_id, created_at) VALUES (?, ?, ?)').bind(owner.userId, stale.userId, 1).run();
    // ... and one both hold.
    await block(owner, current);
    const [currentRow] = await mirroredBlocks(owner.userId).then((rows) => rows.filter((r) => r.blocked_id === current.userId));
    // Before the repair the mirror is wrong, and the Worker's decisions with it.
    await setPrivacy(owner, { profile: 'everyone' });
    expect((await profileById(old, owner)).about).toBe('');
    expect((await call('PATCH', PATHS.me, owner, { about: 'Hi' })).status).toBe(200);
    expect((await profileById(old, owner)).about).toBe('Hi');
    expect((await profileById(stale, owner)).about).toBe('');

    const listed = BlockListSchema.parse((await call('GET', PATHS.blocks, owner)).body).blocked.map((b) => b.userId);
    expect(listed.sort()).toEqual([old.userId, current.userId].sort());
    const rows = await mirroredBlocks(owner.userId);
    expect(rows).toEqual(
      [{ blocked_id: old.userId, created_at: at }, currentRow!].sort((a, b) => a.blocked_id.localeCompare(b.blocked_id)),
    );
    expect((await profileById(old, owner)).about).toBe('');
    expect((await profileById(stale, owner)).about).toBe('Hi');
    // Reading again changes nothing.
    await call('GET', PATHS.blocks, owner);
    expect(await mirroredBlocks(owner.userId)).toEqual(rows);
  });

  it('repairs long lists too (more rows than one D1 statement binds)', async () => {
    const owner = await person('Olga');
    const now = Date.now();
    const ids = Array.from({ length: 75 }, () => ulid());
    await env.DB.batch(
      ids.map((id) => env.DB.prepare('INSERT INTO users (id, phone, created_at, updated_at) VALUES (?, ?, ?, ?)').bind(id, `test:${id}`, now, now)),
    );
    const mailbox = mailboxOf(env, owner.userId);
    for (const id of ids) await mailbox.block(id);
    expect(BlockListSchema.parse((await call('GET', PATHS.blocks, owner)).body).blocked).toHaveLength(75);
    expect((await mirroredBlocks(owner.userId)).map((r) => r.blocked_id)).toEqual([...ids].sort());

    for (const id of ids) await mailbox.unblock(id);
    expect(BlockListSchema.parse((await call('GET', PATHS.blocks, owner)).body).blocked).toEqual([]);
    expect(await mirroredBlocks(owner.userId)).toEqual([]);
  });
});

describe('deleted accounts', () => {
  it('are user_not_found everywhere users are read, and leave contact lists', async () => {
    const [viewer, gone] = await Promise.all([person('Vic'), person('Gus', 'Gone fishing')]);
    await setPrivacy(gone, { profile: 'everyone' });
    await addContact(viewer, gone);
    await block(viewer, gone);
    // The accounts side tombstones the row and drops the block rows naming it; only the
    // column is shared with it. The viewer's mailbox still lists the block.
    await env.DB.batch([
      env.DB.prepare('UPDATE users SET deleted_at = ? WHERE id = ?').bind(Date.now(), gone.userId),
      env.DB.prepare('DELETE FROM blocks WHERE blocked_id = ?').bind(gone.userId),
    ]);

    expect((await call('GET', PATHS.user(gone.userId), viewer)).body.error?.code).toBe('user_not_found');
    expect((await call('GET', PATHS.userByPhone(gone.phone), viewer)).body.error?.code).toBe('user_not_found');
    expect((await call('GET', PATHS.presence(gone.userId), viewer)).body.error?.code).toBe('user_not_found');
    expect((await call('PUT', PATHS.block(gone.userId), viewer)).body.error?.code).toBe('user_not_found');
    expect((await call('PUT', PATHS.mute('direct', gone.userId), viewer, { until: null })).body.error?.code).toBe('user_not_found');
    expect((await call('POST', PATHS.contacts, viewer, { phone: gone.phone })).body.error?.code).toBe('user_not_found');
    expect(ContactListSchema.parse((await call('GET', PATHS.contacts, viewer)).body).contacts).toEqual([]);
    // Reading the block list does not bring back a row for the deleted account.
    expect((await call('GET', PATHS.blocks, viewer)).status).toBe(200);
    expect(await mirroredBlocks(viewer.userId)).toEqual([]);
  });

  it('a mailbox that blocked people before the mirror existed copies its blocks to D1 once, at the next connect', async () => {
    const owner = await login(nextPhone());
    const blocked = await login(nextPhone());
    // As an older mailbox did it: blocked in the object only, nothing in D1.
    await mailboxOf(env, owner.userId).block(blocked.userId);
    await runInDurableObject(mailboxOf(env, owner.userId), (_o, state) => {
      state.storage.sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('blocks_mirror_pending', 1)");
    });
    expect(await mirroredBlocks(owner.userId)).toEqual([]);
    const socket = await connect(owner);
    await expect.poll(async () => (await mirroredBlocks(owner.userId)).map((r) => r.blocked_id)).toEqual([blocked.userId]);
    const pending = () =>
      runInDurableObject(mailboxOf(env, owner.userId), (_o, state) =>
        state.storage.sql.exec<{ value: number }>("SELECT value FROM meta WHERE key = 'blocks_mirror_pending'").one().value,
      );
    await expect.poll(pending).toBe(0);
    socket.close();
  });
});

describe('the number of someone who wrote to you', () => {
  it('is on their profile once they wrote in a 1:1 chat, and only for whom they wrote to', async () => {
    const [stan, gil, other] = await Promise.all([person('Stan'), person('Gil'), person('Olga')]);
    // No number before: the helper checks there is none.
    await profileById(gil, stan);

    const socket = await connect(stan);
    socket.send({ type: 'send', id: 'first-words', to: gil.userId, body: text('hi, Stan from the gym') });
    await socket.waitFor(isType('sent'));
    socket.close();

    // Gil learns Stan's number (he shared it by writing); Stan does not learn Gil's, nor does anyone else.
    const seenByGil = async () => ProfileSchema.parse((await call('GET', PATHS.user(stan.userId), gil)).body).phone;
    await expect.poll(seenByGil).toBe(stan.phone);
    await profileById(stan, gil);
    await profileById(other, stan);
  });
});
