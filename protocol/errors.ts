/**
 * Every error the service can report, in one table: the stable `code` clients switch on, the
 * HTTP status it travels with, and whether retrying the same request can succeed.
 *
 * HTTP errors carry `{ "error": { "code", "message", "retryable", "retryAfterMs"? } }`; WebSocket
 * errors are an `error` frame with the same fields plus the client id of the frame they answer.
 * `retryAfterMs` comes with `rate_limited` and `otp_rate_limited`: the wait after which the same
 * request can pass (HTTP answers also carry it as `Retry-After`, in whole seconds).
 */

export const ERRORS = {
  // ---- malformed input (never retryable: the same bytes fail the same way) ----
  invalid_json: { status: 400, retryable: false, message: 'Body is not valid JSON' },
  validation_failed: { status: 400, retryable: false, message: 'A field is missing or has the wrong type' },
  payload_too_large: { status: 413, retryable: false, message: 'Body or frame exceeds the size limit' },
  unknown_frame_type: { status: 400, retryable: false, message: 'Frame type is not part of the protocol' },
  invalid_phone: { status: 400, retryable: false, message: 'Not a valid phone number' },
  upgrade_required: { status: 426, retryable: false, message: 'This endpoint only accepts a WebSocket upgrade' },

  // ---- authentication ----
  unauthorized: { status: 401, retryable: false, message: 'A bearer token is required' },
  token_invalid: { status: 401, retryable: false, message: 'Token is malformed or its signature is wrong' },
  token_expired: { status: 401, retryable: false, message: 'Token has expired; log in again' },
  device_revoked: { status: 401, retryable: false, message: 'This device was logged out' },
  account_deleted: { status: 401, retryable: false, message: 'This account was deleted' },
  ticket_invalid: {
    status: 401,
    retryable: false,
    message: 'Connect ticket is malformed, expired or already used; request a new one with your token',
  },
  otp_invalid: { status: 401, retryable: false, message: 'Wrong code' },
  otp_expired: {
    status: 401,
    retryable: false,
    message: 'Code expired, was never requested for this challenge, or was used; request a new one',
  },
  otp_attempts_exceeded: { status: 429, retryable: false, message: 'Too many wrong codes; request a new one' },
  otp_rate_limited: { status: 429, retryable: true, message: 'Codes are requested too often; wait and retry' },
  pin_invalid: { status: 401, retryable: false, message: 'Wrong two-step verification PIN' },
  pin_locked: {
    status: 429,
    retryable: true,
    message: 'Too many wrong PINs; wait (retryAfterMs) or request a PIN reset, which takes effect after a waiting period',
  },
  pin_challenge_invalid: {
    status: 401,
    retryable: false,
    message: 'The PIN challenge is malformed, expired or used; verify a new code',
  },
  pin_not_set: { status: 404, retryable: false, message: 'This account has no two-step verification PIN' },
  refresh_invalid: { status: 401, retryable: false, message: 'Refresh token is malformed, unknown or was already used; log in again' },
  session_expired: { status: 401, retryable: false, message: 'This device was idle too long and was logged out; log in again' },
  device_too_new: {
    status: 403,
    retryable: true,
    message: 'A device logged in less than a day ago cannot do this yet (unless it entered the PIN); use an older device or wait',
  },
  confirmation_mismatch: { status: 400, retryable: false, message: "The confirmation does not match this account's phone number" },

  // ---- authorization / lookup ----
  forbidden: { status: 403, retryable: false, message: 'Not allowed' },
  not_found: { status: 404, retryable: false, message: 'No such resource' },
  user_not_found: { status: 404, retryable: false, message: 'No such user' },
  device_not_found: { status: 404, retryable: false, message: 'No such device of yours' },
  recipient_not_found: { status: 404, retryable: false, message: 'The recipient does not exist' },
  self_message: { status: 400, retryable: false, message: 'Sending a message to yourself is not supported' },
  self_reference: { status: 400, retryable: false, message: 'You cannot add or block yourself' },
  group_not_found: { status: 404, retryable: false, message: 'No such group' },
  not_group_member: { status: 403, retryable: false, message: 'You are not a member of this group' },
  not_group_admin: { status: 403, retryable: false, message: 'Only group admins may do this' },
  admins_only: { status: 403, retryable: false, message: 'Only admins may send messages in this group' },
  not_message_sender: { status: 403, retryable: false, message: 'Only the sender may see who received and read a message' },
  invite_not_found: { status: 404, retryable: false, message: 'No pending invite to this group for you' },
  link_not_found: { status: 404, retryable: false, message: 'No such invite link, or it was revoked' },
  request_not_found: { status: 404, retryable: false, message: 'No pending request to join from that user' },
  already_member: { status: 409, retryable: false, message: 'You are already a member of this group' },
  push_token_in_use: {
    status: 409,
    retryable: false,
    message: "This push token is registered to another account's logged-in device",
  },
  group_full: { status: 409, retryable: false, message: 'The group would exceed its member limit' },
  last_admin: { status: 409, retryable: false, message: 'A group must keep at least one admin; promote another member first' },
  message_not_found: { status: 404, retryable: false, message: 'No such message in this chat (or not one you can see)' },
  not_your_message: {
    status: 403,
    retryable: false,
    message: 'Only the sender may edit a message or delete it for everyone (in groups, admins may delete any message)',
  },
  edit_window_passed: { status: 403, retryable: false, message: 'This message is too old to edit (EDIT_WINDOW_MINUTES)' },
  recall_window_passed: {
    status: 403,
    retryable: false,
    message: 'This message is too old to delete for everyone (RECALL_WINDOW_HOURS); delete it for yourself',
  },
  message_deleted: { status: 409, retryable: false, message: 'This message was deleted' },
  not_editable: {
    status: 400,
    retryable: false,
    message: 'Only a text or a caption can be edited: keep the kind and media, change only the text (at most EDIT_HISTORY_MAX times)',
  },
  forward_mismatch: { status: 400, retryable: false, message: 'A forward must repeat the body of the message it names' },
  id_conflict: {
    status: 409,
    retryable: false,
    message: 'This client id was already used for a different message; use a fresh id',
  },

  // ---- sync ----
  invalid_ack: { status: 400, retryable: false, message: 'Acknowledged a sequence number that was never sent to this connection' },
  cursor_expired: {
    status: 410,
    retryable: false,
    message: 'Your cursor is older than the mailbox keeps; refetch history, delivery continues from the oldest kept entry',
  },
  replaced: { status: 409, retryable: false, message: 'Another connection of this device replaced this one' },

  // ---- server side ----
  rate_limited: { status: 429, retryable: true, message: 'Too many requests; slow down' },
  unavailable: { status: 503, retryable: true, message: 'Temporarily unavailable; retry with backoff' },
  misconfigured: {
    status: 503,
    retryable: true,
    message: 'The service is not configured for production (an operator must set its secrets); see the server log',
  },
  internal: { status: 500, retryable: true, message: 'Internal error' },

  // ---- media (protocol/media.ts)
  media_too_large: { status: 413, retryable: false, message: 'The file exceeds the size limit of its media kind (MEDIA_LIMITS)' },
  media_type_not_allowed: { status: 415, retryable: false, message: 'This MIME type is not accepted for this media kind (MEDIA_LIMITS)' },
  media_not_found: { status: 404, retryable: false, message: 'No such media' },
  media_mismatch: {
    status: 422,
    retryable: false,
    message: 'The uploaded bytes do not match the declared size or SHA-256; nothing was stored, request a new slot',
  },
  upload_capability_invalid: {
    status: 401,
    retryable: false,
    message: 'The upload URL is malformed, expired or was already used; request a new slot',
  },
  range_not_satisfiable: { status: 416, retryable: false, message: 'The requested range lies outside the file' },
  media_part_invalid: {
    status: 400,
    retryable: false,
    message: 'No such part number for this upload, or the part is not exactly partSize bytes (the last: the rest)',
  },
  upload_incomplete: { status: 409, retryable: false, message: 'Parts are missing (see statusUrl); send them, then complete again' },
  media_kind_mismatch: { status: 422, retryable: false, message: 'This media cannot be used here (e.g. a profile photo must be an avatar upload of your own)' },
} as const satisfies Record<string, { status: number; retryable: boolean; message: string }>;

