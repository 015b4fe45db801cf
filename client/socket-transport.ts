/**
 * The connection's socket layer: the WebSocket subset the SDK needs, the connect URL and its
 * single-use ticket, and one socket at a time with its heartbeat and dead-connection detection.
 */
import { CLOSE_CODES, HEARTBEAT_PING, PATHS } from '../protocol/index.ts';
import { MessengerError } from './transport.ts';

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
const SOCKET_CLOSING = 2;

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

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** The error a failed ticket request stands for (the source's own MessengerError when it threw one). */
function ticketError(cause: unknown): MessengerError {
  if (cause instanceof MessengerError) return cause;
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  return new MessengerError('internal', `Getting a connect ticket failed${detail}`, { retryable: false, cause });
}

/**
 * Gets the connect ticket for one attempt from `source` (`ConnectionOptions.ticket`): the socket
 * URL carries a single-use ticket, never the long-lived token, which proxies and logs would keep.
 * A synchronous source answers in the same tick (keeps connect() simple to reason about in
 * tests); an asynchronous answer is dropped unless `current()` still holds, so a ticket that
 * arrives after its attempt was abandoned (close(), a liveness timeout) opens nothing. `ready`
 * only ever gets a non-empty string; anything else ends in `failed`.
 */
export function requestTicket(
  source: () => string | PromiseLike<string>,
  current: () => boolean,
  handlers: { ready(ticket: string): void; failed(error: MessengerError): void },
): void {
  const deliver = (ticket: string): void => {
    if (typeof ticket !== 'string' || ticket === '') {
      handlers.failed(new MessengerError('internal', 'The ticket source gave no ticket', { retryable: false }));
      return;
    }
    handlers.ready(ticket);
  };
  let ticket: string | PromiseLike<string>;
  try {
    ticket = source();
  } catch (error) {
    handlers.failed(ticketError(error));
    return;
  }
  if (!isPromiseLike(ticket)) {
    deliver(ticket);
    return;
  }
  Promise.resolve(ticket).then(
    (value) => {
      if (current()) deliver(value);
    },
    (error: unknown) => {
      if (current()) handlers.failed(ticketError(error));
    },
  );
}

/** The error a fatal close code stands for. */
export function fatalCloseError(code: number, reason: string): MessengerError {
  if (code === CLOSE_CODES.device_revoked) return new MessengerError('device_revoked', reason === '' ? undefined : reason);
  if (code === CLOSE_CODES.replaced) return new MessengerError('replaced', reason === '' ? undefined : reason);
  if (code === CLOSE_CODES.account_deleted) return new MessengerError('account_deleted', reason === '' ? undefined : reason);
  return new MessengerError('forbidden', reason === '' ? `Closed with fatal code ${code}` : reason);
}

/** What the transport reports to the connection; it never decides anything itself. */
export interface SocketTransportHandlers {
  /** A frame arrived on the current socket (raw, not yet decoded). */
  message(data: unknown): void;
  /** The current socket closed. */
  closed(code: number, reason: string): void;
  /** Nothing at all arrived for `deadAfterMs` since the last `armLiveness()` or frame. */
  dead(): void;
  /** `send` threw; the frame was not sent. */
  sendFailed(cause: unknown): void;
}

export interface SocketTransportOptions {
  heartbeatIntervalMs: number;
  deadAfterMs: number;
  handlers: SocketTransportHandlers;
}

/**
 * Holds at most one socket. Events of a socket that was abandoned (or replaced) are ignored, so
 * the connection never hears from a socket it already gave up on.
 */
export class SocketTransport {
  readonly heartbeatIntervalMs: number;
  readonly deadAfterMs: number;
  private readonly handlers: SocketTransportHandlers;
  private socket: WebSocketLike | null = null;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private livenessTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: SocketTransportOptions) {
    this.heartbeatIntervalMs = options.heartbeatIntervalMs;
    this.deadAfterMs = options.deadAfterMs;
    this.handlers = options.handlers;
  }

  /** Takes over a freshly constructed socket (constructing it may throw, so the caller does it). */
  attach(socket: WebSocketLike): void {
    this.socket = socket;
    const current = (): boolean => this.socket === socket;
    socket.addEventListener('open', () => {
      if (!current()) return;
      this.startHeartbeat();
    });
    socket.addEventListener('message', (event) => {
      if (!current()) return;
      // Any frame, even a malformed one, proves the connection is alive.
      this.armLiveness();
      this.handlers.message(event.data);
    });
    socket.addEventListener('close', (event) => {
      if (!current()) return;
      this.handlers.closed(event.code, event.reason);
    });
    socket.addEventListener('error', () => {
      // Always followed by 'close' (which decides what to do); nothing useful to add here.
    });
    // The socket gets the whole liveness window, however long the ticket took.
    this.armLiveness();
  }

  /**
   * (Re)starts the dead-connection timer. Also armed before a socket exists, so a ticket request
   * or a connect that hangs counts as a dead attempt too.
   */
  armLiveness(): void {
    if (this.livenessTimer !== undefined) clearTimeout(this.livenessTimer);
    this.livenessTimer = setTimeout(() => {
      this.livenessTimer = undefined;
      this.handlers.dead();
    }, this.deadAfterMs);
  }

  /** Stop using the current socket: timers off, its late events ignored, closed if still up. */
  abandon(code?: number, reason?: string): void {
    this.stopTimers();
    const socket = this.socket;
    // Cleared before close(): a socket that reports 'close' synchronously is already stale.
    this.socket = null;
    if (socket !== null && socket.readyState < SOCKET_CLOSING) {
      try {
        socket.close(code ?? CLOSE_CODES.normal, reason);
      } catch {
        // Some implementations throw on close() of a socket that is still connecting; it is gone anyway.
      }
    }
  }

  stopTimers(): void {
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    if (this.livenessTimer !== undefined) clearTimeout(this.livenessTimer);
    this.heartbeatTimer = undefined;
    this.livenessTimer = undefined;
  }

  /** Hands `data` to the socket if it is open. Returns whether it did. */
  send(data: string): boolean {
    const socket = this.socket;
    if (socket === null || socket.readyState !== SOCKET_OPEN) return false;
    try {
      socket.send(data);
      return true;
    } catch (error) {
      this.handlers.sendFailed(error);
      return false;
    }
  }

  private startHeartbeat(): void {
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => {
      // Exactly HEARTBEAT_PING, byte for byte: the runtime answers it without waking the server object.
      this.send(HEARTBEAT_PING);
    }, this.heartbeatIntervalMs);
  }
}
