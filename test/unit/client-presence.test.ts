/**
 * SDK presence, activity, typing indicators and the settings / push / operator HTTP calls,
 * against the fake socket and a stubbed fetch.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CLOSE_CODES, PRESENCE_WATCH_MAX, TYPING_TTL_MS } from '../../protocol/index.ts';
import type { PresenceFrame, Settings, TypingNoticeFrame } from '../../protocol/index.ts';
import { Emitter, MessengerApi, MessengerClient, MessengerError, OperatorApi, TypingIndicators } from '../../client/index.ts';
import type {
  ConnectionState,
  FetchLike,
  MessengerEvents,
  TypingEntry,
  TypingTimers,
} from '../../client/index.ts';
import { FakeSocket, GROUP, ME, MY_DEVICE, PEER, groupMessageFrame, json, makeClient, messageFrame, ulid } from './fake-socket.ts';

const OTHER = ulid(12);
const THIRD = ulid(13);

function watches(socket: FakeSocket): string[][] {
  return socket.framesOfType('presence_watch').map((f) => f.users);
}

function actives(socket: FakeSocket): number {
  return socket.framesOfType('active').length;
}

function presenceFrame(userId: string, online: boolean, lastSeen: number | null = null): PresenceFrame {
  return { type: 'presence', userId, online, lastSeen };
}

function typingNotice(fields: Partial<TypingNoticeFrame> = {}): TypingNoticeFrame {
  return { type: 'typing_notice', from: PEER, group: null, state: 'typing', expiresInMs: TYPING_TTL_MS, ...fields };
}

describe('MessengerClient presence', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.reset();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a watch refused for the rate limit is sent again, once, after the wait (the list as it is by then)', () => {
    // Heartbeats far apart: the fake server sends none, and the wait must not outlast the connection.
    const client = makeClient({ heartbeatIntervalMs: 60_000 });
    const errors: MessengerError[] = [];
    client.on('error', (e) => errors.push(e));
    void client.connect();
    const socket = FakeSocket.last.hello();
    client.watchPresence([PEER]);
    socket.deliver({ type: 'error', id: null, code: 'rate_limited', message: 'slow down', retryable: true, retryAfterMs: 6_000, frame: 'presence_watch' });
    // A second refusal while the retry waits does not stack another retry.
    socket.deliver({ type: 'error', id: null, code: 'rate_limited', message: 'slow down', retryable: true, retryAfterMs: 6_000, frame: 'presence_watch' });
    client.watchPresence([PEER, OTHER]);
    expect(watches(socket)).toEqual([[PEER], [PEER, OTHER]]);
    vi.advanceTimersByTime(5_999);
    expect(watches(socket)).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(watches(socket)).toEqual([[PEER], [PEER, OTHER], [PEER, OTHER]]);
    vi.advanceTimersByTime(60_000);
    expect(watches(socket)).toHaveLength(3);
    // Handled quietly: not reported as an error.
    expect(errors).toEqual([]);
    client.close();
  });

  it('a refused watch is not resent on a connection that is gone (the next hello sends the list anyway)', () => {
    const client = makeClient();
    void client.connect();
    const first = FakeSocket.last.hello();
    client.watchPresence([PEER]);
    first.deliver({ type: 'error', id: null, code: 'rate_limited', message: 'slow down', retryable: true, retryAfterMs: 1_000, frame: 'presence_watch' });
    first.serverClose(1006);
    vi.advanceTimersByTime(125);
    const second = FakeSocket.last;
    second.open();
    second.hello();
    expect(watches(second)).toEqual([[PEER]]);
    vi.advanceTimersByTime(1_000);
    expect(watches(first)).toEqual([[PEER]]);
    expect(watches(second)).toEqual([[PEER]]);
    client.close();
  });

  it('sends the watch list at once when open, and again after every reconnect', () => {
    const client = makeClient();
    void client.connect();
    const first = FakeSocket.last.hello();
    expect(watches(first)).toEqual([]); // nothing watched: nothing sent
    expect(client.watchPresence([PEER, OTHER])).toBe(true);
    expect(watches(first)).toEqual([[PEER, OTHER]]);

    first.serverClose(1006);
    vi.advanceTimersByTime(125);
    const second = FakeSocket.last;
    expect(second).not.toBe(first);
    second.open();
    expect(watches(second)).toEqual([]); // not before hello
    second.hello();
    expect(watches(second)).toEqual([[PEER, OTHER]]);
    expect(watches(first)).toHaveLength(1);
  });

  it('remembers a list set while offline and sends it after the hello', () => {
    const client = makeClient();
    expect(client.watchPresence([PEER])).toBe(false);
    void client.connect();
    FakeSocket.last.open();
    expect(watches(FakeSocket.last)).toEqual([]);
    FakeSocket.last.hello();
    expect(watches(FakeSocket.last)).toEqual([[PEER]]);
    expect(client.watching).toEqual([PEER]);
  });

  it('replaces the list on every call; [] stops watching and is not resent after a reconnect', () => {
    const client = makeClient();
    void client.connect();
    const first = FakeSocket.last.hello();
    client.watchPresence([PEER]);
    client.watchPresence([OTHER, THIRD]);
    client.watchPresence([]);
    expect(watches(first)).toEqual([[PEER], [OTHER, THIRD], []]);
    first.serverClose(1006);
    vi.advanceTimersByTime(125);
    const second = FakeSocket.last.hello();
    expect(watches(second)).toEqual([]);
  });

  it('sends the list only once when a hello listener sets it', () => {
    const client = makeClient();
    client.on('hello', () => client.watchPresence([PEER]));
    void client.connect();
    const socket = FakeSocket.last.hello();
    expect(watches(socket)).toEqual([[PEER]]);
  });

  it('validates the list: user ids only, duplicates dropped, at most PRESENCE_WATCH_MAX distinct users', () => {
    const client = makeClient();
    void client.connect();
    const socket = FakeSocket.last.hello();
    expect(() => client.watchPresence(['not-a-ulid'])).toThrow(MessengerError);
    expect(() => client.watchPresence([PEER, ''])).toThrow(/not a user id/);
    const tooMany = Array.from({ length: PRESENCE_WATCH_MAX + 1 }, (_, i) => ulid(100 + i));
    const error = (() => {
      try {
        client.watchPresence(tooMany);
        return undefined;
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(MessengerError);
    expect(error).toMatchObject({ code: 'validation_failed' });
    expect(watches(socket)).toEqual([]); // nothing invalid was sent
    expect(client.watching).toEqual([]); // and the list was not changed

    const max = tooMany.slice(0, PRESENCE_WATCH_MAX);
    client.watchPresence([...max, max[0]!]);
    expect(watches(socket)).toEqual([max]);
  });

  it('emits presence frames as events and keeps the latest per watched user', () => {
    const client = makeClient();
    const seen: PresenceFrame[] = [];
    client.on('presence', (frame) => seen.push(frame));
    void client.connect();
    const socket = FakeSocket.last.hello();
    client.watchPresence([PEER, OTHER]);
    expect(client.presenceOf(PEER)).toBeUndefined();

    socket.deliver(presenceFrame(PEER, true, 1_700_000_000_000)).deliver(presenceFrame(OTHER, false, null));
    socket.deliver(presenceFrame(PEER, false, 1_700_000_100_000));
    expect(seen).toEqual([
      presenceFrame(PEER, true, 1_700_000_000_000),
      presenceFrame(OTHER, false, null),
      presenceFrame(PEER, false, 1_700_000_100_000),
    ]);
    expect(client.presenceOf(PEER)).toEqual({ userId: PEER, online: false, lastSeen: 1_700_000_100_000 });
    expect(client.presenceOf(OTHER)).toEqual({ userId: OTHER, online: false, lastSeen: null });

    // Dropped from the list: forgotten (it would no longer be kept current).
    client.watchPresence([OTHER]);
    expect(client.presenceOf(PEER)).toBeUndefined();
    expect(client.presenceOf(OTHER)).toBeDefined();
  });

  it('treats presence as ephemeral: no ack, cursor unchanged, no error', () => {
    const client = makeClient();
    const errors: MessengerError[] = [];
    client.on('error', (e) => errors.push(e));
    void client.connect();
    const socket = FakeSocket.last.hello({ cursor: 5, head: 5 });
    client.watchPresence([PEER]);
    socket.deliver(presenceFrame(PEER, true, 1));
    vi.advanceTimersByTime(100);
    expect(socket.framesOfType('ack')).toEqual([]);
    expect(client.cursor).toBe(5);
    expect(errors).toEqual([]);
  });

  it('reports a malformed presence frame as an error and keeps the connection', () => {
    const client = makeClient();
    const errors: MessengerError[] = [];
    const seen: PresenceFrame[] = [];
    client.on('error', (e) => errors.push(e));
    client.on('presence', (frame) => seen.push(frame));
    void client.connect();
    const socket = FakeSocket.last.hello();
    client.watchPresence([PEER]);
    socket.deliver({ type: 'presence', userId: PEER, online: 'yes', lastSeen: null });
    socket.deliver({ type: 'presence', userId: PEER, online: true });
    expect(seen).toEqual([]);
    expect(errors.map((e) => e.code)).toEqual(['validation_failed', 'validation_failed']);
    expect(client.state).toBe('open');
    expect(client.presenceOf(PEER)).toBeUndefined();
  });

  it('reconnects after close code 4004 (heartbeat_timeout) and re-sends the watch list', () => {
    const client = makeClient();
    const states: ConnectionState[] = [];
    client.on('state', ({ state }) => states.push(state));
    void client.connect();
    const first = FakeSocket.last.hello();
    client.watchPresence([PEER]);
    first.serverClose(CLOSE_CODES.heartbeat_timeout, 'no heartbeat');
    expect(client.state).toBe('reconnecting');
    vi.advanceTimersByTime(125);
    const second = FakeSocket.last.hello();
    expect(second).not.toBe(first);
    expect(states).toEqual(['connecting', 'open', 'reconnecting', 'open']);
    expect(watches(second)).toEqual([[PEER]]);
  });
});

describe('MessengerClient activity', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.reset();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends active after every hello by default', () => {
    const client = makeClient();
    void client.connect();
    const first = FakeSocket.last;
    first.open();
    expect(actives(first)).toBe(0); // not before hello
    first.hello();
    expect(first.frames()).toEqual([{ type: 'active' }]);
    first.serverClose(1006);
    vi.advanceTimersByTime(125);
    const second = FakeSocket.last.hello();
    expect(actives(second)).toBe(1);
  });

  it('never sends active on its own with activeOnConnect: false', () => {
    const client = makeClient({ activeOnConnect: false });
    void client.connect();
    const first = FakeSocket.last.hello();
    first.serverClose(1006);
    vi.advanceTimersByTime(125);
    const second = FakeSocket.last.hello();
    expect(actives(first) + actives(second)).toBe(0);
  });

  it('markActive sends at once when open, and once after the next hello when offline', () => {
    const client = makeClient({ activeOnConnect: false });
    void client.connect();
    const first = FakeSocket.last.hello();
    expect(client.markActive()).toBe(true);
    expect(actives(first)).toBe(1);

    first.serverClose(1006);
    expect(client.markActive()).toBe(false);
    expect(client.markActive()).toBe(false);
    vi.advanceTimersByTime(125);
    const second = FakeSocket.last;
    second.open();
    expect(actives(second)).toBe(0);
    second.hello();
    expect(actives(second)).toBe(1); // once, however often it was asked for

    second.serverClose(1006);
    vi.advanceTimersByTime(250);
    const third = FakeSocket.last.hello();
    expect(actives(third)).toBe(0); // the pending one was used up
  });

  it('does not add active when the hello flush already sent a message (the server counts it as activity)', () => {
    const client = makeClient();
    void client.connect();
    client.sendText(PEER, 'queued while connecting');
    const socket = FakeSocket.last.hello();
    expect(socket.frames().map((f) => f.type)).toEqual(['send']);
  });

  it('sends active only once when a hello listener calls markActive', () => {
    const client = makeClient();
    client.on('hello', () => client.markActive());
    void client.connect();
    expect(actives(FakeSocket.last.hello())).toBe(1);
  });
});

describe('TypingIndicators', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(1_700_000_000_000);
    FakeSocket.reset();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function setup(): { client: MessengerClient; socket: FakeSocket; typing: TypingIndicators; changes: TypingEntry[][] } {
    // A long heartbeat: the fake server never answers pings, and these tests advance by seconds.
    const client = makeClient({ heartbeatIntervalMs: 600_000 });
    void client.connect();
    const socket = FakeSocket.last.hello();
    const typing = new TypingIndicators(client);
    const changes: TypingEntry[][] = [];
    typing.on('change', (list) => changes.push(list));
    return { client, socket, typing, changes };
  }

  it('shows a 1:1 indicator under direct:<sender> and hides it after expiresInMs without a repeat', () => {
    const { socket, typing, changes } = setup();
    socket.deliver(typingNotice());
    const entry = { key: `direct:${PEER}`, conversation: { kind: 'direct', id: PEER }, userId: PEER, state: 'typing' };
    expect(typing.list()).toEqual([{ ...entry, expiresAt: 1_700_000_000_000 + TYPING_TTL_MS }]);
    expect(typing.typingIn({ kind: 'direct', id: PEER })).toHaveLength(1);
    expect(typing.typingIn(`direct:${PEER}`)).toHaveLength(1);
    expect(changes).toHaveLength(1);

    vi.advanceTimersByTime(TYPING_TTL_MS - 1);
    expect(typing.list()).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(typing.list()).toEqual([]);
    expect(changes).toEqual([[{ ...entry, expiresAt: 1_700_000_000_000 + TYPING_TTL_MS }], []]);
  });

  it('extends the indicator on every repeat (without a change event) and emits when the state changes', () => {
    const { socket, typing, changes } = setup();
    socket.deliver(typingNotice());
    vi.advanceTimersByTime(4_000);
    socket.deliver(typingNotice());
    vi.advanceTimersByTime(4_000); // 8 s after the first, 4 s after the repeat
    expect(typing.typingIn({ kind: 'direct', id: PEER })).toMatchObject([{ state: 'typing', expiresAt: 1_700_000_010_000 }]);
    expect(changes).toHaveLength(1);

    socket.deliver(typingNotice({ state: 'recording' }));
    expect(typing.list()).toMatchObject([{ userId: PEER, state: 'recording' }]);
    expect(changes).toHaveLength(2);
    vi.advanceTimersByTime(TYPING_TTL_MS);
    expect(typing.list()).toEqual([]);
    expect(changes).toHaveLength(3);
  });

  it('clears at once on stopped, and ignores a stopped for someone not shown', () => {
    const { socket, typing, changes } = setup();
    socket.deliver(typingNotice({ state: 'stopped' }));
    expect(changes).toEqual([]);
    socket.deliver(typingNotice());
    socket.deliver(typingNotice({ state: 'stopped' }));
    expect(typing.list()).toEqual([]);
    expect(changes.map((c) => c.length)).toEqual([1, 0]);
    vi.advanceTimersByTime(TYPING_TTL_MS * 2);
    expect(changes).toHaveLength(2); // the cancelled timer does not fire a change
  });

  it('keeps group indicators per group and per user, and the sender’s message hides theirs', () => {
    const { socket, typing } = setup();
    socket.deliver(typingNotice({ group: GROUP }));
    socket.deliver(typingNotice({ from: OTHER, group: GROUP, state: 'recording' }));
    socket.deliver(typingNotice({ from: PEER, group: null }));
    expect(typing.typingIn({ kind: 'group', id: GROUP }).map((e) => [e.userId, e.state])).toEqual([
      [PEER, 'typing'],
      [OTHER, 'recording'],
    ]);
    expect(typing.list().map((e) => e.key)).toEqual([`group:${GROUP}`, `group:${GROUP}`, `direct:${PEER}`]);

    // PEER's group message hides PEER's group indicator only.
    socket.deliver(groupMessageFrame(1, { from: PEER }));
    expect(typing.list().map((e) => `${e.key}/${e.userId}`)).toEqual([`group:${GROUP}/${OTHER}`, `direct:${PEER}/${PEER}`]);
    // PEER's 1:1 message hides the 1:1 one.
    socket.deliver(messageFrame(2, { from: PEER }));
    expect(typing.list().map((e) => `${e.key}/${e.userId}`)).toEqual([`group:${GROUP}/${OTHER}`]);
  });

  it('works with injected timers and clock', () => {
    const source = new Emitter<Pick<MessengerEvents, 'typing_notice' | 'message' | 'group_message'>>();
    const pending = new Map<number, { at: number; callback: () => void }>();
    let clock = 0;
    let nextHandle = 1;
    const timers: TypingTimers = {
      setTimeout: (callback, ms) => {
        const handle = nextHandle++;
        pending.set(handle, { at: clock + ms, callback });
        return handle;
      },
      clearTimeout: (handle) => {
        pending.delete(handle as number);
      },
    };
    const advance = (ms: number): void => {
      clock += ms;
      for (const [handle, timer] of [...pending]) {
        if (timer.at <= clock) {
          pending.delete(handle);
          timer.callback();
        }
      }
    };
    const typing = new TypingIndicators(source, { timers, now: () => clock });
    source.emit('typing_notice', typingNotice({ expiresInMs: 1_000 }));
    expect(typing.list()).toMatchObject([{ userId: PEER, expiresAt: 1_000 }]);
    advance(600);
    source.emit('typing_notice', typingNotice({ expiresInMs: 1_000 }));
    expect(pending.size).toBe(1); // the old timer was cancelled
    advance(600);
    expect(typing.list()).toHaveLength(1);
    advance(400);
    expect(typing.list()).toEqual([]);
    expect(pending.size).toBe(0);
  });

  it('dispose() cancels every timer, stops listening and forgets everything', () => {
    const { socket, typing, changes } = setup();
    socket.deliver(typingNotice()).deliver(typingNotice({ from: OTHER, group: GROUP }));
    expect(vi.getTimerCount()).toBeGreaterThanOrEqual(2);
    const before = vi.getTimerCount();
    typing.dispose();
    expect(vi.getTimerCount()).toBe(before - 2);
    expect(typing.list()).toEqual([]);
    socket.deliver(typingNotice());
    expect(typing.list()).toEqual([]);
    expect(changes).toHaveLength(2); // nothing after dispose
  });

  it('clear() hides everything at once', () => {
    const { socket, typing, changes } = setup();
    socket.deliver(typingNotice());
    typing.clear();
    expect(typing.list()).toEqual([]);
    expect(changes.at(-1)).toEqual([]);
    typing.clear();
    expect(changes).toHaveLength(2); // nothing to clear: no event
  });
});

// ------------------------------------------------------------------ HTTP

interface Call {
  url: string;
  method: string;
  body: unknown;
  authorization: string | null;
}

function stubFetch(respond: (call: Call) => Response): { fetch: FetchLike; calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    fetch: async (url, init) => {
      const call: Call = {
        url,
        method: init?.method ?? 'GET',
        body: typeof init?.body === 'string' ? (JSON.parse(init.body) as unknown) : undefined,
        authorization: new Headers(init?.headers).get('authorization'),
      };
      calls.push(call);
      return respond(call);
    },
  };
}

const settings: Settings = {
  privacy: { lastSeen: 'contacts', online: 'same_as_last_seen', readReceipts: true, groups: 'contacts', profile: 'contacts' },
  notifications: { previews: false, quietHours: null },
  mutes: [{ conversation: { kind: 'group', id: GROUP }, until: null }],
};

function api(respond: (call: Call) => Response): { api: MessengerApi; calls: Call[] } {
  const { fetch, calls } = stubFetch(respond);
  return { api: new MessengerApi({ baseUrl: 'http://api.test', token: 'user-token', fetch }), calls };
}

describe('MessengerApi presence, settings and push', () => {
  it('presence(userId) GETs the user’s presence', async () => {
    const { api: a, calls } = api(() => json({ userId: PEER, online: false, lastSeen: 1_700_000_000_000 }));
    await expect(a.presence(PEER)).resolves.toEqual({ userId: PEER, online: false, lastSeen: 1_700_000_000_000 });
    expect(calls).toEqual([{ url: `http://api.test/v1/users/${PEER}/presence`, method: 'GET', body: undefined, authorization: 'Bearer user-token' }]);
  });

  it('settings() GETs and updateSettings() PATCHes /v1/me/settings', async () => {
    const { api: a, calls } = api(() => json(settings));
    await expect(a.settings()).resolves.toEqual(settings);
    await expect(a.updateSettings({ privacy: { lastSeen: 'nobody' }, notifications: { previews: true } })).resolves.toEqual(settings);
    expect(calls.map((c) => [c.method, c.url, c.body])).toEqual([
      ['GET', 'http://api.test/v1/me/settings', undefined],
      ['PATCH', 'http://api.test/v1/me/settings', { privacy: { lastSeen: 'nobody' }, notifications: { previews: true } }],
    ]);
  });

  it('mute() PUTs {until} and unmute() DELETEs /v1/me/mutes/:kind/:id', async () => {
    const { api: a, calls } = api(() => json(settings));
    await a.mute({ kind: 'group', id: GROUP }, null);
    await a.mute({ kind: 'direct', id: PEER }, 1_900_000_000_000);
    await a.unmute({ kind: 'direct', id: PEER });
    expect(calls.map((c) => [c.method, c.url, c.body])).toEqual([
      ['PUT', `http://api.test/v1/me/mutes/group/${GROUP}`, { until: null }],
      ['PUT', `http://api.test/v1/me/mutes/direct/${PEER}`, { until: 1_900_000_000_000 }],
      ['DELETE', `http://api.test/v1/me/mutes/direct/${PEER}`, undefined],
    ]);
  });

  it('mute() rejects an invalid conversation before touching the network', async () => {
    const { api: a, calls } = api(() => json(settings));
    // @ts-expect-error an unknown kind, as untyped callers might pass
    await expect(a.mute({ kind: 'channel', id: GROUP }, null)).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(a.unmute({ kind: 'direct', id: '../../v1/me' })).rejects.toMatchObject({ code: 'validation_failed' });
    expect(calls).toEqual([]);
  });

  it('registerPushToken() PUTs {platform, token}; pushRegistration() GETs; unregisterPushToken() DELETEs', async () => {
    const registration = { deviceId: MY_DEVICE, platform: 'fcm', registeredAt: 1_700_000_000_000 };
    const { api: a, calls } = api((call) => (call.method === 'DELETE' ? new Response(null, { status: 204 }) : json(registration)));
    await expect(a.registerPushToken('fcm', 'fcm-token-1')).resolves.toEqual(registration);
    await expect(a.pushRegistration()).resolves.toEqual(registration);
    await expect(a.unregisterPushToken()).resolves.toBeUndefined();
    expect(calls.map((c) => [c.method, c.url, c.body])).toEqual([
      ['PUT', 'http://api.test/v1/devices/current/push', { platform: 'fcm', token: 'fcm-token-1' }],
      ['GET', 'http://api.test/v1/devices/current/push', undefined],
      ['DELETE', 'http://api.test/v1/devices/current/push', undefined],
    ]);
  });

  it('pushRegistration() resolves null when the device has none (404 not_found), and throws other errors', async () => {
    const none = api(() => json({ error: { code: 'not_found', message: 'This device has no push token', retryable: false } }, 404));
    await expect(none.api.pushRegistration()).resolves.toBeNull();
    const down = api(() => json({ error: { code: 'unavailable', message: 'later', retryable: true } }, 503));
    await expect(down.api.pushRegistration()).rejects.toMatchObject({ code: 'unavailable', status: 503 });
  });

  it('rejects answers that do not match the protocol as internal errors', async () => {
    const cases: Array<[string, (a: MessengerApi) => Promise<unknown>, unknown]> = [
      ['presence', (a) => a.presence(PEER), { userId: PEER, online: 'yes', lastSeen: null }],
      ['presence (extra field)', (a) => a.presence(PEER), { userId: PEER, online: true, lastSeen: null, typing: true }],
      ['settings', (a) => a.settings(), { ...settings, privacy: { lastSeen: 'friends', online: 'everyone' } }],
      ['updateSettings', (a) => a.updateSettings({ notifications: { previews: true } }), { privacy: settings.privacy }],
      ['mute', (a) => a.mute({ kind: 'direct', id: PEER }, null), { ...settings, mutes: [{ conversation: { kind: 'direct', id: 'x' }, until: null }] }],
      ['unmute', (a) => a.unmute({ kind: 'group', id: GROUP }), []],
      ['registerPushToken', (a) => a.registerPushToken('apns', 't'), { deviceId: MY_DEVICE, platform: 'sms', registeredAt: 1 }],
      ['pushRegistration', (a) => a.pushRegistration(), { deviceId: MY_DEVICE, platform: 'fcm' }],
    ];
    for (const [name, call, body] of cases) {
      const { api: a } = api(() => json(body));
      const error = await call(a).catch((e: unknown) => e);
      expect(error, name).toBeInstanceOf(MessengerError);
      expect(error, name).toMatchObject({ code: 'internal', retryable: false });
    }
  });

  it('surfaces server error codes (e.g. user_not_found, validation_failed)', async () => {
    const { api: a } = api(() => json({ error: { code: 'validation_failed', message: 'until must be in the future', retryable: false } }, 400));
    await expect(a.mute({ kind: 'direct', id: PEER }, 1)).rejects.toMatchObject({
      code: 'validation_failed',
      status: 400,
      message: 'until must be in the future',
    });
  });
});

describe('OperatorApi', () => {
  const metrics = {
    queues: { 'group-fanout': { backlog: 0, backlogBytes: 0, oldestAt: null }, 'push-notifications': null },
    deadLetters: {},
    push: { sent: 3, failed: 0, retried: 1, invalidTokens: 0, noDevice: 2 },
    connections: { devices: 2, onlineUsers: 1 },
    mailboxes: { reporting: 2, depthTotal: 10, depthMax: 7 },
    media: { stored: { count: 4, bytes: 3000 }, pending: 1, failed: 0, dedupHits: 1, swept: 5 },
    history: {
      hot: { messages: 120, mailboxes: 2 },
      shards: {
        HISTORY_0: { warmRows: 40, warmBytes: 32_000, coldChunks: 1, coldMessages: 500, coldBytes: 50_000, searchDocs: 540, coldLagMs: 0 },
        HISTORY_1: null,
      },
    },
    at: 1_700_000_000_000,
  };
  const push = {
    id: 7,
    userId: ME,
    deviceId: MY_DEVICE,
    platform: 'fcm',
    kind: 'message',
    title: 'New message',
    body: 'You have a new message',
    conversation: { kind: 'direct', id: PEER },
    messageId: ulid(900),
    badge: null,
    silent: false,
    at: 1_700_000_000_000,
  };

  it('metrics() GETs /v1/metrics with the operator token', async () => {
    const { fetch, calls } = stubFetch(() => json(metrics));
    const ops = new OperatorApi({ baseUrl: 'http://api.test/', token: 'ops-secret', fetch });
    await expect(ops.metrics()).resolves.toEqual(metrics);
    expect(calls).toEqual([{ url: 'http://api.test/v1/metrics', method: 'GET', body: undefined, authorization: 'Bearer ops-secret' }]);
  });

  it('sinkPushes() builds the query and validates the list', async () => {
    const { fetch, calls } = stubFetch(() => json({ pushes: [push] }));
    const ops = new OperatorApi({ baseUrl: 'http://api.test', token: () => 'ops-secret', fetch });
    await expect(ops.sinkPushes({ userId: ME, after: 6, limit: 10 })).resolves.toEqual({ pushes: [push] });
    await ops.sinkPushes();
    expect(calls.map((c) => c.url)).toEqual([`http://api.test/v1/push/sink?userId=${ME}&after=6&limit=10`, 'http://api.test/v1/push/sink']);
    expect(calls.every((c) => c.authorization === 'Bearer ops-secret')).toBe(true);
  });

  it('rejects invalid answers and maps errors', async () => {
    const bad = stubFetch(() => json({ ...metrics, push: { sent: -1 } }));
    await expect(new OperatorApi({ baseUrl: 'http://api.test', token: 't', fetch: bad.fetch }).metrics()).rejects.toMatchObject({ code: 'internal' });
    const badList = stubFetch(() => json({ pushes: [{ ...push, kind: 'sms' }] }));
    await expect(new OperatorApi({ baseUrl: 'http://api.test', token: 't', fetch: badList.fetch }).sinkPushes()).rejects.toMatchObject({
      code: 'internal',
    });
    const denied = stubFetch(() => new Response('Unauthorized', { status: 401 }));
    await expect(new OperatorApi({ baseUrl: 'http://api.test', token: 'wrong', fetch: denied.fetch }).metrics()).rejects.toMatchObject({
      code: 'unauthorized',
      status: 401,
    });
  });

  it('refuses to call without a token', async () => {
    const { fetch, calls } = stubFetch(() => json(metrics));
    const ops = new OperatorApi({ baseUrl: 'http://api.test', token: () => undefined, fetch });
    await expect(ops.metrics()).rejects.toMatchObject({ code: 'unauthorized' });
    expect(calls).toEqual([]);
  });
});
