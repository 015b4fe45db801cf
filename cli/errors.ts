/**
 * Friendly errors: every failure the CLI can meet becomes one line for a human, a stable
 * machine-readable code and a process exit code. No stack traces unless `--debug`.
 */
import { MessengerError } from '../client/index.ts';
import type { ErrorCode } from '../protocol/index.ts';
import { formatWait } from './format.ts';

/** Process exit codes (documented in docs/CLI.md). */
export const EXIT = {
  ok: 0,
  /** Something unexpected: a bug, or a server that broke the protocol. */
  failure: 1,
  /** Bad command line or input (unknown option, invalid phone number, empty message, ...). */
  usage: 2,
  /** Not logged in, session ended or revoked, wrong or expired code, PIN needed, wrong or locked PIN. */
  auth: 3,
  /** No such user, group, contact, invite, invite link, request or message. */
  notFound: 4,
  /**
   * The server refused: not a member, not an admin, admins only, group full, device too new, not
   * your message, too old to edit or delete for everyone, deleted, ...
   */
  refused: 5,
  /** Could not reach the server, timed out, or it is busy: try again later. */
  unavailable: 6,
  /** Interrupted with Ctrl-C. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure the CLI explains itself: `message` is the whole line the user sees. */
export class CliError extends Error {
  override readonly name = 'CliError';
  /** Stable code for `--json` output, e.g. `not_logged_in` or a protocol error code. */
  readonly code: string;
  readonly exitCode: ExitCode;

  constructor(code: string, message: string, exitCode: ExitCode, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.exitCode = exitCode;
  }
}

/** A usage error: wrong arguments or options. */
export function usageError(message: string): CliError {
  return new CliError('usage', message, EXIT.usage);
}

/** What the user is told: one line, a code and an exit code. */
export interface FriendlyError {
  code: string;
  message: string;
  exitCode: ExitCode;
}

/** Where the error happened, so the line can name the server. */
export interface ErrorContext {
  server: string;
}

const LOGIN_HINT = 'run `messenger login <phone>`';

/** Exit code per protocol error code; anything not listed is a failure. */
const EXIT_BY_CODE: Partial<Record<ErrorCode, ExitCode>> = {
  invalid_json: EXIT.usage,
  validation_failed: EXIT.usage,
  payload_too_large: EXIT.usage,
  invalid_phone: EXIT.usage,
  self_message: EXIT.usage,
  self_reference: EXIT.usage,
  unauthorized: EXIT.auth,
  token_invalid: EXIT.auth,
  token_expired: EXIT.auth,
  device_revoked: EXIT.auth,
  account_deleted: EXIT.auth,
  ticket_invalid: EXIT.auth,
  otp_invalid: EXIT.auth,
  otp_expired: EXIT.auth,
  otp_attempts_exceeded: EXIT.auth,
  otp_rate_limited: EXIT.unavailable,
  pin_invalid: EXIT.auth,
  pin_locked: EXIT.auth,
  pin_challenge_invalid: EXIT.auth,
  refresh_invalid: EXIT.auth,
  session_expired: EXIT.auth,
  confirmation_mismatch: EXIT.usage,
  not_found: EXIT.notFound,
  pin_not_set: EXIT.notFound,
  invite_not_found: EXIT.notFound,
  link_not_found: EXIT.notFound,
  request_not_found: EXIT.notFound,
  user_not_found: EXIT.notFound,
  recipient_not_found: EXIT.notFound,
  group_not_found: EXIT.notFound,
  device_not_found: EXIT.notFound,
  media_not_found: EXIT.notFound,
  message_not_found: EXIT.notFound,
  not_your_message: EXIT.refused,
  edit_window_passed: EXIT.refused,
  recall_window_passed: EXIT.refused,
  message_deleted: EXIT.refused,
  not_editable: EXIT.refused,
  forward_mismatch: EXIT.failure,
  media_too_large: EXIT.usage,
  media_type_not_allowed: EXIT.usage,
  media_kind_mismatch: EXIT.refused,
  media_mismatch: EXIT.failure,
  upload_capability_invalid: EXIT.unavailable,
  upload_incomplete: EXIT.unavailable,
  media_part_invalid: EXIT.failure,
  range_not_satisfiable: EXIT.failure,
  forbidden: EXIT.refused,
  not_group_member: EXIT.refused,
  not_group_admin: EXIT.refused,
  admins_only: EXIT.refused,
  not_message_sender: EXIT.refused,
  group_full: EXIT.refused,
  device_too_new: EXIT.refused,
  already_member: EXIT.refused,
  push_token_in_use: EXIT.refused,
  last_admin: EXIT.refused,
  id_conflict: EXIT.refused,
  replaced: EXIT.refused,
  rate_limited: EXIT.unavailable,
  unavailable: EXIT.unavailable,
  misconfigured: EXIT.unavailable,
  internal: EXIT.unavailable,
};

/** "try again in 2 minutes", or "wait a moment and try again" when the server named no wait. */
function tryAgain(error: MessengerError): string {
  return error.retryAfterMs === undefined ? 'wait a moment and try again' : `try again in ${formatWait(error.retryAfterMs)}`;
}

/** Lines that read better than the server's generic message; `undefined` keeps the server's. */
function messageFor(error: MessengerError, context: ErrorContext): string {
  switch (error.code) {
    case 'unauthorized':
      return `Not logged in: ${LOGIN_HINT}`;
    case 'token_invalid':
      return `Your session is not valid on ${context.server}: ${LOGIN_HINT}`;
    case 'token_expired':
      return `Your session has expired: ${LOGIN_HINT}`;
    case 'device_revoked':
      return `This device was logged out: ${LOGIN_HINT}`;
    case 'account_deleted':
      return 'This account was deleted; its number can sign up anew with `messenger login <phone>`';
    case 'otp_invalid':
      return 'Wrong code; check it and try again (`messenger login <phone> --code <code>`)';
    case 'otp_expired':
      return 'The code has expired or was never requested: run `messenger login <phone>` for a new one';
    case 'otp_attempts_exceeded':
      return 'Too many wrong codes: run `messenger login <phone>` for a new one';
    case 'otp_rate_limited':
      return `A code was requested for this number a moment ago; ${tryAgain(error)} (or enter the code you have: \`messenger login <phone> --code <code>\`)`;
    case 'pin_invalid':
      return 'Wrong two-step verification PIN; check it and try again (forgot it? at login run `messenger pin reset`)';
    case 'pin_locked':
      return `Too many wrong PINs; ${tryAgain(error)}, or run \`messenger pin reset\` (takes effect after 7 days)`;
    case 'pin_challenge_invalid':
      return 'The login waiting for the PIN has expired: run `messenger login <phone>` again';
    case 'pin_not_set':
      return 'This account has no two-step verification PIN (set one: `messenger pin set`)';
    case 'refresh_invalid':
      return `This login has ended (logged out by another command or device, or its renewal was refused): ${LOGIN_HINT}`;
    case 'session_expired':
      return `This device was unused for too long and was logged out: ${LOGIN_HINT}`;
    case 'device_too_new':
      return 'This device logged in less than a day ago without the PIN, so it cannot do that yet: use one of your older devices, or wait a day';
    case 'confirmation_mismatch':
      return "That is not this account's phone number; nothing was deleted";
    case 'invite_not_found':
      return 'You have no pending invite to that group (see `messenger invites`)';
    case 'link_not_found':
      return 'That invite link does not exist or was revoked; ask an admin of the group for a new one';
    case 'request_not_found':
      return 'Nobody like that is waiting to join this group (see `messenger groups requests <group>`)';
    case 'already_member':
      return 'You are already a member of this group';
    case 'push_token_in_use':
      return "That push token belongs to another account's logged-in device";
    case 'rate_limited':
      return `Too many requests to ${context.server}; ${tryAgain(error)}`;
    case 'misconfigured':
      return `The server at ${context.server} is not configured for production yet (its operator must set its secrets); try again later`;
    case 'invalid_phone':
      return 'That is not a valid phone number; use the international form, e.g. +4915112345678';
    case 'self_message':
      return 'You cannot send a message to yourself';
    case 'media_not_found':
      return 'No such media, or it was not shared with you (check the id after "media" in `messenger history`)';
    case 'media_too_large':
      return 'The server refused the file: it is larger than it accepts for this kind of file';
    case 'media_type_not_allowed':
      return 'The server does not accept this type of file here; send it as a document (rename it, e.g. to .bin) or convert it';
    case 'media_mismatch':
      return 'The upload arrived damaged (its size or checksum did not match); try again';
    case 'upload_capability_invalid':
      return 'The upload took too long and its permission expired; try again';
    case 'upload_incomplete':
      return 'The upload was cut off before every part arrived; try again (it resumes where it stopped)';
    case 'message_not_found':
      return 'No such message in this chat (`messenger history <chat> --ids` shows the ids)';
    case 'not_your_message':
      return 'That is not your message: only its sender can edit it or delete it for everyone (in a group, admins can delete any message); you can still delete it for yourself (--for-me)';
    case 'edit_window_passed':
      return 'That message is too old to edit (messages can be edited only for a while after sending)';
    case 'recall_window_passed':
      return 'That message is too old to delete for everyone; you can still delete it for yourself (--for-me)';
    case 'message_deleted':
      return 'That message was deleted';
    case 'not_editable':
      return 'That message cannot be edited: only a text or a caption can, the edit must change it, and only a limited number of times';
    case 'forward_mismatch':
      return 'The server refused the forward: its content did not match the original message (was it edited meanwhile?)';
    case 'id_conflict':
      return 'That --id was already used for something else; use another id (or none)';
    case 'replaced':
      return 'Another messenger command connected with this login and took over the connection';
    case 'unavailable':
      // status 0: the request never got an answer (connection refused, DNS, timeout).
      return error.status === 0 ? unreachable(context) : `The server at ${context.server} is unavailable; try again later`;
    case 'internal':
      return `The server at ${context.server} had an internal error; try again later`;
    default:
      return sentence(error.message);
  }
}

function unreachable(context: ErrorContext): string {
  return `Cannot reach the server at ${context.server} (is it running? start one with \`npm run dev\`, or pass --server URL)`;
}

/** The server's message as a sentence without a trailing period (one line, no newlines). */
function sentence(text: string): string {
  return text.replace(/\s+/g, ' ').trim().replace(/\.$/, '');
}

/** Node's network error codes that mean "nobody answered at that address". */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT']);

function networkCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    const code = (current as Error & { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
    current = current.cause;
  }
  return undefined;
}

/**
 * The one line (plus codes) to show for any thrown value.
 *
 * @example
 * friendlyError(new MessengerError('user_not_found'), { server }) // { code: 'user_not_found', exitCode: 4, ... }
 */
export function friendlyError(error: unknown, context: ErrorContext): FriendlyError {
  if (error instanceof CliError) return { code: error.code, message: error.message, exitCode: error.exitCode };
  if (error instanceof MessengerError) {
    return { code: error.code, message: messageFor(error, context), exitCode: EXIT_BY_CODE[error.code] ?? EXIT.failure };
  }
  if (networkCode(error) !== undefined) return { code: 'unavailable', message: unreachable(context), exitCode: EXIT.unavailable };
  const detail = error instanceof Error ? error.message : String(error);
  return { code: 'internal', message: `Unexpected error: ${sentence(detail)} (run with --debug for details)`, exitCode: EXIT.failure };
}

/**
 * Whether `error` means the server could not be reached at all (connection refused, DNS, no
 * answer in time), as opposed to a server that answered with a refusal.
 */
export function isUnreachable(error: unknown): boolean {
  if (error instanceof MessengerError) return error.code === 'unavailable' && error.status === 0;
  return networkCode(error) !== undefined;
}
