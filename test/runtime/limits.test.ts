/**
 * Rate limits kept by the user's Durable Object (the `bucket` limits of protocol/rate-limits.ts):
 * the token buckets on their own with an injected clock, then every limit at its edge through
 * the real Worker and objects, with the isolate's clock frozen (the objects run in the test's
 * isolate, so a faked `Date` is their clock too): the action that passes, the one refused, its
 * exact `retryAfterMs`, and that the refused one stored nothing.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ErrorResponseSchema,
  PATHS,
  RATE_LIMITS,
  type ErrorFrame,
  type Group,
  type SessionResponse,
} from '../../protocol/index.ts';
import { TokenBuckets, bucketLimits, type BucketTable } from '../../durable-objects/mailbox/budgets.ts';
import { TypingGate } from '../../durable-objects/typing.ts';
import { groupOf, mailboxOf } from '../../durable-objects/stubs.ts';
import { listGroupsOf } from '../../db/groups.ts';
import { call, openToGroups, settled } from './group-support.ts';
import { api, connect, isType, login, text, type TestSocket } from './support.ts';

// German mobile numbers (+49 152 and eight digits) are valid; steps of 1,000 give each its own
// block of 1,000 numbers (the unit of the per-prefix edge limit on code requests).
let phoneCounter = 10_000_000 + Math.floor(Math.random() * 80_000) * 1_000;
function freshPhone(): string {
  phoneCounter += 1_000;
  return `+49152${phoneCounter}`;
}

async function signUp(n: number): Promise<SessionResponse[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => login(freshPhone(), `limits-${i}`)));
}

/** Freeze the clock of this isolate (tests and objects) at `at`; returns a way to move it. */
function freezeClock(at = Date.now()): { advance: (ms: number) => void; now: () => number } {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(at);
  let now = at;
  return {
    advance: (ms) => {
      now += ms;
      vi.setSystemTime(now);
    },
    now: () => now,
  };
}

afterEach(() => {
  vi.useRealTimers();
});

const SECOND = 1_000;
/**
 * A ping the object itself answers, after every frame sent before it: the byte-exact heartbeat
 * (`{"type":"ping"}`) is answered by the runtime without waking the object, so its pong proves
 * nothing about earlier frames (under load the typing test saw its pong before the burst was
 * handled, then a frame of the burst took the token meant for the last one).
 */
const ORDERED_PING = '{"type": "ping"}';
const isError = isType('error');
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A clock for the pure tests. */
function manualClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

function defaults(): BucketTable {
  return bucketLimits(undefined);
}

// ------------------------------------------------------------------ the buckets on their own