export type ErrorCode = keyof typeof ERRORS;
export const ERROR_CODES = Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]];

/**
 * The code for an HTTP error status that carries no protocol error body (a framework's own
 * rejection on the server; a proxy's error page on the client).
 *
 * @example
 * errorCodeForStatus(413) // 'payload_too_large'
 */
export function errorCodeForStatus(status: number): ErrorCode {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 413) return 'payload_too_large';
  if (status === 429) return 'rate_limited';
  if (status >= 400 && status < 500) return 'validation_failed';
  if (status === 502 || status === 503 || status === 504) return 'unavailable';
  return 'internal';
}

/**
 * WebSocket close codes the server uses (4000-4999 is the application range).
 * Fatal ones mean "do not reconnect with the same token"; others mean "reconnect with backoff".
 */
export const CLOSE_CODES = {
  /** Normal closure by either side. */
  normal: 1000,
  /** Server is going away (deploy, restart): reconnect and resume. */
  going_away: 1001,
  /** The token's device was revoked (logout): fatal, log in again. */
  device_revoked: 4001,
  /** A newer connection of the same device took over: do not reconnect automatically. */
  replaced: 4002,
  /** The client broke the protocol too often (e.g. a flood of invalid frames): reconnect with backoff. */
  protocol_violation: 4003,
  /** No heartbeat for PRESENCE_STALE_MS: the server took the connection for dead (a ghost). Reconnect. */
  heartbeat_timeout: 4004,
  /** The account was deleted: fatal, the session is gone. */
  account_deleted: 4005,
} as const;

export type CloseCode = (typeof CLOSE_CODES)[keyof typeof CLOSE_CODES];

/** Close codes after which a client must not reconnect on its own. */
export const FATAL_CLOSE_CODES: ReadonlySet<number> = new Set([CLOSE_CODES.device_revoked, CLOSE_CODES.replaced, CLOSE_CODES.account_deleted]);
