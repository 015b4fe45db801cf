/**
 * The WebSocket connection state machine: connect, heartbeat, detect dead connections, reconnect
 * with backoff, and turn the server's mailbox stream into an exactly-once, in-order stream of
 * frames for the app.
 *
 * States:
 *
 *   idle ──connect()──▶ connecting ──hello──▶ open
 *                           │                  │ socket closed / heartbeat timeout (non-fatal)
 *                           ▼                  ▼
 *                       reconnecting ◀─────────┘   (backoff with full jitter, then retry;
 *                           │                        stays 'reconnecting' until the next hello)
 *   any ──close() / fatal close code / ticket refused for a dead token──▶ closed ──connect()──▶ connecting
 *
 * Every attempt starts with a fresh single-use connect ticket (`options.ticket`, normally
 * `POST /v1/connect/ticket` with the bearer token), and the socket is opened with
 * `/v1/connect?ticket=…`: the long-lived token never travels in a URL, where proxies and logs
 * would keep it. A ticket request that fails for a dead token (unauthorized, token_invalid,
 * token_expired, device_revoked, or a refused renewal: refresh_invalid, session_expired) closes
 * the connection for good with that error (the client renews an expired token before it gets
 * here); any other
 * failure (offline, 5xx, 429) is a failed attempt like a socket that did not open, retried with
 * backoff, and a 429 not before its `retryAfterMs`. A ticket that arrives after its attempt was
 * abandoned (close(), a newer attempt) is ignored.
 *
 * Mailbox delivery rules (see docs/PROTOCOL.md and protocol/frames.ts):
 * - mailbox frames (1:1 `message`, `receipt`, `read_marker`, group `group_message`,
 *   `group_event`, `group_receipt`, `group_read_marker`, and `group_invite`, `account_event`)
 *   share one `seq` stream per user;
 * - frames carry `seq`; the server sends them contiguously after the `hello` cursor;
 * - `seq <= cursor` is a duplicate: dropped, never surfaced twice;
 * - `seq > cursor + 1` is a gap: dropped, and `resume {after: cursor}` asks for the missing ones;
 * - processed frames are acked in batches (`ack {upTo}`), and only seqs this very connection has
 *   received are ever acked (the server rejects others with `invalid_ack`);
 * - the reconnect URL carries the cursor, so delivery resumes where the app left off.
 *
 * Ephemeral frames (`typing_notice`, `presence`) carry no seq: they bypass all of the above, are
 * never acked and are not repeated after a reconnect.
 */
import {
  CLOSE_CODES,
  FATAL_CLOSE_CODES,
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_PING,
  PATHS,
  parseServerFrame,
} from '../protocol/index.ts';
import type {
  ClientFrame,
  ErrorCode,
  ErrorFrame,
  GroupSentFrame,
  HelloFrame,
  TypingNoticeFrame,
  MailboxFrame,
  PresenceFrame,
  SentFrame,
  ServerFrame,
} from '../protocol/index.ts';
import { Backoff } from './backoff.ts';
import type { BackoffOptions } from './backoff.ts';
import { Emitter } from './events.ts';
import { MessengerError } from './transport.ts';

// ---------------------------------------------------------------- transport

/** The event shapes the connection reads: a subset of the DOM's MessageEvent / CloseEvent. */
export interface SocketMessageEvent {
  data: unknown;
}
export interface SocketCloseEvent {
  code: number;
  reason: string;
}

/**
 * The subset of the standard WebSocket API the SDK uses. The browser's and Node 22's global
 * `WebSocket` implement it, as does the `ws` package; tests pass a fake.
 */
export interface WebSocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed (as in the standard). */
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: SocketMessageEvent) => void): void;
  addEventListener(type: 'close', listener: (event: SocketCloseEvent) => void): void;
  addEventListener(type: 'error', listener: (event: unknown) => void): void;
}

/** A WebSocket constructor (only the URL argument is used). */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

const SOCKET_OPEN = 1;

// ---------------------------------------------------------------- cursor persistence

