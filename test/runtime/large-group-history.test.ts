/**
 * What a member reads of a large group (read diffusion: nothing after the switch is copied into
 * their mailbox): history pages that go from the group's log into the mailbox's copy, the chat
 * list (placed by time among other chats, unread counted from the log), reads by gseq (tallies,
 * the other devices' marker, clamping), joiners after the switch and removed members.
 * Runtime tests run with GROUP_LOG_DELIVERY_MIN=6 (vitest.config.ts).
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import {
  PATHS,
  type Conversation,
  type ConversationList,
  type GroupConversation,
  type GroupEntry,
  type GroupHistoryItem,
  type GroupHistoryPage,
  type GroupMessage,
  type SearchPage,
  type ServerFrame,
  type SessionResponse,
  type SinkPush,
} from '../../protocol/index.ts';
import { groupOf } from '../../durable-objects/stubs.ts';
import { call, createGroup, eventuallyCopy, gseqOf, openToGroups, settled, textsOf, users } from './group-support.ts';
import { connect, isType, text, type TestSocket } from './support.ts';

const THRESHOLD = Number(env.GROUP_LOG_DELIVERY_MIN);

function isSwitch(e: GroupEntry): boolean {
  return e.type === 'event' && e.event.change.kind === 'delivery_changed';
}

async function sendAll(socket: TestSocket, group: string, prefix: string, n: number): Promise<void> {
  const before = socket.of('group_sent').length;
  for (let i = 0; i < n; i++) socket.send({ type: 'group_send', id: `${prefix}-${i}`, group, body: text(`${prefix} ${i}`) });
  await socket.waitFor(isType('group_sent'), before + n, 10_000);
}

async function historyPage(session: SessionResponse, group: string, query: string): Promise<GroupHistoryPage> {
  const res = await call('GET', `${PATHS.groupHistory(group)}?${query}`, session);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as unknown as GroupHistoryPage;
}

/** Every history page of `group` for `session`, following both cursors; the items newest first, and the pages. */
async function wholeHistory(session: SessionResponse, group: string, limit: number): Promise<{ items: GroupHistoryItem[]; pages: GroupHistoryPage[] }> {
  const items: GroupHistoryItem[] = [];
  const pages: GroupHistoryPage[] = [];
  let query = `limit=${limit}`;
  for (let i = 0; i < 100; i++) {
    const page = await historyPage(session, group, query);
    pages.push(page);
    items.push(...page.entries);
    if (page.nextBeforeGseq != null) query = `limit=${limit}&beforeGseq=${page.nextBeforeGseq}`;
    else if (page.nextBefore !== null) query = `limit=${limit}&before=${page.nextBefore}`;
    else return { items, pages };
  }
  throw new Error('history never ended');
}

/** The group's log as `member` may see it, oldest first, without updates (what history shows). */
async function visibleLog(member: string, group: string): Promise<GroupEntry[]> {
  const entries: GroupEntry[] = [];
  let after = 0;
  for (;;) {
    const page = await groupOf(env, group).pull(member, after, 500);
    if (!page.ok) throw new Error(page.code);
    entries.push(...page.value.entries);
    if (page.value.through >= page.value.head) return entries.filter((e) => e.type !== 'update');
    after = page.value.through;
  }
}

async function chatList(session: SessionResponse): Promise<Conversation[]> {
  const res = await call('GET', `${PATHS.conversations}?limit=50`, session);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return (res.body as unknown as ConversationList).conversations;
}

function groupChat(list: readonly Conversation[], group: string): GroupConversation | undefined {
  return list.find((c): c is GroupConversation => c.kind === 'group' && c.group === group);
}

