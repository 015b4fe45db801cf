/**
 * Presence: online from live, heartbeating connections; last seen from user activity only;
 * watchers told of changes live; ghost connections reaped by heartbeat timeout (the clock is
 * moved through `checkPresence(at)`); privacy settings (reciprocal) and blocking.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { CLOSE_CODES, DEFAULT_PRIVACY, PATHS, PRESENCE_STALE_MS, type PresenceFrame, type SessionResponse } from '../../protocol/index.ts';
import type { UserMailbox } from '../../durable-objects/user-mailbox.ts';
import { call, users } from './group-support.ts';
import { connect, isType, text, type TestSocket } from './support.ts';

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

function mailbox(session: SessionResponse): DurableObjectStub<UserMailbox> {
  return env.MAILBOX.get(env.MAILBOX.idFromName(session.userId));
}

/** Make each of `sessions` a contact of every other (the default privacy shows presence to contacts). */
async function befriend(...sessions: SessionResponse[]): Promise<void> {
  const phones = await Promise.all(sessions.map(async (s) => (await call('GET', PATHS.me, s)).body.phone as string));
  for (const owner of sessions) {
    for (const [i, other] of sessions.entries()) {
      if (owner === other) continue;
      const res = await call('POST', PATHS.contacts, owner, { phone: phones[i] });
      expect(res.status).toBe(201);
    }
  }
}

async function presenceOf(viewer: SessionResponse, target: SessionResponse) {
  const res = await call('GET', PATHS.presence(target.userId), viewer);
  expect(res.status).toBe(200);
  return res.body as unknown as { userId: string; online: boolean; lastSeen: number | null };
}

/** The presence frames about `userId` a socket got so far. */
function seen(socket: TestSocket, userId: string): PresenceFrame[] {
  return socket.of('presence').filter((p) => p.userId === userId);
}

async function nextPresence(socket: TestSocket, userId: string, count: number): Promise<PresenceFrame> {
  const frames = await socket.waitFor((f): f is PresenceFrame => f.type === 'presence' && f.userId === userId, count);
  return frames[count - 1]!;
}