/**
 * Where the device's mailbox cursor (highest seq processed) is kept between runs. It must be
 * scoped to one device (token): a cursor from another device or account is meaningless.
 * Either method may be synchronous or return a Promise.
 *
 * @example
 * const store: CursorStore = {
 *   get: () => Number(localStorage.getItem(`cursor:${deviceId}`) ?? NaN) || undefined,
 *   set: (seq) => localStorage.setItem(`cursor:${deviceId}`, String(seq)),
 * };
 */
export interface CursorStore {
  get(): number | undefined | Promise<number | undefined>;
  set(seq: number): void | Promise<void>;
}

/** The default cursor store: memory only (a restarted process starts from the server's cursor). */
export class MemoryCursorStore implements CursorStore {
  private value: number | undefined;
  // No TypeScript parameter properties anywhere in client/: Node's type stripping rejects them.
  constructor(initial?: number) {
    this.value = initial;
  }
  get(): number | undefined {
    return this.value;
  }
  set(seq: number): void {
    this.value = seq;
  }
}

// ---------------------------------------------------------------- options and events

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
  /** Otherwise ack after this many ms without a new frame. Default 20. */
  ackDelayMs?: number;
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
  /** Someone is typing (ephemeral: no seq, never repeated after a reconnect). */
  typing_notice: TypingNoticeFrame;
  /**
   * A watched user's presence (ephemeral: no seq, no ack). Watch lists belong to one socket:
   * after a reconnect nothing arrives until a new `presence_watch` is sent.
   */
  presence: PresenceFrame;
  /** An `error` frame answering one of our `send` / `group_send` frames. */
  send_error: ErrorFrame & { id: string };
  /** Our `presence_watch` was refused for the rate limit: send it again after `retryAfterMs`. */
  presence_watch_refused: ErrorFrame;
  cursor_expired: CursorExpiredEvent;
  /** Anything that went wrong without ending the connection (malformed frame, store failure, ...). */
  error: MessengerError;
}

type Timer = ReturnType<typeof setTimeout>;

/**
 * Every frame type that is a mailbox entry (carries `seq`). They all go through the same
 * contiguity, duplicate and ack handling, whatever they hold. `satisfies` makes the compiler
 * insist that every member of the protocol's MailboxFrame union is listed, and nothing else.
 */
const MAILBOX_FRAME_TYPES: ReadonlySet<ServerFrame['type']> = new Set(
  Object.keys({
    message: true,
    receipt: true,
    read_marker: true,
    group_message: true,
    group_event: true,
    group_receipt: true,
    group_read_marker: true,
    group_invite: true,
    account_event: true,
  } satisfies Record<MailboxFrame['type'], true>) as Array<MailboxFrame['type']>,
);

function isMailboxFrame(frame: ServerFrame): frame is MailboxFrame {
  return MAILBOX_FRAME_TYPES.has(frame.type);
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
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
  // Renewing the token was refused: the session is over.
  'refresh_invalid',
  'session_expired',
]);

/**
 * Builds `ws(s)://host/prefix/v1/connect?ticket=...&cursor=...` from an http(s) or ws(s) base URL.
 *
 * @example
 * connectUrl('https://chat.example.com', ticket, 41) // 'wss://chat.example.com/v1/connect?ticket=…&cursor=41'
 */
export function connectUrl(baseUrl: string, ticket: string, cursor: number | undefined): string {
  const url = new URL(baseUrl.replace(/\/+$/, '') + PATHS.connect);
  if (url.protocol === 'https:') url.protocol = 'wss:';
  else if (url.protocol === 'http:') url.protocol = 'ws:';
  url.searchParams.set('ticket', ticket);
  if (cursor !== undefined) url.searchParams.set('cursor', String(cursor));
  return url.toString();
}

/** The error a fatal close code stands for. */
function fatalCloseError(code: number, reason: string): MessengerError {
  if (code === CLOSE_CODES.device_revoked) return new MessengerError('device_revoked', reason === '' ? undefined : reason);
  if (code === CLOSE_CODES.replaced) return new MessengerError('replaced', reason === '' ? undefined : reason);
  if (code === CLOSE_CODES.account_deleted) return new MessengerError('forbidden', reason === '' ? 'This account was deleted' : reason);
  return new MessengerError('forbidden', reason === '' ? `Closed with fatal code ${code}` : reason);
}

