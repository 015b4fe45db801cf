/**
 * Sessions in the SDK: renewing the access token once for all concurrent callers, ending the
 * session when renewing is refused, logging in with a two-step PIN, deleting the account, and
 * the new mailbox entries (group invites, account events) as typed events.
 */
import { afterEach, beforeEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { MessengerApi, MessengerClient, MessengerError, SessionKeeper } from '../../client/index.ts';
import type { AccountEventFrame, GroupInviteFrame, SessionEnded, StoredSession } from '../../client/index.ts';
import { CLOSE_CODES } from '../../protocol/index.ts';
import { FakeSocket, GROUP, ME, MY_DEVICE, PEER, json, makeClient } from './fake-socket.ts';

const MINUTE = 60_000;
const CHALLENGE = 'C'.repeat(32);
const PIN_CHALLENGE = 'P'.repeat(32);
const profile = { userId: ME, displayName: 'Me', about: '', photo: null, phone: '+15550000001' };

function session(n: number, expiresAt: number): StoredSession {
  return { token: `token-${n}`, refreshToken: `refresh-token-${n}`.padEnd(16, '0'), expiresAt, userId: ME, deviceId: MY_DEVICE };
}

/** The server's answer to a login or refresh that hands out session `n`. */
function sessionAnswer(n: number, expiresAt: number): Record<string, unknown> {
  return { ...session(n, expiresAt), newUser: false, history: true };
}

function errorAnswer(code: string, status: number, message = code): Response {
  return json({ error: { code, message, retryable: false } }, status);
}

interface Call {
  method: string;
  path: string;
  authorization: string | null;
  body: unknown;
}

/** A fetch that records each call and answers with `respond` (which may wait). */
function recordingFetch(respond: (call: Call) => Response | Promise<Response>): { fetch: (url: string, init?: RequestInit) => Promise<Response>; calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    fetch: async (url, init) => {
      const call: Call = {
        method: init?.method ?? 'GET',
        path: new URL(url).pathname,
        authorization: new Headers(init?.headers).get('authorization'),
        body: typeof init?.body === 'string' ? (JSON.parse(init.body) as unknown) : undefined,
      };
      calls.push(call);
      return respond(call);
    },
  };
}

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A client on `fetch` with `stored` as its persisted session, recording onSession and session_ended. */
function sessionClient(stored: StoredSession | null, fetch: (url: string, init?: RequestInit) => Promise<Response>) {
  const sessions: Array<StoredSession | null> = [];
  const ended: SessionEnded[] = [];
  const client = new MessengerClient({
    baseUrl: 'http://chat.test',
    session: stored,
    onSession: (s) => sessions.push(s),
    fetch,
    WebSocket: FakeSocket,
    backoff: { baseMs: 250, random: () => 0.5 },
  });
  client.on('session_ended', (e) => ended.push(e));
  return { client, sessions, ended };
}

const refreshCalls = (calls: Call[]): Call[] => calls.filter((c) => c.path === '/v1/auth/refresh');

