/**
 * Black box, message actions: the real local server driven with the SDK, two devices per user.
 * Replies with quotes, reactions (set, change, remove), edits (everyone sees the new text and
 * `editedAt`, only the sender's devices keep `edits`), delete for everyone (a tombstone on every
 * device, also on one that was offline and resumes), delete for me (only the deleter's devices),
 * forwards and forwards of forwards, stars synced across devices and listed by `starred()`,
 * "mark unread" synced as `chat_marker`, an action made while disconnected applied after the
 * reconnect; and the same in a group of three, where an admin may delete anyone's message.
 *
 * "Nothing reaches X" is checked with a barrier, not a sleep: an action is answered `acted` once
 * every copy it applies to has it, so a message sent afterwards reaches X after anything the
 * action would have delivered to X.
 */
import { describe, expect, it } from 'vitest';
import { chatOf } from '../../client/index.ts';
import type { ChatMarkerFrame, ChatRef, GroupMessage, Message, MessageBody, MessengerClient } from '../../client/index.ts';
import { device, eventually, nextPhone, type TestClient } from '../support/clients.ts';
import { serverSuite } from '../support/suite.ts';

const suite = serverSuite();

type AnyMessage = Message | GroupMessage;

/** One device and what it saw: every message by id, as its newest `rev` says it is now. */
type Device = TestClient & {
  view: Map<string, AnyMessage>;
  /** Every update event, in arrival order: `<action kind>:<message id>:<own>`. */
  updates: string[];
  chatMarkers: ChatMarkerFrame[];
};

type User = { id: string; phone: string; d1: Device; d2: Device };

/** Keep the copy with the higher `rev` (absent = 0): what the contract asks of every client. */
function remember(view: Map<string, AnyMessage>, message: AnyMessage): void {
  const known = view.get(message.id);
  if (known === undefined || (message.rev ?? 0) >= (known.rev ?? 0)) view.set(message.id, message);
}

function watch(client: TestClient): Device {
  const d = client as Device;
  d.view = new Map();
  d.updates = [];
  d.chatMarkers = [];
  client.on('message', ({ message }) => remember(d.view, message));
  client.on('group_message', ({ message }) => remember(d.view, message));
  client.on('message_update', ({ message, action, own }) => {
    remember(d.view, message);
    d.updates.push(`${action.kind}:${message.id}:${own}`);
  });
  client.on('group_message_update', ({ message, action, own }) => {
    remember(d.view, message);
    d.updates.push(`${action.kind}:${message.id}:${own}`);
  });
  client.on('chat_marker', (marker) => d.chatMarkers.push(marker));
  return d;
}

/** A logged-in, watched device (connected unless `connect` is false). */
async function newDevice(phone: string, name: string, connect = true): Promise<Device> {
  const client = watch(suite.track(await device(suite.server().baseUrl, phone, name)));
  if (connect) await client.connect();
  return client;
}

/** A user with two connected devices, who lets anyone add them to groups. */
async function user(name: string): Promise<User> {
  const phone = nextPhone();
  const d1 = await newDevice(phone, `${name}-phone`);
  const d2 = await newDevice(phone, `${name}-laptop`);
  await d1.api.updateSettings({ privacy: { groups: 'everyone' } });
  return { id: d1.userId!, phone, d1, d2 };
}

const devices = (...users: User[]): Device[] => users.flatMap((u) => [u.d1, u.d2]);
const text = (t: string): MessageBody => ({ kind: 'text', text: t });

/** The message `id` as `d` sees it now (fails the check until it arrived). */
function seen(d: Device, id: string): AnyMessage {
  const message = d.view.get(id);
  expect(message, `device ${d.deviceId} has not seen ${id}`).toBeDefined();
  return message!;
}

/** Send a text and wait for its server id. */
async function say(from: MessengerClient, chat: ChatRef, t: string): Promise<string> {
  const pending = chat.kind === 'direct' ? from.sendText(chat.peer, t) : from.sendGroupText(chat.group, t);
  return (await pending.sent).messageId;
}

/** Barrier: `from` sends a message to `chat` and every device in `to` receives it (see the file comment). */
async function barrier(from: MessengerClient, chat: ChatRef, to: Device[]): Promise<void> {
  const id = await say(from, chat, 'barrier');
  await eventually(() => {
    for (const d of to) seen(d, id);
  });
}

