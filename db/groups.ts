/**
 * Groups in D1: the mirror of each group object's settings, members, pending invites and live
 * invite link (for "my groups", "my invites", link look-ups, existence checks and operator
 * queries), who may be added to a group directly, and the dead-letter record.
 * The group Durable Object is authoritative; it calls `syncGroupMirror` after each change.
 */
import { and, count, desc, eq, inArray, isNull, lt, notExists, sql } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import type { GroupInvite, GroupRole, GroupSummary, PendingInvite } from '../protocol/index.ts';
import { accountsDb, type DbLike } from './accounts.ts';
import { blocks, contacts, deadLetters, groupInvites, groupLinks, groupMembers, groups, users } from './schema.ts';

/** D1 binds at most 100 parameters per statement. */
const MAX_PARAMS = 100;

export type GroupSnapshot = {
  groupId: string;
  title: string;
  picture: string | null;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
  members: ReadonlyArray<{ userId: string; role: GroupRole; joinedAt: number }>;
  invites: readonly PendingInvite[];
  /** The live invite link's code, or null when there is none. */
  link: string | null;
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
    picture: snapshot.picture,
    createdBy: snapshot.createdBy,
    createdAt: snapshot.createdAt,
    updatedAt: snapshot.updatedAt,
    memberCount: snapshot.members.length,
  };
  const statements: BatchItem<'sqlite'>[] = [
    d.insert(groups).values(row).onConflictDoUpdate({
      target: groups.id,
      set: { title: row.title, picture: row.picture, updatedAt: row.updatedAt, memberCount: row.memberCount },
    }),
    d.delete(groupMembers).where(eq(groupMembers.groupId, snapshot.groupId)),
    d.delete(groupInvites).where(eq(groupInvites.groupId, snapshot.groupId)),
    d.delete(groupLinks).where(eq(groupLinks.groupId, snapshot.groupId)),
  ];
  const perStatement = Math.floor(MAX_PARAMS / 4);
  for (let i = 0; i < snapshot.members.length; i += perStatement) {
    const chunk = snapshot.members.slice(i, i + perStatement).map((m) => ({ groupId: snapshot.groupId, ...m }));
    statements.push(d.insert(groupMembers).values(chunk));
  }
  for (let i = 0; i < snapshot.invites.length; i += perStatement) {
    const chunk = snapshot.invites
      .slice(i, i + perStatement)
      .map((v) => ({ groupId: snapshot.groupId, userId: v.userId, invitedBy: v.invitedBy, createdAt: v.at }));
    statements.push(d.insert(groupInvites).values(chunk));
  }
  if (snapshot.link !== null) statements.push(d.insert(groupLinks).values({ code: snapshot.link, groupId: snapshot.groupId }));
  await d.batch(statements as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]]);
}

/** What changed since the mirror was last in step: the rows of these people, as they are now. */
export type GroupMirrorDelta = Omit<GroupSnapshot, 'members' | 'invites'> & {
  memberCount: number;
  /** Everyone whose member or invite row may have changed (at most a few hundred per call). */
  changed: readonly string[];
  /** Of those, the current members and the pending invites (the others' rows go). */
  members: ReadonlyArray<{ userId: string; role: GroupRole; joinedAt: number }>;
  invites: readonly PendingInvite[];
};

/**
 * Bring the mirror of one group in step with the rows of the people named in `delta.changed`
 * (their member and invite rows are replaced), the settings and the link, in one transaction:
 * a change costs D1 rows for the people it touched, not for every member. Idempotent.
 */
export async function syncGroupMirrorDelta(db: DbLike, delta: GroupMirrorDelta): Promise<void> {
  const d = accountsDb(db);
  const row = {
    id: delta.groupId,
    title: delta.title,
    picture: delta.picture,
    createdBy: delta.createdBy,
    createdAt: delta.createdAt,
    updatedAt: delta.updatedAt,
    memberCount: delta.memberCount,
  };
  const statements: BatchItem<'sqlite'>[] = [
    d.insert(groups).values(row).onConflictDoUpdate({
      target: groups.id,
      set: { title: row.title, picture: row.picture, updatedAt: row.updatedAt, memberCount: row.memberCount },
    }),
    d.delete(groupLinks).where(eq(groupLinks.groupId, delta.groupId)),
  ];
  // The group id is bound too.
  const perDelete = MAX_PARAMS - 1;
  for (let i = 0; i < delta.changed.length; i += perDelete) {
    const chunk = delta.changed.slice(i, i + perDelete);
    statements.push(d.delete(groupMembers).where(and(eq(groupMembers.groupId, delta.groupId), inArray(groupMembers.userId, chunk))));
    statements.push(d.delete(groupInvites).where(and(eq(groupInvites.groupId, delta.groupId), inArray(groupInvites.userId, chunk))));
  }
  const perStatement = Math.floor(MAX_PARAMS / 4);
  for (let i = 0; i < delta.members.length; i += perStatement) {
    const chunk = delta.members.slice(i, i + perStatement).map((m) => ({ groupId: delta.groupId, ...m }));
    statements.push(d.insert(groupMembers).values(chunk));
  }
  for (let i = 0; i < delta.invites.length; i += perStatement) {
    const chunk = delta.invites
      .slice(i, i + perStatement)
      .map((v) => ({ groupId: delta.groupId, userId: v.userId, invitedBy: v.invitedBy, createdAt: v.at }));
    statements.push(d.insert(groupInvites).values(chunk));
  }
  if (delta.link !== null) statements.push(d.insert(groupLinks).values({ code: delta.link, groupId: delta.groupId }));
  await d.batch(statements as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]]);
}

/** A page of a list ordered by group id, newest first: ids below `before`, at most `limit`. */
export type GroupPage = { before?: string | undefined; limit: number };