describe('session renewal', () => {
  it('two calls that find the token expired share one refresh; both are retried with the new token', async () => {
    const now = Date.now();
    const refreshAnswer = deferred<Response>();
    const { fetch, calls } = recordingFetch((call) => {
      if (call.path === '/v1/auth/refresh') return refreshAnswer.promise;
      if (call.authorization === 'Bearer token-1') return errorAnswer('token_expired', 401);
      return json(profile);
    });
    const { client, sessions, ended } = sessionClient(session(1, now + 10 * MINUTE), fetch);
    const first = client.api.me();
    const second = client.api.me();
    await vi.waitFor(() => expect(refreshCalls(calls)).toHaveLength(1));
    refreshAnswer.resolve(json(sessionAnswer(2, now + 25 * MINUTE)));
    await expect(first).resolves.toEqual(profile);
    await expect(second).resolves.toEqual(profile);

    expect(refreshCalls(calls)).toEqual([{ method: 'POST', path: '/v1/auth/refresh', authorization: null, body: { refreshToken: session(1, 0).refreshToken } }]);
    expect(calls.filter((c) => c.path === '/v1/me').map((c) => c.authorization)).toEqual([
      'Bearer token-1',
      'Bearer token-1',
      'Bearer token-2',
      'Bearer token-2',
    ]);
    // The rotated session reached the app once, and is what the client holds now.
    expect(sessions).toEqual([session(2, now + 25 * MINUTE)]);
    expect(client.session).toEqual(session(2, now + 25 * MINUTE));
    expect(ended).toEqual([]);
  });

  it('renews a token that expires within a minute before using it, once for concurrent calls', async () => {
    const now = Date.now();
    const { fetch, calls } = recordingFetch((call) => {
      if (call.path === '/v1/auth/refresh') return json(sessionAnswer(2, now + 15 * MINUTE));
      return call.authorization === 'Bearer token-2' ? json(profile) : errorAnswer('token_expired', 401);
    });
    const { client, sessions } = sessionClient(session(1, now + 30_000), fetch);
    await Promise.all([client.api.me(), client.api.me(), client.api.me()]);
    expect(calls.map((c) => `${c.path} ${c.authorization}`)).toEqual([
      '/v1/auth/refresh null',
      '/v1/me Bearer token-2',
      '/v1/me Bearer token-2',
      '/v1/me Bearer token-2',
    ]);
    expect(sessions).toHaveLength(1);
  });

  it('a refused refresh ends the session once: session null, one session_ended, no retry loop', async () => {
    const now = Date.now();
    const { fetch, calls } = recordingFetch((call) =>
      call.path === '/v1/auth/refresh' ? errorAnswer('refresh_invalid', 401, 'Refresh token was already used') : errorAnswer('token_expired', 401),
    );
    const { client, sessions, ended } = sessionClient(session(1, now + 10 * MINUTE), fetch);
    const results = await Promise.allSettled([client.api.me(), client.api.contacts()]);
    expect(results.map((r) => (r.status === 'rejected' ? (r.reason as { code: string }).code : 'ok'))).toEqual(['refresh_invalid', 'refresh_invalid']);
    expect(refreshCalls(calls)).toHaveLength(1);
    expect(sessions).toEqual([null]);
    expect(ended).toMatchObject([{ reason: 'refresh_invalid', error: { code: 'refresh_invalid' } }]);
    expect(client.session).toBeNull();
    expect(client.state).toBe('closed');

    // Logged out now: the next call is refused locally, without touching the network.
    const before = calls.length;
    await expect(client.api.me()).rejects.toMatchObject({ code: 'unauthorized' });
    expect(calls).toHaveLength(before);
    expect(ended).toHaveLength(1);
  });

  it('a refresh that fails for a passing reason keeps the session and tries again next time', async () => {
    const now = Date.now();
    let online = false;
    const { fetch, calls } = recordingFetch((call) => {
      if (call.path === '/v1/auth/refresh') {
        return online ? json(sessionAnswer(2, now + 15 * MINUTE)) : errorAnswer('unavailable', 503);
      }
      return call.authorization === 'Bearer token-2' ? json(profile) : errorAnswer('token_expired', 401);
    });
    const { client, sessions, ended } = sessionClient(session(1, now + 10 * MINUTE), fetch);
    await expect(client.api.me()).rejects.toMatchObject({ code: 'unavailable' });
    expect(client.session).toEqual(session(1, now + 10 * MINUTE));
    expect(sessions).toEqual([]);
    online = true;
    await expect(client.api.me()).resolves.toEqual(profile);
    expect(refreshCalls(calls)).toHaveLength(2);
    expect(ended).toEqual([]);
  });

  it('a request that failed with an already renewed token retries with the new one, without a second refresh', async () => {
    const now = Date.now();
    const slowMe = deferred<Response>();
    let meCalls = 0;
    const { fetch, calls } = recordingFetch((call) => {
      if (call.path === '/v1/auth/refresh') return json(sessionAnswer(2, now + 15 * MINUTE));
      if (call.path === '/v1/me') {
        meCalls += 1;
        // The first /v1/me is answered (expired) only after the other call renewed the token.
        if (meCalls === 1) return slowMe.promise;
        return call.authorization === 'Bearer token-2' ? json(profile) : errorAnswer('token_expired', 401);
      }
      return call.authorization === 'Bearer token-2' ? json({ contacts: [] }) : errorAnswer('token_expired', 401);
    });
    const { client } = sessionClient(session(1, now + 10 * MINUTE), fetch);
    const slow = client.api.me();
    await expect(client.api.contacts()).resolves.toEqual({ contacts: [] });
    slowMe.resolve(errorAnswer('token_expired', 401));
    await expect(slow).resolves.toEqual(profile);
    expect(refreshCalls(calls)).toHaveLength(1);
  });

  it('device_revoked on any call ends the session', async () => {
    const { fetch } = recordingFetch(() => errorAnswer('device_revoked', 401));
    const { client, sessions, ended } = sessionClient(session(1, Date.now() + 10 * MINUTE), fetch);
    await expect(client.api.devices()).rejects.toMatchObject({ code: 'device_revoked' });
    expect(sessions).toEqual([null]);
    expect(ended).toMatchObject([{ reason: 'device_revoked' }]);
  });

  it('a bare token is never renewed: token_expired is the answer', async () => {
    const { fetch, calls } = recordingFetch(() => errorAnswer('token_expired', 401));
    const client = new MessengerClient({ baseUrl: 'http://chat.test', token: 'bare', fetch, WebSocket: FakeSocket });
    await expect(client.api.me()).rejects.toMatchObject({ code: 'token_expired' });
    expect(calls.map((c) => c.path)).toEqual(['/v1/me']);
  });

  it('SessionKeeper renews by its own clock and margin, and works as the token source of a bare MessengerApi', async () => {
    let clock = 1_000_000;
    const refreshed: StoredSession[] = [];
    const keeper = new SessionKeeper({
      session: session(1, 1_000_000 + 5 * MINUTE),
      now: () => clock,
      refreshMarginMs: 2 * MINUTE,
      refresh: async (s) => {
        refreshed.push(s);
        return session(2, clock + 15 * MINUTE);
      },
    });
    const { fetch, calls } = recordingFetch(() => json(profile));
    const api = new MessengerApi({ baseUrl: 'http://chat.test', tokens: keeper, fetch });
    await api.me();
    clock += 3 * MINUTE + 1; // now within the 2-minute margin
    await api.me();
    expect(calls.map((c) => c.authorization)).toEqual(['Bearer token-1', 'Bearer token-2']);
    expect(refreshed.map((s) => s.token)).toEqual(['token-1']);
  });
});

