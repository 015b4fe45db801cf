// Login and tokens: OTP issue/verify rules (with a controlled clock), token signing and checks,
// SMS provider selection, the auth middleware, and the /v1/auth HTTP routes end to end in workerd.
// Abuse of the OTP routes (limits, waits, strangers guessing) is test/runtime/otp-abuse.test.ts.
import { SELF } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { Hono } from 'hono';
import { sign } from 'hono/jwt';
import { describe, expect, it } from 'vitest';
import {
  ACCESS_TOKEN_TTL_MS,
  ErrorResponseSchema,
  MAX_HTTP_BODY_BYTES,
  OtpChallengeSchema,
  OtpResponseSchema,
  OTP_RESEND_WAITS_MS,
  PATHS,
  SessionResponseSchema,
  type ErrorCode,
  type SessionResponse,
} from '../../protocol/index.ts';
import type { AppEnv } from '../../worker/app-env.ts';
import { requireAuth, tokenFromRequest } from '../../worker/auth/middleware.ts';
import {
  OTP_MAX_ATTEMPTS,
  OTP_TTL_MS,
  constantTimeEqual,
  generateChallenge,
  generateCode,
  hashChallenge,
  hashClient,
  hashCode,
  requestOtp,
  verifyOtp,
} from '../../worker/auth/otp.ts';
import { DevSmsProvider, WebhookSmsProvider, smsConfigFromEnv, smsProviderFor } from '../../worker/auth/sms.ts';
import { TOKEN_TTL_SECONDS, signToken, verifyToken } from '../../worker/auth/token.ts';
import { ApiError, onError } from '../../worker/errors.ts';

const BASE = 'http://example.com';
const SECRET = env.TOKEN_SECRET;

// German mobile numbers (+49 151 and eight digits) are all valid. Steps of 1,000 give every
// number its own block of 1,000 (the unit of the per-prefix edge limit), and the random start
// keeps runs and other test files off each other's numbers.
let phoneCounter = 10_000_000 + Math.floor(Math.random() * 80_000) * 1_000;
function freshPhone(): string {
  phoneCounter += 1_000;
  return `+49151${phoneCounter}`;
}

// Per-IP edge limits are on in runtime tests and their counters outlive a run by up to a minute:
// every request gets an address of its own unless a test means to share one.
const RUN = Array.from(crypto.getRandomValues(new Uint16Array(2)), (n) => n.toString(16)).join(':');
let ipCounter = 0;
function freshIp(): string {
  ipCounter += 1;
  return `2001:db8:${RUN}:${ipCounter.toString(16)}::1`;
}

type CallOptions = { body?: unknown; raw?: string; token?: string; headers?: Record<string, string>; ip?: string };

