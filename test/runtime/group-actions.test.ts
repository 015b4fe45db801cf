/**
 * Message actions in groups (issue 13) through the real Worker, mailboxes, group objects and
 * fan-out: replies with quotes, forwards, reactions, edits (window, history on the sender's copy
 * only), deletion for everyone by the sender and by admins (checked in every storage: the group
 * log, each member's copy and sync log), idempotency, members who joined later never getting
 * updates of what came before them, and the local actions (star, delete for me, mark unread).
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import {
  ConversationListSchema,
  PATHS,
  StarredPageSchema,
  type Action,
  type ChatRef,
  type GroupMessage,
  type MessageBody,
  type ServerFrame,
} from '../../protocol/index.ts';
import type { GroupChat } from '../../durable-objects/group-chat.ts';
import type { UserMailbox } from '../../durable-objects/user-mailbox.ts';
import { runsOf } from '../../durable-objects/group/fanout.ts';
import { Members } from '../../durable-objects/group/members.ts';
import { groupOf, mailboxOf } from '../../durable-objects/stubs.ts';
import { call, createGroup, mailboxCopy, openToGroups, settled, users } from './group-support.ts';
import { uploadedMedia } from './media-support.ts';
import { tracesIn } from './store-support.ts';
import { connect, isType, text, type TestSocket } from './support.ts';

const WAIT_MS = 6_000;

function chatOf(group: string): ChatRef {
  return { kind: 'group', group };
}

/** Post to a group from `socket`; resolves with the stored message's id and gseq. */
async function post(
  socket: TestSocket,
  group: string,
  id: string,
  body: MessageBody,
  extra: { replyTo?: string; forward?: string } = {},
): Promise<{ messageId: string; gseq: number }> {
  socket.send({ type: 'group_send', id, group, body, ...extra });
  const [sent] = await socket.waitFor((f): f is Extract<ServerFrame, { type: 'group_sent' }> => f.type === 'group_sent' && f.id === id, 1, WAIT_MS);
  return { messageId: sent!.messageId, gseq: sent!.gseq };
}

/** Send a frame and wait for the error answering it (by id). */
async function refusal(socket: TestSocket, frame: Parameters<TestSocket['send']>[0], id: string): Promise<string> {
  socket.send(frame);
  const [error] = await socket.waitFor((f): f is Extract<ServerFrame, { type: 'error' }> => f.type === 'error' && f.id === id, 1, WAIT_MS);
  return error!.code;
}

/** Send an action frame and wait for its answer (`acted` or `error` with its id). */
async function act(socket: TestSocket, id: string, group: string, target: string, action: Action) {
  const answers = (f: ServerFrame): f is Extract<ServerFrame, { type: 'acted' | 'error' }> => (f.type === 'acted' || f.type === 'error') && f.id === id;
  const before = socket.frames.filter(answers).length;
  socket.send({ type: 'action', id, chat: chatOf(group), target, action });
  const all = await socket.waitFor(answers, before + 1, WAIT_MS);
  return all[before]!;
}

/** The n-th `group_message_update` a socket got for message `id` (1-based). */
async function updateOf(socket: TestSocket, id: string, n = 1) {
  const frames = await socket.waitFor(
    (f): f is Extract<ServerFrame, { type: 'group_message_update' }> => f.type === 'group_message_update' && f.message.id === id,
    n,
    WAIT_MS,
  );
  return frames[n - 1]!;
}

/** The group message with this client id, as a socket received it. */
async function messageFrame(socket: TestSocket, clientId: string): Promise<GroupMessage> {
  const [frame] = await socket.waitFor(
    (f): f is Extract<ServerFrame, { type: 'group_message' }> => f.type === 'group_message' && f.message.clientId === clientId,
    1,
    WAIT_MS,
  );
  return frame!.message;
}

function mailbox(userId: string): DurableObjectStub<UserMailbox> {
  return mailboxOf(env, userId) as DurableObjectStub<UserMailbox>;
}

