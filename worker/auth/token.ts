/**
 * Bearer tokens: an HS256 JWT naming one user and one of their devices. The signature proves we
 * issued it; whether the device is still logged in is checked against D1 by the middleware, so
 * a token stops working at logout even though it has not expired.
 */
import { sign, verify } from 'hono/jwt';
import { ACCESS_TOKEN_TTL_MS, ULID_PATTERN } from '../../protocol/index.ts';
import type { AuthContext } from '../app-env.ts';
import { ApiError } from '../errors.ts';

/**
 * Access-token lifetime (15 minutes): short, because a token cannot be recalled before it
 * expires except by revoking its device; clients renew it with their refresh token (session.ts).
 */
export const TOKEN_TTL_SECONDS = ACCESS_TOKEN_TTL_MS / 1000;
/** Tolerated clock difference for `iat` between the instances that sign and verify. */
const CLOCK_SKEW_SECONDS = 60;

export type TokenClaims = {
  /** User id. */
  sub: string;
  /** Device id. */
  did: string;
  /** Issued at, seconds since the epoch. */
  iat: number;
  /** Expires at, seconds since the epoch. */
  exp: number;
};

function requireSecret(secret: string): string {
  // An empty HMAC key would sign tokens anyone can forge.
  if (secret.length === 0) throw new ApiError('unavailable', 'TOKEN_SECRET is not configured');
  return secret;
}

/**
 * Issue a token for a device. `now` is in ms; `expiresAt` in the result is ms too (JWT claims
 * inside the token are seconds, as the standard says).
 *
 * @example
 * const { token, expiresAt } = await signToken(env.TOKEN_SECRET, { userId, deviceId }, Date.now());
 */
export async function signToken(
  secret: string,
  who: AuthContext,
  now: number,
  ttlSeconds: number = TOKEN_TTL_SECONDS,
): Promise<{ token: string; expiresAt: number }> {
  const iat = Math.floor(now / 1000);
  const claims: TokenClaims = { sub: who.userId, did: who.deviceId, iat, exp: iat + ttlSeconds };
  const token = await sign(claims, requireSecret(secret), 'HS256');
  return { token, expiresAt: claims.exp * 1000 };
}

/**
 * Check a token's signature and lifetime and return who it names. Throws ApiError
 * 'token_expired' for a genuine but expired token and 'token_invalid' for anything else
 * (malformed, wrong signature or algorithm, missing or malformed claims).
 */
export async function verifyToken(secret: string, token: string, now: number = Date.now()): Promise<AuthContext> {
  let payload: Record<string, unknown>;
  try {
    // Time claims are checked below, after the signature, against the injectable clock: an
    // expired token must only be reported as expired if we really issued it.
    payload = await verify(token, requireSecret(secret), { alg: 'HS256', exp: false, nbf: false, iat: false });
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ApiError('token_invalid');
  }
  const { sub, did, iat, exp } = payload;
  if (
    typeof sub !== 'string' ||
    typeof did !== 'string' ||
    !ULID_PATTERN.test(sub) ||
    !ULID_PATTERN.test(did) ||
    typeof iat !== 'number' ||
    typeof exp !== 'number' ||
    !Number.isFinite(iat) ||
    !Number.isFinite(exp)
  ) {
    throw new ApiError('token_invalid');
  }
  const nowSeconds = Math.floor(now / 1000);
  if (iat > nowSeconds + CLOCK_SKEW_SECONDS) throw new ApiError('token_invalid');
  if (exp <= nowSeconds) throw new ApiError('token_expired');
  return { userId: sub, deviceId: did };
}