describe('token buckets', () => {
  it('pass the burst, refuse the next with the exact wait, and refill continuously', () => {
    const clock = manualClock();
    const buckets = new TokenBuckets({ limits: defaults(), now: clock.now });
    const send = [{ name: 'send_device' as const, cost: 1 }];
    for (let i = 0; i < 500; i++) expect(buckets.spend(send, { device: 'd1' }), `send ${i}`).toEqual({ ok: true });
    // 5 per second: the next token is 200 ms away.
    expect(buckets.spend(send, { device: 'd1' })).toEqual({ ok: false, retryAfterMs: 200, limit: 'send_device' });
    clock.advance(199);
    expect(buckets.spend(send, { device: 'd1' })).toMatchObject({ ok: false, retryAfterMs: 1 });
    clock.advance(1);
    expect(buckets.spend(send, { device: 'd1' })).toEqual({ ok: true });
    expect(buckets.spend(send, { device: 'd1' })).toMatchObject({ ok: false, retryAfterMs: 200 });
    // Another device has its own bucket.
    expect(buckets.spend(send, { device: 'd2' })).toEqual({ ok: true });
    // After 10 s, 50 tokens are back (and never more than the burst).
    clock.advance(10 * SECOND);
    expect(buckets.tokens('send_device', { device: 'd1' })).toBe(50);
    clock.advance(1_000 * SECOND);
    expect(buckets.tokens('send_device', { device: 'd1' })).toBe(500);
  });

  it('spend all or nothing across buckets, and name the one that refused', () => {
    const clock = manualClock();
    const buckets = new TokenBuckets({ limits: defaults(), now: clock.now });
    const charges = [
      { name: 'group_create_user' as const, cost: 1 },
      { name: 'group_add_user' as const, cost: 1_000 },
    ];
    expect(buckets.spend(charges)).toEqual({ ok: true });
    // 24 members left in the hour's 1,024; 25 more is refused, and the group is not counted either.
    const refused = buckets.spend([{ name: 'group_create_user', cost: 1 }, { name: 'group_add_user', cost: 25 }]);
    // One member comes back every 3,515.625 ms.
    expect(refused).toEqual({ ok: false, retryAfterMs: 3_516, limit: 'group_add_user' });
    expect(buckets.tokens('group_create_user')).toBe(9);
    expect(buckets.tokens('group_add_user')).toBe(24);
    // A zero cost is free even from an empty bucket.
    expect(buckets.spend([{ name: 'group_add_user', cost: 24 }])).toEqual({ ok: true });
    expect(buckets.spend([{ name: 'group_add_user', cost: 0 }])).toEqual({ ok: true });
  });

  it('charge into debt: a 1,024-member group admitted on an almost empty budget delays the next messages', () => {
    const clock = manualClock();
    const buckets = new TokenBuckets({ limits: defaults(), now: clock.now });
    const one = [{ name: 'group_deliveries_user' as const, cost: 1 }];
    const deliveries = (cost: number) => [{ name: 'group_deliveries_user' as const, cost }];
    // 1,023 members besides the sender: 19 messages fit in 20,000, the 20th is admitted on 563 left.
    let admitted = 0;
    while (buckets.check(one).ok) {
      buckets.charge(deliveries(1_023));
      admitted++;
    }
    expect(admitted).toBe(20);
    expect(buckets.tokens('group_deliveries_user')).toBe(20_000 - 20 * 1_023);
    // 460 in debt, refilled at 200 per second (5 ms each): 461 tokens until one is there.
    expect(buckets.check(one)).toEqual({ ok: false, retryAfterMs: 461 * 5, limit: 'group_deliveries_user' });
    clock.advance(461 * 5 - 1);
    expect(buckets.check(one).ok).toBe(false);
    clock.advance(1);
    expect(buckets.check(one)).toEqual({ ok: true });
  });

  it('let an action larger than the burst through only when the bucket is full', () => {
    const clock = manualClock();
    const limits = bucketLimits('{"group_add_user":{"burst":100,"refill":100,"everyMs":1000}}');
    const buckets = new TokenBuckets({ limits, now: clock.now });
    expect(buckets.spend([{ name: 'group_add_user', cost: 1 }])).toEqual({ ok: true });
    expect(buckets.spend([{ name: 'group_add_user', cost: 256 }])).toMatchObject({ ok: false, retryAfterMs: 10 });
    clock.advance(10);
    expect(buckets.spend([{ name: 'group_add_user', cost: 256 }])).toEqual({ ok: true });
    // 156 in debt: full again after 2.56 s.
    expect(buckets.tokens('group_add_user')).toBe(-156);
    expect(buckets.spend([{ name: 'group_add_user', cost: 1 }])).toMatchObject({ ok: false, retryAfterMs: 1_570 });
  });

  it('keep per-device and per-conversation buckets apart, and need the device to name them', () => {
    const buckets = new TokenBuckets({ limits: defaults(), now: manualClock().now });
    const typing = [{ name: 'typing_conversation' as const, cost: 1 }];
    for (let i = 0; i < 4; i++) expect(buckets.spend(typing, { device: 'd', conversation: 'a' }).ok).toBe(true);
    expect(buckets.spend(typing, { device: 'd', conversation: 'a' })).toMatchObject({ ok: false, retryAfterMs: 1_000 });
    expect(buckets.spend(typing, { device: 'd', conversation: 'b' }).ok).toBe(true);
    expect(buckets.spend(typing, { device: 'e', conversation: 'a' }).ok).toBe(true);
    expect(() => buckets.spend(typing, { device: 'd' })).toThrow(/conversation/);
    expect(() => buckets.spend([{ name: 'send_device', cost: 1 }])).toThrow(/device/);
  });

  it('store `stored` buckets in the mailbox database, written only when spent; memory ones are not', async () => {
    const stub = mailboxOf(env, `budget-store-${crypto.randomUUID()}`);
    await runInDurableObject(stub, (_instance, state) => {
      const clock = manualClock();
      const sql = state.storage.sql;
      const rows = () => sql.exec<{ name: string; key: string; full_at: number }>('SELECT name, key, full_at FROM budgets ORDER BY name').toArray();
      const first = new TokenBuckets({ limits: defaults(), sql, now: clock.now });
      // Checking and refusing write nothing.
      expect(first.check([{ name: 'contact_add_user', cost: 1 }])).toEqual({ ok: true });
      expect(rows()).toEqual([]);
      first.spend([{ name: 'contact_add_user', cost: 200 }]);
      first.spend([{ name: 'send_user', cost: 1 }]);
      expect(rows()).toEqual([{ name: 'contact_add_user', key: 'user', full_at: 1_000_000 + 86_400_000 }]);
      expect(first.spend([{ name: 'contact_add_user', cost: 1 }])).toMatchObject({ ok: false, retryAfterMs: 432_000 });
      expect(rows()).toHaveLength(1);

      // A restarted object (a new instance on the same database) still knows the stored bucket...
      const second = new TokenBuckets({ limits: defaults(), sql, now: clock.now });
      expect(second.spend([{ name: 'contact_add_user', cost: 1 }])).toMatchObject({ ok: false, retryAfterMs: 432_000 });
      // ...and starts memory buckets full.
      expect(second.tokens('send_user')).toBe(1_000);
      // Rows of buckets that refilled are dropped on the next write.
      clock.advance(86_400_000);
      second.spend([{ name: 'phone_lookup_user', cost: 1 }]);
      expect(rows().map((r) => r.name)).toEqual(['phone_lookup_user']);
    });
  });

  it('take overrides from RATE_LIMITS; invalid values are logged once and ignored', () => {
    const log = vi.fn();
    const table = bucketLimits('{"send_device":{"burst":1000,"refill":50},"resume_device":{"everyMs":1000}}', log);
    expect(table.send_device).toMatchObject({ burst: 1_000, refill: 50, everyMs: 1_000, scope: 'device', stored: false });
    expect(table.resume_device).toMatchObject({ burst: 5, refill: 5, everyMs: 1_000 });
    expect(table.send_user).toMatchObject({ burst: RATE_LIMITS.send_user.burst });
    // Already parsed (a JSON variable in wrangler.toml) works too.
    expect(bucketLimits({ typing_device: { burst: 3 } }, log).typing_device.burst).toBe(3);
    expect(log).not.toHaveBeenCalled();

    const broken = '{"send_device": {burst: 1}}';
    expect(bucketLimits(broken, log)).toEqual(defaults());
    expect(bucketLimits(broken, log)).toEqual(defaults());
    expect(bucketLimits('{"send_device":{"burst":-1}}', log)).toEqual(defaults());
    expect(bucketLimits('{"send_device":{"burst":2,"extra":1}}', log).send_device.burst).toBe(500);
    const partly = bucketLimits('{"otp_request_ip":{"burst":1},"nope":{},"send_user":{"burst":7}}', log);
    expect(partly.send_user.burst).toBe(7);
    expect(Object.keys(partly)).not.toContain('otp_request_ip');
    const messages = log.mock.calls.map((c) => String(c[0]));
    expect(messages.filter((m) => m.includes('not valid JSON'))).toHaveLength(1);
    expect(messages.some((m) => m.includes('otp_request_ip'))).toBe(true);
    expect(messages.some((m) => m.includes('nope'))).toBe(true);
  });
});

