import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { SentFrame } from '../../protocol/index.ts';
import { MessengerClient, MessengerError } from '../../client/index.ts';
import type { MessageReceived, MessengerClientOptions, SendFailed } from '../../client/index.ts';
import { FakeSocket, ME, MY_DEVICE, MY_OTHER_DEVICE, PEER, messageFrame, sentFrame, ulid } from './fake-socket.ts';

function makeClient(overrides: Partial<MessengerClientOptions> = {}): MessengerClient {
  return new MessengerClient({
    baseUrl: 'http://chat.test',
    token: 'tok',
    WebSocket: FakeSocket,
    heartbeatIntervalMs: 1_000,
    backoff: { baseMs: 250, random: () => 0.5 },
    sendRetry: { baseMs: 100, random: () => 0.5 },
    ...overrides,
  });
}

function sendIds(socket: FakeSocket): string[] {
  return socket.framesOfType('send').map((f) => f.id);
}

describe('MessengerClient', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.reset();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  describe('outbox', () => {
    it('queues sends while connecting and sends them in order after hello', () => {
      const client = makeClient();
      void client.connect();
      const a = client.sendText(PEER, 'a');
      const b = client.sendText(PEER, 'b');
      FakeSocket.last.open();
      expect(sendIds(FakeSocket.last)).toEqual([]); // not before hello
      FakeSocket.last.hello();
      expect(FakeSocket.last.framesOfType('send')).toEqual([
        { type: 'send', id: a.clientId, to: PEER, body: { kind: 'text', text: 'a' } },
        { type: 'send', id: b.clientId, to: PEER, body: { kind: 'text', text: 'b' } },
      ]);
    });

    it('resends every unconfirmed entry after a reconnect, in original order, with the same ids', async () => {
      const client = makeClient();
      void client.connect();
      const first = FakeSocket.last.hello();
      const pending = ['one', 'two', 'three'].map((t) => client.sendText(PEER, t));
      const ids = pending.map((p) => p.clientId);
      expect(sendIds(first)).toEqual(ids);
      first.deliver(sentFrame(ids[0] ?? ''));
      first.serverClose(1006);

      vi.advanceTimersByTime(125);
      const second = FakeSocket.last.hello();
      expect(second).not.toBe(first);
      expect(sendIds(second)).toEqual([ids[1], ids[2]]); // confirmed one is not resent

      second.deliver(sentFrame(ids[1] ?? '', { duplicate: true })).deliver(sentFrame(ids[2] ?? ''));
      const results = await Promise.all(pending.map((p) => p.sent));
      expect(results.map((r) => r.id)).toEqual(ids);
      expect(client.pending()).toEqual([]);
    });

    it('resolves sent once and emits one sent event even when the sent frame arrives twice', async () => {
      const client = makeClient();
      const events: SentFrame[] = [];
      client.on('sent', (frame) => events.push(frame));
      void client.connect();
      const socket = FakeSocket.last.hello();
      const { clientId, sent } = client.sendText(PEER, 'hi');
      socket.deliver(sentFrame(clientId, { messageId: ulid(501) }));
      socket.deliver(sentFrame(clientId, { messageId: ulid(501), duplicate: true }));
      await expect(sent).resolves.toMatchObject({ id: clientId, messageId: ulid(501), duplicate: false });
      expect(events).toHaveLength(1);
    });

    it('fails an entry on a non-retryable error: rejects, emits failed, never resends', async () => {
      const client = makeClient();
      const failed: SendFailed[] = [];
      client.on('failed', (event) => failed.push(event));
      void client.connect();
      const socket = FakeSocket.last.hello();
      const { clientId, sent } = client.sendText(PEER, 'to nobody');
      socket.deliver({ type: 'error', id: clientId, code: 'recipient_not_found', message: 'no such user', retryable: false });
      const error = await sent.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MessengerError);
      expect(error).toMatchObject({ code: 'recipient_not_found', retryable: false });
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({ clientId, to: PEER, error: { code: 'recipient_not_found' } });

      socket.serverClose(1006);
      vi.advanceTimersByTime(125);
      FakeSocket.last.hello();
      expect(sendIds(FakeSocket.last)).toEqual([]);
    });

    it('keeps an entry on a retryable error and retries it with the same id', () => {
      const client = makeClient();
      void client.connect();
      const socket = FakeSocket.last.hello();
      const { clientId } = client.sendText(PEER, 'busy');
      socket.deliver({ type: 'error', id: clientId, code: 'rate_limited', message: 'slow down', retryable: true });
      expect(client.pending().map((e) => e.clientId)).toEqual([clientId]);
      vi.advanceTimersByTime(50); // sendRetry: half of the 100 ms base
      expect(sendIds(socket)).toEqual([clientId, clientId]);
    });

    it('a send made from a state:open listener does not overtake older queued sends', () => {
      const client = makeClient();
      void client.connect();
      const older = client.sendText(PEER, 'older');
      let newer = '';
      client.on('state', ({ state }) => {
        if (state === 'open' && newer === '') newer = client.sendText(PEER, 'newer').clientId;
      });
      FakeSocket.last.hello();
      expect(sendIds(FakeSocket.last)).toEqual([older.clientId, newer]); // each once, in order
    });

    it('sends entries restored from an async store before anything queued in this session', async () => {
      const restoredId = 'from-last-session';
      const client = makeClient({
        outboxStore: {
          load: async () => [{ clientId: restoredId, to: PEER, body: { kind: 'text', text: 'old' }, createdAt: 1 }],
          save: () => undefined,
        },
      });
      void client.connect();
      const fresh = client.sendText(PEER, 'new');
      FakeSocket.last.hello();
      await client.outbox.ready;
      expect(sendIds(FakeSocket.last)).toEqual([restoredId, fresh.clientId]);
      FakeSocket.last.deliver(sentFrame(restoredId));
      expect(client.pending().map((e) => e.clientId)).toEqual([fresh.clientId]);
    });

    it('rejects invalid input synchronously instead of queueing it', () => {
      const client = makeClient();
      expect(() => client.sendText('not-a-user', 'x')).toThrow(MessengerError);
      expect(() => client.sendText(PEER, '')).toThrow(/Invalid message body/);
      expect(client.pending()).toEqual([]);
    });
  });

  describe('incoming', () => {
    it('surfaces messages with own/local flags and confirms a pending send from its echo', async () => {
      const client = makeClient();
      const messages: MessageReceived[] = [];
      const sentEvents: SentFrame[] = [];
      client.on('message', (m) => messages.push(m));
      client.on('sent', (frame) => sentEvents.push(frame));
      void client.connect();
      const socket = FakeSocket.last.hello({ cursor: 0, head: 3 });
      const { clientId, sent } = client.sendText(PEER, 'mine');

      socket.deliver(messageFrame(1)); // from the peer
      socket.deliver(messageFrame(2, { from: ME, fromDevice: MY_DEVICE, to: PEER, clientId })); // echo of our send
      socket.deliver(messageFrame(3, { from: ME, fromDevice: MY_OTHER_DEVICE, to: PEER, clientId: 'elsewhere' }));

      expect(messages.map((m) => [m.seq, m.own, m.local])).toEqual([
        [1, false, false],
        [2, true, true],
        [3, true, false],
      ]);
      await expect(sent).resolves.toMatchObject({ id: clientId, to: PEER });
      expect(sentEvents).toHaveLength(1);
      // The late real `sent` answer is not reported again.
      socket.deliver(sentFrame(clientId));
      expect(sentEvents).toHaveLength(1);
    });

    it('forwards receipts and read markers, and once() waits for a matching event', async () => {
      const client = makeClient();
      void client.connect();
      const socket = FakeSocket.last.hello({ cursor: 0, head: 3 });
      const waiting = client.once('message', (m) => m.seq === 3, { timeoutMs: 1_000 });
      const receipt = client.once('receipt');
      const marker = client.once('read_marker');
      socket.deliver(messageFrame(1));
      socket.deliver({ type: 'receipt', seq: 2, status: 'read', by: PEER, messageIds: [ulid(77)], at: 5 });
      socket.deliver(messageFrame(3));
      socket.deliver({ type: 'read_marker', seq: 4, peer: PEER, upTo: 3, at: 6 });
      await expect(waiting).resolves.toMatchObject({ seq: 3, own: false });
      await expect(receipt).resolves.toMatchObject({ status: 'read', by: PEER });
      await expect(marker).resolves.toMatchObject({ peer: PEER, upTo: 3 });
    });

    it('emits cursor_expired so the app can refetch history', async () => {
      const client = makeClient();
      void client.connect();
      const expired = client.once('cursor_expired');
      FakeSocket.last.hello().deliver({ type: 'error', id: null, code: 'cursor_expired', message: 'refetch', retryable: false });
      await expect(expired).resolves.toMatchObject({ message: 'refetch' });
    });

    it('reports a malformed frame as an error event without crashing', async () => {
      const client = makeClient();
      void client.connect();
      const socket = FakeSocket.last.hello({ cursor: 0, head: 1 });
      const error = client.once('error');
      socket.deliver('{"type":"message","seq":"one"}');
      await expect(error).resolves.toMatchObject({ code: 'validation_failed' });
      const next = client.once('message');
      socket.deliver(messageFrame(1));
      await expect(next).resolves.toMatchObject({ seq: 1 });
      expect(client.state).toBe('open');
    });
  });

  describe('read markers', () => {
    it('sends markRead at once when open, and the latest one per peer after reconnecting when not', () => {
      const client = makeClient();
      void client.connect();
      const socket = FakeSocket.last.hello();
      client.markRead(PEER, 4);
      expect(socket.framesOfType('read')).toEqual([{ type: 'read', peer: PEER, upTo: 4 }]);
      socket.serverClose(1006);
      client.markRead(PEER, 6);
      client.markRead(PEER, 5);
      vi.advanceTimersByTime(125);
      FakeSocket.last.hello();
      expect(FakeSocket.last.framesOfType('read')).toEqual([{ type: 'read', peer: PEER, upTo: 6 }]);
    });
  });

  describe('session', () => {
    it('login() without a code uses the dev code and the new token for the socket', async () => {
      const calls: string[] = [];
      const fetch = async (url: string, init?: RequestInit): Promise<Response> => {
        calls.push(`${init?.method} ${url}`);
        if (url.endsWith('/v1/auth/otp')) {
          return Response.json({ phone: '+15550000001', expiresAt: 1, devCode: '654321' });
        }
        expect(JSON.parse(String(init?.body))).toMatchObject({ phone: '+15550000001', code: '654321', platform: 'cli' });
        return Response.json({ token: 'fresh-token', userId: ME, deviceId: MY_DEVICE, expiresAt: 2, newUser: true });
      };
      const client = makeClient({ token: undefined, fetch, device: { platform: 'cli' } });
      const session = await client.login('555-000-0001');
      expect(session.newUser).toBe(true);
      expect(client.userId).toBe(ME);
      expect(calls).toEqual(['POST http://chat.test/v1/auth/otp', 'POST http://chat.test/v1/auth/verify']);
      void client.connect();
      expect(FakeSocket.last.params.get('token')).toBe('fresh-token');
    });

    it('connect() without any token closes with unauthorized instead of looping', async () => {
      const client = makeClient({ token: undefined });
      await expect(client.connect()).rejects.toMatchObject({ code: 'unauthorized' });
      expect(client.state).toBe('closed');
      expect(FakeSocket.instances).toHaveLength(0);
    });
  });
});
