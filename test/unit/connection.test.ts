import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ACK_LAZY_MS, CLOSE_CODES, HEARTBEAT_PING, HEARTBEAT_PONG } from '../../protocol/index.ts';
import type { MailboxFrame } from '../../protocol/index.ts';
import { Connection, MemoryCursorStore, MessengerError, connectUrl } from '../../client/index.ts';
import type { ConnectionOptions, ConnectionState, CursorExpiredEvent } from '../../client/index.ts';
import {
  FakeSocket,
  GROUP,
  ME,
  MY_DEVICE,
  PEER,
  groupEventFrame,
  groupMessageFrame,
  groupReadMarkerFrame,
  groupReceiptFrame,
  groupSentFrame,
  messageFrame,
  receiptFrame,
  sentFrame,
} from './fake-socket.ts';

const HEARTBEAT = 1_000;

let tickets = 0;

/** A synchronous ticket source: `t1`, `t2`, ... (a new one per attempt). */
function nextTicket(): string {
  tickets += 1;
  return `t${tickets}`;
}

/** A ticket source the test answers by hand: each attempt's request waits in `requests`. */
function manualTickets(): {
  ticket: () => Promise<string>;
  requests: Array<{ resolve: (ticket: string) => void; reject: (error: unknown) => void }>;
} {
  const requests: Array<{ resolve: (ticket: string) => void; reject: (error: unknown) => void }> = [];
  return { requests, ticket: () => new Promise<string>((resolve, reject) => requests.push({ resolve, reject })) };
}

function makeConnection(overrides: Partial<ConnectionOptions> = {}): Connection {
  return new Connection({
    baseUrl: 'http://chat.test',
    ticket: nextTicket,
    WebSocket: FakeSocket,
    heartbeatIntervalMs: HEARTBEAT,
    // Deterministic backoff: always half the ceiling (125 ms, 250 ms, 500 ms, ...).
    backoff: { baseMs: 250, capMs: 30_000, random: () => 0.5 },
    ...overrides,
  });
}

/** Collects the seqs the app was given. */
function recordMailbox(connection: Connection): number[] {
  const seqs: number[] = [];
  connection.on('mailbox', (frame: MailboxFrame) => seqs.push(frame.seq));
  return seqs;
}

function acks(socket: FakeSocket): number[] {
  return socket.framesOfType('ack').map((f) => f.upTo);
}

