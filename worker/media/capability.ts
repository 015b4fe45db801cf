/**
 * Upload capabilities: what the upload URL carries instead of a bearer token (URLs end up in
 * logs). `<expiresAt>.<nonce>.<mac>`: an HMAC under a key derived from TOKEN_SECRET for this
 * purpose alone, over the media id, the expiry and a random nonce. The signature proves the server
 * issued it for that id; the nonce, stored on the media row and cleared on first use, makes it
 * single-use (db/media.ts claimUpload). A multipart upload keeps its nonce on the row while parts
 * arrive (db/media-parts.ts) and loses it when completed or resumed with a new capability.
 *
 * Signed download URLs (`GET /v1/media/:id/url`) use the same construction under their own key:
 * `exp` and `sig` over the media id and the expiry, no nonce (they may be used many times).
 */
import { MEDIA_UPLOAD_TTL_MS } from '../../protocol/index.ts';
import { randomBase64Url } from '../../lib/random.ts';
import { hmacHex } from '../auth/crypto.ts';

const CAPABILITY_PATTERN = /^([0-9]{1,16})\.([A-Za-z0-9_-]{22})\.([0-9a-f]{64})$/;
const encoder = new TextEncoder();

export type Capability = { capability: string; nonce: string; expiresAt: number };

async function mac(secret: string, mediaId: string, expiresAt: number, nonce: string): Promise<string> {
  const key = await hmacHex(secret, 'media-upload-capability');
  return hmacHex(key, `${mediaId}.${expiresAt}.${nonce}`);
}

/**
 * A fresh capability to upload the bytes of `mediaId`, valid `ttlMs` from `now` (a single PUT's:
 * MEDIA_UPLOAD_TTL_MS; a multipart upload's: MEDIA_MULTIPART_TTL_MS).
 *
 * @example
 * const { capability, nonce, expiresAt } = await issueCapability(env.TOKEN_SECRET, mediaId, Date.now());
 */
export async function issueCapability(secret: string, mediaId: string, now: number, ttlMs = MEDIA_UPLOAD_TTL_MS): Promise<Capability> {
  const expiresAt = now + ttlMs;
  const nonce = randomBase64Url(16);
  return { capability: `${expiresAt}.${nonce}.${await mac(secret, mediaId, expiresAt, nonce)}`, nonce, expiresAt };
}

/**
 * The nonce of a capability whose signature matches `mediaId` and which has not expired at
 * `now`; null otherwise. (Whether it was used already is the database's part.)
 */
export async function verifyCapability(secret: string, mediaId: string, capability: string, now: number): Promise<string | null> {
  const match = CAPABILITY_PATTERN.exec(capability);
  if (match === null) return null;
  const [, exp = '', nonce = '', given = ''] = match;
  const expiresAt = Number(exp);
  if (!(expiresAt > now)) return null;
  const expected = await mac(secret, mediaId, expiresAt, nonce);
  return crypto.subtle.timingSafeEqual(encoder.encode(expected), encoder.encode(given)) ? nonce : null;
}

async function urlMac(secret: string, mediaId: string, expiresAt: number): Promise<string> {
  const key = await hmacHex(secret, 'media-download-url');
  return hmacHex(key, `${mediaId}.${expiresAt}`);
}

/**
 * A download signature for `mediaId` good until `expiresAt`. Callers round `expiresAt` so one
 * viewer asking again soon gets the same URL (the browser's cache keeps working).
 */
export async function signDownload(secret: string, mediaId: string, expiresAt: number): Promise<string> {
  return urlMac(secret, mediaId, expiresAt);
}

/** Whether `sig` signs `mediaId` until `expiresAt`, and that time has not come at `now`. */
export async function verifyDownload(secret: string, mediaId: string, expiresAt: number, sig: string, now: number): Promise<boolean> {
  if (!(expiresAt > now) || !/^[0-9a-f]{64}$/.test(sig)) return false;
  const expected = await urlMac(secret, mediaId, expiresAt);
  return crypto.subtle.timingSafeEqual(encoder.encode(expected), encoder.encode(sig));
}
