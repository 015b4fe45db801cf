/**
 * Login and logout: request a one-time code by SMS, exchange it for a device token, and revoke
 * the calling device.
 */
import { Hono } from 'hono';
import {
  OtpRequestSchema,
  PATHS,
  VerifyRequestSchema,
  type OtpResponse,
  type SessionResponse,
} from '../../protocol/index.ts';
import type { AppEnv } from '../app-env.ts';
import { requireAuth } from '../auth/middleware.ts';
import { OTP_TTL_MS, requestOtp, verifyOtp } from '../auth/otp.ts';
import { normalisePhone } from '../auth/phone.ts';
import { smsProviderFor } from '../auth/sms.ts';
import { signToken } from '../auth/token.ts';
import { createUserWithDevice, revokeDevice } from '../db/accounts.ts';
import { ApiError } from '../errors.ts';
import { unregisterPushToken } from '../db/push.ts';
import { mailboxOf } from '../mailboxes.ts';
import { jsonBody } from '../validate.ts';

export const authRoutes = new Hono<AppEnv>();

function requirePhone(input: string): string {
  const phone = normalisePhone(input);
  if (phone === null) throw new ApiError('invalid_phone');
  return phone;
}

authRoutes.post(PATHS.requestOtp, jsonBody(OtpRequestSchema), async (c) => {
  const phone = requirePhone(c.req.valid('json').phone);
  // Resolve the provider before touching D1: a misconfigured deployment must not use up the
  // number's request budget.
  const sms = smsProviderFor(c.env);
  const { code, expiresAt } = await requestOtp(c.env.DB, { phone, secret: c.env.TOKEN_SECRET, now: Date.now() });
  await sms.send(phone, `Your verification code is ${code}. It expires in ${OTP_TTL_MS / 60_000} minutes. Do not share it.`);
  const body = { phone, expiresAt, ...(sms.returnsCodeInResponse ? { devCode: code } : {}) } satisfies OtpResponse;
  return c.json(body, 200);
});

authRoutes.post(PATHS.verifyOtp, jsonBody(VerifyRequestSchema), async (c) => {
  const input = c.req.valid('json');
  const phone = requirePhone(input.phone);
  const now = Date.now();
  await verifyOtp(c.env.DB, { phone, code: input.code, secret: c.env.TOKEN_SECRET, now });
  // Every login is a new device with its own token, so devices can be logged out one by one.
  const { user, device, newUser } = await createUserWithDevice(c.env.DB, {
    phone,
    device: { name: input.deviceName, platform: input.platform },
    now,
  });
  const { token, expiresAt } = await signToken(c.env.TOKEN_SECRET, { userId: user.id, deviceId: device.id }, now);
  return c.json({ token, userId: user.id, deviceId: device.id, expiresAt, newUser } satisfies SessionResponse, 200);
});

authRoutes.post(PATHS.logout, requireAuth, async (c) => {
  const { userId, deviceId } = c.get('auth');
  // D1 is the record of truth: once this commits, the token is refused everywhere.
  await revokeDevice(c.env.DB, userId, deviceId, Date.now());
  // Then close the device's open socket, if it has one.
  await Promise.all([mailboxOf(c.env, userId).revokeDevice(deviceId), unregisterPushToken(c.env.DB, deviceId)]);
  return c.body(null, 204);
});
