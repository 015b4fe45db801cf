/**
 * A typed failure inside the mailbox object, answered to the client as an `error` frame.
 */
import { ERRORS, type ClientFrame, type ErrorCode, type ErrorFrame } from '../../protocol/index.ts';

export class FrameError extends Error {
  constructor(
    readonly code: ErrorCode,
    message?: string,
    /** For rate limits: when the same frame can pass, in ms from now. */
    readonly retryAfterMs?: number,
  ) {
    super(message ?? ERRORS[code].message);
    this.name = 'FrameError';
  }
}

/** The error frame for a failure; anything that is not a FrameError is reported as retryable `unavailable`. */
export function errorFrame(id: string | null, error: unknown, answering?: ClientFrame['type']): ErrorFrame {
  const code: ErrorCode = error instanceof FrameError ? error.code : 'unavailable';
  const message = error instanceof FrameError ? error.message : ERRORS.unavailable.message;
  const frame: ErrorFrame = { type: 'error', id, code, message, retryable: ERRORS[code].retryable };
  if (error instanceof FrameError && error.retryAfterMs !== undefined) frame.retryAfterMs = Math.max(0, Math.ceil(error.retryAfterMs));
  if (answering !== undefined) frame.frame = answering;
  return frame;
}
