/**
 * Login and logout: request a one-time code by SMS (bound to a challenge only the requester
 * gets), exchange it for a session (or, when the account has a PIN, for a PIN challenge), enter
 * the PIN or ask for its reset, renew a session with its refresh token, and revoke the calling
 * device.
 */
import { Hono } from 'hono';
import {
  OtpRequestSchema,
  PATHS,
  PinLoginSchema,
  PinResetRequestSchema,
  RefreshRequestSchema,
  VerifyRequestSchema,
  type OtpResponse,
  type PinResetResponse,
  type SessionResponse,
  type VerifyResponse,
} from '../../protocol/index.ts';
import type { AppEnv } from '../app-env.ts';
import { loginAfterCode, loginWithPin, resetPin } from '../auth/login.ts';
import { requireAuth } from '../auth/middleware.ts';
import { OTP_TTL_MS, discardChallenge, requestOtp, verifyOtp } from '../auth/otp.ts';
import { normalisePhone } from '../auth/phone.ts';
import { logOutDevice, refreshSession } from '../auth/session.ts';
import { smsProviderFor } from '../auth/sms.ts';
import { findUserByPhone } from '../../db/accounts.ts';
import { ApiError } from '../errors.ts';
import { clientIp, ipLimitsOff, limitAtEdge, phonePrefix } from '../rate-limit.ts';
import { jsonBody } from '../validate.ts';

export const authRoutes = new Hono<AppEnv>();

function requirePhone(input: string): string {
  const phone = normalisePhone(input);
  if (phone === null) throw new ApiError('invalid_phone');
  return phone;
}


// Order: validate, normalise, edge limits, the per-client wait, store, SMS. Every refusal comes
// before anything is stored or sent, so a refused request costs no storage and no SMS.
authRoutes.post(PATHS.requestOtp, jsonBody(OtpRequestSchema), async (c) => {
  const phone = requirePhone(c.req.valid('json').phone);
  // Resolve the provider before counting anything: a misconfigured deployment must not use up
  // anyone's limits.
  const sms = smsProviderFor(c.env);
  const ip = clientIp(c.req.raw);
  await limitAtEdge(c.env, 'otp_request_ip', ip);
  await limitAtEdge(c.env, 'otp_request_prefix', phonePrefix(phone));
  const client = ipLimitsOff(c.env) ? null : ip;
  const issued = await requestOtp(c.env.DB, { phone, client, secret: c.env.TOKEN_SECRET, now: Date.now() });
  try {
    await sms.send(
      phone,
      `Your verification code is ${issued.code}. It expires in ${OTP_TTL_MS / 60_000} minutes. Do not share it.`,
    );
  } catch (err) {
    // The challenge goes (it would only hold a slot of the number's few), but the wait stays
    // counted: whoever can make delivery fail (say, with a number the gateway refuses) must not
    // get unlimited gateway calls. The client retries after `retryAfterMs` like any client.
    await discardChallenge(c.env.DB, { phone, challenge: issued.challenge, secret: c.env.TOKEN_SECRET }).catch(
      (discardError: unknown) => console.error('otp: could not discard an undelivered challenge', discardError),
    );
    throw err;
  }
  const body = {
    phone,
    challenge: issued.challenge,
    expiresAt: issued.expiresAt,
    resendAt: issued.resendAt,
    ...(sms.returnsCodeInResponse ? { devCode: issued.code } : {}),
  } satisfies OtpResponse;
  return c.json(body, 200);
});

authRoutes.post(PATHS.verifyOtp, jsonBody(VerifyRequestSchema), async (c) => {
  const input = c.req.valid('json');
  const phone = requirePhone(input.phone);
  const ip = clientIp(c.req.raw);
  await limitAtEdge(c.env, 'otp_verify_ip', ip);
  const now = Date.now();
  await verifyOtp(c.env.DB, {
    phone,
    code: input.code,
    challenge: input.challenge,
    secret: c.env.TOKEN_SECRET,
    now,
    // Only once the code is right, and only for a number without an account: a refused sign-up
    // leaves the challenge as it was, and logins of existing accounts never count as sign-ups.
    beforeConsume: async () => {
      if ((await findUserByPhone(c.env.DB, phone)) === null) await limitAtEdge(c.env, 'signup_ip', ip);
    },
  });
  // Every login is a new device with its own tokens, so devices can be logged out one by one;
  // an account with a PIN gets a PIN challenge instead, and no device yet.
  const answer = await loginAfterCode(c.env, { phone, device: { name: input.deviceName, platform: input.platform }, now });
  return c.json(answer satisfies VerifyResponse, 200);
});

// The PIN routes prove nothing before their check, so they share the per-IP limit of code
// verification: both are guesses at a secret. A refresh is no guess (a 256-bit token), only a
// cost per request (a hash and a D1 write), and every device makes one every 15 minutes, so it
// has a limit of its own, high enough for many devices behind one address.
authRoutes.post(PATHS.pinLogin, jsonBody(PinLoginSchema), async (c) => {
  await limitAtEdge(c.env, 'otp_verify_ip', clientIp(c.req.raw));
  const { pinChallenge, pin } = c.req.valid('json');
  return c.json((await loginWithPin(c.env, { pinChallenge, pin, now: Date.now() })) satisfies SessionResponse, 200);
});

authRoutes.post(PATHS.pinReset, jsonBody(PinResetRequestSchema), async (c) => {
  await limitAtEdge(c.env, 'otp_verify_ip', clientIp(c.req.raw));
  const { pinChallenge } = c.req.valid('json');
  return c.json((await resetPin(c.env, { pinChallenge, now: Date.now() })) satisfies PinResetResponse, 200);
});

authRoutes.post(PATHS.refresh, jsonBody(RefreshRequestSchema), async (c) => {
  await limitAtEdge(c.env, 'refresh_ip', clientIp(c.req.raw));
  const session = await refreshSession(c.env, c.req.valid('json').refreshToken, Date.now());
  return c.json(session satisfies SessionResponse, 200);
});

authRoutes.post(PATHS.logout, requireAuth, async (c) => {
  const { userId, deviceId } = c.get('auth');
  // D1 first: once it commits, the tokens are refused everywhere; then the socket closes.
  await logOutDevice(c.env, userId, deviceId, Date.now());
  return c.body(null, 204);
});