/**
 * One logical connection to the server that survives network losses.
 *
 * @example
 * const api = new MessengerApi({ baseUrl: 'https://chat.example.com', token });
 * const conn = new Connection({ baseUrl: api.baseUrl, ticket: () => api.connectTicket().then((t) => t.ticket) });
 * conn.on('mailbox', (frame) => store(frame));        // exactly once, in order; acked after this returns
 * conn.on('state', ({ state }) => render(state));
 * await conn.connect();                                // resolves on the first hello
 * conn.send({ type: 'read', peer, upTo: 42 });
 */
export class Connection extends Emitter<ConnectionEvents> {
  private stateValue: ConnectionState = 'idle';
  private readonly options: ConnectionOptions;
  private readonly WebSocketImpl: WebSocketConstructor | undefined;
  private readonly cursorStore: CursorStore;
  private readonly backoff: Backoff;
  private readonly heartbeatIntervalMs: number;
  private readonly deadAfterMs: number;
  private readonly ackBatchSize: number;
  private readonly ackDelayMs: number;
  private readonly resumeRetryMs: number;

  private socket: WebSocketLike | null = null;
  /** Bumped whenever a socket is abandoned, so late callbacks of old sockets are ignored. */
  private generation = 0;

  /** Highest seq processed contiguously (the cursor); undefined until known. */
  private lastSeq: number | undefined;
  private cursorLoaded = false;
  private persistedCursor: number | undefined;

  // Per-socket state, reset for every attempt.
  private gotHello = false;
  private requestedCursor: number | undefined;
  /** Highest seq received on this socket; acks never exceed it. */
  private seenHigh = 0;
  /** Highest seq acked on (or known to the server for) this socket. */
  private ackedUpTo = 0;
  private unackedFrames = 0;
  private resumePending: { after: number; at: number } | null = null;
  /** After cursor_expired the next frame starts a new contiguous run instead of being a gap. */
  private rebaseOnNextFrame = false;

  private lastHello: HelloFrame | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private livenessTimer: Timer | undefined;
  private reconnectTimer: Timer | undefined;
  private ackTimer: Timer | undefined;
  private helloWaiters: Array<{ resolve: (hello: HelloFrame) => void; reject: (error: MessengerError) => void }> = [];

