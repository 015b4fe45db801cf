/**
 * Push providers from the Worker's settings (secrets and vars). A platform without settings has
 * no provider; a platform with partial or invalid settings has no provider and a problem, a
 * sentence naming the variable (never its value). Never throws: a push misconfiguration must
 * not take message delivery down with it.
 *
 * Providers are cached per settings text at module level, so within one isolate the FCM access
 * token and the APNs provider token survive across requests instead of being fetched or signed
 * again for every message.
 */
import type { PushPlatform, PushProvider } from '../../lib/push-types.ts';
import { createApnsProvider } from './providers/apns.ts';
import { createFcmProvider, type FcmServiceAccount } from './providers/fcm.ts';
import { isRecord } from './providers/http.ts';
import { pkcs8FromPem } from './providers/jwt.ts';
import { createWebhookProvider } from './providers/webhook.ts';

export interface PushEnv {
  /** The Google service-account key file's JSON text. */
  FCM_SERVICE_ACCOUNT?: string;
  FCM_API_ORIGIN?: string;
  /** The APNs AuthKey_*.p8 file's text. */
  APNS_KEY?: string;
  APNS_KEY_ID?: string;
  APNS_TEAM_ID?: string;
  APNS_TOPIC?: string;
  APNS_ORIGIN?: string;
  PUSH_WEBHOOK_URL?: string;
  PUSH_WEBHOOK_SECRET?: string;
}

export interface PushProviders {
  providers: Partial<Record<PushPlatform, PushProvider>>;
  problems: string[];
}

type Built = { provider: PushProvider } | { problems: string[] } | null;

/** Providers by settings text; a new secret value simply gets a new entry. */
const cache = new Map<string, PushProvider>();
/** Settings change rarely; the bound only keeps a churn of values from growing the map forever. */
const CACHE_MAX = 16;

export function pushProvidersFromEnv(vars: PushEnv): PushProviders {
  const result: PushProviders = { providers: {}, problems: [] };
  const builders: Record<PushPlatform, () => Built> = {
    fcm: () => fcmFromEnv(vars),
    apns: () => apnsFromEnv(vars),
    webhook: () => webhookFromEnv(vars),
  };
  for (const [platform, build] of Object.entries(builders) as [PushPlatform, () => Built][]) {
    let built: Built;
    try {
      built = build();
    } catch {
      built = { problems: [`The ${platform} push settings could not be read.`] };
    }
    if (built === null) continue;
    if ('provider' in built) result.providers[platform] = built.provider;
    else result.problems.push(...built.problems);
  }
  return result;
}

/** For tests: forget cached providers (and with them their tokens). */
export function clearPushProviderCache(): void {
  cache.clear();
}

function cached(settings: (string | undefined)[], create: () => PushProvider): PushProvider {
  const key = JSON.stringify(settings);
  let provider = cache.get(key);
  if (!provider) {
    if (cache.size >= CACHE_MAX) cache.clear();
    provider = create();
    cache.set(key, provider);
  }
  return provider;
}

// ---------------------------------------------------------------------------------------------
// FCM

function fcmFromEnv(vars: PushEnv): Built {
  const json = present(vars.FCM_SERVICE_ACCOUNT);
  const apiOrigin = present(vars.FCM_API_ORIGIN);
  if (json === undefined) {
    return apiOrigin === undefined ? null : { problems: ['FCM_API_ORIGIN is set but FCM_SERVICE_ACCOUNT is not.'] };
  }
  const problems: string[] = [];
  const account = parseServiceAccount(json, problems);
  checkUrl('FCM_API_ORIGIN', apiOrigin, problems);
  if (!account || problems.length > 0) return { problems };
  return {
    provider: cached(['fcm', json, apiOrigin], () => createFcmProvider({ serviceAccount: account, apiOrigin })),
  };
}

