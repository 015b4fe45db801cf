/**
 * Account ownership from a logged-in device: the two-step verification PIN (status, set or
 * change, remove) and deleting the account. Changing the PIN and deleting the account need a
 * trusted device (one that entered the PIN, created the account, or is a day old).
 */
import { Hono } from 'hono';
import { DeleteAccountSchema, PATHS, RemovePinSchema, SetPinSchema, type PinStatus } from '../../protocol/index.ts';
import { deleteAccount } from '../account-deletion.ts';
import type { AppEnv } from '../app-env.ts';
import { requireAuth } from '../auth/middleware.ts';
import { checkPin, deletePin, pinOf, pinStatusOf, storePin } from '../auth/pin.ts';
import { requireTrustedDevice } from '../auth/session.ts';
import { ApiError } from '../errors.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';
import { jsonBody } from '../validate.ts';

export const accountRoutes = new Hono<AppEnv>()
  .get(PATHS.pin, requireAuth, async (c) => {
    return c.json(pinStatusOf(await pinOf(c.env.DB, c.get('auth').userId)) satisfies PinStatus, 200);
  })
  .put(PATHS.pin, requireAuth, jsonBody(SetPinSchema), async (c) => {
    const auth = c.get('auth');
    const { pin, currentPin } = c.req.valid('json');
    const now = Date.now();
    await requireTrustedDevice(c.env.DB, auth, now);
    const secret = c.env.TOKEN_SECRET;
    if ((await pinOf(c.env.DB, auth.userId)) !== null) {
      // Not a guess (nothing to compare), so not counted.
      if (currentPin === undefined) throw new ApiError('pin_invalid', 'This account has a PIN: send it as currentPin to change it');
      await checkPin(c.env.DB, { secret, userId: auth.userId, pin: currentPin, now });
    }
    await storePin(c.env.DB, { secret, userId: auth.userId, pin, now });
    await mailboxOf(c.env, auth.userId).accountEvent({ kind: 'pin_changed', enabled: true, deviceId: auth.deviceId });
    return c.json({ enabled: true, resetAt: null } satisfies PinStatus, 200);
  })
  .delete(PATHS.pin, requireAuth, jsonBody(RemovePinSchema), async (c) => {
    const auth = c.get('auth');
    const now = Date.now();
    await requireTrustedDevice(c.env.DB, auth, now);
    await checkPin(c.env.DB, { secret: c.env.TOKEN_SECRET, userId: auth.userId, pin: c.req.valid('json').currentPin, now });
    if (await deletePin(c.env.DB, auth.userId)) {
      await mailboxOf(c.env, auth.userId).accountEvent({ kind: 'pin_changed', enabled: false, deviceId: auth.deviceId });
    }
    return c.json({ enabled: false, resetAt: null } satisfies PinStatus, 200);
  })
  .delete(PATHS.me, requireAuth, jsonBody(DeleteAccountSchema), async (c) => {
    await deleteAccount(c.env, c.get('auth'), c.req.valid('json').phone, Date.now());
    return c.body(null, 204);
  });
