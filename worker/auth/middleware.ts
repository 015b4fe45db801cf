/**
 * `requireAuth`: the gate in front of every authenticated route. It accepts a bearer token whose
 * signature and expiry check out and whose device is still logged in (per D1), counts the request
 * against the device's edge rate limit, and puts the caller on the context as `c.get('auth')`.
 */
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../app-env.ts';
import { getActiveDevice, inactiveDeviceCode, touchDevice } from '../../db/accounts.ts';
import { ApiError } from '../errors.ts';
import { limitAtEdge } from '../rate-limit.ts';
import { verifyToken } from './token.ts';

/** `last_seen_at` is refreshed at most this often per device, not on every request. */
const TOUCH_INTERVAL_MS = 5 * 60_000;

/**
 * The token of a request: `Authorization: Bearer <token>` and nothing else. A token in a URL
 * ends up in logs and browser history, so none is read from the query string, not even on
 * WebSocket upgrades (those present a short-lived connect ticket instead: routes/connect.ts).
 */
export function tokenFromRequest(req: Request): string | null {
  const header = req.headers.get('Authorization');
  if (header === null) return null;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}

/**
 * @example
 * routes.get(PATHS.me, requireAuth, (c) => c.json(profileOf(c.get('auth').userId)))
 */
export const requireAuth = createMiddleware<AppEnv>(async (c, next) => {
  const token = tokenFromRequest(c.req.raw);
  if (token === null) throw new ApiError('unauthorized');
  const now = Date.now();
  const auth = await verifyToken(c.env.TOKEN_SECRET, token, now);
  const device = await getActiveDevice(c.env.DB, auth.userId, auth.deviceId);
  // Only on this failure path: one more read says whether the whole account is gone.
  if (device === null) throw new ApiError(await inactiveDeviceCode(c.env.DB, auth.deviceId));
  // A blanket per-device limit on every authenticated route (exact budgets for costly actions
  // are kept in the user's object on top of it).
  await limitAtEdge(c.env, 'api_device', auth.deviceId);
  if (device.lastSeenAt === null || device.lastSeenAt < now - TOUCH_INTERVAL_MS) {
    await touchDevice(c.env.DB, auth.deviceId, now, TOUCH_INTERVAL_MS);
  }
  c.set('auth', auth);
  await next();
});