describe('connecting with a renewing session', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.reset();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a connect ticket refused with token_expired renews the token and asks again', async () => {
    const now = Date.now();
    const { fetch, calls } = recordingFetch((call) => {
      if (call.path === '/v1/auth/refresh') return json(sessionAnswer(2, now + 15 * MINUTE));
      if (call.authorization === 'Bearer token-1') return errorAnswer('token_expired', 401);
      return json({ ticket: 'ticket-of-token-2', expiresAt: now + 30_000 });
    });
    const { client, sessions } = sessionClient(session(1, now + 10 * MINUTE), fetch);
    void client.connect();
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.map((c) => `${c.path} ${c.authorization}`)).toEqual([
      '/v1/connect/ticket Bearer token-1',
      '/v1/auth/refresh null',
      '/v1/connect/ticket Bearer token-2',
    ]);
    expect(FakeSocket.last.params.get('ticket')).toBe('ticket-of-token-2');
    expect(sessions).toHaveLength(1);
  });

  it('an app ticket source gets the renewed token after token_expired', async () => {
    const now = Date.now();
    const { fetch, calls } = recordingFetch(() => json(sessionAnswer(2, now + 15 * MINUTE)));
    const asked: string[] = [];
    const client = makeClient({
      token: undefined,
      session: session(1, now + 10 * MINUTE),
      fetch,
      connectTicket: (token) => {
        asked.push(token);
        if (token === 'token-1') throw new MessengerError('token_expired');
        return `ticket-${token}`;
      },
    });
    void client.connect();
    await vi.advanceTimersByTimeAsync(0);
    expect(asked).toEqual(['token-1', 'token-2']);
    expect(refreshCalls(calls)).toHaveLength(1);
    expect(FakeSocket.last.params.get('ticket')).toBe('ticket-token-2');
  });

  it('a refused renewal while connecting closes the connection with that error (no reconnect loop)', async () => {
    const now = Date.now();
    const { fetch, calls } = recordingFetch((call) =>
      call.path === '/v1/auth/refresh' ? errorAnswer('session_expired', 401) : errorAnswer('token_expired', 401),
    );
    const { client, ended, sessions } = sessionClient(session(1, now + 10 * MINUTE), fetch);
    await expect(client.connect()).rejects.toMatchObject({ code: 'session_expired' });
    expect(client.state).toBe('closed');
    expect(ended).toMatchObject([{ reason: 'session_expired' }]);
    expect(sessions).toEqual([null]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.instances).toHaveLength(0);
    expect(refreshCalls(calls)).toHaveLength(1);
  });

  it.each([
    { code: CLOSE_CODES.account_deleted, reason: 'account_deleted' },
    { code: CLOSE_CODES.device_revoked, reason: 'device_revoked' },
  ])('the server closing with $code ends the session as $reason', ({ code, reason }) => {
    const sessions: Array<StoredSession | null> = [];
    const ended: SessionEnded[] = [];
    const client = makeClient({ token: undefined, session: session(1, Date.now() + 10 * MINUTE), onSession: (s) => sessions.push(s) });
    client.on('session_ended', (e) => ended.push(e));
    void client.connect();
    FakeSocket.last.hello().serverClose(code);
    expect(client.state).toBe('closed');
    expect(client.session).toBeNull();
    expect(sessions).toEqual([null]);
    expect(ended.map((e) => e.reason)).toEqual([reason]);
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.instances).toHaveLength(1); // no reconnect
  });

  it('replaced (another connection of the same device) does not end the session', () => {
    const sessions: Array<StoredSession | null> = [];
    const client = makeClient({ token: undefined, session: session(1, Date.now() + 10 * MINUTE), onSession: (s) => sessions.push(s) });
    void client.connect();
    FakeSocket.last.hello().serverClose(CLOSE_CODES.replaced);
    expect(client.state).toBe('closed');
    expect(client.session).not.toBeNull();
    expect(sessions).toEqual([]);
  });
});

