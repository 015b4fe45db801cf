/**
 * One error type for the whole API. Routes throw `ApiError`; `onError` turns it (and anything
 * unexpected) into the documented `{ error: { code, message, retryable } }` body. Stacks never
 * leave the server.
 */
import type { ErrorHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { ERRORS, errorCodeForStatus, type ErrorCode, type ErrorResponse } from '../protocol/index.ts';

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: ContentfulStatusCode;
  /** For rate limits: when the same request can pass, in ms from now. */
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message?: string, options: { retryAfterMs?: number } = {}) {
    super(message ?? ERRORS[code].message);
    this.name = 'ApiError';
    this.code = code;
    this.status = ERRORS[code].status as ContentfulStatusCode;
    this.retryAfterMs = options.retryAfterMs === undefined ? undefined : Math.max(0, Math.ceil(options.retryAfterMs));
  }
}

/**
 * The typed refusal of a rate limit.
 *
 * @example
 * throw rateLimited(4_200, 'Too many codes requested for this number');
 */
export function rateLimited(retryAfterMs: number, message?: string): ApiError {
  return new ApiError('rate_limited', message, { retryAfterMs });
}

/**
 * The documented error body for a code.
 *
 * @example
 * errorBody('user_not_found') // { error: { code: 'user_not_found', message: 'No such user', retryable: false } }
 */
export function errorBody(code: ErrorCode, message?: string, retryAfterMs?: number): ErrorResponse {
  const body: ErrorResponse = { error: { code, message: message ?? ERRORS[code].message, retryable: ERRORS[code].retryable } };
  if (retryAfterMs !== undefined) body.error.retryAfterMs = retryAfterMs;
  return body;
}

export const onError: ErrorHandler = (err, c) => {
  if (err instanceof ApiError) {
    if (err.retryAfterMs !== undefined) c.header('Retry-After', String(Math.max(1, Math.ceil(err.retryAfterMs / 1000))));
    return c.json(errorBody(err.code, err.message, err.retryAfterMs), err.status);
  }
  // hono's JSON validator refuses an empty body labelled JSON with this message.
  if (err instanceof HTTPException && err.status === 400 && err.message.startsWith('Malformed JSON')) {
    return c.json(errorBody('invalid_json'), 400);
  }
  if (err instanceof HTTPException) {
    const code = errorCodeForStatus(err.status);
    return c.json(errorBody(code), ERRORS[code].status as ContentfulStatusCode);
  }
  console.error('unhandled error', err);
  return c.json(errorBody('internal'), 500);
};
