/**
 * Group operations as the Worker performs them: check what only D1 knows (that the group exists,
 * that the people being added have accounts, whether their privacy lets the caller add them or
 * they blocked the caller), charge the caller's budgets, then let the group's object decide and
 * apply (membership rules, limits, roles) and turn its refusals into typed API errors.
 */
import { monotonicFactory } from 'ulid';
import type {
  CreateGroup,
  Group,
  GroupLink,
  GroupMemberPage,
  GroupRole,
  JoinRequestList,
  JoinResult,
  LinkPreview,
  MessageInfo,
  UpdateGroup,
} from '../protocol/index.ts';
import type { AddTargets, GroupChat, GroupResult } from '../durable-objects/group-chat.ts';
import { spendBudget, spendBudgets } from './budgets.ts';
import { groupExists, groupOfLink, hasBlocked, missingUsers, readReceiptsOn, sortAdds } from '../db/groups.ts';
import { blockersOf } from '../db/privacy.ts';
import { ApiError } from './errors.ts';
import { checkGroupPicture, grantGroupPicture } from './media/pictures.ts';
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

/**
 * Sort the people `actor` adds into direct adds and invites (db/groups.ts `sortAdds`), or
 * `user_not_found` if any has no live account. Whoever it is, the adder gets the same answer
 * shape: a block is not revealed.
 */
async function targetsOf(env: Env, actor: string, userIds: readonly string[]): Promise<AddTargets> {
  const verdicts = await sortAdds(env.DB, actor, userIds);
  const missing = userIds.filter((id) => !verdicts.has(id));
  if (missing.length > 0) throw new ApiError('user_not_found', `No such user: ${missing.slice(0, 5).join(', ')}`);
  const targets: AddTargets = { direct: [], invite: [], quiet: [] };
  for (const id of userIds) targets[verdicts.get(id)!].push(id);
  return targets;
}

/** Create a group: costs one `group_create_user` and one `group_add_user` per member added or invited. */
export async function createGroup(env: Env, actor: string, body: CreateGroup & { members: string[] }): Promise<Group> {
  const members = additions(actor, body.members);
  await spendBudgets(env, actor, [
    { name: 'group_create_user', cost: 1 },
    { name: 'group_add_user', cost: members.length },
  ]);
  const targets = await targetsOf(env, actor, members);
  const groupId = ulid();
  const group = unwrap(
    await groupOf(env, groupId).create({
      groupId,
      actor,
      title: body.title,
      description: body.description ?? '',
      onlyAdminsSend: body.onlyAdminsSend ?? false,
      targets,
    }),
  );
  remember(groupId);
  return group;
}

/** Add members or invite them: one `group_add_user` per person named (members already in cost the same: the caller cannot know). */
export async function addMembers(env: Env, actor: string, groupId: string, members: string[]): Promise<Group> {
  const group = await existingGroup(env, groupId);
  const added = additions(actor, members);
  await spendBudget(env, actor, 'group_add_user', added.length);
  return unwrap(await group.addMembers(actor, await targetsOf(env, actor, added)));
}

/** A page of a group's members by user id (members only). */
export async function memberPage(env: Env, actor: string, groupId: string, after: string | undefined, limit: number): Promise<GroupMemberPage> {
  return unwrap(await (await existingGroup(env, groupId)).memberPage(actor, after ?? '', limit));
}

export async function viewGroup(env: Env, actor: string, groupId: string): Promise<Group> {
  return unwrap(await (await existingGroup(env, groupId)).view(actor));
}

