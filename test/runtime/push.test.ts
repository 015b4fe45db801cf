/**
 * Push notifications end to end inside the runtime: token registration, a message for a user
 * with no connected device goes through the push queue to the (sink) provider, a connected user
 * gets none, content-free unless previews are on, mutes and quiet hours fold into a summary,
 * and the consumer's handling of provider answers (retry, dead token, split per device).
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { MetricsSchema, PATHS, type SessionResponse, type SinkPush } from '../../protocol/index.ts';
import { pushTargetsOf, usersWithPushTokens } from '../../db/push.ts';
import { previewOf, type PushJob } from '../../durable-objects/mailbox/push-job.ts';
import type { PushNotification, PushOutcome, PushProvider, PushTarget } from '../../lib/push-types.ts';
import { consumePush, retryDelaySeconds } from '../../worker/queues/push.ts';
import { call, createGroup, users } from './group-support.ts';
import { api, connect, isType, login, nextPhone, text } from './support.ts';

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const OPERATOR = { token: 'dev-only-metrics-token' } as SessionResponse;

async function registerToken(session: SessionResponse, platform: 'apns' | 'fcm' | 'webhook', token: string) {
  const res = await call('PUT', PATHS.pushToken, session, { platform, token });
  expect(res.status).toBe(200);
  return res.body;
}

async function sink(userId: string): Promise<SinkPush[]> {
  const res = await api(`${PATHS.pushSink}?userId=${userId}`, { token: OPERATOR.token });
  expect(res.status).toBe(200);
  return ((await res.json()) as { pushes: SinkPush[] }).pushes;
}

async function pushesFor(userId: string, count: number, timeoutMs = 5_000): Promise<SinkPush[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pushes = await sink(userId);
    if (pushes.length >= count) return pushes;
    if (Date.now() > deadline) throw new Error(`expected ${count} pushes for ${userId}, have ${JSON.stringify(pushes)}`);
    await pause(50);
  }
}

/** Send a 1:1 text from `from` to `to` over a socket; resolves once stored. */
async function sendText(from: SessionResponse, to: SessionResponse, body: string, id: string) {
  const s = await connect(from);
  s.send({ type: 'send', id, to: to.userId, body: text(body) });
  await s.waitFor(isType('sent'));
  s.close();
}

