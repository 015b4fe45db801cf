// Sessions: short-lived access tokens, rotating refresh tokens (reuse logs the device out), idle
// expiry, the trust of new devices (device_too_new) and the notice existing devices get when a
// device logs in to their account.
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import {
  ACCESS_TOKEN_TTL_MS,
  CLOSE_CODES,
  NEW_DEVICE_TRUST_MS,
  PATHS,
  SESSION_IDLE_DEFAULT_DAYS,
  SessionResponseSchema,
  type AccountEvent,
  type ErrorCode,
  type ServerFrame,
  type SessionResponse,
} from '../../protocol/index.ts';
import { REFRESH_RETRY_GRACE_MS, hashRefreshToken, isTrusted, refreshSession, sessionIdleMs } from '../../worker/auth/session.ts';
import { signToken, verifyToken } from '../../worker/auth/token.ts';
import { ApiError } from '../../worker/errors.ts';
import { api, connect, login, nextClientIp, nextPhone, refresh, refreshRaw, type TestSocket } from './support.ts';

const DAY_MS = 24 * 60 * 60_000;

type DeviceDbRow = {
  id: string;
  created_at: number;
  last_seen_at: number | null;
  revoked_at: number | null;
  refresh_hash: string | null;
  refresh_prev_hash: string | null;
  refresh_displaced_hash: string | null;
  refreshed_at: number | null;
  trusted_at: number | null;
};

async function deviceRow(deviceId: string): Promise<DeviceDbRow> {
  const row = await env.DB.prepare('select * from devices where id = ?').bind(deviceId).first<DeviceDbRow>();
  if (row === null) throw new Error(`no device ${deviceId}`);
  return row;
}

/** Move the device's last rotation `ms` into the past (instead of waiting). */
async function agoRefreshed(deviceId: string, ms: number): Promise<void> {
  await env.DB.prepare('update devices set refreshed_at = refreshed_at - ? where id = ?').bind(ms, deviceId).run();
}

async function expectError(res: Response, status: number, code: ErrorCode): Promise<void> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect((JSON.parse(text) as { error: { code: string } }).error.code).toBe(code);
}

function me(session: Pick<SessionResponse, 'token'>): Promise<Response> {
  return api(PATHS.me, { token: session.token });
}

async function apiError(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  return (err as ApiError).code;
}

function accountEvents(socket: TestSocket): AccountEvent[] {
  return socket.of('account_event').map((f) => f.event);
}

function isAccountEvent<K extends AccountEvent['kind']>(kind: K) {
  return (f: ServerFrame): f is Extract<ServerFrame, { type: 'account_event' }> => f.type === 'account_event' && f.event.kind === kind;
}

describe('login sessions', () => {
  it('answer a 15-minute access token and a refresh token bound to the device; only its hash is stored', async () => {
    const before = Date.now();
    const first = await login(nextPhone(), 'laptop');
    expect(first.newUser).toBe(true);
    expect(first.history).toBe(true);
    expect(first.expiresAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + ACCESS_TOKEN_TTL_MS);
    expect(first.expiresAt).toBeLessThanOrEqual(Date.now() + ACCESS_TOKEN_TTL_MS);
    expect(first.refreshToken).toMatch(new RegExp(`^${first.deviceId}\\.[A-Za-z0-9_-]{43}$`));
    const row = await deviceRow(first.deviceId);
    expect(row.refresh_hash).toBe(await hashRefreshToken(env.TOKEN_SECRET, first.refreshToken));
    expect(row.refresh_prev_hash).toBeNull();
    // The device that created the account is trusted at once.
    expect(row.trusted_at).toEqual(expect.any(Number));
    expect(JSON.stringify(await env.DB.prepare('select * from devices where id = ?').bind(first.deviceId).first())).not.toContain(
      first.refreshToken.split('.')[1],
    );
  });

  it('a second login to an existing account gets no history and is not trusted', async () => {
    const phone = nextPhone();
    await login(phone);
    const second = await login(phone);
    expect(second.newUser).toBe(false);
    expect(second.history).toBe(false);
    expect((await deviceRow(second.deviceId)).trusted_at).toBeNull();
  });

  it('access tokens expire after ACCESS_TOKEN_TTL_MS', async () => {
    const now = 1_700_000_000_000;
    const who = { userId: '01JD0000000000000000000000', deviceId: '01JD0000000000000000000001' };
    const { token, expiresAt } = await signToken(env.TOKEN_SECRET, who, now);
    expect(expiresAt).toBe(now + ACCESS_TOKEN_TTL_MS);
    expect(await verifyToken(env.TOKEN_SECRET, token, expiresAt - 1000)).toEqual(who);
    expect(await apiError(verifyToken(env.TOKEN_SECRET, token, expiresAt))).toBe('token_expired');
  });
});

