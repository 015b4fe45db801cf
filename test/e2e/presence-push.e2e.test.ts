/**
 * Black box: presence, typing indicators, push notifications and operator metrics against the
 * real local server (`npm run dev`'s script: PUSH_MODE=sink, METRICS_TOKEN from wrangler.toml),
 * driven with the SDK over real HTTP and WebSockets on 127.0.0.1. Every wait is bounded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MessengerClient, OperatorApi, TypingIndicators } from '../../client/index.ts';
import type { Presence, PresenceFrame, SinkPush, TypingEntry } from '../../client/index.ts';
import { TYPING_TTL_MS } from '../../protocol/index.ts';
import { device, eventually, nextPhone, textsFrom, type TestClient } from '../support/clients.ts';
import { SERVER_HOOK_MS, startServer, type LocalServer } from '../support/server.ts';

/** The dev server's operator token (wrangler.toml [vars] METRICS_TOKEN). */
const OPERATOR_TOKEN = 'dev-only-metrics-token';

let server: LocalServer;
let ops: OperatorApi;
const open: MessengerClient[] = [];
const indicators: TypingIndicators[] = [];

beforeAll(async () => {
  server = await startServer();
  ops = new OperatorApi({ baseUrl: server.baseUrl, token: OPERATOR_TOKEN });
}, SERVER_HOOK_MS);

afterAll(async () => {
  for (const t of indicators) t.dispose();
  for (const c of open) c.close();
  await server?.dispose();
});

/** A logged-in device that is not connected (closed in afterAll anyway). */
async function offline(phone: string, name = 'e2e'): Promise<TestClient> {
  const client = await device(server.baseUrl, phone, name);
  open.push(client);
  return client;
}

async function online(phone: string, name = 'e2e'): Promise<TestClient> {
  const client = await offline(phone, name);
  await client.connect();
  return client;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The sink's pushes to `userId`, polled until `done` says so or `timeoutMs` passes (returns the last answer). */
async function pollPushes(userId: string, done: (pushes: SinkPush[]) => boolean, timeoutMs: number): Promise<SinkPush[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { pushes } = await ops.sinkPushes({ userId });
    if (done(pushes) || Date.now() >= deadline) return pushes;
    await sleep(100);
  }
}

describe('push notifications', () => {
  it('pushes a content-free notification to a user with no connected device, and none to a connected one', async () => {
    const alice = await online(nextPhone(), 'alice');
    const me = await alice.api.updateMe({ displayName: 'Alice Liddell' });
    const bob = await offline(nextPhone(), 'bob-phone');
    const bobId = bob.userId!;

    expect(await bob.api.pushRegistration()).toBeNull();
    const registration = await bob.api.registerPushToken('fcm', `e2e-fcm-${bobId}`);
    expect(registration).toMatchObject({ deviceId: bob.deviceId, platform: 'fcm' });
    expect(await bob.api.pushRegistration()).toEqual(registration);

    const secret = 'meet me at the usual place';
    const ack = await alice.sendText(bobId, secret).sent;

    const pushes = await pollPushes(bobId, (p) => p.length >= 1, 10_000);
    expect(pushes).toHaveLength(1);
    const push = pushes[0]!;
    expect(push).toMatchObject({
      userId: bobId,
      deviceId: bob.deviceId,
      platform: 'fcm',
      kind: 'message',
      title: 'New message',
      conversation: { kind: 'direct', id: alice.userId },
      messageId: ack.messageId,
      silent: false,
    });
    // Content-free (previews are off by default): neither the text nor the sender's name or number.
    for (const field of [push.title, push.body]) {
      expect(field).not.toContain(secret);
      expect(field).not.toContain(me.displayName);
      expect(field).not.toContain(me.phone!);
    }

    // Carol is connected (and has a push token too): she gets the message live, and no push.
    const carol = await online(nextPhone(), 'carol');
    const carolId = carol.userId!;
    await carol.api.registerPushToken('fcm', `e2e-fcm-${carolId}`);
    await alice.sendText(carolId, 'are you there?').sent;
    await eventually(() => expect(textsFrom(carol, alice.userId!)).toEqual(['are you there?']), 5_000);
    const carolPushes = await pollPushes(carolId, (p) => p.length > 0, 1_500);
    expect(carolPushes).toEqual([]);

    // Unregistering stops pushes to that device.
    await bob.api.unregisterPushToken();
    expect(await bob.api.pushRegistration()).toBeNull();
  });

  it("a token held by another account's logged-in device is refused; once that device logs out it moves", async () => {
    const bobPhone = nextPhone();
    const bob = await offline(bobPhone, 'bob-phone');
    const eve = await offline(nextPhone(), 'eve-phone');
    const token = `e2e-fcm-shared-${bob.userId}`;
    await bob.api.registerPushToken('fcm', token);

    await expect(eve.api.registerPushToken('fcm', token)).rejects.toMatchObject({ code: 'push_token_in_use', status: 409, retryable: false });
    expect(await eve.api.pushRegistration()).toBeNull();
    expect(await bob.api.pushRegistration()).toMatchObject({ platform: 'fcm' });

    // The same user's other device may take it over (a reinstalled app, a restored phone).
    const bobTablet = await offline(bobPhone, 'bob-tablet');
    await expect(bobTablet.api.registerPushToken('fcm', token)).resolves.toMatchObject({ deviceId: bobTablet.deviceId });

    // Logged out, the holder no longer keeps it from anyone.
    await bobTablet.logout();
    await expect(eve.api.registerPushToken('fcm', token)).resolves.toMatchObject({ deviceId: eve.deviceId });
  });

  it('operator metrics count the push and the connected devices (run after the push test)', async () => {
    const dave = await online(nextPhone(), 'dave');
    expect(dave.state).toBe('open');
    let last = await ops.metrics();
    const deadline = Date.now() + 10_000;
    while ((last.push.sent < 1 || last.connections.devices < 1) && Date.now() < deadline) {
      await sleep(200);
      last = await ops.metrics();
    }
    expect(last.push.sent).toBeGreaterThanOrEqual(1);
    expect(last.connections.devices).toBeGreaterThanOrEqual(1);
    expect(last.connections.onlineUsers).toBeGreaterThanOrEqual(1);

    // A user's token is not an operator token.
    await expect(new OperatorApi({ baseUrl: server.baseUrl, token: dave.currentToken! }).metrics()).rejects.toMatchObject({
      code: 'unauthorized',
    });
  });
});

