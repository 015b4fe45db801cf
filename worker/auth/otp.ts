/**
 * One-time login codes, each bound to a random challenge that only its requester receives, and
 * the growing waits between code requests for one number from one client. Codes and challenges
 * are stored only as keyed hashes, expire after OTP_TTL_MS and allow OTP_MAX_ATTEMPTS guesses
 * each. Every function takes `now` so tests can move the clock.
 */
import { and, desc, eq, gt, inArray, lt, lte, notInArray, or, sql } from 'drizzle-orm';
import { OTP_LENGTH, OTP_RESEND_RESET_MS, OTP_RESEND_WAITS_MS } from '../../protocol/index.ts';
import { accountsDb, type DbLike } from '../../db/accounts.ts';
import { otpChallenges, otpResends } from '../../db/schema.ts';
import { ApiError } from '../errors.ts';
import { randomBase64Url } from '../../lib/random.ts';
import { hmacHex } from './crypto.ts';

/** How long a code works. */
export const OTP_TTL_MS = 5 * 60_000;
/** Guesses allowed per challenge; the guess that uses the last one burns it unless it is right. */
export const OTP_MAX_ATTEMPTS = 5;
/**
 * Challenges kept per number; a request beyond this drops the number's oldest. Dropping the oldest
 * rather than refusing the newest: a refusal would let anyone with a few addresses keep the
 * owner from getting any code, whereas a dropped challenge only makes the owner ask again, and
 * the per-client waits and the per-number-block edge limit bound how fast anyone can push one out.
 */
export const OTP_MAX_LIVE_CHALLENGES = 5;
/** Stale rows (anyone's, oldest first) deleted by each issued code, so dead rows do not pile up. */
const SWEEP_ROWS = 20;
/** Random bytes in a challenge: 24 bytes are 32 base64url characters (OtpChallengeSchema). */
const CHALLENGE_BYTES = 24;

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

/** A fresh challenge: CHALLENGE_BYTES from the CSPRNG, base64url without padding. */
export function generateChallenge(): string {
  return randomBase64Url(CHALLENGE_BYTES);
}

/**
 * Hex HMAC-SHA-256 of the code, bound to its number and challenge, keyed with the server secret
 * (the pepper). A leaked table alone does not reveal codes: with only a million codes per
 * challenge, an unkeyed hash would.
 */
export function hashCode(secret: string, phone: string, challenge: string, code: string): Promise<string> {
  return hmacHex(secret, `otp:${phone}:${challenge}:${code}`);
}

/** Hex HMAC-SHA-256 of a challenge for its number: the table cannot hand out live challenges. */
export function hashChallenge(secret: string, phone: string, challenge: string): Promise<string> {
  return hmacHex(secret, `otp-challenge:${phone}:${challenge}`);
}

/** Hex HMAC-SHA-256 of a client address: the waits need to recognise it, not to know it. */
export function hashClient(secret: string, ip: string): Promise<string> {
  return hmacHex(secret, `otp-client:${ip}`);
}

/** Equality of two strings in time that depends only on their length, not on where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

const LAST_WAIT_MS = OTP_RESEND_WAITS_MS[OTP_RESEND_WAITS_MS.length - 1] ?? 0;

/** The wait before the next request once `count` requests were let through in the current count. */
export function resendWaitMs(count: number): number {
  return OTP_RESEND_WAITS_MS[Math.min(count, OTP_RESEND_WAITS_MS.length - 1)] ?? LAST_WAIT_MS;
}

/** When the next request may pass: after the wait, or at the reset of the count if that is sooner. */
function nextAllowedAt(row: { firstAt: number; lastAt: number; count: number }): number {
  return Math.min(row.lastAt + resendWaitMs(row.count), row.firstAt + OTP_RESEND_RESET_MS);
}

/**
 * Let one code request for `phone` from the client `clientHash` through, or refuse it with
 * ApiError('otp_rate_limited', retryAfterMs) while its wait runs; a refusal changes nothing.
 * Returns when the next request from this client may pass.
 */