describe('Connection', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.reset();
    tickets = 0;
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  describe('connecting', () => {
    it('derives the ws URL from the base URL, goes connecting → open on hello, and resolves connect()', async () => {
      const connection = makeConnection();
      const states: ConnectionState[] = [];
      connection.on('state', (change) => states.push(change.state));
      const connected = connection.connect();
      expect(connection.state).toBe('connecting');
      const socket = FakeSocket.last;
      expect(socket.url).toBe('ws://chat.test/v1/connect?ticket=t1');
      socket.hello({ cursor: 0, head: 0 });
      await expect(connected).resolves.toMatchObject({ type: 'hello', cursor: 0 });
      expect(connection.state).toBe('open');
      expect(states).toEqual(['connecting', 'open']);
    });

    it('maps https to wss and keeps a path prefix', () => {
      expect(connectUrl('https://x.test/api/', 't k', 5)).toBe('wss://x.test/api/v1/connect?ticket=t+k&cursor=5');
    });

    it('starts from the cursor in the CursorStore and saves the processed cursor when acking', () => {
      const store = new MemoryCursorStore(41);
      const connection = makeConnection({ cursorStore: store });
      void connection.connect();
      const socket = FakeSocket.last;
      expect(socket.params.get('cursor')).toBe('41');
      socket.hello({ cursor: 41, head: 43 });
      socket.deliver(messageFrame(42)).deliver(messageFrame(43));
      vi.advanceTimersByTime(20);
      expect(acks(socket)).toEqual([43]);
      expect(store.get()).toBe(43);
    });
  });

  describe('acks', () => {
    it('coalesces a burst into one ack after the idle delay, acking the highest processed seq', () => {
      const connection = makeConnection();
      void connection.connect();
      const socket = FakeSocket.last.hello({ cursor: 0, head: 3 });
      socket.deliver(messageFrame(1)).deliver(messageFrame(2)).deliver(receiptFrame(3));
      expect(acks(socket)).toEqual([]); // nothing yet: still coalescing
      vi.advanceTimersByTime(19);
      expect(acks(socket)).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(acks(socket)).toEqual([3]);
      vi.advanceTimersByTime(1_000);
      expect(acks(socket)).toEqual([3]); // no repeated ack without new frames
    });

    it('acks at once after ackBatchSize frames even while frames keep coming', () => {
      const connection = makeConnection();
      void connection.connect();
      const socket = FakeSocket.last.hello({ cursor: 0, head: 200 });
      for (let seq = 1; seq <= 130; seq++) socket.deliver(messageFrame(seq));
      expect(acks(socket)).toEqual([64, 128]);
      vi.advanceTimersByTime(20);
      expect(acks(socket)).toEqual([64, 128, 130]);
    });

    it('never acks a seq this connection has not received (not the hello cursor, not gap frames)', () => {
      const connection = makeConnection({ cursorStore: new MemoryCursorStore(10) });
      void connection.connect();
      const socket = FakeSocket.last.hello({ cursor: 10, head: 20 });
      vi.advanceTimersByTime(100);
      expect(acks(socket)).toEqual([]); // hello alone: nothing received yet
      socket.deliver(messageFrame(11)).deliver(messageFrame(14)); // 14 is past a gap
      vi.advanceTimersByTime(100);
      expect(acks(socket)).toEqual([11]);
      for (const upTo of acks(socket)) expect(upTo).toBeLessThanOrEqual(11);
    });
  });

  it('when the server restarts below our cursor, redelivered entries are hidden but acks stay ≤ what arrived', () => {
    const connection = makeConnection({ cursorStore: new MemoryCursorStore(10) });
    const seqs = recordMailbox(connection);
    void connection.connect();
    const socket = FakeSocket.last.hello({ cursor: 5, head: 12 });
    socket.deliver(messageFrame(6)).deliver(messageFrame(7));
    vi.advanceTimersByTime(20);
    expect(seqs).toEqual([]); // 6 and 7 were processed in an earlier session
    expect(acks(socket)).toEqual([7]); // acked (window keeps moving) but not beyond what arrived
    for (const seq of [8, 9, 10, 11]) socket.deliver(messageFrame(seq));
    vi.advanceTimersByTime(20);
    expect(seqs).toEqual([11]);
    expect(acks(socket)).toEqual([7, 11]);
  });

  describe('lazy acks (entries nobody waits on)', () => {
    /** A copy of my own message (sent from another device, or carried in a `sent`). */
    const ownCopy = (seq: number) => messageFrame(seq, { from: ME, fromDevice: MY_DEVICE, to: PEER });

    it('acks own copies and receipts ACK_LAZY_MS after the first of them, not after the debounce', () => {
      const connection = makeConnection({ heartbeatIntervalMs: 60_000 });
      void connection.connect();
      const socket = FakeSocket.last.hello({ cursor: 0, head: 3 });
      socket.deliver(ownCopy(1));
      vi.advanceTimersByTime(20);
      expect(acks(socket)).toEqual([]);
      vi.advanceTimersByTime(480);
      // A later lazy frame does not push the deadline back.
      socket.deliver(receiptFrame(2)).deliver(groupEventFrame(3));
      vi.advanceTimersByTime(ACK_LAZY_MS - 501);
      expect(acks(socket)).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(acks(socket)).toEqual([3]);
      vi.advanceTimersByTime(5 * ACK_LAZY_MS);
      expect(acks(socket)).toEqual([3]);
    });

    it('sends lazy entries with the next prompt ack: a message from someone else makes the ack urgent', () => {
      const connection = makeConnection({ heartbeatIntervalMs: 60_000 });
      void connection.connect();
      const socket = FakeSocket.last.hello({ cursor: 0, head: 4 });
      socket.deliver(ownCopy(1)).deliver(receiptFrame(2));
      vi.advanceTimersByTime(100);
      socket.deliver(messageFrame(3)); // from PEER: its sender waits for the delivered tick
      vi.advanceTimersByTime(20);
      expect(acks(socket)).toEqual([3]);
      // Own group messages are lazy too; another member's is not.
      socket.deliver(groupMessageFrame(4, { from: ME, fromDevice: MY_DEVICE }));
      vi.advanceTimersByTime(20);
      expect(acks(socket)).toEqual([3]);
      socket.deliver(groupMessageFrame(5));
      vi.advanceTimersByTime(20);
      expect(acks(socket)).toEqual([3, 5]);
    });

    it('acks lazy entries at once when the batch is full (the delivery window waits for it)', () => {
      const connection = makeConnection({ ackBatchSize: 3, heartbeatIntervalMs: 60_000 });
      void connection.connect();
      const socket = FakeSocket.last.hello({ cursor: 0, head: 4 });
      socket.deliver(ownCopy(1)).deliver(receiptFrame(2));
      expect(acks(socket)).toEqual([]);
      socket.deliver(receiptFrame(3));
      expect(acks(socket)).toEqual([3]);
      socket.deliver(receiptFrame(4));
      vi.advanceTimersByTime(ACK_LAZY_MS);
      expect(acks(socket)).toEqual([3, 4]);
    });

    it('saves the cursor after the burst while the ack itself waits (a restart does not replay them)', () => {
      const store = new MemoryCursorStore(0);
      const connection = makeConnection({ cursorStore: store, heartbeatIntervalMs: 60_000 });
      void connection.connect();
      const socket = FakeSocket.last.hello({ cursor: 0, head: 2 });
      socket.deliver(ownCopy(1)).deliver(receiptFrame(2));
      vi.advanceTimersByTime(20);
      expect(store.get()).toBe(2);
      expect(acks(socket)).toEqual([]);
      vi.advanceTimersByTime(ACK_LAZY_MS);
      expect(acks(socket)).toEqual([2]);
    });

    it('close() sends no lazy ack (the saved cursor acknowledges it on the next connection) but sends an urgent one', () => {
      const store = new MemoryCursorStore(0);
      const connection = makeConnection({ cursorStore: store, heartbeatIntervalMs: 60_000 });
      void connection.connect();
      const socket = FakeSocket.last.hello({ cursor: 0, head: 2 });
      socket.deliver(receiptFrame(1)).deliver(ownCopy(2));
      connection.close();
      // Nothing goes out before the close frame (a browser gone offline held a close queued behind an ack).
      expect(acks(socket)).toEqual([]);
      expect(store.get()).toBe(2);
      vi.advanceTimersByTime(5 * ACK_LAZY_MS);
      expect(acks(socket)).toEqual([]);

      const again = makeConnection({ cursorStore: store, heartbeatIntervalMs: 60_000 });
      void again.connect();
      // The next connection opens from the saved cursor: that is the acknowledgement.
      expect(FakeSocket.last.url).toContain('cursor=2');
      const next = FakeSocket.last.hello({ cursor: 2, head: 4 });
      next.deliver(receiptFrame(3)).deliver(messageFrame(4)); // from PEER: its sender waits for the tick
      again.close();
      expect(acks(next)).toEqual([4]);
    });

    it('honours lazyAckDelayMs', () => {
      const connection = makeConnection({ lazyAckDelayMs: 200, heartbeatIntervalMs: 60_000 });
      void connection.connect();
      const socket = FakeSocket.last.hello({ cursor: 0, head: 1 });
      socket.deliver(receiptFrame(1));
      vi.advanceTimersByTime(199);
      expect(acks(socket)).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(acks(socket)).toEqual([1]);
    });
  });

  describe('sent carrying the own copy (seq + message)', () => {
    it('hands the copy to the app as the mailbox entry at seq, then emits the plain sent', () => {
      const connection = makeConnection({ heartbeatIntervalMs: 60_000 });
      const events: unknown[] = [];
      connection.on('mailbox', (frame) => events.push(['mailbox', frame]));
      connection.on('sent', (frame) => events.push(['sent', frame]));
      void connection.connect();
      const socket = FakeSocket.last.hello({ cursor: 0, head: 1 });
      socket.deliver(messageFrame(1));
      const copy = messageFrame(2, { from: ME, fromDevice: MY_DEVICE, to: PEER, clientId: 'mine' });
      if (copy.type !== 'message') throw new Error('unreachable');
      const answer = sentFrame('mine', { messageId: copy.message.id });
      socket.deliver({ ...answer, seq: 2, message: copy.message });
      expect(events.slice(1)).toEqual([
        ['mailbox', copy],
        ['sent', answer],
      ]);
      expect(connection.cursor).toBe(2);
      vi.advanceTimersByTime(20);
      expect(acks(socket)).toEqual([2]); // seq 1 (from PEER) made it prompt; the copy rides along
    });

    it('treats its seq like any entry: a duplicate is not surfaced again, a gap asks for a resume; the answer is emitted either way', () => {
      const connection = makeConnection({ heartbeatIntervalMs: 60_000 });
      const seqs = recordMailbox(connection);
      const sent: string[] = [];
      connection.on('sent', (frame) => sent.push(frame.id));
      void connection.connect();
      const socket = FakeSocket.last.hello({ cursor: 0, head: 3 });
      socket.deliver(messageFrame(1));
      const mine = (seq: number) => {
        const copy = messageFrame(seq, { from: ME, fromDevice: MY_DEVICE, to: PEER, clientId: `mine-${seq}` });
        if (copy.type !== 'message') throw new Error('unreachable');
        return { ...sentFrame(`mine-${seq}`, { messageId: copy.message.id }), seq, message: copy.message };
      };
      socket.deliver(mine(1)); // a duplicate of seq 1
      socket.deliver(mine(3)); // past a gap (2 missing)
      expect(seqs).toEqual([1]);
      expect(sent).toEqual(['mine-1', 'mine-3']);
      expect(socket.framesOfType('resume')).toEqual([{ type: 'resume', after: 1 }]);
    });
  });

  describe('ordering', () => {
    it('suppresses duplicate seqs: every entry reaches the app exactly once', () => {
      const connection = makeConnection();
      const seqs = recordMailbox(connection);
      void connection.connect();
      const socket = FakeSocket.last.hello({ cursor: 0, head: 3 });
      for (const seq of [1, 2, 2, 1, 3, 3]) socket.deliver(messageFrame(seq));
      expect(seqs).toEqual([1, 2, 3]);
    });

    it('detects a gap, sends one resume {after: last}, and surfaces the repaired stream in order', () => {
      const connection = makeConnection();
      const seqs = recordMailbox(connection);
      void connection.connect();
      const socket = FakeSocket.last.hello({ cursor: 0, head: 5 });
      socket.deliver(messageFrame(1)).deliver(messageFrame(2));
      socket.deliver(messageFrame(4)).deliver(messageFrame(5)); // 3 went missing
      expect(socket.framesOfType('resume')).toEqual([{ type: 'resume', after: 2 }]); // once, not per frame
      expect(seqs).toEqual([1, 2]);
      // The server resends from 3.
      for (const seq of [3, 4, 5]) socket.deliver(messageFrame(seq));
      expect(seqs).toEqual([1, 2, 3, 4, 5]);
    });

    it('repeats the resume when the gap persists past resumeRetryMs', () => {
      const connection = makeConnection({ resumeRetryMs: 1_000, heartbeatIntervalMs: 60_000 });
      void connection.connect();
      const socket = FakeSocket.last.hello({ cursor: 0, head: 9 });
      socket.deliver(messageFrame(2));
      vi.advanceTimersByTime(1_000);
      socket.deliver(messageFrame(3));
      expect(socket.framesOfType('resume')).toEqual([
        { type: 'resume', after: 0 },
        { type: 'resume', after: 0 },
      ]);
    });
  });

  describe('heartbeat and liveness', () => {
    it('sends exactly HEARTBEAT_PING every interval', () => {
      const connection = makeConnection();
      void connection.connect();
      const socket = FakeSocket.last.hello();
      vi.advanceTimersByTime(HEARTBEAT - 1);
      expect(socket.sent).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(socket.sent).toEqual([HEARTBEAT_PING]);
      expect(socket.sent[0]).toBe('{"type":"ping"}');
      socket.deliver(HEARTBEAT_PONG);
      vi.advanceTimersByTime(HEARTBEAT);
      expect(socket.sent).toEqual([HEARTBEAT_PING, HEARTBEAT_PING]);
    });

    it('stays up while pongs arrive', () => {
      const connection = makeConnection();
      void connection.connect();
      const socket = FakeSocket.last.hello();
      for (let i = 0; i < 10; i++) {
        vi.advanceTimersByTime(HEARTBEAT);
        socket.deliver(HEARTBEAT_PONG);
      }
      expect(connection.state).toBe('open');
      expect(FakeSocket.instances).toHaveLength(1);
    });

    it('treats ~2 silent heartbeat intervals as a dead connection and reconnects', () => {
      const connection = makeConnection();
      void connection.connect();
      const first = FakeSocket.last.hello();
      vi.advanceTimersByTime(2 * HEARTBEAT - 1);
      expect(connection.state).toBe('open');
      vi.advanceTimersByTime(1);
      expect(connection.state).toBe('reconnecting');
      expect(first.closedByClient).toBeDefined(); // the dead socket is closed, not leaked
      vi.advanceTimersByTime(125); // first backoff delay with random 0.5
      expect(FakeSocket.instances).toHaveLength(2);
      FakeSocket.last.hello();
      expect(connection.state).toBe('open');
    });

    it('gives up on a connect attempt that never opens', () => {
      const connection = makeConnection();
      void connection.connect();
      vi.advanceTimersByTime(2 * HEARTBEAT);
      expect(connection.state).toBe('reconnecting');
    });
  });

  describe('reconnecting', () => {
    it('reconnects with exponential backoff + jitter, carrying the latest cursor, and resets after hello', () => {
      const connection = makeConnection();
      const delays: number[] = [];
      connection.on('reconnect', (info) => delays.push(info.delayMs));
      void connection.connect();
      let socket = FakeSocket.last.hello({ cursor: 0, head: 5 });
      for (let seq = 1; seq <= 5; seq++) socket.deliver(messageFrame(seq));
      socket.serverClose(1006);
      expect(connection.state).toBe('reconnecting');
      vi.advanceTimersByTime(124);
      expect(FakeSocket.instances).toHaveLength(1);
      vi.advanceTimersByTime(1);
      expect(FakeSocket.instances).toHaveLength(2);
      expect(FakeSocket.last.params.get('cursor')).toBe('5');

      FakeSocket.last.serverClose(1006); // fails before hello: next delay doubles
      vi.advanceTimersByTime(250);
      expect(FakeSocket.instances).toHaveLength(3);
      socket = FakeSocket.last.hello({ cursor: 5, head: 6 });
      socket.deliver(messageFrame(6));
      socket.serverClose(CLOSE_CODES.going_away);
      vi.advanceTimersByTime(125); // reset to the base after the successful hello
      expect(FakeSocket.instances).toHaveLength(4);
      expect(FakeSocket.last.params.get('cursor')).toBe('6');
      expect(delays).toEqual([125, 250, 125]);
    });

    it('ignores events from a socket it already abandoned', () => {
      const connection = makeConnection();
      const seqs = recordMailbox(connection);
      void connection.connect();
      const old = FakeSocket.last.hello();
      old.serverClose(1006);
      vi.advanceTimersByTime(125);
      FakeSocket.last.hello();
      old.deliver(messageFrame(1)); // a late frame on the dead socket
      expect(seqs).toEqual([]);
      expect(connection.state).toBe('open');
    });

    it.each([
      [CLOSE_CODES.device_revoked, 'device_revoked'],
      [CLOSE_CODES.replaced, 'replaced'],
    ])('stops for good on fatal close code %i', async (code, errorCode) => {
      const connection = makeConnection();
      const states: Array<{ state: ConnectionState; code?: number; error?: MessengerError }> = [];
      connection.on('state', (change) => states.push(change));
      void connection.connect();
      FakeSocket.last.hello();
      const reconnected = connection.connect(); // a waiter that should be rejected
      FakeSocket.last.serverClose(code, '');
      expect(connection.state).toBe('closed');
      const closed = states.at(-1);
      expect(closed).toMatchObject({ state: 'closed', code });
      expect(closed?.error?.code).toBe(errorCode);
      vi.advanceTimersByTime(120_000);
      expect(FakeSocket.instances).toHaveLength(1);
      // connect() during 'open' resolved immediately with the hello.
      await expect(reconnected).resolves.toMatchObject({ type: 'hello' });
    });

    it('rejects a pending connect() when a fatal close happens before hello', async () => {
      const connection = makeConnection();
      const connected = connection.connect();
      FakeSocket.last.open().serverClose(CLOSE_CODES.device_revoked, 'logged out');
      await expect(connected).rejects.toMatchObject({ code: 'device_revoked' });
    });

    it('close() flushes the pending ack and stops reconnecting', () => {
      const connection = makeConnection();
      void connection.connect();
      const socket = FakeSocket.last.hello({ cursor: 0, head: 2 });
      socket.deliver(messageFrame(1)).deliver(messageFrame(2));
      connection.close();
      expect(acks(socket)).toEqual([2]);
      expect(socket.closedByClient?.code).toBe(1000);
      expect(connection.state).toBe('closed');
      vi.advanceTimersByTime(120_000);
      expect(FakeSocket.instances).toHaveLength(1);
    });

  });

  describe('connect tickets', () => {
    it('puts a fresh ticket, never the token, in the URL of every attempt', () => {
      const ticket = vi.fn(nextTicket);
      const connection = makeConnection({ ticket, cursorStore: new MemoryCursorStore(7) });
      void connection.connect();
      FakeSocket.last.serverClose(1006);
      vi.advanceTimersByTime(125);
      FakeSocket.last.hello({ cursor: 7, head: 7 }).serverClose(CLOSE_CODES.going_away);
      vi.advanceTimersByTime(125);
      expect(ticket).toHaveBeenCalledTimes(3);
      expect(FakeSocket.instances.map((socket) => socket.params.get('ticket'))).toEqual(['t1', 't2', 't3']);
      for (const socket of FakeSocket.instances) {
        expect(socket.params.has('token')).toBe(false);
        expect(socket.url).not.toMatch(/token/);
        expect(socket.params.get('cursor')).toBe('7');
      }
    });

    it('opens the socket only once an asynchronous ticket arrives', async () => {
      const tickets = manualTickets();
      const connection = makeConnection({ ticket: tickets.ticket });
      const connected = connection.connect();
      expect(connection.state).toBe('connecting');
      expect(tickets.requests).toHaveLength(1);
      expect(FakeSocket.instances).toHaveLength(0);
      tickets.requests[0]?.resolve('async-ticket');
      await vi.advanceTimersByTimeAsync(0);
      expect(FakeSocket.last.params.get('ticket')).toBe('async-ticket');
      FakeSocket.last.hello();
      await expect(connected).resolves.toMatchObject({ type: 'hello' });
    });

    it.each(['unauthorized', 'token_invalid', 'token_expired', 'device_revoked'] as const)(
      'closes for good when the ticket request says %s (no socket, no retry)',
      async (code) => {
        const tickets = manualTickets();
        const connection = makeConnection({ ticket: tickets.ticket });
        const states: Array<{ state: ConnectionState; error?: MessengerError }> = [];
        connection.on('state', (change) => states.push(change));
        const connected = connection.connect();
        tickets.requests[0]?.reject(new MessengerError(code));
        await expect(connected).rejects.toMatchObject({ code });
        expect(connection.state).toBe('closed');
        expect(states.at(-1)?.error?.code).toBe(code);
        await vi.advanceTimersByTimeAsync(120_000);
        expect(tickets.requests).toHaveLength(1);
        expect(FakeSocket.instances).toHaveLength(0);
      },
    );

    it('also closes when the ticket source throws a dead-token error synchronously', async () => {
      const connection = makeConnection({
        ticket: () => {
          throw new MessengerError('unauthorized', 'No token: log in first');
        },
      });
      await expect(connection.connect()).rejects.toMatchObject({ code: 'unauthorized' });
      expect(connection.state).toBe('closed');
      expect(FakeSocket.instances).toHaveLength(0);
    });

    it.each([
      ['a network error', new MessengerError('unavailable', 'POST /v1/connect/ticket: network error', { status: 0 })],
      ['a 5xx', new MessengerError('internal', 'Internal error', { status: 500 })],
      ['a 503', new MessengerError('unavailable', 'HTTP 503', { status: 503 })],
    ])('treats %s from the ticket request as a failed attempt: backoff, then a new ticket', async (_label, failure) => {
      const tickets = manualTickets();
      const connection = makeConnection({ ticket: tickets.ticket });
      const reconnects: Array<{ delayMs: number; error?: MessengerError }> = [];
      connection.on('reconnect', (info) => reconnects.push(info));
      const connected = connection.connect();
      tickets.requests[0]?.reject(failure);
      await vi.advanceTimersByTimeAsync(0);
      expect(connection.state).toBe('reconnecting');
      expect(reconnects).toEqual([expect.objectContaining({ delayMs: 125, error: failure })]);
      await vi.advanceTimersByTimeAsync(124);
      expect(tickets.requests).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(tickets.requests).toHaveLength(2);
      tickets.requests[1]?.resolve('second');
      await vi.advanceTimersByTimeAsync(0);
      expect(FakeSocket.instances.map((socket) => socket.params.get('ticket'))).toEqual(['second']);
      FakeSocket.last.hello();
      await expect(connected).resolves.toMatchObject({ type: 'hello' });
    });

    it('waits at least retryAfterMs after a rate-limited ticket request, and backoff keeps growing underneath', async () => {
      const tickets = manualTickets();
      const connection = makeConnection({ ticket: tickets.ticket });
      const delays: number[] = [];
      connection.on('reconnect', (info) => delays.push(info.delayMs));
      void connection.connect();
      tickets.requests[0]?.reject(new MessengerError('rate_limited', 'slow down', { status: 429, retryAfterMs: 5_000 }));
      await vi.advanceTimersByTimeAsync(4_999);
      expect(tickets.requests).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(tickets.requests).toHaveLength(2);
      tickets.requests[1]?.reject(new MessengerError('rate_limited', 'slow down', { status: 429, retryAfterMs: 100 }));
      await vi.advanceTimersByTimeAsync(0);
      expect(delays).toEqual([5_000, 250]); // the second wait is the (larger) backoff, not 100 ms
      expect(FakeSocket.instances).toHaveLength(0);
    });

    it('reports an unexpected ticket failure as an error event and still retries', () => {
      let calls = 0;
      const connection = makeConnection({
        ticket: () => {
          calls += 1;
          if (calls === 1) throw new TypeError('boom');
          return 'ok';
        },
      });
      const errors: MessengerError[] = [];
      connection.on('error', (error) => errors.push(error));
      void connection.connect();
      expect(connection.state).toBe('reconnecting');
      expect(errors.map((e) => [e.code, e.message])).toEqual([['internal', 'Getting a connect ticket failed: boom']]);
      vi.advanceTimersByTime(125);
      expect(FakeSocket.last.params.get('ticket')).toBe('ok');
    });

    it('ignores a ticket that arrives after close()', async () => {
      const tickets = manualTickets();
      const connection = makeConnection({ ticket: tickets.ticket });
      const connected = connection.connect();
      connection.close();
      await expect(connected).rejects.toMatchObject({ code: 'unavailable' });
      tickets.requests[0]?.resolve('late');
      await vi.advanceTimersByTimeAsync(60_000);
      expect(FakeSocket.instances).toHaveLength(0);
      expect(connection.state).toBe('closed');
    });

    it('ignores the late answer of an attempt abandoned for hanging, and its late failure too', async () => {
      const tickets = manualTickets();
      const connection = makeConnection({ ticket: tickets.ticket });
      const states: ConnectionState[] = [];
      connection.on('state', (change) => states.push(change.state));
      void connection.connect();
      await vi.advanceTimersByTimeAsync(2 * HEARTBEAT); // the ticket request hangs: the attempt is given up
      expect(connection.state).toBe('reconnecting');
      await vi.advanceTimersByTimeAsync(125);
      expect(tickets.requests).toHaveLength(2);
      tickets.requests[0]?.resolve('stale');
      tickets.requests[1]?.resolve('fresh');
      await vi.advanceTimersByTimeAsync(0);
      expect(FakeSocket.instances.map((socket) => socket.params.get('ticket'))).toEqual(['fresh']);
      FakeSocket.last.hello();
      expect(connection.state).toBe('open');
      expect(states).toEqual(['connecting', 'reconnecting', 'open']);
    });

    it('a late dead-token answer for an abandoned attempt does not close the new one', async () => {
      const tickets = manualTickets();
      const connection = makeConnection({ ticket: tickets.ticket });
      void connection.connect();
      await vi.advanceTimersByTimeAsync(2 * HEARTBEAT + 125);
      expect(tickets.requests).toHaveLength(2);
      tickets.requests[0]?.reject(new MessengerError('device_revoked'));
      await vi.advanceTimersByTimeAsync(0);
      expect(connection.state).toBe('reconnecting');
      tickets.requests[1]?.resolve('fresh');
      await vi.advanceTimersByTimeAsync(0);
      FakeSocket.last.hello();
      expect(connection.state).toBe('open');
    });
  });

  describe('server errors', () => {
    it('emits cursor_expired and accepts the jump to the oldest kept entry without a resume', () => {
      const connection = makeConnection({ cursorStore: new MemoryCursorStore(3) });
      const seqs = recordMailbox(connection);
      const expired: CursorExpiredEvent[] = [];
      connection.on('cursor_expired', (event) => expired.push(event));
      void connection.connect();
      const socket = FakeSocket.last.hello({ cursor: 3, head: 120 });
      socket.deliver({ type: 'error', id: null, code: 'cursor_expired', message: 'gone', retryable: false });
      socket.deliver(messageFrame(100)).deliver(messageFrame(101));
      expect(expired).toEqual([{ requestedCursor: 3, message: 'gone' }]);
      expect(seqs).toEqual([100, 101]);
      expect(socket.framesOfType('resume')).toEqual([]);
      vi.advanceTimersByTime(20);
      expect(acks(socket)).toEqual([101]);
    });

    it('adopts a hello cursor past the requested one (expired cursor) instead of resuming', () => {
      const connection = makeConnection({ cursorStore: new MemoryCursorStore(3) });
      const seqs = recordMailbox(connection);
      void connection.connect();
      const socket = FakeSocket.last.hello({ cursor: 99, head: 100 });
      socket.deliver(messageFrame(100));
      expect(seqs).toEqual([100]);
      expect(connection.cursor).toBe(100);
    });

    it('survives malformed frames: each is reported as an error event and the stream continues', () => {
      const connection = makeConnection();
      const seqs = recordMailbox(connection);
      const errors: MessengerError[] = [];
      connection.on('error', (error) => errors.push(error));
      void connection.connect();
      const socket = FakeSocket.last.hello({ cursor: 0, head: 2 });
      socket.deliver('this is not json');
      socket.deliver({ type: 'surprise' });
      socket.deliver({ type: 'message', seq: -1, message: {} });
      socket.deliver(messageFrame(1));
      socket.deliver({ type: 'error', id: null, code: 'invalid_ack', message: 'bad ack', retryable: false });
      socket.deliver(messageFrame(2));
      expect(errors.map((e) => e.code)).toEqual(['invalid_json', 'unknown_frame_type', 'validation_failed', 'invalid_ack']);
      expect(errors.every((e) => e instanceof MessengerError)).toBe(true);
      expect(seqs).toEqual([1, 2]);
      expect(connection.state).toBe('open');
    });
  });
});

