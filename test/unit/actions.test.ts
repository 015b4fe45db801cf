/**
 * SDK message actions against the fake socket: replies and forwards as sends, reactions, edits,
 * deletions and stars with the outbox semantics of sends (queued offline, resent with the same id,
 * settled by `acted`, failed by a non-retryable error, paused by rate limits, persisted), "mark
 * unread", the update events, and the starred list.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryOutboxStore, MessengerError, Outbox, chatOf, editedBody } from '../../client/index.ts';
import type { ActionDelayed, ActionFailed, GroupMessageUpdated, MessageUpdated, OutboxRecord, PendingAction } from '../../client/index.ts';
import { ACK_LAZY_MS } from '../../protocol/index.ts';
import type { ActedFrame, ChatMarkerFrame, ChatRef, ClientFrame, GroupMessage, Message, ServerFrame, StarredPage } from '../../protocol/index.ts';
import { FakeSocket, GROUP, ME, PEER, PEER_DEVICE, json, makeClient, sentFrame, ulid } from './fake-socket.ts';

const DIRECT: ChatRef = { kind: 'direct', peer: PEER };
const IN_GROUP: ChatRef = { kind: 'group', group: GROUP };
const TARGET = ulid(600);
const OTHER_TARGET = ulid(601);
const IMAGE = { id: ulid(700), mime: 'image/jpeg', size: 1234 };

function acted(id: string, fields: Partial<ActedFrame> = {}): ActedFrame {
  return { type: 'acted', id, chat: DIRECT, target: TARGET, duplicate: false, ...fields };
}

/** The action and send frames a socket carried, as `type:id`, in order. */
function outgoing(socket: FakeSocket): string[] {
  return socket.frames().flatMap((f) => (f.type === 'action' || f.type === 'send' || f.type === 'group_send' ? [`${f.type}:${f.id}`] : []));
}

function actionFrames(socket: FakeSocket): Array<Extract<ClientFrame, { type: 'action' }>> {
  return socket.framesOfType('action');
}

function directMessage(fields: Partial<Message> = {}): Message {
  return {
    id: TARGET,
    clientId: 'peer-c1',
    from: PEER,
    fromDevice: PEER_DEVICE,
    to: ME,
    sentAt: 1_700_000_000_000,
    body: { kind: 'text', text: 'original' },
    ...fields,
  };
}

function groupMessage(fields: Partial<GroupMessage> = {}): GroupMessage {
  return {
    id: TARGET,
    group: GROUP,
    gseq: 4,
    clientId: 'peer-g1',
    from: PEER,
    fromDevice: PEER_DEVICE,
    sentAt: 1_700_000_000_000,
    body: { kind: 'text', text: 'in the group' },
    ...fields,
  };
}

async function rejection(action: PendingAction): Promise<unknown> {
  return action.done.then(
    () => 'resolved',
    (error: unknown) => error,
  );
}

