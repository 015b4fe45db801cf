/**
 * Bench clients: one real WebSocket per user device (the `ws` package, no compression), behaving
 * like a well-mannered app. Against the messenger it waits for `hello`, acks mailbox frames
 * with the highest contiguous seq (coalesced: every `ackEvery` frames, else `ackDelayMs` after the
 * first unacked message from someone else, whose sender waits for the delivered receipt the ack
 * drives, else ACK_LAZY_MS after the first unacked entry of any other kind, like the SDK),
 * ignores its own echoed sends (also those carried in a `sent` with `seq`), and sends the
 * heartbeat ping. Against the bare relay it only sends and receives.
 *
 * Group frames (`group_sent`, `group_message`, `group_event`) go to the sink's optional group
 * callbacks; every group mailbox frame (also `group_receipt`, `group_read_marker`) is acked like
 * any other mailbox entry.
 *
 * Frames are read with JSON.parse, not the zod schemas: the bench client must not become the
 * bottleneck; shapes are the protocol's own types.
 */
import WebSocket from 'ws';
import {
  ACK_LAZY_MS,
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_PING,
  gseqOf,
  type AckFrame,
  type GroupEntry,
  type GroupEvent,
  type GroupMessage,
  type GroupSendFrame,
  type SendFrame,
  type ServerFrame,
} from '../protocol/index.ts';
import type { Flavor } from './ledger.ts';
import { connectUrl, type BenchUser } from './accounts.ts';
import { mapPool, progressPrinter, withTimeout } from './util.ts';

/** Where a client reports what it receives. */
export type ClientSink = {
  delivered(clientId: string, recipient: number, now: number): void;
  sentAck(clientId: string, messageId: string, duplicate: boolean, now: number): void;
  receipt(status: 'delivered' | 'read', messageIds: readonly string[], now: number): void;
  failed(clientId: string | null, code: string): void;
  /** Group scenario only: `group_sent` for the client id `clientId`. */
  groupSent?(clientId: string, gseq: number, now: number): void;
  /** Group scenario only: a group log entry (message or system event) reached client `recipient`. */
  groupEntry?(recipient: number, entry: GroupMessage | GroupEvent, kind: 'message' | 'event', now: number): void;
};

/** Counters over all clients of one run (protocol-level health, not per message). */
export type ClientTotals = {
  framesIn: number;
  framesOut: number;
  mailboxFrames: number;
  acksSent: number;
  /** Own sends echoed back as mailbox entries (multi-device copies). */
  echoes: number;
  /** A mailbox seq skipped ahead of the contiguous position (server promises contiguity). */
  seqGaps: number;
  /** A mailbox seq at or below one already seen. */
  seqRepeats: number;
  /** Frames of a type the client did not expect. */
  unexpected: number;
  /** Sockets the server closed while the bench was running, by close code. */
  closedByServer: Record<string, number>;
};

export function emptyTotals(): ClientTotals {
  return {
    framesIn: 0,
    framesOut: 0,
    mailboxFrames: 0,
    acksSent: 0,
    echoes: 0,
    seqGaps: 0,
    seqRepeats: 0,
    unexpected: 0,
    closedByServer: {},
  };
}

export type ClientOptions = {
  flavor: Flavor;
  /** ws://127.0.0.1:PORT */
  wsBase: string;
  index: number;
  userId: string;
  /** Messenger bearer token (unused by the relay). */
  token: string;
  sink: ClientSink;
  totals: ClientTotals;
  ackEvery: number;
  ackDelayMs: number;
  timeoutMs: number;
  /** Relay only: ask the durable relay to store every 1:1 frame in both objects (bench/relay/worker.ts). */
  relayStore?: boolean;
};

export class BenchClient {
  readonly index: number;
  readonly userId: string;
  readonly #ws: WebSocket;
  readonly #options: ClientOptions;
  /** Highest mailbox seq received with no gap before it. */
  #contiguous = 0;
  /** Highest seq acknowledged to the server. */
  #acked = 0;
  #ackTimer: NodeJS.Timeout | null = null;
  /** Whether the pending ack timer is the lazy one (no unacked message from someone else yet). */
  #ackLazy = false;
  /** An unacked entry is a message from someone else (its sender waits for the ack). */
  #urgent = false;
  #heartbeat: NodeJS.Timeout | null = null;
  #closing = false;
  /** Large groups (read diffusion): gseq cursor and the pull in flight, per group. */
  readonly #large = new Map<string, { cursor: number; head: number; pulling: boolean }>();
  #pulls = 0;
  /** Resolves `connect` when the server's first frame arrives. */
  #onHello: (() => void) | null = null;

  private constructor(ws: WebSocket, options: ClientOptions) {
    this.#ws = ws;
    this.#options = options;
    this.index = options.index;
    this.userId = options.userId;
  }

