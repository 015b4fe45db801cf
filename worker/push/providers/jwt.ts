/**
 * Helpers shared by the push providers: base64url, PEM → CryptoKey, compact JWS signing (RS256
 * for Google's OAuth assertion, ES256 for the APNs provider token), HMAC for webhook signatures,
 * and the HTTP plumbing every provider needs (timeout, Retry-After, network-error outcome).
 *
 * Only WebCrypto, TextEncoder and btoa/atob: this runs in workerd and in Node 22 alike.
 * We sign ourselves rather than with `hono/jwt` because hono re-imports the key on every call
 * and can only put `kid` in the header when given a JWK, while APNs needs `kid` with a PKCS#8 key.
 */
import type { FetchFn, PushOutcome } from '../types.ts';

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

export function toHex(data: ArrayBuffer): string {
  return Array.from(new Uint8Array(data), (byte) => byte.toString(16).padStart(2, '0')).join('');
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

// ---------------------------------------------------------------------------------------------
// HTTP

/** How long one provider request may take before it counts as a (retryable) network failure. */
export const DEFAULT_TIMEOUT_MS = 10_000;

export function defaultFetch(): FetchFn {
  // Bound late: tests and the runtime may replace globalThis.fetch after this module loads.
  return (input, init) => globalThis.fetch(input, init);
}

/** One answer from a provider endpoint, body read to the end (Workers wants bodies consumed). */
export interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
}

/**
 * Sends one request with a deadline. Resolves with the answer, or with a `retry` outcome when
 * no answer came (refused, reset, DNS, timeout). Runtime error messages can contain the URL,
 * and the APNs URL contains the device token, so `secrets` (and the URL) are blanked out.
 */
export async function request(
  fetchFn: FetchFn,
  url: string,
  init: RequestInit,
  timeoutMs: number,
  secrets: readonly string[] = [],
): Promise<HttpAnswer | Extract<PushOutcome, { status: 'retry' }>> {
  try {
    const response = await fetchFn(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text };
  } catch (error) {
    return { status: 'retry', reason: networkErrorReason(error, timeoutMs, [url, ...secrets]) };
  }
}

function networkErrorReason(error: unknown, timeoutMs: number, secrets: readonly string[]): string {
  if (!(error instanceof Error)) return 'network error';
  if (error.name === 'TimeoutError' || error.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  // Node's fetch says "fetch failed" and puts the socket error (errno code) in `cause`;
  // workerd says e.g. "Network connection lost."
  const cause: unknown = error.cause;
  const code = cause instanceof Error && 'code' in cause && typeof cause.code === 'string' ? ` (${cause.code})` : '';
  return `network error: ${excerpt(error.message, secrets, 100) || error.name}${code}`;
}

export function isAnswer(value: HttpAnswer | PushOutcome): value is HttpAnswer {
  return typeof (value as Partial<HttpAnswer>).text === 'string';
}

/**
 * Seconds to wait according to `Retry-After` (delta-seconds or an HTTP date), or undefined when
 * absent or unreadable. `nowMs` is needed for the date form.
 */
export function retryAfterSeconds(headers: Headers, nowMs: number): number | undefined {
  const value = headers.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value);
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - nowMs) / 1000));
}

/** A `retry` outcome carrying Retry-After when the answer had one. */
export function retryOutcome(reason: string, answer: HttpAnswer, nowMs: number): PushOutcome {
  const after = retryAfterSeconds(answer.headers, nowMs);
  return after === undefined ? { status: 'retry', reason } : { status: 'retry', reason, retryAfterSeconds: after };
}

export function isTransient(status: number): boolean {
  return status === 429 || status >= 500;
}

/** Parses a JSON body, or null when it is not JSON (error pages from proxies, empty bodies). */
export function parseJson(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

/** A short, single-line excerpt of provider text for a reason, with secrets blanked out. */
export function excerpt(text: string, secrets: readonly string[], max = 200): string {
  let clean = text.replace(/\s+/g, ' ').trim();
  for (const secret of secrets) {
    if (secret.length >= 8) clean = clean.split(secret).join('[redacted]');
  }
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function trimSlash(origin: string): string {
  return origin.replace(/\/+$/, '');
}