describe('message actions', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.reset();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  describe('outbox semantics', () => {
    it('sends each action as an action frame with its client id; acted resolves done once and emits acted once', async () => {
      const client = makeClient();
      const events: ActedFrame[] = [];
      client.on('acted', (frame) => events.push(frame));
      void client.connect();
      const socket = FakeSocket.last.hello();
      const react = client.react(DIRECT, TARGET, '👍');
      const star = client.star(IN_GROUP, OTHER_TARGET);
      const unstar = client.star(IN_GROUP, OTHER_TARGET, false);
      const recall = client.deleteForEveryone(DIRECT, TARGET);
      const mine = client.deleteForMe(IN_GROUP, OTHER_TARGET);
      expect(actionFrames(socket)).toEqual([
        { type: 'action', id: react.clientId, chat: DIRECT, target: TARGET, action: { kind: 'react', emoji: '👍' } },
        { type: 'action', id: star.clientId, chat: IN_GROUP, target: OTHER_TARGET, action: { kind: 'star', starred: true } },
        { type: 'action', id: unstar.clientId, chat: IN_GROUP, target: OTHER_TARGET, action: { kind: 'star', starred: false } },
        { type: 'action', id: recall.clientId, chat: DIRECT, target: TARGET, action: { kind: 'delete', scope: 'everyone' } },
        { type: 'action', id: mine.clientId, chat: IN_GROUP, target: OTHER_TARGET, action: { kind: 'delete', scope: 'me' } },
      ]);
      expect(client.pendingActions().map((a) => a.clientId)).toEqual([react.clientId, star.clientId, unstar.clientId, recall.clientId, mine.clientId]);
      expect(client.pending()).toEqual([]); // sends only: apps that list unsent messages see no actions

      socket.deliver(acted(react.clientId));
      socket.deliver(acted(react.clientId, { duplicate: true }));
      await expect(react.done).resolves.toEqual(acted(react.clientId));
      expect(events).toEqual([acted(react.clientId)]);
      expect(client.pendingActions().map((a) => a.clientId)).not.toContain(react.clientId);
    });

    it('an acted answer for another message or chat does not settle the action', () => {
      const client = makeClient();
      void client.connect();
      const socket = FakeSocket.last.hello();
      const { clientId } = client.react(DIRECT, TARGET, '🎉');
      socket.deliver(acted(clientId, { target: OTHER_TARGET }));
      socket.deliver(acted(clientId, { chat: IN_GROUP }));
      expect(client.pendingActions().map((a) => a.clientId)).toEqual([clientId]);
    });

    it('queues actions made while disconnected and sends them after hello, in order with sends', () => {
      const client = makeClient();
      void client.connect();
      const message = client.sendText(PEER, 'first');
      const react = client.react(DIRECT, TARGET, '❤️');
      const reply = client.reply(DIRECT, TARGET, { kind: 'text', text: 'answer' });
      FakeSocket.last.open();
      expect(outgoing(FakeSocket.last)).toEqual([]);
      FakeSocket.last.hello();
      expect(outgoing(FakeSocket.last)).toEqual([`send:${message.clientId}`, `action:${react.clientId}`, `send:${reply.clientId}`]);
    });

    it('resends unconfirmed actions after a reconnect with the same id and content; a duplicate acted settles them', async () => {
      const client = makeClient();
      void client.connect();
      const first = FakeSocket.last.hello();
      const edit = client.editText(DIRECT, TARGET, 'fixed');
      const star = client.star(DIRECT, OTHER_TARGET);
      first.deliver(acted(star.clientId, { target: OTHER_TARGET }));
      first.serverClose(1006);
      const unanswered = actionFrames(first).find((f) => f.id === edit.clientId);

      vi.advanceTimersByTime(125);
      const second = FakeSocket.last.hello();
      expect(second).not.toBe(first);
      expect(actionFrames(second)).toEqual([unanswered]); // the confirmed star is not resent
      second.deliver(acted(edit.clientId, { duplicate: true }));
      await expect(edit.done).resolves.toMatchObject({ id: edit.clientId, duplicate: true });
      expect(client.pendingActions()).toEqual([]);
    });

    it('a non-retryable error with the action id rejects done, emits action_failed (not failed) and is never resent', async () => {
      const client = makeClient();
      const failed: ActionFailed[] = [];
      const sendFailures: unknown[] = [];
      client.on('action_failed', (event) => failed.push(event));
      client.on('failed', (event) => sendFailures.push(event));
      void client.connect();
      const socket = FakeSocket.last.hello();
      const edit = client.edit(DIRECT, TARGET, { kind: 'text', text: 'too late' });
      socket.deliver({ type: 'error', id: edit.clientId, code: 'edit_window_passed', message: 'too old', retryable: false });
      const error = await rejection(edit);
      expect(error).toBeInstanceOf(MessengerError);
      expect(error).toMatchObject({ code: 'edit_window_passed', retryable: false });
      expect(failed).toEqual([expect.objectContaining({ clientId: edit.clientId, target: TARGET, chat: DIRECT, error: expect.objectContaining({ code: 'edit_window_passed' }) })]);
      expect(sendFailures).toEqual([]);

      socket.serverClose(1006);
      vi.advanceTimersByTime(125);
      const next = FakeSocket.last.hello();
      expect(actionFrames(next)).toEqual([]);
    });

    it('keeps a rate-limited action pending, emits action_delayed, waits retryAfterMs and resends it with the same id', async () => {
      const client = makeClient({ heartbeatIntervalMs: 60_000 });
      const delayed: ActionDelayed[] = [];
      client.on('action_delayed', (event) => delayed.push(event));
      void client.connect();
      const socket = FakeSocket.last.hello();
      const start = Date.now();
      const react = client.react(IN_GROUP, TARGET, '😂');
      socket.deliver({ type: 'error', id: react.clientId, code: 'rate_limited', message: 'slow down', retryable: true, retryAfterMs: 1_000 });
      const later = client.sendText(PEER, 'written during the wait');
      expect(delayed).toEqual([expect.objectContaining({ clientId: react.clientId, retryAt: start + 1_000 })]);
      vi.advanceTimersByTime(999);
      expect(outgoing(socket)).toEqual([`action:${react.clientId}`]);
      vi.advanceTimersByTime(1);
      expect(outgoing(socket)).toEqual([`action:${react.clientId}`, `action:${react.clientId}`]);
      socket.deliver(acted(react.clientId, { chat: IN_GROUP }));
      expect(outgoing(socket).at(-1)).toBe(`send:${later.clientId}`);
      await expect(react.done).resolves.toMatchObject({ id: react.clientId });
    });

    it('persists actions with the sends, and a new client resends them after hello (done settles through outbox.promise)', async () => {
      const store = new MemoryOutboxStore();
      const first = makeClient({ outboxStore: store });
      const message = first.sendText(PEER, 'unsent');
      const react = first.react(DIRECT, TARGET, '👍');
      first.close();
      expect(store.load()).toEqual([
        expect.objectContaining({ clientId: message.clientId, to: PEER }),
        { clientId: react.clientId, chat: DIRECT, target: TARGET, action: { kind: 'react', emoji: '👍' }, createdAt: expect.any(Number) },
      ]);

      const second = makeClient({ outboxStore: store });
      void second.connect();
      const socket = FakeSocket.last.hello();
      expect(outgoing(socket)).toEqual([`send:${message.clientId}`, `action:${react.clientId}`]);
      const done = second.outbox.promise(react.clientId);
      socket.deliver(acted(react.clientId, { duplicate: true }));
      await expect(done).resolves.toMatchObject({ type: 'acted', id: react.clientId });
      expect(store.load().map((r) => r.clientId)).toEqual([message.clientId]);
    });

    it('drops invalid stored actions on load and keeps valid ones', async () => {
      const stored: unknown[] = [
        { clientId: 'ok', chat: DIRECT, target: TARGET, action: { kind: 'star', starred: true }, createdAt: 1 },
        { clientId: 'bad-chat', chat: { kind: 'direct', peer: 'nope' }, target: TARGET, action: { kind: 'star', starred: true }, createdAt: 2 },
        { clientId: 'bad-action', chat: DIRECT, target: TARGET, action: { kind: 'explode' }, createdAt: 3 },
        { clientId: 'bad-target', chat: DIRECT, target: 'x', action: { kind: 'delete', scope: 'me' }, createdAt: 4 },
        { clientId: 'bad-reply', to: PEER, body: { kind: 'text', text: 'x' }, replyTo: 'not-an-id', createdAt: 5 },
        { clientId: 'reply', to: PEER, body: { kind: 'text', text: 'x' }, replyTo: TARGET, createdAt: 6 },
      ];
      const outbox = new Outbox({ store: { load: async () => stored as OutboxRecord[], save: () => undefined } });
      await outbox.ready;
      expect(outbox.records().map((r) => r.clientId)).toEqual(['ok', 'reply']);
      expect(outbox.get('reply')).toEqual({ clientId: 'reply', to: PEER, body: { kind: 'text', text: 'x' }, replyTo: TARGET, createdAt: 6 });
      expect(outbox.get('ok')).toBeUndefined(); // get() is for sends
      expect(outbox.getRecord('ok')).toMatchObject({ action: { kind: 'star', starred: true } });
    });

    it('an explicit client id already pending returns the same promise; reusing it for another action is id_conflict', () => {
      const client = makeClient();
      const first = client.react(DIRECT, TARGET, '👍', { clientId: 'act-1' });
      expect(client.react(DIRECT, TARGET, '👍', { clientId: 'act-1' }).done).toBe(first.done);
      expect(() => client.star(DIRECT, TARGET, true, { clientId: 'act-1' })).toThrow(expect.objectContaining({ code: 'id_conflict' }));
      expect(() => client.react(DIRECT, TARGET, '❤️', { clientId: 'act-1' })).toThrow(expect.objectContaining({ code: 'id_conflict' }));
      expect(() => client.react(DIRECT, OTHER_TARGET, '👍', { clientId: 'act-1' })).toThrow(expect.objectContaining({ code: 'id_conflict' }));
      expect(() => client.sendText(PEER, 'x', { clientId: 'act-1' })).toThrow(expect.objectContaining({ code: 'id_conflict' }));
      expect(client.pendingActions()).toHaveLength(1);
      expect(client.pending()).toEqual([]);
    });
  });

  describe('validation', () => {
    it('throws validation_failed synchronously for bad input and queues nothing', () => {
      const client = makeClient();
      void client.connect();
      const socket = FakeSocket.last.hello();
      const bad: Array<() => unknown> = [
        () => client.react({ kind: 'direct', peer: 'nobody' }, TARGET, '👍'),
        () => client.react({ kind: 'channel', id: GROUP } as unknown as ChatRef, TARGET, '👍'),
        () => client.react(DIRECT, 'not-a-message-id', '👍'),
        () => client.react(DIRECT, TARGET, ''),
        () => client.react(DIRECT, TARGET, 'two words'),
        () => client.react(DIRECT, TARGET, '👍'.repeat(20)),
        () => client.edit(DIRECT, TARGET, ''),
        () => client.edit(DIRECT, TARGET, { kind: 'text', text: '' }),
        () => client.edit(DIRECT, TARGET, { kind: 'deleted' } as never),
        () => client.editText(IN_GROUP, TARGET, ''),
        () => client.star(DIRECT, TARGET, 'yes' as unknown as boolean),
        () => client.deleteForEveryone(IN_GROUP, ''),
        () => client.reply(DIRECT, 'x', { kind: 'text', text: 'hi' }),
        () => client.reply(DIRECT, TARGET, { kind: 'text', text: '' }),
        () => client.send(PEER, { kind: 'text', text: 'hi' }, { replyTo: 'nope' }),
        () => client.sendGroup(GROUP, { kind: 'text', text: 'hi' }, { replyTo: 'nope' }),
        () => client.forward(directMessage({ body: { kind: 'deleted', by: PEER, scope: 'everyone', at: 1 } }), DIRECT),
        () => client.forward(directMessage(), { kind: 'group', group: 'x' }),
        () => client.markUnread({ kind: 'direct', peer: 'x' }),
      ];
      for (const call of bad) {
        expect(call).toThrow(MessengerError);
        expect(call).toThrow(expect.objectContaining({ code: 'validation_failed' }));
      }
      expect(client.outbox.size).toBe(0);
      expect(socket.frames().filter((f) => f.type !== 'ack' && f.type !== 'active')).toEqual([]);
    });
  });

  describe('replies and forwards', () => {
    it('reply is a send carrying replyTo (1:1 and group), kept in the outbox entry and repeated on resend', async () => {
      const client = makeClient();
      void client.connect();
      const first = FakeSocket.last.hello();
      const direct = client.reply(DIRECT, TARGET, { kind: 'text', text: 'yes' });
      const group = client.reply(IN_GROUP, OTHER_TARGET, { kind: 'location', latitude: 1, longitude: 2 });
      const viaSend = client.sendText(PEER, 'also', { replyTo: TARGET });
      expect(first.framesOfType('send')).toEqual([
        { type: 'send', id: direct.clientId, to: PEER, body: { kind: 'text', text: 'yes' }, replyTo: TARGET },
        { type: 'send', id: viaSend.clientId, to: PEER, body: { kind: 'text', text: 'also' }, replyTo: TARGET },
      ]);
      expect(first.framesOfType('group_send')).toEqual([
        { type: 'group_send', id: group.clientId, group: GROUP, body: { kind: 'location', latitude: 1, longitude: 2 }, replyTo: OTHER_TARGET },
      ]);
      expect(client.outbox.get(direct.clientId)).toMatchObject({ replyTo: TARGET });

      first.serverClose(1006);
      vi.advanceTimersByTime(125);
      const second = FakeSocket.last.hello();
      expect(second.frames().filter((f) => f.type === 'send' || f.type === 'group_send')).toEqual(
        first.frames().filter((f) => f.type === 'send' || f.type === 'group_send'),
      );
      second.deliver(sentFrame(direct.clientId, { duplicate: true }));
      await expect(direct.sent).resolves.toMatchObject({ type: 'sent', id: direct.clientId });
    });

    it('forward sends the message body with forward: its id, to a 1:1 chat or a group', () => {
      const client = makeClient();
      void client.connect();
      const socket = FakeSocket.last.hello();
      const image = directMessage({ body: { kind: 'image', media: IMAGE, caption: 'look' }, forwarded: 2 });
      const toGroup = client.forward(image, IN_GROUP);
      const fromGroup = client.forward(groupMessage({ id: OTHER_TARGET }), DIRECT);
      expect(socket.framesOfType('group_send')).toEqual([
        { type: 'group_send', id: toGroup.clientId, group: GROUP, body: { kind: 'image', media: IMAGE, caption: 'look' }, forward: TARGET },
      ]);
      expect(socket.framesOfType('send')).toEqual([
        { type: 'send', id: fromGroup.clientId, to: PEER, body: { kind: 'text', text: 'in the group' }, forward: OTHER_TARGET },
      ]);
      expect(client.outbox.get(toGroup.clientId)).toMatchObject({ forward: TARGET, group: GROUP });
    });
  });

  describe('edits', () => {
    it('a string is a text body; with the message as target a string is its new text or caption', () => {
      const client = makeClient();
      void client.connect();
      const socket = FakeSocket.last.hello();
      client.edit(DIRECT, TARGET, 'new text');
      client.edit(DIRECT, directMessage({ body: { kind: 'image', media: IMAGE, caption: 'old', width: 10 } }), 'new caption');
      client.edit(IN_GROUP, groupMessage(), 'group text');
      client.editText(DIRECT, TARGET, 'via editText');
      expect(actionFrames(socket).map((f) => f.action)).toEqual([
        { kind: 'edit', body: { kind: 'text', text: 'new text' } },
        { kind: 'edit', body: { kind: 'image', media: IMAGE, caption: 'new caption', width: 10 } },
        { kind: 'edit', body: { kind: 'text', text: 'group text' } },
        { kind: 'edit', body: { kind: 'text', text: 'via editText' } },
      ]);
    });

    it('editedBody changes only the text or caption and refuses kinds that cannot be edited', () => {
      expect(editedBody({ kind: 'text', text: 'a' }, 'b')).toEqual({ kind: 'text', text: 'b' });
      expect(editedBody({ kind: 'document', media: IMAGE, fileName: 'a.pdf', caption: 'x' }, '')).toEqual({ kind: 'document', media: IMAGE, fileName: 'a.pdf' });
      expect(() => editedBody({ kind: 'location', latitude: 1, longitude: 2 }, 'x')).toThrow(expect.objectContaining({ code: 'validation_failed' }));
      expect(() => editedBody({ kind: 'deleted', by: ME, scope: 'everyone', at: 1 }, 'x')).toThrow(expect.objectContaining({ code: 'validation_failed' }));
    });

    it('chatOf names the other user of a 1:1 message from either side, or the group', () => {
      expect(chatOf(directMessage(), ME)).toEqual(DIRECT);
      expect(chatOf(directMessage({ from: ME, to: PEER }), ME)).toEqual(DIRECT);
      expect(chatOf(groupMessage(), ME)).toEqual(IN_GROUP);
    });
  });

  describe('mark unread', () => {
    it('is sent at once when connected; offline the latest wish per chat goes out after hello', () => {
      const client = makeClient();
      expect(client.markUnread(DIRECT)).toBe(false);
      client.markUnread(IN_GROUP);
      client.markUnread(IN_GROUP, false);
      void client.connect();
      const socket = FakeSocket.last.hello();
      expect(socket.framesOfType('mark_unread')).toEqual([
        { type: 'mark_unread', chat: DIRECT, unread: true },
        { type: 'mark_unread', chat: IN_GROUP, unread: false },
      ]);
      expect(client.markUnread(DIRECT, false)).toBe(true);
      expect(socket.framesOfType('mark_unread').at(-1)).toEqual({ type: 'mark_unread', chat: DIRECT, unread: false });
    });

    it('reading a chat while offline cancels an unread mark made before it', () => {
      const client = makeClient();
      client.markUnread(DIRECT);
      client.markRead(PEER, 5);
      void client.connect();
      const socket = FakeSocket.last.hello();
      expect(socket.framesOfType('mark_unread')).toEqual([]);
      expect(socket.framesOfType('read')).toEqual([{ type: 'read', peer: PEER, upTo: 5 }]);
    });
  });

  describe('events', () => {
    it('emits message_update, group_message_update and chat_marker in seq order with own flags, and acks them', () => {
      const client = makeClient();
      const seen: string[] = [];
      const updates: MessageUpdated[] = [];
      const groupUpdates: GroupMessageUpdated[] = [];
      const markers: ChatMarkerFrame[] = [];
      client.on('message_update', (u) => {
        updates.push(u);
        seen.push(`message_update:${u.seq}`);
      });
      client.on('group_message_update', (u) => {
        groupUpdates.push(u);
        seen.push(`group_message_update:${u.seq}`);
      });
      client.on('chat_marker', (m) => {
        markers.push(m);
        seen.push(`chat_marker:${m.seq}`);
      });
      void client.connect();
      const socket = FakeSocket.last.hello();
      const edited = directMessage({ body: { kind: 'text', text: 'edited' }, editedAt: 5, rev: 2 });
      const frames: ServerFrame[] = [
        { type: 'message_update', seq: 1, by: PEER, action: { kind: 'edit' }, at: 5, message: edited },
        { type: 'group_message_update', seq: 2, gseq: null, by: ME, action: { kind: 'star', starred: true }, at: 6, message: groupMessage({ starred: true, rev: 1 }) },
        { type: 'chat_marker', seq: 3, chat: IN_GROUP, unread: true, at: 7 },
        { type: 'message_update', seq: 4, by: ME, action: { kind: 'react', emoji: '👍' }, at: 8, message: directMessage({ reactions: [{ by: ME, emoji: '👍', at: 8 }], rev: 3 }) },
      ];
      for (const frame of frames) socket.deliver(frame);
      expect(seen).toEqual(['message_update:1', 'group_message_update:2', 'chat_marker:3', 'message_update:4']);
      expect(updates[0]).toMatchObject({ message: edited, seq: 1, by: PEER, action: { kind: 'edit' }, own: false });
      expect(updates[1]).toMatchObject({ own: true, action: { kind: 'react', emoji: '👍' } });
      expect(groupUpdates[0]).toMatchObject({ group: GROUP, seq: 2, by: ME, own: true, message: { starred: true } });
      expect(markers).toEqual([frames[2]]);
      // Nobody waits on updates and markers: acked lazily, not after the 20 ms debounce.
      vi.advanceTimersByTime(20);
      expect(socket.framesOfType('ack')).toEqual([]);
      vi.advanceTimersByTime(ACK_LAZY_MS - 20);
      expect(socket.framesOfType('ack').at(-1)).toEqual({ type: 'ack', upTo: 4 });
      expect(client.cursor).toBe(4);
    });
  });

  describe('starred()', () => {
    it('GETs /v1/starred with the page query and validates the answer', async () => {
      const page: StarredPage = {
        messages: [
          { seq: 9, chat: DIRECT, message: directMessage({ starred: true }) },
          { seq: 7, chat: IN_GROUP, message: groupMessage({ id: OTHER_TARGET, starred: true }) },
        ],
        nextBefore: 7,
      };
      const urls: string[] = [];
      const client = makeClient({
        fetch: async (url) => {
          urls.push(url);
          return json(page);
        },
      });
      await expect(client.starred({ before: 12, limit: 2 })).resolves.toEqual(page);
      expect(urls).toEqual(['http://chat.test/v1/starred?before=12&limit=2']);
    });

    it('rejects an answer that does not match the protocol with internal', async () => {
      const client = makeClient({ fetch: async () => json({ messages: [{ seq: 1, chat: DIRECT }], nextBefore: null }) });
      await expect(client.starred()).rejects.toMatchObject({ code: 'internal' });
    });
  });
});
