/**
 * Message actions in 1:1 chats (issue 13) through the real Worker and mailbox objects: replies
 * with quotes, reactions, edits with their window and history, deletion for everyone (checked in
 * storage, not only in frames), deletion for me, stars, forwards, marking a chat unread; each
 * idempotent by client id, with typed refusals, converging on every device of both users.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import {
  HistoryPageSchema,
  PATHS,
  StarredPageSchema,
  ConversationListSchema,
  type Action,
  type ChatRef,
  type Message,
  type ServerFrame,
  type SessionResponse,
} from '../../protocol/index.ts';
import type { UserMailbox } from '../../durable-objects/user-mailbox.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';
import { uploadedMedia } from './media-support.ts';
import { tracesIn } from './store-support.ts';
import { api, connect, isType, login, nextPhone, text, type TestSocket } from './support.ts';

type Party = { session: SessionResponse; phone: string };

async function user(device = 'phone'): Promise<Party> {
  const phone = nextPhone();
  return { session: await login(phone, device), phone };
}

function direct(peer: Party): ChatRef {
  return { kind: 'direct', peer: peer.session.userId };
}

/** Send a text from `socket` to `to`; resolves with the stored message as the recipient socket sees it. */
async function sendText(from: TestSocket, to: TestSocket, peer: Party, id: string, body: string, extra: { replyTo?: string } = {}): Promise<Message> {
  from.send({ type: 'send', id, to: peer.session.userId, body: text(body), ...extra });
  await from.waitFor((f): f is Extract<typeof f, { type: 'sent' }> => f.type === 'sent' && f.id === id);
  const [frame] = await to.waitFor((f): f is Extract<typeof f, { type: 'message' }> => f.type === 'message' && f.message.clientId === id);
  return frame!.message;
}

/** Send an action frame and wait for its answer (`acted` or `error` with its id). */
async function act(socket: TestSocket, id: string, chat: ChatRef, target: string, action: Action) {
  const answers = (f: ServerFrame): f is Extract<ServerFrame, { type: 'acted' | 'error' }> => (f.type === 'acted' || f.type === 'error') && f.id === id;
  const before = socket.frames.filter(answers).length;
  socket.send({ type: 'action', id, chat, target, action });
  const all = await socket.waitFor(answers, before + 1);
  return all[before]!;
}

/** The n-th `message_update` a socket got for message `id` (1-based). */
async function update(socket: TestSocket, id: string, n = 1): Promise<Message> {
  const frames = await socket.waitFor(
    (f): f is Extract<typeof f, { type: 'message_update' }> => f.type === 'message_update' && f.message.id === id,
    n,
  );
  return frames[n - 1]!.message;
}

async function historyOf(owner: Party, peer: Party) {
  const res = await api(PATHS.history(peer.session.userId), { token: owner.session.token });
  expect(res.status).toBe(200);
  return HistoryPageSchema.parse(await res.json()).messages;
}

/** Rows of `userId`'s mailbox storage whose text contains `needle`: history rows and sync-log entries. */
async function storedTraces(userId: string, needle: string): Promise<number> {
  return runInDurableObject(mailboxOf(env, userId) as DurableObjectStub<UserMailbox>, (_instance, state) => tracesIn(state.storage.sql, 'messages', needle));
}

/** Move a message's send time into the past in one mailbox (to test the windows). */
async function age(userId: string, messageId: string, byMs: number): Promise<void> {
  await runInDurableObject(mailboxOf(env, userId) as DurableObjectStub<UserMailbox>, (_instance, state) => {
    state.storage.sql.exec("UPDATE messages SET message = json_set(message, '$.sentAt', json_extract(message, '$.sentAt') - ?) WHERE id = ?", byMs, messageId);
  });
}

