import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { GroupSentFrame, SentFrame } from '../../protocol/index.ts';
import { MessengerError } from '../../client/index.ts';
import type { GroupMessageReceived, MessageReceived, SendDelayed, SendFailed, StateChange } from '../../client/index.ts';
import {
  FakeSocket,
  GROUP,
  ME,
  MY_DEVICE,
  MY_OTHER_DEVICE,
  OTHER_GROUP,
  PEER,
  groupEventFrame,
  groupMessageFrame,
  groupReadMarkerFrame,
  groupReceiptFrame,
  groupSentFrame,
  messageFrame,
  sentFrame,
  makeClient,
  ulid,
} from './fake-socket.ts';

const CHALLENGE = 'C'.repeat(32);

/** A login answer for `token`, valid for 15 minutes from the (fake) clock's now. */
function sessionBody(token: string): Record<string, unknown> {
  return { token, refreshToken: `refresh-${token}`, userId: ME, deviceId: MY_DEVICE, expiresAt: Date.now() + 15 * 60_000, newUser: false, history: true };
}

function sendIds(socket: FakeSocket): string[] {
  return socket.framesOfType('send').map((f) => f.id);
}

function groupSendIds(socket: FakeSocket): string[] {
  return socket.framesOfType('group_send').map((f) => f.id);
}

