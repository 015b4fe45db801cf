/**
 * Black box: the real local server (`npm run dev`'s script) driven over real HTTP and
 * WebSockets with the SDK. Several users and devices, offline delivery, resume after a dropped
 * connection and after a server restart, a burst past the send limit, concurrent retries, bad input.
 */
import { describe, expect, it } from 'vitest';
import { MessengerClient } from '../../client/index.ts';
import { MAX_FRAME_BYTES, PATHS, parseServerFrame, type ServerFrame } from '../../protocol/index.ts';
import { connectUrlFor, device, dropConnection, eventually, nextPhone, textsFrom } from '../support/clients.ts';
import { serverSuite } from '../support/suite.ts';

const suite = serverSuite();
const { online, track } = suite;

describe('two users, several devices', () => {
  it('delivers to every device of the recipient, mirrors sends to the sender, and ticks flow back', async () => {
    const alicePhone = nextPhone();
    const bobPhone = nextPhone();
    const alice1 = await online(alicePhone, 'alice-phone');
    const alice2 = await online(alicePhone, 'alice-desktop');
    const bob1 = await online(bobPhone, 'bob-phone');
    const bob2 = await online(bobPhone, 'bob-laptop');
    const bobId = bob1.userId!;

    const { clientId, sent } = alice1.sendText(bobId, 'hi Bob');
    const ack = await sent;
    expect(ack).toMatchObject({ id: clientId, to: bobId, duplicate: false });

    await eventually(() => {
      expect(textsFrom(bob1, alice1.userId!)).toEqual(['hi Bob']);
      expect(textsFrom(bob2, alice1.userId!)).toEqual(['hi Bob']);
      // Alice's desktop sees what her phone sent.
      expect(alice2.received.map((m) => m.message.clientId)).toEqual([clientId]);
      expect(alice2.received[0]!.own).toBe(true);
    });
    // Bob's devices acked automatically: Alice's devices get the delivered tick.
    await eventually(() => {
      for (const a of [alice1, alice2]) {
        expect(a.receipts.some((r) => r.status === 'delivered' && r.messageIds.includes(ack.messageId))).toBe(true);
      }
    });

    // Bob's phone will learn the chat was read on his laptop.
    const marker = bob1.once('read_marker', (m) => m.peer === alice1.userId, { timeoutMs: 5_000 });
    bob2.markRead(alice1.userId!, bob2.received[0]!.seq);
    await eventually(() => {
      for (const a of [alice1, alice2]) {
        expect(a.receipts.some((r) => r.status === 'read' && r.messageIds.includes(ack.messageId))).toBe(true);
      }
    });
    expect(await marker).toMatchObject({ peer: alice1.userId, upTo: bob2.received[0]!.seq });

    // History agrees on both sides, with the furthest tick.
    const page = await alice1.history(bobId);
    expect(page.messages).toHaveLength(1);
    expect(page.messages[0]).toMatchObject({ status: 'read', message: { id: ack.messageId } });
  });
});