/** A group of 3 with `early` messages copied, then grown past the threshold (the switch), then `late` messages in its log. */
async function largeGroupWithHistory(early: number, late: number) {
  const people = await users(THRESHOLD + 2);
  const [ann, bob, cat, ...rest] = people as [SessionResponse, SessionResponse, SessionResponse, ...SessionResponse[]];
  const group = (await createGroup(ann, [bob, cat])).groupId;
  const a = await connect(ann);
  await sendAll(a, group, 'early', early);
  await openToGroups(...rest);
  expect((await call('POST', PATHS.groupMembers(group), ann, { members: rest.map((m) => m.userId) })).status).toBe(200);
  await sendAll(a, group, 'late', late);
  await settled(group, 10_000);
  // Copies up to the switch go through the fan-out queue: wait until they are in the mailboxes.
  for (const member of [bob, cat]) await eventuallyCopy(member, group, (entries) => entries.some(isSwitch), 10_000);
  const log = await visibleLog(bob.userId, group);
  const from = gseqOf(log.find(isSwitch)!);
  return { ann, bob, cat, rest, group, a, from, log };
}

describe('large groups: history, chat list and reads', () => {
  it('history pages go from the log (no seq) into the mailbox copy: every visible entry once, newest first, whatever the page size', async () => {
    const { ann, bob, group, a, from, log } = await largeGroupWithHistory(5, 23);
    const expected = log.map(gseqOf).reverse();
    for (const limit of [1, 7, 10, 50]) {
      const { items, pages } = await wholeHistory(bob, group, limit);
      expect(items.map((i) => gseqOf(i.entry))).toEqual(expected);
      expect(pages.every((p) => p.entries.length <= limit)).toBe(true);
      // Above the switch: read from the log, no mailbox seq. At and below it: the mailbox's copy.
      expect(items.every((i) => (gseqOf(i.entry) > from ? i.seq === null : i.seq !== null))).toBe(true);
    }
    const { items } = await wholeHistory(bob, group, 10);
    expect(textsOf(items.map((i) => i.entry).reverse())).toEqual([
      ...Array.from({ length: 5 }, (_, i) => `early ${i}`),
      ...Array.from({ length: 23 }, (_, i) => `late ${i}`),
    ]);
    // Others' messages are unread, events and one's own are not; own messages carry their tally.
    const others = items.filter((i) => i.entry.type === 'message');
    expect(others.every((i) => i.read === false && i.tally === null)).toBe(true);
    const annItems = (await wholeHistory(ann, group, 50)).items;
    const annLog = annItems.filter((i) => i.entry.type === 'message' && i.seq === null);
    expect(annLog).toHaveLength(23);
    expect(annLog.every((i) => i.read && i.tally !== null && i.tally.of === THRESHOLD + 1)).toBe(true);
    a.close();
  }, 60_000);

  it('the chat list shows a large group by its newest log entry, placed by time, with unread counted from both parts', async () => {
    const { bob, cat, group, a, from } = await largeGroupWithHistory(4, 6);
    const c = await connect(cat);
    c.send({ type: 'send', id: 'cat-late', to: bob.userId, body: text('after the group') });
    await c.waitFor(isType('sent'), 1, 10_000);
    const list = await chatList(bob);
    const mine = groupChat(list, group)!;
    expect(mine.last.seq).toBeNull();
    expect(textsOf([mine.last.entry])).toEqual(['late 5']);
    expect(mine.unread).toBe(10);
    expect(mine.log).toMatchObject({ from, readGseq: 0 });
    expect(mine.log!.head).toBe(gseqOf(mine.last.entry));
    // Cat's 1:1 message came after the group's newest entry: it is above the group.
    expect(list.map((x) => (x.kind === 'direct' ? x.peer : x.group))).toEqual([cat.userId, group]);
    // A later group message moves the group back to the top.
    await sendAll(a, group, 'newest', 1);
    const again = await chatList(bob);
    expect(again.map((x) => (x.kind === 'direct' ? x.peer : x.group))).toEqual([group, cat.userId]);
    expect(groupChat(again, group)!.unread).toBe(11);
    // Later pages (with `before`) never repeat a large group.
    const res = await call('GET', `${PATHS.conversations}?limit=50&before=${Number.MAX_SAFE_INTEGER}`, bob);
    expect((res.body as unknown as ConversationList).conversations.map((x) => x.kind)).toEqual(['direct']);
    for (const s of [a, c]) s.close();
  }, 60_000);

  it('a read by gseq moves unread, the tallies and the other devices; past the head it is clamped; bad frames change nothing', async () => {
    const { ann, bob, group, a, from } = await largeGroupWithHistory(2, 8);
    const b = await connect(bob);
    const mid = from + 4;
    // Neither or both of upTo and gseq: refused, nothing moves.
    b.send({ type: 'group_read', group, upTo: 1, gseq: mid });
    b.send({ type: 'group_read', group });
    const errors = await b.waitFor(isType('error'), 2, 5_000);
    expect(errors.map((e) => e.code)).toEqual(['validation_failed', 'validation_failed']);
    expect(groupChat(await chatList(bob), group)!.unread).toBe(10);

    b.send({ type: 'group_read', group, gseq: mid });
    const [marker] = await b.waitFor(isType('group_read_marker'), 1, 5_000);
    expect(marker).toMatchObject({ group, gseq: mid });
    // Both copied messages and the first four of the log are read.
    let mine = groupChat(await chatList(bob), group)!;
    expect(mine.log!.readGseq).toBe(mid);
    expect(mine.unread).toBe(4);
    await groupOf(env, group).flushTallies();
    const info = await call('GET', PATHS.groupMessageInfo(group, logMessageId(await wholeHistory(ann, group, 50), mid)), ann);
    expect(info.status, JSON.stringify(info.body)).toBe(200);
    expect((info.body as { read: Array<{ userId: string }> }).read.map((r) => r.userId)).toContain(bob.userId);
    // The sender's devices are told live, though their mailbox has no copy of the message to keep the count on.
    const midId = logMessageId(await wholeHistory(ann, group, 50), mid);
    const receipts = await a.waitFor(
      (f): f is Extract<typeof f, { type: 'group_receipt' }> => f.type === 'group_receipt' && f.tallies.some((t) => t.messageId === midId && t.read >= 1),
      1,
      10_000,
    );
    expect(receipts[0]!.group).toBe(group);

    // An older read moves nothing (no marker); one past the head is clamped to the head.
    b.send({ type: 'group_read', group, gseq: mid - 1 });
    b.send({ type: 'group_read', group, gseq: Number.MAX_SAFE_INTEGER });
    const markers = await b.waitFor(isType('group_read_marker'), 2, 5_000);
    mine = groupChat(await chatList(bob), group)!;
    expect(markers[1]!.gseq).toBe(mine.log!.head);
    expect(mine.log!.readGseq).toBe(mine.log!.head);
    expect(mine.unread).toBe(0);
    // History agrees: nothing of others' is unread.
    const { items } = await wholeHistory(bob, group, 50);
    expect(items.filter((i) => i.entry.type === 'message').every((i) => i.read)).toBe(true);
    // Reading past the head again moves nothing; once a newer entry reached bob's device live,
    // reading it works (the cap the group set lifts as the log moves).
    b.send({ type: 'group_read', group, gseq: Number.MAX_SAFE_INTEGER });
    await sendAll(a, group, 'later', 1);
    await b.waitFor((f): f is Extract<ServerFrame, { type: 'group_live' }> => f.type === 'group_live' && textsOf(f.entries).includes('later 0'), 1, 10_000);
    b.send({ type: 'group_read', group, gseq: mine.log!.head + 1 });
    const after = await b.waitFor(isType('group_read_marker'), 3, 5_000);
    expect(after).toHaveLength(3);
    expect(after[2]!.gseq).toBe(mine.log!.head + 1);
    expect(groupChat(await chatList(bob), group)!.unread).toBe(0);
    for (const s of [a, b]) s.close();
  }, 60_000);

  it('a member added after the switch sees the group in the chat list and its history from their joining; a removed member up to the removal', async () => {
    const { ann, cat, group, a, from } = await largeGroupWithHistory(2, 3);
    const [eve] = await users(1);
    await openToGroups(eve!);
    expect((await call('POST', PATHS.groupMembers(group), ann, { members: [eve!.userId] })).status).toBe(200);
    await sendAll(a, group, 'for-eve', 2);
    expect((await call('DELETE', PATHS.groupMember(group, cat.userId), ann)).status).toBe(200);
    await sendAll(a, group, 'after-cat', 2);
    await settled(group);

    const eveList = await chatList(eve!);
    const eveChat = groupChat(eveList, group)!;
    expect(textsOf([eveChat.last.entry])).toEqual(['after-cat 1']);
    expect(eveChat.unread).toBe(4);
    const eveHistory = (await wholeHistory(eve!, group, 10)).items.map((i) => i.entry).reverse();
    expect(eveHistory[0]).toMatchObject({ type: 'event', event: { change: { kind: 'members_added', members: [eve!.userId] } } });
    expect(textsOf(eveHistory)).toEqual(['for-eve 0', 'for-eve 1', 'after-cat 0', 'after-cat 1']);
    expect(eveHistory.every((e) => gseqOf(e) > from)).toBe(true);

    const catChat = groupChat(await chatList(cat), group)!;
    expect(catChat.last.entry).toMatchObject({ type: 'event', event: { change: { kind: 'member_removed', member: cat.userId } } });
    const catHistory = (await wholeHistory(cat, group, 4)).items.map((i) => i.entry).reverse();
    expect(textsOf(catHistory)).toEqual(['early 0', 'early 1', 'late 0', 'late 1', 'late 2', 'for-eve 0', 'for-eve 1']);
    // Someone who was never a member gets the same refusal as for any group they never had.
    const [stranger] = await users(1);
    const refused = await call('GET', PATHS.groupHistory(group), stranger!);
    expect(refused.status).toBe(403);
    expect((refused.body as { error: { code: string } }).error.code).toBe('not_group_member');
    a.close();
  }, 60_000);
});