/**
 * The groups `userId` belongs to, newest group first (ids grow with creation), from `before` on.
 * Without a page: the newest 1,000 (tests and operator use).
 */
export async function listGroupsOf(db: DbLike, userId: string, page: GroupPage = { limit: 1_000 }): Promise<GroupSummary[]> {
  return accountsDb(db)
    .select({ groupId: groups.id, title: groups.title, picture: groups.picture, role: groupMembers.role, memberCount: groups.memberCount })
    .from(groupMembers)
    .innerJoin(groups, eq(groups.id, groupMembers.groupId))
    .where(and(eq(groupMembers.userId, userId), page.before === undefined ? undefined : lt(groupMembers.groupId, page.before)))
    .orderBy(desc(groupMembers.groupId))
    .limit(page.limit);
}

/**
 * `userId`'s pending invites, newest group first, without those from people `userId` blocked
 * (also when the block came after the invite: an invite never shows who is behind it otherwise).
 */
export async function listInvitesOf(db: DbLike, userId: string, page: GroupPage): Promise<GroupInvite[]> {
  const d = accountsDb(db);
  return d
    .select({
      groupId: groupInvites.groupId,
      title: groups.title,
      memberCount: groups.memberCount,
      invitedBy: groupInvites.invitedBy,
      at: groupInvites.createdAt,
    })
    .from(groupInvites)
    .innerJoin(groups, eq(groups.id, groupInvites.groupId))
    .where(
      and(
        eq(groupInvites.userId, userId),
        page.before === undefined ? undefined : lt(groupInvites.groupId, page.before),
        notExists(
          d
            .select({ one: sql`1` })
            .from(blocks)
            .where(and(eq(blocks.ownerId, userId), eq(blocks.blockedId, groupInvites.invitedBy))),
        ),
      ),
    )
    .orderBy(desc(groupInvites.groupId))
    .limit(page.limit);
}

/** How each person an add names may be added by `actor`; absent from the map: no such (live) account. */
export type AddVerdict = 'direct' | 'invite' | 'quiet';

/**
 * Sort the people `actor` adds to a group, in one query per 98 people: added directly if their
 * `group_add` is 'everyone', or 'contacts' and `actor` is in their contacts; invited otherwise;
 * invited quietly (never shown to them) if they blocked `actor`, whatever their setting.
 * Deleted accounts are left out, as if they did not exist.
 */
export async function sortAdds(db: DbLike, actor: string, userIds: readonly string[]): Promise<Map<string, AddVerdict>> {
  const d = accountsDb(db);
  const unique = [...new Set(userIds)];
  const verdicts = new Map<string, AddVerdict>();
  // D1's parameter limit, less the actor bound twice.
  const perQuery = MAX_PARAMS - 2;
  for (let i = 0; i < unique.length; i += perQuery) {
    const chunk = unique.slice(i, i + perQuery);
    const rows = await d
      .select({
        id: users.id,
        groupAdd: users.groupAdd,
        isContact: sql<number>`exists (select 1 from ${contacts} where ${contacts.ownerId} = ${users.id} and ${contacts.contactId} = ${actor})`,
        blocked: sql<number>`exists (select 1 from ${blocks} where ${blocks.ownerId} = ${users.id} and ${blocks.blockedId} = ${actor})`,
      })
      .from(users)
      .where(and(inArray(users.id, chunk), isNull(users.deletedAt)));
    for (const r of rows) {
      const allowed = r.groupAdd === 'everyone' || (r.groupAdd === 'contacts' && r.isContact === 1);
      verdicts.set(r.id, r.blocked === 1 ? 'quiet' : allowed ? 'direct' : 'invite');
    }
  }
  return verdicts;
}

/** Whether `owner` blocked `other` (the D1 mirror of the owner's mailbox blocks). */
export async function hasBlocked(db: DbLike, owner: string, other: string): Promise<boolean> {
  const rows = await accountsDb(db)
    .select({ one: sql`1` })
    .from(blocks)
    .where(and(eq(blocks.ownerId, owner), eq(blocks.blockedId, other)))
    .limit(1);
  return rows.length > 0;
}

/** Whether `userId` has read receipts on (off: they see nobody's reads, as nobody sees theirs). */
export async function readReceiptsOn(db: DbLike, userId: string): Promise<boolean> {
  const rows = await accountsDb(db).select({ on: users.readReceipts }).from(users).where(eq(users.id, userId)).limit(1);
  return rows[0]?.on ?? true;
}

/** The group an invite link code belongs to (null for an unknown or revoked code). */
export async function groupOfLink(db: DbLike, code: string): Promise<string | null> {
  const rows = await accountsDb(db).select({ groupId: groupLinks.groupId }).from(groupLinks).where(eq(groupLinks.code, code)).limit(1);
  return rows[0]?.groupId ?? null;
}

/**
 * Whether the mirror knows this group (before addressing its object: an id nobody created must
 * not reach one). The mirror is written when the group is created, before its creator hears of it.
 */
export async function groupExists(db: DbLike, groupId: string): Promise<boolean> {
  const rows = await accountsDb(db).select({ id: groups.id }).from(groups).where(eq(groups.id, groupId)).limit(1);
  return rows.length > 0;
}

/** Which of `userIds` have no live account (never existed, or deleted); empty when all exist. */
export async function missingUsers(db: DbLike, userIds: readonly string[]): Promise<string[]> {
  const unique = [...new Set(userIds)];
  const found = new Set<string>();
  for (let i = 0; i < unique.length; i += MAX_PARAMS) {
    const chunk = unique.slice(i, i + MAX_PARAMS);
    const rows = await accountsDb(db)
      .select({ id: users.id })
      .from(users)
      .where(and(inArray(users.id, chunk), isNull(users.deletedAt)));
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
