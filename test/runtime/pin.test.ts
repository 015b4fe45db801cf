// The two-step verification PIN: hashing, setting, changing and removing it from a trusted
// device, the PIN step at login (no device before it, guesses limited per account, locks that
// double), the reset by waiting, and the account events the account's devices get.
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import {
  PATHS,
  PIN_FREE_ATTEMPTS,
  PIN_LOCK_BASE_MS,
  PIN_RESET_WAIT_MS,
  PinRequiredResponseSchema,
  PinStatusSchema,
  SessionResponseSchema,
  type AccountEvent,
  type ErrorCode,
  type PinRequiredResponse,
  type ServerFrame,
  type SessionResponse,
} from '../../protocol/index.ts';
import { PIN_ITERATIONS, hashPin, lockAfter } from '../../worker/auth/pin.ts';
import { api, connect, login, nextClientIp, nextPhone, verifyLogin, type TestSocket } from './support.ts';

const PIN = '123456';
const OTHER_PIN = '654321';

type PinRow = { user_id: string; pin_hash: string; salt: string; failed: number; locked_until: number | null; reset_at: number | null; set_at: number };

async function pinRow(userId: string): Promise<PinRow | null> {
  return env.DB.prepare('select * from account_pins where user_id = ?').bind(userId).first<PinRow>();
}

async function deviceCount(userId: string): Promise<number> {
  return (await env.DB.prepare('select count(*) as n from devices where user_id = ?').bind(userId).first<number>('n')) ?? 0;
}

async function errorOf(res: Response): Promise<{ status: number; code: string; retryAfterMs?: number }> {
  const body = (await res.json()) as { error: { code: string; retryAfterMs?: number } };
  return { status: res.status, code: body.error.code, ...(body.error.retryAfterMs !== undefined ? { retryAfterMs: body.error.retryAfterMs } : {}) };
}

async function expectError(res: Response, status: number, code: ErrorCode): Promise<void> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect((JSON.parse(text) as { error: { code: string } }).error.code).toBe(code);
}

function setPin(session: SessionResponse, pin: string, currentPin?: string): Promise<Response> {
  return api(PATHS.pin, { method: 'PUT', token: session.token, body: JSON.stringify({ pin, ...(currentPin ? { currentPin } : {}) }) });
}

function removePin(session: SessionResponse, currentPin: string): Promise<Response> {
  return api(PATHS.pin, { method: 'DELETE', token: session.token, body: JSON.stringify({ currentPin }) });
}

function enterPin(pinChallenge: string, pin: string): Promise<Response> {
  return api(PATHS.pinLogin, { method: 'POST', body: JSON.stringify({ pinChallenge, pin }), headers: { 'CF-Connecting-IP': nextClientIp() } });
}

function askReset(pinChallenge: string): Promise<Response> {
  return api(PATHS.pinReset, { method: 'POST', body: JSON.stringify({ pinChallenge }), headers: { 'CF-Connecting-IP': nextClientIp() } });
}

async function pinRequired(phone: string, deviceName = 'new phone'): Promise<PinRequiredResponse> {
  const answer = await verifyLogin(phone, deviceName, 'ios');
  return PinRequiredResponseSchema.parse(answer);
}

/** An account with a PIN, and its first (trusted) device. */
async function accountWithPin(): Promise<{ phone: string; owner: SessionResponse }> {
  const phone = nextPhone();
  const owner = await login(phone, 'owner');
  expect((await setPin(owner, PIN)).status).toBe(200);
  return { phone, owner };
}

function isAccountEvent<K extends AccountEvent['kind']>(kind: K) {
  return (f: ServerFrame): f is Extract<ServerFrame, { type: 'account_event' }> => f.type === 'account_event' && f.event.kind === kind;
}

