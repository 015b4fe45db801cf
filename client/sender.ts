/**
 * The sending state machine of `MessengerClient`: when an outbox record (a send or a message
 * action) may go out on the connection, resending after every hello, and pausing and pacing
 * after a rate limit. Sends and actions share the queue, the pause and the pacing.
 *
 * - Queue-then-send: a new entry goes out at once only when it cannot overtake older unsent
 *   ones (the outbox was flushed on this connection).
 * - A retryable refusal (`rate_limited`, `unavailable`, ...) keeps the entry and pauses every
 *   send until the server's `retryAfterMs` (else a jittered backoff); then the outbox goes out
 *   one entry at a time until it is empty, so a full outbox does not run into the limit again.
 * - A pause outlives a reconnect: a new socket does not refill the server's bucket.
 */
import { fullJitterDelay } from './backoff.ts';
import type { BackoffOptions } from './backoff.ts';
import type { ActionDelayed, ActionFailed, SendDelayed, SendFailed } from './client-types.ts';
import type { Connection } from './connection.ts';
import { Emitter } from './events.ts';
import { frameFor, isActionEntry } from './outbox.ts';
import type { Outbox, OutboxRecord } from './outbox.ts';
import type { ActedFrame, GroupSentFrame, SentFrame } from '../protocol/index.ts';
import type { MessengerError } from './transport.ts';

/** How many confirmed client ids to remember for flagging echoes as `local`. */
const RECENT_LOCAL_LIMIT = 1_024;

/** What the sender reports (the client re-emits them). */
export interface SenderEvents {
  sent: SentFrame;
  group_sent: GroupSentFrame;
  acted: ActedFrame;
  failed: SendFailed;
  send_delayed: SendDelayed;
  action_failed: ActionFailed;
  action_delayed: ActionDelayed;
  /** A frame that counts as user activity (a send) went out on the current connection. */
  activity: void;
}

export class Sender extends Emitter<SenderEvents> {
  private readonly connection: Connection;
  private readonly outbox: Outbox;
  private readonly retry: BackoffOptions;
  /** Retryable send errors since the last confirmation (backoff when the server names no wait). */
  private retryAttempt = 0;
  /** No send goes out before this time (ms since the epoch; 0: no pause). One timer serves the whole outbox. */
  private holdUntil = 0;
  private holdTimer: ReturnType<typeof setTimeout> | undefined;
  /** After a pause the outbox goes out one entry at a time; normal sending resumes when it is empty. */
  private paced = false;
  /** The entry the pacer sent and is waiting for an answer to. */
  private pacedInFlight: string | undefined;
  /** Client ids confirmed in this session, oldest first (Set keeps insertion order). */
  private readonly recentLocal = new Set<string>();
  /**
   * True once the outbox has been flushed on the current connection. Until then new sends only
   * queue: a send made from a 'state: open' listener must not overtake older unsent messages.
   */
  private live = false;
  /** Counts hellos, so a flush waiting for the outbox store belongs to one connection. */
  private generation = 0;

  constructor(options: { connection: Connection; outbox: Outbox; retry: BackoffOptions }) {
    super();
    this.connection = options.connection;
    this.outbox = options.outbox;
    this.retry = options.retry;
  }

  /** When sending resumes after a retryable refusal (ms since the epoch), or undefined when not paused. */
  get delayedUntil(): number | undefined {
    return this.holdUntil > Date.now() ? this.holdUntil : undefined;
  }

  /** Whether `clientId` was sent through this outbox (pending, or confirmed in this session). */
  isLocal(clientId: string): boolean {
    return this.outbox.has(clientId) || this.recentLocal.has(clientId);
  }

  /** The connection changed state: answers to the old socket are lost; the next hello resends. */
  onState(open: boolean): void {
    this.live = false;
    if (!open) {
      this.stopHoldTimer();
      this.pacedInFlight = undefined;
    }
  }

  /** A new connection said hello: resend every pending entry (once the outbox store has loaded). */
  onHello(): void {
    this.generation += 1;
    this.stopHoldTimer();
    this.pacedInFlight = undefined;
    this.live = false;
    if (this.outbox.isRestored) {
      this.flush();
      return;
    }
    const generation = this.generation;
    void this.outbox.ready.then(() => {
      if (this.connection.state === 'open' && generation === this.generation) this.flush();
    });
  }

  /** Stop the pause timer (the client is closing). */
  stop(): void {
    this.stopHoldTimer();
  }