export async function claimResend(
  db: DbLike,
  input: { phone: string; clientHash: string; now: number },
): Promise<{ resendAt: number }> {
  const { phone, clientHash, now } = input;
  const d = accountsDb(db);
  const reset = lte(otpResends.firstAt, now - OTP_RESEND_RESET_MS);
  const waits = OTP_RESEND_WAITS_MS.slice(0, -1).map((wait, count) => sql`when ${count} then ${wait}`);
  const wait = sql`(case ${otpResends.count} ${sql.join(waits, sql` `)} else ${LAST_WAIT_MS} end)`;

  // One statement, so parallel requests cannot both pass one wait: the conflict update runs only
  // when the wait is over (or the count has reset), and RETURNING says whether it ran.
  const rows = await d
    .insert(otpResends)
    .values({ phone, clientHash, firstAt: now, lastAt: now, count: 1 })
    .onConflictDoUpdate({
      target: [otpResends.phone, otpResends.clientHash],
      set: {
        firstAt: sql`case when ${reset} then ${now} else ${otpResends.firstAt} end`,
        count: sql`case when ${reset} then 1 else ${otpResends.count} + 1 end`,
        lastAt: now,
      },
      setWhere: or(reset, lte(sql`${otpResends.lastAt} + ${wait}`, now)),
    })
    .returning({ firstAt: otpResends.firstAt, lastAt: otpResends.lastAt, count: otpResends.count });
  const claimed = rows[0];
  if (claimed !== undefined) return { resendAt: nextAllowedAt(claimed) };

  const current = await d
    .select({ firstAt: otpResends.firstAt, lastAt: otpResends.lastAt, count: otpResends.count })
    .from(otpResends)
    .where(and(eq(otpResends.phone, phone), eq(otpResends.clientHash, clientHash)))
    .limit(1);
  const row = current[0];
  // Exact: the row that refused us, read right after. (Only a concurrent request could change it
  // in between; then the answer is at worst the wait that request started.)
  const retryAfterMs = Math.max(1, (row === undefined ? now + resendWaitMs(1) : nextAllowedAt(row)) - now);
  const seconds = Math.ceil(retryAfterMs / 1000);
  throw new ApiError('otp_rate_limited', `A new code for this number can be requested in ${seconds} s`, {
    retryAfterMs,
  });
}

export type OtpChallengeIssued = {
  /** The plain code: give it to the SMS provider, never store it. */
  code: string;
  /** The plain challenge: give it to the requester only, never store it. */
  challenge: string;
  expiresAt: number;
};

/**
 * Store a fresh code and challenge for `phone`. Other live challenges of the number stay (up to
 * OTP_MAX_LIVE_CHALLENGES, newest first); expired ones of the number and a few stale rows of
 * anyone's are deleted in the same batch.
 */
export async function createChallenge(
  db: DbLike,
  input: { phone: string; secret: string; now: number },
): Promise<OtpChallengeIssued> {
  const { phone, secret, now } = input;
  const d = accountsDb(db);
  const code = generateCode();
  const challenge = generateChallenge();
  const [challengeHash, codeHash] = await Promise.all([
    hashChallenge(secret, phone, challenge),
    hashCode(secret, phone, challenge, code),
  ]);
  const expiresAt = now + OTP_TTL_MS;
  const newest = d
    .select({ id: otpChallenges.id })
    .from(otpChallenges)
    .where(eq(otpChallenges.phone, phone))
    .orderBy(desc(otpChallenges.id))
    .limit(OTP_MAX_LIVE_CHALLENGES);
  const expiredChallenges = d
    .select({ id: otpChallenges.id })
    .from(otpChallenges)
    .where(lte(otpChallenges.expiresAt, now))
    .orderBy(otpChallenges.expiresAt)
    .limit(SWEEP_ROWS);
  // A count whose reset has passed constrains nothing: deleting it is the same as resetting it.
  const staleResends = d
    .select({ rowid: sql`rowid` })
    .from(otpResends)
    .where(lte(otpResends.firstAt, now - OTP_RESEND_RESET_MS))
    .orderBy(otpResends.firstAt)
    .limit(SWEEP_ROWS);

  // One batch (one transaction): the trim sees the new row, so a number never holds more.
  await d.batch([
    d.insert(otpChallenges).values({ phone, challengeHash, codeHash, expiresAt, attempts: 0, createdAt: now }),
    d
      .delete(otpChallenges)
      .where(
        and(
          eq(otpChallenges.phone, phone),
          or(lte(otpChallenges.expiresAt, now), notInArray(otpChallenges.id, newest)),
        ),
      ),
    d.delete(otpChallenges).where(inArray(otpChallenges.id, expiredChallenges)),
    d.delete(otpResends).where(sql`rowid in ${staleResends}`),
  ]);
  return { code, challenge, expiresAt };
}

export type OtpIssued = OtpChallengeIssued & {
  /** The earliest time this client may request another code for the number. */
  resendAt: number;
};