/** The id of the message at `gseq` in a history read by its sender. */
function logMessageId(history: { items: GroupHistoryItem[] }, gseq: number): string {
  const item = history.items.find((i) => gseqOf(i.entry) === gseq);
  if (!item || item.entry.type !== 'message') throw new Error(`no message at ${gseq}`);
  return item.entry.message.id;
}

describe('large groups: stars and deletions for yourself', () => {
  it("stars and hides a log message with a mark (no copy): history, the starred list and the other devices agree; the group's later edit and deletion show through", async () => {
    const { bob, group, a, from } = await largeGroupWithHistory(1, 3);
    const b = await connect(bob);
    const history = await wholeHistory(bob, group, 50);
    const idAt = (gseq: number) => {
      const item = history.items.find((i) => gseqOf(i.entry) === gseq);
      if (!item || item.entry.type !== 'message') throw new Error(`no message at ${gseq}`);
      return item.entry.message.id;
    };
    const [starredId, hiddenId, keptId] = [idAt(from + 1), idAt(from + 2), idAt(from + 3)];
    const act = async (id: string, target: string, action: Record<string, unknown>) => {
      const answers = (f: ServerFrame): f is Extract<ServerFrame, { type: 'acted' | 'error' }> => (f.type === 'acted' || f.type === 'error') && f.id === id;
      const before = b.frames.filter(answers).length;
      b.send({ type: 'action', id, chat: { kind: 'group', group }, target, action } as never);
      const all = await b.waitFor(answers, before + 1, 10_000);
      return all[all.length - 1]!;
    };
    expect(await act('star-1', starredId, { kind: 'star', starred: true })).toMatchObject({ type: 'acted', duplicate: false });
    expect(await act('hide-1', hiddenId, { kind: 'delete', scope: 'me' })).toMatchObject({ type: 'acted', duplicate: false });
    // Again: a retry is a duplicate; hiding a hidden message again changes nothing; starring it is refused.
    expect(await act('star-1', starredId, { kind: 'star', starred: true })).toMatchObject({ type: 'acted', duplicate: true });
    expect(await act('hide-2', hiddenId, { kind: 'delete', scope: 'me' })).toMatchObject({ type: 'acted', duplicate: false });
    expect(await act('star-2', hiddenId, { kind: 'star', starred: true })).toMatchObject({ type: 'error', code: 'message_not_found' });
    // A message of a group bob never had: not found, nothing stored.
    expect(await act('star-3', '01KDWRXJW073T7HQZHV6ZFJ97P', { kind: 'star', starred: true })).toMatchObject({ type: 'error', code: 'message_not_found' });
    const updates = b.of('group_message_update');
    expect(updates.map((u) => [u.message.id, u.action])).toEqual([
      [starredId, { kind: 'star', starred: true }],
      [hiddenId, { kind: 'delete', scope: 'me' }],
    ]);
    expect(updates[1]!.message.body).toMatchObject({ kind: 'deleted', scope: 'me' });

    const after = (await wholeHistory(bob, group, 50)).items;
    const byId = (id: string) => after.find((i) => i.entry.type === 'message' && i.entry.message.id === id);
    expect(byId(starredId)!.entry).toMatchObject({ message: { starred: true } });
    expect(byId(hiddenId)).toBeUndefined();
    expect(byId(keptId)!.entry.type === 'message' && byId(keptId)!.entry).not.toHaveProperty('message.starred');
    const starredList = async () => (await call('GET', PATHS.starred, bob)).body as unknown as { messages: Array<{ chat: unknown; message: GroupMessage }> };
    expect((await starredList()).messages.map((m) => [m.chat, m.message.id, m.message.starred])).toEqual([[{ kind: 'group', group }, starredId, true]]);

    // Ann edits the starred message: the starred list shows it as it is now. Then deletes it for everyone: it leaves the list.
    a.send({ type: 'action', id: 'edit-1', chat: { kind: 'group', group }, target: starredId, action: { kind: 'edit', body: text('edited') } });
    await a.waitFor(isType('acted'), 1, 10_000);
    expect((await starredList()).messages[0]!.message.body).toEqual(text('edited'));
    a.send({ type: 'action', id: 'del-1', chat: { kind: 'group', group }, target: starredId, action: { kind: 'delete', scope: 'everyone' } });
    await a.waitFor(isType('acted'), 2, 10_000);
    expect((await starredList()).messages).toEqual([]);
    for (const s of [a, b]) s.close();
  }, 60_000);
});