describe('presence', () => {
  it('is online while a device is connected; watchers see it come and go, with last seen from activity', async () => {
    const [ann, bob] = await users(2);
    await befriend(ann!, bob!);
    const b = await connect(bob!);
    b.send({ type: 'presence_watch', users: [ann!.userId] });
    expect(await nextPresence(b, ann!.userId, 1)).toEqual({ type: 'presence', userId: ann!.userId, online: false, lastSeen: null });

    const a = await connect(ann!);
    expect(await nextPresence(b, ann!.userId, 2)).toMatchObject({ online: true });
    const before = Date.now();
    a.send({ type: 'send', id: 'p1', to: bob!.userId, body: text('hi') });
    await a.waitFor(isType('sent'));
    const after = Date.now();
    // Activity while online changes nothing a watcher sees.
    await pause(100);
    expect(seen(b, ann!.userId)).toHaveLength(2);

    a.close();
    const offline = await nextPresence(b, ann!.userId, 3);
    expect(offline.online).toBe(false);
    expect(offline.lastSeen).toBeGreaterThanOrEqual(before);
    expect(offline.lastSeen).toBeLessThanOrEqual(after);
    expect(await presenceOf(bob!, ann!)).toEqual({ userId: ann!.userId, online: false, lastSeen: offline.lastSeen });
    b.close();
  });

  it('last seen moves only with user activity (send, read, active), never with a background connection', async () => {
    const [ann, bob] = await users(2);
    await befriend(ann!, bob!);
    // Connect and disconnect without doing anything: a background sync.
    const quiet = await connect(ann!);
    quiet.close();
    await pause(50);
    expect(await presenceOf(bob!, ann!)).toMatchObject({ online: false, lastSeen: null });

    const a = await connect(ann!);
    const t0 = Date.now();
    a.send({ type: 'active' });
    await pause(50);
    const opened = (await presenceOf(bob!, ann!)).lastSeen;
    expect(opened).toBeGreaterThanOrEqual(t0);
    expect(await presenceOf(bob!, ann!)).toMatchObject({ online: true });

    // A read is activity too.
    await pause(1_100); // activity is recorded to the second
    a.send({ type: 'read', peer: bob!.userId, upTo: 0 });
    await pause(50);
    expect((await presenceOf(bob!, ann!)).lastSeen).toBeGreaterThan(opened!);
    a.close();
  });

  it('reaps a ghost connection after the heartbeat timeout, and a fresh one stays online', async () => {
    const [ann, bob] = await users(2);
    await befriend(ann!, bob!);
    const b = await connect(bob!);
    b.send({ type: 'presence_watch', users: [ann!.userId] });
    await nextPresence(b, ann!.userId, 1);
    const a = await connect(ann!);
    await nextPresence(b, ann!.userId, 2);

    // Just inside the timeout: still online, nothing closed.
    expect(await mailbox(ann!).checkPresence(Date.now() + PRESENCE_STALE_MS - 5_000)).toBe(true);
    expect(a.closed).toBeNull();

    // Past it without a heartbeat: the socket is taken for a ghost and closed; watchers see offline.
    expect(await mailbox(ann!).checkPresence(Date.now() + PRESENCE_STALE_MS + 1_000)).toBe(false);
    expect((await a.waitClosed()).code).toBe(CLOSE_CODES.heartbeat_timeout);
    expect(await nextPresence(b, ann!.userId, 3)).toMatchObject({ online: false });
    b.close();
  });

  it('watching someone schedules a ghost check; nobody watching means no presence alarm', async () => {
    const [ann, bob] = await users(2);
    await befriend(ann!, bob!);
    const a = await connect(ann!);
    await pause(50);
    const alarmOf = () => runInDurableObject(mailbox(ann!), async (_o, state) => state.storage.getAlarm());
    // None, or only retention's (the mailbox holds the login's entry): nothing near the heartbeat timeout.
    const quiet = await alarmOf();
    expect(quiet === null || quiet - Date.now() > 86_400_000).toBe(true);
    const b = await connect(bob!);
    b.send({ type: 'presence_watch', users: [ann!.userId] });
    await nextPresence(b, ann!.userId, 1);
    const alarm = await alarmOf();
    expect(alarm).not.toBeNull();
    expect(alarm! - Date.now()).toBeGreaterThan(PRESENCE_STALE_MS - 5_000);
    expect(alarm! - Date.now()).toBeLessThanOrEqual(PRESENCE_STALE_MS);
    a.close();
    b.close();
  });

  it('a watcher whose devices stopped watching is dropped on the next change', async () => {
    const [ann, bob] = await users(2);
    await befriend(ann!, bob!);
    const b = await connect(bob!);
    b.send({ type: 'presence_watch', users: [ann!.userId] });
    await nextPresence(b, ann!.userId, 1);
    b.send({ type: 'presence_watch', users: [] });
    await pause(50);
    const a = await connect(ann!);
    await pause(200);
    const watchers = await runInDurableObject(mailbox(ann!), async (_o, state) =>
      state.storage.sql.exec('SELECT viewer FROM presence_watchers').toArray(),
    );
    expect(watchers).toEqual([]);
    expect(seen(b, ann!.userId)).toHaveLength(1);
    a.close();
    b.close();
  });
});