async function eventOf<K extends AccountEvent['kind']>(socket: TestSocket, kind: K): Promise<Extract<AccountEvent, { kind: K }>> {
  const [frame] = await socket.waitFor(isAccountEvent(kind));
  return frame!.event as Extract<AccountEvent, { kind: K }>;
}

describe('PIN hashing', () => {
  it('is PBKDF2-SHA-256 with the most iterations Workers allow, salted and peppered, in well under a request budget', async () => {
    expect(PIN_ITERATIONS).toBe(100_000);
    const started = performance.now();
    const a = await hashPin('secret', 'user-a', PIN, 'salt-1');
    const elapsed = performance.now() - started;
    console.log(`PIN hash: ${elapsed.toFixed(1)} ms for ${PIN_ITERATIONS} iterations`);
    expect(a).toMatch(/^pbkdf2-sha256:100000:[0-9a-f]{64}$/);
    expect(await hashPin('secret', 'user-a', PIN, 'salt-1')).toBe(a);
    expect(await hashPin('secret', 'user-a', PIN, 'salt-2')).not.toBe(a);
    expect(await hashPin('other', 'user-a', PIN, 'salt-1')).not.toBe(a);
    expect(await hashPin('secret', 'user-b', PIN, 'salt-1')).not.toBe(a);
    expect(await hashPin('secret', 'user-a', OTHER_PIN, 'salt-1')).not.toBe(a);
  });

  it('locks only after the free attempts, doubling from PIN_LOCK_BASE_MS', () => {
    for (let failed = 0; failed <= PIN_FREE_ATTEMPTS; failed++) expect(lockAfter(failed)).toBe(0);
    expect(lockAfter(PIN_FREE_ATTEMPTS + 1)).toBe(PIN_LOCK_BASE_MS);
    expect(lockAfter(PIN_FREE_ATTEMPTS + 2)).toBe(2 * PIN_LOCK_BASE_MS);
    expect(lockAfter(PIN_FREE_ATTEMPTS + 4)).toBe(8 * PIN_LOCK_BASE_MS);
    expect(lockAfter(1000)).toBe(lockAfter(PIN_FREE_ATTEMPTS + 15));
  });
});