describe('POST /v1/auth/refresh', () => {
  it('rotates: a new pair that works, the old access token still valid until it expires, the old refresh token spent', async () => {
    const session = await login(nextPhone());
    const renewed = await refresh(session);
    expect(renewed).toMatchObject({ userId: session.userId, deviceId: session.deviceId, newUser: false, history: true });
    expect(renewed.refreshToken).not.toBe(session.refreshToken);
    expect(renewed.refreshToken.startsWith(`${session.deviceId}.`)).toBe(true);
    expect((await me(renewed)).status).toBe(200);
    expect((await me(session)).status).toBe(200);

    const row = await deviceRow(session.deviceId);
    expect(row.refresh_hash).toBe(await hashRefreshToken(env.TOKEN_SECRET, renewed.refreshToken));
    expect(row.refresh_prev_hash).toBe(await hashRefreshToken(env.TOKEN_SECRET, session.refreshToken));
    expect(row.refreshed_at).toEqual(expect.any(Number));

    // And again: each refresh token works once.
    const third = await refresh(renewed);
    expect((await me(third)).status).toBe(200);
  });

  it('keeps a device without history without it', async () => {
    const phone = nextPhone();
    await login(phone);
    const second = await login(phone);
    expect((await refresh(second)).history).toBe(false);
  });

  it('logs the device out when a rotated refresh token comes back (it was copied)', async () => {
    const phone = nextPhone();
    const other = await login(phone, 'other');
    const session = await login(phone, 'victim');
    const socket = await connect(session);
    const renewed = await refresh(session);
    await agoRefreshed(session.deviceId, REFRESH_RETRY_GRACE_MS + 1);

    await expectError(await refreshRaw(session.refreshToken), 401, 'refresh_invalid');
    expect((await deviceRow(session.deviceId)).revoked_at).toEqual(expect.any(Number));
    // Every token of the device is dead: both access tokens and the newer refresh token.
    await expectError(await me(session), 401, 'device_revoked');
    await expectError(await me(renewed), 401, 'device_revoked');
    await expectError(await refreshRaw(renewed.refreshToken), 401, 'refresh_invalid');
    expect((await socket.waitClosed()).code).toBe(CLOSE_CODES.device_revoked);
    // The account's other device is untouched.
    expect((await me(other)).status).toBe(200);
  });

  it('answers a retry with the previous token just after its rotation (a lost answer) once; the pair it displaced and a second retry revoke', async () => {
    const session = await login(nextPhone());
    // Two refreshes with one token at once: one rotates, the other is taken for a retry, not a copy.
    const answers = await Promise.all([refreshRaw(session.refreshToken), refreshRaw(session.refreshToken)]);
    expect(answers.map((r) => r.status)).toEqual([200, 200]);
    const issued = await Promise.all(answers.map(async (r) => SessionResponseSchema.parse(await r.json())));
    const row = await deviceRow(session.deviceId);
    expect(row.revoked_at).toBeNull();
    const hashes = await Promise.all(issued.map((s) => hashRefreshToken(env.TOKEN_SECRET, s.refreshToken)));
    const current = issued[hashes.indexOf(row.refresh_hash ?? '')]!;
    const displaced = issued[hashes.indexOf(row.refresh_displaced_hash ?? '')]!;
    expect(current).toBeDefined();
    expect(displaced).toBeDefined();
    expect(row.refresh_prev_hash).toBe(await hashRefreshToken(env.TOKEN_SECRET, session.refreshToken));
    // A second retry of the original, still within the window, is not answered again: a copy.
    await expectError(await refreshRaw(session.refreshToken), 401, 'refresh_invalid');
    expect((await deviceRow(session.deviceId)).revoked_at).toEqual(expect.any(Number));
    await expectError(await refreshRaw(current.refreshToken), 401, 'refresh_invalid');
  });

  it('a thief racing the owner within the window gets a pair, and the owner\'s next refresh logs both out', async () => {
    const owner = await login(nextPhone());
    const ownerNext = await refresh(owner);
    // The thief presents the copied original right after the owner's rotation.
    const thief = await refresh(owner);
    expect(thief.refreshToken).not.toBe(ownerNext.refreshToken);
    await expectError(await refreshRaw(ownerNext.refreshToken), 401, 'refresh_invalid');
    expect((await deviceRow(owner.deviceId)).revoked_at).toEqual(expect.any(Number));
    await expectError(await refreshRaw(thief.refreshToken), 401, 'refresh_invalid');
    await expectError(await me(thief), 401, 'device_revoked');
  });

  it('refuses unknown, malformed and foreign tokens without changing anything (a guessed device id revokes nobody)', async () => {
    const session = await login(nextPhone());
    const before = await deviceRow(session.deviceId);
    const forged = `${session.deviceId}.${'A'.repeat(43)}`;
    await expectError(await refreshRaw(forged), 401, 'refresh_invalid');
    for (const bad of ['x'.repeat(20), `${session.deviceId}${'A'.repeat(44)}`, `${session.deviceId.toLowerCase()}.${'A'.repeat(43)}`, `${session.deviceId}.${'A'.repeat(42)}=`]) {
      await expectError(await refreshRaw(bad), 401, 'refresh_invalid');
    }
    await expectError(await refreshRaw('short'), 400, 'validation_failed');
    const res = await api(PATHS.refresh, { method: 'POST', body: JSON.stringify({ refreshToken: session.refreshToken, extra: 1 }), headers: { 'CF-Connecting-IP': nextClientIp() } });
    await expectError(res, 400, 'validation_failed');
    // An access token is not a refresh token.
    await expectError(await refreshRaw(session.token), 401, 'refresh_invalid');
    expect(await deviceRow(session.deviceId)).toEqual(before);
    expect((await refresh(session)).deviceId).toBe(session.deviceId);
  });

  it('refuses the refresh token of a logged-out device', async () => {
    const session = await login(nextPhone());
    expect((await api(PATHS.logout, { method: 'POST', token: session.token })).status).toBe(204);
    await expectError(await refreshRaw(session.refreshToken), 401, 'refresh_invalid');
  });

  it('expires a device idle longer than SESSION_IDLE_DAYS: session_expired, and it is logged out', async () => {
    const idle = sessionIdleMs(env);
    expect(idle).toBe(Number(env.SESSION_IDLE_DAYS) * DAY_MS);
    const phone = nextPhone();
    const other = await login(phone);
    const session = await login(phone);
    // Used just inside the window: still fine (with an explicit clock).
    const now = Date.now();
    await env.DB.prepare('update devices set created_at = ?, last_seen_at = ?, refreshed_at = ? where id = ?')
      .bind(now - idle - DAY_MS, now - idle + 60_000, now - idle - DAY_MS, session.deviceId)
      .run();
    const renewed = await refreshSession(env, session.refreshToken, now);
    expect(renewed.deviceId).toBe(session.deviceId);

    // Idle past the window by every measure (created, last seen, refreshed).
    await env.DB.prepare('update devices set created_at = ?, last_seen_at = ?, refreshed_at = ? where id = ?')
      .bind(now - idle - 3 * DAY_MS, now - idle - 2 * DAY_MS, now - idle - 1, session.deviceId)
      .run();
    await expectError(await refreshRaw(renewed.refreshToken), 401, 'session_expired');
    expect((await deviceRow(session.deviceId)).revoked_at).toEqual(expect.any(Number));
    await expectError(await refreshRaw(renewed.refreshToken), 401, 'refresh_invalid');
    expect((await me(other)).status).toBe(200);
  });

  it('logs idle devices out when the device list is read or the account logs in again, not only at their refresh', async () => {
    const idle = sessionIdleMs(env);
    const phone = nextPhone();
    const active = await login(phone, 'active');
    const forgotten = await login(phone, 'forgotten');
    const alsoForgotten = await login(phone, 'also forgotten');
    await env.DB.prepare('update devices set created_at = ?, last_seen_at = ?, refreshed_at = ? where id in (?, ?)')
      .bind(Date.now() - idle - 3 * DAY_MS, Date.now() - idle - DAY_MS, null, forgotten.deviceId, alsoForgotten.deviceId)
      .run();
    const res = await api(PATHS.devices, { token: active.token });
    const { devices } = (await res.json()) as { devices: Array<{ deviceId: string }> };
    expect(devices.map((d) => d.deviceId)).toEqual([active.deviceId]);
    expect((await deviceRow(forgotten.deviceId)).revoked_at).toEqual(expect.any(Number));
    expect((await deviceRow(alsoForgotten.deviceId)).revoked_at).toEqual(expect.any(Number));

    // Through a login: the idle device goes, the active ones stay.
    await env.DB.prepare('update devices set created_at = ?, last_seen_at = ?, refreshed_at = ? where id = ?')
      .bind(Date.now() - idle - DAY_MS, null, null, active.deviceId)
      .run();
    const next = await login(phone, 'next');
    expect((await deviceRow(active.deviceId)).revoked_at).toEqual(expect.any(Number));
    expect((await deviceRow(next.deviceId)).revoked_at).toBeNull();
  });

  it('reads SESSION_IDLE_DAYS, falling back to the default for missing or bad values', () => {
    expect(sessionIdleMs({ SESSION_IDLE_DAYS: '2' })).toBe(2 * DAY_MS);
    for (const bad of [undefined, '', 'zero', '0', '-3']) {
      expect(sessionIdleMs(bad === undefined ? {} : { SESSION_IDLE_DAYS: bad })).toBe(SESSION_IDLE_DEFAULT_DAYS * DAY_MS);
    }
  });
});