/**
 * Issue a code for `phone` (E.164) to the client at address `client`: take its wait (throws
 * 'otp_rate_limited' while it runs, storing nothing), then store a new challenge. A `null` client
 * skips the wait (local development with the per-IP limits off, where every client is 127.0.0.1).
 */
export async function requestOtp(
  db: DbLike,
  input: { phone: string; client: string | null; secret: string; now: number },
): Promise<OtpIssued> {
  const { phone, secret, now } = input;
  let resendAt = now;
  if (input.client !== null) {
    // Hashing first: a missing secret fails before anything is stored.
    const clientHash = await hashClient(secret, input.client);
    resendAt = (await claimResend(db, { phone, clientHash, now })).resendAt;
  }
  const issued = await createChallenge(db, { phone, secret, now });
  return { ...issued, resendAt };
}

/** Delete a challenge that was issued but cannot be used (its SMS was not sent). */
export async function discardChallenge(
  db: DbLike,
  input: { phone: string; challenge: string; secret: string },
): Promise<void> {
  const challengeHash = await hashChallenge(input.secret, input.phone, input.challenge);
  await accountsDb(db)
    .delete(otpChallenges)
    .where(and(eq(otpChallenges.phone, input.phone), eq(otpChallenges.challengeHash, challengeHash)));
}

/**
 * Check a code for `phone` under `challenge`. Resolves when it is right, after consuming the
 * challenge; otherwise throws ApiError 'otp_invalid' (wrong, attempts left),
 * 'otp_attempts_exceeded' (this guess used the last attempt, or the challenge was already burned)
 * or 'otp_expired' (expired, consumed, or no such challenge for this number: then nothing is
 * touched, so guesses without the requester's challenge cannot burn its code).
 *
 * `beforeConsume` runs once the code is known to be right, before the challenge is consumed; if it
 * throws (a refused sign-up), the attempt is given back and the challenge stays usable.
 */
export async function verifyOtp(
  db: DbLike,
  input: {
    phone: string;
    code: string;
    challenge: string;
    secret: string;
    now: number;
    beforeConsume?: () => Promise<void>;
  },
): Promise<void> {
  const { phone, challenge, secret, now } = input;
  const d = accountsDb(db);
  const [challengeHash, candidate] = await Promise.all([
    hashChallenge(secret, phone, challenge),
    hashCode(secret, phone, challenge, input.code),
  ]);
  const ofChallenge = and(eq(otpChallenges.phone, phone), eq(otpChallenges.challengeHash, challengeHash));

  // Take an attempt before comparing, atomically: parallel guesses each consume one, so no burst
  // of concurrent requests gets more than OTP_MAX_ATTEMPTS tries at a challenge.
  const claimed = await d
    .update(otpChallenges)
    .set({ attempts: sql`${otpChallenges.attempts} + 1` })
    .where(and(ofChallenge, lt(otpChallenges.attempts, OTP_MAX_ATTEMPTS), gt(otpChallenges.expiresAt, now)))
    .returning({ codeHash: otpChallenges.codeHash, attempts: otpChallenges.attempts });
  const attempt = claimed[0];

  if (attempt === undefined) {
    const rows = await d.select({ attempts: otpChallenges.attempts }).from(otpChallenges).where(ofChallenge).limit(1);
    const row = rows[0];
    if (row !== undefined && row.attempts >= OTP_MAX_ATTEMPTS) throw new ApiError('otp_attempts_exceeded');
    throw new ApiError('otp_expired');
  }

  if (!constantTimeEqual(attempt.codeHash, candidate)) {
    if (attempt.attempts >= OTP_MAX_ATTEMPTS) throw new ApiError('otp_attempts_exceeded');
    throw new ApiError('otp_invalid');
  }

  if (input.beforeConsume !== undefined) {
    try {
      await input.beforeConsume();
    } catch (err) {
      // A right code refused for another reason is not a guess: give the attempt back.
      await d
        .update(otpChallenges)
        .set({ attempts: sql`${otpChallenges.attempts} - 1` })
        .where(ofChallenge)
        .catch((refundError: unknown) => console.error('otp: could not give an attempt back', refundError));
      throw err;
    }
  }

  // Only one of parallel right guesses may log in: whoever deletes the row.
  const deleted = await d.delete(otpChallenges).where(ofChallenge).returning({ id: otpChallenges.id });
  if (deleted.length === 0) throw new ApiError('otp_expired');
}
