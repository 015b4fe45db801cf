/**
 * Contact lists in D1: add (idempotent: adding again updates the label), list with the
 * contacts' profiles, remove.
 */
import { and, asc, eq, inArray } from 'drizzle-orm';
import type { Contact } from '../../protocol/index.ts';
import { accountsDb, type DbLike } from './accounts.ts';
import { contacts, users } from './schema.ts';

export async function addContact(db: DbLike, ownerId: string, contactId: string, name: string, now: number): Promise<void> {
  await accountsDb(db)
    .insert(contacts)
    .values({ ownerId, contactId, name, createdAt: now })
    .onConflictDoUpdate({ target: [contacts.ownerId, contacts.contactId], set: { name } });
}

/** `ownerId`'s contacts with their profiles, by name (or just `only`). */
export async function listContacts(db: DbLike, ownerId: string, only?: string): Promise<Contact[]> {
  return accountsDb(db)
    .select({
      userId: users.id,
      phone: users.phone,
      displayName: users.displayName,
      name: contacts.name,
      addedAt: contacts.createdAt,
    })
    .from(contacts)
    .innerJoin(users, eq(users.id, contacts.contactId))
    .where(only === undefined ? eq(contacts.ownerId, ownerId) : and(eq(contacts.ownerId, ownerId), eq(contacts.contactId, only)))
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

/** Which of `ids` are users, each with whether they are in `ownerId`'s contacts (unknown ids are absent). */
export async function relationsAmong(db: DbLike, ownerId: string, ids: readonly string[]): Promise<Map<string, { isContact: boolean }>> {
  if (ids.length === 0) return new Map();
  const rows = await accountsDb(db)
    .select({ id: users.id, contact: contacts.contactId })
    .from(users)
    .leftJoin(contacts, and(eq(contacts.ownerId, ownerId), eq(contacts.contactId, users.id)))
    .where(inArray(users.id, [...ids]));
  return new Map(rows.map((r) => [r.id, { isContact: r.contact !== null }]));
}
