/**
 * The mailbox bookkeeping of a connection, with no socket or timer: which seq comes next, what is
 * a duplicate or a gap, when to ask for a resume, and what may be acked.
 *
 * Rules (see docs/PROTOCOL.md and protocol/frames.ts):
 * - mailbox frames (1:1 `message`, `receipt`, `read_marker`, group `group_message`,
 *   `group_event`, `group_receipt`, `group_read_marker`, and `group_invite`, `account_event`)
 *   share one `seq` stream per user;
 * - frames carry `seq`; the server sends them contiguously after the `hello` cursor;
 * - `seq <= cursor` is a duplicate: dropped, never surfaced twice;
 * - `seq > cursor + 1` is a gap: dropped, and `resume {after: cursor}` asks for the missing ones;
 * - processed frames are acked in batches (`ack {upTo}`), and only seqs this very socket has
 *   received are ever acked (the server rejects others with `invalid_ack`);
 * - the cursor outlives sockets: the reconnect URL carries it, so delivery resumes where the app
 *   left off. Everything else here is per socket.
 */
import type { HelloFrame, MailboxFrame } from '../protocol/index.ts';

/**
 * Whether someone waits on this entry's ack: a message (1:1 or group) from another user, whose
 * delivered tick (or the group's delivered tally) comes from this device's ack. Own copies,
 * receipts, read markers and events change nothing anyone sees when they are acked.
 */
export function awaitsAck(frame: MailboxFrame, self: string | undefined): boolean {
  return (frame.type === 'message' || frame.type === 'group_message') && frame.message.from !== self;
}

/**
 * What to do with an incoming mailbox frame:
 * - 'next': the next one in order (the cursor already points at it): deliver, then
 *   {@link MailboxSequencer.delivered};
 * - 'duplicate': already processed: drop (it still counts toward the next ack);
 * - 'gap': frames are missing before it: drop, and resume (see {@link MailboxSequencer.resumeAfter});
 * - 'before_hello': the server broke the protocol: drop and report.
 */
export type MailboxVerdict = 'next' | 'duplicate' | 'gap' | 'before_hello';

/** How a `hello` moves the cursor. */
export interface HelloPlan {
  /** The cursor this socket starts from. */
  cursor: number;
  /** The cursor before the hello (undefined: none was known). */
  previous: number | undefined;
  /**
   * The server's mailbox head is behind our cursor (e.g. a wiped development database): keeping
   * our cursor would silently drop everything as duplicates, so `cursor` starts over from the
   * server's and the app should refetch history.
   */
  behind: boolean;
}

export interface MailboxSequencerOptions {
  /** Ack at once after this many unacked frames (at least 1). */
  ackBatchSize: number;
  /** Repeat an unanswered resume for the same gap after this many ms. */
  resumeRetryMs: number;
}

export class MailboxSequencer {
  private readonly ackBatchSize: number;
  private readonly resumeRetryMs: number;

  /** Highest seq processed contiguously (the cursor); undefined until known. */
  private lastSeq: number | undefined;

  // Per-socket state, reset for every attempt.
  private gotHello = false;
  /** Highest seq received on this socket; acks never exceed it. */
  private seenHigh = 0;
  /** Highest seq acked on (or known to the server for) this socket. */
  private ackedUpTo = 0;
  private unackedFrames = 0;
  /** An entry someone waits on (see {@link awaitsAck}) is among the unacked. */
  private urgentUnacked = false;
  private resumePending: { after: number; at: number } | null = null;
  /** After cursor_expired the next frame starts a new contiguous run instead of being a gap. */
  private rebaseOnNextFrame = false;

  constructor(options: MailboxSequencerOptions) {
    this.ackBatchSize = Math.max(1, options.ackBatchSize);
    this.resumeRetryMs = options.resumeRetryMs;
  }

  /** Highest mailbox seq processed (what the next socket resumes after). */
  get cursor(): number | undefined {
    return this.lastSeq;
  }

  /** Adopts a cursor read from storage; never moves backwards past what was already processed. */
  restore(cursor: number): void {
    this.lastSeq = this.lastSeq === undefined ? cursor : Math.max(this.lastSeq, cursor);
  }

