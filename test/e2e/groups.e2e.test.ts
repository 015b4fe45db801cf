/**
 * Black box, groups: the real local server (`npm run dev`'s script) driven over real HTTP and
 * WebSockets with the SDK. One order for every member (concurrent senders, offline members,
 * dropped connections), membership rules and what each member may see, receipt tallies and
 * message info, idempotent sends through the SDK's outbox, and consent: invites, invite links
 * and the paged group list.
 *
 * The test users are strangers to each other; they let anyone add them to groups
 * (`privacy.groups: 'everyone'`) unless a test is about consent, so adds stay adds.
 */
import { describe, expect, it } from 'vitest';
import {
  MessengerClient,
  MessengerError,
  type GroupChange,
  type GroupHistoryItem,
  type GroupInviteFrame,
  type GroupTally,
  type OutboxEntry,
} from '../../client/index.ts';
import {
  device,
  dropConnection,
  entriesOf,
  eventually,
  fullGroupHistory,
  latestTallies,
  nextPhone,
  recordGroups,
  stays,
  type GroupRecord,
  type SeenGroupEntry,
  type TestClient,
} from '../support/clients.ts';
import { MetricsSchema, PATHS } from '../../protocol/index.ts';
import { serverSuite } from '../support/suite.ts';

const suite = serverSuite();
const { track } = suite;

type Member = { client: TestClient; log: GroupRecord; id: string };

/**
 * A logged-in device that records its group events; connected unless `connect` is false. Anyone
 * may add it to groups unless `consent` is true (then the default: only its contacts).
 */
async function member(phone = nextPhone(), name = 'e2e', connect = true, consent = false): Promise<Member> {
  const client = track(await device(suite.server().baseUrl, phone, name));
  if (!consent) await client.api.updateSettings({ privacy: { groups: 'everyone' } });
  const log = recordGroups(client);
  if (connect) await client.connect();
  return { client, log, id: client.userId! };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves with the MessengerError `promise` rejects with (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<MessengerError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(MessengerError);
    return error as MessengerError;
  }
  throw new Error('expected a MessengerError, but the call succeeded');
}

async function expectCode(promise: Promise<unknown>, code: string, status?: number): Promise<void> {
  const error = await rejection(promise);
  expect({ code: error.code, retryable: error.retryable }).toEqual({ code, retryable: false });
  if (status !== undefined) expect(error.status).toBe(status);
}

function historyGseq(item: GroupHistoryItem): number {
  const { entry } = item;
  return entry.type === 'message' ? entry.message.gseq : entry.type === 'event' ? entry.event.gseq : entry.update.gseq;
}

function historyId(item: GroupHistoryItem): string {
  const { entry } = item;
  return entry.type === 'message' ? entry.message.id : entry.type === 'event' ? entry.event.id : entry.update.id;
}

/** gseqs from..to inclusive. */
function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** A compact, comparable line per entry: "<gseq> m <sender>: <text>" or "<gseq> e <change>". */
function describeEntry(e: SeenGroupEntry, names: Map<string, string>): string {
  if (e.kind === 'message') return `${e.gseq} m ${names.get(e.from) ?? e.from}: ${e.text}`;
  return `${e.gseq} e ${describeChange(e.change, names)}`;
}

function describeChange(change: GroupChange, names: Map<string, string>): string {
  const n = (id: string) => names.get(id) ?? id;
  switch (change.kind) {
    case 'members_added':
      return `members_added ${change.members.map(n).sort().join(',')}`;
    case 'member_removed':
    case 'member_left':
    case 'admin_promoted':
    case 'admin_demoted':
      return `${change.kind} ${n(change.member)}`;
    default:
      return change.kind;
  }
}

/**
 * A member's live stream of one group must be exactly the given gseqs, in order (arrival order
 * = log order), with strictly increasing mailbox seqs, and its history must hold the very same
 * entries at the same mailbox seqs.
 */
async function expectConsistent(m: Member, group: string, gseqs: number[]): Promise<SeenGroupEntry[]> {
  const live = entriesOf(m.log, group);
  expect(live.map((e) => e.gseq)).toEqual(gseqs);
  for (let i = 1; i < live.length; i++) expect(live[i]!.seq).toBeGreaterThan(live[i - 1]!.seq);
  const history = await fullGroupHistory(m.client, group);
  expect(history.map(historyGseq)).toEqual(gseqs);
  expect(history.map(historyId)).toEqual(live.map((e) => e.id));
  expect(history.map((h) => h.seq)).toEqual(live.map((e) => e.seq));
  return live;
}