  constructor(options: ConnectionOptions) {
    super();
    this.options = options;
    // Typed as always present, but older runtimes (Node < 22) have no global WebSocket.
    this.WebSocketImpl = options.WebSocket ?? (globalThis.WebSocket as WebSocketConstructor | undefined);
    this.cursorStore = options.cursorStore ?? new MemoryCursorStore();
    this.backoff = new Backoff(options.backoff);
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS;
    this.deadAfterMs = options.deadAfterMs ?? 2 * this.heartbeatIntervalMs;
    this.ackBatchSize = Math.max(1, options.ackBatchSize ?? 64);
    this.ackDelayMs = options.ackDelayMs ?? 20;
    this.resumeRetryMs = options.resumeRetryMs ?? 5_000;
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** Highest mailbox seq processed (what the next connection resumes after). */
  get cursor(): number | undefined {
    return this.lastSeq;
  }

  /**
   * Start connecting (no-op if already connecting or open). Resolves with the next `hello`;
   * rejects if the connection is closed first. Reconnects on its own after losses.
   */
  connect(): Promise<HelloFrame> {
    const waiter = new Promise<HelloFrame>((resolve, reject) => {
      this.helloWaiters.push({ resolve, reject });
    });
    // Handled here so a fire-and-forget connect() cannot cause an unhandled rejection.
    waiter.catch(() => undefined);
    if (this.stateValue === 'idle' || this.stateValue === 'closed') {
      if (this.WebSocketImpl === undefined) {
        this.failHelloWaiters(new MessengerError('unavailable', 'No WebSocket implementation: pass options.WebSocket', { retryable: false }));
        return waiter;
      }
      this.backoff.reset();
      this.setState('connecting');
      this.loadCursorThenOpen();
    } else if (this.stateValue === 'open') {
      // Already open: nothing will produce a new hello, so do not leave the caller hanging.
      const last = this.lastHello;
      if (last !== undefined) this.resolveHelloWaiters(last);
    }
    return waiter;
  }

  /**
   * Close for good (until the next `connect()`): flushes a pending ack, stops timers, no reconnect.
   * With `error` (e.g. the session ended), the 'closed' state change and a waiting `connect()`
   * carry it.
   */
  close(code: number = CLOSE_CODES.normal, reason = 'closed by client', error?: MessengerError): void {
    if (this.stateValue === 'closed') return;
    if (this.stateValue === 'open') this.flushAck();
    this.abandonSocket(code, reason);
    this.setClosed({ code, reason, ...(error === undefined ? {} : { error }) });
  }

  /** Send a frame if the connection is open (after hello). Returns whether it was handed to the socket. */
  send(frame: ClientFrame): boolean {
    if (this.stateValue !== 'open') return false;
    return this.sendRaw(JSON.stringify(frame));
  }

  // ------------------------------------------------------------ lifecycle

  private loadCursorThenOpen(): void {
    if (this.cursorLoaded) {
      this.startAttempt();
      return;
    }
    const apply = (value: number | undefined): void => {
      this.cursorLoaded = true;
      if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) {
        // Never move backwards past what this instance already processed.
        this.lastSeq = this.lastSeq === undefined ? value : Math.max(this.lastSeq, value);
        this.persistedCursor = value;
      }
    };
    let loaded: number | undefined | Promise<number | undefined>;
    try {
      loaded = this.cursorStore.get();
    } catch (error) {
      this.reportError(error, 'Loading the cursor failed');
      loaded = undefined;
    }
    if (!isPromiseLike(loaded)) {
      // Synchronous store: open in the same tick (keeps connect() simple to reason about in tests).
      apply(loaded);
      this.startAttempt();
      return;
    }
    const generation = this.generation;
    Promise.resolve(loaded)
      .then(apply, (error: unknown) => {
        this.reportError(error, 'Loading the cursor failed');
        this.cursorLoaded = true;
      })
      .then(() => {
        if (generation === this.generation && this.stateValue === 'connecting') this.startAttempt();
      });
  }

  /** One attempt: a fresh ticket (each works once), then a socket opened with it. */
  private startAttempt(): void {
    if (this.WebSocketImpl === undefined) return;
    this.resetSocketState();
    const generation = ++this.generation;
    // Covers a ticket request that hangs, a connect that hangs and a connection that goes silent later.
    this.armLiveness();
    let ticket: string | PromiseLike<string>;
    try {
      ticket = this.options.ticket();
    } catch (error) {
      this.onTicketFailed(error);
      return;
    }
    if (!isPromiseLike(ticket)) {
      // Synchronous source: open in the same tick (keeps connect() simple to reason about in tests).
      this.openSocket(ticket);
      return;
    }
    // A late answer for an attempt that was abandoned meanwhile (close(), liveness timeout) is dropped.
    Promise.resolve(ticket).then(
      (value) => {
        if (generation === this.generation) this.openSocket(value);
      },
      (error: unknown) => {
        if (generation === this.generation) this.onTicketFailed(error);
      },
    );
  }

  /** The ticket request failed: a dead token ends the connection, anything else is a failed attempt. */
  private onTicketFailed(cause: unknown): void {
    this.abandonSocket();
    const error =
      cause instanceof MessengerError
        ? cause
        : new MessengerError('internal', `Getting a connect ticket failed${cause instanceof Error ? `: ${cause.message}` : ''}`, {
            retryable: false,
            cause,
          });
    if (DEAD_TOKEN_CODES.has(error.code)) {
      this.setClosed({ reason: error.message, error });
      return;
    }
    // Offline, 5xx and 429 are expected while retrying; anything else is a bug or a server that
    // broke the protocol: worth reporting, and still retried (it may be a deploy in progress).
    if (!error.retryable) this.emit('error', error);
    this.scheduleReconnect(undefined, `connect ticket: ${error.message}`, { minDelayMs: error.retryAfterMs ?? 0, error });
  }

