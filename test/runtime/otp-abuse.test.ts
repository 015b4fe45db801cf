// Abuse of the OTP login: every edge limit at its edge (the request that passes, the one refused,
// and that the refused one stored and sent nothing), the growing waits per number and client, a
// stranger hammering someone else's number, challenges that do not belong, the per-IP sign-up
// limit, the bound on stored challenges, a failed SMS, and IP_LIMITS=off in local development.
import { SELF } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { Hono } from 'hono';
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import {
  ErrorResponseSchema,
  OTP_RESEND_RESET_MS,
  OTP_RESEND_WAITS_MS,
  OtpResponseSchema,
  PATHS,
  RATE_LIMITS,
  SessionResponseSchema,
  type ErrorCode,
} from '../../protocol/index.ts';
import type { AppEnv } from '../../worker/app-env.ts';
import {
  OTP_MAX_ATTEMPTS,
  OTP_MAX_LIVE_CHALLENGES,
  OTP_TTL_MS,
  generateChallenge,
  hashClient,
  requestOtp,
  verifyOtp,
} from '../../worker/auth/otp.ts';
import { ApiError, onError } from '../../worker/errors.ts';
import { authRoutes } from '../../worker/routes/auth.ts';

const BASE = 'http://example.com';
const SECRET = env.TOKEN_SECRET;
const T0 = 1_700_000_000_000;
const SECOND = 1_000;

// Valid German mobile numbers; steps of 1,000 give each number a block (the per-prefix edge
// limit's unit) of its own, and the random start keeps runs apart.
let phoneCounter = 10_000_000 + Math.floor(Math.random() * 80_000) * 1_000;
function freshPhone(): string {
  phoneCounter += 1_000;
  return `+49151${phoneCounter}`;
}

/** `count` numbers of one fresh block of 1,000 (they share a phone prefix). */
function numbersOfOneBlock(count: number): string[] {
  const block = freshPhone().slice(0, -3);
  return Array.from({ length: count }, (_, i) => `${block}${String(i).padStart(3, '0')}`);
}

// The edge counters outlive a test run by up to a minute, so addresses are random per run.
const RUN = Array.from(crypto.getRandomValues(new Uint16Array(2)), (n) => n.toString(16)).join(':');
let ipCounter = 0;
function freshIp(): string {
  ipCounter += 1;
  return `2001:db8:${RUN}:${ipCounter.toString(16)}::1`;
}

type Answer = {
  status: number;
  code: ErrorCode | undefined;
  retryAfterMs: number | undefined;
  retryAfter: string | null;
  body: unknown;
};