describe('push token registration', () => {
  it('tells which users can be rung (a large group notices only those): a token on a logged-in device; any number of ids', async () => {
    const [ann, bob, cat, dan] = await users(4);
    await registerToken(ann!, 'fcm', `ringable-${ann!.userId}`);
    await registerToken(cat!, 'apns', `ringable-${cat!.userId}`);
    await registerToken(dan!, 'fcm', `ringable-${dan!.userId}`);
    expect((await call('POST', PATHS.logout, dan!)).status).toBe(204);
    // More ids than one statement binds: unknown ones around the real ones.
    const unknown = Array.from({ length: 200 }, (_, i) => `01KUNKNOWN${String(i).padStart(16, '0')}`);
    const ids = [...unknown.slice(0, 120), ann!.userId, bob!.userId, ...unknown.slice(120), cat!.userId, dan!.userId];
    expect([...(await usersWithPushTokens(env.DB, ids))].sort()).toEqual([ann!.userId, cat!.userId].sort());
    expect(await usersWithPushTokens(env.DB, [])).toEqual(new Set());
  });

  it('registers, replaces, reads and removes the calling device\'s token; logout removes it', async () => {
    const [ann] = await users(1);
    expect((await call('GET', PATHS.pushToken, ann!)).body.error?.code).toBe('not_found');
    expect(await registerToken(ann!, 'fcm', 'token-1')).toMatchObject({ deviceId: ann!.deviceId, platform: 'fcm' });
    await registerToken(ann!, 'apns', 'token-2');
    expect(await pushTargetsOf(env.DB, ann!.userId)).toEqual([{ userId: ann!.userId, deviceId: ann!.deviceId, platform: 'apns', token: 'token-2' }]);
    expect((await call('DELETE', PATHS.pushToken, ann!)).status).toBe(204);
    expect(await pushTargetsOf(env.DB, ann!.userId)).toEqual([]);

    await registerToken(ann!, 'fcm', 'token-3');
    expect((await call('POST', PATHS.logout, ann!)).status).toBe(204);
    expect(await pushTargetsOf(env.DB, ann!.userId)).toEqual([]);
  });

  it('moves a token re-registered by another device; rejects bad bodies', async () => {
    const phone = nextPhone();
    const first = await login(phone, 'old phone');
    const second = await login(phone, 'new phone');
    await registerToken(first, 'fcm', 'shared-token');
    await registerToken(second, 'fcm', 'shared-token');
    expect((await pushTargetsOf(env.DB, first.userId)).map((t) => t.deviceId)).toEqual([second.deviceId]);

    for (const bad of [{}, { platform: 'sms', token: 'x' }, { platform: 'fcm', token: '' }, { platform: 'fcm', token: 'x'.repeat(4097) }, { platform: 'fcm', token: 'x', extra: 1 }]) {
      const res = await call('PUT', PATHS.pushToken, first, bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.body.error?.code).toBe('validation_failed');
    }
    expect((await call('PUT', PATHS.pushToken, { ...first, token: 'bad' }, { platform: 'fcm', token: 'x' })).status).toBe(401);
    // Nothing of that was stored: the token stays with the second device.
    expect(await pushTargetsOf(env.DB, first.userId)).toEqual([{ userId: first.userId, deviceId: second.deviceId, platform: 'fcm', token: 'shared-token' }]);
  });

  it("refuses a token another user's logged-in device holds (nothing changes); once that device logs out it moves", async () => {
    const [ann, bob] = await users(2);
    const token = `taken-${ann!.userId}`;
    await registerToken(ann!, 'apns', token);
    await registerToken(bob!, 'fcm', 'bob-own-token');
    const before = (await env.DB.prepare('select * from push_tokens where user_id in (?, ?) order by device_id').bind(ann!.userId, bob!.userId).all()).results;

    const refused = await call('PUT', PATHS.pushToken, bob!, { platform: 'apns', token });
    expect(refused.status).toBe(409);
    expect(refused.body.error?.code).toBe('push_token_in_use');
    // Neither Ann's token nor Bob's own registration changed.
    expect((await env.DB.prepare('select * from push_tokens where user_id in (?, ?) order by device_id').bind(ann!.userId, bob!.userId).all()).results).toEqual(before);

    // The same token on another platform is another token.
    await registerToken(bob!, 'fcm', token);
    expect(await pushTargetsOf(env.DB, bob!.userId)).toEqual([{ userId: bob!.userId, deviceId: bob!.deviceId, platform: 'fcm', token }]);

    // A device revoked in D1 (whatever removed its token row or not) holds nothing: the token moves.
    await env.DB.prepare('update devices set revoked_at = ? where id = ?').bind(Date.now(), ann!.deviceId).run();
    await registerToken(bob!, 'apns', token);
    expect(await pushTargetsOf(env.DB, bob!.userId)).toEqual([{ userId: bob!.userId, deviceId: bob!.deviceId, platform: 'apns', token }]);
    expect((await env.DB.prepare('select count(*) as n from push_tokens where device_id = ?').bind(ann!.deviceId).first('n'))).toBe(0);
  });

  it('the push sink refuses bad queries and other tokens', async () => {
    for (const query of ['limit=0', 'limit=501', 'after=-1', 'userId=nope', 'colour=red']) {
      const res = await api(`${PATHS.pushSink}?${query}`, { token: OPERATOR.token });
      expect(res.status, query).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('validation_failed');
    }
    const [ann] = await users(1);
    expect((await call('GET', PATHS.pushSink, ann!)).status).toBe(401);
  });
});

