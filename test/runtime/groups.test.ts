/**
 * Groups through the real Worker, group objects, mailboxes and fan-out queue: the group log's
 * one order, membership rules and their system messages, idempotent sends, receipts summed for
 * the sender. In these tests audiences over two members take the queue path (vitest.config.ts).
 */
import { createExecutionContext, createMessageBatch, getQueueResult, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import worker from '../../worker/index.ts';
import { deadLetterCounts } from '../../db/groups.ts';
import { GROUP_MAX_MEMBERS, MetricsSchema, PATHS, type Group, type GroupReceiptFrame } from '../../protocol/index.ts';
import { groupOf } from '../../durable-objects/stubs.ts';
import { call, createGroup, eventuallyCopy, frameGseqs, gseqOf, mailboxCopy, openToGroups, settled, textsOf, users } from './group-support.ts';
import { uploadedMedia } from './media-support.ts';
import { ackAll, api, connect, isType, text } from './support.ts';

describe('group management', () => {
  it('creates a group: the creator is admin, members are listed, everyone gets the system messages', async () => {
    const [ann, bob, cat] = await users(3);
    const b = await connect(bob!);
    const group = await createGroup(ann!, [bob!, cat!], { description: 'weekend plans' });
    expect(group).toMatchObject({ title: 'Test group', description: 'weekend plans', createdBy: ann!.userId, head: 2, onlyAdminsSend: false });
    expect(group.members[0]).toMatchObject({ userId: ann!.userId, role: 'admin' });
    expect(group.members.slice(1).map((m) => [m.userId, m.role]).sort()).toEqual(
      [
        [bob!.userId, 'member'],
        [cat!.userId, 'member'],
      ].sort(),
    );

    // Live to a connected member: "Ann added Bob and Cat" (bob joined at gseq 2, so not "created").
    const [added] = await b.waitFor(isType('group_event'));
    expect(added!.event).toMatchObject({ group: group.groupId, gseq: 2, by: ann!.userId, change: { kind: 'members_added', members: [bob!.userId, cat!.userId] } });

    // The creator sees the whole log; each member's copy starts where they joined.
    await settled(group.groupId);
    const annCopy = await eventuallyCopy(ann!, group.groupId, (e) => e.length === 2);
    expect(annCopy.map((e) => e.type === 'event' && e.event.change.kind)).toEqual(['created', 'members_added']);
    expect((await eventuallyCopy(cat!, group.groupId, (e) => e.length === 1)).map(gseqOf)).toEqual([2]);

    for (const who of [ann!, bob!, cat!]) {
      const list = await call('GET', PATHS.groups, who);
      expect(list.body).toMatchObject({ groups: [{ groupId: group.groupId, title: 'Test group', memberCount: 3 }] });
    }
    b.close();
  });

  it('answers bad input with typed errors and changes nothing', async () => {
    const [ann, bob, outsider] = await users(3);
    const group = await createGroup(ann!, [bob!]);
    const path = PATHS.group(group.groupId);
    const head = group.head;

    expect((await call('GET', path, outsider!)).body.error?.code).toBe('not_group_member');
    expect((await call('GET', PATHS.group('01ARZ3NDEKTSV4RRFFQ69G5FAV'), ann!)).body.error?.code).toBe('group_not_found');
    expect((await call('GET', PATHS.group('not-a-ulid'), ann!)).status).toBe(400);

    // Not an admin.
    const byMember = await call('POST', PATHS.groupMembers(group.groupId), bob!, { members: [outsider!.userId] });
    expect([byMember.status, byMember.body.error?.code]).toEqual([403, 'not_group_admin']);
    expect((await call('PATCH', path, bob!, { title: 'mine now' })).body.error?.code).toBe('not_group_admin');
    expect((await call('DELETE', PATHS.groupMember(group.groupId, ann!.userId), bob!)).body.error?.code).toBe('not_group_admin');
    expect((await call('PUT', PATHS.groupAdmin(group.groupId, bob!.userId), bob!)).body.error?.code).toBe('not_group_admin');
    // Adding someone who has no account.
    const ghost = await call('POST', PATHS.groupMembers(group.groupId), ann!, { members: ['01ARZ3NDEKTSV4RRFFQ69G5FAV'] });
    expect([ghost.status, ghost.body.error?.code]).toEqual([404, 'user_not_found']);
    // Removing someone who is not a member; demoting the last admin.
    expect((await call('DELETE', PATHS.groupMember(group.groupId, outsider!.userId), ann!)).body.error?.code).toBe('user_not_found');
    const demote = await call('DELETE', PATHS.groupAdmin(group.groupId, ann!.userId), ann!);
    expect([demote.status, demote.body.error?.code]).toEqual([409, 'last_admin']);
    // Malformed bodies.
    expect((await call('PATCH', path, ann!, {})).body.error?.code).toBe('validation_failed');
    expect((await call('POST', PATHS.groups, ann!, { title: '', members: [] })).body.error?.code).toBe('validation_failed');
    expect((await call('POST', PATHS.groups, ann!, { title: 'x', members: ['nope'] })).body.error?.code).toBe('validation_failed');

    const after = (await call('GET', path, ann!)).body as unknown as Group;
    expect(after.head).toBe(head);
    expect(after.members.map((m) => [m.userId, m.role])).toEqual([
      [ann!.userId, 'admin'],
      [bob!.userId, 'member'],
    ]);
  });

  it('answers group frames and queries about groups one is not in with typed errors, storing nothing', async () => {
    const [ann, bob, outsider] = await users(3);
    const group = await createGroup(ann!, [bob!]);
    const unknown = '01ARZ3NDEKTSV4RRFFQ69G5FAV';
    const o = await connect(outsider!);
    o.send({ type: 'group_send', id: 'nope-1', group: unknown, body: text('hello?') });
    o.send({ type: 'group_send', id: 'nope-2', group: group.groupId, body: text('let me in') });
    const errors = await o.waitFor(isType('error'), 2);
    expect(errors.map((e) => [e.id, e.code])).toEqual([
      ['nope-1', 'group_not_found'],
      ['nope-2', 'not_group_member'],
    ]);
    // Reading a group you have nothing of moves nothing and answers nothing.
    o.send({ type: 'group_read', group: group.groupId, upTo: 1 });
    await new Promise((r) => setTimeout(r, 100));
    expect(o.frames.filter((f) => f.type !== 'hello' && f.type !== 'error')).toEqual([]);
    expect((await groupOf(env, group.groupId).stats()).head).toBe(group.head);
    expect((await call('GET', PATHS.groupHistory(group.groupId), outsider!)).body.error?.code).toBe('not_group_member');
    expect((await call('GET', PATHS.conversations, outsider!)).body).toMatchObject({ conversations: [] });
    // Message info: an id that is no message of this group, and a group one is not in.
    const missing = await call('GET', PATHS.groupMessageInfo(group.groupId, unknown), ann!);
    expect([missing.status, missing.body.error?.code]).toEqual([404, 'not_found']);
    expect((await call('GET', PATHS.groupMessageInfo(group.groupId, unknown), outsider!)).body.error?.code).toBe('not_group_member');
    o.close();
  });

  it('enforces the member limit', async () => {
    const [ann] = await users(1);
    const fake = (i: number) => `01J${String(i).padStart(23, '0')}`;
    const half = GROUP_MAX_MEMBERS / 2;
    // Invites hold seats too: half added directly and half invited is one too many with the creator.
    const tooMany = await groupOf(env, '01JAAAAAAAAAAAAAAAAAAAAAAA').create({
      groupId: '01JAAAAAAAAAAAAAAAAAAAAAAA',
      actor: ann!.userId,
      title: 'big',
      description: '',
      onlyAdminsSend: false,
      targets: {
        direct: Array.from({ length: half }, (_, i) => fake(i)),
        invite: Array.from({ length: half }, (_, i) => fake(half + i)),
        quiet: [],
      },
    });
    expect(tooMany).toMatchObject({ ok: false, code: 'group_full' });
    expect((await groupOf(env, '01JAAAAAAAAAAAAAAAAAAAAAAA').stats()).head).toBe(0);

    const group = await createGroup(ann!, []);
    const stub = groupOf(env, group.groupId);
    const full = await stub.addMembers(ann!.userId, { direct: [], invite: [], quiet: Array.from({ length: GROUP_MAX_MEMBERS }, (_, i) => fake(i)) });
    expect(full).toMatchObject({ ok: false, code: 'group_full' });
    const after = await stub.view(ann!.userId);
    expect(after.ok && [after.value.members.length, after.value.invites.length, after.value.head]).toEqual([1, 0, group.head]);
  });

  it('records settings changes as system messages; only admins may send when so configured', async () => {
    const [ann, bob] = await users(2);
    const group = await createGroup(ann!, [bob!]);
    const b = await connect(bob!);
    const picture = await uploadedMedia(ann!);
    const patched = await call('PATCH', PATHS.group(group.groupId), ann!, { title: 'Renamed', onlyAdminsSend: true, picture });
    expect(patched.body).toMatchObject({ title: 'Renamed', onlyAdminsSend: true, picture });
    const events = await b.waitFor(isType('group_event'), 4);
    expect(events.map((e) => e.event.change.kind)).toEqual(['members_added', 'title_changed', 'picture_changed', 'settings_changed']);

    b.send({ type: 'group_send', id: 'blocked', group: group.groupId, body: text('can I talk?') });
    const [error] = await b.waitFor(isType('error'));
    expect(error).toMatchObject({ id: 'blocked', code: 'admins_only', retryable: false });
    expect((await groupOf(env, group.groupId).stats()).head).toBe(5);

    await call('PUT', PATHS.groupAdmin(group.groupId, bob!.userId), ann!);
    b.send({ type: 'group_send', id: 'allowed', group: group.groupId, body: text('now I can') });
    const [sent] = await b.waitFor(isType('group_sent'));
    expect(sent).toMatchObject({ id: 'allowed', group: group.groupId, gseq: 7, duplicate: false });
    b.close();
  });

  it('the last admin leaving hands admin to the longest-standing member', async () => {
    const [ann, bob, cat] = await users(3);
    const group = await createGroup(ann!, [bob!]);
    await openToGroups(cat!);
    await call('POST', PATHS.groupMembers(group.groupId), ann!, { members: [cat!.userId] });
    expect((await call('POST', PATHS.groupLeave(group.groupId), ann!)).status).toBe(204);
    const view = (await call('GET', PATHS.group(group.groupId), bob!)).body as unknown as Group;
    expect(view.members.map((m) => [m.userId, m.role])).toEqual([
      [bob!.userId, 'admin'],
      [cat!.userId, 'member'],
    ]);
    const copy = await eventuallyCopy(cat!, group.groupId, (e) => e.length === 3);
    expect(copy.map((e) => e.type === 'event' && [e.event.change.kind, e.event.by])).toEqual([
      ['members_added', ann!.userId],
      ['member_left', ann!.userId],
      ['admin_promoted', ann!.userId],
    ]);
    expect((await call('GET', PATHS.group(group.groupId), ann!)).body.error?.code).toBe('not_group_member');
    expect((await call('GET', PATHS.groups, ann!)).body).toEqual({ groups: [], nextBefore: null });
  });
});

describe('group log and fan-out', () => {
  it('gives every member the same order, online or offline, over both fan-out paths', async () => {
    const [ann, bob, cat, dan] = await users(4);
    const group = await createGroup(ann!, [bob!, cat!, dan!]);
    const a = await connect(ann!);
    const b = await connect(bob!);
    // Two senders interleave 15 messages each; cat is connected, dan is offline.
    const c = await connect(cat!);
    for (let i = 0; i < 15; i++) {
      a.send({ type: 'group_send', id: `a-${i}`, group: group.groupId, body: text(`ann ${i}`) });
      b.send({ type: 'group_send', id: `b-${i}`, group: group.groupId, body: text(`bob ${i}`) });
    }
    const sentA = await a.waitFor(isType('group_sent'), 15);
    const sentB = await b.waitFor(isType('group_sent'), 15);
    // Per sender, gseqs grow in send order.
    for (const sent of [sentA, sentB]) expect(sent.map((s) => s.gseq)).toEqual([...sent.map((s) => s.gseq)].sort((x, y) => x - y));
    const gseqs = [...sentA, ...sentB].map((s) => s.gseq).sort((x, y) => x - y);
    expect(gseqs).toEqual(Array.from({ length: 30 }, (_, i) => i + 3));

    await settled(group.groupId);
    const order = (await eventuallyCopy(ann!, group.groupId, (e) => e.length === 32)).map(gseqOf);
    expect(order).toEqual(Array.from({ length: 32 }, (_, i) => i + 1));
    const reference = textsOf(await mailboxCopy(ann!, group.groupId));
    for (const who of [bob!, cat!, dan!]) {
      const copy = await eventuallyCopy(who, group.groupId, (e) => e.length === 31);
      expect(copy.map(gseqOf)).toEqual(Array.from({ length: 31 }, (_, i) => i + 2));
      expect(textsOf(copy)).toEqual(reference);
    }
    // Live frames arrive in gseq order too, and dan gets everything when he comes online.
    const liveCat = frameGseqs((await c.waitFor(isType('group_message'), 30)).concat(), group.groupId);
    expect(liveCat).toEqual([...liveCat].sort((x, y) => x - y));
    const d = await connect(dan!);
    const danFrames = await d.waitFor(isType('group_message'), 30);
    expect(textsOf(danFrames.map((f) => ({ type: 'message' as const, message: f.message })))).toEqual(reference);
    for (const s of [a, b, c, d]) s.close();
  });

  it('in a large audience calls recently active members directly and queues the rest', async () => {
    // Tests run with GROUP_DIRECT_FANOUT_MAX 2 and GROUP_DIRECT_HOT_MAX 1 (vitest.config.ts).
    const [ann, bob, cat, dan] = await users(4);
    const group = await createGroup(ann!, [bob!, cat!, dan!]);
    const b = await connect(bob!);
    await b.waitFor(isType('group_event'));
    ackAll(b);
    const stub = groupOf(env, group.groupId);
    // Bob's delivered receipt (gathered for up to half a second) makes him the active member.
    const deadline = Date.now() + 3_000;
    for (;;) {
      const info = await runInDurableObject(stub, (_i, state) =>
        state.storage.sql.exec<{ active_at: number }>('SELECT active_at FROM members WHERE user_id = ?', bob!.userId).one(),
      );
      if (info.active_at > 0) break;
      if (Date.now() > deadline) throw new Error('bob never became active');
      await new Promise((r) => setTimeout(r, 50));
    }
    await settled(group.groupId);
    const before = (await stub.stats()).fanout;
    const a = await connect(ann!);
    a.send({ type: 'group_send', id: 'hot', group: group.groupId, body: text('hot first') });
    await a.waitFor(isType('group_sent'));
    await b.waitFor(isType('group_message'));
    await settled(group.groupId);
    const after = (await stub.stats()).fanout;
    expect([after.direct - before.direct, after.queued - before.queued]).toEqual([1, 3]);
    for (const who of [cat!, dan!]) await eventuallyCopy(who, group.groupId, (e) => textsOf(e).includes('hot first'));
    a.close();
    b.close();
  });

  it('stores a retried send once; a reused id with another body is refused', async () => {
    const [ann, bob] = await users(2);
    const group = await createGroup(ann!, [bob!]);
    const a = await connect(ann!);
    a.send({ type: 'group_send', id: 'once', group: group.groupId, body: text('only once') });
    a.send({ type: 'group_send', id: 'once', group: group.groupId, body: text('only once') });
    const [first, second] = await a.waitFor(isType('group_sent'), 2);
    expect(second).toMatchObject({ messageId: first!.messageId, gseq: first!.gseq, duplicate: true });
    expect(first!.duplicate).toBe(false);
    a.send({ type: 'group_send', id: 'once', group: group.groupId, body: text('something else') });
    const [conflict] = await a.waitFor(isType('error'));
    expect(conflict).toMatchObject({ id: 'once', code: 'id_conflict' });

    await settled(group.groupId);
    const copy = await eventuallyCopy(bob!, group.groupId, (e) => e.length === 2);
    expect(textsOf(copy)).toEqual(['only once']);
    a.close();
  });

  it('removed members receive their removal and nothing after it', async () => {
    const [ann, bob, cat] = await users(3);
    const group = await createGroup(ann!, [bob!, cat!]);
    const b = await connect(bob!);
    const removed = await call('DELETE', PATHS.groupMember(group.groupId, bob!.userId), ann!);
    expect(removed.status).toBe(200);
    const [removal] = await b.waitFor((f): f is Extract<typeof f, { type: 'group_event' }> => f.type === 'group_event' && f.event.change.kind === 'member_removed');
    expect(removal!.event).toMatchObject({ by: ann!.userId, change: { kind: 'member_removed', member: bob!.userId } });

    const a = await connect(ann!);
    a.send({ type: 'group_send', id: 'after', group: group.groupId, body: text('bob is gone') });
    await a.waitFor(isType('group_sent'));
    await settled(group.groupId);
    await eventuallyCopy(cat!, group.groupId, (e) => textsOf(e).includes('bob is gone'));
    expect(textsOf(await mailboxCopy(bob!, group.groupId))).toEqual([]);
    expect(b.of('group_message')).toEqual([]);

    // Bob can no longer send or look, but keeps his history.
    b.send({ type: 'group_send', id: 'let-me-in', group: group.groupId, body: text('hello?') });
    expect((await b.waitFor(isType('error')))[0]).toMatchObject({ id: 'let-me-in', code: 'not_group_member' });
    expect((await call('GET', PATHS.group(group.groupId), bob!)).body.error?.code).toBe('not_group_member');
    expect((await mailboxCopy(bob!, group.groupId)).length).toBe(2);
    a.close();
    b.close();
  });
});

describe('group receipts', () => {
  it('sums delivered and read for the sender; message info lists who, for the sender only', async () => {
    const [ann, bob, cat] = await users(3);
    const group = await createGroup(ann!, [bob!, cat!]);
    const a = await connect(ann!);
    const b = await connect(bob!);
    const c = await connect(cat!);
    a.send({ type: 'group_send', id: 'q', group: group.groupId, body: text('who is coming?') });
    const [sent] = await a.waitFor(isType('group_sent'));
    await b.waitFor(isType('group_message'));
    await c.waitFor(isType('group_message'));

    // Both members' devices ack: "delivered to 2 of 2".
    ackAll(b);
    ackAll(c);
    const tallyIs = (delivered: number, read: number) => (f: Parameters<Parameters<typeof a.waitFor>[0]>[0]): f is GroupReceiptFrame =>
      f.type === 'group_receipt' && f.tallies.some((t) => t.messageId === sent!.messageId && t.delivered === delivered && t.read === read);
    const [delivered] = await a.waitFor(tallyIs(2, 0));
    expect(delivered!.tallies.find((t) => t.messageId === sent!.messageId)).toEqual({ messageId: sent!.messageId, gseq: sent!.gseq, of: 2, delivered: 2, read: 0 });

    // Bob reads: "read by 1"; his other devices learn it through a read marker.
    const bobGroupSeq = b.of('group_message')[0]!.seq;
    b.send({ type: 'group_read', group: group.groupId, upTo: bobGroupSeq });
    await a.waitFor(tallyIs(2, 1));
    await b.waitFor(isType('group_read_marker'));
    expect(b.of('group_read_marker')[0]).toMatchObject({ group: group.groupId, upTo: bobGroupSeq });

    const info = await call('GET', PATHS.groupMessageInfo(group.groupId, sent!.messageId), ann!);
    expect(info.status).toBe(200);
    expect(info.body).toMatchObject({ messageId: sent!.messageId, tally: { of: 2, delivered: 2, read: 1 } });
    const body = info.body as unknown as { delivered: Array<{ userId: string; at: number }>; read: Array<{ userId: string; at: number }> };
    expect(body.delivered.map((d) => d.userId).sort()).toEqual([bob!.userId, cat!.userId].sort());
    expect(body.read.map((d) => d.userId)).toEqual([bob!.userId]);
    expect(body.read[0]!.at).toBeGreaterThanOrEqual(sent!.sentAt);
    const snoop = await call('GET', PATHS.groupMessageInfo(group.groupId, sent!.messageId), bob!);
    expect([snoop.status, snoop.body.error?.code]).toEqual([403, 'not_message_sender']);

    // The sender's history shows the tally; the chat list shows the group with bob's unread count.
    const history = await call('GET', PATHS.groupHistory(group.groupId), ann!);
    const mine = (history.body.entries as Array<{ entry: { type: string }; tally: unknown }>).find((e) => e.entry.type === 'message');
    expect(mine!.tally).toMatchObject({ delivered: 2, read: 1, of: 2 });
    const catList = await call('GET', PATHS.conversations, cat!);
    expect(catList.body.conversations).toMatchObject([{ kind: 'group', group: group.groupId, unread: 1 }]);
    const bobList = await call('GET', PATHS.conversations, bob!);
    expect(bobList.body.conversations).toMatchObject([{ kind: 'group', group: group.groupId, unread: 0 }]);
    for (const s of [a, b, c]) s.close();
  });
});

describe('fan-out delivery is idempotent and ordered', () => {
  it('a queue batch delivered twice stores every entry once', async () => {
    const [ann, bob, cat] = await users(3);
    const group = await createGroup(ann!, [bob!, cat!]);
    await settled(group.groupId);
    const a = await connect(ann!);
    a.send({ type: 'group_send', id: 'dup', group: group.groupId, body: text('exactly once') });
    await a.waitFor(isType('group_sent'));
    await settled(group.groupId);
    await eventuallyCopy(cat!, group.groupId, (e) => textsOf(e).length === 1);

    const entries = await groupOf(env, group.groupId).entriesFor(ann!.userId, 0, 100);
    if (!entries.ok) throw new Error(entries.code);
    const job = { group: group.groupId, members: [bob!.userId, cat!.userId], entries: entries.value.entries.slice(1) };
    for (let round = 0; round < 2; round++) {
      const batch = createMessageBatch('group-fanout', [{ id: `job-${round}`, timestamp: Date.now(), attempts: 1, body: job }]);
      const ctx = createExecutionContext();
      await worker.queue(batch, env, ctx);
      const result = await getQueueResult(batch, ctx);
      expect(result.explicitAcks).toEqual([`job-${round}`]);
    }
    for (const who of [bob!, cat!]) {
      const copy = await mailboxCopy(who, group.groupId);
      expect(copy.map(gseqOf)).toEqual([2, 3]);
      expect(textsOf(copy)).toEqual(['exactly once']);
    }
    a.close();
  });

  it('a fan-out interrupted before it settled is finished by the alarm', async () => {
    const [ann, bob, cat] = await users(3);
    const group = await createGroup(ann!, [bob!, cat!]);
    const a = await connect(ann!);
    a.send({ type: 'group_send', id: 'resume', group: group.groupId, body: text('again') });
    await a.waitFor(isType('group_sent'));
    await settled(group.groupId);
    await eventuallyCopy(cat!, group.groupId, (e) => textsOf(e).length === 1);
    // As if the object died before recording the round: everything is pending again.
    const stub = groupOf(env, group.groupId);
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec("UPDATE meta SET value = 0 WHERE key = 'fanned_through'");
    });
    expect((await stub.stats()).backlog).toBe(3);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await settled(group.groupId);
    for (const who of [bob!, cat!]) expect(textsOf(await mailboxCopy(who, group.groupId))).toEqual(['again']);
    a.close();
  });

  it('a job that cannot be delivered is retried; dead letters are recorded', async () => {
    const [ann, bob] = await users(2);
    const group = await createGroup(ann!, [bob!]);
    await settled(group.groupId);
    const log = await groupOf(env, group.groupId).entriesFor(ann!.userId, 0, 100);
    if (!log.ok) throw new Error(log.code);
    // A non-member's mailbox refuses the group's entries (its gap repair is refused).
    const [stranger] = await users(1);
    const job = { group: group.groupId, members: [bob!.userId, stranger!.userId], entries: log.value.entries.slice(1) };
    const batch = createMessageBatch('group-fanout', [{ id: 'bad-job', timestamp: Date.now(), attempts: 3, body: job }]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(['bad-job']);
    expect(await mailboxCopy(stranger!, group.groupId)).toEqual([]);

    const malformed = createMessageBatch('group-fanout', [{ id: 'junk', timestamp: Date.now(), attempts: 1, body: { nope: true } }]);
    const dead = createMessageBatch('group-fanout-dlq', [{ id: 'dead-1', timestamp: Date.now(), attempts: 6, body: job }]);
    for (const b of [malformed, dead]) {
      const c = createExecutionContext();
      await worker.queue(b, env, c);
      expect((await getQueueResult(b, c)).explicitAcks).toHaveLength(1);
    }
    const counts = await deadLetterCounts(env.DB);
    expect(counts['group-fanout-dlq']).toBeGreaterThanOrEqual(1);
    expect(counts['group-fanout']).toBeGreaterThanOrEqual(1);

    // Operators see them (and the queue backlog) on the metrics endpoint, behind its own token.
    const metrics = await api(PATHS.metrics, { token: env.METRICS_TOKEN });
    expect(metrics.status).toBe(200);
    const body = MetricsSchema.parse(await metrics.json());
    expect(body.deadLetters).toEqual(counts);
    expect(body.queues['group-fanout']).toMatchObject({ backlog: expect.any(Number) });
    expect((await api(PATHS.metrics, { token: ann!.token })).status).toBe(401);
    expect((await api(PATHS.metrics)).status).toBe(401);
  });
});