describe('one order for every member', () => {
  it('concurrent senders, offline members and dropped connections: every member ends with the same log, live and in history', async () => {
    const ann = await member(nextPhone(), 'ann');
    const bob = await member(nextPhone(), 'bob');
    const cat = await member(nextPhone(), 'cat');
    const dan = await member(nextPhone(), 'dan', false); // offline: connects mid-stream
    const eve = await member(nextPhone(), 'eve', false); // offline: connects after everything
    const everyone = [ann, bob, cat, dan, eve];

    const group = await ann.client.api.createGroup({ title: 'Order', members: [bob.id, cat.id, dan.id, eve.id] });
    expect(group.members.map((m) => m.userId).sort()).toEqual(everyone.map((m) => m.id).sort());
    expect(group.head).toBe(2); // created, members_added
    const g = group.groupId;

    const senders = [ann, bob, cat];
    const perSender = 20;
    let danConnected = false;
    let danAtDrop = 0;
    const unconfirmedAtCut: number[] = [];
    const cutWhileSending = (m: Member) => {
      unconfirmedAtCut.push(m.client.pending().length);
      dropConnection(m.client);
    };
    const sends: Array<{ sender: Member; text: string; sent: Promise<{ messageId: string; gseq: number }> }> = [];
    for (let i = 0; i < perSender; i++) {
      for (const [k, sender] of senders.entries()) {
        const text = `${'abc'[k]}${i}`;
        sends.push({ sender, text, sent: sender.client.sendGroupText(g, text).sent });
      }
      // Cut two senders' sockets while their sends are in flight (the outbox resends whatever was
      // not confirmed), and a receiver's while entries stream in (it resumes from its cursor).
      if (i === 6) cutWhileSending(cat);
      if (i === 13) cutWhileSending(bob);
      if (i === 4) dan.client.connect().then(() => (danConnected = true), () => undefined);
      if (i === 16) {
        await eventually(() => expect(danConnected && entriesOf(dan.log, g).length > 0).toBe(true));
        danAtDrop = entriesOf(dan.log, g).length;
        dropConnection(dan.client);
      }
      await sleep(3);
    }
    // The cuts really happened mid-stream: sends were unconfirmed, entries were still to come.
    expect(unconfirmedAtCut.some((n) => n > 0), `unconfirmed sends at the cuts: ${unconfirmedAtCut.join(', ')}`).toBe(true);

    const acks = await Promise.all(sends.map((s) => s.sent));
    const total = senders.length * perSender;
    const head = 2 + total;
    expect(danAtDrop).toBeLessThan(head - 1);

    // Every send stored once, each at its own place in the log.
    expect(new Set(acks.map((a) => a.messageId)).size).toBe(total);
    expect(acks.map((a) => a.gseq).sort((x, y) => x - y)).toEqual(range(3, head));
    // Each sender's messages keep their send order in the log.
    for (const sender of senders) {
      const gseqs = acks.filter((_, i) => sends[i]!.sender === sender).map((a) => a.gseq);
      expect(gseqs).toEqual([...gseqs].sort((x, y) => x - y));
    }
    // group_sent exactly once per message, for its sender.
    for (const sender of senders) {
      const mine = sends.flatMap((s, i) => (s.sender === sender ? [acks[i]!.messageId] : []));
      expect(sender.log.sent.map((s) => s.messageId).sort()).toEqual([...mine].sort());
    }

    await eve.client.connect();
    const expectedIds = new Map(acks.map((a) => [a.gseq, a.messageId]));
    await eventually(() => {
      for (const m of everyone) expect(entriesOf(m.log, g).at(-1)?.gseq).toBe(head);
    }, 15_000);

    for (const m of [bob, cat, dan]) expect(m.client.sockets.length, 'sockets opened').toBeGreaterThanOrEqual(2);
    // The creator sees the log from `created`, everyone else from the members_added naming them.
    const streams = new Map<Member, SeenGroupEntry[]>();
    for (const m of everyone) streams.set(m, await expectConsistent(m, g, range(m === ann ? 1 : 2, head)));
    for (const m of everyone) {
      const live = streams.get(m)!;
      const first = live.find((e) => e.gseq === 2)!;
      expect(first).toMatchObject({ kind: 'event', change: { kind: 'members_added' } });
      const messages = live.filter((e) => e.kind === 'message');
      expect(messages.map((e) => e.id)).toEqual(range(3, head).map((q) => expectedIds.get(q)));
      // The same entry (id, sender, text) at each gseq for everyone.
      expect(messages.map((e) => `${e.gseq}:${e.from}:${e.text}`)).toEqual(
        streams
          .get(ann)!
          .filter((e) => e.kind === 'message')
          .map((e) => `${e.gseq}:${e.from}:${e.text}`),
      );
      // Own messages are flagged as such, others' are not.
      for (const e of messages) if (e.kind === 'message') expect(e.own).toBe(e.from === m.id);
    }
    // The texts: every sender's 20, in send order, nothing else.
    const annMessages = streams.get(ann)!.filter((e) => e.kind === 'message');
    for (const [k, sender] of senders.entries()) {
      expect(annMessages.filter((e) => e.kind === 'message' && e.from === sender.id).map((e) => (e.kind === 'message' ? e.text : ''))).toEqual(
        range(0, perSender - 1).map((i) => `${'abc'[k]}${i}`),
      );
    }
  }, 45_000);
});