describe('large groups: forwards', () => {
  it('a log message forwards into a 1:1 chat and another group (one hop more); a made-up id or a changed body is refused', async () => {
    const { bob, cat, group, a, from } = await largeGroupWithHistory(1, 2);
    const b = await connect(bob);
    const { items } = await wholeHistory(bob, group, 50);
    const original = items.find((i) => gseqOf(i.entry) === from + 1)!.entry;
    if (original.type !== 'message') throw new Error('expected a message');
    const { id, body } = original.message;
    if (body.kind === 'deleted') throw new Error('expected a live message');
    b.send({ type: 'send', id: 'fwd-1', to: cat.userId, body, forward: id });
    const [sent] = await b.waitFor(isType('sent'), 1, 10_000);
    const small = (await createGroup(bob, [cat])).groupId;
    b.send({ type: 'group_send', id: 'fwd-2', group: small, body, forward: id });
    await b.waitFor(isType('group_sent'), 1, 10_000);
    // Bob's copy comes in the answer itself (his connection was caught up).
    expect(sent!.message).toMatchObject({ id: sent!.messageId, clientId: 'fwd-1', forwarded: 1, body });
    const inGroup = await b.waitFor((f): f is Extract<ServerFrame, { type: 'group_message' }> => f.type === 'group_message' && f.message.clientId === 'fwd-2', 1, 10_000);
    expect(inGroup[0]?.message).toMatchObject({ forwarded: 1, body });
    // Refusals: an id no chat of bob's has, and a body that is not the original's.
    b.send({ type: 'send', id: 'fwd-3', to: cat.userId, body, forward: '01KDWRXJW073T7HQZHV6ZFJ97P' });
    b.send({ type: 'send', id: 'fwd-4', to: cat.userId, body: text('not the same'), forward: id });
    const errors = await b.waitFor(isType('error'), 2, 10_000);
    expect(errors.map((e) => [e.id, e.code]).sort()).toEqual([
      ['fwd-3', 'message_not_found'],
      ['fwd-4', 'forward_mismatch'],
    ]);
    for (const s of [a, b]) s.close();
  }, 60_000);
});