describe('1:1 message actions', { timeout: 20_000 }, () => {
  it('reactions: one per user, changed and removed, on every device of both users, idempotent by client id', async () => {
    const alice = await user();
    const bob = await user();
    const a = await connect(alice.session);
    const aliceDesktop = await connect((await login(alice.phone, 'desktop')));
    const b = await connect(bob.session);
    const m = await sendText(a, b, bob, 'r-m1', 'lunch?');

    expect(await act(b, 'r-1', direct(alice), m.id, { kind: 'react', emoji: '👍' })).toMatchObject({ type: 'acted', duplicate: false });
    for (const s of [a, aliceDesktop, b]) {
      expect((await update(s, m.id)).reactions).toEqual([{ by: bob.session.userId, emoji: '👍', at: expect.any(Number) }]);
    }
    // A retry of the same id is answered again and stores nothing new; the id with other content is refused.
    expect(await act(b, 'r-1', direct(alice), m.id, { kind: 'react', emoji: '👍' })).toMatchObject({ type: 'acted', duplicate: true });
    expect(await act(b, 'r-1', direct(alice), m.id, { kind: 'react', emoji: '❤️' })).toMatchObject({ type: 'error', code: 'id_conflict' });

    // Alice reacts too; Bob changes his; then removes it.
    await act(a, 'r-2', direct(bob), m.id, { kind: 'react', emoji: '😂' });
    await act(b, 'r-3', direct(alice), m.id, { kind: 'react', emoji: '❤️' });
    const afterChange = await update(aliceDesktop, m.id, 3);
    expect(afterChange.reactions?.map((r) => [r.by, r.emoji])).toEqual([
      [alice.session.userId, '😂'],
      [bob.session.userId, '❤️'],
    ]);
    await act(b, 'r-4', direct(alice), m.id, { kind: 'react', emoji: null });
    const final = await update(a, m.id, 4);
    expect(final.reactions).toEqual([{ by: alice.session.userId, emoji: '😂', at: expect.any(Number) }]);
    expect((await update(b, m.id, 4)).reactions).toEqual(final.reactions);
    expect(b.of('message_update')).toHaveLength(4);

    // History pages carry the same state; a later copy has a higher rev.
    const [stored] = await historyOf(bob, alice);
    expect(stored!.message.reactions).toEqual(final.reactions);
    expect(stored!.message.rev).toBe(4);

    // Refusals: unknown target, a message of another chat, a malformed emoji. Nothing is stored.
    const heads = async () => Promise.all([alice, bob].map(async (p) => (await mailboxOf(env, p.session.userId).stats()).head));
    const before = await heads();
    const carol = await user();
    expect(await act(b, 'r-5', direct(carol), m.id, { kind: 'react', emoji: '👍' })).toMatchObject({ code: 'message_not_found' });
    expect(await act(b, 'r-6', direct(alice), '01J00000000000000000000000', { kind: 'react', emoji: '👍' })).toMatchObject({
      code: 'message_not_found',
    });
    b.send(JSON.stringify({ type: 'action', id: 'r-7', chat: direct(alice), target: m.id, action: { kind: 'react', emoji: 'two words' } }));
    const [bad] = await b.waitFor((f): f is Extract<typeof f, { type: 'error' }> => f.type === 'error' && f.id === 'r-7');
    expect(bad!.code).toBe('validation_failed');
    expect(await heads()).toEqual(before);
    expect(b.of('message_update')).toHaveLength(4);
    for (const s of [a, aliceDesktop, b]) s.close();
  });

  it('edits: the sender only, within the window; "edited" everywhere, earlier versions only on the sender\'s copy', async () => {
    const alice = await user();
    const bob = await user();
    const a = await connect(alice.session);
    const b = await connect(bob.session);
    const m = await sendText(a, b, bob, 'e-m1', 'see you at 5');

    expect(await act(a, 'e-1', direct(bob), m.id, { kind: 'edit', body: text('see you at 6') })).toMatchObject({ type: 'acted' });
    const atBob = await update(b, m.id);
    expect(atBob).toMatchObject({ body: text('see you at 6'), editedAt: expect.any(Number) });
    expect(atBob.edits).toBeUndefined();
    const atAlice = await update(a, m.id);
    expect(atAlice.edits).toEqual([{ body: text('see you at 5'), at: m.sentAt }]);

    expect(await act(b, 'e-2', direct(alice), m.id, { kind: 'edit', body: text('hacked') })).toMatchObject({ code: 'not_your_message' });
    expect(await act(a, 'e-3', direct(bob), m.id, { kind: 'edit', body: { kind: 'location', latitude: 1, longitude: 2 } })).toMatchObject({
      code: 'not_editable',
    });
    // End-to-end encrypted bodies are edited by replacing the ciphertext (same scheme); a place is not editable.
    const sealed = { kind: 'ciphertext' as const, scheme: 'signal/v1', data: btoa('sealed v1') };
    a.send({ type: 'send', id: 'e-m2', to: bob.session.userId, body: sealed });
    const [secret] = await b.waitFor((f): f is Extract<ServerFrame, { type: 'message' }> => f.type === 'message' && f.message.clientId === 'e-m2');
    expect(await act(a, 'e-5', direct(bob), secret!.message.id, { kind: 'edit', body: { ...sealed, data: btoa('sealed v2') } })).toMatchObject({ type: 'acted' });
    expect(await act(a, 'e-6', direct(bob), secret!.message.id, { kind: 'edit', body: { ...sealed, scheme: 'other/v1' } })).toMatchObject({
      code: 'not_editable',
    });
    a.send({ type: 'send', id: 'e-m3', to: bob.session.userId, body: { kind: 'location', latitude: 1, longitude: 2 } });
    const [place] = await b.waitFor((f): f is Extract<ServerFrame, { type: 'message' }> => f.type === 'message' && f.message.clientId === 'e-m3');
    expect(await act(a, 'e-7', direct(bob), place!.message.id, { kind: 'edit', body: { kind: 'location', latitude: 3, longitude: 4 } })).toMatchObject({
      code: 'not_editable',
    });
    await age(alice.session.userId, m.id, 16 * 60_000);
    expect(await act(a, 'e-4', direct(bob), m.id, { kind: 'edit', body: text('too late') })).toMatchObject({ code: 'edit_window_passed' });
    expect((await historyOf(bob, alice)).find((i) => i.message.id === m.id)!.message.body).toEqual(text('see you at 6'));
    a.close();
    b.close();
  });

  it('delete for everyone removes the content from every copy in storage, on devices that were offline too', async () => {
    const alice = await user();
    const bob = await user();
    const bobLaptop = await login(bob.phone, 'laptop');
    const a = await connect(alice.session);
    const b = await connect(bob.session);
    const m = await sendText(a, b, bob, 'd-m1', 'the password is swordfish');
    await act(a, 'd-0', direct(bob), m.id, { kind: 'edit', body: text('the password is swordfish2') });
    await update(b, m.id);
    const reply = await sendText(b, a, alice, 'd-m2', 'got it', { replyTo: m.id });
    expect(reply.replyTo).toEqual({ id: m.id, from: alice.session.userId, kind: 'text', snippet: 'the password is swordfish2' });

    expect(await act(b, 'd-1', direct(alice), m.id, { kind: 'delete', scope: 'everyone' })).toMatchObject({ code: 'not_your_message' });
    expect(await act(a, 'd-2', direct(bob), m.id, { kind: 'delete', scope: 'everyone' })).toMatchObject({ type: 'acted' });
    const tombstone = { kind: 'deleted', by: alice.session.userId, scope: 'everyone', at: expect.any(Number) };
    expect((await update(b, m.id, 2)).body).toEqual(tombstone);
    expect((await update(a, m.id, 2)).edits).toBeUndefined();

    // Nothing of it is left in either mailbox (history rows, the sync log: the message's entry and
    // the edit's update entry) but Bob's reply, which keeps its quote (a copy, as WhatsApp keeps
    // it): its history row and its entry, in each mailbox.
    expect(await storedTraces(alice.session.userId, 'swordfish')).toBe(2);
    expect(await storedTraces(bob.session.userId, 'swordfish')).toBe(2);
    const bobHistory = await historyOf(bob, alice);
    expect(bobHistory.find((i) => i.message.id === m.id)!.message.body).toEqual(tombstone);

    // Bob's laptop was offline throughout: it syncs the tombstone, never the text.
    const laptop = await connect(bobLaptop);
    await laptop.waitFor((f): f is Extract<typeof f, { type: 'message_update' }> => f.type === 'message_update' && f.action.kind === 'delete');
    const synced = laptop.frames.filter((f) => (f.type === 'message' || f.type === 'message_update') && f.message.id === m.id);
    expect(synced.length).toBeGreaterThan(0);
    expect(JSON.stringify(synced)).not.toContain('swordfish');

    // Nothing more can happen to it; deleting again changes nothing.
    expect(await act(b, 'd-3', direct(alice), m.id, { kind: 'react', emoji: '👍' })).toMatchObject({ code: 'message_deleted' });
    expect(await act(a, 'd-4', direct(bob), m.id, { kind: 'edit', body: text('x') })).toMatchObject({ code: 'message_deleted' });
    expect(await act(a, 'd-5', direct(bob), m.id, { kind: 'delete', scope: 'everyone' })).toMatchObject({ type: 'acted' });
    expect(await act(b, 'd-6', direct(alice), m.id, { kind: 'react', emoji: '👍' })).toMatchObject({ code: 'message_deleted' });

    // The recall window.
    const old = await sendText(a, b, bob, 'd-m3', 'old news');
    await age(alice.session.userId, old.id, 49 * 3_600_000);
    expect(await act(a, 'd-7', direct(bob), old.id, { kind: 'delete', scope: 'everyone' })).toMatchObject({ code: 'recall_window_passed' });
    for (const s of [a, b, laptop]) s.close();
  });

  it('delete for me hides the message on the deleter\'s devices only, content gone from their storage', async () => {
    const alice = await user();
    const bob = await user();
    const a = await connect(alice.session);
    const b = await connect(bob.session);
    const m = await sendText(a, b, bob, 'dm-m1', 'embarrassing typo');
    expect(await act(b, 'dm-1', direct(alice), m.id, { kind: 'delete', scope: 'me' })).toMatchObject({ type: 'acted' });
    expect((await update(b, m.id)).body).toMatchObject({ kind: 'deleted', scope: 'me' });
    expect(await historyOf(bob, alice)).toEqual([]);
    expect(await storedTraces(bob.session.userId, 'embarrassing')).toBe(0);
    // Alice keeps hers and is not told.
    expect((await historyOf(alice, bob))[0]!.message.body).toEqual(text('embarrassing typo'));
    expect(a.of('message_update')).toEqual([]);
    // A hidden message cannot be acted on or quoted by Bob any more.
    expect(await act(b, 'dm-2', direct(alice), m.id, { kind: 'react', emoji: '👍' })).toMatchObject({ code: 'message_not_found' });
    a.close();
    b.close();
  });

  it('stars sync to the user\'s devices and list in GET /v1/starred; marking a chat unread syncs and reading clears it', async () => {
    const alice = await user();
    const bob = await user();
    const a = await connect(alice.session);
    const desktop = await connect(await login(alice.phone, 'desktop'));
    const b = await connect(bob.session);
    const first = await sendText(b, a, alice, 's-m1', 'address: 1 Main St');
    const second = await sendText(b, a, alice, 's-m2', 'door code 4242');
    await act(a, 's-1', direct(bob), first.id, { kind: 'star', starred: true });
    await act(a, 's-2', direct(bob), second.id, { kind: 'star', starred: true });
    expect((await update(desktop, first.id)).starred).toBe(true);
    expect(b.of('message_update')).toEqual([]);

    const starred = async (token: string) => {
      const res = await api(PATHS.starred, { token });
      expect(res.status).toBe(200);
      return StarredPageSchema.parse(await res.json()).messages;
    };
    const listed = await starred(alice.session.token);
    expect(listed.map((i) => i.message.id)).toEqual([second.id, first.id]);
    expect(listed[0]!.chat).toEqual({ kind: 'direct', peer: bob.session.userId });
    await act(a, 's-3', direct(bob), second.id, { kind: 'star', starred: false });
    expect((await starred(alice.session.token)).map((i) => i.message.id)).toEqual([first.id]);
    expect(await starred(bob.session.token)).toEqual([]);

    // Mark unread: the other device learns it, the chat list shows it, reading clears it.
    a.send({ type: 'mark_unread', chat: direct(bob), unread: true });
    const [marker] = await desktop.waitFor(isType('chat_marker'));
    expect(marker).toMatchObject({ chat: direct(bob), unread: true });
    const list = async () => {
      const res = await api(PATHS.conversations, { token: alice.session.token });
      return ConversationListSchema.parse(await res.json()).conversations;
    };
    expect((await list())[0]).toMatchObject({ kind: 'direct', markedUnread: true });
    a.send({ type: 'read', peer: bob.session.userId, upTo: 1_000_000 });
    await desktop.waitFor(isType('read_marker'));
    expect((await list())[0]).toMatchObject({ markedUnread: false });
    a.send({ type: 'mark_unread', chat: direct(await user()), unread: true });
    const [unknown] = await a.waitFor((f): f is Extract<typeof f, { type: 'error' }> => f.type === 'error' && f.frame === 'mark_unread');
    expect(unknown!.code).toBe('not_found');
    for (const s of [a, desktop, b]) s.close();
  });

  it('forwards carry a hop count (many times from FORWARDED_MANY_TIMES) and must repeat the original body', async () => {
    const [alice, bob, carol] = [await user(), await user(), await user()];
    const a = await connect(alice.session);
    const b = await connect(bob.session);
    const c = await connect(carol.session);
    const m = await sendText(a, b, bob, 'f-m1', 'chain letter');
    b.send({ type: 'send', id: 'f-1', to: carol.session.userId, body: text('chain letter'), forward: m.id });
    const [atCarol] = await c.waitFor(isType('message'));
    expect(atCarol!.message).toMatchObject({ forwarded: 1, body: text('chain letter') });
    c.send({ type: 'send', id: 'f-2', to: alice.session.userId, body: text('chain letter'), forward: atCarol!.message.id });
    const [back] = await a.waitFor((f): f is Extract<typeof f, { type: 'message' }> => f.type === 'message' && f.message.clientId === 'f-2');
    expect(back!.message.forwarded).toBe(2);

    b.send({ type: 'send', id: 'f-3', to: carol.session.userId, body: text('altered letter'), forward: m.id });
    const [mismatch] = await b.waitFor((f): f is Extract<typeof f, { type: 'error' }> => f.type === 'error' && f.id === 'f-3');
    expect(mismatch!.code).toBe('forward_mismatch');
    c.send({ type: 'send', id: 'f-4', to: bob.session.userId, body: text('chain letter'), forward: m.id });
    const [notHers] = await c.waitFor((f): f is Extract<typeof f, { type: 'error' }> => f.type === 'error' && f.id === 'f-4');
    expect(notHers!.code).toBe('message_not_found');
    for (const s of [a, b, c]) s.close();
  });

  it('applies an action that reaches a mailbox before the message it names, once the message arrives', async () => {
    const alice = await user();
    const bob = await user();
    const b = await connect(bob.session);
    // Bob's copy of Alice's message "early-1" does not exist yet when her reaction to it arrives.
    await mailboxOf(env, bob.session.userId).applyDirectAction({
      actor: alice.session.userId,
      clientId: 'early-react',
      target: { id: '01J00000000000000000000001', sender: alice.session.userId, clientId: 'early-1' },
      action: { kind: 'react', emoji: '🎉' },
      at: Date.now(),
    });
    expect(b.of('message_update')).toEqual([]);
    const a = await connect(alice.session);
    const m = await sendText(a, b, bob, 'early-1', 'surprise');
    const updated = await update(b, m.id);
    expect(updated.reactions).toEqual([{ by: alice.session.userId, emoji: '🎉', at: expect.any(Number) }]);
    const [message] = b.of('message');
    expect(b.of('message_update')[0]!.seq).toBeGreaterThan(message!.seq);
    a.close();
    b.close();
  });

  it('works on media: a caption is edited, a forward reuses the media without an upload, a recall revokes the download', async () => {
    const [alice, bob, carol] = [await user(), await user(), await user()];
    const a = await connect(alice.session);
    const b = await connect(bob.session);
    const mediaId = await uploadedMedia(alice.session, 'image', 'image/jpeg');
    const image = { kind: 'image' as const, media: { id: mediaId, mime: 'image/jpeg', size: 700 }, caption: 'beach' };
    a.send({ type: 'send', id: 'mm-1', to: bob.session.userId, body: image });
    const [incoming] = await b.waitFor(isType('message'));
    const m = incoming!.message;
    const download = (who: Party) => api(PATHS.mediaItem(mediaId), { token: who.session.token });
    expect((await download(bob)).status).toBe(200);

    // A caption edit keeps the media; anything else about the media is not an edit.
    expect(await act(a, 'mm-2', direct(bob), m.id, { kind: 'edit', body: { ...image, caption: 'beach, day 2' } })).toMatchObject({ type: 'acted' });
    expect((await update(b, m.id)).body).toMatchObject({ kind: 'image', caption: 'beach, day 2', media: image.media });
    expect(await act(a, 'mm-3', direct(bob), m.id, { kind: 'edit', body: { ...image, caption: 'beach, day 2', width: 10 } })).toMatchObject({
      code: 'not_editable',
    });

    // Bob forwards it to Carol: no upload, Carol may download it.
    const c = await connect(carol.session);
    const edited = { ...image, caption: 'beach, day 2' };
    b.send({ type: 'send', id: 'mm-4', to: carol.session.userId, body: edited, forward: m.id });
    const [atCarol] = await c.waitFor(isType('message'));
    expect(atCarol!.message).toMatchObject({ forwarded: 1, body: edited });
    expect((await download(carol)).status).toBe(200);

    // Alice sent the same picture twice. Recalling one keeps Bob's download (the other still names
    // it); recalling both keeps it too, because Bob's own forward names it. Carol keeps hers.
    a.send({ type: 'send', id: 'mm-6', to: bob.session.userId, body: image });
    const [again] = await b.waitFor((f): f is Extract<ServerFrame, { type: 'message' }> => f.type === 'message' && f.message.clientId === 'mm-6');
    expect(await act(a, 'mm-5', direct(bob), m.id, { kind: 'delete', scope: 'everyone' })).toMatchObject({ type: 'acted' });
    expect((await update(b, m.id, 2)).body).toMatchObject({ kind: 'deleted' });
    expect(await act(a, 'mm-7', direct(bob), again!.message.id, { kind: 'delete', scope: 'everyone' })).toMatchObject({ type: 'acted' });
    await update(b, again!.message.id);
    expect((await download(bob)).status).toBe(200);
    expect((await download(carol)).status).toBe(200);
    // Only his forward to Carol still names it (its history row and its entry).
    expect(await storedTraces(bob.session.userId, mediaId)).toBe(2);

    // A picture nothing else names: after the recall Bob gets the answer of a made-up id.
    const second = await uploadedMedia(alice.session, 'image', 'image/jpeg');
    const photo = { kind: 'image' as const, media: { id: second, mime: 'image/jpeg', size: 700 } };
    a.send({ type: 'send', id: 'mm-8', to: bob.session.userId, body: photo });
    const [single] = await b.waitFor((f): f is Extract<ServerFrame, { type: 'message' }> => f.type === 'message' && f.message.clientId === 'mm-8');
    const fetchSecond = () => api(PATHS.mediaItem(second), { token: bob.session.token });
    expect((await fetchSecond()).status).toBe(200);
    expect(await act(a, 'mm-9', direct(bob), single!.message.id, { kind: 'delete', scope: 'everyone' })).toMatchObject({ type: 'acted' });
    await expect.poll(async () => (await fetchSecond()).status, { timeout: 10_000 }).toBe(404);
    for (const s of [a, b, c]) s.close();
  }, 30_000);
});