describe('Connection: group frames share the mailbox stream', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.reset();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Collects `type:seq` of what the app was given. */
  function recordTyped(connection: Connection): string[] {
    const seen: string[] = [];
    connection.on('mailbox', (frame: MailboxFrame) => seen.push(`${frame.type}:${frame.seq}`));
    return seen;
  }

  it('surfaces all four group frame types interleaved with 1:1 frames, in seq order, and acks them', () => {
    const connection = makeConnection();
    const seen = recordTyped(connection);
    void connection.connect();
    const socket = FakeSocket.last.hello({ cursor: 0, head: 6 });
    socket
      .deliver(messageFrame(1))
      .deliver(groupEventFrame(2))
      .deliver(groupMessageFrame(3))
      .deliver(receiptFrame(4))
      .deliver(groupReceiptFrame(5))
      .deliver(groupReadMarkerFrame(6, 3));
    expect(seen).toEqual(['message:1', 'group_event:2', 'group_message:3', 'receipt:4', 'group_receipt:5', 'group_read_marker:6']);
    expect(connection.cursor).toBe(6);
    vi.advanceTimersByTime(20);
    expect(acks(socket)).toEqual([6]); // one coalesced ack for the whole burst
  });

  it('suppresses duplicate group entries (still acking them) so each reaches the app once', () => {
    const connection = makeConnection({ cursorStore: new MemoryCursorStore(2) });
    const seen = recordTyped(connection);
    void connection.connect();
    const socket = FakeSocket.last.hello({ cursor: 1, head: 4 }); // server restarted below our cursor
    socket.deliver(groupMessageFrame(2)); // already processed in an earlier session
    socket.deliver(groupMessageFrame(3)).deliver(groupMessageFrame(3)).deliver(groupEventFrame(3));
    socket.deliver(groupReadMarkerFrame(4, 3)).deliver(groupReadMarkerFrame(4, 3));
    expect(seen).toEqual(['group_message:3', 'group_read_marker:4']);
    vi.advanceTimersByTime(20);
    expect(acks(socket)).toEqual([4]);
  });

  it('treats a group frame past a gap like any other: one resume, nothing surfaced until repaired', () => {
    const connection = makeConnection();
    const seen = recordTyped(connection);
    void connection.connect();
    const socket = FakeSocket.last.hello({ cursor: 0, head: 4 });
    socket.deliver(groupMessageFrame(1));
    socket.deliver(groupReceiptFrame(3)).deliver(groupEventFrame(4)); // 2 went missing
    expect(socket.framesOfType('resume')).toEqual([{ type: 'resume', after: 1 }]);
    expect(seen).toEqual(['group_message:1']);
    vi.advanceTimersByTime(20);
    expect(acks(socket)).toEqual([1]); // never past the gap
    socket.deliver(groupReadMarkerFrame(2, 1)).deliver(groupReceiptFrame(3)).deliver(groupEventFrame(4));
    expect(seen).toEqual(['group_message:1', 'group_read_marker:2', 'group_receipt:3', 'group_event:4']);
    // No message from someone else among them: acked lazily.
    vi.advanceTimersByTime(20);
    expect(acks(socket)).toEqual([1]);
    vi.advanceTimersByTime(ACK_LAZY_MS - 20);
    expect(acks(socket)).toEqual([1, 4]);
  });

  it('acks at once after ackBatchSize group frames', () => {
    const connection = makeConnection({ ackBatchSize: 3 });
    void connection.connect();
    const socket = FakeSocket.last.hello({ cursor: 0, head: 4 });
    for (let seq = 1; seq <= 4; seq++) socket.deliver(groupMessageFrame(seq));
    expect(acks(socket)).toEqual([3]);
    vi.advanceTimersByTime(20);
    expect(acks(socket)).toEqual([3, 4]);
  });

  it('routes group_sent like sent: its own event, never a mailbox entry, cursor untouched', () => {
    const connection = makeConnection();
    const seen = recordTyped(connection);
    const groupSent: string[] = [];
    const sent: string[] = [];
    connection.on('group_sent', (frame) => groupSent.push(`${frame.id}@${frame.group}`));
    connection.on('sent', (frame) => sent.push(frame.id));
    void connection.connect();
    const socket = FakeSocket.last.hello({ cursor: 0, head: 0 });
    socket.deliver(groupSentFrame('g-1')).deliver(groupSentFrame('g-1', { duplicate: true }));
    expect(groupSent).toEqual([`g-1@${GROUP}`, `g-1@${GROUP}`]); // the client dedupes, not the connection
    expect(sent).toEqual([]);
    expect(seen).toEqual([]);
    expect(connection.cursor).toBe(0);
    vi.advanceTimersByTime(100);
    expect(acks(socket)).toEqual([]);
  });

  it('reports an error frame answering a group_send as send_error with its id', () => {
    const connection = makeConnection();
    const errors: string[] = [];
    connection.on('send_error', (frame) => errors.push(`${frame.id}:${frame.code}`));
    void connection.connect();
    FakeSocket.last
      .hello()
      .deliver({ type: 'error', id: 'g-2', code: 'not_group_member', message: 'not a member', retryable: false });
    expect(errors).toEqual(['g-2:not_group_member']);
  });
});