describe('membership', () => {
  it('adds, removes and leaves: each member sees exactly their part of the log; admin rules are enforced with typed errors', async () => {
    const ann = await member(nextPhone(), 'ann');
    const bob = await member(nextPhone(), 'bob');
    const cat = await member(nextPhone(), 'cat');
    const dan = await member(nextPhone(), 'dan');
    const names = new Map([
      [ann.id, 'ann'],
      [bob.id, 'bob'],
      [cat.id, 'cat'],
      [dan.id, 'dan'],
    ]);
    const g = (await ann.client.api.createGroup({ title: 'Members', members: [bob.id, cat.id] })).groupId;
    const send = async (m: Member, text: string) => (await m.client.sendGroupText(g, text).sent).gseq;
    const reached = (ms: Member[], gseq: number) =>
      eventually(() => {
        for (const m of ms) expect(entriesOf(m.log, g).at(-1)?.gseq).toBe(gseq);
      });

    expect(await send(ann, 'before 1')).toBe(3);
    expect(await send(bob, 'before 2')).toBe(4);
    await reached([ann, bob, cat], 4);

    // Plain members may not manage the group.
    await expectCode(bob.client.api.addGroupMembers(g, [dan.id]), 'not_group_admin', 403);
    await expectCode(bob.client.api.removeGroupMember(g, cat.id), 'not_group_admin', 403);
    await expectCode(bob.client.api.promoteAdmin(g, bob.id), 'not_group_admin', 403);
    await expectCode(bob.client.api.demoteAdmin(g, ann.id), 'not_group_admin', 403);
    await expectCode(bob.client.api.updateGroup(g, { title: 'Mine now' }), 'not_group_admin', 403);
    // The only admin cannot step down.
    await expectCode(ann.client.api.demoteAdmin(g, ann.id), 'last_admin', 409);
    // Outsiders see nothing.
    await expectCode(dan.client.api.group(g), 'not_group_member', 403);
    await expectCode(dan.client.groupHistory(g), 'not_group_member', 403);
    expect((await ann.client.api.group(g)).head).toBe(4); // failed actions left nothing in the log

    // Dan joins: he sees the log from the event naming him, nothing before.
    const afterAdd = await ann.client.api.addGroupMembers(g, [dan.id]);
    expect(afterAdd.members.map((m) => m.userId).sort()).toEqual([ann.id, bob.id, cat.id, dan.id].sort());
    expect(afterAdd.head).toBe(5);
    expect(await send(ann, 'after add 1')).toBe(6);
    expect(await send(dan, 'after add 2')).toBe(7);
    await reached([ann, bob, cat, dan], 7);
    expect((await dan.client.api.groups()).groups.find((x) => x.groupId === g)).toMatchObject({ role: 'member', memberCount: 4 });

    // Cat is removed: she gets her removal event and nothing after it.
    const afterRemove = await ann.client.api.removeGroupMember(g, cat.id);
    expect(afterRemove.members.map((m) => m.userId)).not.toContain(cat.id);
    await reached([cat], 8);
    const catSend = cat.client.sendGroupText(g, 'still here?');
    await expectCode(catSend.sent, 'not_group_member');
    expect(cat.log.failed.map((f) => f.clientId)).toEqual([catSend.clientId]);
    expect(await send(ann, 'after remove 1')).toBe(9);
    expect(await send(bob, 'after remove 2')).toBe(10);
    await expectCode(cat.client.api.group(g), 'not_group_member', 403);
    expect((await cat.client.api.groups()).groups.map((x) => x.groupId)).not.toContain(g);

    // Admin changes: Bob is promoted, then Ann may step down; Bob is now the last admin.
    await ann.client.api.promoteAdmin(g, bob.id);
    const afterDemote = await ann.client.api.demoteAdmin(g, ann.id);
    expect(afterDemote.members.filter((m) => m.role === 'admin').map((m) => m.userId)).toEqual([bob.id]);
    await expectCode(bob.client.api.demoteAdmin(g, bob.id), 'last_admin', 409);
    await expectCode(ann.client.api.addGroupMembers(g, [cat.id]), 'not_group_admin', 403);

    // Dan leaves: he gets his own member_left and nothing after.
    await dan.client.api.leaveGroup(g);
    expect(await send(bob, 'after leave')).toBe(14);
    await reached([ann, bob], 14);
    await reached([dan], 13);

    const expected = [
      '1 e created',
      '2 e members_added bob,cat',
      '3 m ann: before 1',
      '4 m bob: before 2',
      '5 e members_added dan',
      '6 m ann: after add 1',
      '7 m dan: after add 2',
      '8 e member_removed cat',
      '9 m ann: after remove 1',
      '10 m bob: after remove 2',
      '11 e admin_promoted bob',
      '12 e admin_demoted ann',
      '13 e member_left dan',
      '14 m bob: after leave',
    ];
    const seen = (m: Member) => entriesOf(m.log, g).map((e) => describeEntry(e, names));
    // Nothing more reaches Cat or Dan over a bounded wait after everyone else has the newest entry.
    await stays(() => {
      expect(seen(cat)).toEqual(expected.slice(1, 8));
      expect(seen(dan)).toEqual(expected.slice(4, 13));
    }, 750);
    expect(seen(ann)).toEqual(expected);
    expect(seen(bob)).toEqual(expected.slice(1));

    // Events name who did them.
    const byOf = (m: Member, gseq: number) => entriesOf(m.log, g).find((e) => e.gseq === gseq);
    expect(byOf(cat, 8)).toMatchObject({ kind: 'event', by: ann.id, change: { kind: 'member_removed', member: cat.id } });
    expect(byOf(dan, 13)).toMatchObject({ kind: 'event', by: dan.id, change: { kind: 'member_left', member: dan.id } });

    // History agrees with the live streams, for current and former members alike.
    await expectConsistent(ann, g, range(1, 14));
    await expectConsistent(bob, g, range(2, 14));
    await expectConsistent(cat, g, range(2, 8));
    await expectConsistent(dan, g, range(5, 13));
    const final = await bob.client.api.group(g);
    expect(final.members.map((m) => `${names.get(m.userId)}:${m.role}`).sort()).toEqual(['ann:member', 'bob:admin']);
    expect(final.head).toBe(14);

    // Cat is added back: she sees her new membership from the event naming her, nothing she missed.
    await bob.client.api.addGroupMembers(g, [cat.id]);
    expect(await send(bob, 'welcome back')).toBe(16);
    expect(await send(cat, 'glad to be back')).toBe(17);
    await reached([ann, bob, cat], 17);
    expect(seen(cat)).toEqual([...expected.slice(1, 8), '15 e members_added cat', '16 m bob: welcome back', '17 m cat: glad to be back']);
    await expectConsistent(cat, g, [...range(2, 8), 15, 16, 17]);
    expect(entriesOf(dan.log, g).at(-1)?.gseq).toBe(13);
  }, 30_000);

  it('members added and removed in the middle of a busy stream get exactly the log from / up to their event', async () => {
    const ann = await member(nextPhone(), 'ann');
    const bob = await member(nextPhone(), 'bob');
    const cat = await member(nextPhone(), 'cat'); // removed mid-stream, sending all along
    const dan = await member(nextPhone(), 'dan'); // added mid-stream, online
    const eve = await member(nextPhone(), 'eve', false); // added mid-stream, offline until the end
    const g = (await ann.client.api.createGroup({ title: 'Busy', members: [bob.id, cat.id] })).groupId;

    const rounds = 25;
    const sends: Array<Promise<{ gseq: number }>> = [];
    const catSends: Array<{ text: string; sent: Promise<{ gseq: number }> }> = [];
    let added: Promise<unknown> = Promise.resolve();
    let removed: Promise<unknown> = Promise.resolve();
    for (let i = 0; i < rounds; i++) {
      sends.push(ann.client.sendGroupText(g, `a${i}`).sent, bob.client.sendGroupText(g, `b${i}`).sent);
      catSends.push({ text: `c${i}`, sent: cat.client.sendGroupText(g, `c${i}`).sent });
      if (i === 8) added = ann.client.api.addGroupMembers(g, [dan.id, eve.id]);
      // After the add has answered: two unawaited requests may reach the group in either order.
      if (i === 16) removed = added.then(() => ann.client.api.removeGroupMember(g, cat.id));
      await sleep(3);
    }
    await Promise.all([...sends, added, removed]);
    const catResults = await Promise.allSettled(catSends.map((s) => s.sent));
    const head = (await ann.client.api.group(g)).head;

    await eventually(() => {
      for (const m of [ann, bob, dan]) expect(entriesOf(m.log, g).at(-1)?.gseq).toBe(head);
    }, 10_000);
    const annLive = entriesOf(ann.log, g);
    const addGseq = annLive.find((e) => e.kind === 'event' && e.change.kind === 'members_added' && e.change.members.includes(dan.id))!.gseq;
    const removeGseq = annLive.find((e) => e.kind === 'event' && e.change.kind === 'member_removed')!.gseq;
    expect(addGseq).toBeGreaterThan(2);
    expect(removeGseq).toBeGreaterThan(addGseq);

    // Cat's sends: those stored before her removal, in order, then only not_group_member.
    const stored = catResults.flatMap((r) => (r.status === 'fulfilled' ? [r.value.gseq] : []));
    const storedCount = stored.length;
    expect(catResults.slice(0, storedCount).every((r) => r.status === 'fulfilled')).toBe(true);
    for (const r of catResults.slice(storedCount)) {
      expect(r.status).toBe('rejected');
      if (r.status === 'rejected') expect((r.reason as MessengerError).code).toBe('not_group_member');
    }
    expect(stored.every((q) => q < removeGseq)).toBe(true);
    expect(stored).toEqual([...stored].sort((x, y) => x - y));
    expect(head).toBe(2 + 2 * rounds + storedCount + 2);

    await eve.client.connect();
    await eventually(() => expect(entriesOf(eve.log, g).at(-1)?.gseq).toBe(head));
    await eventually(() => expect(entriesOf(cat.log, g).at(-1)?.gseq).toBe(removeGseq));
    await stays(() => expect(entriesOf(cat.log, g).at(-1)?.gseq).toBe(removeGseq), 500);

    const annIds = new Map(annLive.map((e) => [e.gseq, e.id]));
    const views: Array<[Member, number[]]> = [
      [ann, range(1, head)],
      [bob, range(2, head)],
      [cat, range(2, removeGseq)],
      [dan, range(addGseq, head)],
      [eve, range(addGseq, head)],
    ];
    for (const [m, gseqs] of views) {
      const live = await expectConsistent(m, g, gseqs);
      expect(live.map((e) => e.id)).toEqual(gseqs.map((q) => annIds.get(q)));
    }
  }, 30_000);
});

