/**
 * The request machinery under every typed API call: `MessengerError` (the one error type the SDK
 * throws or emits), bearer tokens that renew themselves, timeouts, error mapping and response
 * validation against the protocol's zod schemas.
 *
 * Uses only the global `fetch` (browsers, Node 18+, workers); pass `fetch` in the options to
 * inject a fake.
 */
import type { z } from 'zod';
import { ERRORS, ErrorResponseSchema, errorCodeForStatus } from '../protocol/index.ts';
import type { ErrorCode, ErrorFrame } from '../protocol/index.ts';

/**
 * The SDK's error: a protocol error code plus the HTTP status it travels with, whether the same
 * request may succeed when retried, and for rate limits how long to wait first.
 *
 * @example
 * try { await api.me(); } catch (e) {
 *   if (e instanceof MessengerError && e.code === 'session_expired') showLogin();
 *   if (e instanceof MessengerError && e.retryAfterMs !== undefined) retryIn(e.retryAfterMs);
 * }
 */
export class MessengerError extends Error {
  override readonly name = 'MessengerError';
  readonly code: ErrorCode;
  /** HTTP status (for WebSocket errors: the status the code maps to in the protocol's table). */
  readonly status: number;
  readonly retryable: boolean;
  /**
   * With `rate_limited` / `otp_rate_limited` / `pin_locked`: the wait, in ms, after which the
   * same request can pass (from the error body or frame, else the `Retry-After` header).
   * Undefined otherwise.
   */
  readonly retryAfterMs: number | undefined;

  constructor(
    code: ErrorCode,
    message?: string,
    options: { status?: number; retryable?: boolean; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message ?? ERRORS[code].message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status ?? ERRORS[code].status;
    this.retryable = options.retryable ?? ERRORS[code].retryable;
    const wait = options.retryAfterMs;
    this.retryAfterMs = wait === undefined || !Number.isFinite(wait) ? undefined : Math.max(0, Math.ceil(wait));
  }

  /** The error carried by a WebSocket `error` frame. */
  static fromFrame(frame: Pick<ErrorFrame, 'code' | 'message' | 'retryable' | 'retryAfterMs'>): MessengerError {
    return new MessengerError(frame.code, frame.message, {
      retryable: frame.retryable,
      ...(frame.retryAfterMs === undefined ? {} : { retryAfterMs: frame.retryAfterMs }),
    });
  }
}

/** Minimal `fetch` signature the API needs; the global `fetch` satisfies it. */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/**
 * Where authenticated requests get their bearer token, for sessions that renew themselves
 * (see `SessionKeeper` in session.ts). A plain token (or token getter) needs none of this.
 */
export interface TokenSource {
  /** The token right now (synchronous; may be about to expire). */
  current(): string | undefined;
  /** The token to send now: renews it first when it is known to expire soon. */
  fresh(): Promise<string | undefined>;
  /**
   * The server answered `token_expired` for `stale`: resolves with a renewed token to retry the
   * request with once (undefined: cannot renew, the request fails with its error), or rejects
   * with the reason renewing failed (e.g. `refresh_invalid`, which ends the session).
   */
  renew(stale: string): Promise<string | undefined>;
  /** The server answered that the session is over (`device_revoked`, `session_expired`) for `token`. */
  ended(token: string, error: MessengerError): void;
}

/** Codes of an authenticated request meaning "this device's session is over": no renewal helps. */
export const SESSION_OVER_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['device_revoked', 'account_deleted', 'session_expired', 'refresh_invalid']);

/** Options for one paged request. */
export interface PageOptions<Cursor = number> {
  /** Only entries strictly below this cursor (omit for the newest page). */
  before?: Cursor;
  /** Page size, 1..HISTORY_MAX_LIMIT (server default HISTORY_DEFAULT_LIMIT). */
  limit?: number;
}

/** `?before=&limit=` for paged endpoints (empty when neither is set). */
export function pageQuery(options: PageOptions<number | string>): string {
  const query = new URLSearchParams();
  if (options.before !== undefined) query.set('before', String(options.before));
  if (options.limit !== undefined) query.set('limit', String(options.limit));
  const qs = query.toString();
  return qs === '' ? '' : `?${qs}`;
}

export interface RequestSpec<T> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  body?: unknown;
  auth: boolean;
  /** Response schema, or null when the endpoint answers 204 No Content. */
  schema: z.ZodType<T> | null;
  signal?: AbortSignal | undefined;
}

/** What {@link sendRequest} needs of an API object. */
export interface Transport {
  baseUrl: string;
  fetchImpl: FetchLike;
  timeoutMs: number;
  /** The bearer token for requests with `auth: true`. */
  token: () => string | undefined;
  /** Renewing tokens, when the API has them. */
  tokens: TokenSource | undefined;
  /** The `unauthorized` error's message when there is no token. */
  noToken: string;
}

export function makeTransport(
  options: { baseUrl: string; fetch?: FetchLike | undefined; timeoutMs?: number | undefined; tokens?: TokenSource | undefined },
  token: () => string | undefined,
  noToken: string,
): Transport {
  return {
    // Trailing slashes would double up with PATHS, which all start with '/'.
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    // Bind: browsers throw "Illegal invocation" when fetch is called with another `this`.
    fetchImpl: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    timeoutMs: options.timeoutMs ?? 15_000,
    token,
    tokens: options.tokens,
    noToken,
  };
}

/**
 * One request: auth header, timeout, caller's signal, error mapping and response validation.
 * With renewing tokens, a token known to expire soon is renewed first, and a `token_expired`
 * answer renews it and retries the request once.
 */
