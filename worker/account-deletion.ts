/**
 * Deleting an account (`DELETE /v1/me`): the user leaves every group and declines every
 * pending invite (the groups' members see "left"), the mailbox object is wiped, its row in its
 * gauge hub forgotten, the history it archived is erased from the user's history shard and R2,
 * and one D1 batch
 * removes what D1 holds about them and turns the users row into a tombstone (the phone number is
 * free again for a new account).
 *
 * Order, and why it is safe to retry: until the final D1 batch commits, the caller's device is
 * still logged in and the phone number still matches, so a request that failed halfway can be
 * sent again and every step repeats harmlessly (leaving a group one already left is refused
 * and ignored; wiping a wiped mailbox changes nothing; the batch is all or nothing). The mailbox
 * is wiped before that batch, not after: after the commit no device may call anymore, so a wipe
 * that failed then could never be retried and the mailbox contents would stay. The groups go
 * first, while the mailbox still takes their last events like any member's.
 */
import { and, eq, isNull, or } from 'drizzle-orm';
import { gaugeHubOf, groupOf, mailboxOf } from '../durable-objects/stubs.ts';
import type { AuthContext } from './app-env.ts';
import { normalisePhone } from './auth/phone.ts';
import { requireTrustedDevice } from './auth/session.ts';
import { accountsDb, findUserById, type DbLike } from '../db/accounts.ts';
import {
  accountPins,
  blocks,
  contacts,
  devices,
  groupInvites,
  groupMembers,
  otpChallenges,
  otpResends,
  pinChallenges,
  pushTokens,
  users,
} from '../db/schema.ts';
import { ApiError } from './errors.ts';
import { eraseOwner, historyShards } from '../db/history/index.ts';

/** Group objects called at once while leaving groups (a user may be in many). */
const GROUP_CALLS_AT_ONCE = 8;

/**
 * Delete the caller's account. `confirmation` must be the account's phone number (any common
 * notation), else ApiError 'confirmation_mismatch' and nothing changes; the calling device must
 * be trusted (`device_too_new`).
 */
export async function deleteAccount(env: Env, who: AuthContext, confirmation: string, now: number): Promise<void> {
  const user = await findUserById(env.DB, who.userId);
  if (user === null) throw new ApiError('user_not_found');
  if (normalisePhone(confirmation) !== user.phone) throw new ApiError('confirmation_mismatch');
  await requireTrustedDevice(env.DB, who, now);

  await leaveAllGroups(env, who.userId);
  await mailboxOf(env, who.userId).wipe();
  await gaugeHubOf(env, who.userId).forget(who.userId);
  // The history that left the mailbox: the user's rows in their history shard and archive chunks in R2.
  await eraseOwner(historyShards(env).of(who.userId).db, env.MEDIA, who.userId);
  await purgeAccount(env.DB, { userId: who.userId, phone: user.phone, now });
}

async function inBatches(items: readonly string[], call: (item: string) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += GROUP_CALLS_AT_ONCE) {
    await Promise.all(items.slice(i, i + GROUP_CALLS_AT_ONCE).map(call));
  }
}

/**
 * Leave every group (per the D1 mirror) and decline every pending invite. A refusal from a group
 * (not a member, no such invite: the mirror was behind) means there is nothing to undo there;
 * a thrown error fails the deletion, to be retried.
 */
async function leaveAllGroups(env: Env, userId: string): Promise<void> {
  const d = accountsDb(env.DB);
  const [memberships, invites] = await Promise.all([
    d.select({ groupId: groupMembers.groupId }).from(groupMembers).where(eq(groupMembers.userId, userId)),
    d.select({ groupId: groupInvites.groupId }).from(groupInvites).where(eq(groupInvites.userId, userId)),
  ]);
  await inBatches(
    memberships.map((m) => m.groupId),
    (groupId) => groupOf(env, groupId).leave(userId),
  );
  await inBatches(
    invites.map((i) => i.groupId),
    (groupId) => groupOf(env, groupId).declineInvite(userId),
  );
}

/**
 * The D1 part, in one batch: push tokens, contacts and blocks (both directions), the PIN and its
 * challenges, login codes of the number, mirror rows of groups and invites; every device
 * logged out; the users row kept as a tombstone (groups it created still name it) without name,
 * about or phone number. Idempotent.
 */
export async function purgeAccount(db: DbLike, input: { userId: string; phone: string; now: number }): Promise<void> {
  const { userId, phone, now } = input;
  const d = accountsDb(db);
  await d.batch([
    d.delete(pushTokens).where(eq(pushTokens.userId, userId)),
    d.delete(contacts).where(or(eq(contacts.ownerId, userId), eq(contacts.contactId, userId))),
    d.delete(blocks).where(or(eq(blocks.ownerId, userId), eq(blocks.blockedId, userId))),
    d.delete(pinChallenges).where(eq(pinChallenges.userId, userId)),
    d.delete(accountPins).where(eq(accountPins.userId, userId)),
    d.delete(otpChallenges).where(eq(otpChallenges.phone, phone)),
    d.delete(otpResends).where(eq(otpResends.phone, phone)),
    // The group objects were told above; rows left here are a mirror that was behind.
    d.delete(groupInvites).where(eq(groupInvites.userId, userId)),
    d.delete(groupMembers).where(eq(groupMembers.userId, userId)),
    d
      .update(devices)
      .set({ revokedAt: now, refreshHash: null, refreshPrevHash: null, refreshDisplacedHash: null })
      .where(and(eq(devices.userId, userId), isNull(devices.revokedAt))),
    d
      .update(users)
      .set({ deletedAt: now, phone: `deleted:${userId}`, displayName: '', about: '', photo: null, updatedAt: now })
      .where(and(eq(users.id, userId), isNull(users.deletedAt))),
  ]);
}
