// Accounts and devices: the D1 schema and query functions, and the /v1/me, /v1/users and
// /v1/devices routes, including that refused requests leave D1 as it was.
import { SELF } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import {
  DeviceListSchema,
  ErrorResponseSchema,
  PATHS,
  ProfileSchema,
  SessionResponseSchema,
  type ErrorCode,
  type SessionResponse,
} from '../../protocol/index.ts';
import {
  accountsDb,
  createDevice,
  createUserWithDevice,
  findUserById,
  findUserByPhone,
  getActiveDevice,
  listDevices,
  revokeDevice,
  touchDevice,
  updateProfile,
  userExists,
} from '../../db/accounts.ts';
import { nextClientIp } from './support.ts';

const BASE = 'http://example.com';

// German mobile numbers (+49 151 and eight digits) are all valid; a range of its own per file,
// each number in a block of 1,000 of its own (code requests are limited per block).
let phoneCounter = 10_000 + Math.floor(Math.random() * 30_000);
function freshPhone(): string {
  phoneCounter += 1;
  return `+49151${phoneCounter}${String(Math.floor(Math.random() * 1000)).padStart(3, '0')}`;
}

const UNKNOWN_ID = '01JD00000000000000000000ZZ';

type CallOptions = { body?: unknown; raw?: string; token?: string; ip?: string };