describe('1:1 actions across two devices per user', () => {
  it('reply with a quote; react, change and remove; edit; recall reaching an offline device on resume', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const toBob: ChatRef = { kind: 'direct', peer: bob.id };
    const toAlice: ChatRef = { kind: 'direct', peer: alice.id };
    const everyone = devices(alice, bob);

    const hello = await say(alice.d1, toBob, 'hello Bob, lunch at noon?');
    await eventually(() => seen(bob.d1, hello));

    // Reply with a quote: every device sees the quote the server copied.
    const reply = await bob.d1.reply(chatOf(seen(bob.d1, hello), bob.id), hello, text('yes!')).sent;
    await eventually(() => {
      for (const d of everyone) {
        expect(seen(d, reply.messageId)).toMatchObject({
          body: text('yes!'),
          replyTo: { id: hello, from: alice.id, kind: 'text', snippet: 'hello Bob, lunch at noon?' },
        });
      }
    });

    // React, change the reaction, remove it.
    const liked = await bob.d1.react(toAlice, hello, '👍').done;
    expect(liked).toMatchObject({ type: 'acted', target: hello, duplicate: false });
    await eventually(() => {
      for (const d of everyone) expect(seen(d, hello).reactions).toEqual([expect.objectContaining({ by: bob.id, emoji: '👍' })]);
    });
    expect(bob.d2.updates).toContain(`react:${hello}:true`);
    expect(alice.d1.updates).toContain(`react:${hello}:false`);
    await bob.d2.react(toAlice, hello, '❤️').done;
    await eventually(() => {
      for (const d of everyone) expect(seen(d, hello).reactions).toEqual([expect.objectContaining({ by: bob.id, emoji: '❤️' })]);
    });
    await bob.d1.react(toAlice, hello, null).done;
    await eventually(() => {
      for (const d of everyone) expect(seen(d, hello).reactions ?? []).toEqual([]);
    });

    // Edit: the peer and the other device see the new text; only the sender's devices keep the old one.
    await alice.d1.editText(toBob, hello, 'hello Bob, lunch at 1?').done;
    await eventually(() => {
      for (const d of everyone) {
        const now = seen(d, hello);
        expect(now.body).toEqual(text('hello Bob, lunch at 1?'));
        expect(now.editedAt).toEqual(expect.any(Number));
      }
    });
    for (const d of [alice.d1, alice.d2]) expect(seen(d, hello).edits).toEqual([expect.objectContaining({ body: text('hello Bob, lunch at noon?') })]);
    for (const d of [bob.d1, bob.d2]) expect(seen(d, hello).edits).toBeUndefined();

    // Only the sender may edit.
    await expect(bob.d1.editText(toAlice, hello, 'hijacked').done).rejects.toMatchObject({ code: 'not_your_message' });

    // Recall while Bob's laptop is offline: it gets the tombstone when it resumes.
    bob.d2.close();
    await alice.d2.deleteForEveryone(toBob, hello).done;
    const tombstone = { kind: 'deleted', by: alice.id, scope: 'everyone' };
    await eventually(() => {
      for (const d of [alice.d1, alice.d2, bob.d1]) expect(seen(d, hello).body).toMatchObject(tombstone);
    });
    await bob.d2.connect();
    await eventually(() => expect(seen(bob.d2, hello).body).toMatchObject(tombstone));
    expect(seen(bob.d2, hello).reactions ?? []).toEqual([]);
    // The stored copies changed too, not just the frames: history shows the tombstone, no text
    // (the reply keeps its quote: a quote survives the original's deletion).
    for (const d of [alice.d1, bob.d1]) {
      const stored = (await d.history(d === bob.d1 ? alice.id : bob.id)).messages.find((m) => m.message.id === hello);
      expect(stored?.message.body).toMatchObject(tombstone);
      expect(JSON.stringify(stored)).not.toContain('lunch at');
    }
    expect(seen(bob.d1, reply.messageId).replyTo).toMatchObject({ id: hello, snippet: 'hello Bob, lunch at noon?' });
    // Acting on a deleted message is refused.
    await expect(bob.d1.react(toAlice, hello, '👍').done).rejects.toMatchObject({ code: 'message_deleted' });
  }, 90_000);

  it('delete for me, star and mark unread stay on the actor\'s devices; starred() lists the star', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const toBob: ChatRef = { kind: 'direct', peer: bob.id };
    const toAlice: ChatRef = { kind: 'direct', peer: alice.id };

    const keep = await say(alice.d1, toBob, 'keep this');
    const drop = await say(alice.d1, toBob, 'forget this');
    await eventually(() => {
      for (const d of devices(bob)) seen(d, drop);
    });

    // Delete for me: Bob's devices get the tombstone (scope me); Alice's copies are untouched.
    await bob.d1.deleteForMe(toAlice, drop).done;
    await eventually(() => {
      for (const d of devices(bob)) expect(seen(d, drop).body).toMatchObject({ kind: 'deleted', by: bob.id, scope: 'me' });
    });
    // Star on one device appears on the other, and in the starred list of both.
    await bob.d2.star(toAlice, keep).done;
    await eventually(() => expect(seen(bob.d1, keep).starred).toBe(true));
    expect(bob.d1.updates).toContain(`star:${keep}:true`);
    // Mark unread syncs to the other device.
    expect(bob.d1.markUnread(toAlice)).toBe(true);
    await eventually(() => expect(bob.d2.chatMarkers).toEqual([expect.objectContaining({ chat: toAlice, unread: true })]));
    const chats = await bob.d2.api.conversations();
    expect(chats.conversations.find((c) => c.kind === 'direct' && c.peer === alice.id)).toMatchObject({ markedUnread: true });

    await barrier(bob.d1, toAlice, devices(alice));
    for (const d of devices(alice)) {
      expect(d.updates).toEqual([]);
      expect(d.chatMarkers).toEqual([]);
      expect(seen(d, drop).body).toEqual(text('forget this'));
      expect(seen(d, keep).starred).toBeUndefined();
    }
    const aliceHistory = await alice.d1.history(bob.id);
    expect(aliceHistory.messages.map((m) => m.message.id)).toContain(drop);

    for (const d of devices(bob)) {
      const starred = await d.starred();
      expect(starred.messages.map((m) => ({ chat: m.chat, id: m.message.id }))).toEqual([{ chat: toAlice, id: keep }]);
    }
    expect((await alice.d1.starred()).messages).toEqual([]);
    const history = await bob.d2.history(alice.id);
    expect(history.messages.map((m) => m.message.id)).not.toContain(drop);

    // Unstar: gone from the list.
    await bob.d1.star(toAlice, keep, false).done;
    await eventually(() => expect(seen(bob.d2, keep).starred).toBeUndefined());
    expect((await bob.d2.starred()).messages).toEqual([]);
  }, 90_000);

  it('forwards count hops; an action made while disconnected waits in the outbox and applies after reconnect', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const carol = await user('carol');

    const original = await say(alice.d1, { kind: 'direct', peer: bob.id }, 'pass it on');
    await eventually(() => seen(bob.d1, original));
    const once = await bob.d1.forward(seen(bob.d1, original), { kind: 'direct', peer: carol.id }).sent;
    await eventually(() => expect(seen(carol.d2, once.messageId)).toMatchObject({ body: text('pass it on'), forwarded: 1 }));
    const twice = await carol.d2.forward(seen(carol.d2, once.messageId), { kind: 'direct', peer: alice.id }).sent;
    await eventually(() => {
      for (const d of devices(alice)) expect(seen(d, twice.messageId)).toMatchObject({ body: text('pass it on'), forwarded: 2 });
    });
    // A forward must repeat the body it names.
    const altered = { ...seen(bob.d1, original), body: text('changed') };
    await expect(bob.d1.forward(altered, { kind: 'direct', peer: carol.id }).sent).rejects.toMatchObject({ code: 'forward_mismatch' });

    // Offline: the reaction is kept, then sent with the same id after the reconnect.
    carol.d1.close();
    const offline = carol.d1.react({ kind: 'direct', peer: bob.id }, once.messageId, '🔥');
    expect(carol.d1.pendingActions().map((a) => a.clientId)).toEqual([offline.clientId]);
    await carol.d1.connect();
    await expect(offline.done).resolves.toMatchObject({ id: offline.clientId, target: once.messageId });
    expect(carol.d1.pendingActions()).toEqual([]);
    await eventually(() => {
      for (const d of devices(bob)) expect(seen(d, once.messageId).reactions).toEqual([expect.objectContaining({ by: carol.id, emoji: '🔥' })]);
    });
  }, 90_000);
});