describe('push delivery', () => {
  it('a user with no connected device gets a content-free push; a connected one gets none', async () => {
    const [ann, bob, cat] = await users(3);
    await registerToken(bob!, 'fcm', `bob-${bob!.userId}`);
    await registerToken(cat!, 'apns', `cat-${cat!.userId}`);
    const c = await connect(cat!);

    await sendText(ann!, bob!, 'secret plans', 'p1');
    await sendText(ann!, cat!, 'also secret', 'p2');
    const [push] = await pushesFor(bob!.userId, 1);
    expect(push).toMatchObject({
      userId: bob!.userId,
      deviceId: bob!.deviceId,
      platform: 'fcm',
      kind: 'message',
      title: 'New message',
      body: 'You have a new message',
      conversation: { kind: 'direct', id: ann!.userId },
      silent: false,
    });
    expect(JSON.stringify(push)).not.toContain('secret');
    await c.waitFor(isType('message'));
    await pause(300);
    expect(await sink(cat!.userId)).toEqual([]);
    c.close();
  });

  it('with previews on, shows the sender and a snippet; a group message names the group', async () => {
    const [ann, bob] = await users(2);
    await call('PATCH', PATHS.me, ann!, { displayName: 'Ann' });
    await registerToken(bob!, 'webhook', `bob-${bob!.userId}`);
    expect((await call('PATCH', PATHS.settings, bob!, { notifications: { previews: true } })).status).toBe(200);
    await sendText(ann!, bob!, 'lunch at noon?', 'v1');
    const [direct] = await pushesFor(bob!.userId, 1);
    expect(direct).toMatchObject({ title: 'Ann', body: 'lunch at noon?' });

    const group = await createGroup(ann!, [bob!], { title: 'Climbing' });
    const a = await connect(ann!);
    a.send({ type: 'group_send', id: 'g1', group: group.groupId, body: text('rope check') });
    await a.waitFor(isType('group_sent'));
    const pushes = await pushesFor(bob!.userId, 2);
    expect(pushes[1]).toMatchObject({ title: 'Climbing', body: 'Ann: rope check', conversation: { kind: 'group', id: group.groupId } });
    a.close();
  });

  it('a muted chat pushes nothing; when a timed mute ends, what it held comes as one silent summary', async () => {
    const [ann, bob] = await users(2);
    await registerToken(bob!, 'fcm', `bob-${bob!.userId}`);
    const until = Date.now() + 1_500;
    const muted = await call('PUT', PATHS.mute('direct', ann!.userId), bob!, { until });
    expect(muted.body).toMatchObject({ mutes: [{ conversation: { kind: 'direct', id: ann!.userId }, until }] });
    await sendText(ann!, bob!, 'one', 'm1');
    await sendText(ann!, bob!, 'two', 'm2');
    await pause(300);
    expect(await sink(bob!.userId)).toEqual([]);
    const [summary] = await pushesFor(bob!.userId, 1, 6_000);
    expect(summary).toMatchObject({ kind: 'summary', title: 'New messages', body: '2 new messages', silent: true, conversation: { kind: 'direct', id: ann!.userId } });
    expect(summary!.at).toBeGreaterThanOrEqual(until);
    expect((await call('GET', PATHS.settings, bob!)).body.mutes).toEqual([]);
  });

  it('quiet hours hold pushes; ending them sends one summary over the chats; connecting first clears it', async () => {
    const [ann, cat, bob, dan] = await users(4);
    for (const u of [bob!, dan!]) await registerToken(u, 'fcm', `t-${u.userId}`);
    // A window around the current UTC time.
    const hhmm = (t: number) => new Date(t).toISOString().slice(11, 16);
    const quietHours = { start: hhmm(Date.now() - 3_600_000), end: hhmm(Date.now() + 3_600_000), timeZone: 'UTC' };
    for (const u of [bob!, dan!]) expect((await call('PATCH', PATHS.settings, u, { notifications: { quietHours } })).status).toBe(200);

    await sendText(ann!, bob!, 'a', 'q1');
    await sendText(cat!, bob!, 'b', 'q2');
    await sendText(ann!, dan!, 'c', 'q3');
    await pause(300);
    expect(await sink(bob!.userId)).toEqual([]);

    // Dan opens the app during quiet hours: he sees the message, so no summary later.
    const d = await connect(dan!);
    d.close();
    await call('PATCH', PATHS.settings, dan!, { notifications: { quietHours: null } });

    await call('PATCH', PATHS.settings, bob!, { notifications: { quietHours: null } });
    const [summary] = await pushesFor(bob!.userId, 1);
    expect(summary).toMatchObject({ kind: 'summary', body: '2 new messages in 2 chats', conversation: null, silent: true });
    await pause(300);
    expect(await sink(dan!.userId)).toEqual([]);
  });

  it('mute input: unknown chats and past times are refused, nothing changes', async () => {
    const [ann, bob] = await users(2);
    const cases: [string, unknown, number, string][] = [
      [PATHS.mute('direct', '01ARZ3NDEKTSV4RRFFQ69G5FAV'), { until: null }, 404, 'user_not_found'],
      [PATHS.mute('group', '01ARZ3NDEKTSV4RRFFQ69G5FAV'), { until: null }, 404, 'group_not_found'],
      [PATHS.mute('direct', ann!.userId), { until: null }, 400, 'self_reference'],
      [PATHS.mute('direct', bob!.userId), { until: Date.now() - 1 }, 400, 'validation_failed'],
      [PATHS.mute('direct', bob!.userId), {}, 400, 'validation_failed'],
      [`/v1/me/mutes/channel/${bob!.userId}`, { until: null }, 400, 'validation_failed'],
    ];
    for (const [path, body, status, code] of cases) {
      const res = await call('PUT', path, ann!, body);
      expect([res.status, res.body.error?.code], path).toEqual([status, code]);
    }
    expect((await call('GET', PATHS.settings, ann!)).body.mutes).toEqual([]);
  });
});

