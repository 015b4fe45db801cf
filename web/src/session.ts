/**
 * The logged-in session (token, user and device) kept in localStorage, so a reload stays logged
 * in. One session per browser profile; the device-scoped stores (stores.ts) hang off `deviceId`.
 */
import { z } from 'zod';
import { DeviceIdSchema, UserIdSchema } from '../../protocol/index.ts';
import type { SessionResponse } from '../../protocol/index.ts';

const KEY = 'messenger.session.v1';

const StoredSessionSchema = z.object({
  token: z.string().min(1),
  userId: UserIdSchema,
  deviceId: DeviceIdSchema,
  /** The number the user logged in with (E.164). */
  phone: z.string(),
  /** Token expiry, ms since the epoch. */
  expiresAt: z.number().int(),
});

export type Session = z.infer<typeof StoredSessionSchema>;

/** The saved session, or null when there is none, it is unreadable or its token has expired. */
export function loadSession(storage: Storage = localStorage): Session | null {
  const raw = storage.getItem(KEY);
  if (raw === null) return null;
  try {
    const parsed = StoredSessionSchema.safeParse(JSON.parse(raw));
    if (parsed.success && parsed.data.expiresAt > Date.now()) return parsed.data;
  } catch {
    // Corrupt JSON: treat as logged out.
  }
  storage.removeItem(KEY);
  return null;
}

/** Remember a fresh login. */
export function saveSession(response: SessionResponse, phone: string, storage: Storage = localStorage): Session {
  const session: Session = {
    token: response.token,
    userId: response.userId,
    deviceId: response.deviceId,
    phone,
    expiresAt: response.expiresAt,
  };
  storage.setItem(KEY, JSON.stringify(session));
  return session;
}

export function clearSession(storage: Storage = localStorage): void {
  storage.removeItem(KEY);
}