describe('actions on media messages', () => {
  it('edits a caption (the message as target) and forwards an image without an upload; the recipient downloads the same bytes', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const carol = await user('carol');
    const bytes = Uint8Array.from({ length: 20_000 }, (_, i) => (i * 7919) % 251);
    const photo = await alice.d1.sendMedia(bob.id, { kind: 'image', data: bytes, mime: 'image/png', caption: 'the view', width: 10, height: 10 }).sent;
    await eventually(() => seen(bob.d1, photo.messageId));

    await alice.d1.edit({ kind: 'direct', peer: bob.id }, seen(alice.d1, photo.messageId), 'the view from the top').done;
    await eventually(() => {
      for (const d of devices(alice, bob)) {
        expect(seen(d, photo.messageId)).toMatchObject({ body: { kind: 'image', caption: 'the view from the top', width: 10 }, editedAt: expect.any(Number) });
      }
    });
    // A text body for a media message is not an edit of it.
    await expect(alice.d1.editText({ kind: 'direct', peer: bob.id }, photo.messageId, 'just text').done).rejects.toMatchObject({ code: 'not_editable' });

    const original = seen(bob.d1, photo.messageId);
    const forwarded = await bob.d1.forward(original, { kind: 'direct', peer: carol.id }).sent;
    await eventually(() => expect(seen(carol.d1, forwarded.messageId)).toMatchObject({ body: original.body, forwarded: 1 }));
    const body = seen(carol.d1, forwarded.messageId).body;
    expect(body.kind === 'image' ? [...(await carol.d1.media.download(body.media.id))] : []).toEqual([...bytes]);
  }, 90_000);
});