// ---------------------------------------------------------------- the consumer, with stub providers

type Recorded = { target: PushTarget; notification: PushNotification };

function stubProvider(answer: (target: PushTarget) => PushOutcome): PushProvider & { sent: Recorded[] } {
  const sent: Recorded[] = [];
  return {
    name: 'stub',
    sent,
    async send(target, notification) {
      sent.push({ target, notification });
      return answer(target);
    },
  };
}

type FakeMessage = Message<unknown> & { outcome: 'ack' | { retry: number | undefined } | null };

type FakeBatch = { queue: string; messages: FakeMessage[]; ackAll(): void; retryAll(): void };

/** Feed a fake batch to the consumer (the fake has what the consumer uses). */
function consume(batch: FakeBatch, pushEnv: Env, providers: Parameters<typeof consumePush>[2]) {
  return consumePush(batch as unknown as MessageBatch<unknown>, pushEnv, providers);
}

function fakeBatch(bodies: unknown[]): FakeBatch {
  const messages = bodies.map((body, i) => {
    const m: FakeMessage = {
      id: `m${i}`,
      timestamp: new Date(),
      body,
      attempts: 1,
      outcome: null,
      ack() {
        m.outcome = 'ack';
      },
      retry(options?: QueueRetryOptions) {
        m.outcome = { retry: options?.delaySeconds };
      },
    };
    return m;
  });
  return { queue: 'push-notifications', messages, ackAll() {}, retryAll() {} };
}

function job(userId: string, extra: Partial<PushJob> = {}): PushJob {
  return {
    userId,
    kind: 'message',
    conversation: { kind: 'direct', id: userId },
    messageId: null,
    count: 1,
    chats: 1,
    from: null,
    preview: null,
    silent: false,
    enqueuedAt: Date.now(),
    ...extra,
  };
}

