/**
 * Group operations as the Worker performs them: check what only D1 knows (that the people being
 * added have accounts), then let the group's object decide and apply (membership rules, limits,
 * roles) and turn its refusals into typed API errors.
 */
import { monotonicFactory } from 'ulid';
import type { CreateGroup, Group, GroupRole, UpdateGroup } from '../protocol/index.ts';
import type { GroupResult } from '../durable-objects/group-chat.ts';
import { missingUsers } from './db/groups.ts';
import { ApiError } from './errors.ts';
import { groupOf } from './mailboxes.ts';

const ulid = monotonicFactory();

/** The value of a group object's answer, or its refusal as an ApiError. */
export function unwrap<T>(result: GroupResult<T>): T {
  if (!result.ok) throw new ApiError(result.code, result.message ?? undefined);
  return result.value;
}

async function requireAccounts(env: Env, userIds: readonly string[]): Promise<void> {
  const missing = await missingUsers(env.DB, userIds);
  if (missing.length > 0) throw new ApiError('user_not_found', `No such user: ${missing.slice(0, 5).join(', ')}`);
}

export async function createGroup(env: Env, actor: string, body: CreateGroup & { members: string[] }): Promise<Group> {
  const members = body.members.filter((m) => m !== actor);
  await requireAccounts(env, members);
  const groupId = ulid();
  return unwrap(
    await groupOf(env, groupId).create({
      groupId,
      actor,
      title: body.title,
      description: body.description ?? '',
      onlyAdminsSend: body.onlyAdminsSend ?? false,
      members,
    }),
  );
}

export async function addMembers(env: Env, actor: string, groupId: string, members: string[]): Promise<Group> {
  await requireAccounts(env, members);
  return unwrap(await groupOf(env, groupId).addMembers(actor, members));
}

export async function viewGroup(env: Env, actor: string, groupId: string): Promise<Group> {
  return unwrap(await groupOf(env, groupId).view(actor));
}

export async function updateGroup(env: Env, actor: string, groupId: string, patch: UpdateGroup): Promise<Group> {
  return unwrap(await groupOf(env, groupId).update(actor, patch));
}

export async function removeMember(env: Env, actor: string, groupId: string, member: string): Promise<Group> {
  return unwrap(await groupOf(env, groupId).removeMember(actor, member));
}

export async function leaveGroup(env: Env, actor: string, groupId: string): Promise<void> {
  unwrap(await groupOf(env, groupId).leave(actor));
}

export async function setRole(env: Env, actor: string, groupId: string, member: string, role: GroupRole): Promise<Group> {
  return unwrap(await groupOf(env, groupId).setRole(actor, member, role));
}