/** A member's stored copy of a group message (group_entries row). */
async function copyOf(userId: string, messageId: string): Promise<{ message: GroupMessage; hidden: number; starred: boolean } | null> {
  return runInDurableObject(mailbox(userId), (_instance, state) => {
    const row = state.storage.sql
      .exec<{ entry: string; hidden: number; starred_at: number | null }>('SELECT entry, hidden, starred_at FROM group_entries WHERE message_id = ?', messageId)
      .toArray()[0];
    if (!row) return null;
    const entry = JSON.parse(row.entry) as { message: GroupMessage };
    return { message: entry.message, hidden: row.hidden, starred: row.starred_at !== null };
  });
}

/** Rows of a member's storage (group copies and sync-log frames) whose text contains `needle`. */
async function memberTraces(userId: string, needle: string): Promise<number> {
  return runInDurableObject(mailbox(userId), (_instance, state) => tracesIn(state.storage.sql, 'group_entries', needle));
}

/** Rows of the group log whose text contains `needle`. */
async function logTraces(groupId: string, needle: string): Promise<number> {
  return runInDurableObject(groupOf(env, groupId) as DurableObjectStub<GroupChat>, (_instance, state) =>
    state.storage.sql.exec<{ n: number }>('SELECT count(*) AS n FROM log WHERE entry LIKE ?', `%${needle}%`).one().n,
  );
}

async function logUpdates(groupId: string): Promise<number> {
  return runInDurableObject(groupOf(env, groupId) as DurableObjectStub<GroupChat>, (_instance, state) =>
    state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM log WHERE kind = 'update'").one().n,
  );
}

/** Move a message's send time into the past in the group log (the windows are checked there). */
async function age(groupId: string, gseq: number, byMs: number): Promise<void> {
  await runInDurableObject(groupOf(env, groupId) as DurableObjectStub<GroupChat>, (_instance, state) => {
    state.storage.sql.exec("UPDATE log SET entry = json_set(entry, '$.message.sentAt', json_extract(entry, '$.message.sentAt') - ?) WHERE gseq = ?", byMs, gseq);
  });
}

async function grants(mediaId: string): Promise<string[]> {
  const { results } = await env.DB.prepare('SELECT grantee_kind || \':\' || grantee_id AS g FROM media_access WHERE media_id = ? ORDER BY g')
    .bind(mediaId)
    .all<{ g: string }>();
  return results.map((r) => r.g);
}

