/**
 * Keyed hashes of short strings under the server secret, shared by the login and connect code
 * (random identifiers come from lib/random.ts).
 */
import { toHex } from '../../lib/hex.ts';
import { ApiError } from '../errors.ts';

const encoder = new TextEncoder();

/**
 * Hex HMAC-SHA-256 of `message` keyed with `secret`. An empty secret would make every hash
 * forgeable, so it is refused as a deployment error.
 *
 * @example
 * await hmacHex(env.TOKEN_SECRET, 'connect-ticket') // '9f86d0…' (64 hex characters)
 */
export async function hmacHex(secret: string, message: string): Promise<string> {
  if (secret.length === 0) throw new ApiError('unavailable', 'TOKEN_SECRET is not configured');
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return toHex(await crypto.subtle.sign('HMAC', key, encoder.encode(message)));
}
