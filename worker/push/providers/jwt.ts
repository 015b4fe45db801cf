/**
 * Signing helpers shared by the push providers: base64url, PEM → CryptoKey, compact JWS signing
 * (RS256 for Google's OAuth assertion, ES256 for the APNs provider token), HMAC for webhook
 * signatures. The HTTP plumbing is in ./http.ts.
 *
 * Only WebCrypto, TextEncoder and btoa/atob: this runs in workerd and in Node 22 alike.
 * We sign ourselves rather than with `hono/jwt` because hono re-imports the key on every call
 * and can only put `kid` in the header when given a JWK, while APNs needs `kid` with a PKCS#8 key.
 */

import { toHex } from '../../../lib/hex.ts';

const encoder = new TextEncoder();

// ---------------------------------------------------------------------------------------------
// Encoding

export function base64UrlEncode(data: ArrayBuffer | Uint8Array): string {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function base64UrlDecode(text: string): Uint8Array<ArrayBuffer> {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  return base64Decode(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
}

function base64Decode(base64: string): Uint8Array<ArrayBuffer> {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Keys

/**
 * The DER bytes of a PKCS#8 private key given as PEM (`-----BEGIN PRIVATE KEY-----`). Also
 * accepts the key with its newlines written as the two characters `\n` (a common result of
 * pasting a key into a one-line secret). Throws an Error that never echoes the key.
 */
export function pkcs8FromPem(pem: string): Uint8Array<ArrayBuffer> {
  const text = pem.replace(/\\n/g, '\n').trim();
  const armor = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(text);
  if (!armor) throw new Error('not a PEM block (expected -----BEGIN PRIVATE KEY-----)');
  if (armor[1] !== 'PRIVATE KEY') {
    throw new Error(`a "${armor[1]}" PEM block; a PKCS#8 "PRIVATE KEY" is needed`);
  }
  const body = (armor[2] ?? '').replace(/\s+/g, '');
  if (body === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(body)) throw new Error('the PEM body is not base64');
  return base64Decode(body);
}

export type JwsAlgorithm = 'RS256' | 'ES256';

const IMPORT_ALGORITHMS: Record<JwsAlgorithm, { name: string; hash?: string; namedCurve?: string }> = {
  RS256: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  ES256: { name: 'ECDSA', namedCurve: 'P-256' },
};

const SIGN_ALGORITHMS: Record<JwsAlgorithm, { name: string; hash?: string }> = {
  RS256: { name: 'RSASSA-PKCS1-v1_5' },
  ES256: { name: 'ECDSA', hash: 'SHA-256' },
};

/** Imports a PKCS#8 PEM private key for signing; non-extractable, so it never leaves WebCrypto. */
export async function importPkcs8Key(pem: string, alg: JwsAlgorithm): Promise<CryptoKey> {
  return crypto.subtle.importKey('pkcs8', pkcs8FromPem(pem), IMPORT_ALGORITHMS[alg], false, ['sign']);
}

/**
 * A compact JWS (`header.claims.signature`). WebCrypto's ECDSA signature is already the raw
 * r||s form (IEEE P1363) that JWS ES256 requires, so no DER conversion is needed.
 */
export async function signJwt(
  key: CryptoKey,
  header: { alg: JwsAlgorithm } & Record<string, string>,
  claims: Record<string, string | number>,
): Promise<string> {
  const signingInput = `${base64UrlEncode(encoder.encode(JSON.stringify(header)))}.${base64UrlEncode(
    encoder.encode(JSON.stringify(claims)),
  )}`;
  const signature = await crypto.subtle.sign(SIGN_ALGORITHMS[header.alg], key, encoder.encode(signingInput));
  return `${signingInput}.${base64UrlEncode(signature)}`;
}

export async function hmacSha256Hex(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ]);
  return toHex(await crypto.subtle.sign('HMAC', key, encoder.encode(message)));
}

/**
 * `text` if it fits in `maxBytes` of UTF-8, else its SHA-256 in hex (64 bytes). Hashing rather
 * than truncating keeps distinct long keys distinct (APNs limits `apns-collapse-id` to 64 bytes).
 */
export async function boundedId(text: string, maxBytes = 64): Promise<string> {
  const bytes = encoder.encode(text);
  if (bytes.length <= maxBytes) return text;
  return toHex(await crypto.subtle.digest('SHA-256', bytes)).slice(0, maxBytes);
}
