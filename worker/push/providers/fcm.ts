/**
 * Firebase Cloud Messaging, HTTP v1 API. Authenticates as a Google service account: an RS256
 * JWT assertion is exchanged at the token endpoint for an OAuth2 access token, which is cached
 * for the isolate's lifetime (about an hour) and shared by concurrent sends.
 *
 * https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages/send
 * https://developers.google.com/identity/protocols/oauth2/service-account#httprest
 */
import type { PushNotification, PushOutcome, PushProvider, PushTarget } from '../../../lib/push-types.ts';
import { boundedId, importPkcs8Key, signJwt } from './jwt.ts';
import {
  excerpt,
  httpSettings,
  isAnswer,
  isRecord,
  isTransient,
  parseJson,
  request,
  retryOutcome,
  trimSlash,
  type HttpAnswer,
  type ProviderHttpOptions,
} from './http.ts';

/** The fields of a Google service-account key file that FCM needs. */
export interface FcmServiceAccount {
  project_id: string;
  client_email: string;
  /** PKCS#8 PEM, as in the key file. */
  private_key: string;
  /** Default `https://oauth2.googleapis.com/token`. */
  token_uri?: string;
}

export interface FcmProviderOptions extends ProviderHttpOptions {
  serviceAccount: FcmServiceAccount;
  /** Default `https://fcm.googleapis.com`. */
  apiOrigin?: string;
}

export const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
export const GOOGLE_TOKEN_URI = 'https://oauth2.googleapis.com/token';
export const FCM_API_ORIGIN = 'https://fcm.googleapis.com';
/** Lifetime of the JWT assertion; Google accepts at most one hour. */
const ASSERTION_LIFETIME_S = 3600;
/** Stop using an access token this long before it expires, so it cannot expire in flight. */
const ACCESS_TOKEN_MARGIN_MS = 60_000;

interface AccessToken {
  value: string;
  expiresAtMs: number;
}

/** An access token, or the outcome every send waiting for it should report. */
type TokenResult = { ok: true; token: AccessToken } | { ok: false; outcome: PushOutcome };

export function createFcmProvider(options: FcmProviderOptions): PushProvider {
  const account = options.serviceAccount;
  const { fetchFn, now, timeoutMs } = httpSettings(options);
  const tokenUri = account.token_uri ?? GOOGLE_TOKEN_URI;
  const sendUrl = `${trimSlash(options.apiOrigin ?? FCM_API_ORIGIN)}/v1/projects/${encodeURIComponent(
    account.project_id,
  )}/messages:send`;

  let key: Promise<CryptoKey> | null = null;
  let cached: AccessToken | null = null;
  // The token request in flight, shared by every send that finds no usable cached token.
  let pending: Promise<TokenResult> | null = null;

  async function signAssertion(): Promise<string> {
    key ??= importPkcs8Key(account.private_key, 'RS256');
    const iat = Math.floor(now() / 1000);
    return signJwt(
      await key,
      { alg: 'RS256', typ: 'JWT' },
      { iss: account.client_email, scope: FCM_SCOPE, aud: tokenUri, iat, exp: iat + ASSERTION_LIFETIME_S },
    );
  }

  async function fetchAccessToken(): Promise<TokenResult> {
    let assertion: string;
    try {
      assertion = await signAssertion();
    } catch {
      key = null;
      const reason = 'FCM: the service account private_key cannot sign (not a PKCS#8 RSA key)';
      return { ok: false, outcome: { status: 'failed', reason } };
    }
    const requestedAtMs = now();
    const body = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion });
    const answer = await request(
      fetchFn,
      tokenUri,
      { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() },
      timeoutMs,
    );
    if (!isAnswer(answer)) return { ok: false, outcome: { ...answer, reason: `FCM token endpoint: ${answer.reason}` } };
    return tokenResultFrom(answer, requestedAtMs, now());
  }

  function accessToken(): Promise<TokenResult> {
    if (cached && now() < cached.expiresAtMs - ACCESS_TOKEN_MARGIN_MS) {
      return Promise.resolve({ ok: true, token: cached });
    }
    pending ??= fetchAccessToken()
      .then((result) => {
        if (result.ok) cached = result.token;
        return result;
      })
      .finally(() => {
        pending = null;
      });
    return pending;
  }

  return {
    name: 'fcm',
    async send(target: PushTarget, notification: PushNotification): Promise<PushOutcome> {
      const auth = await accessToken();
      if (!auth.ok) return auth.outcome;
      const message = await fcmMessage(target.token, notification);
      const answer = await request(
        fetchFn,
        sendUrl,
        {
          method: 'POST',
          headers: { authorization: `Bearer ${auth.token.value}`, 'content-type': 'application/json; charset=utf-8' },
          body: JSON.stringify({ message }),
        },
        timeoutMs,
        [target.token, auth.token.value],
      );
      if (!isAnswer(answer)) return answer;
      if (answer.status === 401 && cached === auth.token) cached = null;
      return classifyFcmAnswer(answer, now(), [target.token, auth.token.value]);
    },
  };
}

