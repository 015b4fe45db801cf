/**
 * Sessions: a short-lived access token (token.ts) plus a refresh token per device that rotates
 * on every use. Only HMACs of refresh tokens are stored (devices.refresh_hash and the one before
 * it, refresh_prev_hash); a token presented again after it was rotated was copied, so the device
 * is logged out. Also here: logging a device out everywhere (D1, its socket, its push token) and
 * the rule that a device younger than a day that did not enter the PIN may not act for the owner.
 */
import { and, eq, isNull, sql } from 'drizzle-orm';
import { ulid } from 'ulid';
import {
  NEW_DEVICE_TRUST_MS,
  SESSION_IDLE_DEFAULT_DAYS,
  ULID_PATTERN,
  type SessionResponse,
} from '../../protocol/index.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';
import type { AuthContext } from '../app-env.ts';
import { accountsDb, getActiveDevice, inactiveDeviceCode, revokeDevice, type DbLike } from '../../db/accounts.ts';
import { unregisterPushToken } from '../../db/push.ts';
import { devices, type DeviceRow } from '../../db/schema.ts';
import { ApiError } from '../errors.ts';
import { randomBase64Url } from '../../lib/random.ts';
import { hmacHex } from './crypto.ts';
import { constantTimeEqual } from './otp.ts';
import { signToken } from './token.ts';

const DAY_MS = 24 * 60 * 60_000;
/** Random bytes after the device id in a refresh token: 32 bytes, 43 base64url characters. */
const REFRESH_SECRET_BYTES = 32;
/** `<deviceId>.<43 base64url characters>`: the device id lets a refresh find its row without a search. */
const REFRESH_TOKEN_PATTERN = /^([0-9A-HJKMNP-TV-Z]{26})\.([A-Za-z0-9_-]{43})$/;
/**
 * A client whose refresh answer was lost (a dropped connection after the server rotated) retries
 * with the token it still has, the previous one. Within this long after the rotation that retry is
 * answered once with a new pair instead of being taken for a copy. The pair it displaces is kept
 * (refresh_displaced_hash): whoever presents that one later, like the previous token after the
 * window or a second time, logs the device out. So a thief who races the owner within the window
 * still ends both sessions at the owner's next refresh.
 */
export const REFRESH_RETRY_GRACE_MS = 30_000;

/** How long a device may stay unused before its refresh token is refused: SESSION_IDLE_DAYS (default 180). */
export function sessionIdleMs(env: { SESSION_IDLE_DAYS?: string }): number {
  const days = Number(env.SESSION_IDLE_DAYS);
  return (Number.isFinite(days) && days > 0 ? days : SESSION_IDLE_DEFAULT_DAYS) * DAY_MS;
}

/** Hex HMAC of a refresh token under the server secret: what D1 stores instead of the token. */
export function hashRefreshToken(secret: string, token: string): Promise<string> {
  return hmacHex(secret, `refresh:${token}`);
}

export type DeviceCredentials = { deviceId: string; refreshToken: string; refreshHash: string };

/**
 * A new device's id and first refresh token, made before the device row so the row is inserted
 * with the token's hash (a device never exists without one).
 */
export async function newDeviceCredentials(secret: string, now: number): Promise<DeviceCredentials> {
  const deviceId = ulid(now);
  const refreshToken = `${deviceId}.${randomBase64Url(REFRESH_SECRET_BYTES)}`;
  return { deviceId, refreshToken, refreshHash: await hashRefreshToken(secret, refreshToken) };
}

/**
 * The answer of every login and refresh: a fresh access token for the device and the refresh
 * token the caller just stored the hash of.
 */
export async function sessionFor(
  secret: string,
  who: AuthContext,
  session: { refreshToken: string; newUser: boolean; history: boolean },
  now: number,
): Promise<SessionResponse> {
  const { token, expiresAt } = await signToken(secret, who, now);
  return { token, expiresAt, refreshToken: session.refreshToken, userId: who.userId, deviceId: who.deviceId, newUser: session.newUser, history: session.history };
}

/**
 * Log a device out: D1 first (from then on every token of it is refused), then close its socket
 * and drop its push token. False when it was not an active device of the user.
 */
export async function logOutDevice(env: Env, userId: string, deviceId: string, now: number): Promise<boolean> {
  const revoked = await revokeDevice(env.DB, userId, deviceId, now);
  if (revoked) await Promise.all([mailboxOf(env, userId).revokeDevice(deviceId), unregisterPushToken(env.DB, deviceId)]);
  return revoked;
}

/** When a device was last used: its last request, refresh or login. */
const lastUse = sql<number>`max(coalesce(${devices.lastSeenAt}, 0), coalesce(${devices.refreshedAt}, 0), ${devices.createdAt})`;

/**
 * Log out the user's devices idle longer than SESSION_IDLE_DAYS: their refresh tokens would be
 * refused anyway, and this way the device list, the push targets and the other devices (told
 * `device_removed`) stop counting them. Returns their ids.
 */
export async function expireIdleDevices(env: Env, userId: string, now: number): Promise<string[]> {
  const idle = await accountsDb(env.DB)
    .select({ id: devices.id })
    .from(devices)
    .where(and(eq(devices.userId, userId), isNull(devices.revokedAt), sql`${lastUse} < ${now - sessionIdleMs(env)}`));
  const expired: string[] = [];
  for (const { id } of idle) {
    if (await logOutDevice(env, userId, id, now)) expired.push(id);
  }
  return expired;
}