describe('presence privacy', () => {
  it('by default shows presence to contacts only', async () => {
    const [ann, bob, stranger] = await users(3);
    await befriend(ann!, bob!);
    const a = await connect(ann!);
    a.send({ type: 'active' });
    await pause(50);
    expect(await presenceOf(bob!, ann!)).toMatchObject({ online: true });
    expect(await presenceOf(stranger!, ann!)).toEqual({ userId: ann!.userId, online: false, lastSeen: null });
    a.close();
  });

  it('nobody / everyone / online-to-everyone, and reciprocity: who hides theirs sees no one else\'s', async () => {
    const [ann, bob] = await users(2);
    const a = await connect(ann!);
    a.send({ type: 'active' });
    await pause(50);

    // Strangers: "everyone" shows both; the viewer's own default (contacts) does not share
    // with a stranger, so reciprocity hides last seen, but online "everyone" still shows.
    expect((await call('PATCH', PATHS.settings, ann!, { privacy: { lastSeen: 'everyone', online: 'everyone' } })).status).toBe(200);
    expect(await presenceOf(bob!, ann!)).toMatchObject({ online: true, lastSeen: null });
    await call('PATCH', PATHS.settings, bob!, { privacy: { lastSeen: 'everyone' } });
    const shown = await presenceOf(bob!, ann!);
    expect(shown.online).toBe(true);
    expect(shown.lastSeen).toEqual(expect.any(Number));

    // Bob hides his last seen: he can no longer see Ann's (but "online" to everyone stays).
    await call('PATCH', PATHS.settings, bob!, { privacy: { lastSeen: 'nobody' } });
    expect(await presenceOf(bob!, ann!)).toMatchObject({ online: true, lastSeen: null });

    // Ann hides everything.
    await call('PATCH', PATHS.settings, bob!, { privacy: { lastSeen: 'everyone' } });
    const res = await call('PATCH', PATHS.settings, ann!, { privacy: { lastSeen: 'nobody', online: 'same_as_last_seen' } });
    expect(res.body).toMatchObject({ privacy: { lastSeen: 'nobody', online: 'same_as_last_seen' } });
    expect(await presenceOf(bob!, ann!)).toEqual({ userId: ann!.userId, online: false, lastSeen: null });
    a.close();
  });

  it('a privacy change reaches open views at once', async () => {
    const [ann, bob] = await users(2);
    await befriend(ann!, bob!);
    const a = await connect(ann!);
    const b = await connect(bob!);
    b.send({ type: 'presence_watch', users: [ann!.userId] });
    expect(await nextPresence(b, ann!.userId, 1)).toMatchObject({ online: true });
    await call('PATCH', PATHS.settings, ann!, { privacy: { lastSeen: 'nobody' } });
    expect(await nextPresence(b, ann!.userId, 2)).toMatchObject({ online: false, lastSeen: null });
    a.close();
    b.close();
  });

  it('blocking hides presence both ways, at once, and unblocking shows it again', async () => {
    const [ann, bob] = await users(2);
    await befriend(ann!, bob!);
    const a = await connect(ann!);
    a.send({ type: 'active' });
    const b = await connect(bob!);
    b.send({ type: 'active' });
    b.send({ type: 'presence_watch', users: [ann!.userId] });
    a.send({ type: 'presence_watch', users: [bob!.userId] });
    expect(await nextPresence(b, ann!.userId, 1)).toMatchObject({ online: true });
    expect(await nextPresence(a, bob!.userId, 1)).toMatchObject({ online: true });

    expect((await call('PUT', PATHS.block(bob!.userId), ann!)).status).toBe(204);
    // Bob's open view of Ann goes blank; so does Ann's view of Bob.
    expect(await nextPresence(b, ann!.userId, 2)).toEqual({ type: 'presence', userId: ann!.userId, online: false, lastSeen: null });
    expect(await nextPresence(a, bob!.userId, 2)).toEqual({ type: 'presence', userId: bob!.userId, online: false, lastSeen: null });
    expect(await presenceOf(bob!, ann!)).toMatchObject({ online: false, lastSeen: null });
    expect(await presenceOf(ann!, bob!)).toMatchObject({ online: false, lastSeen: null });

    // While blocked, Ann coming and going tells Bob nothing.
    a.close();
    await pause(200);
    expect(seen(b, ann!.userId)).toHaveLength(2);

    const a2 = await connect(ann!);
    a2.send({ type: 'presence_watch', users: [bob!.userId] });
    await nextPresence(a2, bob!.userId, 1);
    expect((await call('DELETE', PATHS.block(bob!.userId), ann!)).status).toBe(204);
    expect(await nextPresence(a2, bob!.userId, 2)).toMatchObject({ online: true });
    expect(await presenceOf(bob!, ann!)).toMatchObject({ online: true });
    a2.close();
    b.close();
  });
});

