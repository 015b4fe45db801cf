/**
 * Group scenario setup through the real HTTP API, as an app would: the creator (user 0)
 * creates a group with the first GROUP_MEMBERS_PER_REQUEST members, then adds the rest in
 * requests of that size (`POST /v1/groups`, `POST /v1/groups/:id/members`). Responses are
 * validated with the protocol's own schema; the last one's `head` is the gseq every member's
 * mailbox must reach before the group is quiet. The bench users are strangers to each other, so
 * each member first lets anyone add them (`privacy.groups: 'everyone'`): otherwise the adds
 * would only invite them.
 */
import { GROUP_MEMBERS_PER_REQUEST, GroupSchema, PATHS, type Group } from '../protocol/index.ts';
import { freshToken, type BenchUser } from './accounts.ts';
import { mapPool } from './util.ts';

export class GroupSetupError extends Error {}

export type CreatedGroup = { groupId: string; members: number; head: number; ms: number };

async function post(base: URL, path: string, token: string, body: unknown): Promise<Group> {
  const response = await fetch(new URL(path, base), {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await response.text();
  if (!response.ok) throw new GroupSetupError(`POST ${path} -> ${response.status}: ${text.slice(0, 300)}`);
  return GroupSchema.parse(JSON.parse(text));
}

/** Let anyone add each of `users` to groups (PATCH /v1/me/settings), a few at a time. */
async function letAnyoneAdd(base: URL, users: readonly BenchUser[]): Promise<void> {
  await mapPool(users.length, 16, async (i) => {
    const response = await fetch(new URL(PATHS.settings, base), {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await freshToken(base, users[i]!)}` },
      body: JSON.stringify({ privacy: { groups: 'everyone' } }),
      signal: AbortSignal.timeout(60_000),
    });
    if (!response.ok) throw new GroupSetupError(`PATCH ${PATHS.settings} -> ${response.status}: ${(await response.text()).slice(0, 300)}`);
  });
}

/** Create a group of `users` (the first is the creator and admin). */
export async function createGroup(base: URL, title: string, users: readonly BenchUser[]): Promise<CreatedGroup> {
  const [creator, ...others] = users;
  if (!creator) throw new GroupSetupError('a group needs a creator');
  await letAnyoneAdd(base, others);
  const t0 = performance.now();
  const ids = others.map((u) => u.userId);
  let group = await post(base, PATHS.groups, await freshToken(base, creator), { title, members: ids.slice(0, GROUP_MEMBERS_PER_REQUEST) });
  for (let i = GROUP_MEMBERS_PER_REQUEST; i < ids.length; i += GROUP_MEMBERS_PER_REQUEST) {
    group = await post(base, PATHS.groupMembers(group.groupId), await freshToken(base, creator), { members: ids.slice(i, i + GROUP_MEMBERS_PER_REQUEST) });
  }
  // The view lists at most GROUP_VIEW_MEMBERS_MAX members; memberCount counts them all.
  if (group.memberCount !== users.length) {
    throw new GroupSetupError(`group ${title} has ${group.memberCount} members, expected ${users.length}`);
  }
  return { groupId: group.groupId, members: group.memberCount, head: group.head, ms: performance.now() - t0 };
}
