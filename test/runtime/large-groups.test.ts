/**
 * Large groups by read diffusion (durable-objects/group/delivery.ts, mailbox/large-groups.ts).
 * Runtime tests run with GROUP_LOG_DELIVERY_MIN=6 (vitest.config.ts): a group of 7 or more members
 * switches. Checked: the switch with messages in flight (every entry reaches each member once,
 * by copy up to the switch and by live push or pull after it), mailboxes storing nothing after it,
 * joiners after the switch, a member offline for 10,000 messages catching up page by page, a
 * removed member's pull ending at the removal, and refusals that change nothing.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { GROUP_PULL_MAX, PATHS, type GroupEntry, type SessionResponse } from '../../protocol/index.ts';
import type { GroupChat } from '../../durable-objects/group-chat.ts';
import { groupOf, mailboxOf } from '../../durable-objects/stubs.ts';
import { call, createGroup, eventuallyCopy, gseqOf, mailboxCopy, openToGroups, settled, textsOf, users } from './group-support.ts';
import { connect, isType, login, text, type TestSocket } from './support.ts';

const THRESHOLD = Number(env.GROUP_LOG_DELIVERY_MIN);

/** Pull `group` from `after` to its head on `socket`, page by page; every page's entries in order. */
async function pullAll(socket: TestSocket, group: string, after: number, limit = GROUP_PULL_MAX): Promise<{ entries: GroupEntry[]; pages: number; through: number }> {
  const entries: GroupEntry[] = [];
  let from = after;
  let pages = 0;
  for (;;) {
    const id = `pull-${group.slice(-6)}-${from}-${pages}-${Math.random().toString(36).slice(2, 8)}`;
    socket.send({ type: 'group_pull', id, group, after: from, limit });
    const [answer] = await socket.waitFor((f): f is Extract<typeof f, { type: 'group_entries' }> => f.type === 'group_entries' && f.id === id, 1, 10_000);
    pages++;
    entries.push(...answer!.entries);
    expect(answer!.through).toBeGreaterThanOrEqual(from);
    if (answer!.through >= answer!.head) return { entries, pages, through: answer!.through };
    from = answer!.through;
  }
}

/** What a member's devices got: mailbox copies (group frames with seq) and live pushes, by gseq. */
function liveGseqs(socket: TestSocket, group: string): number[] {
  return socket.of('group_live').filter((f) => f.group === group).flatMap((f) => f.entries.map(gseqOf));
}

/** The group's whole log as one member may see it (through the same rule as a pull, from 0). */
async function logSeenBy(member: string, group: string): Promise<GroupEntry[]> {
  const entries: GroupEntry[] = [];
  let after = 0;
  for (;;) {
    const page = await groupOf(env, group).pull(member, after, GROUP_PULL_MAX);
    if (!page.ok) throw new Error(page.code);
    entries.push(...page.value.entries);
    if (page.value.through >= page.value.head) return entries;
    after = page.value.through;
  }
}