export async function sendRequest<T>(transport: Transport, spec: RequestSpec<T>): Promise<T> {
  if (!spec.auth) return attempt(transport, spec, undefined);
  const tokens = transport.tokens;
  const token = tokens === undefined ? transport.token() : await tokens.fresh();
  if (token === undefined || token === '') throw new MessengerError('unauthorized', transport.noToken);
  if (tokens === undefined) return attempt(transport, spec, token);
  try {
    return await attempt(transport, spec, token);
  } catch (error) {
    if (!(error instanceof MessengerError)) throw error;
    if (SESSION_OVER_CODES.has(error.code)) tokens.ended(token, error);
    if (error.code !== 'token_expired') throw error;
    const renewed = await tokens.renew(token);
    if (renewed === undefined || renewed === token) throw error;
    return attempt(transport, spec, renewed);
  }
}

async function attempt<T>(transport: Transport, spec: RequestSpec<T>, token: string | undefined): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (spec.body !== undefined) headers['content-type'] = 'application/json';
  if (token !== undefined) headers.authorization = `Bearer ${token}`;

  // Our own controller (rather than AbortSignal.timeout) so fake timers in tests control it.
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), transport.timeoutMs);
  const onCallerAbort = (): void => controller.abort();
  spec.signal?.addEventListener('abort', onCallerAbort, { once: true });
  if (spec.signal?.aborted) controller.abort();

  let response: Response;
  let text: string;
  try {
    response = await transport.fetchImpl(transport.baseUrl + spec.path, {
      method: spec.method,
      headers,
      body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
      signal: controller.signal,
    });
    text = await response.text();
  } catch (cause) {
    if (spec.signal?.aborted) throw spec.signal.reason ?? cause;
    const why = controller.signal.aborted ? `timed out after ${transport.timeoutMs} ms` : 'network error';
    throw new MessengerError('unavailable', `${spec.method} ${spec.path}: ${why}`, { status: 0, cause });
  } finally {
    clearTimeout(timer);
    spec.signal?.removeEventListener('abort', onCallerAbort);
  }

  if (!response.ok) throw errorFromResponse(response.status, text, response.headers.get('retry-after'));
  if (spec.schema === null) {
    // 204 endpoints: nothing to read.
    return undefined as T;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new MessengerError('internal', `${spec.method} ${spec.path}: response is not JSON`, {
      status: response.status,
      retryable: false,
      cause,
    });
  }
  const parsed = spec.schema.safeParse(json);
  if (!parsed.success) {
    throw new MessengerError('internal', `${spec.method} ${spec.path}: response does not match the protocol`, {
      status: response.status,
      retryable: false,
      cause: parsed.error,
    });
  }
  return parsed.data;
}

/** `Retry-After` in ms: delta seconds or an HTTP date (undefined when absent or unreadable). */
function retryAfterHeaderMs(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^[0-9]+$/.test(trimmed)) return Number(trimmed) * 1_000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function errorFromResponse(status: number, text: string, retryAfter: string | null): MessengerError {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  // The body's exact milliseconds win over the header's whole seconds.
  const headerWait = retryAfterHeaderMs(retryAfter);
  const parsed = ErrorResponseSchema.safeParse(json);
  if (parsed.success) {
    const { code, message, retryable, retryAfterMs } = parsed.data.error;
    const wait = retryAfterMs ?? headerWait;
    return new MessengerError(code, message, { status, retryable, ...(wait === undefined ? {} : { retryAfterMs: wait }) });
  }
  const code = errorCodeForStatus(status);
  return new MessengerError(code, `HTTP ${status}${text === '' ? '' : `: ${text.slice(0, 200)}`}`, {
    status,
    ...(headerWait === undefined ? {} : { retryAfterMs: headerWait }),
  });
}

/**
 * The base of the typed API classes: the transport, the bearer token, and `request`.
 */
export class ApiBase {
  readonly baseUrl: string;
  private token: string | (() => string | undefined) | undefined;
  private readonly transport: Transport;

  constructor(options: ApiOptions) {
    this.token = options.token;
    const tokens = options.tokens;
    this.transport = makeTransport(options, () => (tokens === undefined ? this.staticToken() : tokens.current()), 'No token: log in first');
    this.baseUrl = this.transport.baseUrl;
  }

  /** Replace the bearer token (or token getter) used by later requests (ignored when `tokens` renew it). */
  setToken(token: string | (() => string | undefined) | undefined): void {
    this.token = token;
  }

  /** The bearer token requests would use right now. */
  currentToken(): string | undefined {
    return this.transport.token();
  }

  protected request<T>(spec: RequestSpec<T>): Promise<T> {
    return sendRequest(this.transport, spec);
  }

  private staticToken(): string | undefined {
    return typeof this.token === 'function' ? this.token() : this.token;
  }
}

/** Options for the typed API classes ({@link ApiBase} and `MessengerApi`). */
export interface ApiOptions {
  /** Server origin (plus optional path prefix), e.g. `https://chat.example.com`. */
  baseUrl: string;
  /** Bearer token, or a function returning the current one (so a client can swap tokens). */
  token?: string | (() => string | undefined) | undefined;
  /**
   * Tokens that renew themselves (a `SessionKeeper`): used instead of `token`; an expired token
   * is refreshed and the request retried once.
   */
  tokens?: TokenSource | undefined;
  /** `fetch` implementation. Default: the global `fetch`. */
  fetch?: FetchLike | undefined;
  /** Abort a request after this many ms and report `unavailable`. Default 15 000. */
  timeoutMs?: number | undefined;
}