function call(method: string, path: string, options: CallOptions = {}): Promise<Response> {
  const headers = new Headers();
  if (options.ip !== undefined) headers.set('CF-Connecting-IP', options.ip);
  if (options.token !== undefined) headers.set('Authorization', `Bearer ${options.token}`);
  const body = options.raw ?? (options.body !== undefined ? JSON.stringify(options.body) : undefined);
  if (body !== undefined) headers.set('Content-Type', 'application/json');
  return SELF.fetch(`${BASE}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
}

async function expectError(res: Response, status: number, code: ErrorCode): Promise<void> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(ErrorResponseSchema.parse(JSON.parse(text)).error.code).toBe(code);
}

async function login(phone: string, extra: Record<string, unknown> = {}): Promise<SessionResponse> {
  const ip = nextClientIp();
  const otp = await call('POST', PATHS.requestOtp, { body: { phone }, ip });
  expect(otp.status).toBe(200);
  const { devCode, challenge } = (await otp.json()) as { devCode: string; challenge: string };
  const res = await call('POST', PATHS.verifyOtp, { body: { phone, code: devCode, challenge, ...extra }, ip });
  expect(res.status).toBe(200);
  return SessionResponseSchema.parse(await res.json());
}

async function userRow(userId: string): Promise<Record<string, unknown> | null> {
  return env.DB.prepare('select * from users where id = ?').bind(userId).first();
}

async function deviceRows(userId: string): Promise<Record<string, unknown>[]> {
  return (await env.DB.prepare('select * from devices where user_id = ? order by id').bind(userId).all()).results;
}

// ---------------------------------------------------------------------------------- schema

describe('D1 schema', () => {
  it('rejects wrongly typed values (STRICT tables)', async () => {
    await expect(
      env.DB.prepare('insert into users (id, phone, created_at, updated_at) values (?, ?, ?, ?)')
        .bind('01JD0000000000000000000009', freshPhone(), 'yesterday', 1)
        .run(),
    ).rejects.toThrow(/cannot store TEXT value in INTEGER column/);
  });

  it('enforces one account per phone number', async () => {
    const phone = freshPhone();
    await createUserWithDevice(env.DB, { phone, device: {}, now: Date.now() });
    await expect(
      env.DB.prepare('insert into users (id, phone, created_at, updated_at) values (?, ?, 1, 1)')
        .bind('01JD0000000000000000000008', phone)
        .run(),
    ).rejects.toThrow(/UNIQUE constraint failed/);
  });

  it('refuses devices of users that do not exist', async () => {
    const err = await createDevice(env.DB, UNKNOWN_ID, {}, Date.now()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    // drizzle wraps the D1 error; the constraint is named in the cause.
    expect(String((err as Error).cause)).toMatch(/FOREIGN KEY constraint failed/);
    expect(await env.DB.prepare('select count(*) as n from devices where user_id = ?').bind(UNKNOWN_ID).first('n')).toBe(0);
  });

  it('fills profile defaults', async () => {
    const { user } = await createUserWithDevice(env.DB, { phone: freshPhone(), device: {}, now: 5 });
    expect(user).toMatchObject({ displayName: '', about: '', createdAt: 5, updatedAt: 5 });
  });
});

// ---------------------------------------------------------------------------------- queries

describe('account queries', () => {
  it('creates a user with a first device, then reuses the user for later devices', async () => {
    const phone = freshPhone();
    const first = await createUserWithDevice(env.DB, { phone, device: { name: 'Laptop', platform: 'desktop' }, now: 1000 });
    expect(first.newUser).toBe(true);
    expect(first.user).toMatchObject({ phone, createdAt: 1000 });
    expect(first.device).toMatchObject({
      userId: first.user.id,
      name: 'Laptop',
      platform: 'desktop',
      createdAt: 1000,
      lastSeenAt: null,
      revokedAt: null,
    });
    expect(first.user.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);

    const second = await createUserWithDevice(env.DB, { phone, device: {}, now: 2000 });
    expect(second.newUser).toBe(false);
    expect(second.user).toEqual(first.user);
    expect(second.device.userId).toBe(first.user.id);
    expect(second.device.id).not.toBe(first.device.id);
  });

  it('creates exactly one account when the first logins of a number race', async () => {
    const phone = freshPhone();
    const results = await Promise.all(
      Array.from({ length: 6 }, () => createUserWithDevice(env.DB, { phone, device: {}, now: Date.now() })),
    );
    expect(results.filter((r) => r.newUser)).toHaveLength(1);
    expect(new Set(results.map((r) => r.user.id)).size).toBe(1);
    expect(await deviceRows(results[0]?.user.id ?? '')).toHaveLength(6);
  });

  it('finds users by id and phone, and says whether they exist', async () => {
    const phone = freshPhone();
    const { user } = await createUserWithDevice(env.DB, { phone, device: {}, now: Date.now() });
    expect(await findUserById(env.DB, user.id)).toEqual(user);
    expect(await findUserByPhone(env.DB, phone)).toEqual(user);
    expect(await findUserById(env.DB, UNKNOWN_ID)).toBeNull();
    expect(await findUserByPhone(env.DB, freshPhone())).toBeNull();
    expect(await userExists(env.DB, user.id)).toBe(true);
    expect(await userExists(env.DB, UNKNOWN_ID)).toBe(false);
    // Works the same through a drizzle wrapper.
    expect(await userExists(accountsDb(env.DB), user.id)).toBe(true);
  });

  it('returns an active device only to its owner and only until it is revoked', async () => {
    const alice = await createUserWithDevice(env.DB, { phone: freshPhone(), device: {}, now: 1 });
    const bob = await createUserWithDevice(env.DB, { phone: freshPhone(), device: {}, now: 1 });
    expect(await getActiveDevice(env.DB, alice.user.id, alice.device.id)).toEqual(alice.device);
    expect(await getActiveDevice(env.DB, bob.user.id, alice.device.id)).toBeNull();
    expect(await getActiveDevice(env.DB, alice.user.id, UNKNOWN_ID)).toBeNull();

    // Bob cannot revoke Alice's device.
    expect(await revokeDevice(env.DB, bob.user.id, alice.device.id, 50)).toBe(false);
    expect(await getActiveDevice(env.DB, alice.user.id, alice.device.id)).toEqual(alice.device);

    expect(await revokeDevice(env.DB, alice.user.id, alice.device.id, 50)).toBe(true);
    expect(await getActiveDevice(env.DB, alice.user.id, alice.device.id)).toBeNull();
    // Revoking again changes nothing, including the original revocation time.
    expect(await revokeDevice(env.DB, alice.user.id, alice.device.id, 99)).toBe(false);
    expect((await deviceRows(alice.user.id))[0]).toMatchObject({ revoked_at: 50 });
  });

  it('lists the non-revoked devices oldest first', async () => {
    const phone = freshPhone();
    const a = await createUserWithDevice(env.DB, { phone, device: { name: 'a' }, now: 100 });
    const b = await createDevice(env.DB, a.user.id, { name: 'b', platform: 'ios' }, 300);
    const c = await createDevice(env.DB, a.user.id, { name: 'c' }, 200);
    await revokeDevice(env.DB, a.user.id, c.id, 400);
    const listed = await listDevices(env.DB, a.user.id);
    expect(listed.map((d) => d.id)).toEqual([a.device.id, b.id]);
  });

  it('updates only the given profile fields', async () => {
    const { user } = await createUserWithDevice(env.DB, { phone: freshPhone(), device: {}, now: 1 });
    const named = await updateProfile(env.DB, user.id, { displayName: 'Ada' }, 10);
    expect(named).toMatchObject({ displayName: 'Ada', about: '', updatedAt: 10, createdAt: 1 });
    const about = await updateProfile(env.DB, user.id, { about: 'Counting' }, 20);
    expect(about).toMatchObject({ displayName: 'Ada', about: 'Counting', updatedAt: 20 });
    expect(await updateProfile(env.DB, UNKNOWN_ID, { about: 'x' }, 30)).toBeNull();
  });

  it('touches last_seen_at no more often than asked, and never on revoked devices', async () => {
    const { user, device } = await createUserWithDevice(env.DB, { phone: freshPhone(), device: {}, now: 1 });
    await touchDevice(env.DB, device.id, 1000, 500);
    expect((await getActiveDevice(env.DB, user.id, device.id))?.lastSeenAt).toBe(1000);
    await touchDevice(env.DB, device.id, 1400, 500);
    expect((await getActiveDevice(env.DB, user.id, device.id))?.lastSeenAt).toBe(1000);
    await touchDevice(env.DB, device.id, 1600, 500);
    expect((await getActiveDevice(env.DB, user.id, device.id))?.lastSeenAt).toBe(1600);
    await revokeDevice(env.DB, user.id, device.id, 1700);
    await touchDevice(env.DB, device.id, 9000);
    expect((await deviceRows(user.id))[0]).toMatchObject({ last_seen_at: 1600, revoked_at: 1700 });
  });
});

// ---------------------------------------------------------------------------------- /v1/me

describe('/v1/me', () => {
  it('returns your profile with your phone number', async () => {
    const phone = freshPhone();
    const session = await login(phone);
    const res = await call('GET', PATHS.me, { token: session.token });
    expect(res.status).toBe(200);
    expect(ProfileSchema.parse(await res.json())).toEqual({ userId: session.userId, displayName: '', about: '', photo: null, phone });
  });

  it('updates display name and about, trimming the name', async () => {
    const phone = freshPhone();
    const session = await login(phone);
    const res = await call('PATCH', PATHS.me, { token: session.token, body: { displayName: '  Ada Lovelace ', about: 'Hi' } });
    expect(res.status).toBe(200);
    const expected = { userId: session.userId, displayName: 'Ada Lovelace', about: 'Hi', photo: null, phone };
    expect(ProfileSchema.parse(await res.json())).toEqual(expected);
    // Persisted: a fresh read says the same.
    expect(await (await call('GET', PATHS.me, { token: session.token })).json()).toEqual(expected);
    // About may be cleared; the name stays.
    const cleared = await call('PATCH', PATHS.me, { token: session.token, body: { about: '' } });
    expect(await cleared.json()).toEqual({ ...expected, about: '' });
  });

  it.each([
    ['nothing to update', {}],
    ['blank display name', { displayName: '   ' }],
    ['display name too long', { displayName: 'x'.repeat(65) }],
    ['about too long', { about: 'x'.repeat(141) }],
    ['wrong type', { displayName: 42 }],
    ['unknown field', { displayName: 'Ok', phone: '+4915112345678' }],
  ])('refuses %s with validation_failed and changes nothing', async (_name, body) => {
    const session = await login(freshPhone());
    await call('PATCH', PATHS.me, { token: session.token, body: { displayName: 'Before' } });
    const before = await userRow(session.userId);
    await expectError(await call('PATCH', PATHS.me, { token: session.token, body }), 400, 'validation_failed');
    expect(await userRow(session.userId)).toEqual(before);
  });

  it('refuses malformed JSON and oversized bodies and changes nothing', async () => {
    const session = await login(freshPhone());
    const before = await userRow(session.userId);
    await expectError(await call('PATCH', PATHS.me, { token: session.token, raw: '{"about": ' }), 400, 'invalid_json');
    await expectError(
      await call('PATCH', PATHS.me, { token: session.token, body: { about: 'x'.repeat(20_000) } }),
      413,
      'payload_too_large',
    );
    expect(await userRow(session.userId)).toEqual(before);
  });

  it('requires authentication to read or change a profile', async () => {
    const session = await login(freshPhone());
    const before = await userRow(session.userId);
    await expectError(await call('GET', PATHS.me), 401, 'unauthorized');
    await expectError(await call('PATCH', PATHS.me, { body: { displayName: 'Mallory' } }), 401, 'unauthorized');
    await expectError(await call('PATCH', PATHS.me, { token: 'x.y.z', body: { displayName: 'Mallory' } }), 401, 'token_invalid');
    expect(await userRow(session.userId)).toEqual(before);
  });
});

// ---------------------------------------------------------------------------------- /v1/users

describe('/v1/users', () => {
  it('shows another user’s profile by id without their phone number (the about only as their privacy allows)', async () => {
    const alice = await login(freshPhone());
    const bob = await login(freshPhone());
    await call('PATCH', PATHS.me, { token: bob.token, body: { displayName: 'Bob', about: 'Busy' } });
    const res = await call('GET', PATHS.user(bob.userId), { token: alice.token });
    expect(res.status).toBe(200);
    const profile = ProfileSchema.parse(await res.json());
    // Alice is not in Bob's contacts, and profiles are visible to contacts by default.
    expect(profile).toEqual({ userId: bob.userId, displayName: 'Bob', about: '', photo: null });
    expect(profile).not.toHaveProperty('phone');
  });

  it('answers unknown and malformed ids with user_not_found', async () => {
    const alice = await login(freshPhone());
    for (const id of [UNKNOWN_ID, 'not-a-ulid', alice.userId.toLowerCase(), "' or 1=1 --"]) {
      await expectError(await call('GET', PATHS.user(id), { token: alice.token }), 404, 'user_not_found');
    }
  });

  it('finds a user by phone number in any notation, without the number', async () => {
    const alice = await login(freshPhone());
    const bobPhone = freshPhone();
    const bob = await login(bobPhone);
    for (const notation of [bobPhone, `00${bobPhone.slice(1)}`, `${bobPhone.slice(0, 3)} ${bobPhone.slice(3, 6)} ${bobPhone.slice(6)}`]) {
      const res = await call('GET', PATHS.userByPhone(notation), { token: alice.token });
      expect(res.status).toBe(200);
      expect(ProfileSchema.parse(await res.json())).toEqual({ userId: bob.userId, displayName: '', about: '', photo: null });
    }
  });

  it('answers an invalid number with invalid_phone and an unknown one with user_not_found', async () => {
    const alice = await login(freshPhone());
    await expectError(await call('GET', PATHS.userByPhone('12345'), { token: alice.token }), 400, 'invalid_phone');
    await expectError(await call('GET', PATHS.userByPhone('+15555550123'), { token: alice.token }), 400, 'invalid_phone');
    await expectError(await call('GET', PATHS.userByPhone(freshPhone()), { token: alice.token }), 404, 'user_not_found');
  });

  it('requires authentication for lookups', async () => {
    const bobPhone = freshPhone();
    const bob = await login(bobPhone);
    await expectError(await call('GET', PATHS.user(bob.userId)), 401, 'unauthorized');
    await expectError(await call('GET', PATHS.userByPhone(bobPhone)), 401, 'unauthorized');
  });
});

// ---------------------------------------------------------------------------------- /v1/devices

describe('/v1/devices', () => {
  it('lists your logged-in devices and marks the calling one', async () => {
    const phone = freshPhone();
    const laptop = await login(phone, { deviceName: 'Laptop', platform: 'desktop' });
    const mobile = await login(phone);
    const res = await call('GET', PATHS.devices, { token: mobile.token });
    expect(res.status).toBe(200);
    const { devices } = DeviceListSchema.parse(await res.json());
    expect(devices.map((d) => [d.deviceId, d.name, d.platform, d.current])).toEqual([
      [laptop.deviceId, 'Laptop', 'desktop', false],
      [mobile.deviceId, '', 'other', true],
    ]);
    // The listing request itself counts as the calling device being seen.
    expect(devices[1]?.lastSeenAt).toEqual(expect.any(Number));
  });

  it('logs out another of your devices remotely', async () => {
    const phone = freshPhone();
    const lost = await login(phone);
    const current = await login(phone);
    // A device logged in with the SMS code alone may log out older devices once it is a day old.
    await env.DB.prepare('update devices set created_at = ? where id = ?').bind(Date.now() - 25 * 60 * 60_000, current.deviceId).run();
    await env.DB.prepare('update devices set created_at = ? where id = ?').bind(Date.now() - 26 * 60 * 60_000, lost.deviceId).run();
    const res = await call('DELETE', PATHS.device(lost.deviceId), { token: current.token });
    expect(res.status).toBe(204);
    await expectError(await call('GET', PATHS.me, { token: lost.token }), 401, 'device_revoked');
    const { devices } = DeviceListSchema.parse(await (await call('GET', PATHS.devices, { token: current.token })).json());
    expect(devices.map((d) => d.deviceId)).toEqual([current.deviceId]);
    // Already revoked: not one of your devices any more.
    await expectError(await call('DELETE', PATHS.device(lost.deviceId), { token: current.token }), 404, 'device_not_found');
  });

  it('can revoke the calling device itself', async () => {
    const session = await login(freshPhone());
    expect((await call('DELETE', PATHS.device(session.deviceId), { token: session.token })).status).toBe(204);
    await expectError(await call('GET', PATHS.devices, { token: session.token }), 401, 'device_revoked');
  });

  it('refuses to revoke another user’s device with 404 and changes nothing', async () => {
    const alice = await login(freshPhone());
    const mallory = await login(freshPhone());
    // Authenticate once first so Mallory's last_seen_at is fresh and the refused call writes nothing.
    await call('GET', PATHS.devices, { token: mallory.token });
    const aliceBefore = await deviceRows(alice.userId);
    const malloryBefore = await deviceRows(mallory.userId);
    await expectError(await call('DELETE', PATHS.device(alice.deviceId), { token: mallory.token }), 404, 'device_not_found');
    expect(await deviceRows(alice.userId)).toEqual(aliceBefore);
    expect(await deviceRows(mallory.userId)).toEqual(malloryBefore);
    expect((await call('GET', PATHS.me, { token: alice.token })).status).toBe(200);
  });

  it('answers unknown and malformed device ids with device_not_found and changes nothing', async () => {
    const session = await login(freshPhone());
    await call('GET', PATHS.devices, { token: session.token });
    const before = await deviceRows(session.userId);
    for (const id of [UNKNOWN_ID, 'nope', session.deviceId.toLowerCase()]) {
      await expectError(await call('DELETE', PATHS.device(id), { token: session.token }), 404, 'device_not_found');
    }
    expect(await deviceRows(session.userId)).toEqual(before);
  });

  it('requires authentication and changes nothing without it', async () => {
    const session = await login(freshPhone());
    const before = await deviceRows(session.userId);
    await expectError(await call('GET', PATHS.devices), 401, 'unauthorized');
    await expectError(await call('DELETE', PATHS.device(session.deviceId)), 401, 'unauthorized');
    expect(await deviceRows(session.userId)).toEqual(before);
  });
});
