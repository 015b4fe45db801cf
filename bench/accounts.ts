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

export type BenchUser = { index: number; userId: string; token: string; phone: string };

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
    return { index, userId: session.userId, token: session.token, phone: otp.phone };
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
