/**
 * What a large group's requests cost at 1,000, 10,000 and 100,000 members: the group object's
 * RPCs (view, a member page, post, typing, stats, an add of GROUP_MEMBERS_PER_REQUEST with its
 * D1 mirror update) and the D1 mirror rewritten whole (what every change did before the mirror
 * was updated by the rows a change touched). Members are seeded straight into the object's
 * SQLite and D1 (test-only: the object and the Worker never see made-up accounts otherwise), so
 * a size costs seconds, not the hours of adds it would take. Prints the medians (ms, measured
 * around each awaited call: workerd's clock moves with I/O); asserts only what is answered.
 */
import { evictDurableObject, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { GROUP_MEMBERS_PER_REQUEST, GROUP_VIEW_MEMBERS_MAX } from '../../protocol/index.ts';
import { syncGroupMirror } from '../../db/groups.ts';
import type { GroupChat } from '../../durable-objects/group-chat.ts';
import { groupOf } from '../../durable-objects/stubs.ts';
import { createGroup, users } from './group-support.ts';
import { text } from './support.ts';

const THRESHOLD = Number(env.GROUP_LOG_DELIVERY_MIN);
const SIZES = [1_000, 10_000, 100_000];

/** A made-up user id: `prefix` (3 characters) and `i`, 26 ULID characters. */
const idOf = (prefix: string, i: number) => `${prefix}${String(i).padStart(23, '0')}`;

/** Seed users `prefix`+1 … +n into D1 (one statement) and, as members, into the group's SQLite. */
async function seed(group: string, prefix: string, n: number): Promise<void> {
  await env.DB.prepare(
    `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?1)
     INSERT INTO users (id, phone, created_at, updated_at) SELECT ?2 || printf('%023d', i), '+1' || ?3 || printf('%09d', i), 0, 0 FROM s`,
  )
    .bind(n, prefix, String(prefix.charCodeAt(1)))
    .run();
  await runInDurableObject(groupOf(env, group) as DurableObjectStub<GroupChat>, (_instance, state) => {
    const head = state.storage.sql.exec<{ head: number }>('SELECT max(gseq) AS head FROM log').one().head;
    state.storage.sql.exec(
      `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?1)
       INSERT INTO members (user_id, role, joined_gseq, joined_at, delivered_gseq, read_gseq, active_at)
       SELECT ?2 || printf('%023d', i), 'member', ?3, 0, ?3 - 1, ?3 - 1, 0 FROM s`,
      n,
      prefix,
      head,
    );
  });
  // Drop the object's in-memory state (its member count) so it starts from what is stored.
  await evictDurableObject(groupOf(env, group));
}

async function median(times: number, work: (i: number) => Promise<unknown>): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < times; i++) {
    const t0 = Date.now();
    await work(i);
    ms.push(Date.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)]!;
}

