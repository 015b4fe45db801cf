/**
 * Contact lists in D1: add (idempotent: adding again updates the label), list with the
 * contacts' names, remove. Deleted accounts are neither listed nor related to anyone.
 */
import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Contact } from '../protocol/index.ts';
import { accountsDb, type DbLike } from './accounts.ts';
import { blocks, contacts, users } from './schema.ts';

export async function addContact(db: DbLike, ownerId: string, contactId: string, name: string, now: number): Promise<void> {
  await accountsDb(db)
    .insert(contacts)
    .values({ ownerId, contactId, name, createdAt: now })
    .onConflictDoUpdate({ target: [contacts.ownerId, contacts.contactId], set: { name } });
}

/**
 * `ownerId`'s contacts, by name (or just `only`), with display name and the number the owner
 * added them by, never their about (that follows the contact's privacy: GET /v1/users/:id). The
 * photo under the same rule as in their profile (db/privacy.ts aboutVisible): shown unless they
 * blocked the owner, to everyone or to their own contacts as their `privacy.profile` says.
 * Deleted accounts are left out.
 */
export async function listContacts(db: DbLike, ownerId: string, only?: string): Promise<Contact[]> {
  const photoShown = sql<string | null>`case when ${users.photo} is not null
    and not exists (select 1 from ${blocks} where ${blocks.ownerId} = ${users.id} and ${blocks.blockedId} = ${ownerId})
    and (${users.profileVisibility} = 'everyone' or (${users.profileVisibility} = 'contacts'
      and exists (select 1 from contacts their where their.owner_id = ${users.id} and their.contact_id = ${ownerId})))
    then ${users.photo} else null end`;
  return accountsDb(db)
    .select({
      userId: users.id,
      phone: users.phone,
      displayName: users.displayName,
      photo: photoShown,
      name: contacts.name,
      addedAt: contacts.createdAt,
    })
    .from(contacts)
    .innerJoin(users, eq(users.id, contacts.contactId))
    .where(and(eq(contacts.ownerId, ownerId), only === undefined ? undefined : eq(contacts.contactId, only), isNull(users.deletedAt)))
    .orderBy(asc(users.displayName), asc(users.id));
}

/** Remove a contact; false when they were not one. */
export async function removeContact(db: DbLike, ownerId: string, contactId: string): Promise<boolean> {
  const removed = await accountsDb(db)
    .delete(contacts)
    .where(and(eq(contacts.ownerId, ownerId), eq(contacts.contactId, contactId)))
    .returning({ id: contacts.contactId });
  return removed.length > 0;
}

/** Which of `ids` are users, each with whether they are in `ownerId`'s contacts (unknown and deleted ids are absent). */
export async function relationsAmong(db: DbLike, ownerId: string, ids: readonly string[]): Promise<Map<string, { isContact: boolean }>> {
  if (ids.length === 0) return new Map();
  const rows = await accountsDb(db)
    .select({ id: users.id, contact: contacts.contactId })
    .from(users)
    .leftJoin(contacts, and(eq(contacts.ownerId, ownerId), eq(contacts.contactId, users.id)))
    .where(and(inArray(users.id, [...ids]), isNull(users.deletedAt)));
  return new Map(rows.map((r) => [r.id, { isContact: r.contact !== null }]));
}
