/**
 * Queries on users and devices in D1. Plain functions so routes, the auth middleware and the
 * Durable Objects share one implementation; each accepts either a drizzle database or the raw
 * `D1Database` binding. All SQL goes through drizzle with bound parameters. A deleted account
 * keeps its row as a tombstone (deleted_at set, phone replaced); every look-up here treats it as
 * absent.
 */
import { and, asc, eq, isNull, lt, or, sql } from 'drizzle-orm';
import { drizzle, type DrizzleD1Database } from 'drizzle-orm/d1';
import { ulid } from 'ulid';
import type { Platform } from '../protocol/index.ts';
import * as schema from './schema.ts';
import { devices, users, type DeviceRow, type UserRow } from './schema.ts';

export type AccountsDb = DrizzleD1Database<typeof schema>;
/** What every query function accepts: the D1 binding itself or a drizzle wrapper around it. */
export type DbLike = AccountsDb | D1Database;

// One drizzle wrapper per binding object: building one is cheap, but there is no reason to repeat it.
const wrappers = new WeakMap<D1Database, AccountsDb>();

/** The drizzle view of a D1 binding (or the drizzle database passed in). */
export function accountsDb(db: DbLike): AccountsDb {
  if ('select' in db) return db;
  let wrapped = wrappers.get(db);
  if (wrapped === undefined) {
    wrapped = drizzle(db, { schema });
    wrappers.set(db, wrapped);
  }
  return wrapped;
}

export type NewDevice = {
  /** Chosen by the caller when the refresh token (which names the device) is made first; else a fresh ULID. */
  id?: string | undefined;
  name?: string | null | undefined;
  platform?: Platform | null | undefined;
  /** Hash of the device's first refresh token (session.ts), stored with the device so none exists without one. */
  refreshHash?: string | null | undefined;
};

/** The live account that holds `phone` (a deleted account's row no longer holds its number). */
export async function findUserByPhone(db: DbLike, phone: string): Promise<UserRow | null> {
  const rows = await accountsDb(db)
    .select()
    .from(users)
    .where(and(eq(users.phone, phone), isNull(users.deletedAt)))
    .limit(1);
  return rows[0] ?? null;
}

/** The live account with this id; null for unknown and deleted ones. */
export async function findUserById(db: DbLike, userId: string): Promise<UserRow | null> {
  const rows = await accountsDb(db)
    .select()
    .from(users)
    .where(and(eq(users.id, userId), isNull(users.deletedAt)))
    .limit(1);
  return rows[0] ?? null;
}

/**
 * Whether a live (not deleted) account with this id exists (e.g. before storing a message for it).
 *
 * @example
 * if (!(await userExists(env.DB, frame.to))) throw new ApiError('recipient_not_found');
 */
export async function userExists(db: DbLike, userId: string): Promise<boolean> {
  const rows = await accountsDb(db)
    .select({ one: sql<number>`1` })
    .from(users)
    .where(and(eq(users.id, userId), isNull(users.deletedAt)))
    .limit(1);
  return rows.length > 0;
}

/**
 * Log a phone number in on a new device: creates the account if the number has none, and always
 * creates a fresh device. One atomic D1 batch, so two concurrent first logins of the same number
 * cannot create two accounts (the second insert of the user is a no-op). The device that creates
 * the account is trusted (`trusted_at`): nobody else can own a brand-new account; a device added
 * to an existing account with the SMS code alone is not.
 */
export async function createUserWithDevice(
  db: DbLike,
  input: { phone: string; device: NewDevice; now: number },
): Promise<{ user: UserRow; device: DeviceRow; newUser: boolean }> {
  const d = accountsDb(db);
  const { phone, now } = input;
  const newUserId = ulid(now);
  // Whichever row holds the number now: the one just inserted or the existing account.
  const holder = sql`(select ${users.id} from ${users} where ${users.phone} = ${phone})`;
  const [inserted, insertedDevices, found] = await d.batch([
    d
      .insert(users)
      .values({ id: newUserId, phone, createdAt: now, updatedAt: now })
      .onConflictDoNothing({ target: users.phone })
      .returning({ id: users.id }),
    d
      .insert(devices)
      .values({
        id: input.device.id ?? ulid(now),
        userId: holder,
        name: input.device.name ?? null,
        platform: input.device.platform ?? null,
        createdAt: now,
        refreshHash: input.device.refreshHash ?? null,
        refreshedAt: input.device.refreshHash ? now : null,
        trustedAt: sql`case when ${holder} = ${newUserId} then ${now} else null end`,
      })
      .returning(),
    d.select().from(users).where(eq(users.phone, phone)).limit(1),
  ]);
  const user = found[0];
  const device = insertedDevices[0];
  if (user === undefined || device === undefined) throw new Error('createUserWithDevice: batch returned no rows');
  return { user, device, newUser: inserted.length === 1 };
}