describe('receipts', () => {
  it('tallies add up: delivered counts devices acking, read counts members reading; message info names exactly them', async () => {
    const ann = await member(nextPhone(), 'ann');
    const bobPhone = nextPhone();
    const bob1 = await member(bobPhone, 'bob-phone');
    const bob2 = await member(bobPhone, 'bob-laptop');
    const cat = await member(nextPhone(), 'cat');
    const dan = await member(nextPhone(), 'dan');
    const eve = await member(nextPhone(), 'eve', false); // offline until later
    const g = (await ann.client.api.createGroup({ title: 'Receipts', members: [bob1.id, cat.id, dan.id, eve.id] })).groupId;

    const m1 = await ann.client.sendGroupText(g, 'one').sent;
    const m2 = await ann.client.sendGroupText(g, 'two').sent;
    const m3 = await ann.client.sendGroupText(g, 'three').sent;
    const mine = [m1, m2, m3];
    const connected = [bob1, bob2, cat, dan];
    await eventually(() => {
      for (const m of connected) expect(entriesOf(m.log, g).filter((e) => e.kind === 'message').map((e) => e.id)).toEqual(mine.map((x) => x.messageId));
    });

    const tallies = (): Array<Omit<GroupTally, 'messageId'> | undefined> => {
      const latest = latestTallies(ann.log, g);
      return mine.map((x) => {
        const t = latest.get(x.messageId);
        return t === undefined ? undefined : { gseq: t.gseq, of: t.of, delivered: t.delivered, read: t.read };
      });
    };
    const expectTallies = (delivered: number[], read: number[]) =>
      expect(tallies()).toEqual(mine.map((x, i) => ({ gseq: x.gseq, of: 4, delivered: delivered[i], read: read[i] })));

    // Three of four members have it on a device (Bob twice, counted once); Eve's mailbox holds it, no device yet.
    await eventually(() => expectTallies([3, 3, 3], [0, 0, 0]));
    await stays(() => expectTallies([3, 3, 3], [0, 0, 0]), 500);

    await eve.client.connect();
    await eventually(() => expectTallies([4, 4, 4], [0, 0, 0]));

    // Bob reads everything on his phone, Cat everything, Dan only the first message.
    const seqOf = (m: Member, messageId: string) => entriesOf(m.log, g).find((e) => e.id === messageId)!.seq;
    const bobMarker = bob2.client.once('group_read_marker', (r) => r.group === g, { timeoutMs: 5_000 });
    bob1.client.markGroupRead(g, seqOf(bob1, m3.messageId));
    cat.client.markGroupRead(g, seqOf(cat, m3.messageId));
    dan.client.markGroupRead(g, seqOf(dan, m1.messageId));
    await eventually(() => expectTallies([4, 4, 4], [3, 2, 2]));
    // Bob's laptop learns the group was read on his phone (same mailbox, so the same seq).
    expect(await bobMarker).toMatchObject({ group: g, upTo: seqOf(bob1, m3.messageId) });
    expect(seqOf(bob2, m3.messageId)).toBe(seqOf(bob1, m3.messageId));
    // Bob reading again on his laptop is still one reader.
    bob2.client.markGroupRead(g, seqOf(bob2, m3.messageId));
    await stays(() => expectTallies([4, 4, 4], [3, 2, 2]), 500);

    // Message info: exactly who has it and who read it.
    const byUser = (list: Array<{ userId: string }>) => list.map((x) => x.userId).sort();
    const info1 = await ann.client.api.messageInfo(g, m1.messageId);
    expect(info1).toMatchObject({ messageId: m1.messageId, gseq: m1.gseq, tally: { of: 4, delivered: 4, read: 3 } });
    expect(byUser(info1.delivered)).toEqual([bob1.id, cat.id, dan.id, eve.id].sort());
    expect(byUser(info1.read)).toEqual([bob1.id, cat.id, dan.id].sort());
    const info3 = await ann.client.api.messageInfo(g, m3.messageId);
    expect(info3.tally).toMatchObject({ of: 4, delivered: 4, read: 2 });
    expect(byUser(info3.delivered)).toEqual([bob1.id, cat.id, dan.id, eve.id].sort());
    expect(byUser(info3.read)).toEqual([bob1.id, cat.id].sort());
    for (const x of [...info1.delivered, ...info1.read, ...info3.delivered, ...info3.read]) expect(x.at).toEqual(expect.any(Number));

    // Only the sender may ask.
    await expectCode(bob1.client.api.messageInfo(g, m1.messageId), 'not_message_sender', 403);
    await expectCode(eve.client.api.messageInfo(g, m3.messageId), 'not_message_sender', 403);

    // History carries the same state: the sender's tallies, the readers' read flags.
    const annHistory = (await fullGroupHistory(ann.client, g)).filter((h) => h.entry.type === 'message');
    expect(annHistory.map((h) => h.tally && { of: h.tally.of, delivered: h.tally.delivered, read: h.tally.read })).toEqual([
      { of: 4, delivered: 4, read: 3 },
      { of: 4, delivered: 4, read: 2 },
      { of: 4, delivered: 4, read: 2 },
    ]);
    const readFlags = async (m: Member) =>
      (await fullGroupHistory(m.client, g)).filter((h) => h.entry.type === 'message').map((h) => h.read);
    expect(await readFlags(bob2)).toEqual([true, true, true]);
    expect(await readFlags(cat)).toEqual([true, true, true]);
    expect(await readFlags(dan)).toEqual([true, false, false]);
    expect(await readFlags(eve)).toEqual([false, false, false]);
    // Receipts go to the sender only.
    for (const m of [bob1, bob2, cat, dan, eve]) expect(m.log.receipts).toEqual([]);
  }, 30_000);
});

