/**
 * The two-step verification PIN: its salted, peppered PBKDF2 hash, the guesses (counted per
 * account, so fresh SMS codes give no fresh guesses) and the growing locks after too many wrong
 * ones, setting, removing and the reset by waiting. Every function takes `now`.
 */
import { and, eq, isNull, lte, or, sql } from 'drizzle-orm';
import { PIN_FREE_ATTEMPTS, PIN_LOCK_BASE_MS, PIN_RESET_WAIT_MS, type PinStatus } from '../../protocol/index.ts';
import { accountsDb, type DbLike } from '../../db/accounts.ts';
import { accountPins, pinChallenges, type AccountPinRow } from '../../db/schema.ts';
import { ApiError } from '../errors.ts';
import { toHex } from '../../lib/hex.ts';
import { randomBase64Url } from '../../lib/random.ts';
import { hmacHex } from './crypto.ts';
import { constantTimeEqual } from './otp.ts';

/**
 * PBKDF2-SHA-256 iterations: the most Cloudflare Workers allow (higher counts are refused in
 * production). About 13 ms of CPU per hash in local workerd. The pepper below matters more: with
 * only a million PINs, no iteration count protects a stolen table on its own.
 */
export const PIN_ITERATIONS = 100_000;
const SALT_BYTES = 16;
const HASH_SCHEME = `pbkdf2-sha256:${PIN_ITERATIONS}`;
/** The lock doubles with each wrong PIN after the free ones, up to 2^MAX_LOCK_DOUBLINGS times PIN_LOCK_BASE_MS (about 11 days). */
const MAX_LOCK_DOUBLINGS = 14;

const encoder = new TextEncoder();

/**
 * `<scheme>:<hex>`: PBKDF2 over HMAC(secret, user and PIN). The HMAC is a pepper: the table
 * alone (without TOKEN_SECRET) does not let anyone try the million PINs offline. The scheme
 * prefix lets a later version change the parameters and still check old hashes.
 */
