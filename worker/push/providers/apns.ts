/**
 * Apple Push Notification service, token-based authentication: each request carries an ES256
 * "provider token" signed with the team's .p8 key. Apple accepts a token for 60 minutes and
 * answers TooManyProviderTokenUpdates if it is replaced more often than every 20, so one token is
 * reused for 50 minutes.
 *
 * https://developer.apple.com/documentation/usernotifications/establishing-a-token-based-connection-to-apns
 * https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns
 * https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns
 *
 * APNs speaks HTTP/2 only; see docs/PUSH-PROVIDERS.md for what that means for `fetch` in Workers.
 */
import type { PushNotification, PushOutcome, PushProvider, PushTarget } from '../../../lib/push-types.ts';
import { importPkcs8Key, signJwt, boundedId } from './jwt.ts';
import {
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

export interface ApnsProviderOptions extends ProviderHttpOptions {
  /** The AuthKey_XXXXXXXXXX.p8 file's text (PKCS#8 PEM, P-256). */
  keyPem: string;
  /** The key's 10-character Key ID. */
  keyId: string;
  /** The 10-character Team ID. */
  teamId: string;
  /** The app's bundle id (`apns-topic`). */
  topic: string;
  /** Default production `https://api.push.apple.com`; development builds need `APNS_SANDBOX_ORIGIN`. */
  origin?: string;
}

export const APNS_ORIGIN = 'https://api.push.apple.com';
export const APNS_SANDBOX_ORIGIN = 'https://api.sandbox.push.apple.com';
/** Reuse a provider token this long: under Apple's 60-minute limit, over its 20-minute minimum. */
export const PROVIDER_TOKEN_REUSE_MS = 50 * 60_000;
/** How long APNs keeps trying to deliver to an offline device. */
const EXPIRATION_S = 24 * 3600;

interface ProviderToken {
  jwt: string;
  issuedAtMs: number;
}

export function createApnsProvider(options: ApnsProviderOptions): PushProvider {
  const { fetchFn, now, timeoutMs } = httpSettings(options);
  const origin = trimSlash(options.origin ?? APNS_ORIGIN);

  let key: Promise<CryptoKey> | null = null;
  let cached: ProviderToken | null = null;
  // The signing in flight, shared by concurrent sends that find no usable token.
  let signing: Promise<ProviderToken> | null = null;

  async function issueToken(): Promise<ProviderToken> {
    key ??= importPkcs8Key(options.keyPem, 'ES256');
    const issuedAtMs = now();
    const jwt = await signJwt(
      await key,
      { alg: 'ES256', kid: options.keyId },
      { iss: options.teamId, iat: Math.floor(issuedAtMs / 1000) },
    );
    return { jwt, issuedAtMs };
  }

  function providerToken(): Promise<ProviderToken> {
    if (cached && now() - cached.issuedAtMs < PROVIDER_TOKEN_REUSE_MS) return Promise.resolve(cached);
    signing ??= issueToken()
      .then((token) => {
        cached = token;
        return token;
      })
      .finally(() => {
        signing = null;
      });
    return signing;
  }

  return {
    name: 'apns',
    async send(target: PushTarget, notification: PushNotification): Promise<PushOutcome> {
      let token: ProviderToken;
      try {
        token = await providerToken();
      } catch {
        key = null;
        return { status: 'failed', reason: 'APNs: the key cannot sign (APNS_KEY is not a PKCS#8 P-256 key)' };
      }
      const answer = await request(
        fetchFn,
        `${origin}/3/device/${encodeURIComponent(target.token)}`,
        {
          method: 'POST',
          headers: await apnsHeaders(token.jwt, options.topic, notification, now()),
          body: JSON.stringify(apnsPayload(notification)),
        },
        timeoutMs,
        [target.token],
      );
      if (!isAnswer(answer)) return answer;
      const outcome = classifyApnsAnswer(answer, now());
      // Apple refused our provider token: sign a fresh one for the next attempt (unless a
      // concurrent send already replaced it).
      if (outcome.status === 'retry' && answer.status === 403 && cached === token) cached = null;
      return outcome;
    },
  };
}

export async function apnsHeaders(
  jwt: string,
  topic: string,
  n: PushNotification,
  nowMs: number,
): Promise<Record<string, string>> {
  return {
    authorization: `bearer ${jwt}`,
    'apns-topic': topic,
    'apns-push-type': n.silent ? 'background' : 'alert',
    // Apple requires priority 5 for background pushes; 10 delivers alerts immediately.
    'apns-priority': n.silent ? '5' : '10',
    'apns-expiration': String(Math.floor(nowMs / 1000) + EXPIRATION_S),
    'apns-collapse-id': await boundedId(n.collapseKey),
    'content-type': 'application/json',
  };
}

/** The JSON payload: `aps` for the system, plus our keys for the app to open the right chat. */
export function apnsPayload(n: PushNotification): Record<string, unknown> {
  const aps: Record<string, unknown> = n.silent
    ? { 'content-available': 1 }
    : { alert: { title: n.title, body: n.body }, sound: 'default' };
  if (n.badge !== null) aps.badge = n.badge;
  if (!n.silent && n.conversation) aps['thread-id'] = n.conversation.id;
  return { aps, kind: n.kind, conversation: n.conversation, messageId: n.messageId };
}

const DEAD_TOKEN_REASONS = new Set(['BadDeviceToken', 'DeviceTokenNotForTopic', 'Unregistered', 'ExpiredToken']);
const PROVIDER_TOKEN_REASONS = new Set(['ExpiredProviderToken', 'InvalidProviderToken']);

/** Maps an APNs answer (`{reason}` in the body unless 200) to an outcome. */
export function classifyApnsAnswer(answer: HttpAnswer, nowMs: number): PushOutcome {
  if (answer.status === 200) {
    const id = answer.headers.get('apns-id');
    return id ? { status: 'sent', id } : { status: 'sent' };
  }
  const body = parseJson(answer.text);
  const appleReason = isRecord(body) && typeof body.reason === 'string' ? body.reason : '';
  // Apple's reason strings are fixed identifiers (never echo the token), so they are safe to report.
  const reason = `APNs ${answer.status}${appleReason ? ` ${appleReason.slice(0, 100)}` : ''}`;
  if (answer.status === 410) return { status: 'invalid_token', reason };
  if (answer.status === 400 && DEAD_TOKEN_REASONS.has(appleReason)) return { status: 'invalid_token', reason };
  if (answer.status === 403 && PROVIDER_TOKEN_REASONS.has(appleReason)) return { status: 'retry', reason };
  if (isTransient(answer.status)) return retryOutcome(reason, answer, nowMs);
  return { status: 'failed', reason };
}