describe('a large group', () => {
  it('more members than the direct fan-out limit (queue path): one order for everyone, every tally reaches delivered == of', async () => {
    const size = 36; // above GROUP_DIRECT_FANOUT_MAX (32 in wrangler.toml): fan-out goes through the queue
    const people = await Promise.all(range(1, size).map((i) => member(nextPhone(), `p${i}`)));
    const [owner, ...rest] = people;
    const g = (await owner!.client.api.createGroup({ title: 'Large', members: rest.map((m) => m.id) })).groupId;
    const senders = people.slice(0, 3);
    const perSender = 10;
    const sends: Array<{ sender: Member; sent: Promise<{ messageId: string; gseq: number }> }> = [];
    for (let i = 0; i < perSender; i++) {
      for (const sender of senders) sends.push({ sender, sent: sender.client.sendGroupText(g, `${i}`).sent });
      await sleep(2);
    }
    const acks = await Promise.all(sends.map((s) => s.sent));
    const head = 2 + acks.length;
    expect(acks.map((a) => a.gseq).sort((x, y) => x - y)).toEqual(range(3, head));

    await eventually(() => {
      for (const m of people) expect(entriesOf(m.log, g).at(-1)?.gseq).toBe(head);
    }, 15_000);
    const reference = entriesOf(owner!.log, g).filter((e) => e.gseq >= 2).map((e) => e.id);
    for (const m of people) {
      const live = entriesOf(m.log, g);
      expect(live.map((e) => e.gseq)).toEqual(range(m === owner ? 1 : 2, head));
      expect(live.filter((e) => e.gseq >= 2).map((e) => e.id)).toEqual(reference);
    }
    // Every sender learns that all 35 others have each of its messages.
    await eventually(() => {
      for (const sender of senders) {
        const latest = latestTallies(sender.log, g);
        const mine = acks.filter((_, i) => sends[i]!.sender === sender);
        expect(mine.map((a) => latest.get(a.messageId) && { of: latest.get(a.messageId)!.of, delivered: latest.get(a.messageId)!.delivered })).toEqual(
          mine.map(() => ({ of: size - 1, delivered: size - 1 })),
        );
      }
      // Tallies come back through the fan-out queue's batches: slow on a busy machine, not wrong.
    }, 20_000);
    // No fan-out job was dead-lettered (operators' metrics; the token is the dev value in wrangler.toml).
    const res = await fetch(`${suite.server().baseUrl}${PATHS.metrics}`, { headers: { Authorization: 'Bearer dev-only-metrics-token' } });
    expect(res.status).toBe(200);
    const metrics = MetricsSchema.parse(await res.json());
    expect(Object.values(metrics.deadLetters).reduce((a, b) => a + b, 0)).toBe(0);
  }, 60_000);
});

