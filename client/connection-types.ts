/**
 * The public shapes of `Connection` (connection.ts): its options, the events it emits and their
 * payloads, and the ticket errors that end it for good.
 */
import type {
  ActedFrame,
  ErrorCode,
  ErrorFrame,
  GroupEntriesFrame,
  GroupHeadsFrame,
  GroupLiveFrame,
  GroupSentFrame,
  HelloFrame,
  MailboxFrame,
  PresenceFrame,
  SentFrame,
  TypingNoticeFrame,
} from '../protocol/index.ts';
import type { BackoffOptions } from './backoff.ts';
import type { CursorStore } from './cursor-store.ts';
import type { WebSocketConstructor } from './socket-transport.ts';
import type { MessengerError } from './transport.ts';

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

/** Timing and batching knobs (all optional; defaults follow the protocol). */
export interface ConnectionTuning {
  /** Send HEARTBEAT_PING this often, ms. Default HEARTBEAT_INTERVAL_MS. */
  heartbeatIntervalMs?: number;
  /** Declare the connection dead when no frame at all arrived for this long, ms. Default 2 × heartbeat. */
  deadAfterMs?: number;
  /** Reconnect backoff (default base 250 ms, cap 30 s, full jitter). */
  backoff?: BackoffOptions;
  /** Ack at once after this many unacked frames. Default 64. */
  ackBatchSize?: number;
  /**
   * Otherwise, while a message from someone else is unacked (its sender waits for the delivered
   * tick), ack after this many ms without a new frame. Default 20.
   */
  ackDelayMs?: number;
  /**
   * Entries nobody waits on (own copies, receipts, markers, events) are acked at the latest this
   * many ms after the first of them, unless a prompt ack or a full batch takes them first.
   * Default ACK_LAZY_MS (1000).
   */
  lazyAckDelayMs?: number;
  /** Repeat an unanswered `resume` after this many ms if the gap persists. Default 5000. */
  resumeRetryMs?: number;
}

export interface ConnectionOptions extends ConnectionTuning {
  /** Server base URL (`http(s)://` or `ws(s)://`, optional path prefix). */
  baseUrl: string;
  /**
   * A fresh single-use connect ticket, called before every attempt (each ticket works once).
   * Normally `() => api.connectTicket().then((t) => t.ticket)`. A plain string opens the socket
   * in the same tick, a Promise when it resolves. Throw or reject with a {@link MessengerError}:
   * a code in {@link DEAD_TOKEN_CODES} closes the connection for good with that error; any
   * other error is a failed attempt, retried with backoff (not before its `retryAfterMs`).
   *
   * @example
   * ticket: () => api.connectTicket().then((t) => t.ticket)
   */
  ticket: () => string | PromiseLike<string>;
  /** WebSocket implementation. Default `globalThis.WebSocket`. */
  WebSocket?: WebSocketConstructor;
  /** Cursor persistence. Default {@link MemoryCursorStore}. */
  cursorStore?: CursorStore;
}

/** Payload of the 'state' event. */
export interface StateChange {
  state: ConnectionState;
  previous: ConnectionState;
  /** Close code that caused the change, when there was one. */
  code?: number;
  /** Human-readable cause. */
  reason?: string;
  /** For 'closed' by the server or by a refused ticket request: why reconnecting is pointless. */
  error?: MessengerError;
}

/** Payload of the 'reconnect' event: a retry is scheduled. */
export interface ReconnectScheduled {
  /** 1 for the first retry after a loss, 2 for the next, ... (resets after a hello). */
  attempt: number;
  delayMs: number;
  code?: number;
  reason: string;
  /** When the attempt failed at its ticket request: that request's error (e.g. `rate_limited`). */
  error?: MessengerError;
}

/** Payload of the 'cursor_expired' event: some mailbox entries are gone; refetch history. */
export interface CursorExpiredEvent {
  /** The cursor this connection asked to resume from (undefined: none was sent). */
  requestedCursor: number | undefined;
  message: string;
}

export interface ConnectionEvents {
  state: StateChange;
  reconnect: ReconnectScheduled;
  hello: HelloFrame;
  /** A mailbox frame (1:1 or group), exactly once and in seq order. */
  mailbox: MailboxFrame;
  /** A `send` was stored. Not a mailbox frame: no seq, may repeat for retries. */
  sent: SentFrame;
  /** A `group_send` was stored in the group's log. Not a mailbox frame: no seq, may repeat for retries. */
  group_sent: GroupSentFrame;
  /** An `action` was stored. Not a mailbox frame: no seq, may repeat for retries. */
  acted: ActedFrame;
  /** Someone is typing (ephemeral: no seq, never repeated after a reconnect). */
  typing_notice: TypingNoticeFrame;
  /**
   * A watched user's presence (ephemeral: no seq, no ack). Watch lists belong to one socket:
   * after a reconnect nothing arrives until a new `presence_watch` is sent.
   */
  presence: PresenceFrame;
  /** A large group's frame (read diffusion): `group_heads`, `group_live`, `group_entries`. Not mailbox frames: no seq, no ack. */
  large_group: GroupHeadsFrame | GroupLiveFrame | GroupEntriesFrame;
  /** An `error` frame answering one of our `send` / `group_send` / `action` frames (it carries the frame's client id). */
  send_error: ErrorFrame & { id: string };
  /** Our `presence_watch` was refused for the rate limit: send it again after `retryAfterMs`. */
  presence_watch_refused: ErrorFrame;
  cursor_expired: CursorExpiredEvent;
  /** Anything that went wrong without ending the connection (malformed frame, store failure, ...). */
  error: MessengerError;
}

/**
 * Error codes of a ticket request (or any authenticated request) meaning "this token will never
 * work again": the connection closes instead of retrying, and the app should log in again.
 */
export const DEAD_TOKEN_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'unauthorized',
  'token_invalid',
  'token_expired',
  'device_revoked',
  'account_deleted',
  // Renewing the token was refused: the session is over.
  'refresh_invalid',
  'session_expired',
]);