describe('large groups: search', () => {
  it("finds a large group's log messages (seq null, gseq) as the member may see them, pages through log then copies, and leaves out what they hid", async () => {
    const people = await users(THRESHOLD + 2);
    const [ann, bob, cat, ...rest] = people as [SessionResponse, SessionResponse, SessionResponse, ...SessionResponse[]];
    const group = (await createGroup(ann, [bob, cat])).groupId;
    const a = await connect(ann);
    await sendAll(a, group, 'kiwi-copied', 3);
    await openToGroups(...rest);
    expect((await call('POST', PATHS.groupMembers(group), ann, { members: rest.map((m) => m.userId) })).status).toBe(200);
    await sendAll(a, group, 'kiwi-log', 5);
    await sendAll(a, group, 'plum', 2);
    await settled(group, 10_000);
    for (const member of [bob, cat]) await eventuallyCopy(member, group, (entries) => entries.some(isSwitch), 10_000);
    // A 1:1 message with the same word, after all of it.
    a.send({ type: 'send', id: 'kiwi-direct', to: bob.userId, body: text('kiwi direct') });
    await a.waitFor(isType('sent'), 1, 10_000);
    const search = async (params: string) => {
      const res = await call('GET', `${PATHS.search}?${params}`, bob);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body as unknown as SearchPage;
    };
    // Everything: the 1:1 hit, the copies and the log's hits, newest first by time.
    const all = await search('q=kiwi&limit=20');
    expect(all.hits.map((h) => h.snippet)).toEqual([
      'kiwi direct',
      ...[4, 3, 2, 1, 0].map((i) => `kiwi-log ${i}`),
      ...[2, 1, 0].map((i) => `kiwi-copied ${i}`),
    ]);
    const logHits = all.hits.filter((h) => h.seq === null);
    expect(logHits).toHaveLength(5);
    expect(logHits.every((h) => h.gseq !== undefined && h.chat.kind === 'group' && h.from === ann.userId && h.highlights.length > 0)).toBe(true);
    // One group, two at a time: the log part by gseq, then the copies by seq; each hit once.
    const seen: string[] = [];
    let params = `q=kiwi&group=${group}&limit=2`;
    for (let i = 0; i < 10; i++) {
      const page = await search(params);
      seen.push(...page.hits.map((h) => h.snippet));
      if (page.nextBeforeGseq != null) params = `q=kiwi&group=${group}&limit=2&beforeGseq=${page.nextBeforeGseq}`;
      else if (page.nextBefore !== null) params = `q=kiwi&group=${group}&limit=2&before=${page.nextBefore}`;
      else break;
    }
    expect(seen).toEqual([...[4, 3, 2, 1, 0].map((i) => `kiwi-log ${i}`), ...[2, 1, 0].map((i) => `kiwi-copied ${i}`)]);
    // Filters apply to the log too; a hit bob deleted for himself is gone; ann's edit is found by its new text.
    expect((await search(`q=kiwi&group=${group}&from=${cat.userId}`)).hits).toEqual([]);
    const hidden = logHits[0]!.messageId;
    const b = await connect(bob);
    b.send({ type: 'action', id: 'hide', chat: { kind: 'group', group }, target: hidden, action: { kind: 'delete', scope: 'me' } });
    await b.waitFor(isType('acted'), 1, 10_000);
    expect((await search(`q=kiwi&group=${group}&limit=20`)).hits.map((h) => h.messageId)).not.toContain(hidden);
    const edited = logHits[1]!.messageId;
    a.send({ type: 'action', id: 'edit', chat: { kind: 'group', group }, target: edited, action: { kind: 'edit', body: text('mango now') } });
    await a.waitFor(isType('acted'), 1, 10_000);
    expect((await search('q=mango')).hits.map((h) => h.messageId)).toEqual([edited]);
    expect((await search(`q=kiwi&group=${group}&limit=20`)).hits.map((h) => h.messageId)).not.toContain(edited);
    // Someone added after these messages finds none of them.
    const [eve] = await users(1);
    await openToGroups(eve!);
    expect((await call('POST', PATHS.groupMembers(group), ann, { members: [eve!.userId] })).status).toBe(200);
    await settled(group);
    const eveSearch = await call('GET', `${PATHS.search}?q=kiwi`, eve!);
    expect((eveSearch.body as unknown as SearchPage).hits).toEqual([]);
    for (const s of [a, b]) s.close();
  }, 60_000);
});