describe('receipts for a backlog', () => {
  it('a member who comes back to a long backlog: every one of the sender\'s tallies reaches delivered == of, then read == of', async () => {
    const ann = await member(nextPhone(), 'ann');
    const bob = await member(nextPhone(), 'bob', false);
    const cat = await member(nextPhone(), 'cat');
    const g = (await ann.client.api.createGroup({ title: 'Backlog', members: [bob.id, cat.id] })).groupId;
    const count = 300;
    const acks = await Promise.all(Array.from({ length: count }, (_, i) => ann.client.sendGroupText(g, `b${i}`).sent));
    const ids = acks.map((x) => x.messageId);
    const summary = (delivered: number, read: number) => {
      const latest = latestTallies(ann.log, g);
      return ids.filter((id) => {
        const t = latest.get(id);
        return t === undefined || t.of !== 2 || t.delivered !== delivered || t.read !== read;
      }).length;
    };
    // Cat is online: one of two has every message. (Tallies are pushed ~200 ms after acks; the
    // waits are generous because 300 messages' receipts take a while on a busy machine.)
    await eventually(() => expect(summary(1, 0), 'messages whose latest tally is not delivered 1 of 2').toBe(0), 20_000);
    // Bob comes back and takes the whole backlog at once.
    await bob.client.connect();
    await eventually(() => expect(entriesOf(bob.log, g).filter((e) => e.kind === 'message')).toHaveLength(count), 20_000);
    await eventually(() => expect(summary(2, 0), 'messages whose latest tally is not delivered 2 of 2').toBe(0), 20_000);
    // Both read everything in one go.
    bob.client.markGroupRead(g, entriesOf(bob.log, g).at(-1)!.seq);
    cat.client.markGroupRead(g, entriesOf(cat.log, g).at(-1)!.seq);
    await eventually(() => expect(summary(2, 2), 'messages whose latest tally is not read 2 of 2').toBe(0), 20_000);
  }, 90_000);
});

