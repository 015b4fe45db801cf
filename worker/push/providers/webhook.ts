/**
 * Generic webhook: POSTs each notification as JSON to one URL (a self-hosted push gateway, a
 * UnifiedPush/ntfy bridge, a test receiver). With a secret, the request is signed Stripe-style:
 *
 *   x-messenger-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
 *
 * The timestamp is inside the MAC so a receiver can reject replays of old requests.
 */
import type { PushNotification, PushOutcome, PushProvider, PushTarget } from '../../../lib/push-types.ts';
import { hmacSha256Hex } from './jwt.ts';
import {
  excerpt,
  httpSettings,
  isAnswer,
  isTransient,
  request,
  retryOutcome,
  type HttpAnswer,
  type ProviderHttpOptions,
} from './http.ts';

export interface WebhookProviderOptions extends ProviderHttpOptions {
  url: string;
  /** When set, every request carries `x-messenger-signature`. */
  secret?: string;
}

export const SIGNATURE_HEADER = 'x-messenger-signature';

/** The JSON body a webhook receives. `sentAt` is milliseconds since the epoch, like every protocol timestamp. */
export interface WebhookBody {
  token: string;
  platform: PushTarget['platform'];
  userId: string;
  deviceId: string;
  notification: PushNotification;
  sentAt: number;
}

export function createWebhookProvider(options: WebhookProviderOptions): PushProvider {
  const { fetchFn, now, timeoutMs } = httpSettings(options);

  return {
    name: 'webhook',
    async send(target: PushTarget, notification: PushNotification): Promise<PushOutcome> {
      const sentAt = now();
      const body: WebhookBody = {
        token: target.token,
        platform: target.platform,
        userId: target.userId,
        deviceId: target.deviceId,
        notification,
        sentAt,
      };
      const raw = JSON.stringify(body);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (options.secret) headers[SIGNATURE_HEADER] = await webhookSignature(options.secret, raw, sentAt);
      const secrets = [target.token, options.secret ?? ''];
      const answer = await request(fetchFn, options.url, { method: 'POST', headers, body: raw }, timeoutMs, secrets);
      if (!isAnswer(answer)) return answer;
      return classifyWebhookAnswer(answer, now(), secrets);
    },
  };
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`. */
export async function webhookSignature(secret: string, rawBody: string, nowMs: number): Promise<string> {
  const t = Math.floor(nowMs / 1000);
  return `t=${t},v1=${await hmacSha256Hex(secret, `${t}.${rawBody}`)}`;
}

/**
 * 2xx sent; 404/410 the receiver does not know the token; 429/5xx transient; anything else
 * (including a 3xx: redirects are not followed, so a signed body never goes elsewhere) failed.
 */
export function classifyWebhookAnswer(answer: HttpAnswer, nowMs: number, secrets: readonly string[]): PushOutcome {
  if (answer.status >= 200 && answer.status < 300) return { status: 'sent' };
  const detail = excerpt(answer.text, secrets, 100);
  const reason = `webhook ${answer.status}${detail ? `: ${detail}` : ''}`;
  if (answer.status === 404 || answer.status === 410) return { status: 'invalid_token', reason };
  if (isTransient(answer.status)) return retryOutcome(reason, answer, nowMs);
  return { status: 'failed', reason };
}