function call(method: string, path: string, options: CallOptions = {}): Promise<Response> {
  const headers = new Headers(options.headers);
  headers.set('CF-Connecting-IP', options.ip ?? freshIp());
  if (options.token !== undefined) headers.set('Authorization', `Bearer ${options.token}`);
  let body: string | undefined;
  if (options.raw !== undefined) body = options.raw;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined && !headers.has('Content-Type')) headers.set('Content-Type', 'application/json');
  return SELF.fetch(`${BASE}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
}

async function expectError(res: Response, status: number, code: ErrorCode): Promise<void> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  const parsed = ErrorResponseSchema.parse(JSON.parse(text));
  expect(parsed.error.code).toBe(code);
}

async function expectApiError(promise: Promise<unknown>, code: ErrorCode): Promise<ApiError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  expect((err as ApiError).code).toBe(code);
  return err as ApiError;
}

type ChallengeRow = {
  id: number;
  phone: string;
  challenge_hash: string;
  code_hash: string;
  expires_at: number;
  attempts: number;
  created_at: number;
};

/** The number's stored challenges, oldest first. */
async function challengeRows(phone: string): Promise<ChallengeRow[]> {
  return (await env.DB.prepare('select * from otp_challenges where phone = ? order by id').bind(phone).all<ChallengeRow>())
    .results;
}

async function resendRows(phone: string): Promise<unknown[]> {
  return (await env.DB.prepare('select * from otp_resends where phone = ? order by client_hash').bind(phone).all()).results;
}

/** Everything D1 holds about a phone number, to prove a failed request changed nothing. */
async function snapshot(phone: string): Promise<{ user: unknown; devices: unknown[]; challenges: ChallengeRow[]; resends: unknown[] }> {
  const user = await env.DB.prepare('select * from users where phone = ?').bind(phone).first<{ id: string }>();
  const devices = user
    ? (await env.DB.prepare('select * from devices where user_id = ? order by id').bind(user.id).all()).results
    : [];
  return { user, devices, challenges: await challengeRows(phone), resends: await resendRows(phone) };
}

type Issued = { phone: string; code: string; challenge: string; expiresAt: number; resendAt: number };

async function requestCode(phone: string, ip = freshIp()): Promise<Issued> {
  const res = await call('POST', PATHS.requestOtp, { body: { phone }, ip });
  expect(res.status).toBe(200);
  const body = OtpResponseSchema.parse(await res.json());
  expect(body.devCode).toMatch(/^[0-9]{6}$/);
  return { ...body, code: body.devCode ?? '' };
}

function verify(issued: { phone: string; code: string; challenge: string }, extra: Record<string, unknown> = {}): Promise<Response> {
  const { phone, code, challenge } = issued;
  return call('POST', PATHS.verifyOtp, { body: { phone, code, challenge, ...extra } });
}

async function login(phone: string, extra: Record<string, unknown> = {}): Promise<SessionResponse> {
  const res = await verify(await requestCode(phone), extra);
  expect(res.status).toBe(200);
  return SessionResponseSchema.parse(await res.json());
}

function wrongCode(code: string): string {
  return code === '000000' ? '000001' : '000000';
}

const T0 = 1_700_000_000_000;

/** Issue a code through the domain function, from a client of its own, at `now`. */
function issue(phone: string, now = T0, client = freshIp()) {
  return requestOtp(env.DB, { phone, client, secret: SECRET, now });
}

function check(phone: string, challenge: string, code: string, now = T0): Promise<void> {
  return verifyOtp(env.DB, { phone, challenge, code, secret: SECRET, now });
}

// ---------------------------------------------------------------------------------- OTP domain

describe('otp codes', () => {
  it('generates six digits, uniformly enough to hit every leading digit', () => {
    const codes = Array.from({ length: 2000 }, generateCode);
    for (const code of codes) expect(code).toMatch(/^[0-9]{6}$/);
    expect(new Set(codes.map((c) => c[0])).size).toBe(10);
    expect(new Set(codes).size).toBeGreaterThan(1990);
  });

  it('generates challenges of 32 base64url characters that never repeat', () => {
    const challenges = Array.from({ length: 500 }, generateChallenge);
    for (const challenge of challenges) expect(OtpChallengeSchema.safeParse(challenge).success).toBe(true);
    expect(new Set(challenges).size).toBe(500);
    // All 64 symbols occur, so the encoding is base64url, not hex or padded base64.
    expect(new Set(challenges.join('')).size).toBe(64);
  });

  it('hashes with the secret as pepper, bound to number, challenge and code', async () => {
    const [p, q, ch, other] = ['+4915112345678', '+4915112345679', 'a'.repeat(32), 'b'.repeat(32)];
    const a = await hashCode('s1', p, ch, '123456');
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(await hashCode('s1', p, ch, '123456')).toBe(a);
    expect(await hashCode('s2', p, ch, '123456')).not.toBe(a);
    expect(await hashCode('s1', q, ch, '123456')).not.toBe(a);
    expect(await hashCode('s1', p, other, '123456')).not.toBe(a);
    expect(await hashCode('s1', p, ch, '123457')).not.toBe(a);
    const c = await hashChallenge('s1', p, ch);
    expect(c).toMatch(/^[0-9a-f]{64}$/);
    expect(await hashChallenge('s1', q, ch)).not.toBe(c);
    expect(await hashChallenge('s2', p, ch)).not.toBe(c);
    expect(await hashClient('s1', '2001:db8::1')).not.toBe(await hashClient('s1', '2001:db8::2'));
    await expectApiError(hashCode('', p, ch, '123456'), 'unavailable');
    await expectApiError(hashChallenge('', p, ch), 'unavailable');
    await expectApiError(hashClient('', '2001:db8::1'), 'unavailable');
  });

  it('compares strings exactly', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
  });

  it('stores only keyed hashes, and a right code verifies once and deletes its challenge', async () => {
    const phone = freshPhone();
    const client = freshIp();
    const issued = await issue(phone, T0, client);
    expect(issued.expiresAt).toBe(T0 + OTP_TTL_MS);
    expect(issued.resendAt).toBe(T0 + (OTP_RESEND_WAITS_MS[1] ?? 0));
    const [row, ...others] = await challengeRows(phone);
    expect(others).toEqual([]);
    expect(row).toMatchObject({ attempts: 0, expires_at: T0 + OTP_TTL_MS, created_at: T0 });
    expect(row?.code_hash).toBe(await hashCode(SECRET, phone, issued.challenge, issued.code));
    expect(row?.challenge_hash).toBe(await hashChallenge(SECRET, phone, issued.challenge));
    // Neither secret appears anywhere in what is stored, nor does the client's address.
    const stored = JSON.stringify(await snapshot(phone));
    expect(stored).not.toContain(issued.challenge);
    expect(stored).not.toContain(client);
    expect(await resendRows(phone)).toEqual([
      { phone, client_hash: await hashClient(SECRET, client), first_at: T0, last_at: T0, count: 1 },
    ]);

    await check(phone, issued.challenge, issued.code, T0 + 1000);
    expect(await challengeRows(phone)).toEqual([]);
    // The same code cannot log in twice.
    await expectApiError(check(phone, issued.challenge, issued.code, T0 + 2000), 'otp_expired');
  });

  it('answers a challenge that was never issued with otp_expired and stores nothing', async () => {
    const phone = freshPhone();
    await expectApiError(check(phone, generateChallenge(), '123456', Date.now()), 'otp_expired');
    expect(await snapshot(phone)).toEqual({ user: null, devices: [], challenges: [], resends: [] });
  });

  it('accepts a code until the last millisecond of its lifetime, not after', async () => {
    const phone = freshPhone();
    const { code, challenge } = await issue(phone);
    await expectApiError(check(phone, challenge, code, T0 + OTP_TTL_MS), 'otp_expired');
    // An expired attempt does not consume an attempt either.
    expect((await challengeRows(phone))[0]?.attempts).toBe(0);
    await check(phone, challenge, code, T0 + OTP_TTL_MS - 1);
    expect(await challengeRows(phone)).toEqual([]);
  });

  it('counts wrong codes and burns the challenge on the last attempt, even for the right code afterwards', async () => {
    const phone = freshPhone();
    const { code, challenge } = await issue(phone);
    for (let i = 1; i < OTP_MAX_ATTEMPTS; i++) {
      await expectApiError(check(phone, challenge, wrongCode(code)), 'otp_invalid');
      expect((await challengeRows(phone))[0]?.attempts).toBe(i);
    }
    await expectApiError(check(phone, challenge, wrongCode(code)), 'otp_attempts_exceeded');
    await expectApiError(check(phone, challenge, code), 'otp_attempts_exceeded');
    expect((await challengeRows(phone))[0]?.attempts).toBe(OTP_MAX_ATTEMPTS);
  });

  it('lets the right code through on the last attempt', async () => {
    const phone = freshPhone();
    const { code, challenge } = await issue(phone);
    for (let i = 1; i < OTP_MAX_ATTEMPTS; i++) {
      await expectApiError(check(phone, challenge, wrongCode(code)), 'otp_invalid');
    }
    await check(phone, challenge, code);
    expect(await challengeRows(phone)).toEqual([]);
  });

  it('gives a burst of parallel guesses no more than the allowed attempts', async () => {
    const phone = freshPhone();
    const { code, challenge } = await issue(phone);
    const guesses = Array.from({ length: 12 }, () =>
      check(phone, challenge, wrongCode(code)).then(
        () => 'ok',
        (e: unknown) => (e instanceof ApiError ? e.code : 'other'),
      ),
    );
    const outcomes = await Promise.all(guesses);
    expect(outcomes.filter((o) => o === 'otp_invalid')).toHaveLength(OTP_MAX_ATTEMPTS - 1);
    expect(outcomes.filter((o) => o === 'otp_attempts_exceeded')).toHaveLength(12 - (OTP_MAX_ATTEMPTS - 1));
    expect((await challengeRows(phone))[0]?.attempts).toBe(OTP_MAX_ATTEMPTS);
  });

  it('lets only one of parallel right guesses log in', async () => {
    const phone = freshPhone();
    const { code, challenge } = await issue(phone);
    const outcomes = await Promise.all(
      Array.from({ length: 4 }, () =>
        check(phone, challenge, code).then(
          () => 'ok',
          (e: unknown) => (e instanceof ApiError ? e.code : 'other'),
        ),
      ),
    );
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'otp_expired')).toHaveLength(3);
  });

  it('keeps every challenge of a number apart: a new one replaces nothing, and each has its own attempts and code', async () => {
    const phone = freshPhone();
    const first = await issue(phone);
    for (let i = 0; i < OTP_MAX_ATTEMPTS; i++) {
      await check(phone, first.challenge, wrongCode(first.code)).catch(() => undefined);
    }
    const second = await issue(phone, T0 + 1000);
    const third = await issue(phone, T0 + 2000);
    expect((await challengeRows(phone)).map((r) => r.attempts)).toEqual([OTP_MAX_ATTEMPTS, 0, 0]);

    // A code works only under the challenge it was sent for.
    if (third.code !== second.code) {
      await expectApiError(check(phone, second.challenge, third.code, T0 + 3000), 'otp_invalid');
    }
    await expectApiError(check(phone, first.challenge, first.code, T0 + 3000), 'otp_attempts_exceeded');
    await check(phone, third.challenge, third.code, T0 + 3000);
    await check(phone, second.challenge, second.code, T0 + 3000);
    // Only the burned one is left, until it expires.
    expect((await challengeRows(phone)).map((r) => r.attempts)).toEqual([OTP_MAX_ATTEMPTS]);
  });
});

// ---------------------------------------------------------------------------------- tokens

const USER = '01JD0000000000000000000000';
const DEVICE = '01JD0000000000000000000001';

describe('tokens', () => {
  it('round-trips user and device and expires after ACCESS_TOKEN_TTL_MS (15 minutes)', async () => {
    const now = 1_700_000_000_000;
    const { token, expiresAt } = await signToken(SECRET, { userId: USER, deviceId: DEVICE }, now);
    expect(TOKEN_TTL_SECONDS * 1000).toBe(ACCESS_TOKEN_TTL_MS);
    expect(expiresAt).toBe(Math.floor(now / 1000) * 1000 + TOKEN_TTL_SECONDS * 1000);
    expect(await verifyToken(SECRET, token, now)).toEqual({ userId: USER, deviceId: DEVICE });
    expect(await verifyToken(SECRET, token, expiresAt - 1000)).toEqual({ userId: USER, deviceId: DEVICE });
    await expectApiError(verifyToken(SECRET, token, expiresAt), 'token_expired');
  });

  it('rejects tampering, other secrets and malformed tokens as invalid', async () => {
    const now = Date.now();
    const { token } = await signToken(SECRET, { userId: USER, deviceId: DEVICE }, now);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const flipped = `${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`;
    await expectApiError(verifyToken(SECRET, `${header}.${payload}.${flipped}`, now), 'token_invalid');
    await expectApiError(verifyToken('another-secret', token, now), 'token_invalid');
    await expectApiError(verifyToken(SECRET, 'not-a-token', now), 'token_invalid');
    await expectApiError(verifyToken(SECRET, '', now), 'token_invalid');
    await expectApiError(verifyToken(SECRET, 'a.b.c', now), 'token_invalid');
    // Claims swapped in from another token keep the old signature: invalid.
    const other = await signToken(SECRET, { userId: DEVICE, deviceId: USER }, now);
    await expectApiError(verifyToken(SECRET, `${header}.${other.token.split('.')[1]}.${signature}`, now), 'token_invalid');
  });

  it('reports an expired token as expired only when its signature is ours', async () => {
    const past = Date.now() - (TOKEN_TTL_SECONDS + 60) * 1000;
    const ours = await signToken(SECRET, { userId: USER, deviceId: DEVICE }, past);
    await expectApiError(verifyToken(SECRET, ours.token), 'token_expired');
    const forged = await signToken('attacker', { userId: USER, deviceId: DEVICE }, past);
    await expectApiError(verifyToken(SECRET, forged.token), 'token_invalid');
  });

  it('rejects tokens with missing or malformed claims, other algorithms and future iat', async () => {
    const iat = Math.floor(Date.now() / 1000);
    const exp = iat + 3600;
    await expectApiError(verifyToken(SECRET, await sign({ sub: USER, iat, exp }, SECRET, 'HS256')), 'token_invalid');
    await expectApiError(
      verifyToken(SECRET, await sign({ sub: 'x', did: DEVICE, iat, exp }, SECRET, 'HS256')),
      'token_invalid',
    );
    await expectApiError(verifyToken(SECRET, await sign({ sub: USER, did: DEVICE, iat }, SECRET, 'HS256')), 'token_invalid');
    await expectApiError(
      verifyToken(SECRET, await sign({ sub: USER, did: DEVICE, iat, exp }, SECRET, 'HS512')),
      'token_invalid',
    );
    await expectApiError(
      verifyToken(SECRET, await sign({ sub: USER, did: DEVICE, iat: iat + 3600, exp: exp + 3600 }, SECRET, 'HS256')),
      'token_invalid',
    );
    const unsigned = `${btoa(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${btoa(JSON.stringify({ sub: USER, did: DEVICE, iat, exp }))}.`;
    await expectApiError(verifyToken(SECRET, unsigned.replace(/=/g, '')), 'token_invalid');
  });

  it('refuses to sign or verify with an empty secret', async () => {
    await expectApiError(signToken('', { userId: USER, deviceId: DEVICE }, Date.now()), 'unavailable');
    const { token } = await signToken(SECRET, { userId: USER, deviceId: DEVICE }, Date.now());
    await expectApiError(verifyToken('', token), 'unavailable');
  });
});

// ---------------------------------------------------------------------------------- SMS

function envWith(vars: Record<string, string>): Env {
  return { ...env, ...vars } as unknown as Env;
}

describe('sms providers', () => {
  it('selects the dev provider, which returns the code in the response', async () => {
    const provider = smsProviderFor(envWith({ SMS_PROVIDER: 'dev' }));
    expect(provider).toBeInstanceOf(DevSmsProvider);
    expect(provider.returnsCodeInResponse).toBe(true);
    await expect(provider.send('+4915112345678', 'hi')).resolves.toBeUndefined();
  });

  it('reads the optional webhook settings', () => {
    expect(smsConfigFromEnv(envWith({ SMS_PROVIDER: 'webhook', SMS_WEBHOOK_URL: 'https://sms.test/send', SMS_WEBHOOK_TOKEN: 't' }))).toEqual({
      provider: 'webhook',
      webhookUrl: 'https://sms.test/send',
      webhookToken: 't',
    });
  });

  it('selects the webhook provider only when URL and token are set', () => {
    const provider = smsProviderFor(
      envWith({ SMS_PROVIDER: 'webhook', SMS_WEBHOOK_URL: 'https://sms.test/send', SMS_WEBHOOK_TOKEN: 'secret' }),
    );
    expect(provider).toBeInstanceOf(WebhookSmsProvider);
    expect(provider.returnsCodeInResponse).toBe(false);
    const incomplete: Record<string, string>[] = [
      { SMS_PROVIDER: 'webhook' },
      { SMS_PROVIDER: 'webhook', SMS_WEBHOOK_URL: 'https://sms.test/send' },
      { SMS_PROVIDER: 'webhook', SMS_WEBHOOK_TOKEN: 'secret' },
      { SMS_PROVIDER: 'webhook', SMS_WEBHOOK_URL: 'not a url', SMS_WEBHOOK_TOKEN: 'secret' },
    ];
    for (const vars of incomplete) {
      expect(() => smsProviderFor(envWith(vars))).toThrow(ApiError);
    }
  });

  it.each(['', 'twilio', 'DEV'])('refuses an unknown provider %j with unavailable', (name) => {
    let thrown: unknown;
    try {
      smsProviderFor(envWith({ SMS_PROVIDER: name }));
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(ApiError);
    expect((thrown as ApiError).code).toBe('unavailable');
  });

  it('POSTs {to, text} with the bearer token', async () => {
    const seen: Request[] = [];
    const provider = new WebhookSmsProvider('https://sms.test/send', 'tok', async (input, init) => {
      seen.push(new Request(input, init));
      return new Response('queued', { status: 202 });
    });
    await provider.send('+4915112345678', 'Your code is 123456');
    expect(seen).toHaveLength(1);
    const req = seen[0] as Request;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('https://sms.test/send');
    expect(req.headers.get('Authorization')).toBe('Bearer tok');
    expect(req.headers.get('Content-Type')).toBe('application/json');
    expect(await req.json()).toEqual({ to: '+4915112345678', text: 'Your code is 123456' });
  });

  it('turns webhook failures into unavailable', async () => {
    const failing = new WebhookSmsProvider('https://sms.test/send', 'tok', async () => new Response('no', { status: 500 }));
    await expectApiError(failing.send('+4915112345678', 'x'), 'unavailable');
    const unreachable = new WebhookSmsProvider('https://sms.test/send', 'tok', async () => {
      throw new TypeError('network down');
    });
    await expectApiError(unreachable.send('+4915112345678', 'x'), 'unavailable');
  });
});

// ---------------------------------------------------------------------------------- POST /v1/auth/otp

describe('POST /v1/auth/otp', () => {
  it('normalises the number, stores a challenge and returns it with the code in dev mode', async () => {
    const phone = freshPhone();
    const spaced = `${phone.slice(0, 3)} ${phone.slice(3, 6)} ${phone.slice(6)}`;
    const before = Date.now();
    const res = await call('POST', PATHS.requestOtp, { body: { phone: spaced } });
    expect(res.status).toBe(200);
    const body = OtpResponseSchema.parse(await res.json());
    const after = Date.now();
    expect(body.phone).toBe(phone);
    expect(body.devCode).toMatch(/^[0-9]{6}$/);
    expect(body.expiresAt).toBeGreaterThanOrEqual(before + OTP_TTL_MS);
    expect(body.expiresAt).toBeLessThanOrEqual(after + OTP_TTL_MS);
    // The next code from this client: after the first wait.
    expect(body.resendAt).toBe(body.expiresAt - OTP_TTL_MS + (OTP_RESEND_WAITS_MS[1] ?? 0));
    const rows = await challengeRows(phone);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.code_hash).toBe(await hashCode(SECRET, phone, body.challenge, body.devCode ?? ''));
    expect(rows[0]?.challenge_hash).toBe(await hashChallenge(SECRET, phone, body.challenge));
  });

  it('answers a second request from the same client within the wait with otp_rate_limited, storing nothing', async () => {
    const phone = freshPhone();
    const ip = freshIp();
    const first = await requestCode(phone, ip);
    const before = await snapshot(phone);
    const sentAt = Date.now();
    const res = await call('POST', PATHS.requestOtp, { body: { phone }, ip });
    const answeredAt = Date.now();
    expect(res.status).toBe(429);
    const body = ErrorResponseSchema.parse(await res.json());
    expect(body.error).toMatchObject({ code: 'otp_rate_limited', retryable: true });
    // Exactly the time left until the resendAt of the first answer.
    const retryAfterMs = body.error.retryAfterMs ?? -1;
    expect(retryAfterMs).toBeGreaterThanOrEqual(first.resendAt - answeredAt);
    expect(retryAfterMs).toBeLessThanOrEqual(first.resendAt - sentAt);
    expect(res.headers.get('Retry-After')).toBe(String(Math.ceil(retryAfterMs / 1000)));
    expect(await snapshot(phone)).toEqual(before);
    // The first code still works.
    expect((await verify(first)).status).toBe(200);
  });

  it('gives another client its own code at once, and both codes work', async () => {
    const phone = freshPhone();
    const mine = await requestCode(phone);
    const theirs = await requestCode(phone);
    expect(theirs.challenge).not.toBe(mine.challenge);
    expect(await challengeRows(phone)).toHaveLength(2);
    expect((await verify(theirs)).status).toBe(200);
    expect((await verify(mine)).status).toBe(200);
    expect(await challengeRows(phone)).toEqual([]);
  });

  it.each(['4915112345678', '+15555550123', '+49 151', 'call me maybe', '+1415555010x'])(
    'rejects %j as invalid_phone and stores nothing',
    async (phone) => {
      const res = await call('POST', PATHS.requestOtp, { body: { phone } });
      await expectError(res, 400, 'invalid_phone');
      const count = await env.DB.prepare('select count(*) as n from otp_challenges where phone = ?').bind(phone).first<{ n: number }>();
      expect(count?.n).toBe(0);
    },
  );

  it('answers malformed JSON with invalid_json', async () => {
    await expectError(await call('POST', PATHS.requestOtp, { raw: '{"phone": "+4915112345678"' }), 400, 'invalid_json');
    await expectError(await call('POST', PATHS.requestOtp, { raw: '{"phone": +4915112345678}' }), 400, 'invalid_json');
  });

  it('answers an empty body with a typed 400', async () => {
    // Whether "no body" counts as malformed JSON or as a missing field is worker/validate.ts's
    // call (today it depends on the Content-Type); either way it is a typed body error.
    for (const res of [await call('POST', PATHS.requestOtp, { raw: '' }), await call('POST', PATHS.requestOtp)]) {
      expect(res.status).toBe(400);
      const body = ErrorResponseSchema.parse(await res.json());
      expect(['invalid_json', 'validation_failed']).toContain(body.error.code);
    }
  });

  it.each([
    ['missing phone', {}],
    ['phone of wrong type', { phone: 4915112345678 }],
    ['phone too short', { phone: '+1' }],
    ['unknown field', { phone: '+4915112345678', extra: true }],
    ['array body', ['+4915112345678']],
    ['null body', null],
  ])('answers %s with validation_failed', async (_name, body) => {
    await expectError(await call('POST', PATHS.requestOtp, { raw: JSON.stringify(body) }), 400, 'validation_failed');
  });

  it('refuses an oversized body with 413 and stores nothing', async () => {
    const phone = freshPhone();
    const raw = JSON.stringify({ phone, padding: 'x'.repeat(MAX_HTTP_BODY_BYTES) });
    await expectError(await call('POST', PATHS.requestOtp, { raw }), 413, 'payload_too_large');
    expect(await snapshot(phone)).toEqual({ user: null, devices: [], challenges: [], resends: [] });
  });
});

// ---------------------------------------------------------------------------------- POST /v1/auth/verify

describe('POST /v1/auth/verify', () => {
  it('creates the account on the first login and a new device on every login', async () => {
    const phone = freshPhone();
    const first = await login(phone, { deviceName: 'Pixel', platform: 'android' });
    expect(first.newUser).toBe(true);
    // The device that created the account reads its (empty) history; later logins without a PIN do not.
    expect(first.history).toBe(true);
    expect(first.expiresAt).toBeGreaterThan(Date.now() + (TOKEN_TTL_SECONDS - 60) * 1000);
    expect(first.refreshToken.startsWith(`${first.deviceId}.`)).toBe(true);
    expect(await verifyToken(SECRET, first.token)).toEqual({ userId: first.userId, deviceId: first.deviceId });

    const second = await login(phone);
    expect(second.newUser).toBe(false);
    expect(second.history).toBe(false);
    expect(second.userId).toBe(first.userId);
    expect(second.deviceId).not.toBe(first.deviceId);

    const users = await env.DB.prepare('select * from users where phone = ?').bind(phone).all();
    expect(users.results).toHaveLength(1);
    const devices = await env.DB.prepare('select id, name, platform, revoked_at from devices where user_id = ? order by id')
      .bind(first.userId)
      .all();
    expect(devices.results).toEqual([
      { id: first.deviceId, name: 'Pixel', platform: 'android', revoked_at: null },
      { id: second.deviceId, name: null, platform: null, revoked_at: null },
    ]);
    // The challenges were consumed.
    expect(await challengeRows(phone)).toEqual([]);
  });

  it('accepts the same number in another notation', async () => {
    const phone = freshPhone();
    const issued = await requestCode(`00${phone.slice(1)}`);
    expect(issued.phone).toBe(phone);
    const res = await verify({ ...issued, phone: `${phone.slice(0, 3)} ${phone.slice(3)}` });
    expect(res.status).toBe(200);
    const session = SessionResponseSchema.parse(await res.json());
    const user = await env.DB.prepare('select phone from users where id = ?').bind(session.userId).first<{ phone: string }>();
    expect(user?.phone).toBe(phone);
  });

  it('answers a wrong code with otp_invalid, counts the attempt and creates nothing', async () => {
    const phone = freshPhone();
    const issued = await requestCode(phone);
    const before = await snapshot(phone);
    await expectError(await verify({ ...issued, code: wrongCode(issued.code) }), 401, 'otp_invalid');
    const after = await snapshot(phone);
    expect(after.user).toBeNull();
    expect(after.devices).toEqual([]);
    expect(after.challenges).toEqual(before.challenges.map((r) => ({ ...r, attempts: 1 })));
  });

  it('burns the challenge after five wrong attempts, even for the right code', async () => {
    const phone = freshPhone();
    const issued = await requestCode(phone);
    for (let i = 1; i < OTP_MAX_ATTEMPTS; i++) {
      await expectError(await verify({ ...issued, code: wrongCode(issued.code) }), 401, 'otp_invalid');
    }
    await expectError(await verify({ ...issued, code: wrongCode(issued.code) }), 429, 'otp_attempts_exceeded');
    await expectError(await verify(issued), 429, 'otp_attempts_exceeded');
    expect(await env.DB.prepare('select id from users where phone = ?').bind(phone).first()).toBeNull();
    // A new code (another client, so no wait) works.
    expect((await verify(await requestCode(phone))).status).toBe(200);
  });

  it('answers a challenge that was never issued with otp_expired', async () => {
    const phone = freshPhone();
    await expectError(await verify({ phone, code: '123456', challenge: generateChallenge() }), 401, 'otp_expired');
    expect(await snapshot(phone)).toEqual({ user: null, devices: [], challenges: [], resends: [] });
  });

  it('does not let one code log in twice', async () => {
    const phone = freshPhone();
    const issued = await requestCode(phone);
    expect((await verify(issued)).status).toBe(200);
    const before = await snapshot(phone);
    await expectError(await verify(issued), 401, 'otp_expired');
    expect(await snapshot(phone)).toEqual(before);
  });

  it('rejects an invalid number before looking at the code', async () => {
    await expectError(
      await verify({ phone: '+15555550123', code: '123456', challenge: generateChallenge() }),
      400,
      'invalid_phone',
    );
  });

  it.each([
    ['five-digit code', { code: '12345' }],
    ['letters in code', { code: '12a456' }],
    ['numeric code', { code: 123456 }],
    ['missing code', { code: undefined }],
    ['missing challenge', { challenge: undefined }],
    ['short challenge', { challenge: 'a'.repeat(31) }],
    ['long challenge', { challenge: 'a'.repeat(33) }],
    ['challenge with padding', { challenge: `${'a'.repeat(31)}=` }],
    ['challenge of wrong type', { challenge: 42 }],
    ['unknown platform', { platform: 'amiga' }],
    ['empty device name', { deviceName: '' }],
    ['device name too long', { deviceName: 'x'.repeat(65) }],
    ['unknown field', { admin: true }],
  ])('answers %s with validation_failed without using an attempt', async (_name, patch) => {
    const phone = freshPhone();
    const issued = await requestCode(phone);
    const before = await snapshot(phone);
    await expectError(await verify(issued, patch), 400, 'validation_failed');
    expect(await snapshot(phone)).toEqual(before);
  });

  it('answers malformed JSON with invalid_json', async () => {
    await expectError(await call('POST', PATHS.verifyOtp, { raw: "{phone: '+4915112345678'}" }), 400, 'invalid_json');
  });
});

// ---------------------------------------------------------------------------------- tokens over HTTP

describe('authentication on /v1/me', () => {
  it('accepts a fresh token', async () => {
    const session = await login(freshPhone());
    const res = await call('GET', PATHS.me, { token: session.token });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { userId: string }).userId).toBe(session.userId);
  });

  it('requires a token', async () => {
    await expectError(await call('GET', PATHS.me), 401, 'unauthorized');
  });

  it('requires the Bearer scheme', async () => {
    const session = await login(freshPhone());
    await expectError(await call('GET', PATHS.me, { headers: { Authorization: session.token } }), 401, 'unauthorized');
    await expectError(
      await call('GET', PATHS.me, { headers: { Authorization: `Basic ${session.token}` } }),
      401,
      'unauthorized',
    );
  });

  it('ignores ?token= on ordinary requests', async () => {
    const session = await login(freshPhone());
    await expectError(await call('GET', `${PATHS.me}?token=${session.token}`), 401, 'unauthorized');
  });

  it('rejects a malformed or foreign token as token_invalid', async () => {
    const session = await login(freshPhone());
    await expectError(await call('GET', PATHS.me, { token: 'garbage' }), 401, 'token_invalid');
    const foreign = await signToken('not-our-secret', { userId: session.userId, deviceId: session.deviceId }, Date.now());
    await expectError(await call('GET', PATHS.me, { token: foreign.token }), 401, 'token_invalid');
  });

  it('rejects an expired token of a live device as token_expired', async () => {
    const session = await login(freshPhone());
    const old = await signToken(
      SECRET,
      { userId: session.userId, deviceId: session.deviceId },
      Date.now() - (TOKEN_TTL_SECONDS + 5) * 1000,
    );
    await expectError(await call('GET', PATHS.me, { token: old.token }), 401, 'token_expired');
  });

  it('rejects a well-signed token for a device that does not exist or is not the user’s', async () => {
    const alice = await login(freshPhone());
    const bob = await login(freshPhone());
    const ghost = await signToken(SECRET, { userId: alice.userId, deviceId: '01JD00000000000000000000ZZ' }, Date.now());
    await expectError(await call('GET', PATHS.me, { token: ghost.token }), 401, 'device_revoked');
    // Alice's user id with Bob's device: the pairing must match, not just both exist.
    const mixed = await signToken(SECRET, { userId: alice.userId, deviceId: bob.deviceId }, Date.now());
    await expectError(await call('GET', PATHS.me, { token: mixed.token }), 401, 'device_revoked');
  });

  it('records when a device was last seen', async () => {
    const session = await login(freshPhone());
    const before = Date.now();
    expect((await call('GET', PATHS.me, { token: session.token })).status).toBe(200);
    const row = await env.DB.prepare('select last_seen_at from devices where id = ?').bind(session.deviceId).first<{ last_seen_at: number }>();
    expect(row?.last_seen_at).toBeGreaterThanOrEqual(before);
  });
});

describe('requireAuth with WebSocket upgrades', () => {
  const probe = new Hono<AppEnv>().get('/probe', requireAuth, (c) => c.json(c.get('auth')));
  probe.onError(onError);

  it('never takes the token from ?token=, not even on an upgrade request', async () => {
    const session = await login(freshPhone());
    const upgrade = await probe.request(`/probe?token=${session.token}`, { headers: { Upgrade: 'websocket' } }, env);
    await expectError(upgrade, 401, 'unauthorized');
    const plain = await probe.request(`/probe?token=${session.token}`, {}, env);
    await expectError(plain, 401, 'unauthorized');
    const header = await probe.request('/probe', { headers: { Upgrade: 'websocket', Authorization: `Bearer ${session.token}` } }, env);
    expect(header.status).toBe(200);
    expect(await header.json()).toEqual({ userId: session.userId, deviceId: session.deviceId });
  });

  it('reads the Authorization header only', () => {
    const req = new Request('http://x/probe?token=query', { headers: { Upgrade: 'websocket', Authorization: 'Bearer header' } });
    expect(tokenFromRequest(req)).toBe('header');
    expect(tokenFromRequest(new Request('http://x/probe?token=query', { headers: { Upgrade: 'websocket' } }))).toBeNull();
    expect(tokenFromRequest(new Request('http://x/', { headers: { Authorization: 'bearer  abc ' } }))).toBe('abc');
    expect(tokenFromRequest(new Request('http://x/', { headers: { Authorization: 'Bearer a b' } }))).toBeNull();
  });
});

// ---------------------------------------------------------------------------------- logout

describe('POST /v1/auth/logout', () => {
  it('revokes only the calling device', async () => {
    const phone = freshPhone();
    const laptop = await login(phone);
    const phoneDevice = await login(phone);
    const res = await call('POST', PATHS.logout, { token: laptop.token });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');

    const rows = await env.DB.prepare('select id, revoked_at from devices where user_id = ? order by id')
      .bind(laptop.userId)
      .all<{ id: string; revoked_at: number | null }>();
    const byId = new Map(rows.results.map((r) => [r.id, r.revoked_at]));
    expect(byId.get(laptop.deviceId)).toEqual(expect.any(Number));
    expect(byId.get(phoneDevice.deviceId)).toBeNull();

    await expectError(await call('GET', PATHS.me, { token: laptop.token }), 401, 'device_revoked');
    expect((await call('GET', PATHS.me, { token: phoneDevice.token })).status).toBe(200);
    // Logging out twice: the token is dead.
    await expectError(await call('POST', PATHS.logout, { token: laptop.token }), 401, 'device_revoked');
  });

  it('requires a token and changes nothing without one', async () => {
    const phone = freshPhone();
    const session = await login(phone);
    const before = await snapshot(phone);
    await expectError(await call('POST', PATHS.logout), 401, 'unauthorized');
    await expectError(await call('POST', PATHS.logout, { token: 'garbage' }), 401, 'token_invalid');
    expect(await snapshot(phone)).toEqual(before);
    expect((await call('GET', PATHS.me, { token: session.token })).status).toBe(200);
  });

  it('closes the device’s open WebSocket as revoked', async () => {
    const session = await login(freshPhone());
    const ticket = await call('POST', PATHS.connectTicket, { token: session.token });
    expect(ticket.status).toBe(200);
    const { ticket: value } = (await ticket.json()) as { ticket: string };
    const res = await SELF.fetch(`${BASE}${PATHS.connect}?ticket=${encodeURIComponent(value)}`, {
      headers: { Upgrade: 'websocket' },
    });
    expect(res.status).toBe(101);
    const ws = res.webSocket;
    if (!ws) throw new Error('no websocket');
    const closed = new Promise<number>((resolve) => ws.addEventListener('close', (e) => resolve(e.code)));
    ws.accept();
    expect((await call('POST', PATHS.logout, { token: session.token })).status).toBe(204);
    expect(await closed).toBe(4001);
  });
});