  /** Open the socket and resolve once the server's `hello` arrived. */
  static async connect(options: ClientOptions): Promise<BenchClient> {
    const url =
      options.flavor === 'messenger'
        ? await connectUrl(options.wsBase, options.token)
        : `${options.wsBase}/connect?user=${encodeURIComponent(options.userId)}`;
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: options.timeoutMs });
    const client = new BenchClient(ws, options);
    const hello = new Promise<void>((resolve, reject) => {
      client.#onHello = resolve;
      ws.once('error', reject);
      ws.once('close', (code) => reject(new Error(`closed with ${code} before hello`)));
    });
    ws.on('message', (data, isBinary) => client.#onMessage(isBinary ? '' : data.toString()));
    try {
      await withTimeout(hello, options.timeoutMs, `user ${options.index}: no hello`);
    } catch (error) {
      ws.terminate();
      throw error;
    }
    ws.removeAllListeners('error');
    ws.removeAllListeners('close');
    ws.on('error', () => undefined);
    ws.on('close', (code) => client.#onClose(code));
    if (options.flavor === 'messenger') {
      client.#heartbeat = setInterval(() => client.#write(HEARTBEAT_PING), HEARTBEAT_INTERVAL_MS);
      client.#heartbeat.unref();
    }
    return client;
  }

  send(frame: SendFrame | GroupSendFrame | RelayGroupSendFrame): void {
    this.#write(JSON.stringify(this.#options.relayStore && frame.type === 'send' ? { ...frame, store: true } : frame));
  }

  /** Flush the pending ack, close with 1000, and wait (bounded) for the close handshake. */
  async close(timeoutMs = 2_000): Promise<void> {
    this.#flushAck();
    this.#closing = true;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    if (this.#ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => this.#ws.once('close', () => resolve()));
    this.#ws.close(1000, 'bench done');
    await withTimeout(closed, timeoutMs, 'close handshake').catch(() => this.#ws.terminate());
  }

  #write(text: string): void {
    if (this.#ws.readyState !== WebSocket.OPEN) return;
    this.#ws.send(text);
    this.#options.totals.framesOut++;
  }

  #onMessage(text: string): void {
    const now = performance.now();
    const { totals, sink, flavor } = this.#options;
    totals.framesIn++;
    let frame: ServerFrame | RelayFrame;
    try {
      frame = JSON.parse(text) as ServerFrame | RelayFrame;
    } catch {
      totals.unexpected++;
      return;
    }
    switch (frame.type) {
      case 'hello':
        if (flavor === 'messenger' && 'cursor' in frame) {
          this.#contiguous = frame.cursor;
          this.#acked = frame.cursor;
        }
        this.#onHello?.();
        this.#onHello = null;
        return;
      case 'send': // the bare relay forwards the sender's frame verbatim
        sink.delivered(frame.id, this.index, now);
        return;
      case 'message': {
        const own = frame.message.from === this.userId;
        this.#mailbox(frame.seq, !own);
        if (own) totals.echoes++;
        else sink.delivered(frame.message.clientId, this.index, now);
        return;
      }
      case 'receipt':
        this.#mailbox(frame.seq);
        sink.receipt(frame.status, frame.messageIds, now);
        return;
      case 'read_marker':
        this.#mailbox(frame.seq);
        return;
      case 'sent':
        // With `seq`, the answer also carries this user's copy: the mailbox entry at `seq`.
        if (frame.seq !== undefined) {
          this.#mailbox(frame.seq);
          totals.echoes++;
        }
        sink.sentAck(frame.id, frame.messageId, frame.duplicate, now);
        return;
      case 'group_message':
        this.#mailbox(frame.seq, frame.message.from !== this.userId);
        if (frame.message.from === this.userId) totals.echoes++;
        if (sink.groupEntry) sink.groupEntry(this.index, frame.message, 'message', now);
        else totals.unexpected++;
        return;
      case 'group_event':
        this.#mailbox(frame.seq);
        if (sink.groupEntry) sink.groupEntry(this.index, frame.event, 'event', now);
        else totals.unexpected++;
        return;
      case 'group_receipt':
      case 'group_read_marker':
        this.#mailbox(frame.seq);
        return;
      case 'group_sent':
        if (sink.groupSent) sink.groupSent(frame.id, frame.gseq, now);
        else totals.unexpected++;
        return;
      case 'error':
        sink.failed(frame.id, frame.code);
        return;
      case 'pong':
        return;
      case 'group_heads':
        for (const g of frame.groups) {
          const known = this.#large.get(g.group);
          if (known) known.head = Math.max(known.head, g.head);
          else this.#large.set(g.group, { cursor: g.from, head: g.head, pulling: false });
          this.#pull(g.group);
        }
        return;
      case 'group_live': {
        const g = this.#large.get(frame.group);
        if (!g) return;
        g.head = Math.max(g.head, frame.through);
        if (!g.pulling && frame.after <= g.cursor) this.#logEntries(g, frame.entries, frame.through, now);
        this.#pull(frame.group);
        return;
      }
      case 'group_entries': {
        const g = this.#large.get(frame.group);
        if (!g) return;
        g.pulling = false;
        g.head = Math.max(g.head, frame.head);
        this.#logEntries(g, frame.entries, frame.through, now);
        this.#pull(frame.group);
        return;
      }
      default:
        totals.unexpected++;
    }
  }

  /** A large group's entries (live or pulled): those past the cursor reach the sink, once. */
  #logEntries(g: { cursor: number }, entries: readonly GroupEntry[], through: number, now: number): void {
    const { totals, sink } = this.#options;
    for (const entry of entries) {
      const gseq = gseqOf(entry);
      if (gseq <= g.cursor) continue;
      g.cursor = gseq;
      if (entry.type === 'message') {
        if (entry.message.from === this.userId) totals.echoes++;
        sink.groupEntry?.(this.index, entry.message, 'message', now);
      } else if (entry.type === 'event') {
        sink.groupEntry?.(this.index, entry.event, 'event', now);
      }
    }
    g.cursor = Math.max(g.cursor, through);
  }

  #pull(group: string): void {
    const g = this.#large.get(group);
    if (!g || g.pulling || g.cursor >= g.head) return;
    g.pulling = true;
    this.#write(JSON.stringify({ type: 'group_pull', id: `pull-${this.index}-${++this.#pulls}`, group, after: g.cursor }));
  }

  /** Track contiguity and schedule a coalesced ack (`urgent`: a message from someone else). */
  #mailbox(seq: number, urgent = false): void {
    const { totals, ackEvery, ackDelayMs } = this.#options;
    totals.mailboxFrames++;
    if (seq === this.#contiguous + 1) {
      this.#contiguous = seq;
    } else if (seq <= this.#contiguous) {
      totals.seqRepeats++;
      return;
    } else {
      // A real client would send `resume`; the bench counts it (it should never happen) and moves on.
      totals.seqGaps++;
      this.#contiguous = seq;
    }
    if (urgent) this.#urgent = true;
    if (this.#contiguous - this.#acked >= ackEvery) {
      this.#flushAck();
    } else if (this.#urgent) {
      // A lazy timer gives way to the prompt one; a prompt one keeps its deadline.
      if (this.#ackLazy) this.#stopAckTimer();
      this.#ackTimer ??= setTimeout(() => this.#flushAck(), ackDelayMs);
    } else if (!this.#ackTimer) {
      this.#ackTimer = setTimeout(() => this.#flushAck(), ACK_LAZY_MS);
      this.#ackLazy = true;
    }
  }

  #stopAckTimer(): void {
    if (this.#ackTimer) clearTimeout(this.#ackTimer);
    this.#ackTimer = null;
    this.#ackLazy = false;
  }

  #flushAck(): void {
    this.#stopAckTimer();
    this.#urgent = false;
    if (this.#contiguous <= this.#acked) return;
    const ack: AckFrame = { type: 'ack', upTo: this.#contiguous };
    this.#acked = this.#contiguous;
    this.#write(JSON.stringify(ack));
    this.#options.totals.acksSent++;
  }

  #onClose(code: number): void {
    if (this.#ackTimer) clearTimeout(this.#ackTimer);
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    if (this.#closing) return;
    const key = String(code);
    this.#options.totals.closedByServer[key] = (this.#options.totals.closedByServer[key] ?? 0) + 1;
  }
}

/**
 * Connect one device per user, `concurrency` handshakes at a time, with progress on stderr.
 * Each client is also pushed to `opened` as soon as it is open, so the caller can close them
 * all even if a later handshake fails. Client index = user index.
 */
export async function connectAll(
  users: readonly BenchUser[],
  options: Omit<ClientOptions, 'index' | 'userId' | 'token'>,
  concurrency: number,
  label: string,
  opened: BenchClient[],
): Promise<BenchClient[]> {
  const progress = progressPrinter(`${label} connected`, users.length);
  let connected = 0;
  return mapPool(users.length, concurrency, async (i) => {
    const user = users[i]!;
    const client = await BenchClient.connect({ ...options, index: user.index, userId: user.userId, token: user.token });
    opened.push(client);
    progress(++connected);
    return client;
  });
}

/** What the bare relay sends: `hello` on connect, then other users' `send` frames verbatim. */
type RelayFrame = { type: 'hello' } | SendFrame | RelayGroupSendFrame;

/** A group message to the bare relay: a `send` naming the group instead of a recipient (bench/relay/worker.ts). */
export type RelayGroupSendFrame = { type: 'send'; id: string; group: string; body: GroupSendFrame['body'] };