async function post(path: string, body: unknown, ip: string): Promise<Answer> {
  const res = await SELF.fetch(`${BASE}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'CF-Connecting-IP': ip },
    body: JSON.stringify(body),
  });
  const json: unknown = await res.json();
  const error = res.status >= 400 ? ErrorResponseSchema.parse(json).error : undefined;
  return {
    status: res.status,
    code: error?.code,
    retryAfterMs: error?.retryAfterMs,
    retryAfter: res.headers.get('Retry-After'),
    body: json,
  };
}

type Issued = { phone: string; code: string; challenge: string; resendAt: number };

async function requestCode(phone: string, ip = freshIp()): Promise<Issued> {
  const answer = await post(PATHS.requestOtp, { phone }, ip);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  const body = OtpResponseSchema.parse(answer.body);
  return { phone: body.phone, code: body.devCode ?? '', challenge: body.challenge, resendAt: body.resendAt };
}

function verify(issued: { phone: string; code: string; challenge?: unknown }, ip = freshIp()): Promise<Answer> {
  const { phone, code, challenge } = issued;
  return post(PATHS.verifyOtp, { phone, code, challenge }, ip);
}

function wrongCode(code: string): string {
  return code === '000000' ? '000001' : '000000';
}

async function rows(table: 'otp_challenges' | 'otp_resends', phone: string): Promise<Record<string, unknown>[]> {
  const order = table === 'otp_challenges' ? 'id' : 'client_hash';
  return (await env.DB.prepare(`select * from ${table} where phone = ? order by ${order}`).bind(phone).all()).results;
}

async function attemptsOf(phone: string): Promise<number[]> {
  return (await rows('otp_challenges', phone)).map((r) => r.attempts as number);
}

async function userOf(phone: string): Promise<unknown> {
  return env.DB.prepare('select id from users where phone = ?').bind(phone).first();
}

/** What D1 holds about a number's login: to show a refused request stored nothing. */
async function stored(phone: string): Promise<unknown> {
  return { user: await userOf(phone), challenges: await rows('otp_challenges', phone), resends: await rows('otp_resends', phone) };
}

// The dev SMS provider logs each message as `[dev sms] to <phone>: ...`; the worker runs in this
// isolate, so a spy on console.log sees every SMS it sends.
let log: MockInstance<typeof console.log>;
beforeEach(() => {
  log = vi.spyOn(console, 'log');
});
afterEach(() => {
  log.mockRestore();
});

function smsSentTo(phone: string): number {
  return log.mock.calls.filter((args) => String(args[0]).startsWith(`[dev sms] to ${phone}:`)).length;
}

/**
 * Runs `scenario` so that all its requests fall into one window of the edge counters. Miniflare's
 * windows are fixed and aligned to the wall clock, so a scenario that straddles a boundary sees
 * two windows: it is then run again with fresh addresses and numbers (a scenario takes far less
 * than a window, so the second run fits). Assertions go after, on what the scenario returned.
 */
async function inOneWindow<T>(periodSeconds: number, scenario: () => Promise<T>): Promise<T> {
  const windowOf = (): number => Math.floor(Date.now() / (periodSeconds * SECOND));
  for (let run = 0; run < 3; run++) {
    const start = windowOf();
    const result = await scenario();
    if (windowOf() === start) return result;
  }
  throw new Error('the scenario straddled a window boundary three times in a row');
}

/** What every edge refusal looks like: 429 rate_limited, retry after the binding's window. */
function expectEdgeRefusal(answer: Answer, name: keyof typeof RATE_LIMITS): void {
  const limit = RATE_LIMITS[name];
  expect(limit.kind).toBe('edge');
  const periodMs = 'periodSeconds' in limit ? limit.periodSeconds * SECOND : 0;
  expect(answer).toMatchObject({ status: 429, code: 'rate_limited', retryAfterMs: periodMs, retryAfter: String(periodMs / SECOND) });
  expect((answer.body as { error: { retryable: boolean } }).error.retryable).toBe(true);
}

function limitOf(name: keyof typeof RATE_LIMITS): number {
  const limit = RATE_LIMITS[name];
  return 'limit' in limit ? limit.limit : 0;
}

// ---------------------------------------------------------------------------------- edge limits

describe('edge limits on the OTP routes', () => {
  it('otp_request_ip: the sixth code request from one address in a minute is refused, storing and sending nothing', async () => {
    const limit = limitOf('otp_request_ip');
    const { passed, refused, refusedPhone } = await inOneWindow(60, async () => {
      const ip = freshIp();
      const passed: Answer[] = [];
      for (let i = 0; i < limit; i++) passed.push(await post(PATHS.requestOtp, { phone: freshPhone() }, ip));
      const refusedPhone = freshPhone();
      const refused = await post(PATHS.requestOtp, { phone: refusedPhone }, ip);
      return { passed, refused, refusedPhone };
    });
    expect(passed.map((a) => a.status)).toEqual(Array(limit).fill(200));
    expectEdgeRefusal(refused, 'otp_request_ip');
    expect(await stored(refusedPhone)).toEqual({ user: null, challenges: [], resends: [] });
    expect(smsSentTo(refusedPhone)).toBe(0);
    // Another address asks for the same number at once.
    await requestCode(refusedPhone);
    expect(smsSentTo(refusedPhone)).toBe(1);
  });

  it('otp_request_prefix: the eleventh code request to one block of 1,000 numbers in a minute is refused, whoever asks', async () => {
    const limit = limitOf('otp_request_prefix');
    const { passed, refused, refusedPhone } = await inOneWindow(60, async () => {
      const numbers = numbersOfOneBlock(limit + 1);
      const passed: Answer[] = [];
      for (const phone of numbers.slice(0, limit)) passed.push(await post(PATHS.requestOtp, { phone }, freshIp()));
      const refusedPhone = numbers[limit] ?? '';
      const refused = await post(PATHS.requestOtp, { phone: refusedPhone }, freshIp());
      return { passed, refused, refusedPhone };
    });
    expect(passed.map((a) => a.status)).toEqual(Array(limit).fill(200));
    expectEdgeRefusal(refused, 'otp_request_prefix');
    expect(await stored(refusedPhone)).toEqual({ user: null, challenges: [], resends: [] });
    expect(smsSentTo(refusedPhone)).toBe(0);
    // Numbers of other blocks are not affected.
    await requestCode(freshPhone());
  });

  it('otp_verify_ip: the 21st verification from one address in a minute is refused before the code is looked at', async () => {
    const limit = limitOf('otp_verify_ip');
    const { passed, refused, issued, before } = await inOneWindow(60, async () => {
      const issued = await requestCode(freshPhone());
      const before = await stored(issued.phone);
      const ip = freshIp();
      const passed: Answer[] = [];
      for (let i = 0; i < limit; i++) {
        passed.push(await verify({ phone: freshPhone(), code: '123456', challenge: generateChallenge() }, ip));
      }
      // Even the right code and challenge.
      const refused = await verify(issued, ip);
      return { passed, refused, issued, before };
    });
    expect(passed.map((a) => a.code)).toEqual(Array(limit).fill('otp_expired'));
    expectEdgeRefusal(refused, 'otp_verify_ip');
    // No attempt taken, no account: the challenge is as it was and still logs in from elsewhere.
    expect(await stored(issued.phone)).toEqual(before);
    const elsewhere = await verify(issued);
    expect(elsewhere.status).toBe(200);
    expect(SessionResponseSchema.parse(elsewhere.body).newUser).toBe(true);
  });

  it('signup_ip: the fourth new account from one address in a minute is refused; logins of existing accounts still pass', async () => {
    const limit = limitOf('signup_ip');
    // An account made earlier, from another address.
    const existing = await requestCode(freshPhone());
    expect((await verify(existing)).status).toBe(200);

    const { newAccounts, refused, refusedIssued, before, login } = await inOneWindow(60, async () => {
      const ip = freshIp();
      const newAccounts: Answer[] = [];
      for (let i = 0; i < limit; i++) newAccounts.push(await verify(await requestCode(freshPhone()), ip));
      const refusedIssued = await requestCode(freshPhone());
      const before = await stored(refusedIssued.phone);
      const refused = await verify(refusedIssued, ip);
      const login = await verify(await requestCode(existing.phone), ip);
      return { newAccounts, refused, refusedIssued, before, login };
    });
    expect(newAccounts.map((a) => a.status)).toEqual(Array(limit).fill(200));
    expect(newAccounts.map((a) => SessionResponseSchema.parse(a.body).newUser)).toEqual(Array(limit).fill(true));
    expectEdgeRefusal(refused, 'signup_ip');
    // Refused after the code was found right, yet nothing changed: no account, and the attempt
    // was given back, so the same code and challenge still work (here from another address).
    expect(await stored(refusedIssued.phone)).toEqual(before);
    expect(await userOf(refusedIssued.phone)).toBeNull();
    expect(login.status).toBe(200);
    expect(SessionResponseSchema.parse(login.body).newUser).toBe(false);
    const later = await verify(refusedIssued);
    expect(later.status).toBe(200);
    expect(SessionResponseSchema.parse(later.body).newUser).toBe(true);
  });
});

// ---------------------------------------------------------------------------------- growing waits

describe('growing waits between code requests for one number from one client', () => {
  it('lets the first request through at once, then waits 30 s, 1 min, 2 min, 5 min, 10 min and an hour each', async () => {
    const phone = freshPhone();
    const client = freshIp();
    const issue = (now: number) => requestOtp(env.DB, { phone, client, secret: SECRET, now });

    let now = T0;
    let next = (await issue(now)).resendAt;
    const waits: number[] = [next - now];
    for (let n = 2; n <= OTP_RESEND_WAITS_MS.length + 1; n++) {
      // A millisecond early: refused with exactly that millisecond to wait, and nothing changes.
      const before = await stored(phone);
      const refused = await issue(next - 1).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ApiError);
      expect(refused).toMatchObject({ code: 'otp_rate_limited', retryAfterMs: 1 });
      expect(await stored(phone)).toEqual(before);
      now = next;
      next = (await issue(now)).resendAt;
      waits.push(next - now);
    }
    expect(waits).toEqual([...OTP_RESEND_WAITS_MS.slice(1), OTP_RESEND_WAITS_MS.at(-1), OTP_RESEND_WAITS_MS.at(-1)]);
    expect(waits.slice(0, 6)).toEqual([30 * SECOND, 60 * SECOND, 120 * SECOND, 300 * SECOND, 600 * SECOND, 3_600 * SECOND]);

    const [row] = await rows('otp_resends', phone);
    expect(row).toMatchObject({
      client_hash: await hashClient(SECRET, client),
      first_at: T0,
      last_at: now,
      count: OTP_RESEND_WAITS_MS.length + 1,
    });
  });

  it('answers the exact wait left, lets one of a parallel burst through, and restarts the count a day after its first request', async () => {
    const phone = freshPhone();
    const client = freshIp();
    const issue = (now: number) => requestOtp(env.DB, { phone, client, secret: SECRET, now });
    const outcome = (now: number) =>
      issue(now).then(
        (issued) => ({ ok: true as const, resendAt: issued.resendAt }),
        (e: unknown) => ({ ok: false as const, code: (e as ApiError).code, retryAfterMs: (e as ApiError).retryAfterMs }),
      );

    const burst = await Promise.all(Array.from({ length: 8 }, () => outcome(T0)));
    expect(burst.filter((o) => o.ok)).toHaveLength(1);
    expect(burst.filter((o) => !o.ok)).toEqual(Array(7).fill({ ok: false, code: 'otp_rate_limited', retryAfterMs: 30 * SECOND }));
    expect(await outcome(T0 + 12_345)).toEqual({ ok: false, code: 'otp_rate_limited', retryAfterMs: 30 * SECOND - 12_345 });

    // Use up the waits up to the hourly one.
    let now = T0;
    for (const wait of OTP_RESEND_WAITS_MS.slice(1)) {
      now += wait;
      await issue(now);
    }
    // Late in the day: the hourly wait would run past the reset, so the reset is the answer.
    const late = T0 + OTP_RESEND_RESET_MS - 10 * 60 * SECOND;
    expect(await outcome(late)).toEqual({ ok: true, resendAt: T0 + OTP_RESEND_RESET_MS });
    expect(await outcome(T0 + OTP_RESEND_RESET_MS - 1)).toEqual({ ok: false, code: 'otp_rate_limited', retryAfterMs: 1 });
    // The reset: free, and the next wait is the first one again.
    const reset = T0 + OTP_RESEND_RESET_MS;
    expect(await outcome(reset)).toEqual({ ok: true, resendAt: reset + 30 * SECOND });
    expect(await rows('otp_resends', phone)).toEqual([
      { phone, client_hash: await hashClient(SECRET, client), first_at: reset, last_at: reset, count: 1 },
    ]);
  });

  it('counts per number and per client: another client, or another number, does not wait', async () => {
    const phone = freshPhone();
    const client = freshIp();
    await requestOtp(env.DB, { phone, client, secret: SECRET, now: T0 });
    await expect(requestOtp(env.DB, { phone, client, secret: SECRET, now: T0 })).rejects.toMatchObject({ code: 'otp_rate_limited' });
    await requestOtp(env.DB, { phone, client: freshIp(), secret: SECRET, now: T0 });
    await requestOtp(env.DB, { phone: freshPhone(), client, secret: SECRET, now: T0 });
    expect(await rows('otp_resends', phone)).toHaveLength(2);
  });

  it('over HTTP: the refusal is 429 otp_rate_limited with the exact wait, and sends no SMS', async () => {
    const phone = freshPhone();
    const ip = freshIp();
    const first = await requestCode(phone, ip);
    expect(smsSentTo(phone)).toBe(1);
    const before = await stored(phone);
    const sentAt = Date.now();
    const refused = await post(PATHS.requestOtp, { phone }, ip);
    const answeredAt = Date.now();
    expect(refused).toMatchObject({ status: 429, code: 'otp_rate_limited' });
    const retryAfterMs = refused.retryAfterMs ?? -1;
    expect(retryAfterMs).toBeGreaterThanOrEqual(first.resendAt - answeredAt);
    expect(retryAfterMs).toBeLessThanOrEqual(first.resendAt - sentAt);
    expect(refused.retryAfter).toBe(String(Math.ceil(retryAfterMs / SECOND)));
    expect(await stored(phone)).toEqual(before);
    expect(smsSentTo(phone)).toBe(1);
  });
});

// ---------------------------------------------------------------------------------- strangers

describe('a stranger hammering someone else’s number', () => {
  it('neither replaces nor burns the owner’s code: the owner logs in after the stranger is refused', async () => {
    const owner = await requestCode(freshPhone(), freshIp());
    const stranger = freshIp();

    // Code requests for the owner's number until refused: the second already waits.
    const requests: Answer[] = [];
    for (let i = 0; i < 10 && requests.at(-1)?.status !== 429; i++) {
      requests.push(await post(PATHS.requestOtp, { phone: owner.phone }, stranger));
    }
    expect(requests.map((a) => a.status)).toEqual([200, 429]);
    expect(requests[1]?.code).toBe('otp_rate_limited');
    const theirs = OtpResponseSchema.parse(requests[0]?.body);

    // Wrong codes under the stranger's own challenge burn that challenge only.
    const ownGuesses: (ErrorCode | undefined)[] = [];
    for (let i = 0; i < OTP_MAX_ATTEMPTS + 1; i++) {
      const guess = { phone: owner.phone, code: wrongCode(theirs.devCode ?? ''), challenge: theirs.challenge };
      ownGuesses.push((await verify(guess, stranger)).code);
    }
    expect(ownGuesses).toEqual([...Array(OTP_MAX_ATTEMPTS - 1).fill('otp_invalid'), 'otp_attempts_exceeded', 'otp_attempts_exceeded']);
    expect(await attemptsOf(owner.phone)).toEqual([0, OTP_MAX_ATTEMPTS]);

    // Without a challenge: refused as malformed, before anything is counted.
    const noChallenge = await verify({ phone: owner.phone, code: owner.code }, stranger);
    expect(noChallenge).toMatchObject({ status: 400, code: 'validation_failed' });

    // With challenges that are not the owner's (made up, or of another number), until refused.
    const elsewhere = await requestCode(freshPhone());
    const guesses: Answer[] = [];
    for (let i = 0; i < 60 && guesses.at(-1)?.status !== 429; i++) {
      const challenge = i % 2 === 0 ? generateChallenge() : elsewhere.challenge;
      guesses.push(await verify({ phone: owner.phone, code: String(i).padStart(6, '0'), challenge }, stranger));
    }
    expect(guesses.at(-1)?.code).toBe('rate_limited');
    expect(new Set(guesses.slice(0, -1).map((a) => a.code))).toEqual(new Set(['otp_expired']));

    // Nothing of the owner's was touched, nor the other number's.
    expect(await attemptsOf(owner.phone)).toEqual([0, OTP_MAX_ATTEMPTS]);
    expect(await attemptsOf(elsewhere.phone)).toEqual([0]);
    const login = await verify(owner, freshIp());
    expect(login.status).toBe(200);
    expect(await attemptsOf(owner.phone)).toEqual([OTP_MAX_ATTEMPTS]);
  });
});

// ---------------------------------------------------------------------------------- challenges that do not belong

describe('verifying with a challenge that does not belong', () => {
  it.each([
    ['no challenge', undefined],
    ['an empty challenge', ''],
    ['a challenge one character short', 'a'.repeat(31)],
    ['a challenge with characters outside base64url', `${'a'.repeat(31)}+`],
  ])('answers %s with validation_failed and burns nothing', async (_name, challenge) => {
    const owner = await requestCode(freshPhone());
    const before = await stored(owner.phone);
    const answer = await verify({ phone: owner.phone, code: owner.code, challenge });
    expect(answer).toMatchObject({ status: 400, code: 'validation_failed' });
    expect(await stored(owner.phone)).toEqual(before);
  });

  it('answers another number’s challenge, or one never issued, with otp_expired and burns nothing on either number', async () => {
    const owner = await requestCode(freshPhone());
    const other = await requestCode(freshPhone());
    const ownerBefore = await stored(owner.phone);
    const otherBefore = await stored(other.phone);
    // The other number's challenge, even with its own right code, and the owner's right code.
    const expired = { status: 401, code: 'otp_expired' };
    expect(await verify({ phone: owner.phone, code: other.code, challenge: other.challenge })).toMatchObject(expired);
    expect(await verify({ phone: owner.phone, code: owner.code, challenge: other.challenge })).toMatchObject(expired);
    // The owner's challenge with the other number, and a challenge nobody was given.
    expect(await verify({ phone: other.phone, code: owner.code, challenge: owner.challenge })).toMatchObject(expired);
    expect(await verify({ phone: owner.phone, code: owner.code, challenge: generateChallenge() })).toMatchObject(expired);
    expect(await stored(owner.phone)).toEqual(ownerBefore);
    expect(await stored(other.phone)).toEqual(otherBefore);
    expect((await verify(owner)).status).toBe(200);
    expect((await verify(other)).status).toBe(200);
  });
});

// ---------------------------------------------------------------------------------- storage

describe('stored challenges stay bounded', () => {
  it(`keeps a number's newest ${OTP_MAX_LIVE_CHALLENGES} challenges and drops its expired ones`, async () => {
    const phone = freshPhone();
    const issued = [];
    for (let i = 0; i < OTP_MAX_LIVE_CHALLENGES + 2; i++) {
      issued.push(await requestOtp(env.DB, { phone, client: freshIp(), secret: SECRET, now: T0 + i }));
    }
    expect(await rows('otp_challenges', phone)).toHaveLength(OTP_MAX_LIVE_CHALLENGES);
    const [oldest, second] = issued;
    for (const gone of [oldest, second]) {
      if (gone === undefined) throw new Error('unreachable');
      const attempt = verifyOtp(env.DB, { phone, code: gone.code, challenge: gone.challenge, secret: SECRET, now: T0 + 10 });
      await expect(attempt).rejects.toMatchObject({ code: 'otp_expired' });
    }
    const newest = issued.at(-1);
    if (newest === undefined) throw new Error('unreachable');
    await verifyOtp(env.DB, { phone, code: newest.code, challenge: newest.challenge, secret: SECRET, now: T0 + 10 });

    // Once they have expired, the next request leaves only itself.
    const fresh = await requestOtp(env.DB, { phone, client: freshIp(), secret: SECRET, now: T0 + OTP_TTL_MS + 10 });
    const left = await rows('otp_challenges', phone);
    expect(left).toHaveLength(1);
    expect(left[0]?.created_at).toBe(T0 + OTP_TTL_MS + 10);
    await verifyOtp(env.DB, { phone, code: fresh.code, challenge: fresh.challenge, secret: SECRET, now: T0 + OTP_TTL_MS + 11 });
  });

  it('deletes stale rows of other numbers as codes are issued, oldest first', async () => {
    // Older than anything other tests store, so they are the first the sweep finds.
    const ancient = 1_000_000;
    const abandoned = freshPhone();
    await requestOtp(env.DB, { phone: abandoned, client: freshIp(), secret: SECRET, now: ancient });
    expect(await rows('otp_challenges', abandoned)).toHaveLength(1);
    expect(await rows('otp_resends', abandoned)).toHaveLength(1);
    // Long after the challenge expired and the count reset, someone asks for another number.
    await requestOtp(env.DB, { phone: freshPhone(), client: freshIp(), secret: SECRET, now: ancient + OTP_RESEND_RESET_MS });
    expect(await stored(abandoned)).toEqual({ user: null, challenges: [], resends: [] });
  });
});

