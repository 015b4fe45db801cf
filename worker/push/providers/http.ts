/**
 * The HTTP plumbing every push provider needs: settings with defaults, one request with a
 * deadline, Retry-After, and turning network errors into a `retry` outcome without leaking
 * secrets into reasons. Standard APIs only (workerd and Node 22).
 */
import type { FetchFn, PushOutcome } from '../../../lib/push-types.ts';

/** How long one provider request may take before it counts as a (retryable) network failure. */
export const DEFAULT_TIMEOUT_MS = 10_000;

/** The options every provider takes for talking HTTP (all injectable for tests). */
export interface ProviderHttpOptions {
  fetch?: FetchFn;
  /** Clock in milliseconds since the epoch (default `Date.now`). */
  now?: () => number;
  /** Deadline per HTTP request (default 10 s). */
  timeoutMs?: number;
}

/** `options` with their defaults filled in. */
export function httpSettings(options: ProviderHttpOptions): { fetchFn: FetchFn; now: () => number; timeoutMs: number } {
  return { fetchFn: options.fetch ?? defaultFetch(), now: options.now ?? Date.now, timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS };
}

function defaultFetch(): FetchFn {
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
