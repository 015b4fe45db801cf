/**
 * Bench users. For the messenger they sign up through the real HTTP API, as an app would:
 * POST /v1/auth/otp (the `dev` SMS provider returns the code as `devCode`), then
 * POST /v1/auth/verify, which creates the account and a device token. Responses are validated
 * with the protocol's own schemas. Relay users are just names.
 *
 * Phone numbers are German mobile numbers (+49 151 and 8 digits) from a random block per run,
 * so two runs against the same state never collide with the per-number OTP rate limit.
 */
import { ConnectTicketSchema, OtpResponseSchema, PATHS, SessionResponseSchema } from '../protocol/index.ts';
import { mapPool, progressPrinter } from './util.ts';

export type BenchUser = {
  index: number;
  userId: string;
  /** The access token; renewed in place by `freshToken` (it lives 15 minutes, a 10,000-user setup longer). */
  token: string;
  phone: string;
  /** Messenger users: the session's refresh token and when the access token expires. */
  refreshToken?: string;
  expiresAt?: number;
};

/** Renew a token this close to its expiry before using it. */
const RENEW_BEFORE_MS = 5 * 60_000;

/**
 * `user.token`, renewed first (POST /v1/auth/refresh, as an app does) when it expires within a
 * few minutes: the large group scenarios sign up for longer than an access token lives.
 */
export async function freshToken(base: URL, user: BenchUser): Promise<string> {
  if (user.refreshToken === undefined || user.expiresAt === undefined || user.expiresAt - Date.now() > RENEW_BEFORE_MS) return user.token;
  const session = SessionResponseSchema.parse(await postJson(base, PATHS.refresh, { refreshToken: user.refreshToken }));
  user.token = session.token;
  user.refreshToken = session.refreshToken;
  user.expiresAt = session.expiresAt;
  return user.token;
}

/** Renew every token of `users` that is about to expire, `concurrency` at a time. */
export async function freshTokens(base: URL, users: readonly BenchUser[], concurrency: number): Promise<void> {
  await mapPool(users.length, concurrency, async (i) => {
    await freshToken(base, users[i]!);
  });
}

export class SignUpError extends Error {}

async function postJson(base: URL, path: string, body: unknown, token?: string): Promise<unknown> {
  const response = await fetch(new URL(path, base), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  if (!response.ok) throw new SignUpError(`POST ${path} -> ${response.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as unknown;
}

/** Create `count` users through the API with `concurrency` sign-ups at a time. */
export async function signUpUsers(base: URL, count: number, concurrency: number, label: string): Promise<BenchUser[]> {
  const block = Math.floor(Math.random() * (100_000_000 - count));
  const progress = progressPrinter(`${label} signed up`, count);
  let done = 0;
  return mapPool(count, concurrency, async (index) => {
    const phone = `+49151${String(block + index).padStart(8, '0')}`;
    const otp = OtpResponseSchema.parse(await postJson(base, PATHS.requestOtp, { phone }));
    if (otp.devCode === undefined) {
      throw new SignUpError('the server did not return devCode: SMS_PROVIDER must be "dev" for the bench');
    }
    const session = SessionResponseSchema.parse(
      await postJson(base, PATHS.verifyOtp, {
        phone: otp.phone,
        code: otp.devCode,
        challenge: otp.challenge,
        deviceName: `bench ${index}`,
        platform: 'cli',
      }),
    );
    progress(++done);
    return { index, userId: session.userId, token: session.token, phone: otp.phone, refreshToken: session.refreshToken, expiresAt: session.expiresAt };
  });
}

/**
 * The WebSocket URL for a user: a fresh single-use connect ticket (the token never goes into a URL).
 *
 * @example
 * const ws = new WebSocket(await connectUrl(server.wsBase, user.token));
 */
export async function connectUrl(wsBase: string, token: string): Promise<string> {
  const base = new URL(wsBase.replace(/^ws/, 'http'));
  const { ticket } = ConnectTicketSchema.parse(await postJson(base, PATHS.connectTicket, {}, token));
  return `${wsBase}${PATHS.connect}?ticket=${encodeURIComponent(ticket)}`;
}

/** Relay users: names only (the relay addresses one Durable Object per name). */
export function relayUsers(count: number): BenchUser[] {
  return Array.from({ length: count }, (_, index) => ({ index, userId: `user${index}`, token: '', phone: '' }));
}