describe('large groups: delivered ticks', () => {
  it('a live push that reached a connected device counts as delivered without a pull; one that reached no device does not', async () => {
    const { ann, bob, cat, group, a } = await largeGroupWithHistory(1, 1);
    const b = await connect(bob);
    await b.waitFor(isType('group_heads'), 1, 10_000);
    await sendAll(a, group, 'seen', 1);
    const [live] = await b.waitFor((f): f is Extract<typeof f, { type: 'group_live' }> => f.type === 'group_live' && textsOf(f.entries).includes('seen 0'), 1, 10_000);
    const id = live!.entries.find((e) => e.type === 'message')!;
    const messageId = id.type === 'message' ? id.message.id : '';
    // Bob never pulled: the push reaching his device is what counts. Cat had no device connected.
    await expect
      .poll(
        async () => {
          await groupOf(env, group).flushTallies();
          const info = await call('GET', PATHS.groupMessageInfo(group, messageId), ann);
          return (info.body as { delivered: Array<{ userId: string }> }).delivered.map((d) => d.userId);
        },
        { timeout: 15_000, interval: 200 },
      )
      .toContain(bob.userId);
    const info = await call('GET', PATHS.groupMessageInfo(group, messageId), ann);
    expect((info.body as { delivered: Array<{ userId: string }> }).delivered.map((d) => d.userId)).not.toContain(cat.userId);
    for (const s of [a, b]) s.close();
  }, 60_000);
});

