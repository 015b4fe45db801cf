/**
 * What the user reads when something fails: a short sentence per `MessengerError.code`, never a
 * stack trace or a raw server message. Rate limits say how long to wait, in words.
 */
import { DEAD_TOKEN_CODES, MessengerError } from '../../client/index.ts';
import type { ErrorCode } from '../../protocol/index.ts';
import { formatWait } from './format.ts';

const MESSAGES: Partial<Record<ErrorCode, string>> = {
  invalid_phone: 'That does not look like a phone number. Include the country code, for example +49 151 23456789.',
  validation_failed: 'Please check what you entered.',
  payload_too_large: 'That is too long to send.',
  otp_invalid: 'That code is not right. Check it and try again.',
  otp_expired: 'The code has expired. Request a new one.',
  otp_attempts_exceeded: 'Too many wrong codes. Request a new one.',
  otp_rate_limited: 'A code was requested for this number a moment ago.',
  unauthorized: 'Your session has ended. Please log in again.',
  token_invalid: 'Your session has ended. Please log in again.',
  token_expired: 'Your session has expired. Please log in again.',
  device_revoked: 'This browser was logged out. Please log in again.',
  account_deleted: 'This account was deleted.',
  refresh_invalid: 'Your session has ended. Please log in again.',
  session_expired: 'You were logged out because this browser was not used for a long time. Please log in again.',
  pin_invalid: 'That PIN is not right. Check it and try again.',
  pin_locked: 'Too many wrong PINs.',
  pin_challenge_invalid: 'This login took too long. Start again with a new code.',
  pin_not_set: 'Two-step verification is not turned on.',
  device_too_new: 'This browser was logged in less than a day ago without your PIN, so it cannot do this yet. Use one of your older devices, or try again tomorrow.',
  confirmation_mismatch: 'That is not the phone number of this account.',
  invite_not_found: 'This invite is no longer valid.',
  link_not_found: 'This invite link is not valid. It may have been reset by a group admin.',
  request_not_found: 'That request to join was already answered.',
  already_member: 'You are already a member of this group.',
  forbidden: 'You are not allowed to do that.',
  not_found: 'That could not be found.',
  user_not_found: 'Nobody uses that number yet.',
  recipient_not_found: 'That person does not have an account.',
  self_message: 'You cannot send messages to yourself.',
  self_reference: 'That is your own number.',
  group_not_found: 'That group does not exist.',
  not_group_member: 'You are no longer a member of this group.',
  not_group_admin: 'Only group admins can do that.',
  admins_only: 'Only admins can send messages in this group.',
  group_full: 'The group is full.',
  last_admin: 'A group needs at least one admin. Make someone else an admin first.',
  id_conflict: 'This message could not be sent. Please write it again.',
  replaced: 'Messenger is open in another window.',
  rate_limited: 'Too many requests.',
  unavailable: 'Cannot reach the server. Check your connection and try again.',
  misconfigured: 'The server is not set up yet. Please try again later.',
  ticket_invalid: 'Could not connect. Please try again.',
  internal: 'Something went wrong on the server. Please try again.',
  media_too_large: 'That file is too large to send.',
  media_type_not_allowed: 'Files of this type cannot be sent.',
  media_not_found: 'This file is no longer available.',
  media_mismatch: 'The file changed while it was being sent. Please try again.',
  media_kind_mismatch: 'This file cannot be used here.',
  upload_capability_invalid: 'The upload took too long. Please try again.',
  upload_incomplete: 'The upload did not finish. Please try again.',
  message_not_found: 'That message is no longer available.',
  not_your_message: 'Only the sender can do that to this message.',
  edit_window_passed: 'This message is too old to edit.',
  recall_window_passed: 'This message is too old to delete for everyone. You can still delete it for yourself.',
  message_deleted: 'This message was deleted.',
  not_editable: 'This message can’t be edited any more.',
  forward_mismatch: 'This message could not be forwarded.',
};

/** Codes whose sentence continues with how long to wait. */
const WAIT_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['rate_limited', 'otp_rate_limited', 'pin_locked']);

/**
 * A friendly one-liner for any error the SDK throws or emits.
 *
 * @example
 * friendlyError(new MessengerError('otp_rate_limited', undefined, { retryAfterMs: 90_000 }))
 * // 'A code was requested for this number a moment ago. Try again in 2 minutes.'
 */
export function friendlyError(error: unknown): string {
  if (!(error instanceof MessengerError)) return 'Something went wrong. Please try again.';
  const sentence = MESSAGES[error.code] ?? 'Something went wrong. Please try again.';
  if (!WAIT_CODES.has(error.code)) return sentence;
  return error.retryAfterMs === undefined ? `${sentence} Wait a moment and try again.` : `${sentence} Try again in ${formatWait(error.retryAfterMs)}.`;
}

/** Codes after which this browser's session is over: the SDK's dead-token codes, and a refused refresh. */
const SESSION_ENDED: ReadonlySet<ErrorCode> = new Set<ErrorCode>([...DEAD_TOKEN_CODES, 'refresh_invalid', 'session_expired']);

/** Whether an error means the session is over (log in again). */
export function isSessionEnded(error: unknown): boolean {
  return error instanceof MessengerError && SESSION_ENDED.has(error.code);
}
