/**
 * Push providers against a real local HTTP server standing in for Google's token endpoint, FCM,
 * APNs and a webhook receiver. Keys are generated per run with WebCrypto; JWTs and webhook
 * signatures are verified here the way Google, Apple and a receiver would.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { clearPushProviderCache, pushProvidersFromEnv, type PushEnv } from '../../worker/push/config.ts';
import { createApnsProvider, PROVIDER_TOKEN_REUSE_MS } from '../../worker/push/providers/apns.ts';
import { createFcmProvider, FCM_SCOPE, type FcmServiceAccount } from '../../worker/push/providers/fcm.ts';
import { base64UrlDecode } from '../../worker/push/providers/jwt.ts';
import { createWebhookProvider } from '../../worker/push/providers/webhook.ts';
import type { PushNotification, PushTarget } from '../../lib/push-types.ts';

// ---------------------------------------------------------------------------------------------
// The stand-in server

interface Seen {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/** A route answers with a reply, or `'hang'` to never answer (for timeouts). */
type Route = (seen: Seen) => Reply | 'hang';

const FCM_PATH = '/v1/projects/demo-project/messages:send';
let server: Server;
let origin: string;
let seen: Seen[] = [];
let routes: Record<string, Route> = {};
let tokensIssued = 0;

function defaultRoutes(): Record<string, Route> {
  return {
    '/token': () => {
      tokensIssued += 1;
      return { status: 200, body: { access_token: `ya29.access-${tokensIssued}`, expires_in: 3600, token_type: 'Bearer' } };
    },
    [FCM_PATH]: () => ({ status: 200, body: { name: 'projects/demo-project/messages/0:1234' } }),
    '/3/device/': () => ({ status: 200, headers: { 'apns-id': 'EC1BF194-B3B2-424A-89A9-5A918A6E6B5B' } }),
    '/hook': () => ({ status: 204 }),
  };
}

function route(path: string): Route | undefined {
  const prefix = Object.keys(routes)
    .filter((p) => path.startsWith(p))
    .sort((a, b) => b.length - a.length)[0];
  return prefix === undefined ? undefined : routes[prefix];
}

function requestsTo(prefix: string): Seen[] {
  return seen.filter((s) => s.path.startsWith(prefix));
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const entry: Seen = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      seen.push(entry);
      const reply = route(entry.path)?.(entry) ?? { status: 599, body: { error: 'no route' } };
      if (reply === 'hang') return;
      const text = reply.body === undefined ? '' : typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await generateKeys();
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  seen = [];
  routes = defaultRoutes();
  tokensIssued = 0;
  clearPushProviderCache();
});

/** A port on 127.0.0.1 where nothing listens (bound, then released). */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

// ---------------------------------------------------------------------------------------------
// Keys and JWTs

let rsa: CryptoKeyPair;
let ec: CryptoKeyPair;
let rsaPem: string;
let ecPem: string;