describe('typing gate', () => {
  it('makes every relayed frame pay, a change of state too; repeats and noise are free', () => {
    const gate = new TypingGate();
    let tokens = 4;
    const spend = () => (tokens > 0 ? (tokens--, true) : false);
    const now = 1_000_000;
    // A `stopped` for nothing shown is noise, and costs nothing.
    expect(gate.allow('d:peer', 'stopped', now, spend)).toBe(false);
    const states = ['typing', 'recording', 'typing', 'recording', 'typing', 'recording'] as const;
    expect(states.map((s) => gate.allow('d:peer', s, now, spend))).toEqual([true, true, true, true, false, false]);
    expect(tokens).toBe(0);
    // The same state again within the interval is a repeat: dropped without asking the budget.
    const never = vi.fn(() => true);
    expect(gate.allow('d:peer', 'recording', now + 10, never)).toBe(false);
    expect(never).not.toHaveBeenCalled();
    // With budget back, the change passes and `stopped` (something is shown) too.
    tokens = 2;
    expect(gate.allow('d:peer', 'typing', now + 20, spend)).toBe(true);
    expect(gate.allow('d:peer', 'stopped', now + 30, spend)).toBe(true);
    expect(gate.allow('d:peer', 'stopped', now + 40_000, spend)).toBe(false);
  });
});