describe('idempotent group sends through the outbox', () => {
  it('one client id is one message for every member: repeated, from another device, resent after a reconnect or a restart of the app', async () => {
    const annPhone = nextPhone();
    const ann1 = await member(annPhone, 'ann-phone');
    const ann2 = await member(annPhone, 'ann-laptop');
    const bob = await member(nextPhone(), 'bob');
    const cat = await member(nextPhone(), 'cat');
    const g = (await ann1.client.api.createGroup({ title: 'Once', members: [bob.id, cat.id] })).groupId;

    // The same id twice while pending: one entry, one promise, one message.
    const first = ann1.client.sendGroupText(g, 'only once', { clientId: 'grp-same-id' });
    const second = ann1.client.sendGroupText(g, 'only once', { clientId: 'grp-same-id' });
    expect(second.clientId).toBe(first.clientId);
    const [a, b] = await Promise.all([first.sent, second.sent]);
    expect(b).toEqual(a);
    expect(a).toMatchObject({ id: 'grp-same-id', group: g, duplicate: false });
    // Again after it was confirmed (and its echo has arrived): the server answers with the original message.
    await eventually(() => expect(entriesOf(ann1.log, g).some((e) => e.id === a.messageId)).toBe(true));
    const again = await ann1.client.sendGroupText(g, 'only once', { clientId: 'grp-same-id' }).sent;
    expect(again).toMatchObject({ messageId: a.messageId, gseq: a.gseq, sentAt: a.sentAt, duplicate: true });
    // From the same user's other device: still the same message. (Once that device has the echo:
    // an echo arriving while the id is pending confirms it locally, reported as duplicate: false.)
    await eventually(() => expect(entriesOf(ann2.log, g).some((e) => e.id === a.messageId)).toBe(true));
    const other = await ann2.client.sendGroupText(g, 'only once', { clientId: 'grp-same-id' }).sent;
    expect(other).toMatchObject({ messageId: a.messageId, gseq: a.gseq, duplicate: true });
    // The same id for a different message is refused.
    await expectCode(ann1.client.sendGroupText(g, 'something else', { clientId: 'grp-same-id' }).sent, 'id_conflict', 409);

    // A burst, and the socket cut right behind it: the outbox resends what was not confirmed.
    const burst = Array.from({ length: 10 }, (_, i) => ann1.client.sendGroupText(g, `burst ${i}`, { clientId: `grp-burst-${i}` }));
    dropConnection(ann1.client);
    const burstAcks = await Promise.all(burst.map((s) => s.sent));
    expect(new Set(burstAcks.map((x) => x.messageId)).size).toBe(10);
    expect(burstAcks.map((x) => x.gseq)).toEqual(range(a.gseq + 1, a.gseq + 10));

    // The app restarts with an outbox that still holds an already-stored send: resent once more, stored once.
    const stale: OutboxEntry = { clientId: 'grp-burst-3', group: g, body: { kind: 'text', text: 'burst 3' }, createdAt: Date.now() };
    const restarted = new MessengerClient({
      baseUrl: suite.server().baseUrl,
      token: ann1.client.currentToken!,
      outboxStore: { load: () => [stale], save: () => undefined },
      backoff: { baseMs: 50, capMs: 1_000 },
    });
    ann1.client.close(); // the old instance of this device goes away, as it would on an app restart
    track(restarted);
    const restored = restarted.outbox.promise('grp-burst-3');
    expect(restored).toBeDefined();
    const restartedSent: string[] = [];
    restarted.on('group_sent', (s) => restartedSent.push(s.messageId));
    await restarted.connect();
    expect(await restored).toMatchObject({ type: 'group_sent', id: 'grp-burst-3', messageId: burstAcks[3]!.messageId, gseq: burstAcks[3]!.gseq });
    expect(restarted.pending()).toEqual([]);
    expect(restartedSent).toEqual([burstAcks[3]!.messageId]);

    // Every member (and both of Ann's devices) holds each message exactly once, live and in history.
    const expectedIds = [a.messageId, ...burstAcks.map((x) => x.messageId)];
    const head = a.gseq + 10;
    await eventually(() => {
      for (const m of [ann2, bob, cat]) expect(entriesOf(m.log, g).at(-1)?.gseq).toBe(head);
    });
    await stays(() => {
      for (const m of [ann2, bob, cat]) {
        const messages = entriesOf(m.log, g).filter((e) => e.kind === 'message');
        expect(messages.map((e) => e.id)).toEqual(expectedIds);
      }
    }, 300);
    for (const m of [ann2, bob, cat]) {
      const history = (await fullGroupHistory(m.client, g)).filter((h) => h.entry.type === 'message');
      expect(history.map(historyId)).toEqual(expectedIds);
      expect(history.map((h) => (h.entry.type === 'message' ? h.entry.message.clientId : ''))).toEqual([
        'grp-same-id',
        ...range(0, 9).map((i) => `grp-burst-${i}`),
      ]);
    }
    expect((await bob.client.api.group(g)).head).toBe(head);
    // group_sent once per stored message for the device that sent it.
    const ann1Sent = ann1.log.sent.map((s) => s.id);
    for (let i = 0; i < 10; i++) expect(ann1Sent.filter((id) => id === `grp-burst-${i}`)).toHaveLength(1);
  }, 30_000);
});