/** Every send frame (1:1 or group) the client wrote, as `type:id`, in order. */
function allSends(socket: FakeSocket): string[] {
  return socket
    .frames()
    .flatMap((f) => (f.type === 'send' || f.type === 'group_send' ? [`${f.type}:${f.id}`] : []));
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

    it('keeps a rate-limited send pending (never failed), waits retryAfterMs, then resends it with the same id before later ones', async () => {
      const client = makeClient({ heartbeatIntervalMs: 60_000 }); // no liveness timeout during the waits
      const delayed: SendDelayed[] = [];
      const failed: SendFailed[] = [];
      client.on('send_delayed', (event) => delayed.push(event));
      client.on('failed', (event) => failed.push(event));
      void client.connect();
      const socket = FakeSocket.last.hello();
      const start = Date.now();
      const first = client.sendText(PEER, 'first');
      socket.deliver({ type: 'error', id: first.clientId, code: 'rate_limited', message: 'slow down', retryable: true, retryAfterMs: 2_000 });
      const later = client.sendText(PEER, 'written during the wait');

      expect(client.pending().map((e) => e.clientId)).toEqual([first.clientId, later.clientId]);
      expect(delayed).toEqual([expect.objectContaining({ clientId: first.clientId, to: PEER, retryAt: start + 2_000, error: expect.objectContaining({ code: 'rate_limited', retryAfterMs: 2_000 }) })]);
      expect(client.sendsDelayedUntil).toBe(start + 2_000);
      vi.advanceTimersByTime(1_999);
      expect(sendIds(socket)).toEqual([first.clientId]); // nothing at all during the wait
      vi.advanceTimersByTime(1);
      expect(sendIds(socket)).toEqual([first.clientId, first.clientId]); // the refused one first, alone
      expect(client.sendsDelayedUntil).toBeUndefined();
      socket.deliver(sentFrame(first.clientId));
      expect(sendIds(socket)).toEqual([first.clientId, first.clientId, later.clientId]); // then the next
      socket.deliver(sentFrame(later.clientId));
      await expect(first.sent).resolves.toMatchObject({ id: first.clientId });
      await expect(later.sent).resolves.toMatchObject({ id: later.clientId });
      expect(failed).toEqual([]);
      // The outbox drained: sends go straight out again.
      const after = client.sendText(PEER, 'after');
      expect(sendIds(socket).at(-1)).toBe(after.clientId);
    });

    it('several refusals share one timer: it fires once, at the latest retryAfterMs, and the outbox goes out in order', () => {
      const client = makeClient({ heartbeatIntervalMs: 60_000 }); // no liveness timeout during the waits
      void client.connect();
      const socket = FakeSocket.last.hello();
      const ids = ['a', 'b', 'c'].map((t) => client.sendText(PEER, t).clientId);
      const refuse = (id: string, retryAfterMs: number): void => {
        socket.deliver({ type: 'error', id, code: 'rate_limited', message: 'slow down', retryable: true, retryAfterMs });
      };
      const timers = vi.getTimerCount();
      refuse(ids[0]!, 1_000);
      refuse(ids[1]!, 1_200);
      refuse(ids[2]!, 800);
      expect(vi.getTimerCount()).toBe(timers + 1); // one retry timer for all of them
      vi.advanceTimersByTime(1_199);
      expect(sendIds(socket)).toEqual(ids);
      vi.advanceTimersByTime(1);
      expect(sendIds(socket)).toEqual([...ids, ids[0]]);
      socket.deliver(sentFrame(ids[0]!));
      expect(sendIds(socket)).toEqual([...ids, ids[0], ids[1]]); // the next one, once the first is stored
      refuse(ids[1]!, 500); // still over the limit: wait again, then on one at a time
      vi.advanceTimersByTime(499);
      expect(sendIds(socket)).toEqual([...ids, ids[0], ids[1]]);
      vi.advanceTimersByTime(1);
      expect(sendIds(socket)).toEqual([...ids, ids[0], ids[1], ids[1]]);
      socket.deliver(sentFrame(ids[1]!));
      expect(sendIds(socket)).toEqual([...ids, ids[0], ids[1], ids[1], ids[2]]);
      socket.deliver(sentFrame(ids[2]!));
      expect(client.pending()).toEqual([]);
    });

    it('never drops a rate-limited send, even when the error frame calls it not retryable', () => {
      const client = makeClient({ heartbeatIntervalMs: 60_000 }); // no liveness timeout during the waits
      const failed: SendFailed[] = [];
      client.on('failed', (event) => failed.push(event));
      void client.connect();
      const socket = FakeSocket.last.hello();
      const { clientId } = client.sendText(PEER, 'keep me');
      socket.deliver({ type: 'error', id: clientId, code: 'rate_limited', message: 'slow down', retryable: false, retryAfterMs: 300 });
      expect(failed).toEqual([]);
      vi.advanceTimersByTime(300);
      expect(sendIds(socket)).toEqual([clientId, clientId]);
    });

    it('keeps the wait across a reconnect instead of resending everything at once', () => {
      const client = makeClient({ heartbeatIntervalMs: 60_000 }); // no liveness timeout during the waits
      void client.connect();
      const first = FakeSocket.last.hello();
      const a = client.sendText(PEER, 'a');
      const b = client.sendGroupText(GROUP, 'b');
      first.deliver({ type: 'error', id: a.clientId, code: 'rate_limited', message: 'slow down', retryable: true, retryAfterMs: 5_000 });
      vi.advanceTimersByTime(1_000);
      first.serverClose(1006);
      vi.advanceTimersByTime(125);
      const second = FakeSocket.last.hello();
      expect(allSends(second)).toEqual([]);
      vi.advanceTimersByTime(3_874);
      expect(allSends(second)).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(allSends(second)).toEqual([`send:${a.clientId}`]);
      second.deliver(sentFrame(a.clientId));
      expect(allSends(second)).toEqual([`send:${a.clientId}`, `group_send:${b.clientId}`]);
    });

    it('while pacing, a send rejected for good is failed and the next one goes out', async () => {
      const client = makeClient({ heartbeatIntervalMs: 60_000 }); // no liveness timeout during the waits
      void client.connect();
      const socket = FakeSocket.last.hello();
      const a = client.sendText(PEER, 'a');
      const b = client.sendText(PEER, 'b');
      socket.deliver({ type: 'error', id: a.clientId, code: 'rate_limited', message: 'slow down', retryable: true, retryAfterMs: 100 });
      vi.advanceTimersByTime(100);
      socket.deliver({ type: 'error', id: a.clientId, code: 'recipient_not_found', message: 'gone', retryable: false });
      await expect(a.sent).rejects.toMatchObject({ code: 'recipient_not_found' });
      expect(sendIds(socket)).toEqual([a.clientId, b.clientId, a.clientId, b.clientId]);
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

    it('shows the app the same events for a sent carrying the copy as for the echo followed by sent', async () => {
      /** Everything the app sees for one send, its ack and the cursor, given how the server answers. */
      async function run(merged: boolean): Promise<{ events: string[]; acks: number[]; cursor: number | undefined }> {
        FakeSocket.reset();
        const client = makeClient();
        const events: string[] = [];
        client.on('message', (m) => events.push(`message ${JSON.stringify(m)}`));
        client.on('sent', (frame) => events.push(`sent ${JSON.stringify(frame)}`));
        client.on('receipt', (r) => events.push(`receipt ${r.seq}`));
        void client.connect();
        const socket = FakeSocket.last.hello({ cursor: 0, head: 0 });
        const { clientId, sent } = client.sendText(PEER, 'mine');
        void sent.then((frame) => events.push(`resolved ${JSON.stringify(frame)}`));
        const copy = messageFrame(1, { id: ulid(900), from: ME, fromDevice: MY_DEVICE, to: PEER, clientId });
        if (copy.type !== 'message') throw new Error('unreachable');
        const answer = sentFrame(clientId, { messageId: copy.message.id });
        if (merged) socket.deliver({ ...answer, seq: 1, message: copy.message });
        else socket.deliver(copy).deliver(answer);
        socket.deliver({ type: 'receipt', seq: 2, status: 'delivered', by: PEER, messageIds: [copy.message.id], at: 5 });
        await vi.advanceTimersByTimeAsync(2_000);
        const acks = socket.framesOfType('ack').map((f) => f.upTo);
        const cursor = client.cursor;
        client.close();
        // The outbox draws a fresh client id per run.
        return { events: events.map((e) => e.replaceAll(clientId, 'CLIENT-ID')), acks, cursor };
      }
      const before = await run(false);
      const after = await run(true);
      expect(after).toEqual(before);
      expect(before.events).toHaveLength(4); // message, sent, resolved, receipt
      expect(before.acks).toEqual([2]);
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
    it('login() uses the dev code and the challenge, and the new token gets the tickets', async () => {
      const calls: string[] = [];
      const bodies: unknown[] = [];
      const fetch = async (url: string, init?: RequestInit): Promise<Response> => {
        calls.push(`${init?.method} ${url}`);
        bodies.push(init?.body === undefined ? undefined : JSON.parse(String(init.body)));
        if (url.endsWith('/v1/auth/otp')) {
          return Response.json({ phone: '+15550000001', challenge: CHALLENGE, expiresAt: 1, resendAt: 1, devCode: '654321' });
        }
        return Response.json({ ...sessionBody('fresh-token'), newUser: true });
      };
      const client = makeClient({ token: undefined, fetch, device: { platform: 'cli' } });
      const session = await client.login('555-000-0001');
      expect(session.newUser).toBe(true);
      expect(client.userId).toBe(ME);
      expect(calls).toEqual(['POST http://chat.test/v1/auth/otp', 'POST http://chat.test/v1/auth/verify']);
      expect(bodies[1]).toEqual({ phone: '+15550000001', code: '654321', challenge: CHALLENGE, platform: 'cli' });
      void client.connect();
      expect(FakeSocket.last.params.get('ticket')).toMatch(/^ticket-fresh-token-\d+$/);
      expect(FakeSocket.last.params.has('token')).toBe(false);
    });

    it('requestCode() + completeLogin() pass the challenge of the code request; a refused verify keeps no token', async () => {
      const bodies: unknown[] = [];
      let verifyOk = false;
      const fetch = async (url: string, init?: RequestInit): Promise<Response> => {
        bodies.push(JSON.parse(String(init?.body)));
        if (url.endsWith('/v1/auth/otp')) return Response.json({ phone: '+15550000001', challenge: CHALLENGE, expiresAt: 9, resendAt: 5 });
        if (!verifyOk) return Response.json({ error: { code: 'otp_invalid', message: 'Wrong code', retryable: false } }, { status: 401 });
        return Response.json(sessionBody('typed-code-token'));
      };
      const client = makeClient({ token: undefined, fetch, device: { deviceName: 'laptop' } });
      const otp = await client.requestCode('+1 555 000 0001');
      expect(otp).toEqual({ phone: '+15550000001', challenge: CHALLENGE, expiresAt: 9, resendAt: 5 });
      await expect(client.completeLogin({ phone: otp.phone, challenge: otp.challenge, code: '000000' })).rejects.toMatchObject({ code: 'otp_invalid' });
      expect(client.currentToken).toBeUndefined();
      verifyOk = true;
      await client.completeLogin({ phone: otp.phone, challenge: otp.challenge, code: '123456' });
      expect(bodies.slice(1)).toEqual([
        { phone: '+15550000001', code: '000000', challenge: CHALLENGE, deviceName: 'laptop' },
        { phone: '+15550000001', code: '123456', challenge: CHALLENGE, deviceName: 'laptop' },
      ]);
      expect(client.currentToken).toBe('typed-code-token');
    });

    it('login() against a real SMS provider (no devCode) fails without verifying anything', async () => {
      const calls: string[] = [];
      const fetch = async (url: string): Promise<Response> => {
        calls.push(url);
        return Response.json({ phone: '+15550000001', challenge: CHALLENGE, expiresAt: 9, resendAt: 5 });
      };
      const client = makeClient({ token: undefined, fetch });
      await expect(client.login('+15550000001')).rejects.toMatchObject({ code: 'validation_failed' });
      expect(calls).toEqual(['http://chat.test/v1/auth/otp']);
      expect(client.currentToken).toBeUndefined();
    });

    it('a rate-limited code request rejects with retryAfterMs', async () => {
      const fetch = async (): Promise<Response> =>
        Response.json(
          { error: { code: 'otp_rate_limited', message: 'Codes are requested too often; wait and retry', retryable: true, retryAfterMs: 29_500 } },
          { status: 429, headers: { 'Retry-After': '30' } },
        );
      const client = makeClient({ token: undefined, fetch });
      await expect(client.requestCode('+15550000001')).rejects.toMatchObject({ code: 'otp_rate_limited', status: 429, retryAfterMs: 29_500 });
    });

    it('by default fetches each ticket with POST /v1/connect/ticket and the bearer token', async () => {
      const requests: Array<{ url: string; method: string | undefined; authorization: string | null }> = [];
      let n = 0;
      const fetch = async (url: string, init?: RequestInit): Promise<Response> => {
        requests.push({ url, method: init?.method, authorization: new Headers(init?.headers).get('authorization') });
        n += 1;
        return Response.json({ ticket: `server-ticket-${n}`, expiresAt: 30_000 });
      };
      const client = makeClient({ fetch, connectTicket: undefined, token: 'long-lived' });
      void client.connect();
      await vi.advanceTimersByTimeAsync(0);
      FakeSocket.last.serverClose(1006);
      await vi.advanceTimersByTimeAsync(125);
      expect(requests).toEqual([
        { url: 'http://chat.test/v1/connect/ticket', method: 'POST', authorization: 'Bearer long-lived' },
        { url: 'http://chat.test/v1/connect/ticket', method: 'POST', authorization: 'Bearer long-lived' },
      ]);
      expect(FakeSocket.instances.map((socket) => socket.url)).toEqual([
        'ws://chat.test/v1/connect?ticket=server-ticket-1',
        'ws://chat.test/v1/connect?ticket=server-ticket-2',
      ]);
      for (const socket of FakeSocket.instances) expect(socket.url).not.toContain('long-lived');
    });

    it('closes with the error when the ticket request says the token is dead (no WebSocket at all)', async () => {
      const fetch = async (): Promise<Response> =>
        Response.json({ error: { code: 'device_revoked', message: 'This device was logged out', retryable: false } }, { status: 401 });
      const client = makeClient({ fetch, connectTicket: undefined });
      const states: StateChange[] = [];
      client.on('state', (change) => states.push(change));
      await expect(client.connect()).rejects.toMatchObject({ code: 'device_revoked', status: 401 });
      expect(states.at(-1)).toMatchObject({ state: 'closed', error: { code: 'device_revoked' } });
      await vi.advanceTimersByTimeAsync(60_000);
      expect(FakeSocket.instances).toHaveLength(0);
    });

    it('connect() without any token closes with unauthorized instead of looping', async () => {
      const client = makeClient({ token: undefined });
      await expect(client.connect()).rejects.toMatchObject({ code: 'unauthorized' });
      expect(client.state).toBe('closed');
      expect(FakeSocket.instances).toHaveLength(0);
    });
  });
  describe('groups', () => {
    it('queues group sends with 1:1 sends and sends both kinds in order after hello', () => {
      const client = makeClient();
      void client.connect();
      const a = client.sendText(PEER, 'a');
      const b = client.sendGroupText(GROUP, 'b');
      const c = client.sendGroup(GROUP, { kind: 'location', latitude: 1, longitude: 2 });
      FakeSocket.last.open();
      expect(allSends(FakeSocket.last)).toEqual([]);
      FakeSocket.last.hello();
      expect(FakeSocket.last.frames().filter((f) => f.type !== 'ack')).toEqual([
        { type: 'send', id: a.clientId, to: PEER, body: { kind: 'text', text: 'a' } },
        { type: 'group_send', id: b.clientId, group: GROUP, body: { kind: 'text', text: 'b' } },
        { type: 'group_send', id: c.clientId, group: GROUP, body: { kind: 'location', latitude: 1, longitude: 2 } },
      ]);
    });

    it('resends an unconfirmed group send after a reconnect with the same id and settles it on group_sent', async () => {
      const client = makeClient();
      const groupSent: GroupSentFrame[] = [];
      const sent: SentFrame[] = [];
      client.on('group_sent', (frame) => groupSent.push(frame));
      client.on('sent', (frame) => sent.push(frame));
      void client.connect();
      const first = FakeSocket.last.hello();
      const confirmed = client.sendGroupText(GROUP, 'one');
      const lost = client.sendGroupText(GROUP, 'two');
      const direct = client.sendText(PEER, 'three');
      expect(allSends(first)).toEqual([`group_send:${confirmed.clientId}`, `group_send:${lost.clientId}`, `send:${direct.clientId}`]);
      first.deliver(groupSentFrame(confirmed.clientId, { gseq: 4 }));
      first.serverClose(1006); // the answers for 'two' and 'three' are lost with the socket

      vi.advanceTimersByTime(125);
      const second = FakeSocket.last.hello();
      expect(second).not.toBe(first);
      expect(allSends(second)).toEqual([`group_send:${lost.clientId}`, `send:${direct.clientId}`]);
      expect(second.framesOfType('group_send')[0]).toEqual({
        type: 'group_send',
        id: lost.clientId,
        group: GROUP,
        body: { kind: 'text', text: 'two' },
      });

      second.deliver(groupSentFrame(lost.clientId, { gseq: 5, duplicate: true }));
      second.deliver(groupSentFrame(lost.clientId, { gseq: 5, duplicate: true })); // repeated answer
      second.deliver(sentFrame(direct.clientId));
      await expect(confirmed.sent).resolves.toMatchObject({ type: 'group_sent', id: confirmed.clientId, gseq: 4 });
      await expect(lost.sent).resolves.toMatchObject({ type: 'group_sent', id: lost.clientId, gseq: 5, group: GROUP });
      await expect(direct.sent).resolves.toMatchObject({ type: 'sent', id: direct.clientId });
      expect(groupSent.map((f) => f.id)).toEqual([confirmed.clientId, lost.clientId]); // once each
      expect(sent.map((f) => f.id)).toEqual([direct.clientId]);
      expect(client.pending()).toEqual([]);
    });

    it.each(['not_group_member', 'admins_only', 'group_not_found', 'id_conflict'] as const)(
      'fails a group send on %s: rejects, emits failed with the group, never resends',
      async (code) => {
        const client = makeClient();
        const failed: SendFailed[] = [];
        client.on('failed', (event) => failed.push(event));
        void client.connect();
        const socket = FakeSocket.last.hello();
        const { clientId, sent } = client.sendGroupText(GROUP, 'let me in');
        socket.deliver({ type: 'error', id: clientId, code, message: 'no', retryable: false });
        const error = await sent.catch((e: unknown) => e);
        expect(error).toBeInstanceOf(MessengerError);
        expect(error).toMatchObject({ code, retryable: false });
        expect(failed).toEqual([expect.objectContaining({ clientId, group: GROUP, error })]);
        expect(client.pending()).toEqual([]);

        vi.advanceTimersByTime(1_000);
        socket.serverClose(1006);
        vi.advanceTimersByTime(125);
        FakeSocket.last.hello();
        expect(groupSendIds(socket)).toEqual([clientId]);
        expect(groupSendIds(FakeSocket.last)).toEqual([]);
      },
    );

    it('keeps a group send on a retryable error and retries it with the same id', () => {
      const client = makeClient();
      void client.connect();
      const socket = FakeSocket.last.hello();
      const { clientId } = client.sendGroupText(GROUP, 'busy');
      socket.deliver({ type: 'error', id: clientId, code: 'unavailable', message: 'later', retryable: true });
      expect(client.pending()).toEqual([expect.objectContaining({ clientId, group: GROUP })]);
      vi.advanceTimersByTime(50);
      expect(groupSendIds(socket)).toEqual([clientId, clientId]);
    });

    it('surfaces group messages with own/local flags and settles a pending group send from its echo', async () => {
      const client = makeClient();
      const messages: GroupMessageReceived[] = [];
      const groupSent: GroupSentFrame[] = [];
      client.on('group_message', (m) => messages.push(m));
      client.on('group_sent', (frame) => groupSent.push(frame));
      void client.connect();
      const socket = FakeSocket.last.hello({ cursor: 0, head: 3 });
      const { clientId, sent } = client.sendGroupText(GROUP, 'mine');

      socket.deliver(groupMessageFrame(1));
      socket.deliver(groupMessageFrame(2, { from: ME, fromDevice: MY_DEVICE, clientId, gseq: 9, id: ulid(600) }));
      socket.deliver(groupMessageFrame(3, { from: ME, fromDevice: MY_OTHER_DEVICE, clientId: 'elsewhere', group: OTHER_GROUP }));

      expect(messages.map((m) => [m.seq, m.group, m.own, m.local])).toEqual([
        [1, GROUP, false, false],
        [2, GROUP, true, true],
        [3, OTHER_GROUP, true, false],
      ]);
      await expect(sent).resolves.toEqual({
        type: 'group_sent',
        id: clientId,
        group: GROUP,
        messageId: ulid(600),
        gseq: 9,
        sentAt: 1_700_000_000_002,
        duplicate: false,
      });
      socket.deliver(groupSentFrame(clientId, { messageId: ulid(600), gseq: 9 })); // the late real answer
      expect(groupSent).toHaveLength(1);
    });

    it('forwards group events, receipts and read markers as typed events in mailbox order', () => {
      const client = makeClient();
      const order: string[] = [];
      client.on('group_event', (f) => order.push(`event:${f.seq}:${f.event.change.kind}`));
      client.on('group_message', (m) => order.push(`message:${m.seq}`));
      client.on('group_receipt', (f) => order.push(`receipt:${f.seq}:${f.tallies[0]?.read}/${f.tallies[0]?.of}`));
      client.on('group_read_marker', (f) => order.push(`marker:${f.seq}:${f.group}:${f.upTo}`));
      client.on('message', (m) => order.push(`direct:${m.seq}`));
      void client.connect();
      FakeSocket.last
        .hello({ cursor: 0, head: 5 })
        .deliver(groupEventFrame(1, { kind: 'created', title: 'Team' }))
        .deliver(groupMessageFrame(2))
        .deliver(messageFrame(3))
        .deliver(groupReceiptFrame(4, { read: 2, of: 3 }))
        .deliver(groupReadMarkerFrame(5, 2))
        .deliver(groupMessageFrame(5)); // duplicate seq: dropped by the connection
      expect(order).toEqual(['event:1:created', 'message:2', 'direct:3', 'receipt:4:2/3', `marker:5:${GROUP}:2`]);
    });

    it('sends markGroupRead at once when open, and the latest one per group after reconnecting when not', () => {
      const client = makeClient();
      void client.connect();
      const socket = FakeSocket.last.hello();
      client.markGroupRead(GROUP, 4);
      expect(socket.framesOfType('group_read')).toEqual([{ type: 'group_read', group: GROUP, upTo: 4 }]);
      socket.serverClose(1006);
      client.markGroupRead(GROUP, 7);
      client.markGroupRead(GROUP, 6);
      client.markGroupRead(OTHER_GROUP, 2);
      client.markRead(PEER, 3);
      vi.advanceTimersByTime(125);
      FakeSocket.last.hello();
      expect(FakeSocket.last.framesOfType('group_read')).toEqual([
        { type: 'group_read', group: GROUP, upTo: 7 },
        { type: 'group_read', group: OTHER_GROUP, upTo: 2 },
      ]);
      expect(FakeSocket.last.framesOfType('read')).toEqual([{ type: 'read', peer: PEER, upTo: 3 }]);
      FakeSocket.last.serverClose(1006);
      vi.advanceTimersByTime(125);
      FakeSocket.last.hello();
      expect(FakeSocket.last.framesOfType('group_read')).toEqual([]); // sent once, then forgotten
    });

    it('sends typing only while connected and forwards typing notices as events', () => {
      const client = makeClient();
      const notices: string[] = [];
      client.on('typing_notice', (f) => notices.push(`${f.from}:${f.group ?? '-'}:${f.state}`));
      void client.connect();
      const socket = FakeSocket.last.hello();
      expect(client.typing(PEER, 'typing')).toBe(true);
      expect(client.groupTyping(GROUP, 'recording')).toBe(true);
      expect(socket.framesOfType('typing')).toEqual([{ type: 'typing', to: PEER, state: 'typing' }]);
      expect(socket.framesOfType('group_typing')).toEqual([{ type: 'group_typing', group: GROUP, state: 'recording' }]);
      socket.deliver({ type: 'typing_notice', from: PEER, group: null, state: 'typing', expiresInMs: 6000 });
      socket.deliver({ type: 'typing_notice', from: PEER, group: GROUP, state: 'stopped', expiresInMs: 6000 });
      expect(notices).toEqual([`${PEER}:-:typing`, `${PEER}:${GROUP}:stopped`]);
      // Ephemeral: not queued while disconnected, never replayed after a reconnect.
      socket.serverClose(1006);
      expect(client.typing(PEER, 'typing')).toBe(false);
      vi.advanceTimersByTime(125);
      expect(FakeSocket.last.hello().framesOfType('typing')).toEqual([]);
      expect(() => client.typing('nope', 'typing')).toThrow(/not a user id/);
      expect(() => client.groupTyping('nope', 'typing')).toThrow(/not a group id/);
    });

    it('rejects invalid group input synchronously', () => {
      const client = makeClient();
      expect(() => client.sendGroupText('not-a-group', 'x')).toThrow(MessengerError);
      expect(() => client.sendGroupText(GROUP, '')).toThrow(/Invalid message body/);
      expect(() => client.markGroupRead('not-a-group', 1)).toThrow(MessengerError);
      expect(() => client.markGroupRead(GROUP, -1)).toThrow(/not a mailbox seq/);
      expect(client.pending()).toEqual([]);
    });

    it('groupHistory() fetches a page of the group through the API', async () => {
      const urls: string[] = [];
      const fetch = async (url: string): Promise<Response> => {
        urls.push(url);
        return Response.json({ entries: [], nextBefore: null });
      };
      const client = makeClient({ fetch });
      await expect(client.groupHistory(GROUP, { before: 9, limit: 5 })).resolves.toEqual({ entries: [], nextBefore: null });
      expect(urls).toEqual([`http://chat.test/v1/groups/${GROUP}/messages?before=9&limit=5`]);
    });
  });
});
