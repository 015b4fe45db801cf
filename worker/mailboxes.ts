/**
 * Addressing: every user has exactly one `UserMailbox` Durable Object, named by the user id.
 */
import type { UserMailbox } from '../durable-objects/user-mailbox.ts';

/**
 * The stub of a user's mailbox object.
 *
 * @example
 * await mailboxOf(env, userId).revokeDevice(deviceId);
 */
export function mailboxOf(env: { MAILBOX: DurableObjectNamespace<UserMailbox> }, userId: string): DurableObjectStub<UserMailbox> {
  return env.MAILBOX.get(env.MAILBOX.idFromName(userId));
}
