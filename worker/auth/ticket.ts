/**
 * Connect tickets: what a client puts in the WebSocket URL instead of its access token (URLs end
 * up in request logs and browser history). A ticket is an HS256 JWT naming one user and device,
 * valid for CONNECT_TICKET_TTL_MS, with a random id that the user's mailbox object records on
 * first use, so each ticket opens one connection. It is signed with a key derived from
 * TOKEN_SECRET for this purpose alone: a ticket is never accepted as a bearer token, nor a
 * token as a ticket.
 */
import { sign, verify } from 'hono/jwt';
import { CONNECT_TICKET_TTL_MS, ULID_PATTERN } from '../../protocol/index.ts';
import type { AuthContext } from '../app-env.ts';
import { ApiError } from '../errors.ts';
import { randomBase64Url } from '../../lib/random.ts';
import { hmacHex } from './crypto.ts';

const TICKET_TYPE = 'connect';

/** HMAC(TOKEN_SECRET, "connect-ticket"), hex: the ticket signing key. */
function ticketKey(secret: string): Promise<string> {
  return hmacHex(secret, 'connect-ticket');
}

export type Ticket = AuthContext & {
  /** The ticket's id: recorded by the mailbox object on first use. */
  ticketId: string;
  /** Expiry, ms since the epoch. */
  expiresAt: number;
};

/**
 * Issue a ticket for a device.
 *
 * @example
 * const { ticket, expiresAt } = await issueTicket(env.TOKEN_SECRET, c.get('auth'), Date.now());
 */
export async function issueTicket(secret: string, who: AuthContext, now: number): Promise<{ ticket: string; expiresAt: number }> {
  const expiresAt = now + CONNECT_TICKET_TTL_MS;
  const claims = { typ: TICKET_TYPE, sub: who.userId, did: who.deviceId, jti: randomBase64Url(16), exp_ms: expiresAt };
  return { ticket: await sign(claims, await ticketKey(secret), 'HS256'), expiresAt };
}

/**
 * Check a ticket's signature, type and expiry (single use is the mailbox object's part).
 * Throws ApiError 'ticket_invalid' for anything wrong.
 */
export async function verifyTicket(secret: string, ticket: string, now: number): Promise<Ticket> {
  let payload: Record<string, unknown>;
  try {
    payload = await verify(ticket, await ticketKey(secret), { alg: 'HS256', exp: false, nbf: false, iat: false });
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ApiError('ticket_invalid');
  }
  const { typ, sub, did, jti, exp_ms } = payload;
  if (
    typ !== TICKET_TYPE ||
    typeof sub !== 'string' ||
    typeof did !== 'string' ||
    typeof jti !== 'string' ||
    !ULID_PATTERN.test(sub) ||
    !ULID_PATTERN.test(did) ||
    !/^[A-Za-z0-9_-]{16,64}$/.test(jti) ||
    typeof exp_ms !== 'number' ||
    !Number.isSafeInteger(exp_ms)
  ) {
    throw new ApiError('ticket_invalid');
  }
  // A ticket is never valid for longer than the TTL, whatever its claim says.
  if (exp_ms <= now || exp_ms > now + CONNECT_TICKET_TTL_MS) throw new ApiError('ticket_invalid');
  return { userId: sub, deviceId: did, ticketId: jti, expiresAt: exp_ms };
}