describe('/v1/me/pin', () => {
  it('sets a PIN (salted hash stored, never the PIN), tells the other devices, and reports the status', async () => {
    const phone = nextPhone();
    const owner = await login(phone, 'owner');
    const laptop = await login(phone, 'laptop');
    const socket = await connect(laptop);
    expect(PinStatusSchema.parse(await (await api(PATHS.pin, { token: owner.token })).json())).toEqual({ enabled: false, resetAt: null });

    const res = await setPin(owner, PIN);
    expect(res.status).toBe(200);
    expect(PinStatusSchema.parse(await res.json())).toEqual({ enabled: true, resetAt: null });
    const row = await pinRow(owner.userId);
    expect(row).toMatchObject({ failed: 0, locked_until: null, reset_at: null });
    expect(row!.pin_hash).toBe(await hashPin(env.TOKEN_SECRET, owner.userId, PIN, row!.salt));
    expect(JSON.stringify(row)).not.toContain(PIN);
    expect(await eventOf(socket, 'pin_changed')).toEqual({ kind: 'pin_changed', enabled: true, deviceId: owner.deviceId });
    expect(PinStatusSchema.parse(await (await api(PATHS.pin, { token: laptop.token })).json())).toEqual({ enabled: true, resetAt: null });
    socket.close();
  });

  it('changes the PIN only with the current one: missing is refused uncounted, wrong is counted', async () => {
    const { owner } = await accountWithPin();
    const before = await pinRow(owner.userId);
    await expectError(await setPin(owner, OTHER_PIN), 401, 'pin_invalid');
    expect(await pinRow(owner.userId)).toEqual(before);
    await expectError(await setPin(owner, OTHER_PIN, '000000'), 401, 'pin_invalid');
    expect(await pinRow(owner.userId)).toEqual({ ...before, failed: 1 });

    expect((await setPin(owner, OTHER_PIN, PIN)).status).toBe(200);
    const after = await pinRow(owner.userId);
    expect(after!.salt).not.toBe(before!.salt);
    expect(after!.failed).toBe(0);
    expect(after!.pin_hash).toBe(await hashPin(env.TOKEN_SECRET, owner.userId, OTHER_PIN, after!.salt));
  });

  it('removes the PIN with the current one; then login needs no PIN (and gets no history)', async () => {
    const { phone, owner } = await accountWithPin();
    await expectError(await removePin(owner, '000000'), 401, 'pin_invalid');
    expect(await pinRow(owner.userId)).toMatchObject({ failed: 1 });
    const res = await removePin(owner, PIN);
    expect(res.status).toBe(200);
    expect(PinStatusSchema.parse(await res.json())).toEqual({ enabled: false, resetAt: null });
    expect(await pinRow(owner.userId)).toBeNull();
    await expectError(await removePin(owner, PIN), 404, 'pin_not_set');
    const next = await login(phone);
    expect(next.history).toBe(false);
  });

  it('refuses bad bodies', async () => {
    const owner = await login(nextPhone());
    for (const body of [{}, { pin: '12345' }, { pin: '1234567' }, { pin: 123456 }, { pin: 'abcdef' }, { pin: PIN, extra: 1 }]) {
      await expectError(await api(PATHS.pin, { method: 'PUT', token: owner.token, body: JSON.stringify(body) }), 400, 'validation_failed');
    }
    expect(await pinRow(owner.userId)).toBeNull();
  });

  it('a device logged in with the SMS code alone may not set, change or remove the PIN for a day', async () => {
    const { phone, owner } = await accountWithPin();
    expect((await removePin(owner, PIN)).status).toBe(200);
    const intruder = await login(phone, 'intruder');
    await expectError(await setPin(intruder, OTHER_PIN), 403, 'device_too_new');
    expect(await pinRow(owner.userId)).toBeNull();

    expect((await setPin(owner, PIN)).status).toBe(200);
    const before = await pinRow(owner.userId);
    await expectError(await setPin(intruder, OTHER_PIN, PIN), 403, 'device_too_new');
    await expectError(await removePin(intruder, PIN), 403, 'device_too_new');
    // Refused before the PIN is looked at: no guess was used.
    expect(await pinRow(owner.userId)).toEqual(before);

    await env.DB.prepare('update devices set created_at = ? where id = ?').bind(Date.now() - 25 * 60 * 60_000, intruder.deviceId).run();
    expect((await setPin(intruder, OTHER_PIN, PIN)).status).toBe(200);
  });
});