describe('presence after blocking', () => {
  it('a blocker\'s open view of the blocked user learns nothing more of them', async () => {
    const [ann, dan] = await users(2);
    await befriend(ann!, dan!);
    const a = await connect(ann!);
    a.send({ type: 'presence_watch', users: [dan!.userId] });
    expect(await nextPresence(a, dan!.userId, 1)).toMatchObject({ online: false });
    const d1 = await connect(dan!);
    expect(await nextPresence(a, dan!.userId, 2)).toMatchObject({ online: true });

    expect((await call('PUT', PATHS.block(dan!.userId), ann!)).status).toBe(204);
    expect(await nextPresence(a, dan!.userId, 3)).toEqual({ type: 'presence', userId: dan!.userId, online: false, lastSeen: null });
    // Dan comes and goes: Ann's still-open view gets nothing (Dan's object stops telling her).
    d1.send({ type: 'active' });
    d1.close();
    await pause(200);
    const d2 = await connect(dan!);
    await pause(200);
    expect(seen(a, dan!.userId)).toHaveLength(3);
    const watchers = await runInDurableObject(mailbox(dan!), async (_o, state) => state.storage.sql.exec('SELECT viewer FROM presence_watchers').toArray());
    expect(watchers).toEqual([]);
    a.close();
    d2.close();
  });
});

describe('presence and settings input', () => {
  it('rejects bad watch lists, unknown users and bad settings with typed errors, changing nothing', async () => {
    const [ann, bob] = await users(2);
    const a = await connect(ann!);
    a.send({ type: 'presence_watch', users: ['not-a-user'] } as never);
    expect((await a.waitFor(isType('error')))[0]).toMatchObject({ code: 'validation_failed' });
    a.send({ type: 'presence_watch', users: Array.from({ length: 33 }, () => bob!.userId) });
    expect((await a.waitFor(isType('error'), 2))[1]).toMatchObject({ code: 'validation_failed' });
    // Unknown (well-formed) ids and yourself are skipped: no frame, no error.
    a.send({ type: 'presence_watch', users: ['01ARZ3NDEKTSV4RRFFQ69G5FAV', ann!.userId] });
    await pause(150);
    expect(a.of('presence')).toEqual([]);
    // `active` takes no fields; a bad one is refused and moves nothing.
    a.send({ type: 'active', at: 1 } as never);
    expect((await a.waitFor(isType('error'), 3))[2]).toMatchObject({ code: 'validation_failed' });
    a.close();
    expect(await runInDurableObject(mailbox(ann!), async (_o, state) => state.storage.sql.exec("SELECT value FROM meta WHERE key = 'last_active_at'").toArray())).toEqual([]);

    expect((await call('GET', PATHS.presence('01ARZ3NDEKTSV4RRFFQ69G5FAV'), ann!)).body.error?.code).toBe('user_not_found');
    expect((await call('GET', PATHS.presence('nope'), ann!)).body.error?.code).toBe('validation_failed');
    expect((await call('GET', PATHS.presence(ann!.userId), ann!)).body.error?.code).toBe('self_reference');
    expect((await call('GET', PATHS.presence(bob!.userId), { ...ann!, token: 'bad' })).status).toBe(401);

    const before = (await call('GET', PATHS.settings, ann!)).body;
    for (const bad of [
      {},
      { privacy: { lastSeen: 'friends' } },
      { privacy: { online: 'nobody' } },
      { notifications: { quietHours: { start: '25:00', end: '07:00', timeZone: 'UTC' } } },
      { notifications: { quietHours: { start: '22:00', end: '07:00', timeZone: 'Mars/Olympus' } } },
      { notifications: { previews: 'yes' } },
      { theme: 'dark' },
    ]) {
      const res = await call('PATCH', PATHS.settings, ann!, bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.body.error?.code).toBe('validation_failed');
    }
    expect((await call('GET', PATHS.settings, ann!)).body).toEqual(before);
    expect(before).toEqual({
      privacy: DEFAULT_PRIVACY,
      notifications: { previews: false, quietHours: null },
      mutes: [],
    });
  });
});
