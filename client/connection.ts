/**
 * The WebSocket connection state machine: connect, reconnect with backoff, and turn the server's
 * mailbox stream into an exactly-once, in-order stream of frames for the app.
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
 * `POST /v1/connect/ticket` with the bearer token). A ticket request that fails for a dead token
 * (DEAD_TOKEN_CODES: the app must log in again) closes the connection for good with that error;
 * any other failure (offline, 5xx, 429) is a failed attempt like a socket that did not open,
 * retried with backoff, and a 429 not before its `retryAfterMs`.
 *
 * The parts it drives: socket-transport.ts (the socket, heartbeats, dead-connection detection),
 * frame-codec.ts (parsing and routing frames), mailbox-sequencer.ts (the mailbox delivery rules:
 * duplicates, gaps and resumes, acks), cursor-store.ts (the cursor between runs);
 * connection-types.ts holds the options and events.
 *
 * Ephemeral frames (`typing_notice`, `presence`) carry no seq: they bypass the mailbox rules, are
 * never acked and are not repeated after a reconnect.
 */
import { ACK_LAZY_MS, CLOSE_CODES, FATAL_CLOSE_CODES, HEARTBEAT_INTERVAL_MS } from '../protocol/index.ts';
import type { ClientFrame, ErrorFrame, HelloFrame, MailboxFrame, SentFrame } from '../protocol/index.ts';
import { Backoff } from './backoff.ts';
import { DEAD_TOKEN_CODES } from './connection-types.ts';
import type { ConnectionEvents, ConnectionOptions, ConnectionState, ReconnectScheduled, StateChange } from './connection-types.ts';
import { CursorPersistence, MemoryCursorStore } from './cursor-store.ts';
import { Emitter } from './events.ts';
import { decodeServerFrame, dispatchServerFrame } from './frame-codec.ts';
import type { FrameHandlers } from './frame-codec.ts';
import { MailboxSequencer, awaitsAck } from './mailbox-sequencer.ts';
import { SocketTransport, connectUrl, fatalCloseError, requestTicket } from './socket-transport.ts';
import type { WebSocketConstructor, WebSocketLike } from './socket-transport.ts';
import { MessengerError } from './transport.ts';

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
  private readonly backoff: Backoff;
  private readonly ackDelayMs: number;
  private readonly lazyAckDelayMs: number;
  private readonly transport: SocketTransport;
  private readonly sequencer: MailboxSequencer;
  private readonly persistence: CursorPersistence;
  private readonly frameHandlers: FrameHandlers;

  /** Bumped whenever an attempt is abandoned, so late tickets, loads and timers of old ones are ignored. */
  private generation = 0;
  /** The cursor the current socket was opened with (reported with cursor_expired). */
  private requestedCursor: number | undefined;
  private lastHello: HelloFrame | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private ackTimer: ReturnType<typeof setTimeout> | undefined;
  /** While an ack waits lazily: saves the cursor ackDelayMs after a burst, as an ack would have. */
  private cursorTimer: ReturnType<typeof setTimeout> | undefined;
  private helloWaiters: Array<{ resolve: (hello: HelloFrame) => void; reject: (error: MessengerError) => void }> = [];

  constructor(options: ConnectionOptions) {
    super();
    this.options = options;
    // Typed as always present, but older runtimes (Node < 22) have no global WebSocket.
    this.WebSocketImpl = options.WebSocket ?? (globalThis.WebSocket as WebSocketConstructor | undefined);
    this.backoff = new Backoff(options.backoff);
    this.ackDelayMs = options.ackDelayMs ?? 20;
    this.lazyAckDelayMs = options.lazyAckDelayMs ?? ACK_LAZY_MS;
    const heartbeatIntervalMs = options.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS;
    this.transport = new SocketTransport({
      heartbeatIntervalMs,
      deadAfterMs: options.deadAfterMs ?? 2 * heartbeatIntervalMs,
      handlers: {
        message: (data) => this.onRawFrame(data),
        closed: (code, reason) => this.onSocketClosed(code, reason),
        dead: () => this.onDead(),
        sendFailed: (cause) => this.reportError(cause, 'Sending on the WebSocket failed'),
      },
    });
    this.sequencer = new MailboxSequencer({ ackBatchSize: options.ackBatchSize ?? 64, resumeRetryMs: options.resumeRetryMs ?? 5_000 });
    const onStoreError = (cause: unknown, message: string): void => this.reportError(cause, message);
    this.persistence = new CursorPersistence(options.cursorStore ?? new MemoryCursorStore(), onStoreError);
    this.frameHandlers = {
      hello: (frame) => this.onHello(frame),
      mailbox: (frame) => this.onMailboxFrame(frame),
      error: (frame) => this.onErrorFrame(frame),
      sent: (frame) => this.onSent(frame),
      group_sent: (frame) => this.emit('group_sent', frame),
      acted: (frame) => this.emit('acted', frame),
      typing_notice: (frame) => this.emit('typing_notice', frame),
      presence: (frame) => this.emit('presence', frame),
      large_group: (frame) => this.emit('large_group', frame),
    };
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** Highest mailbox seq processed (what the next connection resumes after). */
  get cursor(): number | undefined {
    return this.sequencer.cursor;
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
   * Close for good (until the next `connect()`): sends a pending ack someone waits on, saves the
   * cursor, stops timers, no reconnect. With `error` (e.g. the session ended), the 'closed' state
   * change and a waiting `connect()` carry it.
   */
  close(code: number = CLOSE_CODES.normal, reason = 'closed by client', error?: MessengerError): void {
    if (this.stateValue === 'closed') return;
    if (this.stateValue === 'open') {
      // A lazy ack is not sent: the saved cursor acknowledges those entries when the next
      // connection opens with it. A frame sent just before the close can hold the close frame
      // behind it: Chromium gone offline kept both, and the server kept the device online.
      if (this.sequencer.ackUrgent()) this.flushAck();
      else {
        this.stopAckTimer();
        this.saveCursor();
      }
    }
    this.abandonSocket(code, reason);
    this.setClosed({ code, reason, ...(error === undefined ? {} : { error }) });
  }

  /** Send a frame if the connection is open (after hello). Returns whether it was handed to the socket. */
  send(frame: ClientFrame): boolean {
    if (this.stateValue !== 'open') return false;
    return this.transport.send(JSON.stringify(frame));
  }

  // ------------------------------------------------------------ lifecycle

  private loadCursorThenOpen(): void {
    const loading = this.persistence.load((cursor) => this.sequencer.restore(cursor));
    if (loading === undefined) {
      this.startAttempt();
      return;
    }
    const generation = this.generation;
    loading.then(() => {
      if (generation === this.generation && this.stateValue === 'connecting') this.startAttempt();
    });
  }

  /** One attempt: a fresh ticket (each works once), then a socket opened with it. */
  private startAttempt(): void {
    if (this.WebSocketImpl === undefined) return;
    this.sequencer.resetSocket();
    const generation = ++this.generation;
    // Covers a ticket request that hangs, a connect that hangs and a connection that goes silent later.
    this.transport.armLiveness();
    requestTicket(() => this.options.ticket(), () => generation === this.generation, {
      ready: (ticket) => this.openSocket(ticket),
      failed: (error) => this.onTicketFailed(error),
    });
  }

  /** The ticket request failed: a dead token ends the connection, anything else is a failed attempt. */
  private onTicketFailed(error: MessengerError): void {
    this.abandonSocket();
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
    const cursor = this.sequencer.cursor;
    this.requestedCursor = cursor;
    let socket: WebSocketLike;
    try {
      socket = new Impl(connectUrl(this.options.baseUrl, ticket, cursor));
    } catch (error) {
      // E.g. a malformed URL or a blocked port: treat like a failed attempt.
      this.reportError(error, 'Creating the WebSocket failed');
      this.abandonSocket();
      this.scheduleReconnect(undefined, 'could not create socket');
      return;
    }
    this.transport.attach(socket);
  }

  private onSocketClosed(code: number, reason: string): void {
    this.abandonSocket();
    // Every other code, heartbeat_timeout (4004: the server took this socket for a ghost) and
    // protocol_violation included, means "reconnect with backoff".
    if (FATAL_CLOSE_CODES.has(code)) {
      const error = fatalCloseError(code, reason);
      this.setClosed({ code, reason: reason === '' ? error.message : reason, error });
      return;
    }
    this.scheduleReconnect(code, reason === '' ? `socket closed (${code})` : reason);
  }

  /** Stop using the current socket: timers off, late events ignored, socket closed if still up. */
  private abandonSocket(code?: number, reason?: string): void {
    this.generation += 1;
    this.stopAckTimer();
    this.transport.abandon(code, reason);
    const cursor = this.sequencer.cursor;
    if (cursor !== undefined) this.persistence.save(cursor);
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
    this.scheduleReconnect(undefined, `no frame for ${this.transport.deadAfterMs} ms`);
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
    this.transport.stopTimers();
    this.stopAckTimer();
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

  // ------------------------------------------------------------ inbound frames

  private onRawFrame(data: unknown): void {
    const decoded = decodeServerFrame(data);
    if (!decoded.ok) {
      // A bad frame must not take the connection down: report it and carry on.
      this.emit('error', decoded.error);
      return;
    }
    dispatchServerFrame(decoded.frame, this.frameHandlers);
  }

  private onHello(hello: HelloFrame): void {
    const plan = this.sequencer.planHello(hello);
    if (plan.behind) {
      this.emit('cursor_expired', {
        requestedCursor: this.requestedCursor,
        message: `Server mailbox head ${hello.head} is behind the local cursor ${plan.previous}; refetch history`,
      });
    }
    this.sequencer.startStream(hello, plan.cursor);
    this.lastHello = hello;
    this.backoff.reset();
    if (plan.cursor !== plan.previous) this.persistence.save(plan.cursor);
    this.setState('open');
    this.emit('hello', hello);
    this.resolveHelloWaiters(hello);
  }

  /**
   * A `sent` answer. One with `seq` also carries the sender's own copy, the mailbox entry at
   * `seq` that this connection gets no separate `message` frame for: it is processed first,
   * exactly as that frame would have been (the copy used to arrive just before its answer), and
   * the answer is emitted as before, without the two fields.
   */
  private onSent(frame: SentFrame): void {
    const { seq, message, ...answer } = frame;
    if (seq !== undefined && message !== undefined) this.onMailboxFrame({ type: 'message', seq, message });
    this.emit('sent', answer);
  }

  private onMailboxFrame(frame: MailboxFrame): void {
    const verdict = this.sequencer.receive(frame.seq);
    if ((verdict === 'next' || verdict === 'duplicate') && awaitsAck(frame, this.lastHello?.userId)) this.sequencer.urgent();
    switch (verdict) {
      case 'before_hello':
        this.emit('error', new MessengerError('validation_failed', `Mailbox frame seq ${frame.seq} arrived before hello; ignored`));
        return;
      case 'duplicate':
        this.scheduleAck();
        return;
      case 'gap':
        this.requestResume();
        return;
      case 'next':
        this.emit('mailbox', frame);
        this.sequencer.delivered();
        this.scheduleAck();
        return;
    }
  }

  private requestResume(): void {
    const now = Date.now();
    const after = this.sequencer.resumeAfter(now);
    if (after !== undefined && this.send({ type: 'resume', after })) this.sequencer.resumeSent(after, now);
  }

  private onErrorFrame(frame: ErrorFrame): void {
    if (frame.code === 'cursor_expired') {
      this.sequencer.rebase();
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

  // ------------------------------------------------------------ acks

  /**
   * When to ack. Only a message from someone else is waited on (its sender's delivered tick
   * comes from the ack): while one is unacked, a burst is acked once, ackDelayMs after its last
   * frame. Everything else (own copies, receipts, markers, events) is acked lazily: within
   * lazyAckDelayMs of the first such frame, or with the next prompt ack, or at once when the
   * batch is full (the server's delivery window waits for acks).
   */
  private scheduleAck(): void {
    if (!this.sequencer.ackDue()) return;
    if (this.sequencer.ackBatchFull()) {
      this.flushAck();
      return;
    }
    if (this.sequencer.ackUrgent()) {
      // Debounce: restarted by every frame of the burst.
      this.startAckTimer(this.ackDelayMs);
      return;
    }
    // Not restarted: lazy frames that keep coming are still acked within lazyAckDelayMs.
    if (this.ackTimer === undefined) this.startAckTimer(this.lazyAckDelayMs);
    // Only the ack waits: the cursor is saved after the burst as before, so a page closed (or an
    // app killed) meanwhile does not process these entries again on its next start.
    if (this.cursorTimer !== undefined) clearTimeout(this.cursorTimer);
    this.cursorTimer = setTimeout(() => {
      this.cursorTimer = undefined;
      this.saveCursor();
    }, this.ackDelayMs);
  }

  private startAckTimer(delayMs: number): void {
    this.stopAckTimer();
    this.ackTimer = setTimeout(() => {
      this.ackTimer = undefined;
      this.flushAck();
    }, delayMs);
  }

  private flushAck(): void {
    this.stopAckTimer();
    if (!this.sequencer.ackDue()) return;
    const upTo = this.sequencer.ackTarget();
    if (this.send({ type: 'ack', upTo })) this.sequencer.acked(upTo);
    this.saveCursor();
  }

  private saveCursor(): void {
    const cursor = this.sequencer.cursor;
    if (cursor !== undefined) this.persistence.save(cursor);
  }

  private stopAckTimer(): void {
    if (this.ackTimer !== undefined) clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    if (this.cursorTimer !== undefined) clearTimeout(this.cursorTimer);
    this.cursorTimer = undefined;
  }

  private reportError(cause: unknown, message: string): void {
    const detail = cause instanceof Error ? `: ${cause.message}` : '';
    this.emit('error', new MessengerError('internal', message + detail, { retryable: false, cause }));
  }
}