export async function hashPin(secret: string, userId: string, pin: string, salt: string): Promise<string> {
  const peppered = await hmacHex(secret, `pin:${userId}:${pin}`);
  const key = await crypto.subtle.importKey('raw', encoder.encode(peppered), 'PBKDF2', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits(
    { name: 'PBKDF2', hash: 'SHA-256', salt: encoder.encode(salt), iterations: PIN_ITERATIONS },
    key,
    256,
  );
  return `${HASH_SCHEME}:${toHex(bits)}`;
}

export async function pinOf(db: DbLike, userId: string): Promise<AccountPinRow | null> {
  const rows = await accountsDb(db).select().from(accountPins).where(eq(accountPins.userId, userId)).limit(1);
  return rows[0] ?? null;
}

export function pinStatusOf(row: AccountPinRow | null): PinStatus {
  return { enabled: row !== null, resetAt: row?.resetAt ?? null };
}

/** Wrong PINs left before waits start. */
export function attemptsLeft(row: Pick<AccountPinRow, 'failed'>): number {
  return Math.max(0, PIN_FREE_ATTEMPTS - row.failed);
}

/** How long the `failed`-th wrong PIN locks the account (0 while free attempts remain). */
export function lockAfter(failed: number): number {
  if (failed <= PIN_FREE_ATTEMPTS) return 0;
  return PIN_LOCK_BASE_MS * 2 ** Math.min(failed - PIN_FREE_ATTEMPTS - 1, MAX_LOCK_DOUBLINGS);
}

/**
 * Check a guess of the account's PIN. Resolves when it is right (the count of wrong ones starts
 * over); throws ApiError 'pin_locked' (retryAfterMs) while a lock runs, 'pin_invalid' when it is
 * wrong, 'pin_not_set' when the account has no PIN.
 *
 * A guess is counted (and the lock it would cause set) in one statement before the hash is
 * compared, as OTP attempts are: a burst of parallel guesses cannot get past the lock.
 */
export async function checkPin(db: DbLike, input: { secret: string; userId: string; pin: string; now: number }): Promise<void> {
  const { userId, now } = input;
  const d = accountsDb(db);
  const lockSql = sql`case when ${accountPins.failed} + 1 > ${PIN_FREE_ATTEMPTS}
    then ${now} + ${PIN_LOCK_BASE_MS} * (1 << min(${accountPins.failed} - ${PIN_FREE_ATTEMPTS}, ${MAX_LOCK_DOUBLINGS}))
    else null end`;
  const claimed = await d
    .update(accountPins)
    .set({ failed: sql`${accountPins.failed} + 1`, lockedUntil: lockSql })
    .where(and(eq(accountPins.userId, userId), or(isNull(accountPins.lockedUntil), lte(accountPins.lockedUntil, now))))
    .returning({ pinHash: accountPins.pinHash, salt: accountPins.salt, failed: accountPins.failed });
  const guess = claimed[0];
  if (guess === undefined) {
    const row = await pinOf(db, userId);
    if (row === null) throw new ApiError('pin_not_set');
    throw lockedError(row, now);
  }
  const candidate = await hashPin(input.secret, userId, input.pin, guess.salt);
  if (!constantTimeEqual(candidate, guess.pinHash)) {
    const lockMs = lockAfter(guess.failed);
    const left = attemptsLeft(guess);
    throw new ApiError(
      'pin_invalid',
      lockMs > 0
        ? `Wrong PIN; the next guess is possible in ${Math.ceil(lockMs / 1000)} s`
        : `Wrong PIN; ${left} more wrong ${left === 1 ? 'guess is' : 'guesses are'} allowed before waits start`,
    );
  }
  // Only for the hash just checked: a PIN changed meanwhile keeps its own count.
  await d
    .update(accountPins)
    .set({ failed: 0, lockedUntil: null })
    .where(and(eq(accountPins.userId, userId), eq(accountPins.pinHash, guess.pinHash)));
}

function lockedError(row: Pick<AccountPinRow, 'lockedUntil'>, now: number): ApiError {
  return new ApiError('pin_locked', undefined, { retryAfterMs: Math.max(1, (row.lockedUntil ?? now) - now) });
}

/**
 * Set (or replace) the account's PIN: a fresh salt and hash, no wrong guesses, no lock, and a
 * pending reset is cancelled (the owner evidently still holds a device). Whether the caller may
 * (current PIN, trusted device) is checked before.
 */
export async function storePin(db: DbLike, input: { secret: string; userId: string; pin: string; now: number }): Promise<void> {
  const { userId, now } = input;
  const salt = randomBase64Url(SALT_BYTES);
  const pinHash = await hashPin(input.secret, userId, input.pin, salt);
  const values = { pinHash, salt, failed: 0, lockedUntil: null, resetAt: null, setAt: now };
  await accountsDb(db)
    .insert(accountPins)
    .values({ userId, ...values })
    .onConflictDoUpdate({ target: accountPins.userId, set: values });
}

/** Remove the PIN and the logins waiting for it. True when there was one. */
export async function deletePin(db: DbLike, userId: string): Promise<boolean> {
  const d = accountsDb(db);
  const [removed] = await d.batch([
    d.delete(accountPins).where(eq(accountPins.userId, userId)).returning({ userId: accountPins.userId }),
    d.delete(pinChallenges).where(eq(pinChallenges.userId, userId)),
  ]);
  return removed.length > 0;
}

/**
 * Remove the PIN if its reset is due (a login after the waiting period). True when this call
 * removed it; a concurrent login that got there first sees false.
 */
export async function applyDueReset(db: DbLike, userId: string, now: number): Promise<boolean> {
  const d = accountsDb(db);
  const [removed] = await d.batch([
    d
      .delete(accountPins)
      .where(and(eq(accountPins.userId, userId), lte(accountPins.resetAt, now)))
      .returning({ userId: accountPins.userId }),
    d.delete(pinChallenges).where(and(eq(pinChallenges.userId, userId), sql`not exists (select 1 from ${accountPins} where ${accountPins.userId} = ${userId})`)),
  ]);
  return removed.length > 0;
}

/**
 * Ask for the PIN to be reset: it takes effect PIN_RESET_WAIT_MS from now, or at the time an
 * earlier request already set. `started` is true only for the request that set it (the one whose
 * account event is sent). Null when the account has no PIN.
 */
export async function requestReset(db: DbLike, userId: string, now: number): Promise<{ resetAt: number; started: boolean } | null> {
  const d = accountsDb(db);
  const set = await d
    .update(accountPins)
    .set({ resetAt: now + PIN_RESET_WAIT_MS })
    .where(and(eq(accountPins.userId, userId), isNull(accountPins.resetAt)))
    .returning({ resetAt: accountPins.resetAt });
  const started = set[0]?.resetAt;
  if (started !== undefined && started !== null) return { resetAt: started, started: true };
  const row = await pinOf(db, userId);
  if (row === null || row.resetAt === null) return null;
  return { resetAt: row.resetAt, started: false };
}

/** Undo a reset this request started (its account event could not be sent: the owner must hear of every reset). */
export async function cancelReset(db: DbLike, userId: string, resetAt: number): Promise<void> {
  await accountsDb(db)
    .update(accountPins)
    .set({ resetAt: null })
    .where(and(eq(accountPins.userId, userId), eq(accountPins.resetAt, resetAt)));
}