function parseServiceAccount(json: string, problems: string[]): FcmServiceAccount | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    // The parser's message quotes the text around the error, which may be the private key.
    problems.push('FCM_SERVICE_ACCOUNT is not valid JSON (expected the service-account key file).');
    return null;
  }
  if (!isRecord(parsed)) {
    problems.push('FCM_SERVICE_ACCOUNT is not a JSON object (expected the service-account key file).');
    return null;
  }
  const required = ['project_id', 'client_email', 'private_key'];
  const missing = required.filter((field) => present(stringField(parsed, field)) === undefined);
  if (missing.length > 0) {
    problems.push(`FCM_SERVICE_ACCOUNT lacks ${missing.join(', ')}.`);
    return null;
  }
  const account: FcmServiceAccount = {
    project_id: stringField(parsed, 'project_id') ?? '',
    client_email: stringField(parsed, 'client_email') ?? '',
    private_key: stringField(parsed, 'private_key') ?? '',
  };
  const keyProblem = pemProblem(account.private_key);
  if (keyProblem) problems.push(`FCM_SERVICE_ACCOUNT's private_key is ${keyProblem}.`);
  const tokenUri = present(stringField(parsed, 'token_uri'));
  if (tokenUri !== undefined) {
    checkUrl("FCM_SERVICE_ACCOUNT's token_uri", tokenUri, problems);
    account.token_uri = tokenUri;
  }
  return account;
}

// ---------------------------------------------------------------------------------------------
// APNs

function apnsFromEnv(vars: PushEnv): Built {
  const required = {
    APNS_KEY: present(vars.APNS_KEY),
    APNS_KEY_ID: present(vars.APNS_KEY_ID),
    APNS_TEAM_ID: present(vars.APNS_TEAM_ID),
    APNS_TOPIC: present(vars.APNS_TOPIC),
  };
  const origin = present(vars.APNS_ORIGIN);
  const missing = Object.entries(required)
    .filter(([, value]) => value === undefined)
    .map(([name]) => name);
  if (missing.length === 4 && origin === undefined) return null;
  const problems: string[] = [];
  if (missing.length > 0) {
    problems.push(`APNs is partly configured: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set.`);
  }
  const { APNS_KEY: keyPem, APNS_KEY_ID: keyId, APNS_TEAM_ID: teamId, APNS_TOPIC: topic } = required;
  const keyProblem = keyPem === undefined ? null : pemProblem(keyPem);
  if (keyProblem) problems.push(`APNS_KEY is ${keyProblem}.`);
  checkUrl('APNS_ORIGIN', origin, problems);
  if (problems.length > 0 || !keyPem || !keyId || !teamId || !topic) return { problems };
  return {
    provider: cached(['apns', keyPem, keyId, teamId, topic, origin], () =>
      createApnsProvider({ keyPem, keyId, teamId, topic, origin }),
    ),
  };
}

// ---------------------------------------------------------------------------------------------
// Webhook

function webhookFromEnv(vars: PushEnv): Built {
  const url = present(vars.PUSH_WEBHOOK_URL);
  const secret = present(vars.PUSH_WEBHOOK_SECRET);
  if (url === undefined) {
    return secret === undefined ? null : { problems: ['PUSH_WEBHOOK_SECRET is set but PUSH_WEBHOOK_URL is not.'] };
  }
  const problems: string[] = [];
  checkUrl('PUSH_WEBHOOK_URL', url, problems);
  if (problems.length > 0) return { problems };
  return { provider: cached(['webhook', url, secret], () => createWebhookProvider({ url, secret })) };
}

// ---------------------------------------------------------------------------------------------

/** The value, or undefined when unset or blank (an empty secret counts as not configured). */
function present(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

function stringField(record: Record<string, unknown>, field: string): string | undefined {
  const value = record[field];
  return typeof value === 'string' ? value : undefined;
}

/** Why `pem` is not a usable PKCS#8 key, or null. Checked here so a bad key shows at startup. */
function pemProblem(pem: string): string | null {
  try {
    pkcs8FromPem(pem);
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : 'not a PKCS#8 PEM key';
  }
}

function checkUrl(name: string, value: string | undefined, problems: string[]): void {
  if (value === undefined) return;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.push(`${name} is not a URL.`);
    return;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') problems.push(`${name} must be an http(s) URL.`);
}
