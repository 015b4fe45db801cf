/**
 * Session handling: the logged-in device's short-lived access token and single-use refresh
 * token, renewed before or when the token expires, one renewal at a time.
 *
 * Why one at a time: a refresh token works once. Two requests that both find the token expired
 * and both refreshed would present the same refresh token twice, and the server takes a reused
 * refresh token for a stolen one and logs the device out. So every caller during a renewal
 * waits for the same one (single flight), and a caller holding a token that was already
 * renewed gets the new token without refreshing again.
 */
import type { ErrorCode, SessionResponse } from '../protocol/index.ts';
import { MessengerError } from './transport.ts';
import type { TokenSource } from './transport.ts';

/** What an app persists to stay logged in across restarts (see `MessengerClientOptions.onSession`). */
export interface StoredSession {
  /** Bearer token (short-lived: ACCESS_TOKEN_TTL_MS). */
  token: string;
  /** Single-use: renewing the session answers a new one, and this one is spent. */
  refreshToken: string;
  /** When `token` expires, ms since the epoch. */
  expiresAt: number;
  userId: string;
  deviceId: string;
}

/** The part of a login or refresh answer worth persisting. */
export function toStoredSession(response: SessionResponse): StoredSession {
  return {
    token: response.token,
    refreshToken: response.refreshToken,
    expiresAt: response.expiresAt,
    userId: response.userId,
    deviceId: response.deviceId,
  };
}

/** Renew a token this long before it expires (clocks differ a little; requests take time). */
export const REFRESH_MARGIN_MS = 60_000;

/**
 * Why the session ended without the app asking: the refresh was refused (`refresh_invalid`:
 * spent or unknown refresh token, `session_expired`: idle too long), the device was logged out
 * (`device_revoked`), or the account was deleted (`account_deleted`, from another device).
 */
export interface SessionEnded {
  reason: ErrorCode;
  error: MessengerError;
}

/** Answers to a refresh that mean the session is over: log in again. */
const REFRESH_REFUSED: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'refresh_invalid',
  'session_expired',
  'device_revoked',
  'account_deleted',
  'token_invalid',
  'unauthorized',
  // A stored refresh token the server cannot even parse will never work.
  'validation_failed',
]);

export interface SessionKeeperOptions {
  /** A session persisted earlier. */
  session?: StoredSession | null | undefined;
  /** A bare bearer token without a refresh token (it cannot be renewed). Ignored when `session` is given. */
  token?: string | undefined;
  /** Renews a session with its refresh token (normally `POST /v1/auth/refresh`). */
  refresh: (session: StoredSession) => Promise<StoredSession>;
  /** Called whenever the session changes: a login, every renewal, the end (null). */
  onSession?: ((session: StoredSession | null) => void) | undefined;
  /** Called once when the session ends without the app asking (see {@link SessionEnded}). */
  onEnded?: ((ended: SessionEnded) => void) | undefined;
  /** Renew this long before expiry. Default {@link REFRESH_MARGIN_MS}. */
  refreshMarginMs?: number | undefined;
  /** Clock, ms since the epoch. Default `Date.now`. */
  now?: (() => number) | undefined;
}

/**
 * Keeps one device's session: hands out the current token, renews it (single flight), and
 * reports every change. Serves as the {@link TokenSource} of a `MessengerApi`.
 *
 * @example
 * const keeper = new SessionKeeper({ session: saved, refresh: (s) => api.refresh(s.refreshToken).then(toStoredSession), onSession: save });
 * const api = new MessengerApi({ baseUrl, tokens: keeper });
 */
export class SessionKeeper implements TokenSource {
  private stored: StoredSession | null;
  private bareToken: string | undefined;
  private inflight: Promise<string | undefined> | undefined;
  private readonly refresher: (session: StoredSession) => Promise<StoredSession>;
  private readonly onSession: ((session: StoredSession | null) => void) | undefined;
  private readonly onEnded: ((ended: SessionEnded) => void) | undefined;
  private readonly marginMs: number;
  private readonly now: () => number;

  constructor(options: SessionKeeperOptions) {
    this.stored = options.session ?? null;
    this.bareToken = this.stored === null ? options.token : undefined;
    this.refresher = options.refresh;
    this.onSession = options.onSession;
    this.onEnded = options.onEnded;
    this.marginMs = options.refreshMarginMs ?? REFRESH_MARGIN_MS;
    this.now = options.now ?? Date.now;
  }