  /** A new socket: nothing received or acked on it yet. The cursor stays. */
  resetSocket(): void {
    this.gotHello = false;
    this.seenHigh = 0;
    this.ackedUpTo = 0;
    this.unackedFrames = 0;
    this.urgentUnacked = false;
    this.resumePending = null;
    this.rebaseOnNextFrame = false;
  }

  /**
   * Where a `hello` puts the cursor, without applying it (the caller reports `behind` while the
   * old cursor is still in place, then calls {@link startStream}).
   */
  planHello(hello: HelloFrame): HelloPlan {
    const previous = this.lastSeq;
    const behind = previous !== undefined && hello.head < previous;
    const cursor = previous === undefined || behind ? hello.cursor : Math.max(previous, hello.cursor);
    return { cursor, previous, behind };
  }

  /** Applies a {@link planHello} result: the socket's stream starts after `hello.cursor`. */
  startStream(hello: HelloFrame, cursor: number): void {
    this.lastSeq = cursor;
    // The server starts this socket after hello.cursor: nothing at or below it may be acked.
    this.ackedUpTo = hello.cursor;
    this.seenHigh = hello.cursor;
    this.gotHello = true;
  }

  /** Classifies a mailbox frame's seq; for 'next' the cursor has moved to it. */
  receive(seq: number): MailboxVerdict {
    if (!this.gotHello || this.lastSeq === undefined) return 'before_hello';
    if (seq > this.seenHigh) this.seenHigh = seq;
    const last = this.lastSeq;

    if (seq <= last) {
      // Duplicate (e.g. redelivery after a resume): dropped, but it still counts toward the ack
      // so the server's delivery window keeps moving.
      this.unackedFrames += 1;
      return 'duplicate';
    }
    if (seq > last + 1) {
      if (!this.rebaseOnNextFrame) return 'gap';
      // cursor_expired: the entries in between no longer exist; this is the new start.
      this.lastSeq = seq - 1;
    }
    this.rebaseOnNextFrame = false;
    this.resumePending = null;
    this.lastSeq = seq;
    return 'next';
  }

  /** A 'next' frame was handed to the app: it counts toward the next ack. */
  delivered(): void {
    this.unackedFrames += 1;
  }

  /** The server said our cursor is gone: the next frame starts a new run, whatever its seq. */
  rebase(): void {
    this.rebaseOnNextFrame = true;
  }

  /**
   * The `after` of a `resume` to send now for a 'gap' (resume from the cursor), or undefined when
   * not to. Frames already in flight behind the gap arrive before the resend, so one resume per
   * gap is enough until `resumeRetryMs` passed without progress.
   */
  resumeAfter(now: number): number | undefined {
    const after = this.lastSeq;
    if (after === undefined) return undefined;
    const pending = this.resumePending;
    if (pending !== null && pending.after === after && now - pending.at < this.resumeRetryMs) return undefined;
    return after;
  }

  /** A `resume {after}` went out at `now`. */
  resumeSent(after: number, now: number): void {
    this.resumePending = { after, at: now };
  }

  /** The highest seq we may ack: processed, and actually received on this socket. */
  ackTarget(): number {
    return Math.min(this.lastSeq ?? 0, this.seenHigh);
  }

  /** Whether an ack would tell the server anything new. */
  ackDue(): boolean {
    return this.ackTarget() > this.ackedUpTo;
  }

  /** The frame just received (next or duplicate) is one someone waits on: ack promptly. */
  urgent(): void {
    this.urgentUnacked = true;
  }

  /** Whether an unacked frame is waited on (prompt ack) rather than only lazy ones. */
  ackUrgent(): boolean {
    return this.urgentUnacked;
  }

  /** Enough frames are unacked to ack at once instead of waiting for the burst to end. */
  ackBatchFull(): boolean {
    return this.unackedFrames >= this.ackBatchSize;
  }

  /** `ack {upTo}` went out. */
  acked(upTo: number): void {
    this.ackedUpTo = upTo;
    this.unackedFrames = 0;
    this.urgentUnacked = false;
  }
}
