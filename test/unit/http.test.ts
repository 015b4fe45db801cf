import { describe, expect, it } from 'vitest';
import { MessengerApi, MessengerError } from '../../client/index.ts';
import type { FetchLike } from '../../client/index.ts';
import { ME, PEER, ulid } from './fake-socket.ts';

interface Call {
  url: string;
  init: RequestInit | undefined;
}

function fakeFetch(respond: (call: Call) => Response | Promise<Response>): { fetch: FetchLike; calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    fetch: async (url, init) => {
      const call = { url, init };
      calls.push(call);
      return respond(call);
    },
  };
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

const profile = { userId: ME, displayName: 'Me', about: '', phone: '+15550000001' };

describe('MessengerApi', () => {
  it('sends the bearer token and returns the validated body', async () => {
    const { fetch, calls } = fakeFetch(() => json(profile));
    const api = new MessengerApi({ baseUrl: 'http://api.test/', token: 'secret', fetch });
    await expect(api.me()).resolves.toEqual(profile);
    expect(calls[0]?.url).toBe('http://api.test/v1/me');
    expect(new Headers(calls[0]?.init?.headers).get('authorization')).toBe('Bearer secret');
  });

  it('posts JSON bodies without auth for the login endpoints', async () => {
    const { fetch, calls } = fakeFetch(() => json({ phone: '+15550000001', expiresAt: 5, devCode: '123456' }));
    const api = new MessengerApi({ baseUrl: 'http://api.test', fetch });
    const otp = await api.requestOtp('555 000 0001');
    expect(otp.devCode).toBe('123456');
    expect(calls[0]?.init?.method).toBe('POST');
    expect(calls[0]?.init?.body).toBe(JSON.stringify({ phone: '555 000 0001' }));
    expect(new Headers(calls[0]?.init?.headers).has('authorization')).toBe(false);
  });

  it('builds the history query string', async () => {
    const { fetch, calls } = fakeFetch(() => json({ messages: [], nextBefore: null }));
    const api = new MessengerApi({ baseUrl: 'http://api.test', token: 't', fetch });
    await api.history(PEER, { before: 40, limit: 20 });
    expect(calls[0]?.url).toBe(`http://api.test/v1/conversations/${PEER}/messages?before=40&limit=20`);
  });

  it('resolves 204 endpoints with undefined', async () => {
    const { fetch, calls } = fakeFetch(() => new Response(null, { status: 204 }));
    const api = new MessengerApi({ baseUrl: 'http://api.test', token: 't', fetch });
    await expect(api.revokeDevice(ulid(3))).resolves.toBeUndefined();
    expect(calls[0]?.init?.method).toBe('DELETE');
  });

  it('throws MessengerError with the server code, status and retryable flag', async () => {
    const { fetch } = fakeFetch(() =>
      json({ error: { code: 'user_not_found', message: 'No such user', retryable: false } }, 404),
    );
    const api = new MessengerApi({ baseUrl: 'http://api.test', token: 't', fetch });
    const error = await api.user(PEER).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MessengerError);
    expect(error).toMatchObject({ code: 'user_not_found', status: 404, retryable: false, message: 'No such user' });
  });

  it('maps a non-protocol error page by status', async () => {
    const { fetch } = fakeFetch(() => new Response('<html>Bad gateway</html>', { status: 502 }));
    const api = new MessengerApi({ baseUrl: 'http://api.test', token: 't', fetch });
    await expect(api.me()).rejects.toMatchObject({ code: 'unavailable', status: 502, retryable: true });
  });

  it('turns network failures into a retryable unavailable error', async () => {
    const api = new MessengerApi({
      baseUrl: 'http://api.test',
      token: 't',
      fetch: async () => {
        throw new TypeError('fetch failed');
      },
    });
    await expect(api.me()).rejects.toMatchObject({ code: 'unavailable', retryable: true });
  });

  it('rejects a 2xx body that does not match the protocol as a non-retryable internal error', async () => {
    const { fetch } = fakeFetch(() => json({ userId: 'not-a-ulid' }));
    const api = new MessengerApi({ baseUrl: 'http://api.test', token: 't', fetch });
    await expect(api.me()).rejects.toMatchObject({ code: 'internal', retryable: false });
  });

  it('refuses authenticated calls without a token, before touching the network', async () => {
    const { fetch, calls } = fakeFetch(() => json(profile));
    const api = new MessengerApi({ baseUrl: 'http://api.test', fetch });
    await expect(api.me()).rejects.toMatchObject({ code: 'unauthorized' });
    expect(calls).toHaveLength(0);
  });
});