describe('consent: invites, invite links, the paged group list', () => {
  it("a stranger's add is an invite: nothing from the group arrives until it is accepted, then the log from member_joined on", async () => {
    const ann = await member(nextPhone(), 'ann');
    const zoe = await member(nextPhone(), 'zoe', true, true); // default privacy: only contacts add her
    const invites: GroupInviteFrame[] = [];
    zoe.client.on('group_invite', (frame) => invites.push(frame));

    const group = await ann.client.api.createGroup({ title: 'Consent', members: [zoe.id] });
    const g = group.groupId;
    expect(group.members.map((m) => m.userId)).toEqual([ann.id]);
    expect(group.invites).toMatchObject([{ userId: zoe.id, invitedBy: ann.id }]);
    await eventually(() => expect(invites).toMatchObject([{ type: 'group_invite', group: g, title: 'Consent', invitedBy: ann.id }]));
    expect((await zoe.client.api.invites()).invites).toMatchObject([{ groupId: g, title: 'Consent', invitedBy: ann.id, memberCount: 1 }]);

    // Not a member yet: nothing of the group reaches her, and she may not look.
    await ann.client.sendGroupText(g, 'before accepting').sent;
    await expectCode(zoe.client.api.group(g), 'not_group_member', 403);
    await stays(() => expect(entriesOf(zoe.log, g)).toEqual([]), 500);

    const joined = await zoe.client.api.acceptInvite(g);
    expect(joined.members.map((m) => m.userId).sort()).toEqual([ann.id, zoe.id].sort());
    expect((await ann.client.api.group(g)).invites).toEqual([]);
    expect((await zoe.client.api.invites()).invites).toEqual([]);
    await ann.client.sendGroupText(g, 'after accepting').sent;
    await eventually(() =>
      expect(entriesOf(zoe.log, g).map((e) => (e.kind === 'message' ? `m ${e.text}` : `e ${e.change.kind}`))).toEqual(['e member_joined', 'm after accepting']),
    );
    expect(entriesOf(zoe.log, g)[0]).toMatchObject({ by: zoe.id, change: { kind: 'member_joined', member: zoe.id, via: 'invite' } });
    // Declining is idempotent: with no invite left it changes nothing (she stays a member).
    await zoe.client.api.declineInvite(g);
    expect((await zoe.client.api.group(g)).members.map((m) => m.userId).sort()).toEqual([ann.id, zoe.id].sort());
  }, 30_000);

  it('a declined invite is gone for both sides; an admin can withdraw one', async () => {
    const ann = await member(nextPhone(), 'ann');
    const yan = await member(nextPhone(), 'yan', true, true);
    const xia = await member(nextPhone(), 'xia', true, true);
    const g = (await ann.client.api.createGroup({ title: 'Maybe', members: [yan.id, xia.id] })).groupId;
    expect((await ann.client.api.group(g)).invites.map((i) => i.userId).sort()).toEqual([yan.id, xia.id].sort());

    await yan.client.api.declineInvite(g);
    expect((await yan.client.api.invites()).invites).toEqual([]);
    const withdrawn = await ann.client.api.withdrawInvite(g, xia.id);
    expect(withdrawn.invites).toEqual([]);
    expect((await xia.client.api.invites()).invites).toEqual([]);
    await expectCode(xia.client.api.acceptInvite(g), 'invite_not_found', 404);
    expect((await ann.client.api.group(g)).members.map((m) => m.userId)).toEqual([ann.id]);
  }, 30_000);

  it('invite links: joining at once, asking when admins approve, approving and declining, revoking', async () => {
    const ann = await member(nextPhone(), 'ann');
    const bob = await member(nextPhone(), 'bob', true, true);
    const cat = await member(nextPhone(), 'cat', true, true);
    const dan = await member(nextPhone(), 'dan', true, true);
    const g = (await ann.client.api.createGroup({ title: 'Open door' })).groupId;
    expect(await ann.client.api.groupLink(g)).toBeNull();

    const open = await ann.client.api.createLink(g);
    expect(open).toMatchObject({ groupId: g, approval: false, createdBy: ann.id });
    expect(await ann.client.api.groupLink(g)).toEqual(open);
    expect(await bob.client.api.linkPreview(open.code)).toMatchObject({ groupId: g, title: 'Open door', memberCount: 1, approval: false });
    const bobJoined = await bob.client.api.joinByLink(open.code);
    expect(bobJoined).toMatchObject({ status: 'joined', group: { groupId: g } });
    await expectCode(bob.client.api.joinByLink(open.code), 'already_member', 409);

    // A new link replaces the old one; this one needs an admin's approval.
    const guarded = await ann.client.api.createLink(g, { approval: true });
    expect(guarded.code).not.toBe(open.code);
    await expectCode(cat.client.api.linkPreview(open.code), 'link_not_found', 404);
    expect(await cat.client.api.joinByLink(guarded.code)).toEqual({ status: 'requested', groupId: g });
    expect(await dan.client.api.joinByLink(guarded.code)).toEqual({ status: 'requested', groupId: g });
    await expectCode(cat.client.api.group(g), 'not_group_member', 403);
    await expectCode(bob.client.api.joinRequests(g), 'not_group_admin', 403);
    expect((await ann.client.api.joinRequests(g)).requests.map((r) => r.userId).sort()).toEqual([cat.id, dan.id].sort());

    const approved = await ann.client.api.approveRequest(g, cat.id);
    expect(approved.members.map((m) => m.userId).sort()).toEqual([ann.id, bob.id, cat.id].sort());
    await ann.client.api.declineRequest(g, dan.id);
    expect((await ann.client.api.joinRequests(g)).requests).toEqual([]);
    await expectCode(ann.client.api.approveRequest(g, dan.id), 'request_not_found', 404);
    await expectCode(dan.client.api.group(g), 'not_group_member', 403);
    await eventually(() =>
      expect(entriesOf(cat.log, g)[0]).toMatchObject({ kind: 'event', by: ann.id, change: { kind: 'member_joined', member: cat.id, via: 'request' } }),
    );

    await ann.client.api.revokeLink(g);
    expect(await ann.client.api.groupLink(g)).toBeNull();
    await expectCode(dan.client.api.joinByLink(guarded.code), 'link_not_found', 404);
  }, 30_000);

  it('the group list comes in pages, newest group first', async () => {
    const ann = await member(nextPhone(), 'ann');
    const ids: string[] = [];
    for (const title of ['one', 'two', 'three']) ids.push((await ann.client.api.createGroup({ title })).groupId);
    const first = await ann.client.api.groups({ limit: 2 });
    expect(first.groups.map((x) => x.title)).toEqual(['three', 'two']);
    expect(first.nextBefore).toBe(ids[1]);
    const second = await ann.client.api.groups({ before: first.nextBefore!, limit: 2 });
    expect(second).toEqual({ groups: [expect.objectContaining({ groupId: ids[0], title: 'one', role: 'admin', memberCount: 1 })], nextBefore: null });
  }, 30_000);
});