  /** Queue-then-send: a new record (send or action) goes out at once only when it cannot overtake older ones. */
  dispatch<P extends { clientId: string }>(pending: P): P {
    if (this.canSendNow()) {
      const entry = this.outbox.getRecord(pending.clientId);
      if (entry !== undefined) this.sendEntry(entry);
    } else if (this.paced) {
      this.pump();
    }
    return pending;
  }

  /** A `sent`, `group_sent` or `acted` answer (or an echo standing in for one). */
  settle(frame: SentFrame | GroupSentFrame | ActedFrame): void {
    const entry = this.outbox.settle(frame);
    if (entry === undefined) return; // a repeated answer (retry) or an id we never had: already reported
    this.retryAttempt = 0;
    if (frame.type === 'acted') {
      this.emit('acted', frame);
    } else {
      this.rememberLocal(frame.id);
      if (frame.type === 'group_sent') this.emit('group_sent', frame);
      else this.emit('sent', frame);
    }
    this.pump();
  }

  /** The server refused a send: retryable ones pause sending, others fail the entry. */
  refuse(clientId: string, error: MessengerError): void {
    if (!this.outbox.has(clientId)) return;
    // A rate limit is never a reason to drop what the user wrote, whatever its flag says.
    if (error.retryable || error.code === 'rate_limited') {
      this.delaySends(clientId, error);
      return;
    }
    const entry = this.outbox.fail(clientId, error);
    if (entry !== undefined) {
      if (isActionEntry(entry)) this.emit('action_failed', { ...entry, error });
      else this.emit('failed', { ...entry, error });
    }
    this.pump();
  }

  private canSendNow(): boolean {
    // `live` is only set after the outbox (including entries restored from the store) was flushed
    // on this connection. Paused or paced (after a rate limit), the pacer sends, in order.
    return this.live && this.connection.state === 'open' && !this.paced;
  }

  /** Resend every pending entry, in original order, with its original client id. */
  private flush(): void {
    if (this.paced) {
      this.live = this.connection.state === 'open';
      if (this.holdUntil > Date.now()) this.armHoldTimer();
      else this.endHold();
      return;
    }
    for (const entry of this.outbox.records()) {
      if (!this.sendEntry(entry)) return; // socket went away; the next hello resends
    }
    this.live = this.connection.state === 'open';
  }

  /** Keep the entry, pause every send until the server's wait (else a backoff), then pace. */
  private delaySends(clientId: string, error: MessengerError): void {
    const entry = this.outbox.getRecord(clientId);
    if (entry === undefined) return;
    if (this.pacedInFlight === clientId) this.pacedInFlight = undefined;
    const wait = error.retryAfterMs ?? fullJitterDelay(this.retryAttempt, this.retry);
    this.retryAttempt += 1;
    this.holdUntil = Math.max(this.holdUntil, Date.now() + wait);
    this.paced = true;
    this.armHoldTimer();
    if (isActionEntry(entry)) this.emit('action_delayed', { ...entry, error, retryAt: this.holdUntil });
    else this.emit('send_delayed', { ...entry, error, retryAt: this.holdUntil });
  }

  private armHoldTimer(): void {
    this.stopHoldTimer();
    this.holdTimer = setTimeout(() => {
      this.holdTimer = undefined;
      this.endHold();
    }, Math.max(0, this.holdUntil - Date.now()));
  }

  private stopHoldTimer(): void {
    if (this.holdTimer !== undefined) clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
  }

  private endHold(): void {
    this.holdUntil = 0;
    this.pump();
  }

  /**
   * Paced sending: the oldest pending entry goes out when nothing the pacer sent is unanswered;
   * an empty outbox ends pacing. Does nothing while paused or not connected (the hello resumes it).
   */
  private pump(): void {
    if (!this.paced || this.holdUntil !== 0 || !this.live || this.connection.state !== 'open') return;
    if (this.pacedInFlight !== undefined && this.outbox.has(this.pacedInFlight)) return;
    this.pacedInFlight = undefined;
    const next = this.outbox.records()[0];
    if (next === undefined) {
      this.paced = false;
      return;
    }
    if (this.sendEntry(next)) this.pacedInFlight = next.clientId;
  }

  private sendEntry(entry: OutboxRecord): boolean {
    const sent = this.connection.send(frameFor(entry));
    // The server counts a send as activity (an action is not claimed to be: `active` still goes out).
    if (sent && !isActionEntry(entry)) this.emit('activity', undefined);
    return sent;
  }

  private rememberLocal(clientId: string): void {
    this.recentLocal.add(clientId);
    if (this.recentLocal.size > RECENT_LOCAL_LIMIT) {
      const oldest = this.recentLocal.values().next();
      if (oldest.done !== true) this.recentLocal.delete(oldest.value);
    }
  }
}
