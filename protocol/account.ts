/**
 * Account ownership: sessions (short-lived access tokens renewed with rotating refresh tokens),
 * the optional two-step verification PIN, account deletion, and the account events every
 * device of the account is told about (a new device logged in, one was removed, the PIN changed).
 */
import { z } from 'zod';
import { DeviceIdSchema, UserIdSchema } from './messages.ts';

/** Access tokens live this long; clients renew them with the refresh token before or after they expire. */
export const ACCESS_TOKEN_TTL_MS = 15 * 60_000;
/** A device unused this long is logged out (its refresh token refused); servers may configure it (SESSION_IDLE_DAYS). */
export const SESSION_IDLE_DEFAULT_DAYS = 180;
/** Two-step verification PINs are this many digits. */
export const PIN_LENGTH = 6;
/** Wrong PINs allowed before waits start (each further wrong PIN doubles the wait, from PIN_LOCK_BASE_MS). */
export const PIN_FREE_ATTEMPTS = 5;
export const PIN_LOCK_BASE_MS = 60_000;
/** A PIN reset takes effect this long after it was requested (every device of the account is told at once). */
export const PIN_RESET_WAIT_MS = 7 * 24 * 60 * 60_000;
/** A device younger than this (that did not enter the PIN) cannot log out older devices, change the PIN or delete the account. */
export const NEW_DEVICE_TRUST_MS = 24 * 60 * 60_000;

export const PinSchema = z.string().regex(new RegExp(`^[0-9]{${PIN_LENGTH}}$`), `expected ${PIN_LENGTH} digits`);
/** A refresh token: opaque to clients, at most 256 characters. */
export const RefreshTokenSchema = z.string().min(16).max(256);
/** A PIN challenge: 32 base64url characters, from a verify answer that asked for the PIN. */
export const PinChallengeSchema = z.string().regex(/^[A-Za-z0-9_-]{32}$/, 'expected the pinChallenge from the verify answer');

// ---- sessions: POST /v1/auth/verify, POST /v1/auth/pin and POST /v1/auth/refresh answer this
export const SessionResponseSchema = z.strictObject({
  /** Bearer token bound to this user and this device; short-lived (ACCESS_TOKEN_TTL_MS). */
  token: z.string(),
  /** When `token` expires, ms since the epoch. */
  expiresAt: z.number().int(),
  /**
   * Renews the session (`POST /v1/auth/refresh`); single use: every refresh answers a new one.
   * Presenting one that was already used logs the device out (it was copied).
   */
  refreshToken: RefreshTokenSchema,
  userId: UserIdSchema,
  deviceId: DeviceIdSchema,
  /** True when this login created the account. */
  newUser: z.boolean(),
  /**
   * Whether this device may read what the account received before it logged in (history
   * pages, the chat list's earlier messages). True only when the login entered the PIN (or the
   * account is new); otherwise the device starts empty and receives everything from its login on.
   */
  history: z.boolean(),
});
export type SessionResponse = z.infer<typeof SessionResponseSchema>;

/** The code was right, but the account has a PIN: enter it with `POST /v1/auth/pin` (no device exists yet). */
export const PinRequiredResponseSchema = z.strictObject({
  pinRequired: z.literal(true),
  /** Present it with the PIN (valid until `expiresAt`, single use). */
  pinChallenge: PinChallengeSchema,
  expiresAt: z.number().int(),
  /** Wrong PINs left before waits start (0: each wrong PIN now locks for a while). */
  attemptsLeft: z.number().int().min(0),
  /** When a requested PIN reset takes effect (log in again after it, without the PIN); null when none was requested. */
  resetAt: z.number().int().nullable(),
});
export type PinRequiredResponse = z.infer<typeof PinRequiredResponseSchema>;

/** What `POST /v1/auth/verify` answers: a session, or the request for the PIN. */
export const VerifyResponseSchema = z.union([SessionResponseSchema, PinRequiredResponseSchema]);
export type VerifyResponse = z.infer<typeof VerifyResponseSchema>;

// ---- POST /v1/auth/pin
export const PinLoginSchema = z.strictObject({ pinChallenge: PinChallengeSchema, pin: PinSchema });
export type PinLogin = z.infer<typeof PinLoginSchema>;

// ---- POST /v1/auth/pin/reset (forgot the PIN: takes effect after PIN_RESET_WAIT_MS)
export const PinResetRequestSchema = z.strictObject({ pinChallenge: PinChallengeSchema });
export const PinResetResponseSchema = z.strictObject({ resetAt: z.number().int() });
export type PinResetResponse = z.infer<typeof PinResetResponseSchema>;

// ---- POST /v1/auth/refresh
export const RefreshRequestSchema = z.strictObject({ refreshToken: RefreshTokenSchema });
export type RefreshRequest = z.infer<typeof RefreshRequestSchema>;

// ---- GET /v1/me/pin, PUT /v1/me/pin, DELETE /v1/me/pin
export const PinStatusSchema = z.strictObject({
  enabled: z.boolean(),
  /** When a pending reset takes effect; null when none is pending. */
  resetAt: z.number().int().nullable(),
});
export type PinStatus = z.infer<typeof PinStatusSchema>;
/** Set or change the PIN (changing needs the current one). */
export const SetPinSchema = z.strictObject({ pin: PinSchema, currentPin: PinSchema.optional() });
export type SetPin = z.infer<typeof SetPinSchema>;
export const RemovePinSchema = z.strictObject({ currentPin: PinSchema });
export type RemovePin = z.infer<typeof RemovePinSchema>;

// ---- DELETE /v1/me
export const DeleteAccountSchema = z.strictObject({
  /** The account's phone number, in any common notation: the confirmation that this is meant. */
  phone: z.string().min(3).max(32),
});
export type DeleteAccount = z.infer<typeof DeleteAccountSchema>;

// ---------------------------------------------------------------- account events (mailbox entries)

export const AccountEventSchema = z.discriminatedUnion('kind', [
  /** A device logged in to the account. */
  z.strictObject({
    kind: z.literal('device_added'),
    deviceId: DeviceIdSchema,
    name: z.string(),
    platform: z.string(),
    /** Whether it entered the PIN (and may read earlier history). */
    withPin: z.boolean(),
  }),
  /** A device was logged out (by itself or from another device) or expired. */
  z.strictObject({ kind: z.literal('device_removed'), deviceId: DeviceIdSchema }),
  /** Someone who received the SMS code asked to reset the PIN; it takes effect at `resetAt` unless the PIN is changed before. */
  z.strictObject({ kind: z.literal('pin_reset_requested'), resetAt: z.number().int() }),
  /** The PIN was set, changed or removed (from `deviceId`). */
  z.strictObject({ kind: z.literal('pin_changed'), enabled: z.boolean(), deviceId: DeviceIdSchema.nullable() }),
]);
export type AccountEvent = z.infer<typeof AccountEventSchema>;