describe('new devices', () => {
  it('existing devices get a device_added account event with name and platform, and device_removed when it is logged out', async () => {
    const phone = nextPhone();
    const first = await login(phone, 'Laptop');
    const socket = await connect(first);
    const headers = { 'CF-Connecting-IP': nextClientIp() };
    const otp = (await (await api(PATHS.requestOtp, { method: 'POST', body: JSON.stringify({ phone }), headers })).json()) as { devCode: string; challenge: string };
    const verify = await api(PATHS.verifyOtp, {
      method: 'POST',
      body: JSON.stringify({ phone, code: otp.devCode, challenge: otp.challenge, deviceName: 'Pixel 9', platform: 'android' }),
      headers,
    });
    const second = SessionResponseSchema.parse(await verify.json());
    const [frame] = await socket.waitFor(isAccountEvent('device_added'));
    expect(frame!.event).toEqual({ kind: 'device_added', deviceId: second.deviceId, name: 'Pixel 9', platform: 'android', withPin: false });
    socket.close();

    // Logging it out tells the others too.
    expect((await api(`/v1/devices/${second.deviceId}`, { method: 'DELETE', token: first.token })).status).toBe(204);
    const again = await connect(first);
    await again.waitFor(isAccountEvent('device_removed'));
    expect(accountEvents(again)).toContainEqual({ kind: 'device_removed', deviceId: second.deviceId });
    again.close();
  });

  it('a device logged in with the SMS code alone may not log out older devices for a day; newer ones and itself it may', async () => {
    const phone = nextPhone();
    const owner = await login(phone, 'owner');
    const intruder = await login(phone, 'intruder');
    const newest = await login(phone, 'newest');
    const before = (await env.DB.prepare('select id, revoked_at from devices where id = ?').bind(owner.deviceId).first());

    const refused = await api(`/v1/devices/${owner.deviceId}`, { method: 'DELETE', token: intruder.token });
    await expectError(refused.clone(), 403, 'device_too_new');
    const body = (await refused.json()) as { error: { retryAfterMs?: number } };
    expect(body.error.retryAfterMs).toBeGreaterThan(NEW_DEVICE_TRUST_MS - 60_000);
    expect(await env.DB.prepare('select id, revoked_at from devices where id = ?').bind(owner.deviceId).first()).toEqual(before);
    expect((await me(owner)).status).toBe(200);

    // A newer device, yes.
    expect((await api(`/v1/devices/${newest.deviceId}`, { method: 'DELETE', token: intruder.token })).status).toBe(204);
    // The owner's (trusted) device may log out the new one.
    expect((await api(`/v1/devices/${intruder.deviceId}`, { method: 'DELETE', token: owner.token })).status).toBe(204);
    await expectError(await me(intruder), 401, 'device_revoked');
  });

  it('an untrusted device is trusted once it is a day old', async () => {
    const phone = nextPhone();
    const older = await login(phone, 'older');
    const later = await login(phone, 'later');
    const row = await deviceRow(later.deviceId);
    expect(isTrusted({ trustedAt: row.trusted_at, createdAt: row.created_at }, row.created_at + NEW_DEVICE_TRUST_MS - 1)).toBe(false);
    expect(isTrusted({ trustedAt: row.trusted_at, createdAt: row.created_at }, row.created_at + NEW_DEVICE_TRUST_MS)).toBe(true);
    await expectError(await api(`/v1/devices/${older.deviceId}`, { method: 'DELETE', token: later.token }), 403, 'device_too_new');
    await env.DB.prepare('update devices set created_at = ? where id = ?').bind(Date.now() - NEW_DEVICE_TRUST_MS - 1000, later.deviceId).run();
    // It is still younger than the other, so move that one back further.
    await env.DB.prepare('update devices set created_at = ? where id = ?').bind(Date.now() - 2 * NEW_DEVICE_TRUST_MS, older.deviceId).run();
    expect((await api(`/v1/devices/${older.deviceId}`, { method: 'DELETE', token: later.token })).status).toBe(204);
  });

  it('answers device_not_found for unknown, malformed and other users’ devices, whatever the caller’s age', async () => {
    const alice = await login(nextPhone());
    const bob = await login(nextPhone());
    for (const id of ['01JD00000000000000000000ZZ', 'nope', bob.deviceId]) {
      await expectError(await api(`/v1/devices/${id}`, { method: 'DELETE', token: alice.token }), 404, 'device_not_found');
    }
    expect((await me(bob)).status).toBe(200);
  });
});
