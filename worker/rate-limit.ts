/**
 * Limits at the edge: per client IP and per phone-number block, counted by the Workers Rate
 * Limiting bindings named in protocol/rate-limits.ts (declared in wrangler.toml). They run
 * before any storage is touched. Exact per-user and per-device budgets live in the user's
 * Durable Object instead (durable-objects/mailbox/budgets.ts).
 */
import { RATE_LIMITS, type EdgeLimitName } from '../protocol/index.ts';
import { isLocalDevelopment } from './config.ts';
import { rateLimited } from './errors.ts';

/** The client's address as Cloudflare reports it; 'unknown' when absent (never in production). */
export function clientIp(req: Request): string {
  return req.headers.get('CF-Connecting-IP') ?? 'unknown';
}

/**
 * The block of 1,000 numbers an E.164 number belongs to (SMS pumping targets number ranges).
 *
 * @example
 * phonePrefix('+4915112345678') // '+4915112345'
 */
export function phonePrefix(e164: string): string {
  return e164.slice(0, Math.max(4, e164.length - 3));
}

function binding(env: Env, name: string): RateLimit | undefined {
  const value = (env as unknown as Record<string, unknown>)[name];
  return typeof value === 'object' && value !== null && 'limit' in value ? (value as RateLimit) : undefined;
}

/**
 * Whether the anonymous login limits are off: `IP_LIMITS=off`, honoured in local development
 * only, where every client is 127.0.0.1 and tests sign up hundreds of users a minute. It covers
 * the per-IP limits, the per-number-block limit and the waits per number and client.
 */
export function ipLimitsOff(env: Env): boolean {
  return env.IP_LIMITS === 'off' && isLocalDevelopment(env);
}

/**
 * Count one request against an edge limit; throws `rate_limited` (with `retryAfterMs`, the
 * length of the binding's window: the counter is fixed-window, so that is the longest wait) when
 * it is over. `IP_LIMITS=off` skips the anonymous (per-IP, per-number-block) limits in local
 * development only.
 *
 * @example
 * await limitAtEdge(c.env, 'otp_request_ip', clientIp(c.req.raw));
 */
export async function limitAtEdge(env: Env, name: EdgeLimitName, key: string): Promise<void> {
  const limit = RATE_LIMITS[name];
  if (limit.scope !== 'device' && ipLimitsOff(env)) return;
  const counter = binding(env, limit.binding);
  if (counter === undefined) {
    // A deployment without the binding would have no limit at all: refuse rather than run open.
    console.error(`rate limit binding ${limit.binding} is missing (wrangler.toml [[ratelimits]])`);
    throw rateLimited(limit.periodSeconds * 1000, 'Rate limiting is not configured');
  }
  const { success } = await counter.limit({ key: `${name}:${key}` });
  if (!success) throw rateLimited(limit.periodSeconds * 1000, `Too many requests (${limit.what}); retry later`);
}