describe('logging in with a two-step PIN', () => {
  const pinRequired = { pinRequired: true, pinChallenge: PIN_CHALLENGE, expiresAt: Date.now() + 10 * MINUTE, attemptsLeft: 5, resetAt: null };

  function loginFetch(pin = '246810') {
    return recordingFetch((call) => {
      if (call.path === '/v1/auth/otp') return json({ phone: '+15550000001', challenge: CHALLENGE, expiresAt: 9, resendAt: 5, devCode: '123456' });
      if (call.path === '/v1/auth/verify') return json(pinRequired);
      if (call.path === '/v1/auth/pin/reset') return json({ resetAt: 7 * 24 * 60 * MINUTE });
      if (call.path === '/v1/auth/pin') {
        return (call.body as { pin: string }).pin === pin ? json(sessionAnswer(1, Date.now() + 15 * MINUTE)) : errorAnswer('pin_invalid', 401);
      }
      return json(profile);
    });
  }

  it('completeLogin answers pinRequired and keeps no session; the right PIN completes the login', async () => {
    const { fetch, calls } = loginFetch();
    const { client, sessions } = sessionClient(null, fetch);
    const answer = await client.completeLogin({ phone: '+15550000001', challenge: CHALLENGE, code: '123456' });
    expect(answer).toEqual(pinRequired);
    expect(client.session).toBeNull();
    expect(client.currentToken).toBeUndefined();

    await expect(client.enterPin(PIN_CHALLENGE, '000000')).rejects.toMatchObject({ code: 'pin_invalid', status: 401 });
    expect(client.session).toBeNull();
    expect(sessions).toEqual([]);

    const done = await client.enterPin(PIN_CHALLENGE, '246810');
    expect(done.token).toBe('token-1');
    expect(client.session).toMatchObject({ token: 'token-1', userId: ME, deviceId: MY_DEVICE });
    expect(sessions).toHaveLength(1);
    expect(client.userId).toBe(ME);
    expect(calls.filter((c) => c.path === '/v1/auth/pin').map((c) => c.body)).toEqual([
      { pinChallenge: PIN_CHALLENGE, pin: '000000' },
      { pinChallenge: PIN_CHALLENGE, pin: '246810' },
    ]);
  });

  it('requestPinReset posts the challenge; login() takes the PIN as an option and refuses without one', async () => {
    const { fetch, calls } = loginFetch();
    const { client } = sessionClient(null, fetch);
    await expect(client.requestPinReset(PIN_CHALLENGE)).resolves.toEqual({ resetAt: 7 * 24 * 60 * MINUTE });
    expect(calls.at(-1)).toMatchObject({ method: 'POST', path: '/v1/auth/pin/reset', body: { pinChallenge: PIN_CHALLENGE } });

    await expect(client.login('+15550000001')).rejects.toMatchObject({ code: 'pin_invalid' });
    expect(client.session).toBeNull();
    await expect(client.login('+15550000001', { pin: '246810' })).resolves.toMatchObject({ token: 'token-1' });
    expect(client.session?.token).toBe('token-1');
  });

  it('a wrong-PIN lock carries its wait', async () => {
    const { fetch } = recordingFetch(() =>
      json({ error: { code: 'pin_locked', message: 'Too many wrong PINs', retryable: true, retryAfterMs: 120_000 } }, 429),
    );
    const { client } = sessionClient(null, fetch);
    await expect(client.enterPin(PIN_CHALLENGE, '111111')).rejects.toMatchObject({ code: 'pin_locked', retryAfterMs: 120_000 });
  });
});