describe('push consumer', () => {
  it('retries transient failures with backoff (or Retry-After), removes dead tokens, drops permanent failures', async () => {
    const [ann, bob, cat, dan] = await users(4);
    await registerToken(ann!, 'fcm', 'retry-me');
    await registerToken(bob!, 'fcm', 'dead-token');
    await registerToken(cat!, 'fcm', 'bad-request');
    await registerToken(dan!, 'fcm', 'slow-down');
    const provider = stubProvider((t) => {
      switch (t.token) {
        case 'retry-me':
          return { status: 'retry', reason: '503' };
        case 'dead-token':
          return { status: 'invalid_token', reason: 'UNREGISTERED' };
        case 'slow-down':
          return { status: 'retry', reason: '429', retryAfterSeconds: 30 };
        default:
          return { status: 'failed', reason: 'INVALID_ARGUMENT' };
      }
    });
    const batch = fakeBatch([job(ann!.userId), job(bob!.userId), job(cat!.userId), job(dan!.userId), { not: 'a job' }]);
    await consume(batch, env, { fcm: provider });
    const [retried, dead, failed, slowed, malformed] = batch.messages;
    expect(retried!.outcome).toEqual({ retry: expect.any(Number) });
    expect(dead!.outcome).toBe('ack');
    expect(failed!.outcome).toBe('ack');
    expect(slowed!.outcome).toEqual({ retry: 30 });
    expect(malformed!.outcome).toBe('ack');
    expect(await pushTargetsOf(env.DB, bob!.userId)).toEqual([]);
    expect(await pushTargetsOf(env.DB, cat!.userId)).toHaveLength(1);

    const metrics = (await call('GET', PATHS.metrics, OPERATOR)).body as unknown as { push: Record<string, number> };
    expect(metrics.push.retried).toBeGreaterThanOrEqual(2);
    expect(metrics.push.invalidTokens).toBeGreaterThanOrEqual(1);
    expect(metrics.push.failed).toBeGreaterThanOrEqual(1);
  });

  it('drops a preview push whose message was deleted for everyone before it went out; keeps it for a live message', async () => {
    const [ann, bob] = await users(2);
    await registerToken(bob!, 'fcm', `recall-${bob!.userId}`);
    const a = await connect(ann!);
    a.send({ type: 'send', id: 'pr-1', to: bob!.userId, body: text('wrong chat, sorry') });
    const [sent] = await a.waitFor(isType('sent'));
    a.send({ type: 'send', id: 'pr-2', to: bob!.userId, body: text('still here') });
    const [, kept] = await a.waitFor(isType('sent'), 2);
    a.send({ type: 'action', id: 'pr-3', chat: { kind: 'direct', peer: bob!.userId }, target: sent!.messageId, action: { kind: 'delete', scope: 'everyone' } });
    await a.waitFor(isType('acted'));
    a.close();
    const provider = stubProvider(() => ({ status: 'sent' }));
    const withPreview = (messageId: string, preview: string) =>
      job(bob!.userId, { conversation: { kind: 'direct', id: ann!.userId }, messageId, from: ann!.userId, preview });
    const batch = fakeBatch([withPreview(sent!.messageId, 'wrong chat, sorry'), withPreview(kept!.messageId, 'still here')]);
    await consume(batch, env, { fcm: provider });
    expect(batch.messages.map((m) => m.outcome)).toEqual(['ack', 'ack']);
    expect(provider.sent.map((r) => r.notification.body)).toEqual(['still here']);
  });

  it('splits a job for a user with several devices into one per device; no device means nothing to do', async () => {
    const phone = nextPhone();
    const phoneA = await login(phone, 'phone');
    const tablet = await login(phone, 'tablet');
    await registerToken(phoneA, 'fcm', `a-${phoneA.deviceId}`);
    await registerToken(tablet, 'apns', `b-${tablet.deviceId}`);
    const provider = stubProvider(() => ({ status: 'sent' }));
    const sent: unknown[] = [];
    const pushEnv = { ...env, PUSH: { sendBatch: async (m: { body: unknown }[]) => void sent.push(...m.map((x) => x.body)) } } as unknown as Env;
    const batch = fakeBatch([job(phoneA.userId)]);
    await consume(batch, pushEnv, { fcm: provider, apns: provider });
    expect(batch.messages[0]!.outcome).toBe('ack');
    expect(provider.sent).toEqual([]);
    expect((sent as PushJob[]).map((j) => j.deviceId).sort()).toEqual([phoneA.deviceId, tablet.deviceId].sort());

    // Each per-device job goes to its own platform's provider.
    const perDevice = fakeBatch(sent);
    await consume(perDevice, pushEnv, { fcm: provider, apns: provider });
    expect(perDevice.messages.map((m) => m.outcome)).toEqual(['ack', 'ack']);
    expect(provider.sent.map((s) => s.target.platform).sort()).toEqual(['apns', 'fcm']);

    const [nobody] = await users(1);
    const none = fakeBatch([job(nobody!.userId)]);
    await consume(none, env, { fcm: provider });
    expect(none.messages[0]!.outcome).toBe('ack');
  });

  it('backs off exponentially with jitter, capped, and honours Retry-After', () => {
    for (let attempt = 1; attempt <= 12; attempt++) {
      const d = retryDelaySeconds(attempt);
      expect(d).toBeGreaterThanOrEqual(1);
      expect(d).toBeLessThanOrEqual(Math.min(300, 2 ** attempt));
    }
    expect(retryDelaySeconds(3, 42)).toBe(42);
    expect(retryDelaySeconds(3, 100_000)).toBe(300);
  });
});