/** Change a group's settings; a new picture must be an avatar upload the admin may use (the group is granted it). */
export async function updateGroup(env: Env, actor: string, groupId: string, patch: UpdateGroup): Promise<Group> {
  const group = await existingGroup(env, groupId);
  if (typeof patch.picture === 'string') await checkGroupPicture(env, actor, patch.picture);
  const updated = unwrap(await group.update(actor, patch));
  if (typeof patch.picture === 'string') await grantGroupPicture(env, groupId, patch.picture, Date.now());
  return updated;
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

/**
 * Message info for its sender. Read receipts are reciprocal: a sender who turned theirs off sees
 * no reads (an empty read list and a read count of 0), only deliveries.
 */
export async function messageInfo(env: Env, actor: string, groupId: string, messageId: string): Promise<MessageInfo> {
  const group = await existingGroup(env, groupId);
  const [result, receipts, blockers] = await Promise.all([
    group.messageInfo(actor, messageId),
    readReceiptsOn(env.DB, actor),
    blockersOf(env.DB, actor),
  ]);
  const info = unwrap(result);
  // Members who blocked the sender are not listed by name and time (the counts stay sums).
  const shown = <T extends { userId: string }>(list: T[]): T[] => list.filter((r) => !blockers.has(r.userId));
  const delivered = shown(info.delivered);
  return receipts
    ? { ...info, delivered, read: shown(info.read) }
    : { ...info, delivered, tally: { ...info.tally, read: 0 }, read: [] };
}

// ------------------------------------------------------------------ invites

/**
 * Accept an invite: there must be one pending for `actor`, from someone `actor` has not blocked
 * (an invite from a blocked user does not exist as far as its invitee can tell).
 */
export async function acceptInvite(env: Env, actor: string, groupId: string): Promise<Group> {
  const group = await existingGroup(env, groupId);
  const { invitedBy } = unwrap(await group.invitation(actor));
  if (await hasBlocked(env.DB, actor, invitedBy)) throw new ApiError('invite_not_found');
  return unwrap(await group.acceptInvite(actor, invitedBy));
}

/** Decline an invite (and drop a join request). Idempotent: nothing pending is no error. */
export async function declineInvite(env: Env, actor: string, groupId: string): Promise<void> {
  await (await existingGroup(env, groupId)).declineInvite(actor);
}

export async function withdrawInvite(env: Env, actor: string, groupId: string, userId: string): Promise<Group> {
  return unwrap(await (await existingGroup(env, groupId)).withdrawInvite(actor, userId));
}

// ------------------------------------------------------------------ invite links and join requests

export async function createLink(env: Env, actor: string, groupId: string, approval: boolean): Promise<GroupLink> {
  return unwrap(await (await existingGroup(env, groupId)).createLink(actor, approval));
}

export async function viewLink(env: Env, actor: string, groupId: string): Promise<GroupLink> {
  return unwrap(await (await existingGroup(env, groupId)).link(actor));
}

export async function revokeLink(env: Env, actor: string, groupId: string): Promise<void> {
  unwrap(await (await existingGroup(env, groupId)).revokeLink(actor));
}

/** The group of a live link code; `link_not_found` (touching no object) for a code D1 does not know. */
async function linkedGroup(env: Env, code: string): Promise<DurableObjectStub<GroupChat>> {
  const groupId = await groupOfLink(env.DB, code);
  if (groupId === null) throw new ApiError('link_not_found');
  remember(groupId);
  return groupOf(env, groupId);
}

/** What a link shows before joining (the group object re-checks that the code is still its live one). */
export async function previewLink(env: Env, code: string): Promise<LinkPreview> {
  return unwrap(await (await linkedGroup(env, code)).linkPreview(code));
}

/** Join through a link: costs one `group_join_user` (also when it only records a request). */
export async function joinByLink(env: Env, actor: string, code: string): Promise<JoinResult> {
  await spendBudget(env, actor, 'group_join_user', 1);
  return unwrap(await (await linkedGroup(env, code)).joinByLink(actor, code));
}

/**
 * The requests to join waiting for an admin. Requests live only in the group object, so account
 * deletion cannot reach them: those of deleted accounts are dropped here, when an admin looks.
 */
export async function joinRequests(env: Env, actor: string, groupId: string): Promise<JoinRequestList> {
  const group = await existingGroup(env, groupId);
  const list = unwrap(await group.joinRequests(actor));
  const gone = new Set(await missingUsers(env.DB, list.requests.map((r) => r.userId)));
  if (gone.size === 0) return list;
  await Promise.all([...gone].map((userId) => group.declineRequest(actor, userId)));
  return { requests: list.requests.filter((r) => !gone.has(r.userId)) };
}

/** Approve a request to join; a requester whose account was deleted since is `user_not_found`. */
export async function approveRequest(env: Env, actor: string, groupId: string, userId: string): Promise<Group> {
  const group = await existingGroup(env, groupId);
  if ((await missingUsers(env.DB, [userId])).length > 0) throw new ApiError('user_not_found');
  return unwrap(await group.approveRequest(actor, userId));
}

export async function declineRequest(env: Env, actor: string, groupId: string, userId: string): Promise<void> {
  unwrap(await (await existingGroup(env, groupId)).declineRequest(actor, userId));
}