describe('account deletion and logout', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.reset();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('deleteAccount sends the confirmation, then forgets the session and closes; no session_ended', async () => {
    const { fetch, calls } = recordingFetch(() => new Response(null, { status: 204 }));
    const sessions: Array<StoredSession | null> = [];
    const client = makeClient({ token: undefined, session: session(1, Date.now() + 10 * MINUTE), onSession: (s) => sessions.push(s), fetch });
    const ended: SessionEnded[] = [];
    client.on('session_ended', (e) => ended.push(e));
    void client.connect();
    FakeSocket.last.hello();
    await client.deleteAccount('+1 555 000 0001');
    expect(calls).toEqual([{ method: 'DELETE', path: '/v1/me', authorization: 'Bearer token-1', body: { phone: '+1 555 000 0001' } }]);
    expect(sessions).toEqual([null]);
    expect(client.session).toBeNull();
    expect(client.state).toBe('closed');
    expect(ended).toEqual([]);
  });

  it('a refused deletion (wrong number) keeps the session and the connection', async () => {
    const { fetch } = recordingFetch(() => errorAnswer('confirmation_mismatch', 400));
    const sessions: Array<StoredSession | null> = [];
    const client = makeClient({ token: undefined, session: session(1, Date.now() + 10 * MINUTE), onSession: (s) => sessions.push(s), fetch });
    void client.connect();
    FakeSocket.last.hello();
    await expect(client.deleteAccount('+15559999999')).rejects.toMatchObject({ code: 'confirmation_mismatch' });
    expect(client.session).not.toBeNull();
    expect(client.state).toBe('open');
    expect(sessions).toEqual([]);
  });

  it('logout forgets the session (onSession(null)) without session_ended', async () => {
    const { fetch } = recordingFetch(() => new Response(null, { status: 204 }));
    const sessions: Array<StoredSession | null> = [];
    const client = makeClient({ token: undefined, session: session(1, Date.now() + 10 * MINUTE), onSession: (s) => sessions.push(s), fetch });
    const ended: SessionEnded[] = [];
    client.on('session_ended', (e) => ended.push(e));
    await client.logout();
    expect(sessions).toEqual([null]);
    expect(ended).toEqual([]);
    expect(client.currentToken).toBeUndefined();
  });
});

describe('invites and account events', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.reset();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('are typed events, in seq order with messages, and acked like every mailbox entry', () => {
    const client = makeClient();
    const seen: string[] = [];
    client.on('group_invite', (frame) => {
      expectTypeOf(frame).toEqualTypeOf<GroupInviteFrame>();
      seen.push(`invite ${frame.group} ${frame.title} by ${frame.invitedBy}`);
    });
    client.on('account_event', (frame) => {
      expectTypeOf(frame).toEqualTypeOf<AccountEventFrame>();
      seen.push(`account ${frame.event.kind}`);
    });
    client.on('message', ({ seq }) => seen.push(`message ${seq}`));
    void client.connect();
    const socket = FakeSocket.last.hello();
    socket
      .deliver({ type: 'group_invite', seq: 1, group: GROUP, title: 'Climbing', invitedBy: PEER, at: 5 })
      .deliver({ type: 'message', seq: 2, message: { id: '01HZX3K5M8N9P0Q1R2S3T40999', clientId: 'c', from: PEER, fromDevice: MY_DEVICE, to: ME, sentAt: 1, body: { kind: 'text', text: 'hi' } } })
      .deliver({ type: 'account_event', seq: 3, event: { kind: 'device_added', deviceId: MY_DEVICE, name: 'laptop', platform: 'web', withPin: false }, at: 6 })
      .deliver({ type: 'account_event', seq: 3, event: { kind: 'device_removed', deviceId: MY_DEVICE }, at: 6 }); // a duplicate seq: dropped
    vi.advanceTimersByTime(20);
    expect(seen).toEqual([`invite ${GROUP} Climbing by ${PEER}`, 'message 2', 'account device_added']);
    expect(socket.framesOfType('ack')).toEqual([{ type: 'ack', upTo: 3 }]);
    expect(client.cursor).toBe(3);
  });
});