// ------------------------------------------------------------------ frames, through the real objects

/** Mailbox heads right after login (each login writes the account's "device logged in" entry). */
async function heads(...sessions: SessionResponse[]): Promise<number[]> {
  return Promise.all(sessions.map(async (s) => (await mailboxOf(env, s.userId).stats()).head));
}

function errorsOf(socket: TestSocket): ErrorFrame[] {
  return socket.frames.filter(isError);
}

describe('frame limits', () => {
  it('a flood of 500 pipelined sends from one device all pass; the 501st waits one refill (200 ms) and stores nothing', { timeout: 120_000 }, async () => {
    const [ann, bob] = await signUp(2);
    const [annHead, bobHead] = await heads(ann!, bob!);
    const a = await connect(ann!);
    const clock = freezeClock();
    for (let i = 0; i <= 500; i++) a.send({ type: 'send', id: `m-${i}`, to: bob!.userId, body: text(`hello ${i}`) });
    const sent = await a.waitFor(isType('sent'), 500, 60_000);
    const [refused] = await a.waitFor(isError);
    expect(sent.map((s) => s.id).sort()).toEqual(Array.from({ length: 500 }, (_, i) => `m-${i}`).sort());
    expect(refused).toMatchObject({ id: 'm-500', code: 'rate_limited', retryable: true, retryAfterMs: 200 });
    expect(refused!.message).toContain('1:1 and group messages sent by one device');
    expect((await mailboxOf(env, bob!.userId).stats()).head).toBe(bobHead! + 500);
    expect((await mailboxOf(env, ann!.userId).stats()).head).toBe(annHead! + 500);

    // 199 ms later still refused, 1 ms after that it passes (resent with the same id).
    clock.advance(199);
    a.send({ type: 'send', id: 'm-500', to: bob!.userId, body: text('hello 500') });
    const [again] = (await a.waitFor(isError, 2)).slice(1);
    expect(again).toMatchObject({ id: 'm-500', code: 'rate_limited', retryAfterMs: 1 });
    clock.advance(1);
    a.send({ type: 'send', id: 'm-500', to: bob!.userId, body: text('hello 500') });
    const passed = await a.waitFor(isType('sent'), 501, 10_000);
    expect(passed[500]).toMatchObject({ id: 'm-500', duplicate: false });
    expect((await mailboxOf(env, bob!.userId).stats()).head).toBe(bobHead! + 501);
    a.close();
  });

  it('a send refused for the rate limit is not overtaken by the next one, even when a token is back by then', { timeout: 120_000 }, async () => {
    const [ann, bob] = await signUp(2);
    const [bobHead] = await heads(bob!);
    const a = await connect(ann!);
    const clock = freezeClock();
    for (let i = 0; i < 500; i++) a.send({ type: 'send', id: `o-${i}`, to: bob!.userId, body: text(`${i}`) });
    await a.waitFor(isType('sent'), 500, 60_000);
    a.send({ type: 'send', id: 'o-500', to: bob!.userId, body: text('500') });
    const [first] = await a.waitFor(isError);
    expect(first).toMatchObject({ id: 'o-500', code: 'rate_limited', retryAfterMs: 200 });
    // The token is back, but o-501 (pipelined behind o-500) must wait for o-500 to go first.
    clock.advance(200);
    a.send({ type: 'send', id: 'o-501', to: bob!.userId, body: text('501') });
    const [behind] = (await a.waitFor(isError, 2)).slice(1);
    expect(behind).toMatchObject({ id: 'o-501', code: 'rate_limited', retryable: true });
    expect(behind!.retryAfterMs).toBeGreaterThanOrEqual(1);
    expect((await mailboxOf(env, bob!.userId).stats()).head).toBe(bobHead! + 500);
    a.send({ type: 'send', id: 'o-500', to: bob!.userId, body: text('500') });
    await a.waitFor(isType('sent'), 501, 10_000);
    clock.advance(200);
    a.send({ type: 'send', id: 'o-501', to: bob!.userId, body: text('501') });
    await a.waitFor(isType('sent'), 502, 10_000);
    const history = await mailboxOf(env, bob!.userId).history(ann!.userId, undefined, 3);
    expect(history.messages.map((m) => m.message.clientId)).toEqual(['o-501', 'o-500', 'o-499']);
    a.close();
  });

  it('typing: alternating typing and recording no longer passes; over the limit frames are dropped without an answer', async () => {
    const [ann, bob] = await signUp(2);
    const a = await connect(ann!);
    const b = await connect(bob!);
    const clock = freezeClock();
    const states = ['typing', 'recording', 'typing', 'recording', 'typing', 'recording'] as const;
    for (const state of states) a.send({ type: 'typing', to: bob!.userId, state });
    a.send({ type: 'typing', to: bob!.userId, state: 'stopped' });
    await b.waitFor(isType('typing_notice'), 4, 10_000);
    // Give the dropped ones every chance to arrive.
    a.send(ORDERED_PING);
    await a.waitFor(isType('pong'));
    await pause(200);
    // Relays are separate calls between objects: they may arrive in any order.
    expect(b.of('typing_notice').map((n) => n.state).sort()).toEqual(['recording', 'recording', 'typing', 'typing']);
    expect(errorsOf(a)).toEqual([]);
    // One token per second per conversation: a second later one frame passes. (A change of
    // state, not `stopped`: the gate's memory of what was shown lives in the object's memory,
    // and a run of the whole file under load once saw the object replaced between the burst and
    // this frame, which then dropped a `stopped` as noise; the indicator expires on its own.)
    clock.advance(SECOND);
    a.send({ type: 'typing', to: bob!.userId, state: 'typing' });
    await b.waitFor(isType('typing_notice'), 5, 10_000);
    expect(b.of('typing_notice')[4]!.state).toBe('typing');
    a.close();
    b.close();
  });

  it('typing: one device has 20 relays across all its conversations', async () => {
    const people = await signUp(7);
    const [ann, ...peers] = people;
    const a = await connect(ann!);
    const sockets = await Promise.all(peers.map((p) => connect(p)));
    freezeClock();
    // 6 conversations x 4 = 24 attempts, each conversation within its own 4: the device's 20 decide.
    for (const peer of peers) {
      for (const state of ['typing', 'recording', 'typing', 'recording'] as const) a.send({ type: 'typing', to: peer.userId, state });
    }
    a.send(ORDERED_PING);
    await a.waitFor(isType('pong'));
    const relayed = () => sockets.reduce((n, s) => n + s.of('typing_notice').length, 0);
    for (let i = 0; i < 100 && relayed() < 20; i++) await pause(20);
    // Give any relay beyond the limit every chance to arrive.
    await pause(200);
    expect(relayed()).toBe(20);
    expect(sockets.map((s) => s.of('typing_notice').length)).toEqual([4, 4, 4, 4, 4, 0]);
    expect(errorsOf(a)).toEqual([]);
    for (const s of [a, ...sockets]) s.close();
  });

  it('presence_watch: 10 a minute per device, the 11th refused with the wait for one token; closing a chat is free', async () => {
    const [ann, bob] = await signUp(2);
    const a = await connect(ann!);
    const clock = freezeClock();
    for (let i = 0; i < 10; i++) {
      a.send({ type: 'presence_watch', users: [bob!.userId] });
      a.send({ type: 'presence_watch', users: [] });
    }
    a.send({ type: 'presence_watch', users: [bob!.userId] });
    const [refused] = await a.waitFor(isError);
    // It names the frame it refuses (presence_watch has no id), so a client knows what to resend.
    expect(refused).toMatchObject({ id: null, code: 'rate_limited', retryAfterMs: 6_000, frame: 'presence_watch' });
    a.send(ORDERED_PING);
    await a.waitFor(isType('pong'));
    expect(errorsOf(a)).toHaveLength(1);
    // The refused watch changed nothing: the connection still watches nobody.
    const watching = await runInDurableObject(mailboxOf(env, ann!.userId), (_i, state) =>
      state.getWebSockets().map((ws) => (ws.deserializeAttachment() as { watching?: string[] }).watching),
    );
    expect(watching).toEqual([[]]);
    clock.advance(6_000);
    a.send({ type: 'presence_watch', users: [bob!.userId] });
    await a.waitFor(isType('presence'), 11);
    expect(errorsOf(a)).toHaveLength(1);
    a.close();
  });

  it('resume: 5 a minute per device, the 6th refused and not served', async () => {
    const [ann, bob] = await signUp(2);
    const b = await connect(bob!);
    b.send({ type: 'send', id: 'one', to: ann!.userId, body: text('one') });
    await b.waitFor(isType('sent'));
    const a = await connect(ann!);
    await a.waitFor(isType('message'));
    const clock = freezeClock();
    for (let i = 0; i < 6; i++) a.send({ type: 'resume', after: 0 });
    const [refused] = await a.waitFor(isError);
    expect(refused).toMatchObject({ id: null, code: 'rate_limited', retryAfterMs: 12_000 });
    a.send(ORDERED_PING);
    await a.waitFor(isType('pong'));
    // The message came once on connect and once per resume that passed.
    expect(a.of('message')).toHaveLength(6);
    clock.advance(12_000);
    a.send({ type: 'resume', after: 0 });
    await a.waitFor(isType('message'), 7);
    a.close();
    b.close();
  });

  it('resume: a replay costs one token per 200 entries it sends again, a gap repair one', { timeout: 60_000 }, async () => {
    const [ann, bob] = await signUp(2);
    const b = await connect(bob!);
    for (let i = 0; i < 400; i++) b.send({ type: 'send', id: `r-${i}`, to: ann!.userId, body: text(`${i}`) });
    await b.waitFor(isType('sent'), 400, 30_000);
    const a = await connect(ann!);
    const first = await a.waitFor(isType('message'), 400, 30_000);
    const head = first[399]!.seq;
    // Where this device started (after its login's own entry): replays go back to there.
    const start = first[0]!.seq - 1;
    const clock = freezeClock();
    // Two full replays of 400 entries: 2 tokens each, 4 of the burst of 5.
    a.send({ type: 'resume', after: start });
    a.send({ type: 'resume', after: start });
    await a.waitFor(isType('message'), 1_200, 30_000);
    // A third needs 2 tokens with 1 left: refused, with the wait for one more (12 s at 5 a minute), nothing sent.
    a.send({ type: 'resume', after: start });
    const [refused] = await a.waitFor(isError);
    expect(refused).toMatchObject({ id: null, code: 'rate_limited', retryAfterMs: 12_000 });
    // A gap repair of one entry costs the last token.
    a.send({ type: 'resume', after: head - 1 });
    await a.waitFor(isType('message'), 1_201, 10_000);
    a.send(ORDERED_PING);
    await a.waitFor(isType('pong'));
    expect(a.of('message')).toHaveLength(1_201);
    clock.advance(24_000);
    a.send({ type: 'resume', after: start });
    await a.waitFor(isType('message'), 1_601, 30_000);
    a.close();
    b.close();
  });

  it('a group message costs the sender one delivery per other member, charged after the group stored it', async () => {
    const [ann, bob, cat, dan] = await signUp(4);
    await openToGroups(bob!, cat!, dan!);
    const created = await call('POST', PATHS.groups, ann!, { title: 'Amplified', members: [bob!.userId, cat!.userId, dan!.userId] });
    expect(created.status).toBe(201);
    const group = created.body as unknown as Group;
    await settled(group.groupId);
    const a = await connect(ann!);
    const clock = freezeClock();
    const mailbox = mailboxOf(env, ann!.userId);
    // Leave one delivery in the budget: the next message is admitted on it and leaves a debt of 2.
    expect(await mailbox.spend('group_deliveries_user', 19_999)).toEqual({ ok: true });
    a.send({ type: 'group_send', id: 'g-1', group: group.groupId, body: text('to three') });
    const [sent] = await a.waitFor(isType('group_sent'));
    expect(sent).toMatchObject({ id: 'g-1', duplicate: false });
    a.send({ type: 'group_send', id: 'g-2', group: group.groupId, body: text('refused') });
    const [refused] = await a.waitFor(isError);
    // 1 - 3 = -2 tokens: 3 tokens until one is there, 5 ms each.
    expect(refused).toMatchObject({ id: 'g-2', code: 'rate_limited', retryAfterMs: 15 });
    expect(refused!.message).toContain('group member deliveries');
    expect((await groupOf(env, group.groupId).stats()).head).toBe(sent!.gseq);
    // After the wait the refused message goes (and, charged 3, leaves a debt again) ...
    clock.advance(15);
    a.send({ type: 'group_send', id: 'g-2', group: group.groupId, body: text('now') });
    await a.waitFor(isType('group_sent'), 2);
    // ... and a retry of a stored message is answered again without a second delivery charge.
    clock.advance(15);
    a.send({ type: 'group_send', id: 'g-1', group: group.groupId, body: text('to three') });
    const passed = await a.waitFor(isType('group_sent'), 3);
    expect(passed.map((s) => [s.id, s.duplicate])).toEqual([
      ['g-1', false],
      ['g-2', false],
      ['g-1', true],
    ]);
    expect((await groupOf(env, group.groupId).stats()).head).toBe(passed[1]!.gseq);
    a.close();
  });
});