/**
 * Renew a session with its refresh token. The rotation is one conditional UPDATE, so of two
 * refreshes with the same token only one rotates; the other then finds its token in
 * refresh_prev_hash. Within REFRESH_RETRY_GRACE_MS of that rotation it is answered once more (a
 * retry after a lost answer, see REFRESH_RETRY_GRACE_MS); otherwise it is taken for a copy and the
 * device is logged out. Clients must not refresh in parallel (single-flight).
 *
 * Refusals: `refresh_invalid` for a malformed or unknown token or a revoked device (nothing
 * changes: a guessed device id revokes nobody, since the random part must match a stored
 * hash), and for a rotated one (the device is logged out); `session_expired` when the device
 * was idle longer than SESSION_IDLE_DAYS (logged out too).
 */
export async function refreshSession(env: Env, refreshToken: string, now: number): Promise<SessionResponse> {
  const match = REFRESH_TOKEN_PATTERN.exec(refreshToken);
  const deviceId = match?.[1];
  if (deviceId === undefined || !ULID_PATTERN.test(deviceId)) throw new ApiError('refresh_invalid');
  const secret = env.TOKEN_SECRET;
  const presented = await hashRefreshToken(secret, refreshToken);
  const next = `${deviceId}.${randomBase64Url(REFRESH_SECRET_BYTES)}`;
  const nextHash = await hashRefreshToken(secret, next);
  const idleSince = now - sessionIdleMs(env);
  const d = accountsDb(env.DB);

  const rotated = await d
    .update(devices)
    .set({ refreshPrevHash: sql`${devices.refreshHash}`, refreshHash: nextHash, refreshDisplacedHash: null, refreshedAt: now })
    .where(and(eq(devices.id, deviceId), isNull(devices.revokedAt), eq(devices.refreshHash, presented), sql`${lastUse} >= ${idleSince}`))
    .returning({ userId: devices.userId, trustedAt: devices.trustedAt });
  const row = rotated[0];
  if (row !== undefined) {
    // History was decided at login (the mailbox keeps the device's floor); trusted_at is set at
    // creation only, exactly when that login was given history (PIN entered, or a new account).
    return sessionFor(secret, { userId: row.userId, deviceId }, { refreshToken: next, newUser: false, history: row.trustedAt !== null }, now);
  }

  const found = await d.select().from(devices).where(and(eq(devices.id, deviceId), isNull(devices.revokedAt))).limit(1);
  const device = found[0];
  if (device === undefined) {
    // A device of a deleted account learns why its session ended; any other refusal says nothing more.
    if ((await inactiveDeviceCode(env.DB, deviceId)) === 'account_deleted') throw new ApiError('account_deleted');
    throw new ApiError('refresh_invalid');
  }
  if (device.refreshPrevHash !== null && constantTimeEqual(device.refreshPrevHash, presented)) {
    // The previous token again, just after its rotation: most likely a retry whose answer was
    // lost. Answered once (no displaced token yet); the rotation time stays, so the window does not grow.
    const retried = await d
      .update(devices)
      .set({ refreshDisplacedHash: sql`${devices.refreshHash}`, refreshHash: nextHash })
      .where(
        and(
          eq(devices.id, deviceId),
          isNull(devices.revokedAt),
          eq(devices.refreshPrevHash, presented),
          isNull(devices.refreshDisplacedHash),
          sql`${devices.refreshedAt} >= ${now - REFRESH_RETRY_GRACE_MS}`,
        ),
      )
      .returning({ userId: devices.userId, trustedAt: devices.trustedAt });
    const again = retried[0];
    if (again !== undefined) {
      return sessionFor(secret, { userId: again.userId, deviceId }, { refreshToken: next, newUser: false, history: again.trustedAt !== null }, now);
    }
  }
  const spent = [device.refreshPrevHash, device.refreshDisplacedHash].some((hash) => hash !== null && constantTimeEqual(hash, presented));
  if (spent) {
    await logOutDevice(env, device.userId, deviceId, now);
    throw new ApiError('refresh_invalid', 'This refresh token was already used, so it was copied: the device was logged out; log in again');
  }
  if (device.refreshHash !== null && constantTimeEqual(device.refreshHash, presented)) {
    // The current token, refused by the update: the device was idle too long.
    await logOutDevice(env, device.userId, deviceId, now);
    throw new ApiError('session_expired');
  }
  throw new ApiError('refresh_invalid');
}

/** Whether a device may act for the owner: it entered the PIN (or created the account), or is a day old. */
export function isTrusted(device: Pick<DeviceRow, 'trustedAt' | 'createdAt'>, now: number): boolean {
  return device.trustedAt !== null || device.createdAt <= now - NEW_DEVICE_TRUST_MS;
}

/**
 * The calling device, if it may change the PIN, delete the account or log out older devices;
 * otherwise ApiError('device_too_new') (a device logged in with a stolen SMS code must not lock
 * the owner out).
 */
export async function requireTrustedDevice(db: DbLike, who: AuthContext, now: number): Promise<DeviceRow> {
  const device = await getActiveDevice(db, who.userId, who.deviceId);
  if (device === null) throw new ApiError('device_revoked');
  if (!isTrusted(device, now)) throw tooNew(device, now);
  return device;
}

/** The `device_too_new` refusal, with when the device will be trusted. */
export function tooNew(device: Pick<DeviceRow, 'createdAt'>, now: number): ApiError {
  return new ApiError('device_too_new', undefined, { retryAfterMs: device.createdAt + NEW_DEVICE_TRUST_MS - now });
}