describe('typing indicators', () => {
  it('reach the peer and expire after expiresInMs without a repeat or a stop', async () => {
    const alice = await online(nextPhone(), 'alice');
    const bob = await online(nextPhone(), 'bob');
    const typing = new TypingIndicators(bob);
    indicators.push(typing);
    const changes: Array<{ at: number; list: TypingEntry[] }> = [];
    typing.on('change', (list) => changes.push({ at: Date.now(), list }));
    const chat = { kind: 'direct', id: alice.userId! } as const;

    expect(alice.typing(bob.userId!, 'typing')).toBe(true);
    await eventually(() => expect(typing.typingIn(chat)).toMatchObject([{ userId: alice.userId, state: 'typing' }]), 5_000);
    const shownAt = changes[0]!.at;

    // No repeat, no stop: it goes away on its own after TYPING_TTL_MS (bounded wait).
    await eventually(() => expect(typing.typingIn(chat)).toEqual([]), TYPING_TTL_MS + 3_000, 50);
    const hiddenAt = changes.at(-1)!.at;
    expect(hiddenAt - shownAt).toBeGreaterThanOrEqual(TYPING_TTL_MS - 100);
    expect(changes.map((c) => c.list.length)).toEqual([1, 0]);

    // `stopped` clears it at once.
    alice.typing(bob.userId!, 'recording');
    await eventually(() => expect(typing.typingIn(chat)).toMatchObject([{ state: 'recording' }]), 5_000);
    alice.typing(bob.userId!, 'stopped');
    await eventually(() => expect(typing.typingIn(chat)).toEqual([]), 2_000);
  }, 30_000);
});

describe('presence', () => {
  it('a watcher sees a contact online while connected, then offline with a last seen', async () => {
    const alicePhone = nextPhone();
    const bobPhone = nextPhone();
    const alice = await online(alicePhone, 'alice');
    const bob = await online(bobPhone, 'bob');
    const aliceId = alice.userId!;
    // Last seen is shown to contacts by default, and only both ways: contacts both ways.
    await alice.api.addContact(bobPhone, 'Bob');
    await bob.api.addContact(alicePhone, 'Alice');

    const before = Date.now();
    await alice.sendText(bob.userId!, 'hi').sent; // activity: sets Alice's last seen

    const frames: PresenceFrame[] = [];
    bob.on('presence', (frame) => frames.push(frame));
    expect(bob.watchPresence([aliceId])).toBe(true);
    await eventually(() => expect(bob.presenceOf(aliceId)).toMatchObject({ userId: aliceId, online: true }), 5_000);

    alice.close();
    await eventually(() => expect(bob.presenceOf(aliceId)).toMatchObject({ online: false }), 10_000);
    const gone = bob.presenceOf(aliceId) as Presence;
    expect(gone.lastSeen).not.toBeNull();
    expect(gone.lastSeen!).toBeGreaterThanOrEqual(before - 1_000); // server clock, same machine
    expect(gone.lastSeen!).toBeLessThanOrEqual(Date.now() + 1_000);
    expect(frames.map((f) => f.online)).toEqual([true, false]);

    // The HTTP view agrees.
    await expect(bob.api.presence(aliceId)).resolves.toEqual(gone);
  }, 30_000);

  it('a stranger watching a user whose presence is hidden from them gets the hidden answer once, then nothing across connects and disconnects', async () => {
    const alicePhone = nextPhone();
    const friendPhone = nextPhone();
    const alice = await online(alicePhone, 'alice');
    const stranger = await online(nextPhone(), 'stranger');
    const aliceId = alice.userId!;
    await alice.sendText(stranger.userId!, 'activity').sent;

    const frames: PresenceFrame[] = [];
    stranger.on('presence', (frame) => frames.push(frame));
    stranger.watchPresence([aliceId]);
    await eventually(() => expect(frames).toEqual([{ type: 'presence', userId: aliceId, online: false, lastSeen: null }]), 5_000);

    // A contact of Alice's watches too: the control that connects and disconnects really happened.
    const friend = await online(friendPhone, 'friend');
    await alice.api.addContact(friendPhone, 'Friend');
    await friend.api.addContact(alicePhone, 'Alice');
    const seen: PresenceFrame[] = [];
    friend.on('presence', (frame) => seen.push(frame));
    friend.watchPresence([aliceId]);
    await eventually(() => expect(seen.at(-1)).toMatchObject({ online: true }), 5_000);
    for (let round = 0; round < 2; round++) {
      alice.close();
      await eventually(() => expect(seen.at(-1)).toMatchObject({ online: false }), 10_000);
      await alice.connect();
      await eventually(() => expect(seen.at(-1)).toMatchObject({ online: true }), 10_000);
    }
    expect(seen.length).toBeGreaterThanOrEqual(5);
    expect(frames).toHaveLength(1);
  }, 40_000);
});