  private openSocket(ticket: string): void {
    const Impl = this.WebSocketImpl;
    if (Impl === undefined) return;
    if (typeof ticket !== 'string' || ticket === '') {
      this.onTicketFailed(new MessengerError('internal', 'The ticket source gave no ticket', { retryable: false }));
      return;
    }
    const generation = this.generation;
    this.requestedCursor = this.lastSeq;
    let socket: WebSocketLike;
    try {
      socket = new Impl(connectUrl(this.options.baseUrl, ticket, this.lastSeq));
    } catch (error) {
      // E.g. a malformed URL or a blocked port: treat like a failed attempt.
      this.reportError(error, 'Creating the WebSocket failed');
      this.abandonSocket();
      this.scheduleReconnect(undefined, 'could not create socket');
      return;
    }
    this.socket = socket;
    const current = (): boolean => generation === this.generation;

    socket.addEventListener('open', () => {
      if (!current()) return;
      this.startHeartbeat();
    });
    socket.addEventListener('message', (event) => {
      if (!current()) return;
      this.onRawFrame(event.data);
    });
    socket.addEventListener('close', (event) => {
      if (!current()) return;
      this.onSocketClosed(event.code, event.reason);
    });
    socket.addEventListener('error', () => {
      // Always followed by 'close' (which decides what to do); nothing useful to add here.
    });
    // The socket gets the whole liveness window, however long the ticket took.
    this.armLiveness();
  }

  private resetSocketState(): void {
    this.gotHello = false;
    this.seenHigh = 0;
    this.ackedUpTo = 0;
    this.unackedFrames = 0;
    this.resumePending = null;
    this.rebaseOnNextFrame = false;
  }

  private onSocketClosed(code: number, reason: string): void {
    this.abandonSocket();
    // Every other code, heartbeat_timeout (4004: the server took this socket for a ghost) and
    // protocol_violation included, means "reconnect with backoff".
    const fatal = FATAL_CLOSE_CODES.has(code);
    if (fatal) {
      const error = fatalCloseError(code, reason);
      this.setClosed({ code, reason: reason === '' ? error.message : reason, error });
      return;
    }
    this.scheduleReconnect(code, reason === '' ? `socket closed (${code})` : reason);
  }

  /** Stop using the current socket: timers off, late events ignored, socket closed if still up. */
  private abandonSocket(code?: number, reason?: string): void {
    this.generation += 1;
    this.stopTimers();
    const socket = this.socket;
    this.socket = null;
    if (socket !== null && socket.readyState < 2) {
      try {
        socket.close(code ?? CLOSE_CODES.normal, reason);
      } catch {
        // Some implementations throw on close() of a socket that is still connecting; it is gone anyway.
      }
    }
    if (this.lastSeq !== undefined) this.persistCursor(this.lastSeq);
  }

