/**
 * Groups in D1: the mirror of each group object's settings and members (for "my groups",
 * existence checks and operator queries), user-existence checks for adding members, and the
 * dead-letter record.
 * The group Durable Object is authoritative; it calls `syncGroupMirror` after each change.
 */
import { count, desc, eq, inArray } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import type { GroupRole, GroupSummary } from '../../protocol/index.ts';
import { accountsDb, type DbLike } from './accounts.ts';
import { deadLetters, groupMembers, groups, users } from './schema.ts';

/** D1 binds at most 100 parameters per statement. */
const MAX_PARAMS = 100;

export type GroupSnapshot = {
  groupId: string;
  title: string;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
  members: ReadonlyArray<{ userId: string; role: GroupRole; joinedAt: number }>;
};

/**
 * Replace the mirror of one group with `snapshot`, in one transaction. Idempotent: a retry after
 * a failure, or a late sync, converges on the object's state.
 */
export async function syncGroupMirror(db: DbLike, snapshot: GroupSnapshot): Promise<void> {
  const d = accountsDb(db);
  const row = {
    id: snapshot.groupId,
    title: snapshot.title,
    createdBy: snapshot.createdBy,
    createdAt: snapshot.createdAt,
    updatedAt: snapshot.updatedAt,
    memberCount: snapshot.members.length,
  };
  const statements: BatchItem<'sqlite'>[] = [
    d.insert(groups).values(row).onConflictDoUpdate({
      target: groups.id,
      set: { title: row.title, updatedAt: row.updatedAt, memberCount: row.memberCount },
    }),
    d.delete(groupMembers).where(eq(groupMembers.groupId, snapshot.groupId)),
  ];
  const perStatement = Math.floor(MAX_PARAMS / 4);
  for (let i = 0; i < snapshot.members.length; i += perStatement) {
    const chunk = snapshot.members.slice(i, i + perStatement).map((m) => ({ groupId: snapshot.groupId, ...m }));
    statements.push(d.insert(groupMembers).values(chunk));
  }
  await d.batch(statements as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]]);
}

/** The groups `userId` belongs to, most recently changed first. */
export async function listGroupsOf(db: DbLike, userId: string): Promise<GroupSummary[]> {
  const rows = await accountsDb(db)
    .select({ groupId: groups.id, title: groups.title, role: groupMembers.role, memberCount: groups.memberCount })
    .from(groupMembers)
    .innerJoin(groups, eq(groups.id, groupMembers.groupId))
    .where(eq(groupMembers.userId, userId))
    .orderBy(desc(groups.updatedAt));
  return rows;
}

/**
 * Whether the mirror knows this group (before addressing its object: an id nobody created must
 * not reach one). The mirror is written when the group is created, before its creator hears of it.
 */
export async function groupExists(db: DbLike, groupId: string): Promise<boolean> {
  const rows = await accountsDb(db).select({ id: groups.id }).from(groups).where(eq(groups.id, groupId)).limit(1);
  return rows.length > 0;
}

/** Which of `userIds` have no account (empty when all exist). */
export async function missingUsers(db: DbLike, userIds: readonly string[]): Promise<string[]> {
  const unique = [...new Set(userIds)];
  const found = new Set<string>();
  for (let i = 0; i < unique.length; i += MAX_PARAMS) {
    const chunk = unique.slice(i, i + MAX_PARAMS);
    const rows = await accountsDb(db).select({ id: users.id }).from(users).where(inArray(users.id, chunk));
    for (const r of rows) found.add(r.id);
  }
  return unique.filter((id) => !found.has(id));
}

/** Keep a job that exhausted its retries (idempotent per queue message id). */
export async function recordDeadLetter(
  db: DbLike,
  letter: { id: string; queue: string; body: string; attempts: number; failedAt: number },
): Promise<void> {
  await accountsDb(db).insert(deadLetters).values(letter).onConflictDoNothing();
}

/** Dead letters per queue (the metric). */
export async function deadLetterCounts(db: DbLike): Promise<Record<string, number>> {
  const rows = await accountsDb(db)
    .select({ queue: deadLetters.queue, n: count() })
    .from(deadLetters)
    .groupBy(deadLetters.queue);
  return Object.fromEntries(rows.map((r) => [r.queue, r.n]));
}
