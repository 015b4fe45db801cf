/**
 * The caller's logged-in devices: list them and log one out remotely (e.g. a lost phone).
 */
import { Hono } from 'hono';
import { PATHS, PlatformSchema, ULID_PATTERN, type Device } from '../../protocol/index.ts';
import type { AppEnv } from '../app-env.ts';
import { requireAuth } from '../auth/middleware.ts';
import { listDevices, revokeDevice } from '../db/accounts.ts';
import type { DeviceRow } from '../db/schema.ts';
import { ApiError } from '../errors.ts';
import { unregisterPushToken } from '../db/push.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';

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
  const rows = await listDevices(c.env.DB, userId);
  return c.json({ devices: rows.map((row) => toDevice(row, deviceId)) } satisfies { devices: Device[] }, 200);
});

deviceRoutes.delete('/v1/devices/:deviceId', requireAuth, async (c) => {
  const { userId } = c.get('auth');
  const deviceId = c.req.param('deviceId');
  // Unknown, malformed, already revoked and someone else's devices all look the same: not yours.
  const revoked = ULID_PATTERN.test(deviceId) && (await revokeDevice(c.env.DB, userId, deviceId, Date.now()));
  if (!revoked) throw new ApiError('device_not_found');
  await Promise.all([mailboxOf(c.env, userId).revokeDevice(deviceId), unregisterPushToken(c.env.DB, deviceId)]);
  return c.body(null, 204);
});