async function generateKeys(): Promise<void> {
  rsa = await crypto.subtle.generateKey(
    { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    true,
    ['sign', 'verify'],
  );
  ec = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  rsaPem = toPem(await crypto.subtle.exportKey('pkcs8', rsa.privateKey));
  ecPem = toPem(await crypto.subtle.exportKey('pkcs8', ec.privateKey));
}

function toPem(der: ArrayBuffer): string {
  const lines = Buffer.from(der).toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN PRIVATE KEY-----\n${lines.join('\n')}\n-----END PRIVATE KEY-----\n`;
}

interface DecodedJwt {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  valid: boolean;
}

async function verifyJwt(jwt: string, key: CryptoKey, algorithm: AlgorithmIdentifier | EcdsaParams): Promise<DecodedJwt> {
  const [header = '', claims = '', signature = ''] = jwt.split('.');
  const decode = (part: string) =>
    JSON.parse(Buffer.from(base64UrlDecode(part)).toString('utf8')) as Record<string, unknown>;
  const valid = await crypto.subtle.verify(
    algorithm,
    key,
    base64UrlDecode(signature),
    new TextEncoder().encode(`${header}.${claims}`),
  );
  return { header: decode(header), claims: decode(claims), valid };
}

// ---------------------------------------------------------------------------------------------
// Fixtures

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const DEVICE_TOKEN = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';

function target(platform: PushTarget['platform'], token = DEVICE_TOKEN): PushTarget {
  return { userId: '01JUSER0000000000000000000', deviceId: '01JDEVICE00000000000000000', platform, token };
}

const message: PushNotification = {
  kind: 'message',
  title: 'Ada',
  body: 'New message',
  conversation: { kind: 'direct', id: '01JCONV0000000000000000000' },
  messageId: '01JMSG00000000000000000000',
  badge: 3,
  collapseKey: 'conv:01JCONV0000000000000000000',
  silent: false,
};

const summary: PushNotification = {
  kind: 'summary',
  title: '',
  body: '',
  conversation: null,
  messageId: null,
  badge: 7,
  collapseKey: 'summary',
  silent: true,
};

/** A controllable clock. */
function clock(start = T0): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

function serviceAccount(overrides: Partial<FcmServiceAccount> = {}): FcmServiceAccount {
  return {
    project_id: 'demo-project',
    client_email: 'push@demo-project.iam.gserviceaccount.com',
    private_key: rsaPem,
    token_uri: `${origin}/token`,
    ...overrides,
  };
}

function fcm(now: () => number = () => T0, timeoutMs?: number) {
  return createFcmProvider({ serviceAccount: serviceAccount(), apiOrigin: origin, now, timeoutMs });
}

function apns(now: () => number = () => T0, timeoutMs?: number) {
  return createApnsProvider({
    keyPem: ecPem,
    keyId: 'ABC123DEFG',
    teamId: 'TEAM123456',
    topic: 'com.example.messenger',
    origin,
    now,
    timeoutMs,
  });
}

function json(seenRequest: Seen | undefined): unknown {
  return JSON.parse(seenRequest?.body ?? 'null');
}

// ---------------------------------------------------------------------------------------------

describe('FCM provider', () => {
  it('exchanges a signed RS256 assertion for an access token, then sends the v1 message', async () => {
    const outcome = await fcm().send(target('fcm'), message);
    expect(outcome).toEqual({ status: 'sent', id: 'projects/demo-project/messages/0:1234' });

    const [tokenRequest, send] = seen;
    expect(tokenRequest).toMatchObject({ method: 'POST', path: '/token' });
    expect(tokenRequest?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    const form = new URLSearchParams(tokenRequest?.body);
    expect([...form.keys()].sort()).toEqual(['assertion', 'grant_type']);
    expect(form.get('grant_type')).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');
    const jwt = await verifyJwt(form.get('assertion') ?? '', rsa.publicKey, { name: 'RSASSA-PKCS1-v1_5' });
    expect(jwt.valid).toBe(true);
    expect(jwt.header).toEqual({ alg: 'RS256', typ: 'JWT' });
    const iat = T0 / 1000;
    expect(jwt.claims).toEqual({
      iss: 'push@demo-project.iam.gserviceaccount.com',
      scope: FCM_SCOPE,
      aud: `${origin}/token`,
      iat,
      exp: iat + 3600,
    });

    expect(send).toMatchObject({ method: 'POST', path: FCM_PATH });
    expect(send?.headers.authorization).toBe('Bearer ya29.access-1');
    expect(send?.headers['content-type']).toMatch(/^application\/json/);
    expect(json(send)).toEqual({
      message: {
        token: DEVICE_TOKEN,
        notification: { title: 'Ada', body: 'New message' },
        data: {
          kind: 'message',
          collapseKey: 'conv:01JCONV0000000000000000000',
          conversationKind: 'direct',
          conversationId: '01JCONV0000000000000000000',
          messageId: '01JMSG00000000000000000000',
          badge: '3',
        },
        android: {
          priority: 'high',
          collapse_key: 'conv:01JCONV0000000000000000000',
          notification: { tag: 'conv:01JCONV0000000000000000000' },
        },
        apns: {
          headers: { 'apns-collapse-id': 'conv:01JCONV0000000000000000000' },
          payload: { aps: { sound: 'default', badge: 3, 'thread-id': '01JCONV0000000000000000000' } },
        },
      },
    });
  });

  it('sends a silent notification as a data-only, normal-priority message', async () => {
    await fcm().send(target('fcm'), summary);
    expect(json(requestsTo(FCM_PATH)[0])).toEqual({
      message: {
        token: DEVICE_TOKEN,
        data: { kind: 'summary', collapseKey: 'summary', badge: '7' },
        android: { priority: 'normal', collapse_key: 'summary' },
        apns: {
          headers: { 'apns-collapse-id': 'summary', 'apns-push-type': 'background', 'apns-priority': '5' },
          payload: { aps: { 'content-available': 1, badge: 7 } },
        },
      },
    });
  });

  it('requests one access token for concurrent sends and a new one shortly before expiry', async () => {
    const time = clock();
    const provider = fcm(time.now);
    const outcomes = await Promise.all([1, 2, 3].map(() => provider.send(target('fcm'), message)));
    expect(outcomes.map((o) => o.status)).toEqual(['sent', 'sent', 'sent']);
    expect(requestsTo('/token')).toHaveLength(1);

    time.advance(3500_000); // 100 s left: still used
    await provider.send(target('fcm'), message);
    expect(requestsTo('/token')).toHaveLength(1);

    time.advance(50_000); // 50 s left: inside the 60 s margin
    await provider.send(target('fcm'), message);
    expect(requestsTo('/token')).toHaveLength(2);
    const sends = requestsTo(FCM_PATH);
    expect(sends.map((s) => s.headers.authorization)).toEqual([
      ...Array<string>(4).fill('Bearer ya29.access-1'),
      'Bearer ya29.access-2',
    ]);
    const assertion = new URLSearchParams(requestsTo('/token')[1]?.body).get('assertion') ?? '';
    const jwt = await verifyJwt(assertion, rsa.publicKey, { name: 'RSASSA-PKCS1-v1_5' });
    expect(jwt.claims.iat).toBe((T0 + 3550_000) / 1000);
  });

  it('drops the access token after a 401 and answers retry', async () => {
    const provider = fcm();
    routes[FCM_PATH] = () => ({
      status: 401,
      body: { error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' } },
    });
    const outcome = await provider.send(target('fcm'), message);
    expect(outcome).toMatchObject({ status: 'retry' });
    routes = defaultRoutes();
    tokensIssued = 1;
    expect(await provider.send(target('fcm'), message)).toMatchObject({ status: 'sent' });
    expect(requestsTo('/token')).toHaveLength(2);
    expect(requestsTo(FCM_PATH)[1]?.headers.authorization).toBe('Bearer ya29.access-2');
  });

  /** An FCM v1 error answer: `{error: {code, message, status, details: [FcmError]}}`. */
  const fcmError =
    (status: number, errorStatus: string, errorCode: string | null, text: string, headers?: Record<string, string>) =>
    (): Reply => ({
      status,
      headers,
      body: {
        error: {
          code: status,
          message: text,
          status: errorStatus,
          details: errorCode ? [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode }] : [],
        },
      },
    });

  it.each([
    ['404 UNREGISTERED', fcmError(404, 'NOT_FOUND', 'UNREGISTERED', 'Requested entity was not found.'), { status: 'invalid_token' }],
    [
      '400 INVALID_ARGUMENT about the token',
      fcmError(400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', 'The registration token is not a valid FCM registration token'),
      { status: 'invalid_token' },
    ],
    [
      '400 INVALID_ARGUMENT about the message',
      fcmError(400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', 'Invalid value at message.data[0].value'),
      { status: 'failed' },
    ],
    ['403 SENDER_ID_MISMATCH', fcmError(403, 'PERMISSION_DENIED', 'SENDER_ID_MISMATCH', 'SenderId mismatch'), { status: 'failed' }],
    [
      '429 QUOTA_EXCEEDED with Retry-After',
      fcmError(429, 'RESOURCE_EXHAUSTED', 'QUOTA_EXCEEDED', 'Quota exceeded', { 'retry-after': '30' }),
      { status: 'retry', retryAfterSeconds: 30 },
    ],
    [
      '503 UNAVAILABLE with an HTTP-date Retry-After',
      fcmError(503, 'UNAVAILABLE', 'UNAVAILABLE', 'The service is currently unavailable.', {
        'retry-after': new Date(T0 + 120_000).toUTCString(),
      }),
      { status: 'retry', retryAfterSeconds: 120 },
    ],
    ['500 with an HTML page', (): Reply => ({ status: 500, body: '<html>oops</html>' }), { status: 'retry' }],
  ] as const)('classifies %s', async (_name, reply, expected) => {
    routes[FCM_PATH] = reply;
    const outcome = await fcm().send(target('fcm'), message);
    expect(outcome).toMatchObject(expected);
    if (outcome.status !== 'sent') expect(outcome.reason).toMatch(/^FCM \d{3}/);
  });

  it('never puts the device token, access token or key into a reason', async () => {
    routes[FCM_PATH] = fcmError(400, 'INVALID_ARGUMENT', null, `bad token ${DEVICE_TOKEN} with ya29.access-1`);
    const outcome = await fcm().send(target('fcm'), message);
    expect(outcome.status).toBe('invalid_token');
    const reason = outcome.status === 'sent' ? '' : outcome.reason;
    expect(reason).not.toContain(DEVICE_TOKEN);
    expect(reason).not.toContain('ya29.access-1');
    expect(reason).not.toContain('PRIVATE KEY');
  });

  it('fails on a refused service account and retries when the token endpoint is down', async () => {
    routes['/token'] = () => ({ status: 400, body: { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' } });
    expect(await fcm().send(target('fcm'), message)).toEqual({ status: 'failed', reason: 'FCM token endpoint: invalid_grant' });
    routes['/token'] = () => ({ status: 503, headers: { 'retry-after': '5' } });
    expect(await fcm().send(target('fcm'), message)).toMatchObject({ status: 'retry', retryAfterSeconds: 5 });
    expect(requestsTo(FCM_PATH)).toHaveLength(0);
  });

  it('fails without a request when the private key is not usable', async () => {
    const provider = createFcmProvider({ serviceAccount: serviceAccount({ private_key: ecPem }), apiOrigin: origin });
    expect(await provider.send(target('fcm'), message)).toMatchObject({ status: 'failed' });
    expect(seen).toHaveLength(0);
  });

  it('answers retry when the connection is refused or nothing answers in time', async () => {
    const port = await closedPort();
    const refused = createFcmProvider({ serviceAccount: serviceAccount({ token_uri: `http://127.0.0.1:${port}/token` }) });
    expect(await refused.send(target('fcm'), message)).toMatchObject({
      status: 'retry',
      reason: 'FCM token endpoint: network error: fetch failed (ECONNREFUSED)',
    });

    routes[FCM_PATH] = () => 'hang';
    const started = Date.now();
    expect(await fcm(Date.now, 300).send(target('fcm'), message)).toMatchObject({
      status: 'retry',
      reason: 'no answer within 300 ms',
    });
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

// ---------------------------------------------------------------------------------------------

describe('APNs provider', () => {
  const ecdsa: EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };

  it('sends the alert with a valid ES256 provider token', async () => {
    const outcome = await apns().send(target('apns'), message);
    expect(outcome).toEqual({ status: 'sent', id: 'EC1BF194-B3B2-424A-89A9-5A918A6E6B5B' });

    const [send] = seen;
    expect(send).toMatchObject({ method: 'POST', path: `/3/device/${DEVICE_TOKEN}` });
    expect(send?.headers).toMatchObject({
      'apns-topic': 'com.example.messenger',
      'apns-push-type': 'alert',
      'apns-priority': '10',
      'apns-expiration': String(T0 / 1000 + 86_400),
      'apns-collapse-id': 'conv:01JCONV0000000000000000000',
      'content-type': 'application/json',
    });
    const [scheme, token] = (send?.headers.authorization ?? '').split(' ');
    expect(scheme).toBe('bearer');
    const jwt = await verifyJwt(token ?? '', ec.publicKey, ecdsa);
    expect(jwt.valid).toBe(true);
    expect(jwt.header).toEqual({ alg: 'ES256', kid: 'ABC123DEFG' });
    expect(jwt.claims).toEqual({ iss: 'TEAM123456', iat: T0 / 1000 });
    expect(json(send)).toEqual({
      aps: {
        alert: { title: 'Ada', body: 'New message' },
        sound: 'default',
        badge: 3,
        'thread-id': '01JCONV0000000000000000000',
      },
      kind: 'message',
      conversation: { kind: 'direct', id: '01JCONV0000000000000000000' },
      messageId: '01JMSG00000000000000000000',
    });
  });

  it('sends a silent notification as a background push with priority 5', async () => {
    await apns().send(target('apns'), summary);
    const [send] = seen;
    expect(send?.headers).toMatchObject({ 'apns-push-type': 'background', 'apns-priority': '5', 'apns-collapse-id': 'summary' });
    expect(json(send)).toEqual({
      aps: { 'content-available': 1, badge: 7 },
      kind: 'summary',
      conversation: null,
      messageId: null,
    });
  });

  it('keeps apns-collapse-id within 64 bytes by hashing long keys', async () => {
    await apns().send(target('apns'), { ...message, collapseKey: 'é'.repeat(40) });
    expect(seen[0]?.headers['apns-collapse-id']).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reuses the provider token for 50 minutes, then signs a new one', async () => {
    const time = clock();
    const provider = apns(time.now);
    await Promise.all([provider.send(target('apns'), message), provider.send(target('apns'), message)]);
    time.advance(PROVIDER_TOKEN_REUSE_MS - 1000);
    await provider.send(target('apns'), message);
    time.advance(1000);
    await provider.send(target('apns'), message);
    const auths = seen.map((s) => s.headers.authorization);
    expect(new Set(auths.slice(0, 3)).size).toBe(1);
    expect(auths[3]).not.toBe(auths[0]);
    const jwt = await verifyJwt(auths[3]?.split(' ')[1] ?? '', ec.publicKey, ecdsa);
    expect(jwt).toMatchObject({ valid: true, claims: { iat: (T0 + PROVIDER_TOKEN_REUSE_MS) / 1000 } });
  });

  it('regenerates the provider token after 403 ExpiredProviderToken', async () => {
    const provider = apns();
    await provider.send(target('apns'), message);
    routes['/3/device/'] = () => ({ status: 403, body: { reason: 'ExpiredProviderToken' } });
    expect(await provider.send(target('apns'), message)).toEqual({ status: 'retry', reason: 'APNs 403 ExpiredProviderToken' });
    routes = defaultRoutes();
    expect(await provider.send(target('apns'), message)).toMatchObject({ status: 'sent' });
    const auths = seen.map((s) => s.headers.authorization);
    expect(auths[1]).toBe(auths[0]);
    expect(auths[2]).not.toBe(auths[1]);
    expect((await verifyJwt(auths[2]?.split(' ')[1] ?? '', ec.publicKey, ecdsa)).valid).toBe(true);
  });

  it.each([
    [410, 'Unregistered', 'invalid_token'],
    [400, 'BadDeviceToken', 'invalid_token'],
    [400, 'DeviceTokenNotForTopic', 'invalid_token'],
    [400, 'BadCollapseId', 'failed'],
    [403, 'BadCertificateEnvironment', 'failed'],
    [503, 'ServiceUnavailable', 'retry'],
  ] as const)('classifies %i %s as %s', async (status, reason, expected) => {
    routes['/3/device/'] = () => ({ status, body: { reason, timestamp: T0 } });
    expect(await apns().send(target('apns'), message)).toEqual({ status: expected, reason: `APNs ${status} ${reason}` });
  });

  it('classifies 429 TooManyRequests as retry with Retry-After', async () => {
    routes['/3/device/'] = () => ({ status: 429, headers: { 'retry-after': '12' }, body: { reason: 'TooManyRequests' } });
    expect(await apns().send(target('apns'), message)).toEqual({
      status: 'retry',
      reason: 'APNs 429 TooManyRequests',
      retryAfterSeconds: 12,
    });
  });

  it('answers retry when the connection is refused', async () => {
    const port = await closedPort();
    const provider = createApnsProvider({
      keyPem: ecPem,
      keyId: 'ABC123DEFG',
      teamId: 'TEAM123456',
      topic: 'com.example.messenger',
      origin: `http://127.0.0.1:${port}`,
    });
    const outcome = await provider.send(target('apns'), message);
    expect(outcome).toEqual({ status: 'retry', reason: 'network error: fetch failed (ECONNREFUSED)' });
  });

  it('blanks the URL (which holds the device token) out of network error reasons', async () => {
    const provider = createApnsProvider({
      keyPem: ecPem,
      keyId: 'ABC123DEFG',
      teamId: 'TEAM123456',
      topic: 'com.example.messenger',
      fetch: (input) => Promise.reject(new TypeError(`could not reach ${String(input)}`)),
    });
    const outcome = await provider.send(target('apns'), message);
    expect(outcome).toEqual({ status: 'retry', reason: 'network error: could not reach [redacted]' });
  });

  it('fails without a request when the key is not a P-256 PKCS#8 key', async () => {
    const provider = createApnsProvider({ keyPem: rsaPem, keyId: 'K', teamId: 'T', topic: 'x', origin });
    expect(await provider.send(target('apns'), message)).toMatchObject({ status: 'failed' });
    expect(seen).toHaveLength(0);
  });
});

// ---------------------------------------------------------------------------------------------

describe('webhook provider', () => {
  const SECRET = 'whsec_test_0123456789';

  /** What a receiver does: recompute the HMAC over "<t>.<raw body>" and compare in constant time. */
  function verifySignature(header: string, rawBody: string, secret: string): { t: number; ok: boolean } {
    const parts = new Map(header.split(',').map((kv) => kv.split('=', 2) as [string, string]));
    const t = Number(parts.get('t'));
    const expected = createHmac('sha256', secret).update(`${t}.${rawBody}`).digest();
    const given = Buffer.from(parts.get('v1') ?? '', 'hex');
    return { t, ok: given.length === expected.length && timingSafeEqual(given, expected) };
  }

  it('posts the target and notification as JSON with a verifiable signature', async () => {
    const provider = createWebhookProvider({ url: `${origin}/hook`, secret: SECRET, now: () => T0 });
    expect(await provider.send(target('webhook', 'sub-token-1'), message)).toEqual({ status: 'sent' });
    const [send] = seen;
    expect(send).toMatchObject({ method: 'POST', path: '/hook' });
    expect(send?.headers['content-type']).toBe('application/json');
    expect(json(send)).toEqual({
      token: 'sub-token-1',
      platform: 'webhook',
      userId: '01JUSER0000000000000000000',
      deviceId: '01JDEVICE00000000000000000',
      notification: message,
      sentAt: T0,
    });
    const signature = verifySignature(String(send?.headers['x-messenger-signature']), send?.body ?? '', SECRET);
    expect(signature).toEqual({ t: T0 / 1000, ok: true });
    expect(verifySignature(String(send?.headers['x-messenger-signature']), send?.body ?? '', 'wrong').ok).toBe(false);
  });

  it('sends no signature header without a secret', async () => {
    await createWebhookProvider({ url: `${origin}/hook` }).send(target('webhook'), message);
    expect(seen[0]?.headers['x-messenger-signature']).toBeUndefined();
  });

  it.each([
    ['200', { status: 200, body: { ok: true } }, { status: 'sent' }],
    ['410', { status: 410 }, { status: 'invalid_token', reason: 'webhook 410' }],
    ['404', { status: 404, body: 'unknown subscriber' }, { status: 'invalid_token', reason: 'webhook 404: unknown subscriber' }],
    ['429 with Retry-After', { status: 429, headers: { 'retry-after': '7' } }, { status: 'retry', reason: 'webhook 429', retryAfterSeconds: 7 }],
    ['502', { status: 502 }, { status: 'retry', reason: 'webhook 502' }],
    ['400', { status: 400, body: 'bad payload' }, { status: 'failed', reason: 'webhook 400: bad payload' }],
    ['302 (not followed)', { status: 302, headers: { location: '/elsewhere' } }, { status: 'failed', reason: 'webhook 302' }],
  ] as const)('classifies %s', async (_name, reply, expected) => {
    routes['/hook'] = () => reply;
    expect(await createWebhookProvider({ url: `${origin}/hook` }).send(target('webhook'), message)).toEqual(expected);
    expect(requestsTo('/elsewhere')).toHaveLength(0);
  });

  it('answers retry when the connection is refused', async () => {
    const port = await closedPort();
    const provider = createWebhookProvider({ url: `http://127.0.0.1:${port}/hook` });
    expect(await provider.send(target('webhook'), message)).toMatchObject({ status: 'retry' });
  });
});

// ---------------------------------------------------------------------------------------------

describe('pushProvidersFromEnv', () => {
  const fullEnv = (): PushEnv => ({
    FCM_SERVICE_ACCOUNT: JSON.stringify({ type: 'service_account', ...serviceAccount() }),
    FCM_API_ORIGIN: origin,
    APNS_KEY: ecPem,
    APNS_KEY_ID: 'ABC123DEFG',
    APNS_TEAM_ID: 'TEAM123456',
    APNS_TOPIC: 'com.example.messenger',
    APNS_ORIGIN: origin,
    PUSH_WEBHOOK_URL: `${origin}/hook`,
    PUSH_WEBHOOK_SECRET: 'whsec_test_0123456789',
  });

  it('gives no providers and no problems without settings (blank counts as unset)', () => {
    expect(pushProvidersFromEnv({})).toEqual({ providers: {}, problems: [] });
    expect(pushProvidersFromEnv({ APNS_KEY: '  ', PUSH_WEBHOOK_URL: '' })).toEqual({ providers: {}, problems: [] });
  });

  it('builds every configured provider and reuses them for the same settings', () => {
    const first = pushProvidersFromEnv(fullEnv());
    expect(first.problems).toEqual([]);
    expect(Object.keys(first.providers).sort()).toEqual(['apns', 'fcm', 'webhook']);
    expect(first.providers.fcm?.name).toBe('fcm');
    const second = pushProvidersFromEnv(fullEnv());
    expect(second.providers.fcm).toBe(first.providers.fcm);
    expect(second.providers.apns).toBe(first.providers.apns);
    expect(pushProvidersFromEnv({ ...fullEnv(), PUSH_WEBHOOK_SECRET: 'other' }).providers.webhook).not.toBe(
      first.providers.webhook,
    );
  });

  it('sends through configured providers with the global fetch, sharing tokens across calls', async () => {
    for (let i = 0; i < 2; i++) {
      const { providers } = pushProvidersFromEnv(fullEnv());
      expect(await providers.fcm?.send(target('fcm'), message)).toMatchObject({ status: 'sent' });
      expect(await providers.apns?.send(target('apns'), message)).toMatchObject({ status: 'sent' });
      expect(await providers.webhook?.send(target('webhook'), message)).toEqual({ status: 'sent' });
    }
    expect(requestsTo('/token')).toHaveLength(1);
    const apnsAuth = requestsTo('/3/device/').map((s) => s.headers.authorization);
    expect(apnsAuth[0]).toBe(apnsAuth[1]);
    expect(requestsTo('/hook')[0]?.headers['x-messenger-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
  });

  it.each([
    ['bad JSON', { FCM_SERVICE_ACCOUNT: `{"private_key": "${'x'.repeat(40)}` }, /^FCM_SERVICE_ACCOUNT is not valid JSON/],
    ['a JSON array', { FCM_SERVICE_ACCOUNT: '[]' }, /^FCM_SERVICE_ACCOUNT is not a JSON object/],
    ['missing fields', { FCM_SERVICE_ACCOUNT: '{"project_id":"p"}' }, /^FCM_SERVICE_ACCOUNT lacks client_email, private_key\.$/],
    [
      'a key that is not PEM',
      { FCM_SERVICE_ACCOUNT: JSON.stringify({ project_id: 'p', client_email: 'e', private_key: 'secret-key-material' }) },
      /^FCM_SERVICE_ACCOUNT's private_key is not a PEM block/,
    ],
    ['an origin without account', { FCM_API_ORIGIN: 'https://fcm.example' }, /^FCM_API_ORIGIN is set but FCM_SERVICE_ACCOUNT is not\.$/],
  ])('reports FCM with %s', (_name, env, problem) => {
    const result = pushProvidersFromEnv(env);
    expect(result.providers.fcm).toBeUndefined();
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatch(problem);
    expect(result.problems[0]).not.toContain('xxxx');
    expect(result.problems[0]).not.toContain('secret-key-material');
  });

  it('reports partial or invalid APNs settings', () => {
    const partial = pushProvidersFromEnv({ APNS_KEY: ecPem, APNS_TOPIC: 'com.example.messenger' });
    expect(partial.providers.apns).toBeUndefined();
    expect(partial.problems).toEqual(['APNs is partly configured: APNS_KEY_ID, APNS_TEAM_ID are not set.']);

    const sec1 = ecPem.replace(/PRIVATE KEY/g, 'EC PRIVATE KEY');
    const badKey = pushProvidersFromEnv({ ...fullEnv(), APNS_KEY: sec1, APNS_ORIGIN: 'api.push.apple.com' });
    expect(badKey.providers.apns).toBeUndefined();
    expect(badKey.providers.fcm).toBeDefined();
    expect(badKey.problems).toEqual([
      'APNS_KEY is a "EC PRIVATE KEY" PEM block; a PKCS#8 "PRIVATE KEY" is needed.',
      'APNS_ORIGIN is not a URL.',
    ]);
  });

  it('accepts an APNs key whose newlines were written as \\n', () => {
    const oneLine = ecPem.trim().replace(/\n/g, '\\n');
    const { providers, problems } = pushProvidersFromEnv({ ...fullEnv(), APNS_KEY: oneLine });
    expect(problems).toEqual([]);
    expect(providers.apns).toBeDefined();
  });

  it('reports a webhook secret without URL and a URL that is not http(s)', () => {
    expect(pushProvidersFromEnv({ PUSH_WEBHOOK_SECRET: 's' }).problems).toEqual([
      'PUSH_WEBHOOK_SECRET is set but PUSH_WEBHOOK_URL is not.',
    ]);
    const ftp = pushProvidersFromEnv({ PUSH_WEBHOOK_URL: 'ftp://example.com/hook' });
    expect(ftp).toEqual({ providers: {}, problems: ['PUSH_WEBHOOK_URL must be an http(s) URL.'] });
  });
});