// ------------------------------------------------------------------ HTTP routes

async function expectRateLimited(res: Response, retryAfterMs: number): Promise<void> {
  expect(res.status).toBe(429);
  expect(res.headers.get('Retry-After')).toBe(String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
  const body = ErrorResponseSchema.parse(await res.json());
  expect(body.error).toMatchObject({ code: 'rate_limited', retryable: true, retryAfterMs });
}

describe('budgets of HTTP routes', () => {
  it('group creation: 10 an hour; the 11th is refused, creates nothing and uses none of the member budget', async () => {
    const [ann, bob] = await signUp(2);
    freezeClock();
    for (let i = 0; i < 10; i++) {
      const res = await api(PATHS.groups, { method: 'POST', token: ann!.token, body: JSON.stringify({ title: `g${i}`, members: [] }) });
      expect(res.status, `group ${i}`).toBe(201);
    }
    const refused = await api(PATHS.groups, { method: 'POST', token: ann!.token, body: JSON.stringify({ title: 'one too many', members: [bob!.userId] }) });
    await expectRateLimited(refused, 360_000);
    expect(await listGroupsOf(env.DB, ann!.userId)).toHaveLength(10);
    expect(await listGroupsOf(env.DB, bob!.userId)).toHaveLength(0);
    expect(await mailboxOf(env, ann!.userId).spend('group_add_user', 1_024)).toEqual({ ok: true });
  });

  it('members added: 1,024 an hour, at creation or later; the request over it adds nobody', async () => {
    const [ann, bob, cat] = await signUp(3);
    freezeClock();
    const mailbox = mailboxOf(env, ann!.userId);
    expect(await mailbox.spend('group_add_user', 1_022)).toEqual({ ok: true });
    // Two members left: a group with bob and cat passes, then adding anyone is refused.
    const created = await call('POST', PATHS.groups, ann!, { title: 'Last two', members: [bob!.userId, cat!.userId, ann!.userId] });
    expect(created.status).toBe(201);
    const group = created.body as unknown as Group;
    const [dan] = await signUp(1);
    const refused = await api(PATHS.groupMembers(group.groupId), { method: 'POST', token: ann!.token, body: JSON.stringify({ members: [dan!.userId] }) });
    await expectRateLimited(refused, 3_516);
    const view = (await call('GET', PATHS.group(group.groupId), ann!)).body as unknown as Group;
    expect(view.members.map((m) => m.userId)).not.toContain(dan!.userId);
    expect(view.head).toBe(group.head);
  });

  it('contacts: adding costs a contact and a look-up, a number nobody uses one look-up more', async () => {
    const [ann, bob] = await signUp(2);
    const bobPhone = ((await (await api(PATHS.me, { token: bob!.token })).json()) as { phone: string }).phone;
    freezeClock();
    const mailbox = mailboxOf(env, ann!.userId);
    expect(await mailbox.spend('phone_lookup_user', 198)).toEqual({ ok: true });
    // Two look-ups left: an unknown number takes both...
    const unknown = await call('POST', PATHS.contacts, ann!, { phone: freshPhone() });
    expect([unknown.status, unknown.body.error?.code]).toEqual([404, 'user_not_found']);
    // ...so adding bob is refused until one comes back (432 s each), and adds nothing.
    await expectRateLimited(await api(PATHS.contacts, { method: 'POST', token: ann!.token, body: JSON.stringify({ phone: bobPhone }) }), 432_000);
    expect((await call('GET', PATHS.contacts, ann!)).body).toEqual({ contacts: [] });
    // The contact budget was charged once (by the unknown number), not by the refused request.
    expect(await mailbox.spend('contact_add_user', 199)).toEqual({ ok: true });
    expect(await mailbox.spend('contact_add_user', 1)).toMatchObject({ ok: false, retryAfterMs: 432_000 });
  });

  it('look-up by number: 200 a day, an unknown number counts double', async () => {
    const [ann, bob] = await signUp(2);
    const bobPhone = ((await (await api(PATHS.me, { token: bob!.token })).json()) as { phone: string }).phone;
    const clock = freezeClock();
    expect(await mailboxOf(env, ann!.userId).spend('phone_lookup_user', 197)).toEqual({ ok: true });
    expect((await api(PATHS.userByPhone(bobPhone), { token: ann!.token })).status).toBe(200);
    expect((await api(PATHS.userByPhone(freshPhone()), { token: ann!.token })).status).toBe(404);
    // 3 - 1 - 2 = 0 left.
    await expectRateLimited(await api(PATHS.userByPhone(bobPhone), { token: ann!.token }), 432_000);
    clock.advance(432_000);
    expect((await api(PATHS.userByPhone(bobPhone), { token: ann!.token })).status).toBe(200);
  });

  it('connect tickets: 20 a minute per device', async () => {
    const [ann] = await signUp(1);
    const clock = freezeClock();
    const ticket = () => api(PATHS.connectTicket, { method: 'POST', token: ann!.token });
    for (let i = 0; i < 20; i++) expect((await ticket()).status, `ticket ${i}`).toBe(200);
    await expectRateLimited(await ticket(), 3_000);
    clock.advance(3_000);
    expect((await ticket()).status).toBe(200);
  });
});