describe('offline and resume', () => {
  it('keeps messages for an offline user and delivers them in order on connect', async () => {
    const alice = await online(nextPhone());
    const bobPhone = nextPhone();
    const bobOffline = track(await device(suite.server().baseUrl, bobPhone));
    const bobId = bobOffline.userId!;

    const sends = Array.from({ length: 20 }, (_, i) => alice.sendText(bobId, `offline ${i}`));
    await Promise.all(sends.map((s) => s.sent));

    await bobOffline.connect();
    await eventually(() => expect(textsFrom(bobOffline, alice.userId!)).toHaveLength(20));
    expect(textsFrom(bobOffline, alice.userId!)).toEqual(Array.from({ length: 20 }, (_, i) => `offline ${i}`));
  });

  it('a device logged in earlier but connecting only after another device acked everything still gets every entry since its login, in order, once', async () => {
    const alice = await online(nextPhone(), 'alice');
    const bobPhone = nextPhone();
    const bobPhoneDevice = await online(bobPhone, 'bob-phone');
    const bobId = bobPhoneDevice.userId!;
    await alice.sendText(bobId, 'before the laptop').sent;
    await eventually(() => expect(textsFrom(bobPhoneDevice, alice.userId!)).toEqual(['before the laptop']));

    // The laptop logs in (no PIN: no history) and stays offline while the phone receives and acks.
    const accountEvents: string[] = [];
    bobPhoneDevice.on('account_event', ({ event }) => accountEvents.push(event.kind === 'device_added' ? `added ${event.deviceId}` : event.kind));
    const laptop = track(await device(suite.server().baseUrl, bobPhone, 'bob-laptop'));
    for (let i = 0; i < 10; i++) await alice.sendText(bobId, `after ${i}`).sent;
    await eventually(() => expect(textsFrom(bobPhoneDevice, alice.userId!)).toHaveLength(11));
    // The phone was told about the new login, in its mailbox stream.
    await eventually(() => expect(accountEvents).toEqual([`added ${laptop.deviceId}`]));
    const phoneCursor = bobPhoneDevice.cursor!;
    bobPhoneDevice.close(); // sends its last ack before the socket closes

    await laptop.connect();
    const expected = Array.from({ length: 10 }, (_, i) => `after ${i}`);
    await eventually(() => expect(textsFrom(laptop, alice.userId!)).toEqual(expected));
    const seqs = laptop.received.map((m) => m.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(Math.max(...seqs)).toBeLessThanOrEqual(phoneCursor);
    // What came before the login is history this device does not get.
    const page = await laptop.history(alice.userId!);
    expect(page.messages.map((m) => (m.message.body.kind === 'text' ? m.message.body.text : '')).sort()).toEqual([...expected].sort());
  });

  it('resumes after the connection drops mid-stream: nothing lost, nothing twice', async () => {
    const alice = await online(nextPhone());
    const bob = await online(nextPhone());
    const total = 300;
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < total; i++) {
      sends.push(alice.sendText(bob.userId!, `n${i}`).sent);
      // Kill Bob's socket abruptly twice while the stream is flowing.
      if (i === 100 || i === 200) {
        await eventually(() => expect(bob.received.length).toBeGreaterThan(0));
        dropConnection(bob);
      }
      if (i % 50 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await Promise.all(sends);
    await eventually(() => expect(textsFrom(bob, alice.userId!)).toHaveLength(total), 20_000);
    expect(textsFrom(bob, alice.userId!)).toEqual(Array.from({ length: total }, (_, i) => `n${i}`));
    // Seqs strictly increase by one: no gaps, no repeats.
    const seqs = bob.received.map((m) => m.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => seqs[0]! + i));
  }, 60_000);

  it('delivers 540 rapid sends in order: the first 500 at once, the rest after the rate limit, none lost or reordered', async () => {
    const alice = await online(nextPhone());
    const bob = await online(nextPhone());
    // A device may send 500 at once (send_device burst), then 5 a second: the last 40 are
    // refused with retryAfterMs, kept in the outbox and sent again by the SDK, in order.
    const count = 540;
    let delayed = 0;
    alice.on('send_delayed', () => (delayed += 1));
    const sends = Array.from({ length: count }, (_, i) => alice.sendText(bob.userId!, `r${i}`).sent);
    await Promise.all(sends);
    await eventually(() => expect(textsFrom(bob, alice.userId!)).toHaveLength(count), 60_000);
    expect(textsFrom(bob, alice.userId!)).toEqual(Array.from({ length: count }, (_, i) => `r${i}`));
    expect(delayed).toBeGreaterThan(0);
  }, 120_000);

  it('stores a concurrently retried id once and answers every retry with the same message id', async () => {
    const alice = await online(nextPhone());
    const bob = await online(nextPhone());
    const frame = JSON.stringify({ type: 'send', id: 'same-id-everywhere', to: bob.userId, body: { kind: 'text', text: 'once' } });

    // Two raw sockets of Alice's account fire the same id ten times each, without waiting.
    const raws = await Promise.all([rawSocket(alice.currentToken!), rawSocket(alice.currentToken!, true)]);
    for (let i = 0; i < 10; i++) for (const r of raws) r.ws.send(frame);
    await eventually(() => {
      for (const r of raws) expect(r.frames.filter((f) => f.type === 'sent')).toHaveLength(10);
    });
    const ids = new Set(raws.flatMap((r) => r.frames.flatMap((f) => (f.type === 'sent' ? [f.messageId] : []))));
    expect(ids.size).toBe(1);
    await new Promise((r) => setTimeout(r, 200));
    expect(textsFrom(bob, alice.userId!)).toEqual(['once']);
    for (const r of raws) r.ws.close();
  });
});

describe('restart', () => {
  it('survives a server restart: the outbox resends, the cursor resumes, nothing lost or doubled', async () => {
    const alice = await online(nextPhone());
    const bob = await online(nextPhone());
    for (let i = 0; i < 50; i++) await alice.sendText(bob.userId!, `before ${i}`).sent;
    await eventually(() => expect(textsFrom(bob, alice.userId!)).toHaveLength(50));

    await suite.server().stop();
    // Written while the server is down: they wait in the outbox.
    const during = Array.from({ length: 10 }, (_, i) => alice.sendText(bob.userId!, `during ${i}`).sent);
    await suite.server().restart();
    await Promise.all(during);
    for (let i = 0; i < 10; i++) await alice.sendText(bob.userId!, `after ${i}`).sent;

    const expected = [
      ...Array.from({ length: 50 }, (_, i) => `before ${i}`),
      ...Array.from({ length: 10 }, (_, i) => `during ${i}`),
      ...Array.from({ length: 10 }, (_, i) => `after ${i}`),
    ];
    await eventually(() => expect(textsFrom(bob, alice.userId!)).toHaveLength(expected.length), 30_000);
    expect(textsFrom(bob, alice.userId!)).toEqual(expected);
  }, 120_000);
});

describe('bad input, black box', () => {
  it('answers bad HTTP input with typed errors', async () => {
    const post = (path: string, body: string, headers: Record<string, string> = { 'Content-Type': 'application/json' }) =>
      fetch(`${suite.server().baseUrl}${path}`, { method: 'POST', body, headers });

    const malformed = await post(PATHS.requestOtp, '{"phone":');
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ error: { code: 'invalid_json', retryable: false } });

    const wrongType = await post(PATHS.requestOtp, JSON.stringify({ phone: 12345 }));
    expect(wrongType.status).toBe(400);
    expect(await wrongType.json()).toMatchObject({ error: { code: 'validation_failed' } });

    const badPhone = await post(PATHS.requestOtp, JSON.stringify({ phone: '+1 000' }));
    expect(badPhone.status).toBe(400);
    expect(await badPhone.json()).toMatchObject({ error: { code: 'invalid_phone' } });

    const huge = await post(PATHS.requestOtp, JSON.stringify({ phone: 'x'.repeat(100_000) }));
    expect(huge.status).toBe(413);
    expect(await huge.json()).toMatchObject({ error: { code: 'payload_too_large' } });

    const noAuth = await fetch(`${suite.server().baseUrl}${PATHS.me}`);
    expect(noAuth.status).toBe(401);
    const badAuth = await fetch(`${suite.server().baseUrl}${PATHS.me}`, { headers: { Authorization: 'Bearer nope' } });
    expect(await badAuth.json()).toMatchObject({ error: { code: 'token_invalid' } });

    const unknown = await fetch(`${suite.server().baseUrl}/v1/nothing-here`);
    expect(unknown.status).toBe(404);
    const body = await unknown.text();
    expect(body).not.toMatch(/at .*\.ts/); // never a stack trace
  });

  it('answers bad frames with error frames and keeps the socket', async () => {
    const alice = await online(nextPhone());
    const raw = await rawSocket(alice.currentToken!, true);
    raw.ws.send('nonsense');
    raw.ws.send(JSON.stringify({ type: 'send', id: 'big', to: alice.userId, body: { kind: 'text', text: 'x'.repeat(MAX_FRAME_BYTES) } }));
    raw.ws.send(JSON.stringify({ type: 'send', id: 'nobody', to: '01JDQ3ZK8Y6W2V9T7R5P3N1M0A', body: { kind: 'text', text: 'hi' } }));
    await eventually(() => {
      expect(raw.frames.filter((f) => f.type === 'error').map((f) => (f.type === 'error' ? f.code : ''))).toEqual([
        'invalid_json',
        'payload_too_large',
        'recipient_not_found',
      ]);
    });
    expect(raw.ws.readyState).toBe(WebSocket.OPEN);
    raw.ws.close();
  });
});

/**
 * A raw WebSocket for frames the SDK would never send. `extraDevice` logs in the same account
 * again so the socket does not replace the SDK client's connection.
 */
async function rawSocket(token: string, extraDevice = false): Promise<{ ws: WebSocket; frames: ServerFrame[] }> {
  let useToken = token;
  if (extraDevice) {
    const me = (await (await fetch(`${suite.server().baseUrl}${PATHS.me}`, { headers: { Authorization: `Bearer ${token}` } })).json()) as {
      phone: string;
    };
    const second = new MessengerClient({ baseUrl: suite.server().baseUrl });
    await second.login(me.phone);
    useToken = second.currentToken!;
  }
  const ws = new WebSocket(await connectUrlFor(suite.server().baseUrl, useToken));
  const frames: ServerFrame[] = [];
  ws.addEventListener('message', (e) => {
    const parsed = parseServerFrame(String(e.data));
    if (parsed.ok) frames.push(parsed.frame);
  });
  await new Promise<void>((done, fail) => {
    ws.addEventListener('open', () => done());
    ws.addEventListener('error', () => fail(new Error('raw socket failed to open')));
  });
  await eventually(() => expect(frames.some((f) => f.type === 'hello')).toBe(true));
  return { ws, frames };
}
