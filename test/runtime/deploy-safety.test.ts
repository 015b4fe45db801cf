// Safe to deploy: the Worker refuses to serve outside local development while a required secret
// is missing, short or a published development value (or a development switch is on); security
// headers on API answers; WebSocket connections authenticated by single-use tickets, never by
// the long-lived token in the URL.
import { createExecutionContext, SELF, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { CONNECT_TICKET_TTL_MS, ConnectTicketSchema, ErrorResponseSchema, PATHS, type ErrorCode } from '../../protocol/index.ts';
import { issueTicket, verifyTicket } from '../../worker/auth/ticket.ts';
import { signToken } from '../../worker/auth/token.ts';
import { ApiError } from '../../worker/errors.ts';
import worker from '../../worker/index.ts';
import { api, BASE, connect, isType, login, nextPhone, ticketFor } from './support.ts';

const PRODUCTION = {
  LOCAL_DEVELOPMENT: 'false',
  IP_LIMITS: 'on',
  SMS_PROVIDER: 'webhook',
  PUSH_MODE: 'live',
  TOKEN_SECRET: 'a-real-production-secret-of-48-characters-xxxxxx',
  METRICS_TOKEN: 'a-real-operator-token-of-40-characters-xx',
};

/** One request through the Worker with the bindings changed. */
async function fetchWith(vars: Record<string, string | undefined>, path: string, init?: RequestInit): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`${BASE}${path}`, init), { ...env, ...vars } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

async function expectError(res: Response, status: number, code: ErrorCode): Promise<void> {
  expect(res.status).toBe(status);
  const body = ErrorResponseSchema.parse(await res.json());
  expect(body.error.code).toBe(code);
}

describe('a deployment that is not configured for production', () => {
  it('serves when every secret is real and no development switch is on', async () => {
    const res = await fetchWith(PRODUCTION, PATHS.health);
    expect(res.status).toBe(200);
  });

  it.each([
    ['the development configuration without LOCAL_DEVELOPMENT', { LOCAL_DEVELOPMENT: 'false' }],
    ['no TOKEN_SECRET', { ...PRODUCTION, TOKEN_SECRET: undefined }],
    ['a short METRICS_TOKEN', { ...PRODUCTION, METRICS_TOKEN: 'short' }],
    ['the published TOKEN_SECRET', { ...PRODUCTION, TOKEN_SECRET: 'dev-only-insecure-secret-change-me' }],
    ['the dev SMS provider', { ...PRODUCTION, SMS_PROVIDER: 'dev' }],
    ['the push sink', { ...PRODUCTION, PUSH_MODE: 'sink' }],
    ['per-IP limits off', { ...PRODUCTION, IP_LIMITS: 'off' }],
    ['fault injection (any value)', { ...PRODUCTION, LOCAL_FAULTS: 'off' }],
    ['the bench cost counters (any value)', { ...PRODUCTION, LOCAL_COST_COUNTERS: 'off' }],
  ])('refuses every request with %s', async (_name, vars) => {
    for (const [method, path] of [
      ['GET', PATHS.health],
      ['POST', PATHS.requestOtp],
      ['GET', PATHS.me],
    ] as const) {
      const res = await fetchWith(vars, path, {
        method,
        headers: { 'Content-Type': 'application/json' },
        body: method === 'POST' ? JSON.stringify({ phone: '+4915112345678' }) : undefined,
      });
      await expectError(res, 503, 'misconfigured');
    }
  });

  it('does not hand out development codes outside local development', async () => {
    const res = await fetchWith({ ...PRODUCTION, SMS_PROVIDER: 'dev' }, PATHS.requestOtp, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ phone: nextPhone() }),
    });
    const text = await res.text();
    expect(res.status).toBe(503);
    expect(text).not.toContain('devCode');
  });
});

