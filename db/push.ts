/**
 * Push tokens, push outcome counters and the local sink's records in D1 (mailbox gauges: gauges.ts).
 */
import { and, asc, eq, gt, inArray, isNotNull, isNull, ne, or, sql } from 'drizzle-orm';
import type { PushPlatformName, SinkPush } from '../protocol/index.ts';
import type { PushNotification, PushTarget } from '../lib/push-types.ts';
import { accountsDb, type DbLike } from './accounts.ts';
import { devices, groups, pushCounters, pushSink, pushTokens, users } from './schema.ts';

/**
 * Register (or replace) the push token of a device. A token held by another of the user's devices,
 * or by a logged-out device of anyone, moves to this one; a token held by another user's logged-in
 * device stays where it is and false is answered (push_token_in_use), with nothing changed.
 *
 * One batch (one transaction), and both statements carry the same condition, so a concurrent
 * registration cannot slip between the check and the write.
 */
export async function registerPushToken(
  db: DbLike,
  target: { userId: string; deviceId: string; platform: PushPlatformName; token: string },
  now: number,
): Promise<boolean> {
  const d = accountsDb(db);
  const { userId, deviceId, platform, token } = target;
  const sameToken = and(eq(pushTokens.platform, platform), eq(pushTokens.token, token), ne(pushTokens.deviceId, deviceId));
  const revokedDevices = d.select({ id: devices.id }).from(devices).where(isNotNull(devices.revokedAt));
  const movable = or(eq(pushTokens.userId, userId), inArray(pushTokens.deviceId, revokedDevices));
  // After the delete, any other holder left is one that may not lose the token.
  const heldElsewhere = sql`exists (select 1 from ${pushTokens} where ${sameToken})`;
  const [, inserted] = await d.batch([
    d.delete(pushTokens).where(and(sameToken, movable)),
    d
      .insert(pushTokens)
      .select(sql`select ${deviceId}, ${userId}, ${platform}, ${token}, ${now} where not ${heldElsewhere}`)
      .onConflictDoUpdate({ target: pushTokens.deviceId, set: { platform, token, registeredAt: now } })
      .returning({ deviceId: pushTokens.deviceId }),
  ]);
  return inserted.length > 0;
}

/** Forget a device's push token (unregister, logout, revocation). */
export async function unregisterPushToken(db: DbLike, deviceId: string): Promise<boolean> {
  const removed = await accountsDb(db).delete(pushTokens).where(eq(pushTokens.deviceId, deviceId)).returning({ id: pushTokens.deviceId });
  return removed.length > 0;
}

/** The provider said this token is dead: remove it, unless the device registered a new one meanwhile. */
export async function removeDeadToken(db: DbLike, target: PushTarget): Promise<void> {
  await accountsDb(db).delete(pushTokens).where(and(eq(pushTokens.deviceId, target.deviceId), eq(pushTokens.token, target.token)));
}

/** The push targets of a user's active devices (or of one of them). */
export async function pushTargetsOf(db: DbLike, userId: string, deviceId?: string): Promise<PushTarget[]> {
  const rows = await accountsDb(db)
    .select({ userId: pushTokens.userId, deviceId: pushTokens.deviceId, platform: pushTokens.platform, token: pushTokens.token })
    .from(pushTokens)
    .innerJoin(devices, eq(devices.id, pushTokens.deviceId))
    .where(
      and(
        eq(pushTokens.userId, userId),
        isNull(devices.revokedAt),
        deviceId === undefined ? undefined : eq(pushTokens.deviceId, deviceId),
      ),
    )
    .orderBy(asc(pushTokens.deviceId));
  return rows.map((r) => ({ ...r, platform: r.platform as PushTarget['platform'] }));
}

/** D1 binds at most 100 values per statement. */
const IDS_PER_STATEMENT = 90;

/**
 * Which of `userIds` have a push token on a logged-in device (the others cannot be rung: a
 * large group's notice skips their mailboxes). One statement per 90 ids, all in one batch.
 */