  private scheduleReconnect(
    code: number | undefined,
    reason: string,
    options: { minDelayMs?: number; error?: MessengerError } = {},
  ): void {
    // A rate limit's wait is a floor; backoff still grows underneath it.
    const delayMs = Math.max(this.backoff.next(), options.minDelayMs ?? 0);
    this.setState('reconnecting', { code, reason });
    const scheduled: ReconnectScheduled = { attempt: this.backoff.attempt, delayMs, code, reason };
    if (options.error !== undefined) scheduled.error = options.error;
    this.emit('reconnect', scheduled);
    const generation = this.generation;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (generation !== this.generation || this.stateValue !== 'reconnecting') return;
      this.startAttempt();
    }, delayMs);
  }

  private onDead(): void {
    // Browsers may take minutes to notice a dead TCP connection; don't wait for 'close'.
    this.abandonSocket(CLOSE_CODES.normal, 'heartbeat timeout');
    this.scheduleReconnect(undefined, `no frame for ${this.deadAfterMs} ms`);
  }

  private setState(state: ConnectionState, details: { code?: number; reason?: string; error?: MessengerError } = {}): void {
    const previous = this.stateValue;
    if (previous === state) return;
    this.stateValue = state;
    const change: StateChange = { state, previous };
    if (details.code !== undefined) change.code = details.code;
    if (details.reason !== undefined) change.reason = details.reason;
    if (details.error !== undefined) change.error = details.error;
    this.emit('state', change);
  }

  private setClosed(details: { code?: number; reason?: string; error?: MessengerError }): void {
    this.stopTimers();
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.generation += 1;
    this.setState('closed', details);
    this.failHelloWaiters(details.error ?? new MessengerError('unavailable', details.reason ?? 'Connection closed', { retryable: false }));
  }

  private resolveHelloWaiters(hello: HelloFrame): void {
    const waiters = this.helloWaiters;
    this.helloWaiters = [];
    for (const waiter of waiters) waiter.resolve(hello);
  }

  private failHelloWaiters(error: MessengerError): void {
    const waiters = this.helloWaiters;
    this.helloWaiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }

  // ------------------------------------------------------------ timers

  private startHeartbeat(): void {
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => {
      // Exactly HEARTBEAT_PING, byte for byte: the runtime answers it without waking the server object.
      this.sendRaw(HEARTBEAT_PING);
    }, this.heartbeatIntervalMs);
  }

  private armLiveness(): void {
    if (this.livenessTimer !== undefined) clearTimeout(this.livenessTimer);
    const generation = this.generation;
    this.livenessTimer = setTimeout(() => {
      this.livenessTimer = undefined;
      if (generation === this.generation) this.onDead();
    }, this.deadAfterMs);
  }

  private stopTimers(): void {
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    if (this.livenessTimer !== undefined) clearTimeout(this.livenessTimer);
    if (this.ackTimer !== undefined) clearTimeout(this.ackTimer);
    this.heartbeatTimer = undefined;
    this.livenessTimer = undefined;
    this.ackTimer = undefined;
  }

  private sendRaw(data: string): boolean {
    const socket = this.socket;
    if (socket === null || socket.readyState !== SOCKET_OPEN) return false;
    try {
      socket.send(data);
      return true;
    } catch (error) {
      this.reportError(error, 'Sending on the WebSocket failed');
      return false;
    }
  }

  // ------------------------------------------------------------ inbound frames

  private onRawFrame(data: unknown): void {
    // Any frame, even a malformed one, proves the connection is alive.
    this.armLiveness();
    if (typeof data !== 'string' && !(data instanceof ArrayBuffer)) {
      this.emit('error', new MessengerError('validation_failed', 'Received a non-text frame'));
      return;
    }
    const result = parseServerFrame(data);
    if (!result.ok) {
      // A bad frame must not take the connection down: report it and carry on.
      this.emit('error', new MessengerError(result.error.code, `Malformed server frame: ${result.error.message}`));
      return;
    }
    this.onFrame(result.frame);
  }

  private onFrame(frame: ServerFrame): void {
    if (isMailboxFrame(frame)) {
      this.onMailboxFrame(frame);
      return;
    }
    switch (frame.type) {
      case 'hello':
        this.onHello(frame);
        return;
      case 'sent':
        this.emit('sent', frame);
        return;
      case 'group_sent':
        this.emit('group_sent', frame);
        return;
      case 'typing_notice':
        this.emit('typing_notice', frame);
        return;
      case 'presence':
        this.emit('presence', frame);
        return;
      case 'error':
        this.onErrorFrame(frame);
        return;
      case 'pong':
        return;
      default: {
        // Compile-time check: a new server frame type must be handled above or be a mailbox frame.
        const unhandled: never = frame;
        return unhandled;
      }
    }
  }

  private onHello(hello: HelloFrame): void {
    const previous = this.lastSeq;
    let cursor = previous === undefined ? hello.cursor : Math.max(previous, hello.cursor);
    if (previous !== undefined && hello.head < previous) {
      // The server's mailbox is behind our cursor (e.g. a wiped development database). Keeping
      // our cursor would silently drop everything as duplicates; start over from the server's.
      cursor = hello.cursor;
      this.emit('cursor_expired', {
        requestedCursor: this.requestedCursor,
        message: `Server mailbox head ${hello.head} is behind the local cursor ${previous}; refetch history`,
      });
    }
    this.lastSeq = cursor;
    // The server starts this connection after hello.cursor: nothing at or below it may be acked.
    this.ackedUpTo = hello.cursor;
    this.seenHigh = hello.cursor;
    this.gotHello = true;
    this.lastHello = hello;
    this.backoff.reset();
    if (cursor !== previous) this.persistCursor(cursor);
    this.setState('open');
    this.emit('hello', hello);
    this.resolveHelloWaiters(hello);
  }

  private onMailboxFrame(frame: MailboxFrame): void {
    if (!this.gotHello || this.lastSeq === undefined) {
      this.emit('error', new MessengerError('validation_failed', `Mailbox frame seq ${frame.seq} arrived before hello; ignored`));
      return;
    }
    if (frame.seq > this.seenHigh) this.seenHigh = frame.seq;
    const last = this.lastSeq;

    if (frame.seq <= last) {
      // Duplicate (e.g. redelivery after a resume): drop, but it still counts toward the ack so
      // the server's delivery window keeps moving.
      this.unackedFrames += 1;
      this.scheduleAck();
      return;
    }
    if (frame.seq > last + 1) {
      if (this.rebaseOnNextFrame) {
        // cursor_expired: the entries in between no longer exist; this is the new start.
        this.lastSeq = frame.seq - 1;
      } else {
        this.requestResume(last);
        return;
      }
    }

    this.rebaseOnNextFrame = false;
    this.resumePending = null;
    this.lastSeq = frame.seq;
    this.emit('mailbox', frame);
    this.unackedFrames += 1;
    this.scheduleAck();
  }

  private requestResume(after: number): void {
    const now = Date.now();
    const pending = this.resumePending;
    // Frames already in flight behind the gap arrive before the resend: one resume is enough.
    if (pending !== null && pending.after === after && now - pending.at < this.resumeRetryMs) return;
    if (this.send({ type: 'resume', after })) this.resumePending = { after, at: now };
  }

  private onErrorFrame(frame: ErrorFrame): void {
    if (frame.code === 'cursor_expired') {
      this.rebaseOnNextFrame = true;
      this.emit('cursor_expired', { requestedCursor: this.requestedCursor, message: frame.message });
      return;
    }
    if (frame.id !== null) {
      this.emit('send_error', { ...frame, id: frame.id });
      return;
    }
    if (frame.frame === 'presence_watch' && frame.code === 'rate_limited') {
      this.emit('presence_watch_refused', frame);
      return;
    }
    this.emit('error', MessengerError.fromFrame(frame));
  }

  // ------------------------------------------------------------ acks and cursor

  /** The highest seq we may ack: processed, and actually received on this socket. */
  private ackTarget(): number {
    return Math.min(this.lastSeq ?? 0, this.seenHigh);
  }

  private scheduleAck(): void {
    if (this.ackTarget() <= this.ackedUpTo) return;
    if (this.unackedFrames >= this.ackBatchSize) {
      this.flushAck();
      return;
    }
    // Debounce: a burst is acked once, ackDelayMs after its last frame.
    if (this.ackTimer !== undefined) clearTimeout(this.ackTimer);
    this.ackTimer = setTimeout(() => {
      this.ackTimer = undefined;
      this.flushAck();
    }, this.ackDelayMs);
  }

  private flushAck(): void {
    if (this.ackTimer !== undefined) clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    const upTo = this.ackTarget();
    if (upTo <= this.ackedUpTo) return;
    if (this.send({ type: 'ack', upTo })) {
      this.ackedUpTo = upTo;
      this.unackedFrames = 0;
    }
    if (this.lastSeq !== undefined) this.persistCursor(this.lastSeq);
  }

  private persistCursor(seq: number): void {
    if (this.persistedCursor === seq) return;
    this.persistedCursor = seq;
    try {
      const result = this.cursorStore.set(seq);
      if (isPromiseLike(result)) result.then(undefined, (error: unknown) => this.reportError(error, 'Saving the cursor failed'));
    } catch (error) {
      this.reportError(error, 'Saving the cursor failed');
    }
  }

  private reportError(cause: unknown, message: string): void {
    const detail = cause instanceof Error ? `: ${cause.message}` : '';
    this.emit('error', new MessengerError('internal', message + detail, { retryable: false, cause }));
  }
}