describe('security headers on API answers', () => {
  it.each([
    ['a success', PATHS.health, 200],
    ['an error', PATHS.me, 401],
    ['an unknown route', '/v1/nothing-here', 404],
  ])('%s carries CSP, frame, referrer and sniffing headers', async (_name, path, status) => {
    const res = await SELF.fetch(`${BASE}${path}`);
    expect(res.status).toBe(status);
    expect(res.headers.get('Content-Security-Policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('Content-Security-Policy')).toContain("default-src 'none'");
    expect(res.headers.get('X-Frame-Options')).toBe('DENY');
    expect(res.headers.get('Referrer-Policy')).toBe('no-referrer');
    expect(res.headers.get('X-Content-Type-Options')).toBe('nosniff');
  });
});

describe('connect tickets', () => {
  it('open one connection each; the same ticket is refused the second time', async () => {
    const session = await login(nextPhone());
    const ticket = await ticketFor(session);
    const first = await SELF.fetch(`${BASE}${PATHS.connect}?ticket=${encodeURIComponent(ticket)}`, { headers: { Upgrade: 'websocket' } });
    expect(first.status).toBe(101);
    first.webSocket?.accept();
    const again = await SELF.fetch(`${BASE}${PATHS.connect}?ticket=${encodeURIComponent(ticket)}`, { headers: { Upgrade: 'websocket' } });
    await expectError(again, 401, 'ticket_invalid');
    first.webSocket?.close(1000, 'done');
  });

  it('are issued only for a valid bearer token in the Authorization header', async () => {
    const session = await login(nextPhone());
    const res = await api(PATHS.connectTicket, { method: 'POST', token: session.token });
    expect(res.status).toBe(200);
    const body = ConnectTicketSchema.parse(await res.json());
    expect(body.expiresAt - Date.now()).toBeLessThanOrEqual(CONNECT_TICKET_TTL_MS);
    await expectError(await api(PATHS.connectTicket, { method: 'POST' }), 401, 'unauthorized');
    await expectError(await SELF.fetch(`${BASE}${PATHS.connectTicket}?token=${session.token}`, { method: 'POST' }), 401, 'unauthorized');
  });

  it('never accept the long-lived token in the URL, on the connect route or elsewhere', async () => {
    const session = await login(nextPhone());
    const upgrade = { headers: { Upgrade: 'websocket' } };
    const byToken = await SELF.fetch(`${BASE}${PATHS.connect}?token=${encodeURIComponent(session.token)}`, upgrade);
    await expectError(byToken, 400, 'validation_failed');
    const tokenAsTicket = await SELF.fetch(`${BASE}${PATHS.connect}?ticket=${encodeURIComponent(session.token)}`, upgrade);
    await expectError(tokenAsTicket, 401, 'ticket_invalid');
    await expectError(await SELF.fetch(`${BASE}${PATHS.me}?token=${session.token}`, upgrade), 401, 'unauthorized');
  });

  it('are not bearer tokens', async () => {
    const session = await login(nextPhone());
    const ticket = await ticketFor(session);
    await expectError(await api(PATHS.me, { token: ticket }), 401, 'token_invalid');
  });

  it('expire, and cannot claim a longer life than the TTL', async () => {
    const who = { userId: '01J00000000000000000000000', deviceId: '01J00000000000000000000001' };
    const now = 1_800_000_000_000;
    const { ticket } = await issueTicket(env.TOKEN_SECRET, who, now);
    await expect(verifyTicket(env.TOKEN_SECRET, ticket, now + CONNECT_TICKET_TTL_MS - 1)).resolves.toMatchObject(who);
    await expect(verifyTicket(env.TOKEN_SECRET, ticket, now + CONNECT_TICKET_TTL_MS)).rejects.toMatchObject({ code: 'ticket_invalid' });
    // Issued "in the future" (a clock far ahead, or a forged claim): refused.
    await expect(verifyTicket(env.TOKEN_SECRET, ticket, now - 1_000)).rejects.toBeInstanceOf(ApiError);
    await expect(verifyTicket('another-secret-entirely-of-32-chars', ticket, now)).rejects.toMatchObject({ code: 'ticket_invalid' });
  });

  it('a device token signed like a ticket is not a ticket', async () => {
    const session = await login(nextPhone());
    const { token } = await signToken(env.TOKEN_SECRET, { userId: session.userId, deviceId: session.deviceId }, Date.now());
    await expect(verifyTicket(env.TOKEN_SECRET, token, Date.now())).rejects.toMatchObject({ code: 'ticket_invalid' });
  });

  it('of a device logged out since are refused', async () => {
    const session = await login(nextPhone());
    const ticket = await ticketFor(session);
    expect((await api(PATHS.logout, { method: 'POST', token: session.token })).status).toBe(204);
    const res = await SELF.fetch(`${BASE}${PATHS.connect}?ticket=${encodeURIComponent(ticket)}`, { headers: { Upgrade: 'websocket' } });
    await expectError(res, 401, 'device_revoked');
  });

  it('connect with the helper used by every other test', async () => {
    const socket = await connect(await login(nextPhone()));
    expect(socket.of('hello')).toHaveLength(1);
    await socket.waitFor(isType('hello'));
    socket.close();
  });
});

describe('the per-device limit on authenticated requests', () => {
  it('refuses a device past 300 requests in its 10-second window, with retryAfterMs and Retry-After', async () => {
    const session = await login(nextPhone());
    let passed = 0;
    let refused: Response | null = null;
    // Windows are fixed (aligned to the clock), so a window may end during the loop: then more
    // than 300 pass before the first refusal, never fewer, and never more than two windows' worth.
    while (refused === null && passed < 700) {
      const res = await api(PATHS.me, { token: session.token });
      if (res.status !== 200) refused = res;
      else {
        passed += 1;
        await res.body?.cancel();
      }
    }
    expect(passed).toBeGreaterThanOrEqual(300);
    expect(passed).toBeLessThanOrEqual(600);
    expect(refused?.status).toBe(429);
    expect(refused?.headers.get('Retry-After')).toBe('10');
    expect(ErrorResponseSchema.parse(await refused?.json()).error).toMatchObject({ code: 'rate_limited', retryAfterMs: 10_000 });
    const other = await login(nextPhone());
    expect((await api(PATHS.me, { token: other.token })).status).toBe(200);
  }, 60_000);
});
