/**
 * What a login does once the SMS code was right: log the device in, or (the account has a PIN)
 * create no device but a PIN challenge; then the PIN step and the PIN reset by waiting. Every
 * new device is announced to the account's other devices (mailbox `deviceAdded`) before its
 * session is answered.
 */
import { and, eq, gt, inArray, lte } from 'drizzle-orm';
import type { PinRequiredResponse, PinResetResponse, Platform, SessionResponse } from '../../protocol/index.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';
import { accountsDb, createDevice, createUserWithDevice, findUserByPhone, revokeDevice, type DbLike } from '../../db/accounts.ts';
import { pinChallenges, type DeviceRow, type UserRow } from '../../db/schema.ts';
import { ApiError } from '../errors.ts';
import { randomBase64Url } from '../../lib/random.ts';
import { hmacHex } from './crypto.ts';
import { applyDueReset, attemptsLeft, cancelReset, checkPin, pinOf, requestReset } from './pin.ts';
import { expireIdleDevices, newDeviceCredentials, sessionFor, type DeviceCredentials } from './session.ts';

/** A PIN challenge works this long after the code was verified. */
export const PIN_CHALLENGE_TTL_MS = 10 * 60_000;
/** 24 random bytes: the 32 base64url characters of PinChallengeSchema. */
const PIN_CHALLENGE_BYTES = 24;
/** Expired challenges (anyone's) deleted by each new one, so dead rows do not pile up. */
const SWEEP_ROWS = 20;

export type DeviceInfo = { name?: string | undefined; platform?: Platform | undefined };

function hashPinChallenge(secret: string, challenge: string): Promise<string> {
  return hmacHex(secret, `pin-challenge:${challenge}`);
}

/**
 * Tell the account's devices about a device just created. If that fails, the device goes again
 * (no device may exist that the others were not told of) and the login fails; the client retries.
 */
async function announce(
  env: Env,
  device: DeviceRow,
  credentials: DeviceCredentials,
  flags: { newUser: boolean; withPin: boolean; history: boolean },
  now: number,
): Promise<SessionResponse> {
  try {
    await mailboxOf(env, device.userId).deviceAdded({
      deviceId: device.id,
      name: device.name ?? '',
      platform: device.platform ?? 'other',
      withPin: flags.withPin,
      history: flags.history,
      at: now,
    });
  } catch (err) {
    await revokeDevice(env.DB, device.userId, device.id, now).catch((revokeError: unknown) =>
      console.error('login: could not revoke an unannounced device', revokeError),
    );
    throw err;
  }
  // A login is when dead devices of the account are most likely: one replaced by this one.
  await expireIdleDevices(env, device.userId, now).catch((expireError: unknown) =>
    console.error('login: could not expire idle devices', expireError),
  );
  const who = { userId: device.userId, deviceId: device.id };
  return sessionFor(env.TOKEN_SECRET, who, { refreshToken: credentials.refreshToken, newUser: flags.newUser, history: flags.history }, now);
}

/**
 * The SMS code for `phone` was right: answer a session, or the request for the PIN.
 *
 * - New account: created with this device, which is trusted and gets history.
 * - Existing account without a PIN: a new untrusted device without history.
 * - Existing account with a PIN: no device; a PIN challenge (POST /v1/auth/pin). If a PIN reset
 *   was requested and its wait is over, the PIN is removed instead (the devices are told) and
 *   the login goes on without it.
 */
export async function loginAfterCode(
  env: Env,
  input: { phone: string; device: DeviceInfo; now: number },
): Promise<SessionResponse | PinRequiredResponse> {
  const { phone, now } = input;
  const existing = await findUserByPhone(env.DB, phone);
  if (existing !== null) {
    const pinRequired = await pinStep(env, existing, input.device, now);
    if (pinRequired !== null) return pinRequired;
  }
  const credentials = await newDeviceCredentials(env.TOKEN_SECRET, now);
  const { device, newUser } = await createUserWithDevice(env.DB, {
    phone,
    device: { id: credentials.deviceId, name: input.device.name, platform: input.device.platform, refreshHash: credentials.refreshHash },
    now,
  });
  // Only the device that created the account is trusted here (createUserWithDevice decides, so
  // a concurrent first login of the same number is not).
  const history = device.trustedAt !== null;
  return announce(env, device, credentials, { newUser, withPin: false, history }, now);
}