describe('large group request costs by size', () => {
  it('measures the group object at 1k / 10k / 100k members', { timeout: 600_000 }, async () => {
    const rows: string[] = [];
    let prefixCode = 0;
    for (const size of SIZES) {
      const [ann, ...others] = await users(THRESHOLD + 1);
      const group = await createGroup(ann!, others);
      const stub = groupOf(env, group.groupId);
      const prefix = `0${'ABCDEFGH'[prefixCode++]}Z`;
      // Three adds and three invites of GROUP_MEMBERS_PER_REQUEST (of 64 at 1,000 seats, where that many would not fit).
      const per = size >= 10_000 ? GROUP_MEMBERS_PER_REQUEST : 64;
      const extra = 3 * per;
      // Seeded to `size` seats less the adds and invites measured first, which bring it to `size`
      // (members: size - invites).
      const members = size - extra;
      await seed(group.groupId, prefix, members - (THRESHOLD + 1) - extra);
      // Adds of real (seeded) accounts: each updates the D1 mirror for the people it added.
      const addPrefix = `0${'JKMNPQRS'[prefixCode - 1]}Z`;
      await env.DB.prepare(
        `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?1)
         INSERT INTO users (id, phone, created_at, updated_at) SELECT ?2 || printf('%023d', i), '+2' || ?3 || printf('%09d', i), 0, 0 FROM s`,
      )
        .bind(extra, addPrefix, String(prefixCode))
        .run();
      const add = await median(3, async (b) => {
        const batch = Array.from({ length: per }, (_, i) => idOf(addPrefix, b * per + i + 1));
        const added = await stub.addMembers(ann!.userId, { direct: batch, invite: [], quiet: [] });
        expect(added.ok, JSON.stringify(added).slice(0, 300)).toBe(true);
      });
      // The adds' fan-out (telling the new members' mailboxes, created here by the first call) runs after
      // the answers and shares this machine's one thread: let it finish before timing the rest.
      for (let i = 0; i < 600 && (await stub.stats()).backlog > 0; i++) await new Promise((r) => setTimeout(r, 100));
      const quietIds = Array.from({ length: extra }, (_, i) => idOf(addPrefix, extra + i + 1));
      await env.DB.prepare(
        `WITH RECURSIVE s(i) AS (SELECT ?1 + 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?1 + ?2)
         INSERT INTO users (id, phone, created_at, updated_at) SELECT ?3 || printf('%023d', i), '+2' || ?4 || printf('%09d', i), 0, 0 FROM s`,
      )
        .bind(extra, quietIds.length, addPrefix, String(prefixCode))
        .run();
      // Invites that tell nobody (quiet): the object's own work and its D1 mirror update.
      const invite = await median(3, async (b) => {
        const batch = quietIds.slice(b * per, (b + 1) * per);
        expect((await stub.addMembers(ann!.userId, { direct: [], invite: [], quiet: batch })).ok).toBe(true);
      });
      expect((await stub.stats()).members).toBe(members);
      // What the view cost before it was capped: every member, read and sent.
      const uncapped = await median(3, () =>
        runInDurableObject(stub as DurableObjectStub<GroupChat>, (_i, state) => state.storage.sql.exec('SELECT * FROM members ORDER BY joined_gseq, user_id').toArray()),
      );
      await stub.view(ann!.userId); // wake
      const view = await median(5, () => stub.view(ann!.userId));
      const got = await stub.view(ann!.userId);
      expect(got.ok && [got.value.memberCount, got.value.members.length]).toEqual([members, Math.min(members, GROUP_VIEW_MEMBERS_MAX)]);
      const page = await median(5, () => stub.memberPage(ann!.userId, idOf(prefix, members >> 1), 200));
      const post = await median(10, (i) => stub.post({ sender: ann!.userId, device: ann!.deviceId, clientId: `scale-${size}-${i}`, body: text(`m${i}`) }));
      const typing = await median(5, (i) => stub.typing(ann!.userId, i % 2 === 0 ? 'typing' : 'stopped'));
      const stats = await median(5, () => stub.stats());
      const mirrored = await env.DB.prepare('SELECT count(*) AS n FROM group_members WHERE group_id = ?').bind(group.groupId).first<{ n: number }>();
      // The first sync (at creation) wrote the creator and the real members; adds since, their rows.
      expect(mirrored?.n).toBe(THRESHOLD + 1 + extra);
      const invitesMirrored = await env.DB.prepare('SELECT count(*) AS n FROM group_invites WHERE group_id = ?').bind(group.groupId).first<{ n: number }>();
      expect(invitesMirrored?.n).toBe(quietIds.length);
      // The whole mirror rewritten once, as every change did before.
      const all = await runInDurableObject(stub as DurableObjectStub<GroupChat>, (_i, state) =>
        state.storage.sql.exec<{ user_id: string; role: 'admin' | 'member'; joined_at: number }>('SELECT user_id, role, joined_at FROM members').toArray(),
      );
      const t0 = Date.now();
      await syncGroupMirror(env.DB, {
        groupId: group.groupId,
        title: group.title,
        picture: null,
        createdBy: ann!.userId,
        createdAt: group.createdAt,
        updatedAt: Date.now(),
        members: all.map((m) => ({ userId: m.user_id, role: m.role, joinedAt: m.joined_at })),
        invites: [],
        link: null,
      });
      const whole = Date.now() - t0;
      rows.push(
        `${String(size).padStart(7)} seats, ${members} members | view ${view} | page ${page} | post ${post} | typing ${typing} | stats ${stats} | add ${per} ${add} | invite ${per} ${invite} | all members listed ${uncapped} | whole mirror rewrite ${whole}`,
      );
    }
    console.log(['group object request medians (ms) by members:', ...rows].join('\n'));
  });
});
