/**
 * The member limit of large groups (durable-objects/group/consent.ts `seatLimit`). Runtime tests
 * run with GROUP_LOG_DELIVERY_MIN=6 (vitest.config.ts): a group read by diffusion, or one an add
 * makes switch, may hold up to GROUP_LOG_MAX_MEMBERS members and invites; a group that copies into
 * mailboxes keeps GROUP_MAX_MEMBERS. Members beyond the first few have made-up ids (the Worker's
 * account checks are tested elsewhere; here only the object's limit counts), added by RPC
 * GROUP_MEMBERS_PER_REQUEST at a time as the HTTP route allows, or stored directly below the limit.
 */
import { evictDurableObject, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { GROUP_LOG_MAX_MEMBERS, GROUP_MAX_MEMBERS, GROUP_MEMBERS_PAGE_MAX, GROUP_MEMBERS_PER_REQUEST, GROUP_VIEW_MEMBERS_MAX } from '../../protocol/index.ts';
import type { GroupChat } from '../../durable-objects/group-chat.ts';
import { seatLimit } from '../../durable-objects/group/consent.ts';
import { groupOf } from '../../durable-objects/stubs.ts';
import { createGroup, users } from './group-support.ts';

const THRESHOLD = Number(env.GROUP_LOG_DELIVERY_MIN);
let nextFake = 0;
/** Made-up user ids, each new. */
const fakes = (n: number) => Array.from({ length: n }, () => `01JLIM${String(nextFake++).padStart(20, '0')}`);

describe('large group member limit', () => {
  it('is GROUP_MAX_MEMBERS while a group copies, GROUP_LOG_MAX_MEMBERS once it is (or becomes) large, and 1,024 everywhere with read diffusion off', () => {
    expect(GROUP_LOG_MAX_MEMBERS).toBe(100_000);
    // Read diffusion off: never more than the copying limit.
    expect(seatLimit(null, 0, 5_000)).toBe(GROUP_MAX_MEMBERS);
    expect(seatLimit(7, 0, 5_000)).toBe(GROUP_MAX_MEMBERS);
    // On: a copying group that stays at or below the threshold, versus one this change makes switch.
    expect(seatLimit(null, 100, 100)).toBe(GROUP_MAX_MEMBERS);
    expect(seatLimit(null, 100, 101)).toBe(GROUP_LOG_MAX_MEMBERS);
    // Already large: whatever its size now.
    expect(seatLimit(12, 100, 3)).toBe(GROUP_LOG_MAX_MEMBERS);
  });

  it('lets a large group grow past GROUP_MAX_MEMBERS', async () => {
    const [ann, ...others] = await users(THRESHOLD + 1);
    const group = await createGroup(ann!, others);
    const stub = groupOf(env, group.groupId);
    // One more member than the threshold: large from its creation.
    expect((await stub.stats()).members).toBe(THRESHOLD + 1);
    // Up to 1,000 members stored directly (adding them by RPC would have the object tell a
    // thousand new mailboxes, a minute of this machine), then adds that cross the copying limit.
    const seeded = 1_000 - (THRESHOLD + 1);
    await runInDurableObject(stub as DurableObjectStub<GroupChat>, (_instance, state) => {
      const head = state.storage.sql.exec<{ head: number }>('SELECT max(gseq) AS head FROM log').one().head;
      for (const id of fakes(seeded)) {
        state.storage.sql.exec(
          `INSERT INTO members (user_id, role, joined_gseq, joined_at, delivered_gseq, read_gseq, active_at) VALUES (?, 'member', ?, 0, ?, ?, 0)`,
          id,
          head,
          head - 1,
          head - 1,
        );
      }
    });
    await evictDurableObject(stub); // forget the cached member count
    expect((await stub.stats()).members).toBe(1_000);
    const added = await stub.addMembers(ann!.userId, { direct: fakes(GROUP_MEMBERS_PER_REQUEST), invite: [], quiet: [] });
    expect(added.ok, JSON.stringify(added)).toBe(true);
    const target = 1_000 + GROUP_MEMBERS_PER_REQUEST;
    expect(target).toBeGreaterThan(GROUP_MAX_MEMBERS);
    expect((await stub.stats()).members).toBe(target);
    // Invites hold seats here too, up to the large limit.
    const invited = await stub.addMembers(ann!.userId, { direct: [], invite: [], quiet: fakes(GROUP_MEMBERS_PER_REQUEST) });
    expect(invited.ok).toBe(true);
    // The view lists at most GROUP_VIEW_MEMBERS_MAX members and says how many there are.
    const view = await stub.view(ann!.userId);
    expect(view.ok && [view.value.memberCount, view.value.members.length, view.value.invites.length]).toEqual([
      target,
      GROUP_VIEW_MEMBERS_MAX,
      GROUP_MEMBERS_PER_REQUEST,
    ]);
    // Listed page by page, everyone once.
    const listed: string[] = [];
    let after = '';
    for (;;) {
      const page = await stub.memberPage(ann!.userId, after, GROUP_MEMBERS_PAGE_MAX);
      if (!page.ok) throw new Error(page.code);
      listed.push(...page.value.members.map((m) => m.userId));
      if (page.value.nextAfter === null) break;
      after = page.value.nextAfter;
    }
    expect(new Set(listed).size).toBe(target);
    expect(listed).toEqual([...listed].sort());
  });

  it('keeps a copying group at GROUP_MAX_MEMBERS members and invites', async () => {
    const [ann, bob] = await users(2);
    const group = await createGroup(ann!, [bob!]);
    const stub = groupOf(env, group.groupId);
    // Invites do not make a group switch: two members and 1,023 invites is one seat too many.
    const full = await stub.addMembers(ann!.userId, { direct: [], invite: [], quiet: fakes(GROUP_MAX_MEMBERS - 1) });
    expect(full).toMatchObject({ ok: false, code: 'group_full' });
    const after = await stub.view(ann!.userId);
    expect(after.ok && [after.value.members.length, after.value.invites.length, after.value.head]).toEqual([2, 0, group.head]);
    // Up to the limit is fine; one more seat is not, while the group still copies.
    expect((await stub.addMembers(ann!.userId, { direct: [], invite: [], quiet: fakes(GROUP_MAX_MEMBERS - 2) })).ok).toBe(true);
    expect(await stub.addMembers(ann!.userId, { direct: [], invite: [], quiet: fakes(1) })).toMatchObject({ ok: false, code: 'group_full' });
  });
});
