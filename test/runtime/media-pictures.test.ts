/**
 * Profile photos and group pictures go through the media path: both must be complete avatar
 * uploads; a photo is seen (in the profile, and as bytes) under the owner's profile privacy and
 * never by someone they blocked; a group picture by the group's current members only.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { ContactListSchema, GroupListSchema, PATHS, ProfileSchema, type SessionResponse } from '../../protocol/index.ts';
import { sweepExpiredMedia } from '../../worker/media/sweep.ts';
import { addContact, block, call, createGroup, settled } from './group-support.ts';
import { uploadedMedia } from './media-support.ts';
import { api, login, nextPhone } from './support.ts';

const uploaded = uploadedMedia;

async function setPhoto(session: SessionResponse, photo: string | null): Promise<Response> {
  return api(PATHS.me, { method: 'PATCH', token: session.token, body: JSON.stringify({ photo }) });
}

async function profileOf(viewer: SessionResponse, owner: SessionResponse): Promise<{ photo: string | null }> {
  const res = await api(PATHS.user(owner.userId), { token: viewer.token });
  expect(res.status).toBe(200);
  return ProfileSchema.parse(await res.json());
}

async function download(viewer: SessionResponse, mediaId: string): Promise<number> {
  return (await api(PATHS.mediaItem(mediaId), { token: viewer.token })).status;
}

async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

describe('profile photos', () => {
  it('must be an avatar upload of your own', async () => {
    const alice = await login(nextPhone());
    const bob = await login(nextPhone());
    const image = await uploaded(alice, 'image', 'image/png');
    const bobs = await uploaded(bob);
    const wrongKind = await setPhoto(alice, image);
    expect(wrongKind.status).toBe(422);
    expect(await errorCode(wrongKind)).toBe('media_kind_mismatch');
    const foreign = await setPhoto(alice, bobs);
    expect(foreign.status).toBe(404);
    expect(await errorCode(foreign)).toBe('media_not_found');
    expect((await setPhoto(alice, '01ARZ3NDEKTSV4RRFFQ69G5FAV')).status).toBe(404);
    const me = await api(PATHS.me, { token: alice.token });
    expect(ProfileSchema.parse(await me.json()).photo).toBeNull();
  });

  it('are seen under the about rule: contacts by default, never by someone blocked', async () => {
    const alice = await login(nextPhone());
    const friend = await login(nextPhone());
    const stranger = await login(nextPhone());
    const photo = await uploaded(alice);
    const set = await setPhoto(alice, photo);
    expect(set.status).toBe(200);
    expect(ProfileSchema.parse(await set.json()).photo).toBe(photo);
    await addContact(alice, friend);

    expect((await profileOf(friend, alice)).photo).toBe(photo);
    expect(await download(friend, photo)).toBe(200);
    expect((await api(PATHS.mediaUrl(photo), { token: friend.token })).status).toBe(200);
    expect((await profileOf(stranger, alice)).photo).toBeNull();
    expect(await download(stranger, photo)).toBe(404);

    // The contact list says the same as the profile.
    await addContact(friend, alice);
    const contactsOf = async (viewer: SessionResponse) => ContactListSchema.parse((await call('GET', PATHS.contacts, viewer)).body).contacts;
    expect((await contactsOf(friend)).find((c) => c.userId === alice.userId)?.photo).toBe(photo);
    await addContact(stranger, alice);
    expect((await contactsOf(stranger)).find((c) => c.userId === alice.userId)?.photo).toBeNull();

    await block(alice, friend);
    expect((await profileOf(friend, alice)).photo).toBeNull();
    expect((await contactsOf(friend)).find((c) => c.userId === alice.userId)?.photo).toBeNull();
    expect(await download(friend, photo)).toBe(404);

    const open = await api(PATHS.settings, { method: 'PATCH', token: alice.token, body: JSON.stringify({ privacy: { profile: 'everyone' } }) });
    expect(open.status).toBe(200);
    expect(await download(stranger, photo)).toBe(200);
    expect(await download(friend, photo)).toBe(404);
  });

  it('a replaced photo is nobody else\'s to see and is swept; the current one stays', async () => {
    const alice = await login(nextPhone());
    const friend = await login(nextPhone());
    await addContact(alice, friend);
    const first = await uploaded(alice);
    const second = await uploaded(alice);
    expect((await setPhoto(alice, first)).status).toBe(200);
    expect((await setPhoto(alice, second)).status).toBe(200);
    expect(await download(friend, first)).toBe(404);
    expect(await download(friend, second)).toBe(200);

    await sweepExpiredMedia(env, Date.now() + 1);
    expect(await env.DB.prepare('SELECT id FROM media WHERE id = ?').bind(first).first()).toBeNull();
    expect(await download(friend, second)).toBe(200);
    // Removing the photo: null everywhere, and the bytes go with the next sweep.
    const removed = await setPhoto(alice, null);
    expect(ProfileSchema.parse(await removed.json()).photo).toBeNull();
    await sweepExpiredMedia(env, Date.now() + 1);
    expect(await env.DB.prepare('SELECT id FROM media WHERE id = ?').bind(second).first()).toBeNull();
  });
});

describe('group pictures', () => {
  it('must be avatar media the admin may use; current members download it, nobody else', async () => {
    const [alice, bob, outsider] = [await login(nextPhone()), await login(nextPhone()), await login(nextPhone())];
    const group = await createGroup(alice, [bob]);
    const image = await uploaded(alice, 'image', 'image/png');
    const wrong = await call('PATCH', PATHS.group(group.groupId), alice, { picture: image });
    expect(wrong.status).toBe(422);
    expect(wrong.body.error?.code).toBe('media_kind_mismatch');
    const outsiders = await uploaded(outsider);
    const foreign = await call('PATCH', PATHS.group(group.groupId), alice, { picture: outsiders });
    expect(foreign.status).toBe(404);
    expect(foreign.body.error?.code).toBe('media_not_found');

    const picture = await uploaded(alice);
    const set = await call('PATCH', PATHS.group(group.groupId), alice, { picture });
    expect(set.status).toBe(200);
    expect(set.body.picture).toBe(picture);
    // The group list (the D1 mirror) carries it too, once the object has published the change.
    await settled(group.groupId);
    const listed = GroupListSchema.parse((await call('GET', PATHS.groups, bob)).body).groups;
    expect(listed.find((g) => g.groupId === group.groupId)?.picture).toBe(picture);
    expect(await download(bob, picture)).toBe(200);
    expect(await download(outsider, picture)).toBe(404);

    expect((await call('DELETE', PATHS.groupMember(group.groupId, bob.userId), alice)).status).toBe(200);
    expect(await download(bob, picture)).toBe(404);
    // Named by the group: the sweep keeps it.
    await sweepExpiredMedia(env, Date.now() + 25 * 60 * 60_000);
    expect(await download(alice, picture)).toBe(200);
  });
});