describe('large groups: push notices for members away', () => {
  it('a member with no connected device gets a push for a large group message (the mailbox path never sees it); the sender none', async () => {
    const people = await users(THRESHOLD + 2);
    const [ann, bob, ...rest] = people as [SessionResponse, SessionResponse, ...SessionResponse[]];
    for (const p of [ann, bob]) {
      const res = await call('PUT', PATHS.pushToken, p, { platform: 'fcm', token: `large-${p.userId}` });
      expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
    }
    expect((await call('PATCH', PATHS.settings, bob, { notifications: { previews: true } })).status).toBe(200);
    const group = (await createGroup(ann, [bob, ...rest], { title: 'Big' })).groupId;
    await settled(group, 10_000);
    const a = await connect(ann);
    const [heads] = await a.waitFor(isType('group_heads'), 1, 10_000);
    expect(heads!.groups.map((g) => g.group)).toContain(group);
    await sendAll(a, group, 'ring', 1);
    const pushes = await sinkPushes(bob.userId, 1);
    expect(pushes[0]).toMatchObject({ kind: 'message', conversation: { kind: 'group', id: group }, title: 'Big', body: expect.stringContaining('ring 0') });
    // Ann is connected, and sent it: nothing for her.
    expect(await sinkPushes(ann.userId, 0)).toEqual([]);
    a.close();
  }, 60_000);
});

async function sinkPushes(userId: string, atLeast: number, timeoutMs = 15_000): Promise<SinkPush[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await call('GET', `${PATHS.pushSink}?userId=${userId}`, { token: 'dev-only-metrics-token' } as SessionResponse);
    const pushes = (res.body as unknown as { pushes: SinkPush[] }).pushes;
    if (pushes.length >= atLeast || Date.now() > deadline) return pushes;
    await new Promise((r) => setTimeout(r, 50));
  }
}