export async function usersWithPushTokens(db: DbLike, userIds: readonly string[]): Promise<Set<string>> {
  if (userIds.length === 0) return new Set();
  const d = accountsDb(db);
  const query = (ids: string[]) =>
    d
      .selectDistinct({ userId: pushTokens.userId })
      .from(pushTokens)
      .innerJoin(devices, eq(devices.id, pushTokens.deviceId))
      .where(and(inArray(pushTokens.userId, ids), isNull(devices.revokedAt)));
  const chunks: string[][] = [];
  for (let i = 0; i < userIds.length; i += IDS_PER_STATEMENT) chunks.push(userIds.slice(i, i + IDS_PER_STATEMENT));
  const [first, ...others] = chunks.map(query);
  const results = await d.batch([first!, ...others]);
  return new Set(results.flat().map((r) => r.userId));
}

export async function pushRegistrationOf(db: DbLike, deviceId: string): Promise<{ platform: string; registeredAt: number } | null> {
  const rows = await accountsDb(db)
    .select({ platform: pushTokens.platform, registeredAt: pushTokens.registeredAt })
    .from(pushTokens)
    .where(eq(pushTokens.deviceId, deviceId));
  return rows[0] ?? null;
}

/** Names for a notification title: the sender's display name, the group's title. */
export async function displayNames(db: DbLike, userId: string | null, groupId: string | null): Promise<{ sender: string | null; group: string | null }> {
  const d = accountsDb(db);
  const [sender, group] = await Promise.all([
    userId === null ? [] : d.select({ name: users.displayName }).from(users).where(eq(users.id, userId)),
    groupId === null ? [] : d.select({ title: groups.title }).from(groups).where(eq(groups.id, groupId)),
  ]);
  return { sender: sender[0]?.name || null, group: group[0]?.title || null };
}

// ---------------------------------------------------------------- counters (metrics)

export async function countPushOutcomes(db: DbLike, outcomes: Record<string, number>): Promise<void> {
  const entries = Object.entries(outcomes).filter(([, n]) => n > 0);
  if (entries.length === 0) return;
  const d = accountsDb(db);
  const [first, ...rest] = entries.map(([outcome, n]) =>
    d
      .insert(pushCounters)
      .values({ outcome, count: n })
      .onConflictDoUpdate({ target: pushCounters.outcome, set: { count: sql`${pushCounters.count} + ${n}` } }),
  );
  await d.batch([first!, ...rest]);
}

export async function pushOutcomeCounts(db: DbLike): Promise<Record<string, number>> {
  const rows = await accountsDb(db).select().from(pushCounters);
  return Object.fromEntries(rows.map((r) => [r.outcome, r.count]));
}

// ---------------------------------------------------------------- local sink

export async function recordSinkPush(db: DbLike, target: PushTarget, notification: PushNotification, now: number): Promise<number> {
  const rows = await accountsDb(db)
    .insert(pushSink)
    .values({ userId: target.userId, deviceId: target.deviceId, platform: target.platform, payload: JSON.stringify(notification), at: now })
    .returning({ id: pushSink.id });
  return rows[0]!.id;
}

/** What the sink recorded, oldest first (optionally for one user, after an id). */
export async function sinkPushes(db: DbLike, filter: { userId?: string; after?: number; limit: number }): Promise<SinkPush[]> {
  const rows = await accountsDb(db)
    .select()
    .from(pushSink)
    .where(and(filter.userId === undefined ? undefined : eq(pushSink.userId, filter.userId), gt(pushSink.id, filter.after ?? 0)))
    .orderBy(asc(pushSink.id))
    .limit(filter.limit);
  return rows.map((r) => {
    const n = JSON.parse(r.payload) as PushNotification;
    return {
      id: r.id,
      userId: r.userId,
      deviceId: r.deviceId,
      platform: r.platform as SinkPush['platform'],
      kind: n.kind,
      title: n.title,
      body: n.body,
      conversation: n.conversation,
      messageId: n.messageId,
      badge: n.badge,
      silent: n.silent,
      at: r.at,
    };
  });
}