describe('group actions (three members, two devices each)', () => {
  it('reply, react, edit, admin recall, delete for me and star in a group', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const carol = await user('carol');
    const everyone = devices(alice, bob, carol);
    const group = (await alice.d1.api.createGroup({ title: 'Actions', members: [bob.id, carol.id] })).groupId;
    const chat: ChatRef = { kind: 'group', group };

    const question = await say(bob.d1, chat, 'who brings the map?');
    await eventually(() => {
      for (const d of everyone) seen(d, question);
    });

    const answer = await carol.d2.reply(chat, question, text('I do')).sent;
    await eventually(() => {
      for (const d of everyone) {
        expect(seen(d, answer.messageId)).toMatchObject({ replyTo: { id: question, from: bob.id, kind: 'text', snippet: 'who brings the map?' } });
      }
    });

    await alice.d2.react(chat, question, '👍').done;
    await carol.d1.react(chat, question, '🎉').done;
    await eventually(() => {
      for (const d of everyone) {
        expect((seen(d, question).reactions ?? []).map((r) => `${r.by === alice.id ? 'alice' : 'carol'} ${r.emoji}`).sort()).toEqual(['alice 👍', 'carol 🎉']);
      }
    });

    await bob.d2.edit(chat, question, text('who brings the big map?')).done;
    await eventually(() => {
      for (const d of everyone) expect(seen(d, question)).toMatchObject({ body: text('who brings the big map?'), editedAt: expect.any(Number) });
    });
    for (const d of devices(bob)) expect(seen(d, question).edits).toEqual([expect.objectContaining({ body: text('who brings the map?') })]);
    for (const d of devices(alice, carol)) expect(seen(d, question).edits).toBeUndefined();
    await expect(carol.d1.edit(chat, question, text('mine now')).done).rejects.toMatchObject({ code: 'not_your_message' });

    // Carol deletes the answer for herself only; Alice stars it; only their own devices change.
    await carol.d1.deleteForMe(chat, answer.messageId).done;
    await alice.d1.star(chat, answer.messageId).done;
    await eventually(() => {
      for (const d of devices(carol)) expect(seen(d, answer.messageId).body).toMatchObject({ kind: 'deleted', scope: 'me', by: carol.id });
      expect(seen(alice.d2, answer.messageId).starred).toBe(true);
    });
    await barrier(alice.d1, chat, everyone);
    for (const d of devices(alice, bob)) expect(seen(d, answer.messageId).body).toEqual(text('I do'));
    for (const d of devices(bob, carol)) expect(seen(d, answer.messageId).starred).toBeUndefined();
    expect((await alice.d2.starred()).messages.map((m) => ({ chat: m.chat, id: m.message.id }))).toEqual([{ chat, id: answer.messageId }]);

    // A non-admin may not recall another member's message; the admin may ("deleted by an admin").
    await expect(carol.d1.deleteForEveryone(chat, question).done).rejects.toMatchObject({ code: 'not_your_message' });
    carol.d2.close();
    await alice.d1.deleteForEveryone(chat, question).done;
    const byAdmin = { kind: 'deleted', by: alice.id, scope: 'everyone' };
    await eventually(() => {
      for (const d of everyone.filter((x) => x !== carol.d2)) expect(seen(d, question).body).toMatchObject(byAdmin);
    });
    await carol.d2.connect();
    await eventually(() => expect(seen(carol.d2, question).body).toMatchObject(byAdmin));
    expect(JSON.stringify(await bob.d1.groupHistory(group))).not.toContain('big map');
  }, 120_000);
});