// ---------------------------------------------------------------------------------- SMS failure

describe('a code request whose SMS cannot be sent', () => {
  // The routes with the webhook provider, whose gateway cannot be reached: the provider's fetch
  // (the global one, in this isolate) fails for the gateway's host. Nothing leaves the machine.
  const app = new Hono<AppEnv>().route('/', authRoutes);
  app.onError(onError);
  const failingEnv = {
    ...env,
    SMS_PROVIDER: 'webhook',
    SMS_WEBHOOK_URL: 'https://sms.test/send',
    SMS_WEBHOOK_TOKEN: 'test-token',
  } as unknown as Env;

  it('answers unavailable and leaves no challenge, but its wait stays counted', async () => {
    const phone = freshPhone();
    const ip = freshIp();
    const realFetch = globalThis.fetch;
    const gatewayCalls: string[] = [];
    const fetchSpy = vi.spyOn(globalThis, 'fetch').mockImplementation((input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (new URL(url).host !== 'sms.test') return realFetch(input, init);
      gatewayCalls.push(url);
      return Promise.reject(new TypeError('network down'));
    });
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const ask = () =>
      app.request(
        PATHS.requestOtp,
        { method: 'POST', headers: { 'Content-Type': 'application/json', 'CF-Connecting-IP': ip }, body: JSON.stringify({ phone }) },
        failingEnv,
      );
    try {
      const failed = await ask();
      expect(failed.status).toBe(503);
      expect(ErrorResponseSchema.parse(await failed.json()).error.code).toBe('unavailable');
      expect(gatewayCalls).toEqual(['https://sms.test/send']);
      expect(await rows('otp_challenges', phone)).toEqual([]);
      expect(await rows('otp_resends', phone)).toMatchObject([{ count: 1 }]);
      // Retrying at once from the same address waits like after a sent code, without a gateway call.
      const retry = await ask();
      expect(retry.status).toBe(429);
      const body = ErrorResponseSchema.parse(await retry.json());
      expect(body.error.code).toBe('otp_rate_limited');
      expect(body.error.retryAfterMs).toBeGreaterThan(0);
      expect(body.error.retryAfterMs).toBeLessThanOrEqual(OTP_RESEND_WAITS_MS[1] ?? 0);
      expect(gatewayCalls).toHaveLength(1);
      expect(await rows('otp_challenges', phone)).toEqual([]);
    } finally {
      errors.mockRestore();
      fetchSpy.mockRestore();
    }
  });
});

