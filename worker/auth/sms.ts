/**
 * Delivery of one-time codes by SMS. The provider is chosen per deployment with the SMS_PROVIDER
 * variable: `dev` (log the code, return it to the caller; local development only) or `webhook`
 * (POST to an HTTP endpoint that relays the text to a real SMS gateway).
 */
import { ApiError } from '../errors.ts';

export interface SmsProvider {
  /** True only for development: the route then includes the code in its response as `devCode`. */
  readonly returnsCodeInResponse: boolean;
  /** Send `text` to `phone` (E.164). Rejects with an ApiError when delivery failed. */
  send(phone: string, text: string): Promise<void>;
}

/** Local development: the code goes to the log and the HTTP response, never to a phone. */
export class DevSmsProvider implements SmsProvider {
  readonly returnsCodeInResponse = true;

  async send(phone: string, text: string): Promise<void> {
    console.log(`[dev sms] to ${phone}: ${text}`);
  }
}

/** How long to wait for the webhook before answering `unavailable`. */
const WEBHOOK_TIMEOUT_MS = 10_000;

/**
 * POSTs `{ "to": "+E164", "text": "..." }` as JSON with `Authorization: Bearer <token>` and treats
 * any 2xx answer as accepted.
 */
export class WebhookSmsProvider implements SmsProvider {
  readonly returnsCodeInResponse = false;

  constructor(
    private readonly url: string,
    private readonly token: string,
    // Wrapped, not `fetch` itself: workerd rejects a fetch called with another object as `this`.
    private readonly fetcher: typeof fetch = (input, init) => fetch(input, init),
  ) {}

  async send(phone: string, text: string): Promise<void> {
    let res: Response;
    try {
      res = await this.fetcher(this.url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${this.token}` },
        body: JSON.stringify({ to: phone, text }),
        signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      });
    } catch (err) {
      console.error('sms webhook unreachable', err);
      throw new ApiError('unavailable', 'Could not send the SMS; retry later');
    }
    // Drain the body so the connection can be reused.
    await res.body?.cancel();
    if (!res.ok) {
      console.error(`sms webhook answered ${res.status}`);
      throw new ApiError('unavailable', 'Could not send the SMS; retry later');
    }
  }
}

export type SmsConfig = {
  provider: string | undefined;
  webhookUrl: string | undefined;
  webhookToken: string | undefined;
};

/**
 * The SMS settings of this deployment. SMS_WEBHOOK_URL and SMS_WEBHOOK_TOKEN are optional secrets
 * that wrangler.toml does not declare, so the generated `Env` type does not know them.
 */
export function smsConfigFromEnv(env: Env): SmsConfig {
  const vars = env as unknown as Record<string, string | undefined>;
  return {
    provider: vars.SMS_PROVIDER,
    webhookUrl: vars.SMS_WEBHOOK_URL,
    webhookToken: vars.SMS_WEBHOOK_TOKEN,
  };
}

/**
 * The provider SMS_PROVIDER selects. A missing or unknown provider, or a webhook without its URL
 * and token, is a deployment mistake: it fails the request with `unavailable` (and says why in
 * the log) rather than silently dropping codes.
 */
export function smsProviderFor(env: Env): SmsProvider {
  const config = smsConfigFromEnv(env);
  switch (config.provider) {
    case 'dev':
      return new DevSmsProvider();
    case 'webhook': {
      if (!config.webhookUrl || !config.webhookToken || !URL.canParse(config.webhookUrl)) {
        console.error('SMS_PROVIDER=webhook needs SMS_WEBHOOK_URL (a URL) and SMS_WEBHOOK_TOKEN');
        throw new ApiError('unavailable', 'SMS delivery is not configured');
      }
      return new WebhookSmsProvider(config.webhookUrl, config.webhookToken);
    }
    default:
      console.error(`SMS_PROVIDER must be "dev" or "webhook", got ${JSON.stringify(config.provider ?? null)}`);
      throw new ApiError('unavailable', 'SMS delivery is not configured');
  }
}