/** The PIN challenge for an account with a PIN, or null when the login goes on without one. */
async function pinStep(env: Env, user: UserRow, device: DeviceInfo, now: number): Promise<PinRequiredResponse | null> {
  const pin = await pinOf(env.DB, user.id);
  if (pin === null) return null;
  if (pin.resetAt !== null && pin.resetAt <= now) {
    if (await applyDueReset(env.DB, user.id, now)) {
      await mailboxOf(env, user.id).accountEvent({ kind: 'pin_changed', enabled: false, deviceId: null });
    }
    return null;
  }
  const { challenge, expiresAt } = await createPinChallenge(env.DB, env.TOKEN_SECRET, { userId: user.id, device, now });
  return { pinRequired: true, pinChallenge: challenge, expiresAt, attemptsLeft: attemptsLeft(pin), resetAt: pin.resetAt };
}

async function createPinChallenge(
  db: DbLike,
  secret: string,
  input: { userId: string; device: DeviceInfo; now: number },
): Promise<{ challenge: string; expiresAt: number }> {
  const { now } = input;
  const d = accountsDb(db);
  const challenge = randomBase64Url(PIN_CHALLENGE_BYTES);
  const expiresAt = now + PIN_CHALLENGE_TTL_MS;
  const expired = d
    .select({ hash: pinChallenges.challengeHash })
    .from(pinChallenges)
    .where(lte(pinChallenges.expiresAt, now))
    .orderBy(pinChallenges.expiresAt)
    .limit(SWEEP_ROWS);
  await d.batch([
    d.insert(pinChallenges).values({
      challengeHash: await hashPinChallenge(secret, challenge),
      userId: input.userId,
      deviceName: input.device.name ?? null,
      platform: input.device.platform ?? null,
      expiresAt,
      createdAt: now,
    }),
    d.delete(pinChallenges).where(inArray(pinChallenges.challengeHash, expired)),
  ]);
  return { challenge, expiresAt };
}

/** The live challenge's row, or ApiError 'pin_challenge_invalid'. */
async function liveChallenge(env: Env, challenge: string, now: number) {
  const challengeHash = await hashPinChallenge(env.TOKEN_SECRET, challenge);
  const rows = await accountsDb(env.DB)
    .select()
    .from(pinChallenges)
    .where(and(eq(pinChallenges.challengeHash, challengeHash), gt(pinChallenges.expiresAt, now)))
    .limit(1);
  const row = rows[0];
  if (row === undefined) throw new ApiError('pin_challenge_invalid');
  return row;
}

/**
 * `POST /v1/auth/pin`: the PIN for a challenge. Right: the challenge is used up and a trusted
 * device with history is created. Wrong guesses count against the account (pin.ts), whatever
 * challenge they come with.
 */
export async function loginWithPin(env: Env, input: { pinChallenge: string; pin: string; now: number }): Promise<SessionResponse> {
  const { now } = input;
  const challenge = await liveChallenge(env, input.pinChallenge, now);
  try {
    await checkPin(env.DB, { secret: env.TOKEN_SECRET, userId: challenge.userId, pin: input.pin, now });
  } catch (err) {
    // The PIN went (removed, or reset) since the challenge was made: log in again without it.
    if (err instanceof ApiError && err.code === 'pin_not_set') throw new ApiError('pin_challenge_invalid');
    throw err;
  }
  const d = accountsDb(env.DB);
  // Whoever deletes the challenge logs in: one device per challenge, even for parallel right PINs.
  const consumed = await d
    .delete(pinChallenges)
    .where(eq(pinChallenges.challengeHash, challenge.challengeHash))
    .returning({ userId: pinChallenges.userId });
  if (consumed.length === 0) throw new ApiError('pin_challenge_invalid');
  const credentials = await newDeviceCredentials(env.TOKEN_SECRET, now);
  const device = await createDevice(
    env.DB,
    challenge.userId,
    {
      id: credentials.deviceId,
      name: challenge.deviceName,
      platform: challenge.platform as Platform | null,
      refreshHash: credentials.refreshHash,
      trusted: true,
    },
    now,
  );
  return announce(env, device, credentials, { newUser: false, withPin: true, history: true }, now);
}

/**
 * `POST /v1/auth/pin/reset`: whoever got the SMS code but not the PIN asks for a reset. It takes
 * effect after the waiting period (an earlier pending request keeps its time), and every device
 * of the account is told at once, so the owner can stop it by setting the PIN again.
 */
export async function resetPin(env: Env, input: { pinChallenge: string; now: number }): Promise<PinResetResponse> {
  const { now } = input;
  const challenge = await liveChallenge(env, input.pinChallenge, now);
  const reset = await requestReset(env.DB, challenge.userId, now);
  if (reset === null) throw new ApiError('pin_challenge_invalid');
  if (reset.started) {
    try {
      await mailboxOf(env, challenge.userId).accountEvent({ kind: 'pin_reset_requested', resetAt: reset.resetAt });
    } catch (err) {
      await cancelReset(env.DB, challenge.userId, reset.resetAt);
      throw err;
    }
  }
  return { resetAt: reset.resetAt };
}
