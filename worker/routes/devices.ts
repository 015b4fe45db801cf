/**
 * The caller's logged-in devices: list them and log one out remotely (e.g. a lost phone). A
 * device younger than a day that did not enter the PIN may log out itself and newer devices,
 * not older ones (a stolen SMS code must not be enough to throw the owner out).
 */
import { Hono } from 'hono';
import { PATHS, PlatformSchema, ULID_PATTERN, type Device } from '../../protocol/index.ts';
import type { AppEnv } from '../app-env.ts';
import { requireAuth } from '../auth/middleware.ts';
import { expireIdleDevices, isTrusted, logOutDevice, tooNew } from '../auth/session.ts';
import { getActiveDevice, listDevices } from '../../db/accounts.ts';
import type { DeviceRow } from '../../db/schema.ts';
import { ApiError } from '../errors.ts';

export const deviceRoutes = new Hono<AppEnv>();

function toDevice(row: DeviceRow, currentDeviceId: string): Device {
  const platform = PlatformSchema.safeParse(row.platform);
  return {
    deviceId: row.id,
    // Both are optional at login; the protocol always has a value.
    name: row.name ?? '',
    platform: platform.success ? platform.data : 'other',
    createdAt: row.createdAt,
    lastSeenAt: row.lastSeenAt,
    current: row.id === currentDeviceId,
  };
}

deviceRoutes.get(PATHS.devices, requireAuth, async (c) => {
  const { userId, deviceId } = c.get('auth');
  // Devices idle past SESSION_IDLE_DAYS are logged out here rather than listed.
  await expireIdleDevices(c.env, userId, Date.now());
  const rows = await listDevices(c.env.DB, userId);
  return c.json({ devices: rows.map((row) => toDevice(row, deviceId)) } satisfies { devices: Device[] }, 200);
});

deviceRoutes.delete('/v1/devices/:deviceId', requireAuth, async (c) => {
  const auth = c.get('auth');
  const deviceId = c.req.param('deviceId');
  const now = Date.now();
  // Unknown, malformed, already revoked and someone else's devices all look the same: not yours.
  const [target, caller] = ULID_PATTERN.test(deviceId)
    ? await Promise.all([getActiveDevice(c.env.DB, auth.userId, deviceId), getActiveDevice(c.env.DB, auth.userId, auth.deviceId)])
    : [null, null];
  if (target === null) throw new ApiError('device_not_found');
  if (caller === null) throw new ApiError('device_revoked');
  if (target.createdAt < caller.createdAt && !isTrusted(caller, now)) throw tooNew(caller, now);
  if (!(await logOutDevice(c.env, auth.userId, deviceId, now))) throw new ApiError('device_not_found');
  return c.body(null, 204);
});
