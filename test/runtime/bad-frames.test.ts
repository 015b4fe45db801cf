/**
 * Bad input on the WebSocket: every malformed or forbidden frame gets a typed error frame,
 * the connection survives, and nothing is stored.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it, vi } from 'vitest';
import { ERRORS, MAX_FRAME_BYTES, PATHS } from '../../protocol/index.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';
import { BASE, TestSocket, api, connect, isType, login, nextPhone, text, ticketFor } from './support.ts';
import { SELF, runInDurableObject } from 'cloudflare:test';
import { CONNECT_HEADERS, type UserMailbox } from '../../durable-objects/user-mailbox.ts';

const UNKNOWN_USER = '01JDQ3ZK8Y6W2V9T7R5P3N1M0A';

describe('bad frames', () => {
  it('answers each bad frame with a typed error, keeps the socket open and stores nothing', async () => {
    const alice = await login(nextPhone());
    const bob = await login(nextPhone());
    // Each login already wrote an entry (the account's "device logged in" event).
    const aliceHead = (await mailboxOf(env, alice.userId).stats()).head;
    const bobHead = (await mailboxOf(env, bob.userId).stats()).head;
    const a = await connect(alice);

    const cases: Array<{ raw: string; code: string; id: string | null }> = [
      { raw: '{not json', code: 'invalid_json', id: null },
      { raw: '[]', code: 'unknown_frame_type', id: null },
      { raw: JSON.stringify({ type: 'shout', id: 'x1' }), code: 'unknown_frame_type', id: 'x1' },
      { raw: JSON.stringify({ type: 'send', id: 'x2', to: bob.userId }), code: 'validation_failed', id: 'x2' },
      { raw: JSON.stringify({ type: 'send', id: 'x3', to: 42, body: text('hi') }), code: 'validation_failed', id: 'x3' },
      { raw: JSON.stringify({ type: 'send', id: 'bad id!', to: bob.userId, body: text('hi') }), code: 'validation_failed', id: null },
      { raw: JSON.stringify({ type: 'send', id: 'x4', to: bob.userId, body: { kind: 'text', text: '' } }), code: 'validation_failed', id: 'x4' },
      { raw: JSON.stringify({ type: 'send', id: 'x5', to: bob.userId, body: { kind: 'gif', url: 'x' } }), code: 'validation_failed', id: 'x5' },
      { raw: JSON.stringify({ type: 'send', id: 'x6', to: bob.userId, body: text('hi'), extra: 1 }), code: 'validation_failed', id: 'x6' },
      { raw: JSON.stringify({ type: 'send', id: 'x7', to: bob.userId, body: text('x'.repeat(MAX_FRAME_BYTES)) }), code: 'payload_too_large', id: null },
      { raw: JSON.stringify({ type: 'send', id: 'x8', to: UNKNOWN_USER, body: text('hi') }), code: 'recipient_not_found', id: 'x8' },
      { raw: JSON.stringify({ type: 'send', id: 'x9', to: alice.userId, body: text('me') }), code: 'self_message', id: 'x9' },
      { raw: JSON.stringify({ type: 'ack', upTo: 999 }), code: 'invalid_ack', id: null },
      { raw: JSON.stringify({ type: 'ack', upTo: -1 }), code: 'validation_failed', id: null },
      { raw: JSON.stringify({ type: 'resume', after: 50 }), code: 'invalid_ack', id: null },
    ];
    for (const [i, c] of cases.entries()) {
      a.send(c.raw);
      const errors = await a.waitFor(isType('error'), i + 1);
      expect(errors[i], c.raw.slice(0, 80)).toMatchObject({ code: c.code, id: c.id, retryable: false });
    }
    // A binary frame is refused too.
    a.ws.send(new Uint8Array([1, 2, 3]));
    const errors = await a.waitFor(isType('error'), cases.length + 1);
    expect(errors[cases.length]!.code).toBe('validation_failed');

    // Still connected and working.
    a.send({ type: 'send', id: 'good', to: bob.userId, body: text('still here') });
    const [sent] = await a.waitFor(isType('sent'));
    expect(sent!.id).toBe('good');
    expect(a.closed).toBeNull();

    // Only the good message was stored, on both sides.
    const bobStats = await mailboxOf(env, bob.userId).stats();
    expect(bobStats.head).toBe(bobHead + 1);
    const aliceStats = await mailboxOf(env, alice.userId).stats();
    expect(aliceStats.head).toBe(aliceHead + 1);
    a.close();
  });
});

describe('client id reuse', () => {
  it('refuses an id reused for a different recipient or body, and changes nothing', async () => {
    const alice = await login(nextPhone());
    const bob = await login(nextPhone());
    const carol = await login(nextPhone());
    const carolHead = (await mailboxOf(env, carol.userId).stats()).head;
    const a = await connect(alice);
    a.send({ type: 'send', id: 'reused', to: bob.userId, body: text('for bob') });
    await a.waitFor(isType('sent'));
    a.send({ type: 'send', id: 'reused', to: carol.userId, body: text('for bob') });
    a.send({ type: 'send', id: 'reused', to: bob.userId, body: text('edited') });
    const errors = await a.waitFor(isType('error'), 2);
    expect(errors.map((e) => [e.code, e.id])).toEqual([
      ['id_conflict', 'reused'],
      ['id_conflict', 'reused'],
    ]);
    expect((await mailboxOf(env, carol.userId).stats()).head).toBe(carolHead);
    const page = await mailboxOf(env, bob.userId).history(alice.userId, undefined, 10);
    expect(page.messages.map((m) => m.message.body)).toEqual([text('for bob')]);
    a.close();
  });
});

describe('connect', () => {
  it('refuses a plain GET, a missing, a malformed and a revoked ticket', async () => {
    const plain = await api(PATHS.connect);
    expect(plain.status).toBe(426);
    expect(await plain.json()).toMatchObject({ error: { code: 'upgrade_required' } });

    const noTicket = await SELF.fetch(`${BASE}${PATHS.connect}`, { headers: { Upgrade: 'websocket' } });
    expect(noTicket.status).toBe(400);
    expect(await noTicket.json()).toMatchObject({ error: { code: 'validation_failed' } });

    const junk = await SELF.fetch(`${BASE}${PATHS.connect}?ticket=junk`, { headers: { Upgrade: 'websocket' } });
    expect(junk.status).toBe(401);
    expect(await junk.json()).toMatchObject({ error: { code: 'ticket_invalid' } });

    // The long-lived token is no ticket, and `?token=` opens nothing any more.
    const session = await login(nextPhone());
    const tokenAsTicket = await SELF.fetch(`${BASE}${PATHS.connect}?ticket=${session.token}`, { headers: { Upgrade: 'websocket' } });
    expect(tokenAsTicket.status).toBe(401);
    const tokenParam = await SELF.fetch(`${BASE}${PATHS.connect}?token=${session.token}`, { headers: { Upgrade: 'websocket' } });
    expect(tokenParam.status).toBe(400);

    for (const cursor of ['-3', '', 'abc', '1.5']) {
      const badCursor = await SELF.fetch(`${BASE}${PATHS.connect}?ticket=${await ticketFor(session)}&cursor=${cursor}`, {
        headers: { Upgrade: 'websocket' },
      });
      expect(badCursor.status, `cursor=${cursor}`).toBe(400);
      expect(await badCursor.json()).toMatchObject({ error: { code: 'validation_failed' } });
    }

    const unused = await ticketFor(session);
    const socket = await connect(session);
    const logout = await api(PATHS.logout, { method: 'POST', token: session.token });
    expect(logout.status).toBe(204);
    // Logging out closes the live socket with the fatal "device revoked" code...
    expect((await socket.waitClosed()).code).toBe(4001);
    // ...forgets the device's cursor for good (its close event does not write it back)...
    await new Promise((r) => setTimeout(r, 50));
    const cursorRow = await runInDurableObject(mailboxOf(env, session.userId), (_i: UserMailbox, state) =>
      state.storage.sql.exec('SELECT device_id FROM devices WHERE device_id = ?', session.deviceId).toArray(),
    );
    expect(cursorRow).toEqual([]);
    // ...and neither the token nor a ticket issued before opens one.
    const revoked = await SELF.fetch(`${BASE}${PATHS.connect}?ticket=${unused}`, { headers: { Upgrade: 'websocket' } });
    expect(revoked.status).toBe(401);
    expect(await revoked.json()).toMatchObject({ error: { code: 'device_revoked' } });
    expect((await api(PATHS.connectTicket, { method: 'POST', token: session.token })).status).toBe(401);
  });

  it('a ticket opens one connection: used again it is refused and the first connection stays', async () => {
    const session = await login(nextPhone());
    const ticket = await ticketFor(session);
    const open = (t: string) => SELF.fetch(`${BASE}${PATHS.connect}?ticket=${t}`, { headers: { Upgrade: 'websocket' } });
    const first = await open(ticket);
    expect(first.status).toBe(101);
    first.webSocket!.accept();
    const socket = new TestSocket(first.webSocket!);
    await socket.waitFor(isType('hello'));

    const again = await open(ticket);
    expect(again.status).toBe(401);
    expect(await again.json()).toEqual({ error: { code: 'ticket_invalid', message: ERRORS.ticket_invalid.message, retryable: false } });
    // The replay touched no connection: the first socket is open and served.
    socket.send({ type: 'ping' });
    await socket.waitFor(isType('pong'));
    expect(socket.closed).toBeNull();
    const rows = await runInDurableObject(mailboxOf(env, session.userId), (_i: UserMailbox, state) =>
      state.storage.sql.exec<{ n: number }>('SELECT count(*) AS n FROM used_tickets').one().n,
    );
    expect(rows).toBe(1);
    socket.close();
  });

  it('the mailbox forgets used tickets once they expired (the Worker refuses expired ones anyway)', async () => {
    const stub = mailboxOf(env, `tickets-${crypto.randomUUID()}`);
    const handoff = (ticket: string, expires: number) =>
      stub.fetch(
        new Request('https://mailbox.internal/connect', {
          headers: {
            Upgrade: 'websocket',
            [CONNECT_HEADERS.user]: 'someone',
            [CONNECT_HEADERS.device]: 'device-1',
            [CONNECT_HEADERS.ticket]: ticket,
            [CONNECT_HEADERS.ticketExpires]: String(expires),
          },
        }),
      );
    // The object runs in this isolate: a frozen `Date` is its clock too.
    const now = Date.now();
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(now);
      const first = await handoff('t-old', now + 30_000);
      expect(first.status).toBe(101);
      first.webSocket!.accept();
      expect((await handoff('t-old', now + 30_000)).status).toBe(401);
      // A minute past its expiry (clock skew between machines), recording another ticket prunes it.
      vi.setSystemTime(now + 30_000 + 60_001);
      const second = await handoff('t-new', now + 30_000 + 60_001 + 30_000);
      expect(second.status).toBe(101);
      second.webSocket!.accept();
      const ids = await runInDurableObject(stub, (_i: UserMailbox, state) =>
        state.storage.sql.exec<{ id: string }>('SELECT id FROM used_tickets').toArray().map((r) => r.id),
      );
      expect(ids).toEqual(['t-new']);
      second.webSocket!.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('serves history only with a token and a valid peer id', async () => {
    const session = await login(nextPhone());
    const anonymous = await api(PATHS.history(UNKNOWN_USER));
    expect(anonymous.status).toBe(401);
    const badPeer = await api(PATHS.history('not-a-ulid'), { token: session.token });
    expect(badPeer.status).toBe(400);
    expect(await badPeer.json()).toMatchObject({ error: { code: 'validation_failed' } });
    for (const q of ['limit=100000', 'limit=0', 'limit=', 'before=', 'before=-1']) {
      const bad = await api(`${PATHS.history(UNKNOWN_USER)}?${q}`, { token: session.token });
      expect(bad.status, q).toBe(400);
      expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/^query\./);
    }
    // Unknown query parameters (cache busters) are ignored.
    expect((await api(`${PATHS.history(UNKNOWN_USER)}?_=123`, { token: session.token })).status).toBe(200);
    const empty = await api(PATHS.history(UNKNOWN_USER), { token: session.token });
    expect(empty.status).toBe(200);
    expect(await empty.json()).toEqual({ messages: [], nextBefore: null });
  });
});

describe('http bodies', () => {
  it('accepts a body-less logout even when it is labelled JSON', async () => {
    const session = await login(nextPhone());
    const res = await api(PATHS.logout, { method: 'POST', token: session.token, headers: { 'Content-Type': 'application/json' } });
    expect(res.status).toBe(204);
  });

  it('treats an empty body labelled JSON as invalid JSON, with or without the label', async () => {
    for (const headers of [{ 'Content-Type': 'application/json' }, {}] as Record<string, string>[]) {
      const res = await SELF.fetch(`${BASE}${PATHS.requestOtp}`, { method: 'POST', body: '', headers });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: 'invalid_json' } });
    }
  });
});