  /** The session, or null when logged out (or when only a bare token is known). */
  get session(): StoredSession | null {
    return this.stored;
  }

  /** Whether a renewal is under way. */
  get renewing(): boolean {
    return this.inflight !== undefined;
  }

  current(): string | undefined {
    return this.stored?.token ?? this.bareToken;
  }

  /** Whether the token is known to expire within the margin (false for a bare token: unknown). */
  expiresSoon(): boolean {
    return this.stored !== null && this.stored.expiresAt - this.now() <= this.marginMs;
  }

  /** Start using `session` (a login), or forget it (null: logged out by the app). Reports the change. */
  set(session: StoredSession | null): void {
    this.bareToken = undefined;
    if (session === this.stored) return;
    this.stored = session;
    this.onSession?.(session);
  }

  /** Use a bare token that cannot be renewed (legacy; prefer `set`). Reports no change. */
  setBareToken(token: string | undefined): void {
    this.stored = null;
    this.bareToken = token;
  }

  async fresh(): Promise<string | undefined> {
    const session = this.stored;
    if (session === null || !this.expiresSoon()) return this.current();
    try {
      return (await this.renew(session.token)) ?? this.current();
    } catch (error) {
      // Offline or a busy server: a token that has not expired yet still works meanwhile.
      const still = this.stored;
      if (still !== null && still.expiresAt > this.now()) return still.token;
      throw error;
    }
  }

  renew(stale: string): Promise<string | undefined> {
    const session = this.stored;
    if (session === null) return Promise.resolve(undefined);
    // Renewed by someone else since `stale` was handed out: use the newer token.
    if (session.token !== stale) return Promise.resolve(session.token);
    this.inflight ??= this.refreshOnce(session).finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  ended(token: string, error: MessengerError): void {
    if (token !== this.current()) return; // a request made with an older token; the session went on
    this.end(error.code, error);
  }

  /** End the session because the server ended it (not the app): reports null and {@link SessionEnded} once. */
  end(reason: SessionEnded['reason'], error: MessengerError): void {
    if (this.stored === null && this.bareToken === undefined) return;
    this.stored = null;
    this.bareToken = undefined;
    this.onSession?.(null);
    this.onEnded?.({ reason, error });
  }

  private async refreshOnce(session: StoredSession): Promise<string | undefined> {
    let next: StoredSession;
    try {
      next = await this.refresher(session);
    } catch (error) {
      const refused = error instanceof MessengerError && REFRESH_REFUSED.has(error.code);
      // Only the session that was refreshed ends (the app may have logged in again meanwhile).
      if (refused && this.stored === session) this.end(error.code, error);
      throw error;
    }
    if (this.stored !== session) return this.current(); // logged out or replaced meanwhile
    this.set(next);
    return next.token;
  }
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * A connect ticket from an app's own ticket source (`MessengerClientOptions.connectTicket`) for
 * the session's token: renewed first when it is known to expire soon, and once more when the
 * source refuses it with `token_expired`. Synchronous when nothing needs renewing (the socket
 * then opens in the same tick). Throws `unauthorized` without a token.
 */
export function renewingTicket(keeper: SessionKeeper, source: (token: string) => string | PromiseLike<string>): string | PromiseLike<string> {
  const token = keeper.current();
  if (token === undefined || token === '') throw new MessengerError('unauthorized', 'No token: log in first');
  if (keeper.expiresSoon()) return keeper.fresh().then((fresh) => ticketFor(keeper, source, fresh ?? token));
  return ticketFor(keeper, source, token);
}

function ticketFor(keeper: SessionKeeper, source: (token: string) => string | PromiseLike<string>, token: string): string | PromiseLike<string> {
  const renewAndRetry = async (error: unknown): Promise<string> => {
    if (!(error instanceof MessengerError) || error.code !== 'token_expired') throw error;
    const renewed = await keeper.renew(token);
    if (renewed === undefined || renewed === token) throw error;
    return source(renewed);
  };
  let ticket: string | PromiseLike<string>;
  try {
    ticket = source(token);
  } catch (error) {
    return renewAndRetry(error);
  }
  return isPromiseLike(ticket) ? Promise.resolve(ticket).then(undefined, renewAndRetry) : ticket;
}
