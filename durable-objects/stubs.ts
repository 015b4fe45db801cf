/**
 * Addressing: every user has exactly one `UserMailbox` Durable Object, named by the user id;
 * every group one `GroupChat`, named by the group id. It lives with the objects (they address
 * each other), and the Worker imports it from here: the dependency runs one way.
 */
import type { GroupChat } from './group-chat.ts';
import type { UserMailbox } from './user-mailbox.ts';

/**
 * The stub of a user's mailbox object.
 *
 * @example
 * await mailboxOf(env, userId).revokeDevice(deviceId);
 */
export function mailboxOf(env: { MAILBOX: DurableObjectNamespace<UserMailbox> }, userId: string): DurableObjectStub<UserMailbox> {
  return env.MAILBOX.get(env.MAILBOX.idFromName(userId));
}

/**
 * The stub of a group's object.
 *
 * @example
 * const result = await groupOf(env, groupId).view(userId);
 */
export function groupOf(env: { GROUP: DurableObjectNamespace<GroupChat> }, groupId: string): DurableObjectStub<GroupChat> {
  return env.GROUP.get(env.GROUP.idFromName(groupId));
}