describe('metrics', () => {
  it('needs the operator token and reports queues, dead letters, push outcomes, connections and depth', async () => {
    expect((await api(PATHS.metrics)).status).toBe(401);
    expect((await api(PATHS.metrics, { token: 'wrong' })).status).toBe(401);
    expect((await api(PATHS.pushSink, { token: 'wrong' })).status).toBe(401);
    const [ann] = await users(1);
    const a = await connect(ann!);
    // The gauges reach their hub in the background: wait for the connection to be counted.
    const read = async () => (await call('GET', PATHS.metrics, OPERATOR)).body as unknown as Record<string, Record<string, unknown>>;
    let body = await read();
    for (let tries = 0; tries < 100 && !((body.connections!.devices as number) >= 1); tries++) {
      await pause(50);
      body = await read();
    }
    expect(Object.keys(body.queues!)).toEqual(['group-fanout', 'push-notifications', 'history-archive']);
    // History tiers: the hot gauge and one entry per history shard.
    expect(Object.keys((body.history as { shards: object }).shards)).toEqual(['HISTORY_0', 'HISTORY_1']);
    expect(MetricsSchema.parse(body).history.hot.messages).toBeGreaterThanOrEqual(0);
    expect(body.connections!.devices).toBeGreaterThanOrEqual(1);
    expect(body.mailboxes!.reporting).toBeGreaterThanOrEqual(1);
    expect(body.push).toEqual(expect.objectContaining({ sent: expect.any(Number), failed: expect.any(Number) }));
    a.close();
  });
});

describe('push previews of media', () => {
  const media = { id: '01ARZ3NDEKTSV4RRFFQ69G5FAV', mime: 'image/jpeg', size: 10 };
  it('say what was sent, never the caption', () => {
    expect(previewOf({ kind: 'image', media, caption: 'secret plan' })).toBe('📷 Photo');
    expect(previewOf({ kind: 'video', media: { ...media, mime: 'video/mp4' } })).toBe('🎥 Video');
    expect(previewOf({ kind: 'voice', media: { ...media, mime: 'audio/ogg' }, durationMs: 12_400 })).toBe('🎤 Voice message (0:12)');
    expect(previewOf({ kind: 'voice', media: { ...media, mime: 'audio/ogg' }, durationMs: 3_725_000 })).toBe('🎤 Voice message (1:02:05)');
    expect(previewOf({ kind: 'voice', media: { ...media, mime: 'audio/ogg' } })).toBe('🎤 Voice message');
    expect(previewOf({ kind: 'document', media: { ...media, mime: 'application/pdf' }, fileName: 'report.pdf' })).toBe('📄 report.pdf');
    expect(previewOf({ kind: 'document', media: { ...media, mime: 'application/pdf' } })).toBe('📄 Document');
  });
});