async function addMembers(admin: SessionResponse, group: string, members: SessionResponse[]): Promise<void> {
  await openToGroups(...members);
  const res = await call('POST', PATHS.groupMembers(group), admin, { members: members.map((m) => m.userId) });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

function isSwitch(e: GroupEntry): boolean {
  return e.type === 'event' && e.event.change.kind === 'delivery_changed';
}

function sendAll(socket: TestSocket, group: string, prefix: string, n: number): void {
  for (let i = 0; i < n; i++) socket.send({ type: 'group_send', id: `${prefix}-${i}`, group, body: text(`${prefix} ${i}`) });
}

describe('large groups: the switch to read diffusion', () => {
  it('runs with a low threshold here', () => {
    expect(THRESHOLD).toBe(6);
  });

  it('switches once when the group grows past the threshold, with messages in flight; every member gets every entry once', async () => {
    const people = await users(THRESHOLD + 2);
    const [ann, bob, cat, ...later] = people as [SessionResponse, SessionResponse, SessionResponse, ...SessionResponse[]];
    const group = (await createGroup(ann, [bob, cat])).groupId;
    const a = await connect(ann);
    const b = await connect(bob);
    // Messages in flight on both sides of the switch: sent before, while and after it grows.
    sendAll(a, group, 'before', 10);
    const growing = addMembers(ann, group, later);
    sendAll(b, group, 'during', 10);
    await growing;
    sendAll(a, group, 'after', 10);
    await a.waitFor(isType('group_sent'), 20, 10_000);
    await b.waitFor(isType('group_sent'), 10, 10_000);
    await settled(group, 10_000);

    // One switch, recorded where it happened.
    const everything = await logSeenBy(ann.userId, group);
    const switches = everything.filter(isSwitch);
    expect(switches).toHaveLength(1);
    const from = gseqOf(switches[0]!);
    const head = gseqOf(everything[everything.length - 1]!);
    expect(textsOf(everything).sort()).toEqual([...Array.from({ length: 10 }, (_, i) => [`before ${i}`, `during ${i}`, `after ${i}`]).flat()].sort());

    // Mailboxes stored copies up to the switch and nothing after it.
    // (Copies of groups this size go through the fan-out queue: wait for the last one.)
    const copy = await eventuallyCopy(bob, group, (e) => e.some(isSwitch));
    const bobSees = await logSeenBy(bob.userId, group);
    expect(copy.map(gseqOf)).toEqual(bobSees.filter((e) => gseqOf(e) <= from).map(gseqOf));
    expect(copy.every((e) => gseqOf(e) <= from)).toBe(true);

    // A connected member was told where the group became large, and pulling from there gives the
    // rest: copies + pulled = the whole log, each entry once, in order.
    const heads = await b.waitFor(isType('group_heads'), 1, 5_000);
    expect(heads[0]!.groups).toEqual([expect.objectContaining({ group, from })]);
    const pulled = await pullAll(b, group, from);
    expect([...copy, ...pulled.entries].map(gseqOf)).toEqual(bobSees.map(gseqOf));
    // What was pushed live after the device learned of the switch is in that same order, no entry twice.
    const live = liveGseqs(b, group);
    expect(new Set(live).size).toBe(live.length);
    expect(live.every((g) => g > from && g <= head)).toBe(true);
    expect(live).toEqual([...live].sort((x, y) => x - y));

    // Someone added in the growth has a copy of their joining and of the switch (the same change).
    const dan = later[0]!;
    const danCopy = await eventuallyCopy(dan, group, (e) => e.some(isSwitch));
    expect(danCopy.map((e) => (e.type === 'event' ? e.event.change.kind : e.type))).toEqual(['members_added', 'delivery_changed']);
    // Someone added after the switch has no copy at all: they are told the group is large and pull from their joining.
    const [eve] = await users(1);
    await addMembers(ann, group, [eve!]);
    await settled(group);
    const e = await connect(eve!);
    const eveHeads = await e.waitFor(isType('group_heads'), 1, 5_000);
    expect(eveHeads[0]!.groups[0]).toMatchObject({ group, from, head: head + 1 });
    expect(await mailboxCopy(eve!, group)).toEqual([]);
    const evePulled = await pullAll(e, group, from);
    expect(evePulled.entries).toHaveLength(1);
    expect(evePulled.entries[0]).toMatchObject({ type: 'event', event: { gseq: head + 1, change: { kind: 'members_added', members: [eve!.userId] } } });
    for (const s of [a, b, e]) s.close();
  }, 60_000);

  it('pushes new entries live to connected members (no mailbox write) and stops pushing to those who went away', async () => {
    const people = await users(THRESHOLD + 1);
    const [ann, bob, cat, ...rest] = people as [SessionResponse, SessionResponse, SessionResponse, ...SessionResponse[]];
    const group = (await createGroup(ann, [bob, cat, ...rest])).groupId;
    await settled(group);
    const b = await connect(bob);
    const [heads] = await b.waitFor(isType('group_heads'), 1, 5_000);
    const { from, head } = heads!.groups[0]!;
    expect(head).toBe(from);
    const headBefore = (await mailboxOf(env, bob.userId).stats()).head;

    const a = await connect(ann);
    await a.waitFor(isType('group_heads'), 1, 5_000);
    sendAll(a, group, 'live', 5);
    await a.waitFor(isType('group_sent'), 5, 10_000);
    await settled(group);
    const deadline = performance.now() + 5_000;
    while (liveGseqs(b, group).length < 5 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(liveGseqs(b, group)).toEqual([from + 1, from + 2, from + 3, from + 4, from + 5]);
    // Each frame says which range of the log it covers: consecutive frames continue each other.
    const frames = b.of('group_live').filter((f) => f.group === group);
    expect(frames[0]!.after).toBe(from);
    for (let i = 1; i < frames.length; i++) expect(frames[i]!.after).toBe(frames[i - 1]!.through);
    // Bob's mailbox stored nothing for them; the sender's either (her devices get them live too).
    expect((await mailboxOf(env, bob.userId).stats()).head).toBe(headBefore);
    expect(textsOf(a.of('group_live').flatMap((f) => f.entries))).toEqual(['live 0', 'live 1', 'live 2', 'live 3', 'live 4']);

    // Bob goes away: the next push finds no device and the group drops him from its online list.
    b.close();
    await b.waitClosed();
    const online = () =>
      runInDurableObject(groupOf(env, group), (_i, state) => state.storage.sql.exec<{ user_id: string }>('SELECT user_id FROM online').toArray().map((r) => r.user_id));
    expect(await online()).toContain(bob.userId);
    const drop = performance.now() + 5_000;
    let i = 0;
    while ((await online()).includes(bob.userId) && performance.now() < drop) {
      a.send({ type: 'group_send', id: `poke-${i++}`, group, body: text('anyone?') });
      await settled(group);
    }
    expect(await online()).not.toContain(bob.userId);
    expect(await online()).toContain(ann.userId);
    a.close();
  }, 60_000);

  it('a member offline for 10,000 messages catches up in order, once, in pages', async () => {
    const people = await users(THRESHOLD + 1);
    const [ann, bob, ...rest] = people as [SessionResponse, SessionResponse, ...SessionResponse[]];
    const group = (await createGroup(ann, [bob, ...rest])).groupId;
    await settled(group);
    const stub = groupOf(env, group);
    const N = 10_000;
    // Posted inside the group object (what a sender's mailbox asks by RPC), in one turn: one commit.
    const posted = await runInDurableObject(stub, async (instance: GroupChat) => {
      let ok = 0;
      for (let i = 0; i < N; i++) {
        const r = await instance.post({ sender: ann.userId, device: ann.deviceId, clientId: `m-${i}`, body: text(`m ${i}`) });
        if (r.ok) ok++;
      }
      return ok;
    });
    expect(posted).toBe(N);
    await settled(group, 30_000);
    // Nothing of it reached Bob's mailbox: the switch is the last entry there.
    const copy = await eventuallyCopy(bob, group, (e) => e.some(isSwitch));
    const from = gseqOf(copy[copy.length - 1]!);
    expect(copy[copy.length - 1]).toMatchObject({ type: 'event', event: { change: { kind: 'delivery_changed' } } });

    const b = await connect(bob);
    const [heads] = await b.waitFor(isType('group_heads'), 1, 5_000);
    expect(heads!.groups[0]).toMatchObject({ group, from, head: from + N });
    const pulled = await pullAll(b, group, from);
    expect(pulled.pages).toBe(N / GROUP_PULL_MAX);
    expect(pulled.through).toBe(from + N);
    expect(pulled.entries.map(gseqOf)).toEqual(Array.from({ length: N }, (_, i) => from + 1 + i));
    expect(textsOf(pulled.entries)).toEqual(Array.from({ length: N }, (_, i) => `m ${i}`));
    // Pulling is the delivered receipt: the group learns how far Bob's device holds the log.
    const deadline = performance.now() + 5_000;
    let delivered = 0;
    while (performance.now() < deadline) {
      delivered = await runInDurableObject(stub, (_i, state) =>
        state.storage.sql.exec<{ d: number }>('SELECT delivered_gseq AS d FROM members WHERE user_id = ?', bob.userId).one().d,
      );
      if (delivered >= from + N - GROUP_PULL_MAX) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(delivered).toBe(from + N - GROUP_PULL_MAX);
    b.close();
  }, 180_000);

  it("a removed member's pull stops at their removal, and nothing is pushed to them after it", async () => {
    const people = await users(THRESHOLD + 2);
    const [ann, bob, cat, ...rest] = people as [SessionResponse, SessionResponse, SessionResponse, ...SessionResponse[]];
    const group = (await createGroup(ann, [bob, cat, ...rest])).groupId;
    await settled(group);
    const a = await connect(ann);
    const c = await connect(cat);
    const [heads] = await c.waitFor(isType('group_heads'), 1, 5_000);
    const from = heads!.groups[0]!.from;
    sendAll(a, group, 'kept', 3);
    await a.waitFor(isType('group_sent'), 3, 10_000);
    expect((await call('DELETE', PATHS.groupMember(group, cat.userId), ann)).status).toBe(200);
    sendAll(a, group, 'hidden', 3);
    await a.waitFor(isType('group_sent'), 6, 10_000);
    await settled(group);

    const pulled = await pullAll(c, group, from);
    expect(textsOf(pulled.entries)).toEqual(['kept 0', 'kept 1', 'kept 2']);
    const last = pulled.entries[pulled.entries.length - 1]!;
    expect(last).toMatchObject({ type: 'event', event: { change: { kind: 'member_removed', member: cat.userId } } });
    // The answer still reaches the head (nothing after the removal is theirs).
    expect(pulled.through).toBe(from + 3 + 1 + 3);
    // Live: at most up to the removal event, never what came after.
    expect(textsOf(c.of('group_live').flatMap((f) => f.entries))).not.toContain('hidden 0');
    expect(liveGseqs(c, group).every((g) => g <= gseqOf(last))).toBe(true);
    // A reconnect reports the head as far as they may see.
    c.close();
    const c2 = await connect(cat);
    const [again] = await c2.waitFor(isType('group_heads'), 1, 5_000);
    expect(again!.groups[0]).toMatchObject({ group, head: gseqOf(last) });
    for (const s of [a, c2]) s.close();
  }, 60_000);

  it('a device logged in without history pulls nothing of a large group from before its login', async () => {
    const people = await users(THRESHOLD + 1);
    const [ann, bob, ...rest] = people as [SessionResponse, SessionResponse, ...SessionResponse[]];
    const group = (await createGroup(ann, [bob, ...rest])).groupId;
    await settled(group);
    const a = await connect(ann);
    await a.waitFor(isType('group_heads'), 1, 5_000);
    sendAll(a, group, 'old', 3);
    await a.waitFor(isType('group_sent'), 3, 10_000);
    // Bob logs in on a new phone without his PIN: no history on that device.
    const phone = (await call('GET', PATHS.me, bob)).body.phone as string;
    await new Promise((r) => setTimeout(r, 5));
    const second = await login(phone, 'new phone');
    expect(second.history).toBe(false);
    await new Promise((r) => setTimeout(r, 5));
    sendAll(a, group, 'new', 2);
    await a.waitFor(isType('group_sent'), 5, 10_000);
    await settled(group);
    const b2 = await connect(second);
    const [heads] = await b2.waitFor(isType('group_heads'), 1, 5_000);
    const pulled = await pullAll(b2, group, heads!.groups[0]!.from);
    expect(textsOf(pulled.entries)).toEqual(['new 0', 'new 1']);
    // His old device still pulls everything.
    const b1 = await connect(bob);
    const all = await pullAll(b1, group, heads!.groups[0]!.from);
    expect(textsOf(all.entries)).toEqual(['old 0', 'old 1', 'old 2', 'new 0', 'new 1']);
    for (const s of [a, b1, b2]) s.close();
  }, 60_000);

  it('refuses pulls of unknown groups, by outsiders and past the rate limit, with typed errors and no object created', async () => {
    const people = await users(THRESHOLD + 2);
    const [ann, outsider, ...rest] = people as [SessionResponse, SessionResponse, ...SessionResponse[]];
    const group = (await createGroup(ann, rest)).groupId;
    await settled(group);
    const o = await connect(outsider);
    const unknown = '01JZZZZZZZZZZZZZZZZZZZZZZZ';
    o.send({ type: 'group_pull', id: 'p-unknown', group: unknown, after: 0 });
    o.send({ type: 'group_pull', id: 'p-outsider', group, after: 0 });
    o.send({ type: 'group_pull', id: 'p-bad', group, after: -1 } as never);
    const errors = await o.waitFor(isType('error'), 3, 5_000);
    expect(errors.map((e) => [e.id, e.code]).sort()).toEqual([
      ['p-bad', 'validation_failed'],
      ['p-outsider', 'not_group_member'],
      ['p-unknown', 'group_not_found'],
    ]);
    expect(o.of('group_entries')).toEqual([]);
    const created = await runInDurableObject(groupOf(env, unknown), (_i, state) =>
      state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'log'").one().n,
    );
    expect(created).toBe(0);

    // A member pulling in a loop meets the per-device limit (a typed, retryable refusal).
    const a = await connect(ann);
    for (let i = 0; i < 130; i++) a.send({ type: 'group_pull', id: `flood-${i}`, group, after: 0, limit: 1 });
    const limited = await a.waitFor((f): f is Extract<typeof f, { type: 'error' }> => f.type === 'error' && f.code === 'rate_limited', 1, 10_000);
    expect(limited[0]!.id).toMatch(/^flood-/);
    expect(limited[0]!.retryAfterMs).toBeGreaterThan(0);
    for (const s of [o, a]) s.close();
  }, 60_000);
});