/** Add a device to an existing account; `trusted`: it proved ownership beyond the SMS code (entered the PIN). */
export async function createDevice(
  db: DbLike,
  userId: string,
  device: NewDevice & { trusted?: boolean },
  now: number,
): Promise<DeviceRow> {
  const rows = await accountsDb(db)
    .insert(devices)
    .values({
      id: device.id ?? ulid(now),
      userId,
      name: device.name ?? null,
      platform: device.platform ?? null,
      createdAt: now,
      refreshHash: device.refreshHash ?? null,
      refreshedAt: device.refreshHash ? now : null,
      trustedAt: device.trusted === true ? now : null,
    })
    .returning();
  const row = rows[0];
  if (row === undefined) throw new Error('createDevice: insert returned no row');
  return row;
}

/** The account's devices that are still logged in, oldest first. */
export async function listDevices(db: DbLike, userId: string): Promise<DeviceRow[]> {
  return accountsDb(db)
    .select()
    .from(devices)
    .where(and(eq(devices.userId, userId), isNull(devices.revokedAt)))
    .orderBy(asc(devices.createdAt), asc(devices.id));
}

/**
 * The device if it exists, belongs to `userId` and is not revoked; otherwise null. This is the
 * check that makes logout effective for tokens that have not expired yet.
 */
/**
 * Why a device is not active, for the answer to its requests: the account it belongs to was
 * deleted (`account_deleted`), or it was logged out or never existed (`device_revoked`).
 */
export async function inactiveDeviceCode(db: DbLike, deviceId: string): Promise<'account_deleted' | 'device_revoked'> {
  const rows = await accountsDb(db)
    .select({ deletedAt: users.deletedAt })
    .from(devices)
    .innerJoin(users, eq(users.id, devices.userId))
    .where(eq(devices.id, deviceId))
    .limit(1);
  return rows[0]?.deletedAt != null ? 'account_deleted' : 'device_revoked';
}

export async function getActiveDevice(db: DbLike, userId: string, deviceId: string): Promise<DeviceRow | null> {
  const rows = await accountsDb(db)
    .select()
    .from(devices)
    .where(and(eq(devices.id, deviceId), eq(devices.userId, userId), isNull(devices.revokedAt)))
    .limit(1);
  return rows[0] ?? null;
}

/**
 * Revoke one of the user's own devices (its refresh tokens go with it). Returns false (and
 * changes nothing) when the device does not exist, belongs to someone else or is already revoked.
 */
export async function revokeDevice(db: DbLike, userId: string, deviceId: string, now: number): Promise<boolean> {
  const rows = await accountsDb(db)
    .update(devices)
    .set({ revokedAt: now, refreshHash: null, refreshPrevHash: null, refreshDisplacedHash: null })
    .where(and(eq(devices.id, deviceId), eq(devices.userId, userId), isNull(devices.revokedAt)))
    .returning({ id: devices.id });
  return rows.length > 0;
}

/** Change display name and/or about; returns the updated user, or null if there is no such user. */
export async function updateProfile(
  db: DbLike,
  userId: string,
  update: { displayName?: string | undefined; about?: string | undefined; photo?: string | null | undefined },
  now: number,
): Promise<UserRow | null> {
  const rows = await accountsDb(db)
    .update(users)
    .set({
      ...(update.displayName !== undefined ? { displayName: update.displayName } : {}),
      ...(update.about !== undefined ? { about: update.about } : {}),
      ...(update.photo !== undefined ? { photo: update.photo } : {}),
      updatedAt: now,
    })
    .where(and(eq(users.id, userId), isNull(users.deletedAt)))
    .returning();
  return rows[0] ?? null;
}

/**
 * Record that a device was just used. Writes only when the stored value is older than
 * `minIntervalMs`, so authenticating every request does not turn into a D1 write per request.
 */
export async function touchDevice(db: DbLike, deviceId: string, now: number, minIntervalMs = 0): Promise<void> {
  await accountsDb(db)
    .update(devices)
    .set({ lastSeenAt: now })
    .where(
      and(
        eq(devices.id, deviceId),
        isNull(devices.revokedAt),
        or(isNull(devices.lastSeenAt), lt(devices.lastSeenAt, now - minIntervalMs)),
      ),
    );
}