/** Wait until a member's stored copy matches. */
async function eventuallyStored(
  userId: string,
  messageId: string,
  predicate: (copy: { message: GroupMessage; hidden: number; starred: boolean } | null) => boolean,
): Promise<{ message: GroupMessage; hidden: number; starred: boolean } | null> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const copy = await copyOf(userId, messageId);
    if (predicate(copy)) return copy;
    if (Date.now() > deadline) throw new Error(`copy never matched: ${JSON.stringify(copy)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Ann (admin), Bob and Cat in a group, all connected. */
async function trio() {
  const [ann, bob, cat] = await users(3);
  const group = await createGroup(ann!, [bob!, cat!]);
  const [a, b, c] = await Promise.all([connect(ann!), connect(bob!), connect(cat!)]);
  return { ann: ann!, bob: bob!, cat: cat!, groupId: group.groupId, a, b, c, close: () => [a, b, c].forEach((s) => s.close()) };
}

describe('group reactions and edits', { timeout: 20_000 }, () => {
  it('reactions: one per member, changed and removed, on every copy; updates are neither history, unread nor last', async () => {
    const t = await trio();
    const { messageId } = await post(t.a, t.groupId, 'm1', text('lunch?'));
    await messageFrame(t.c, 'm1');

    expect(await act(t.b, 'r1', t.groupId, messageId, { kind: 'react', emoji: '👍' })).toMatchObject({ type: 'acted', duplicate: false });
    const first = await updateOf(t.c, messageId);
    expect(first).toMatchObject({ by: t.bob.userId, action: { kind: 'react', emoji: '👍' } });
    expect(first.gseq!).toBeGreaterThan(first.message.gseq);
    expect(first.message.reactions).toMatchObject([{ by: t.bob.userId, emoji: '👍' }]);

    await act(t.b, 'r2', t.groupId, messageId, { kind: 'react', emoji: '❤️' });
    await act(t.c, 'r3', t.groupId, messageId, { kind: 'react', emoji: '😂' });
    await act(t.b, 'r4', t.groupId, messageId, { kind: 'react', emoji: null });
    const last = await updateOf(t.a, messageId, 4);
    expect(last.message.reactions?.map((r) => [r.by, r.emoji])).toEqual([[t.cat.userId, '😂']]);
    for (const who of [t.ann, t.bob, t.cat]) {
      const copy = await eventuallyStored(who.userId, messageId, (c) => c?.message.rev === 4);
      expect(copy!.message.reactions?.map((r) => [r.by, r.emoji])).toEqual([[t.cat.userId, '😂']]);
    }

    // History lists the message once (no update entries); updates count as no unread, and the
    // chat list's last entry is still the message.
    const history = await mailboxCopy(t.cat, t.groupId);
    expect(history.map((e) => e.type)).toEqual(['event', 'message']);
    const list = ConversationListSchema.parse((await call('GET', PATHS.conversations, t.cat)).body);
    expect(list.conversations[0]).toMatchObject({ kind: 'group', unread: 1, markedUnread: false, last: { entry: { type: 'message' } } });
    t.close();
  });

  it('edits: sender only, within the window, text and caption; earlier versions on the sender copy only', async () => {
    const t = await trio();
    const { messageId, gseq } = await post(t.a, t.groupId, 'e1', text('see you at 5'));
    expect(await act(t.a, 'ed1', t.groupId, messageId, { kind: 'edit', body: text('see you at 6') })).toMatchObject({ type: 'acted' });
    const seen = await updateOf(t.b, messageId);
    expect(seen.message).toMatchObject({ body: text('see you at 6'), rev: 1 });
    expect(seen.message.editedAt).toBeTypeOf('number');
    expect(seen.message.edits).toBeUndefined();
    const own = await updateOf(t.a, messageId);
    expect(own.message.edits?.map((e) => e.body)).toEqual([text('see you at 5')]);
    expect((await eventuallyStored(t.ann.userId, messageId, (c) => c?.message.rev === 1))!.message.edits).toHaveLength(1);
    expect((await eventuallyStored(t.cat.userId, messageId, (c) => c?.message.rev === 1))!.message.edits).toBeUndefined();

    // Someone else's message; another kind; too old.
    expect(await act(t.b, 'ed2', t.groupId, messageId, { kind: 'edit', body: text('mine now') })).toMatchObject({ code: 'not_your_message' });
    expect(await act(t.a, 'ed3', t.groupId, messageId, { kind: 'edit', body: { kind: 'location', latitude: 1, longitude: 2 } })).toMatchObject({
      code: 'not_editable',
    });
    await age(t.groupId, gseq, 16 * 60_000);
    expect(await act(t.a, 'ed4', t.groupId, messageId, { kind: 'edit', body: text('see you at 7') })).toMatchObject({ code: 'edit_window_passed' });

    // A caption: the same media, only the caption changes.
    const mediaId = await uploadedMedia(t.ann, 'image', 'image/jpeg');
    const image = { kind: 'image' as const, media: { id: mediaId, mime: 'image/jpeg', size: 700 }, caption: 'beach' };
    const photo = await post(t.a, t.groupId, 'p1', image);
    expect(await act(t.a, 'ed5', t.groupId, photo.messageId, { kind: 'edit', body: { ...image, caption: 'the beach' } })).toMatchObject({ type: 'acted' });
    expect((await updateOf(t.c, photo.messageId)).message.body).toEqual({ ...image, caption: 'the beach' });
    expect(await act(t.a, 'ed6', t.groupId, photo.messageId, { kind: 'edit', body: { ...image, media: { ...image.media, size: 701 }, caption: 'x' } })).toMatchObject({
      code: 'not_editable',
    });
    // Refusals stored nothing: two updates in the log.
    expect(await logUpdates(t.groupId)).toBe(2);
    t.close();
  });
});

describe('group deletion for everyone', { timeout: 20_000 }, () => {
  it('the sender recalls: no trace of the content in the log, any member copy or any sync-log frame; media grant revoked', async () => {
    const t = await trio();
    const { messageId } = await post(t.b, t.groupId, 'd1', text('secret-alpha plans'));
    await act(t.b, 'd1-edit', t.groupId, messageId, { kind: 'edit', body: text('secret-beta plans') });
    await act(t.c, 'd1-react', t.groupId, messageId, { kind: 'react', emoji: '👀' });
    await updateOf(t.a, messageId, 2);
    expect(await memberTraces(t.bob.userId, 'secret-alpha')).toBeGreaterThan(0);

    expect(await act(t.b, 'd1-del', t.groupId, messageId, { kind: 'delete', scope: 'everyone' })).toMatchObject({ type: 'acted', duplicate: false });
    const gone = await updateOf(t.c, messageId, 3);
    expect(gone.message.body).toMatchObject({ kind: 'deleted', by: t.bob.userId, scope: 'everyone' });
    expect(gone.message.reactions).toBeUndefined();
    await updateOf(t.b, messageId, 3);
    await updateOf(t.a, messageId, 3);
    await settled(t.groupId);
    for (const needle of ['secret-alpha', 'secret-beta']) {
      expect(await logTraces(t.groupId, needle)).toBe(0);
      for (const who of [t.ann, t.bob, t.cat]) expect(await memberTraces(who.userId, needle), `${needle} at ${who.userId}`).toBe(0);
    }
    const copy = await copyOf(t.bob.userId, messageId);
    expect(copy!.message.edits).toBeUndefined();

    // Deleting it again is answered, and changes nothing; reacting to it is refused.
    const updates = await logUpdates(t.groupId);
    expect(await act(t.b, 'd1-again', t.groupId, messageId, { kind: 'delete', scope: 'everyone' })).toMatchObject({ type: 'acted', duplicate: false });
    expect(await act(t.c, 'd1-late', t.groupId, messageId, { kind: 'react', emoji: '👍' })).toMatchObject({ code: 'message_deleted' });
    expect(await logUpdates(t.groupId)).toBe(updates);

    // A media message: the group may no longer download it.
    const mediaId = await uploadedMedia(t.bob, 'image', 'image/jpeg');
    const photo = await post(t.b, t.groupId, 'd2', { kind: 'image', media: { id: mediaId, mime: 'image/jpeg', size: 700 } });
    expect(await grants(mediaId)).toEqual([`group:${t.groupId}`]);
    expect(await act(t.b, 'd2-del', t.groupId, photo.messageId, { kind: 'delete', scope: 'everyone' })).toMatchObject({ type: 'acted' });
    const deadline = Date.now() + WAIT_MS;
    while ((await grants(mediaId)).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    expect(await grants(mediaId)).toEqual([]);
    t.close();
  });

  it('admins delete anyone’s message at any time; members only their own, within the window', async () => {
    const t = await trio();
    const bobs = await post(t.b, t.groupId, 'x1', text('rude words'));
    const old = await post(t.b, t.groupId, 'x2', text('ancient words'));
    expect(await act(t.c, 'x-cat', t.groupId, bobs.messageId, { kind: 'delete', scope: 'everyone' })).toMatchObject({ code: 'not_your_message' });
    await age(t.groupId, old.gseq, 49 * 3_600_000);
    expect(await act(t.b, 'x-old', t.groupId, old.messageId, { kind: 'delete', scope: 'everyone' })).toMatchObject({ code: 'recall_window_passed' });
    expect(await logUpdates(t.groupId)).toBe(0);

    expect(await act(t.a, 'x-admin', t.groupId, bobs.messageId, { kind: 'delete', scope: 'everyone' })).toMatchObject({ type: 'acted' });
    expect(await act(t.a, 'x-admin-old', t.groupId, old.messageId, { kind: 'delete', scope: 'everyone' })).toMatchObject({ type: 'acted' });
    const update = await updateOf(t.c, bobs.messageId);
    // "Deleted by an admin": the tombstone names the admin, the message still its sender.
    expect(update.message).toMatchObject({ from: t.bob.userId, body: { kind: 'deleted', by: t.ann.userId, scope: 'everyone' } });
    await updateOf(t.b, old.messageId);
    expect(await memberTraces(t.bob.userId, 'rude words')).toBe(0);
    t.close();
  });
});

describe('group action rules', { timeout: 20_000 }, () => {
  it('is idempotent by client id; another action under a used id is id_conflict', async () => {
    const t = await trio();
    const { messageId } = await post(t.a, t.groupId, 'i1', text('vote here'));
    expect(await act(t.b, 'same', t.groupId, messageId, { kind: 'react', emoji: '✅' })).toMatchObject({ type: 'acted', duplicate: false });
    expect(await act(t.b, 'same', t.groupId, messageId, { kind: 'react', emoji: '✅' })).toMatchObject({ type: 'acted', duplicate: true });
    expect(await act(t.b, 'same', t.groupId, messageId, { kind: 'react', emoji: '❌' })).toMatchObject({ type: 'error', code: 'id_conflict' });
    // A send's id is not an action's.
    expect(await act(t.a, 'i1', t.groupId, messageId, { kind: 'react', emoji: '✅' })).toMatchObject({ code: 'id_conflict' });
    expect(await logUpdates(t.groupId)).toBe(1);
    await settled(t.groupId);
    expect((await eventuallyStored(t.cat.userId, messageId, (c) => c?.message.rev === 1))!.message.reactions).toHaveLength(1);
    // Unknown targets and outsiders.
    expect(await act(t.b, 'nope', t.groupId, '01ARZ3NDEKTSV4RRFFQ69G5FAV', { kind: 'react', emoji: '✅' })).toMatchObject({ code: 'message_not_found' });
    t.close();
  });

  it('a member who joined after a message never receives its updates, nor may act on or quote it', async () => {
    const t = await trio();
    const [dan] = await users(1);
    const before = await post(t.a, t.groupId, 'j1', text('before-dan secret'));
    await openToGroups(dan!);
    expect((await call('POST', PATHS.groupMembers(t.groupId), t.ann, { members: [dan!.userId] })).status).toBe(200);
    const d = await connect(dan!);
    const after = await post(t.a, t.groupId, 'j2', text('welcome dan'));
    await messageFrame(d, 'j2');

    await act(t.b, 'j-r1', t.groupId, before.messageId, { kind: 'react', emoji: '🤫' });
    await act(t.a, 'j-e1', t.groupId, before.messageId, { kind: 'edit', body: text('before-dan secret v2') });
    await act(t.b, 'j-r2', t.groupId, after.messageId, { kind: 'react', emoji: '👋' });
    // Dan gets the update of the message he has (the last one acted on), and nothing of the earlier one.
    await updateOf(d, after.messageId);
    await updateOf(t.c, before.messageId, 2);
    await settled(t.groupId);
    expect(d.of('group_message_update').map((f) => f.message.id)).toEqual([after.messageId]);
    expect(await memberTraces(dan!.userId, 'before-dan')).toBe(0);
    // Gap repair answers the same.
    const repair = await groupOf(env, t.groupId).entriesFor(dan!.userId, 0, 1_000);
    expect(repair.ok && JSON.stringify(repair.value.entries)).not.toContain('before-dan');

    expect(await act(d, 'j-dan', t.groupId, before.messageId, { kind: 'react', emoji: '❓' })).toMatchObject({ code: 'message_not_found' });
    expect(await refusal(d, { type: 'group_send', id: 'j-q', group: t.groupId, body: text('what?'), replyTo: before.messageId }, 'j-q')).toBe(
      'message_not_found',
    );
    d.close();
    t.close();
  });
});

describe('fan-out of updates', { timeout: 20_000 }, () => {
  it('an update delivered again (a retried batch) is applied once', async () => {
    const t = await trio();
    const { messageId } = await post(t.a, t.groupId, 'dd1', text('count me once'));
    await act(t.b, 'dd-r', t.groupId, messageId, { kind: 'react', emoji: '1️⃣' });
    await updateOf(t.c, messageId);
    await settled(t.groupId);
    const all = await groupOf(env, t.groupId).entriesFor(t.ann.userId, 0, 100);
    if (!all.ok) throw new Error(all.code);
    expect(all.value.entries.map((e) => e.type)).toEqual(['event', 'event', 'message', 'update']);
    for (let round = 0; round < 2; round++) await mailbox(t.cat.userId).deliverGroup(t.groupId, all.value.entries);
    const updates = await runInDurableObject(mailbox(t.cat.userId), (_instance, state) =>
      state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM mailbox WHERE kind = 'group_message_update'").one().n,
    );
    expect(updates).toBe(1);
    expect((await copyOf(t.cat.userId, messageId))!.message.rev).toBe(1);
    t.close();
  });

  it('an update joins a run only when its message had the same audience; otherwise it goes to those who had it', async () => {
    const eventAt = (gseq: number) => ({ type: 'event' as const, event: { id: `e${gseq}`, group: 'g', gseq, by: 'u', at: 0, change: { kind: 'created' as const, title: 't' } } });
    const row = (gseq: number, extra: { membership?: boolean; target?: number } = {}) => ({
      gseq,
      membership: extra.membership ?? false,
      target: extra.target ?? null,
      entry: eventAt(gseq),
    });
    // 10 is a join: an update at 12 of message 9 must not go to whoever joined at 10.
    const pending = [row(9), row(10, { membership: true }), row(11), row(12, { target: 9 }), row(13, { target: 11 }), row(14)];
    const noJoinBetween = (from: number, to: number) => !(from < 10 && to >= 10);
    const runs = runsOf(pending, noJoinBetween).map((r) => [r.first, r.last, r.target ?? null]);
    expect(runs).toEqual([
      [9, 9, null],
      [10, 10, null],
      [11, 11, null],
      [12, 12, 9],
      [13, 14, null],
    ]);

    // The narrowed audience: members (and past members) who received the target too.
    const [ann, bob, cat] = await users(3);
    const group = await createGroup(ann!, [bob!]);
    await openToGroups(cat!);
    await call('POST', PATHS.groupMembers(group.groupId), ann!, { members: [cat!.userId] });
    await call('DELETE', PATHS.groupMember(group.groupId, bob!.userId), ann!);
    const audiences = await runInDurableObject(groupOf(env, group.groupId) as DurableObjectStub<GroupChat>, (_instance, state) => {
      const members = new Members(state.storage.sql);
      const ids = (list: Array<{ userId: string }>) => list.map((m) => m.userId).sort();
      // Log: 1 created, 2 bob added, 3 cat added, 4 bob removed.
      return { all: ids(members.audienceAt(4)), ofFirst: ids(members.audienceAt(4, 2)), ofLatest: ids(members.audienceAt(4, 3)) };
    });
    expect(audiences.all).toEqual([ann!.userId, bob!.userId, cat!.userId].sort());
    expect(audiences.ofFirst).toEqual([ann!.userId, bob!.userId].sort());
    expect(audiences.ofLatest).toEqual([ann!.userId, bob!.userId, cat!.userId].sort());
  });
});

describe('group replies and forwards', { timeout: 20_000 }, () => {
  it('a reply carries a quote that survives the original’s deletion; deleted or unknown targets are refused', async () => {
    const t = await trio();
    const original = await post(t.a, t.groupId, 'q1', text('who brings the cake?'));
    const reply = await post(t.b, t.groupId, 'q2', text('me!'), { replyTo: original.messageId });
    const seen = await messageFrame(t.c, 'q2');
    expect(seen.replyTo).toEqual({ id: original.messageId, from: t.ann.userId, kind: 'text', snippet: 'who brings the cake?' });
    // A retry of the reply is the same send; the same id without the quote is another.
    expect(await post(t.b, t.groupId, 'q2', text('me!'), { replyTo: original.messageId })).toEqual(reply);
    expect(await refusal(t.b, { type: 'group_send', id: 'q2', group: t.groupId, body: text('me!') }, 'q2')).toBe('id_conflict');

    await act(t.a, 'q-del', t.groupId, original.messageId, { kind: 'delete', scope: 'everyone' });
    await updateOf(t.c, original.messageId);
    const kept = await copyOf(t.cat.userId, reply.messageId);
    expect(kept!.message.replyTo?.snippet).toBe('who brings the cake?');
    expect(await refusal(t.b, { type: 'group_send', id: 'q3', group: t.groupId, body: text('too late'), replyTo: original.messageId }, 'q3')).toBe(
      'message_deleted',
    );
    expect(await refusal(t.b, { type: 'group_send', id: 'q4', group: t.groupId, body: text('?'), replyTo: '01ARZ3NDEKTSV4RRFFQ69G5FAV' }, 'q4')).toBe(
      'message_not_found',
    );
    t.close();
  });

  it('a forward is marked with its hops', async () => {
    const t = await trio();
    const original = await post(t.a, t.groupId, 'f1', text('chain letter'));
    await messageFrame(t.b, 'f1');
    await post(t.b, t.groupId, 'f2', text('chain letter'), { forward: original.messageId });
    const once = await messageFrame(t.c, 'f2');
    expect(once.forwarded).toBe(1);
    await post(t.c, t.groupId, 'f3', text('chain letter'), { forward: once.id });
    expect((await messageFrame(t.a, 'f3')).forwarded).toBe(2);
    // The group stores what the mailbox computed, as is.
    const direct = await groupOf(env, t.groupId).post({ sender: t.ann.userId, device: t.ann.deviceId, clientId: 'f4', body: text('x'), forwarded: 7 });
    expect(direct.ok).toBe(true);
    expect((await messageFrame(t.b, 'f4')).forwarded).toBe(7);
    expect(await refusal(t.b, { type: 'group_send', id: 'f5', group: t.groupId, body: text('changed'), forward: original.messageId }, 'f5')).toBe(
      'forward_mismatch',
    );
    t.close();
  });
});

describe('local group actions', { timeout: 20_000 }, () => {
  it('star and delete for me change only the actor’s copy; the starred list; later updates keep the star', async () => {
    const t = await trio();
    const { messageId } = await post(t.a, t.groupId, 's1', text('keep-this address'));
    await messageFrame(t.b, 's1');

    expect(await act(t.b, 'st1', t.groupId, messageId, { kind: 'star', starred: true })).toMatchObject({ type: 'acted', duplicate: false });
    expect(await act(t.b, 'st1', t.groupId, messageId, { kind: 'star', starred: true })).toMatchObject({ type: 'acted', duplicate: true });
    const starred = await updateOf(t.b, messageId);
    expect(starred).toMatchObject({ gseq: null, by: t.bob.userId, action: { kind: 'star', starred: true }, message: { starred: true } });
    const page = StarredPageSchema.parse((await call('GET', PATHS.starred, t.bob)).body);
    expect(page.messages.map((m) => [m.chat, m.message.id])).toEqual([[chatOf(t.groupId), messageId]]);
    expect(StarredPageSchema.parse((await call('GET', PATHS.starred, t.ann)).body).messages).toEqual([]);

    // A reaction from someone else keeps Bob's star on his copy only.
    await act(t.c, 'st-r', t.groupId, messageId, { kind: 'react', emoji: '📌' });
    expect((await updateOf(t.b, messageId, 2)).message).toMatchObject({ starred: true, reactions: [{ by: t.cat.userId }] });
    expect((await updateOf(t.a, messageId)).message.starred).toBeUndefined();

    expect(await act(t.b, 'dm1', t.groupId, messageId, { kind: 'delete', scope: 'me' })).toMatchObject({ type: 'acted' });
    const hidden = await updateOf(t.b, messageId, 3);
    expect(hidden).toMatchObject({ gseq: null, message: { body: { kind: 'deleted', scope: 'me', by: t.bob.userId } } });
    expect(await memberTraces(t.bob.userId, 'keep-this')).toBe(0);
    expect((await mailboxCopy(t.bob, t.groupId)).some((e) => e.type === 'message' && e.message.id === messageId)).toBe(false);
    expect(StarredPageSchema.parse((await call('GET', PATHS.starred, t.bob)).body).messages).toEqual([]);
    // Again: nothing changes; others still have it.
    expect(await act(t.b, 'dm2', t.groupId, messageId, { kind: 'delete', scope: 'me' })).toMatchObject({ type: 'acted', duplicate: false });
    expect(await act(t.b, 'st2', t.groupId, messageId, { kind: 'star', starred: true })).toMatchObject({ code: 'message_not_found' });
    expect(await memberTraces(t.ann.userId, 'keep-this')).toBeGreaterThan(0);
    expect((await copyOf(t.cat.userId, messageId))!.hidden).toBe(0);
    // A later reaction does not bring the content back to Bob.
    await act(t.c, 'st-r2', t.groupId, messageId, { kind: 'react', emoji: '🗑️' });
    await updateOf(t.a, messageId, 2);
    await settled(t.groupId);
    expect((await copyOf(t.bob.userId, messageId))!.message.body.kind).toBe('deleted');
    expect(await memberTraces(t.bob.userId, 'keep-this')).toBe(0);
        t.close();
  });

  it('mark unread: a chat marker for the user’s devices, cleared by reading', async () => {
    const t = await trio();
    await post(t.a, t.groupId, 'u1', text('hello'));
    await messageFrame(t.b, 'u1');
    t.b.send({ type: 'mark_unread', chat: chatOf(t.groupId), unread: true });
    const [marker] = await t.b.waitFor(isType('chat_marker'), 1, WAIT_MS);
    expect(marker).toMatchObject({ chat: chatOf(t.groupId), unread: true });
    const listed = async () =>
      ConversationListSchema.parse((await call('GET', PATHS.conversations, t.bob)).body).conversations.find((c) => c.kind === 'group')!;
    expect(await listed()).toMatchObject({ markedUnread: true });
    t.b.send({ type: 'group_read', group: t.groupId, upTo: marker!.seq });
    await t.b.waitFor(isType('group_read_marker'), 1, WAIT_MS);
    expect(await listed()).toMatchObject({ markedUnread: false, unread: 0 });
    // Unknown group.
    t.b.send({ type: 'mark_unread', chat: chatOf('01ARZ3NDEKTSV4RRFFQ69G5FAV'), unread: true });
    const [error] = await t.b.waitFor(isType('error'), 1, WAIT_MS);
    expect(error!.code).toBe('group_not_found');
    t.close();
  });
});