describe('login with a PIN', () => {
  it('creates no device until the PIN is entered; then a trusted device with history, announced to the others', async () => {
    const { phone, owner } = await accountWithPin();
    const socket = await connect(owner);
    const devicesBefore = await deviceCount(owner.userId);
    const required = await pinRequired(phone);
    expect(required).toMatchObject({ pinRequired: true, attemptsLeft: PIN_FREE_ATTEMPTS, resetAt: null });
    expect(await deviceCount(owner.userId)).toBe(devicesBefore);
    // No device_added yet.
    expect(socket.of('account_event').filter((f) => f.event.kind === 'device_added')).toEqual([]);

    const res = await enterPin(required.pinChallenge, PIN);
    expect(res.status).toBe(200);
    const session = SessionResponseSchema.parse(await res.json());
    expect(session).toMatchObject({ userId: owner.userId, newUser: false, history: true });
    const row = await env.DB.prepare('select name, platform, trusted_at from devices where id = ?').bind(session.deviceId).first();
    expect(row).toMatchObject({ name: 'new phone', platform: 'ios', trusted_at: expect.any(Number) });
    expect(await eventOf(socket, 'device_added')).toEqual({
      kind: 'device_added',
      deviceId: session.deviceId,
      name: 'new phone',
      platform: 'ios',
      withPin: true,
    });
    // The challenge is spent.
    await expectError(await enterPin(required.pinChallenge, PIN), 401, 'pin_challenge_invalid');
    // A device that entered the PIN is trusted at once.
    expect((await setPin(session, OTHER_PIN, PIN)).status).toBe(200);
    socket.close();
  });

  it('counts wrong PINs per account: a new code gives no new guesses', async () => {
    const { phone, owner } = await accountWithPin();
    const first = await pinRequired(phone);
    for (let i = 1; i <= 3; i++) {
      await expectError(await enterPin(first.pinChallenge, OTHER_PIN), 401, 'pin_invalid');
      expect((await pinRow(owner.userId))?.failed).toBe(i);
    }
    const second = await pinRequired(phone);
    expect(second.attemptsLeft).toBe(PIN_FREE_ATTEMPTS - 3);
    await expectError(await enterPin(second.pinChallenge, OTHER_PIN), 401, 'pin_invalid');
    expect((await pinRow(owner.userId))?.failed).toBe(4);
    // The right PIN starts the count over.
    expect((await enterPin(second.pinChallenge, PIN)).status).toBe(200);
    expect((await pinRow(owner.userId))?.failed).toBe(0);
  });

  it('locks after the free attempts, with retryAfterMs, doubling; even the right PIN waits; no device is created', async () => {
    const { phone, owner } = await accountWithPin();
    const devices = await deviceCount(owner.userId);
    const { pinChallenge } = await pinRequired(phone);
    for (let i = 0; i < PIN_FREE_ATTEMPTS; i++) await expectError(await enterPin(pinChallenge, OTHER_PIN), 401, 'pin_invalid');
    expect((await pinRow(owner.userId))?.locked_until).toBeNull();

    const started = Date.now();
    await expectError(await enterPin(pinChallenge, OTHER_PIN), 401, 'pin_invalid');
    const locked = await pinRow(owner.userId);
    expect(locked!.locked_until).toBeGreaterThanOrEqual(started + PIN_LOCK_BASE_MS);
    const refused = await errorOf(await enterPin(pinChallenge, PIN));
    expect(refused).toMatchObject({ status: 429, code: 'pin_locked' });
    expect(refused.retryAfterMs).toBeGreaterThan(PIN_LOCK_BASE_MS - 10_000);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(PIN_LOCK_BASE_MS);
    // A lock is not a guess: the count stays.
    expect((await pinRow(owner.userId))?.failed).toBe(PIN_FREE_ATTEMPTS + 1);
    expect((await pinRequired(phone)).attemptsLeft).toBe(0);

    // The wait is over (moved in D1): the next wrong PIN locks twice as long.
    await env.DB.prepare('update account_pins set locked_until = ? where user_id = ?').bind(Date.now() - 1, owner.userId).run();
    await expectError(await enterPin(pinChallenge, OTHER_PIN), 401, 'pin_invalid');
    const doubled = await errorOf(await enterPin(pinChallenge, PIN));
    expect(doubled.code).toBe('pin_locked');
    expect(doubled.retryAfterMs).toBeGreaterThan(2 * PIN_LOCK_BASE_MS - 10_000);
    expect(await deviceCount(owner.userId)).toBe(devices);

    await env.DB.prepare('update account_pins set locked_until = ? where user_id = ?').bind(Date.now() - 1, owner.userId).run();
    expect((await enterPin(pinChallenge, PIN)).status).toBe(200);
  });

  it('a burst of parallel wrong PINs past the free attempts gets one guess, the rest are locked out', async () => {
    const { phone, owner } = await accountWithPin();
    const { pinChallenge } = await pinRequired(phone);
    await env.DB.prepare('update account_pins set failed = ? where user_id = ?').bind(PIN_FREE_ATTEMPTS, owner.userId).run();
    const answers = await Promise.all(Array.from({ length: 8 }, async () => (await errorOf(await enterPin(pinChallenge, OTHER_PIN))).code));
    expect(answers.filter((c) => c === 'pin_invalid')).toHaveLength(1);
    expect(answers.filter((c) => c === 'pin_locked')).toHaveLength(7);
    expect((await pinRow(owner.userId))?.failed).toBe(PIN_FREE_ATTEMPTS + 1);
  });

  it('refuses unknown, malformed and expired challenges without counting a guess', async () => {
    const { phone, owner } = await accountWithPin();
    await expectError(await enterPin('A'.repeat(32), PIN), 401, 'pin_challenge_invalid');
    await expectError(await enterPin('short', PIN), 400, 'validation_failed');
    const { pinChallenge } = await pinRequired(phone);
    await env.DB.prepare('update pin_challenges set expires_at = ? where user_id = ?').bind(Date.now() - 1, owner.userId).run();
    await expectError(await enterPin(pinChallenge, PIN), 401, 'pin_challenge_invalid');
    await expectError(await askReset(pinChallenge), 401, 'pin_challenge_invalid');
    expect(await pinRow(owner.userId)).toMatchObject({ failed: 0, reset_at: null });
  });
});

