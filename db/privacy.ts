/**
 * Profile privacy in D1: what one viewer may see of a user's profile (one query for the whole
 * decision), and the D1 mirrors of the settings and blocks the Worker applies without asking the
 * user's mailbox object (which stays authoritative: routes write it first, then mirror here).
 */
import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import type { Audience, BlockedUser, PrivacySettings, Profile } from '../protocol/index.ts';
import { accountsDb, type AccountsDb, type DbLike } from './accounts.ts';
import { blocks, contacts, users } from './schema.ts';

/** The viewer's standing with a profile's owner, as far as `about` is concerned. */
export type AboutRelation = {
  /** The viewer is the owner. */
  self: boolean;
  /** The viewer is in the owner's contacts (the owner's address book, not the viewer's). */
  inOwnerContacts: boolean;
  /** The owner blocked the viewer. */
  blockedByOwner: boolean;
};

/**
 * Whether the viewer may read the owner's about: the owner always; someone the owner blocked
 * never; anyone else as the owner's `privacy.profile` says.
 *
 * @example
 * aboutVisible('contacts', { self: false, inOwnerContacts: true, blockedByOwner: false }) // true
 */
export function aboutVisible(visibility: Audience, relation: AboutRelation): boolean {
  if (relation.self) return true;
  if (relation.blockedByOwner) return false;
  if (visibility === 'everyone') return true;
  return visibility === 'contacts' && relation.inOwnerContacts;
}

/**
 * A user's profile as `viewerId` may see it, found by id or by phone number: display name always,
 * `about` and the photo only when allowed ('' / null otherwise, like having none), never the phone number. Null for
 * no such user, or a deleted one. One D1 query: the owner's row with the viewer's relation to them.
 *
 * @example
 * await profileSeenBy(env.DB, viewerId, { phone: '+4915112345678' }) // { userId, displayName, about: '' }
 */
export async function profileSeenBy(db: DbLike, viewerId: string, target: { id: string } | { phone: string }): Promise<Profile | null> {
  const rows = await accountsDb(db)
    .select({
      userId: users.id,
      displayName: users.displayName,
      about: users.about,
      photo: users.photo,
      visibility: users.profileVisibility,
      inOwnerContacts: sql<boolean>`exists (select 1 from ${contacts} where ${contacts.ownerId} = ${users.id} and ${contacts.contactId} = ${viewerId})`.mapWith(Boolean),
      blockedByOwner: sql<boolean>`exists (select 1 from ${blocks} where ${blocks.ownerId} = ${users.id} and ${blocks.blockedId} = ${viewerId})`.mapWith(Boolean),
    })
    .from(users)
    .where(and('id' in target ? eq(users.id, target.id) : eq(users.phone, target.phone), isNull(users.deletedAt)))
    .limit(1);
  const row = rows[0];
  if (row === undefined) return null;
  const relation = { self: row.userId === viewerId, inOwnerContacts: row.inOwnerContacts, blockedByOwner: row.blockedByOwner };
  const visible = aboutVisible(row.visibility, relation);
  return { userId: row.userId, displayName: row.displayName, about: visible ? row.about : '', photo: visible ? row.photo : null };
}

// ---------------------------------------------------------------- mirrors

/** Copy the privacy settings the Worker applies (profile, group adds, read receipts) from the mailbox's answer. */
/**
 * Everyone who blocked `userId` (few, and found by the blocks_blocked_idx index): what they do
 * must not be shown to `userId` person by person, e.g. their receipt times in message info.
 */
export async function blockersOf(db: DbLike, userId: string): Promise<Set<string>> {
  const rows = await accountsDb(db).select({ owner: blocks.ownerId }).from(blocks).where(eq(blocks.blockedId, userId));
  return new Set(rows.map((r) => r.owner));
}

export async function mirrorPrivacy(db: DbLike, userId: string, privacy: PrivacySettings): Promise<void> {
  await accountsDb(db)
    .update(users)
    .set({ profileVisibility: privacy.profile, groupAdd: privacy.groups, readReceipts: privacy.readReceipts })
    .where(eq(users.id, userId));
}

/** `ownerId` blocked `blockedId` (idempotent: blocking again keeps the first time). */
export async function mirrorBlock(db: DbLike, ownerId: string, blockedId: string, at: number): Promise<void> {
  await accountsDb(db).insert(blocks).values({ ownerId, blockedId, createdAt: at }).onConflictDoNothing();
}

/** `ownerId` unblocked `blockedId` (idempotent). */
export async function mirrorUnblock(db: DbLike, ownerId: string, blockedId: string): Promise<void> {
  await accountsDb(db)
    .delete(blocks)
    .where(and(eq(blocks.ownerId, ownerId), eq(blocks.blockedId, blockedId)));
}

/**
 * Make `ownerId`'s mirrored blocks equal the mailbox's list: adds the missing rows (blocks made
 * before the mirror existed, or whose mirror write failed), drops the ones no longer blocked.
 * Costs one query when the two agree; writes (one batch) only when they differ. Returns how many
 * rows it added and dropped.
 */
export async function syncBlocks(db: DbLike, ownerId: string, list: readonly BlockedUser[]): Promise<{ added: number; dropped: number }> {
  const d = accountsDb(db);
  const rows = await d.select({ id: blocks.blockedId }).from(blocks).where(eq(blocks.ownerId, ownerId));
  const mirrored = new Set(rows.map((r) => r.id));
  const listed = new Set(list.map((b) => b.userId));
  const extra = [...mirrored].filter((id) => !listed.has(id));
  // Deleted accounts are left out: their deletion removed every block row naming them.
  const live = await liveAmong(d, list.filter((b) => !mirrored.has(b.userId)).map((b) => b.userId));
  const missing = list.filter((b) => live.has(b.userId)).map((b) => ({ ownerId, blockedId: b.userId, createdAt: b.at }));
  // D1 binds at most 100 parameters per statement: 3 per inserted row, 1 per deleted id (+1).
  const statements: BatchItem<'sqlite'>[] = [
    ...chunks(missing, 30).map((part) => d.insert(blocks).values(part).onConflictDoNothing()),
    ...chunks(extra, 90).map((part) => d.delete(blocks).where(and(eq(blocks.ownerId, ownerId), inArray(blocks.blockedId, part)))),
  ];
  const [first, ...rest] = statements;
  if (first !== undefined) await d.batch([first, ...rest]);
  return { added: missing.length, dropped: extra.length };
}

/** Which of `ids` name accounts that exist and were not deleted. */
async function liveAmong(d: AccountsDb, ids: readonly string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (const part of chunks(ids, 90)) {
    const rows = await d
      .select({ id: users.id })
      .from(users)
      .where(and(inArray(users.id, part), isNull(users.deletedAt)));
    for (const row of rows) found.add(row.id);
  }
  return found;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