describe('local development with IP_LIMITS=off', () => {
  const app = new Hono<AppEnv>().route('/', authRoutes);
  app.onError(onError);
  const ask = (vars: Record<string, string>, phone: string, ip: string) =>
    app.request(
      PATHS.requestOtp,
      { method: 'POST', headers: { 'Content-Type': 'application/json', 'CF-Connecting-IP': ip }, body: JSON.stringify({ phone }) },
      { ...env, ...vars } as unknown as Env,
    );

  it('waits for nobody there (every local client is 127.0.0.1), and stores no waits', async () => {
    const phone = freshPhone();
    const vars = { LOCAL_DEVELOPMENT: 'true', IP_LIMITS: 'off' };
    for (let i = 0; i < 2; i++) {
      const res = await ask(vars, phone, '127.0.0.1');
      expect(res.status).toBe(200);
      const body = OtpResponseSchema.parse(await res.json());
      expect(body.resendAt).toBe(body.expiresAt - OTP_TTL_MS);
    }
    expect(await rows('otp_challenges', phone)).toHaveLength(2);
    expect(await rows('otp_resends', phone)).toEqual([]);
  });

  it('is ignored outside local development: the waits apply', async () => {
    const phone = freshPhone();
    const ip = freshIp();
    const vars = { LOCAL_DEVELOPMENT: 'false', IP_LIMITS: 'off' };
    expect((await ask(vars, phone, ip)).status).toBe(200);
    const refused = await ask(vars, phone, ip);
    expect(refused.status).toBe(429);
    expect(ErrorResponseSchema.parse(await refused.json()).error.code).toBe('otp_rate_limited');
  });
});