describe('PIN reset by waiting', () => {
  it('is announced to every device at once, keeps the first request’s time, and takes effect only after the wait', async () => {
    const { phone, owner } = await accountWithPin();
    const socket = await connect(owner);
    const { pinChallenge } = await pinRequired(phone);
    const asked = Date.now();
    const res = await askReset(pinChallenge);
    expect(res.status).toBe(200);
    const { resetAt } = (await res.json()) as { resetAt: number };
    expect(resetAt).toBeGreaterThanOrEqual(asked + PIN_RESET_WAIT_MS);
    expect(resetAt).toBeLessThanOrEqual(Date.now() + PIN_RESET_WAIT_MS);
    expect(await eventOf(socket, 'pin_reset_requested')).toEqual({ kind: 'pin_reset_requested', resetAt });
    expect(PinStatusSchema.parse(await (await api(PATHS.pin, { token: owner.token })).json())).toEqual({ enabled: true, resetAt });

    // Asking again changes nothing.
    const again = await pinRequired(phone);
    expect(again.resetAt).toBe(resetAt);
    expect(((await (await askReset(again.pinChallenge)).json()) as { resetAt: number }).resetAt).toBe(resetAt);

    // Before the wait is over the PIN is still required; after it, the login goes through without it.
    await env.DB.prepare('update account_pins set reset_at = ? where user_id = ?').bind(Date.now() - 1, owner.userId).run();
    const session = SessionResponseSchema.parse(await verifyLogin(phone, 'after reset'));
    expect(session).toMatchObject({ userId: owner.userId, history: false });
    expect(await pinRow(owner.userId)).toBeNull();
    expect(await env.DB.prepare('select count(*) as n from pin_challenges where user_id = ?').bind(owner.userId).first('n')).toBe(0);
    const [removed] = await socket.waitFor(
      (f): f is Extract<ServerFrame, { type: 'account_event' }> => f.type === 'account_event' && f.event.kind === 'pin_changed' && !f.event.enabled,
    );
    expect(removed!.event).toEqual({ kind: 'pin_changed', enabled: false, deviceId: null });
    socket.close();
  });

  it('is cancelled when the owner sets the PIN again', async () => {
    const { phone, owner } = await accountWithPin();
    const { pinChallenge } = await pinRequired(phone);
    expect((await askReset(pinChallenge)).status).toBe(200);
    expect((await pinRow(owner.userId))?.reset_at).toEqual(expect.any(Number));
    expect((await setPin(owner, OTHER_PIN, PIN)).status).toBe(200);
    expect((await pinRow(owner.userId))?.reset_at).toBeNull();
    expect((await pinRequired(phone)).resetAt).toBeNull();
  });
});
