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

  constructor(code: ErrorCode, message?: string) {
    super(message ?? ERRORS[code].message);
    this.name = 'ApiError';
    this.code = code;
    this.status = ERRORS[code].status as ContentfulStatusCode;
  }
}

/**
 * The documented error body for a code.
 *
 * @example
 * errorBody('user_not_found') // { error: { code: 'user_not_found', message: 'No such user', retryable: false } }
 */
export function errorBody(code: ErrorCode, message?: string): ErrorResponse {
  return { error: { code, message: message ?? ERRORS[code].message, retryable: ERRORS[code].retryable } };
}

export const onError: ErrorHandler = (err, c) => {
  if (err instanceof ApiError) {
    return c.json(errorBody(err.code, err.message), err.status);
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
