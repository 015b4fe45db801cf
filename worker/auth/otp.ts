/**
 * One-time login codes: issue a code for a phone number and check it. Codes are stored only as
 * a keyed hash, expire after OTP_TTL_MS, allow OTP_MAX_ATTEMPTS guesses, and each number may
 * request OTP_MAX_REQUESTS codes per OTP_WINDOW_MS. Every function takes `now` so tests can move
 * the clock.
 */
import { and, eq, gt, lt, or, sql } from 'drizzle-orm';
import { OTP_LENGTH } from '../../protocol/index.ts';
import { accountsDb, type DbLike } from '../db/accounts.ts';
import { otpCodes } from '../db/schema.ts';
import { ApiError } from '../errors.ts';

/** How long a code works. */
export const OTP_TTL_MS = 5 * 60_000;
/** Codes one number may request per window. */
export const OTP_MAX_REQUESTS = 5;
/** Length of the request rate-limit window. */
export const OTP_WINDOW_MS = 15 * 60_000;
/** Guesses allowed per code; the guess that uses the last one burns the code unless it is right. */
export const OTP_MAX_ATTEMPTS = 5;

const CODE_SPACE = 10 ** OTP_LENGTH;
// Largest multiple of CODE_SPACE that fits in a uint32: values at or above it are redrawn, so
// every code is equally likely (a plain `% CODE_SPACE` would favour the low codes slightly).
const UNBIASED_LIMIT = Math.floor(2 ** 32 / CODE_SPACE) * CODE_SPACE;

/** A uniformly random code of OTP_LENGTH digits, from the platform CSPRNG. */
export function generateCode(): string {
  const buffer = new Uint32Array(1);
  for (;;) {
    crypto.getRandomValues(buffer);
    const value = buffer[0] ?? UNBIASED_LIMIT;
    if (value < UNBIASED_LIMIT) return String(value % CODE_SPACE).padStart(OTP_LENGTH, '0');
  }
}

const encoder = new TextEncoder();

/**
 * Hex HMAC-SHA-256 of `phone:code` keyed with the server secret (the pepper). A leaked table alone
 * does not reveal codes: with only a million codes per number, an unkeyed hash would.
 */
export async function hashCode(secret: string, phone: string, code: string): Promise<string> {
  if (secret.length === 0) throw new ApiError('unavailable', 'TOKEN_SECRET is not configured');
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ]);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(`otp:${phone}:${code}`)));
  return Array.from(mac, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** Equality of two strings in time that depends only on their length, not on where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export type OtpIssued = {
  /** The plain code: give it to the SMS provider, never store it. */
  code: string;
  expiresAt: number;
};

/**
 * Issue a fresh code for `phone` (E.164), replacing any previous one and resetting its attempts.
 * Throws ApiError('otp_rate_limited') once the number has requested OTP_MAX_REQUESTS codes in
 * the current window; the stored code is then left untouched.
 */
export async function requestOtp(
  db: DbLike,
  input: { phone: string; secret: string; now: number },
): Promise<OtpIssued> {
  const { phone, secret, now } = input;
  const d = accountsDb(db);
  const code = generateCode();
  const codeHash = await hashCode(secret, phone, code);
  const expiresAt = now + OTP_TTL_MS;
  const windowFloor = now - OTP_WINDOW_MS;
  // The window is still open when it started less than OTP_WINDOW_MS ago.
  const windowOpen = gt(otpCodes.windowStart, windowFloor);

  // One statement, so concurrent requests cannot both slip under the limit: the conflict update
  // runs only while the window has room (or has ended), and RETURNING says whether it ran.
  const rows = await d
    .insert(otpCodes)
    .values({ phone, codeHash, expiresAt, attempts: 0, requestedAt: now, windowStart: now, windowCount: 1 })
    .onConflictDoUpdate({
      target: otpCodes.phone,
      set: {
        codeHash,
        expiresAt,
        attempts: 0,
        requestedAt: now,
        windowStart: sql`case when ${windowOpen} then ${otpCodes.windowStart} else ${now} end`,
        windowCount: sql`case when ${windowOpen} then ${otpCodes.windowCount} + 1 else 1 end`,
      },
      setWhere: or(lt(otpCodes.windowCount, OTP_MAX_REQUESTS), sql`not (${windowOpen})`),
    })
    .returning({ phone: otpCodes.phone });

  if (rows.length === 0) {
    const current = await d
      .select({ windowStart: otpCodes.windowStart })
      .from(otpCodes)
      .where(eq(otpCodes.phone, phone))
      .limit(1);
    const retryAt = (current[0]?.windowStart ?? now) + OTP_WINDOW_MS;
    const seconds = Math.max(1, Math.ceil((retryAt - now) / 1000));
    throw new ApiError('otp_rate_limited', `Too many codes requested for this number; retry in ${seconds} s`);
  }
  return { code, expiresAt };
}

/**
 * Check a code for `phone`. Resolves when it is right (and consumes it); otherwise throws
 * ApiError 'otp_invalid' (wrong, attempts left), 'otp_attempts_exceeded' (this guess used the
 * last attempt, or the code was already burned) or 'otp_expired' (expired, consumed or never
 * requested).
 */
export async function verifyOtp(
  db: DbLike,
  input: { phone: string; code: string; secret: string; now: number },
): Promise<void> {
  const { phone, secret, now } = input;
  const d = accountsDb(db);
  const candidate = await hashCode(secret, phone, input.code);

  // Take an attempt before comparing, atomically: parallel guesses each consume one, so no burst
  // of concurrent requests gets more than OTP_MAX_ATTEMPTS tries at a code.
  const claimed = await d
    .update(otpCodes)
    .set({ attempts: sql`${otpCodes.attempts} + 1` })
    .where(and(eq(otpCodes.phone, phone), lt(otpCodes.attempts, OTP_MAX_ATTEMPTS), gt(otpCodes.expiresAt, now)))
    .returning({ codeHash: otpCodes.codeHash, attempts: otpCodes.attempts });
  const attempt = claimed[0];

  if (attempt === undefined) {
    const rows = await d
      .select({ attempts: otpCodes.attempts })
      .from(otpCodes)
      .where(eq(otpCodes.phone, phone))
      .limit(1);
    const row = rows[0];
    if (row !== undefined && row.attempts >= OTP_MAX_ATTEMPTS) throw new ApiError('otp_attempts_exceeded');
    throw new ApiError('otp_expired');
  }

  if (constantTimeEqual(attempt.codeHash, candidate)) {
    // Delete only the code we checked: if a new code replaced it meanwhile, this one is stale.
    const deleted = await d
      .delete(otpCodes)
      .where(and(eq(otpCodes.phone, phone), eq(otpCodes.codeHash, attempt.codeHash)))
      .returning({ phone: otpCodes.phone });
    if (deleted.length === 0) throw new ApiError('otp_expired');
    return;
  }
  if (attempt.attempts >= OTP_MAX_ATTEMPTS) throw new ApiError('otp_attempts_exceeded');
  throw new ApiError('otp_invalid');
}
