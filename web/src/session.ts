/**
 * The logged-in session kept in localStorage, so a reload stays logged in: the short-lived access
 * token, the refresh token that renews it (the SDK refreshes, and hands every rotated session to
 * `saveSession` through its `onSession` callback), the user and device, and the number the user
 * logged in with. One session per browser profile; the device-scoped stores (stores.ts) hang off
 * `deviceId`.
 */
import { z } from 'zod';
import { toStoredSession, type MessengerApi } from '../../client/index.ts';
import { DeviceIdSchema, RefreshTokenSchema, UserIdSchema } from '../../protocol/index.ts';
import { forgetRenewal, lastRenewal, recordRenewal } from './renewals.ts';

const KEY = 'messenger.session.v2';
/** The Web Lock under which one tab at a time renews the session. */
const REFRESH_LOCK = 'messenger.session.refresh';
/** Where sessions before refresh tokens lived: removed on sight (such a token cannot be renewed). */
const OLD_KEY = 'messenger.session.v1';

/** What the SDK keeps of a session (its `session` option and `onSession` callback). */
const SdkSessionSchema = z.object({
  token: z.string().min(1),
  refreshToken: RefreshTokenSchema,
  /** Access token expiry, ms since the epoch (the refresh token outlives it). */
  expiresAt: z.number().int(),
  userId: UserIdSchema,
  deviceId: DeviceIdSchema,
});

const StoredSessionSchema = SdkSessionSchema.extend({
  /** The number the user logged in with (E.164). */
  phone: z.string(),
});

export type SdkSession = z.infer<typeof SdkSessionSchema>;
export type Session = z.infer<typeof StoredSessionSchema>;

/**
 * The saved session, or null when there is none or it is unreadable. An expired access token is
 * fine: the SDK renews it with the refresh token (and ends the session if that is refused).
 */
export function loadSession(storage: Storage = localStorage): Session | null {
  storage.removeItem(OLD_KEY);
  const raw = storage.getItem(KEY);
  if (raw === null) return null;
  try {
    const parsed = StoredSessionSchema.safeParse(JSON.parse(raw));
    if (parsed.success) return parsed.data;
  } catch {
    // Corrupt JSON: treat as logged out.
  }
  storage.removeItem(KEY);
  return null;
}

/** Remember a login, or the renewed session after a refresh (same device, new tokens). */
export function saveSession(session: SdkSession, phone: string, storage: Storage = localStorage): Session {
  const stored: Session = {
    token: session.token,
    refreshToken: session.refreshToken,
    expiresAt: session.expiresAt,
    userId: session.userId,
    deviceId: session.deviceId,
    phone,
  };
  storage.setItem(KEY, JSON.stringify(stored));
  return stored;
}

export function clearSession(storage: Storage = localStorage): void {
  storage.removeItem(KEY);
  // Only this device's renewals are ever taken from there; this just leaves nothing behind.
  forgetRenewal().catch(() => undefined);
}

/**
 * Follow the session other tabs of this profile write: `onChange` gets what they saved (a
 * renewal, or a new login) or null when they logged out.
 */
export function watchSession(onChange: (session: Session | null) => void, signal: AbortSignal): void {
  window.addEventListener(
    'storage',
    (event) => {
      if (event.storageArea !== localStorage || (event.key !== KEY && event.key !== null)) return;
      onChange(loadSession());
    },
    { signal },
  );
}

/**
 * How the SDK renews this profile's session (its `refreshSession` option). Every tab of the
 * profile shares the one session, and a refresh token works once: used again, it is taken for a
 * copy and logs the device out (unless within 30 s, which the server takes for a retry after a
 * lost answer: still a second renewal). So renewals take turns under a Web Lock, and a tab whose
 * refresh token another tab already spent takes the session that tab renewed instead of
 * refreshing again. The handoff goes through IndexedDB (renewals.ts: localStorage may not show
 * the other tab's write yet when the lock comes through).
 */
export function sharedRefresh(api: () => MessengerApi, phone: string): (current: SdkSession) => Promise<SdkSession> {
  return (current) => {
    const renew = async (): Promise<SdkSession> => {
      const renewed = await renewedSince(current);
      if (renewed !== null) return renewed;
      const next = toStoredSession(await api().refresh(current.refreshToken));
      // Recorded before the lock is released, so the next tab in line finds it; without
      // IndexedDB, the localStorage copy is the (best-effort) handoff.
      await recordRenewal(next).catch(() => undefined);
      saveSession(next, phone);
      return next;
    };
    // Web Locks exist in every current browser (secure contexts); without them, just renew.
    return 'locks' in navigator ? navigator.locks.request(REFRESH_LOCK, renew) : renew();
  };
}

/**
 * The newest session another tab renewed from `current`'s device since `current` was issued
 * (another refresh token, a later expiry), or null: then `current`'s refresh token is unspent.
 */
async function renewedSince(current: SdkSession): Promise<SdkSession | null> {
  const candidates = [await lastRenewal().catch(() => undefined), loadSession()];
  let newest: SdkSession | null = null;
  for (const candidate of candidates) {
    const parsed = SdkSessionSchema.safeParse(candidate);
    if (!parsed.success) continue;
    const { token, refreshToken, expiresAt, userId, deviceId } = parsed.data;
    if (deviceId !== current.deviceId || refreshToken === current.refreshToken || expiresAt <= current.expiresAt) continue;
    if (newest === null || expiresAt > newest.expiresAt) newest = { token, refreshToken, expiresAt, userId, deviceId };
  }
  return newest;
}
