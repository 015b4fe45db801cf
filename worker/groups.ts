/**
 * Group operations as the Worker performs them: check what only D1 knows (that the group exists,
 * that the people being added have accounts), charge the caller's budgets, then let the group's
 * object decide and apply (membership rules, limits, roles) and turn its refusals into typed
 * API errors.
 */
import { monotonicFactory } from 'ulid';
import type { CreateGroup, Group, GroupRole, MessageInfo, UpdateGroup } from '../protocol/index.ts';
import type { GroupChat, GroupResult } from '../durable-objects/group-chat.ts';
import { spendBudget, spendBudgets } from './budgets.ts';
import { groupExists, missingUsers } from './db/groups.ts';
import { ApiError } from './errors.ts';
import { groupOf } from '../durable-objects/stubs.ts';

const ulid = monotonicFactory();

/** Groups known to exist (groups are never deleted), so D1 is asked once per group and isolate. */
const knownGroups = new Set<string>();
const KNOWN_GROUPS_MAX = 10_000;

/** The value of a group object's answer, or its refusal as an ApiError. */
export function unwrap<T>(result: GroupResult<T>): T {
  if (!result.ok) throw new ApiError(result.code, result.message ?? undefined);
  return result.value;
}

async function requireAccounts(env: Env, userIds: readonly string[]): Promise<void> {
  const missing = await missingUsers(env.DB, userIds);
  if (missing.length > 0) throw new ApiError('user_not_found', `No such user: ${missing.slice(0, 5).join(', ')}`);
}

function remember(groupId: string): void {
  if (knownGroups.size >= KNOWN_GROUPS_MAX) knownGroups.clear();
  knownGroups.add(groupId);
}

/**
 * The object of a group that exists, or `group_not_found`. Asked of the D1 mirror first, so an id
 * nobody created never reaches an object (which would be one more object for every made-up id).
 */
async function existingGroup(env: Env, groupId: string): Promise<DurableObjectStub<GroupChat>> {
  if (!knownGroups.has(groupId)) {
    if (!(await groupExists(env.DB, groupId))) throw new ApiError('group_not_found');
    remember(groupId);
  }
  return groupOf(env, groupId);
}

/** The people a request adds: each once, never the caller (who is already in, or the creator). */
function additions(actor: string, members: readonly string[]): string[] {
  return [...new Set(members)].filter((m) => m !== actor);
}

/** Create a group: costs one `group_create_user` and one `group_add_user` per member added. */
export async function createGroup(env: Env, actor: string, body: CreateGroup & { members: string[] }): Promise<Group> {
  const members = additions(actor, body.members);
  await spendBudgets(env, actor, [
    { name: 'group_create_user', cost: 1 },
    { name: 'group_add_user', cost: members.length },
  ]);
  await requireAccounts(env, members);
  const groupId = ulid();
  const group = unwrap(
    await groupOf(env, groupId).create({
      groupId,
      actor,
      title: body.title,
      description: body.description ?? '',
      onlyAdminsSend: body.onlyAdminsSend ?? false,
      members,
    }),
  );
  remember(groupId);
  return group;
}

/** Add members: one `group_add_user` per person named (members already in cost the same: the caller cannot know). */
export async function addMembers(env: Env, actor: string, groupId: string, members: string[]): Promise<Group> {
  const group = await existingGroup(env, groupId);
  const added = additions(actor, members);
  await spendBudget(env, actor, 'group_add_user', added.length);
  await requireAccounts(env, added);
  return unwrap(await group.addMembers(actor, added));
}

export async function viewGroup(env: Env, actor: string, groupId: string): Promise<Group> {
  return unwrap(await (await existingGroup(env, groupId)).view(actor));
}

export async function updateGroup(env: Env, actor: string, groupId: string, patch: UpdateGroup): Promise<Group> {
  return unwrap(await (await existingGroup(env, groupId)).update(actor, patch));
}

export async function removeMember(env: Env, actor: string, groupId: string, member: string): Promise<Group> {
  return unwrap(await (await existingGroup(env, groupId)).removeMember(actor, member));
}

export async function leaveGroup(env: Env, actor: string, groupId: string): Promise<void> {
  unwrap(await (await existingGroup(env, groupId)).leave(actor));
}

export async function setRole(env: Env, actor: string, groupId: string, member: string, role: GroupRole): Promise<Group> {
  return unwrap(await (await existingGroup(env, groupId)).setRole(actor, member, role));
}

export async function messageInfo(env: Env, actor: string, groupId: string, messageId: string): Promise<MessageInfo> {
  return unwrap(await (await existingGroup(env, groupId)).messageInfo(actor, messageId));
}