/** Reads the token endpoint's answer: `{access_token, expires_in, token_type}` on success. */
function tokenResultFrom(answer: HttpAnswer, requestedAtMs: number, nowMs: number): TokenResult {
  const body = parseJson(answer.text);
  if (answer.status === 200 && isRecord(body) && typeof body.access_token === 'string') {
    const expiresIn = typeof body.expires_in === 'number' ? body.expires_in : 3600;
    // Measured from when we asked, so time spent in flight only shortens our use of the token.
    return { ok: true, token: { value: body.access_token, expiresAtMs: requestedAtMs + expiresIn * 1000 } };
  }
  const detail = isRecord(body) && typeof body.error === 'string' ? body.error : `HTTP ${answer.status}`;
  const reason = `FCM token endpoint: ${detail}`;
  if (isTransient(answer.status)) return { ok: false, outcome: retryOutcome(reason, answer, nowMs) };
  // invalid_grant / invalid_client: a revoked or wrong service account; retrying will not help.
  return { ok: false, outcome: { status: 'failed', reason } };
}

/** The v1 `message` for one device. Data values must all be strings. */
export async function fcmMessage(token: string, n: PushNotification): Promise<Record<string, unknown>> {
  const data: Record<string, string> = { kind: n.kind, collapseKey: n.collapseKey };
  if (n.conversation) {
    data.conversationKind = n.conversation.kind;
    data.conversationId = n.conversation.id;
  }
  if (n.messageId !== null) data.messageId = n.messageId;
  if (n.badge !== null) data.badge = String(n.badge);

  const aps: Record<string, unknown> = n.silent ? { 'content-available': 1 } : { sound: 'default' };
  if (n.badge !== null) aps.badge = n.badge;
  if (n.conversation) aps['thread-id'] = n.conversation.id;
  const apnsHeaders: Record<string, string> = { 'apns-collapse-id': await boundedId(n.collapseKey) };
  if (n.silent) Object.assign(apnsHeaders, { 'apns-push-type': 'background', 'apns-priority': '5' });

  return {
    token,
    ...(n.silent ? {} : { notification: { title: n.title, body: n.body } }),
    data,
    android: {
      priority: n.silent ? 'normal' : 'high',
      collapse_key: n.collapseKey,
      // Any android.notification turns a data message into a displayed one, so silent has none.
      ...(n.silent ? {} : { notification: { tag: n.collapseKey } }),
    },
    apns: { headers: apnsHeaders, payload: { aps } },
  };
}

/**
 * Maps an answer of messages:send to an outcome, following the FCM v1 error codes:
 * https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode
 */
export function classifyFcmAnswer(answer: HttpAnswer, nowMs: number, secrets: readonly string[]): PushOutcome {
  const body = parseJson(answer.text);
  if (answer.status === 200) {
    const name = isRecord(body) && typeof body.name === 'string' ? body.name : undefined;
    return name === undefined ? { status: 'sent' } : { status: 'sent', id: name };
  }
  const error = fcmError(body);
  const reason = `FCM ${answer.status} ${[error.errorCode ?? error.status, excerpt(error.message, secrets)]
    .filter(Boolean)
    .join(': ')}`.trim();
  if (answer.status === 404 || error.errorCode === 'UNREGISTERED') return { status: 'invalid_token', reason };
  if (answer.status === 400 && isInvalidArgument(error) && /token/i.test(error.message)) {
    return { status: 'invalid_token', reason };
  }
  // Our access token was refused (expired early, revoked): the caller dropped it; the next try gets a new one.
  if (answer.status === 401) return { status: 'retry', reason };
  if (isTransient(answer.status)) return retryOutcome(reason, answer, nowMs);
  return { status: 'failed', reason };
}

interface FcmErrorInfo {
  status: string | null;
  errorCode: string | null;
  message: string;
}

/** `{error: {code, message, status, details: [{'@type': '…FcmError', errorCode}]}}` → its parts. */
function fcmError(body: unknown): FcmErrorInfo {
  const error = isRecord(body) && isRecord(body.error) ? body.error : {};
  const details = Array.isArray(error.details) ? error.details : [];
  const withCode = details.find((d): d is { errorCode: string } => isRecord(d) && typeof d.errorCode === 'string');
  return {
    status: typeof error.status === 'string' ? error.status : null,
    errorCode: withCode?.errorCode ?? null,
    message: typeof error.message === 'string' ? error.message : '',
  };
}

function isInvalidArgument(error: FcmErrorInfo): boolean {
  return error.errorCode === 'INVALID_ARGUMENT' || error.status === 'INVALID_ARGUMENT';
}
