/**
 * Drizzle table definitions for the accounts database (D1). They mirror the SQL migrations in
 * migrations/ exactly; the SQL files are the source of truth for the database
 * (drizzle cannot express STRICT tables), this file is the typed view the queries use.
 */
import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** One row per account; the phone number is the login identity. */
export const users = sqliteTable('users', {
  id: text('id').primaryKey().notNull(),
  phone: text('phone').notNull().unique(),
  displayName: text('display_name').notNull().default(''),
  about: text('about').notNull().default(''),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
  // Mirrored privacy settings (migrations/0006): the Worker applies them without asking the mailbox.
  profileVisibility: text('profile_visibility', { enum: ['everyone', 'contacts', 'nobody'] }).notNull().default('contacts'),
  groupAdd: text('group_add', { enum: ['everyone', 'contacts', 'nobody'] }).notNull().default('contacts'),
  readReceipts: integer('read_receipts', { mode: 'boolean' }).notNull().default(true),
  /** Set when the account was deleted (the row stays as a tombstone; the phone is replaced). */
  deletedAt: integer('deleted_at'),
  /** The profile photo: an `avatar` media id of the user's own (migrations/0010), or null. */
  photo: text('photo'),
});

/** One row per login: every successful verify creates a device, every token names one. */
export const devices = sqliteTable(
  'devices',
  {
    id: text('id').primaryKey().notNull(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id),
    name: text('name'),
    platform: text('platform'),
    createdAt: integer('created_at').notNull(),
    lastSeenAt: integer('last_seen_at'),
    revokedAt: integer('revoked_at'),
    /** Hash of the current refresh token, and of the one before it (reuse of that one revokes the device). */
    refreshHash: text('refresh_hash'),
    refreshPrevHash: text('refresh_prev_hash'),
    /** The token a retry within the grace after a rotation displaced (worker/auth/session.ts): its reuse revokes too. */
    refreshDisplacedHash: text('refresh_displaced_hash'),
    refreshedAt: integer('refreshed_at'),
    /** When the device entered the PIN (or created the account); null for a login with the SMS code alone. */
    trustedAt: integer('trusted_at'),
  },
  (t) => [index('devices_user_id_idx').on(t.userId)],
);

/**
 * One pending code request (migrations/0005_otp_challenges.sql): the code, bound to the random
 * challenge its requester received. Several may be live for one number.
 */
export const otpChallenges = sqliteTable(
  'otp_challenges',
  {
    id: integer('id').primaryKey(),
    phone: text('phone').notNull(),
    challengeHash: text('challenge_hash').notNull().unique(),
    codeHash: text('code_hash').notNull(),
    expiresAt: integer('expires_at').notNull(),
    attempts: integer('attempts').notNull().default(0),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('otp_challenges_phone_idx').on(t.phone, t.id), index('otp_challenges_expires_idx').on(t.expiresAt)],
);

/** Code requests per number and client address, for the growing waits between them. */
export const otpResends = sqliteTable(
  'otp_resends',
  {
    phone: text('phone').notNull(),
    clientHash: text('client_hash').notNull(),
    firstAt: integer('first_at').notNull(),
    lastAt: integer('last_at').notNull(),
    count: integer('count').notNull(),
  },
  (t) => [primaryKey({ columns: [t.phone, t.clientHash] }), index('otp_resends_first_at_idx').on(t.firstAt)],
);

export type UserRow = typeof users.$inferSelect;
export type DeviceRow = typeof devices.$inferSelect;
export type OtpChallengeRow = typeof otpChallenges.$inferSelect;
export type OtpResendRow = typeof otpResends.$inferSelect;

/** Mirror of a group object's settings (the object is authoritative). */
export const groups = sqliteTable('groups', {
  id: text('id').primaryKey().notNull(),
  title: text('title').notNull(),
  createdBy: text('created_by')
    .notNull()
    .references(() => users.id),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
  memberCount: integer('member_count').notNull(),
  /** The group's picture: an avatar media id (migrations/0012), or null. */
  picture: text('picture'),
});

/** Mirror of a group object's member list. */
export const groupMembers = sqliteTable(
  'group_members',
  {
    groupId: text('group_id')
      .notNull()
      .references(() => groups.id),
    userId: text('user_id')
      .notNull()
      .references(() => users.id),
    role: text('role', { enum: ['admin', 'member'] }).notNull(),
    joinedAt: integer('joined_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.userId] }), index('group_members_user_idx').on(t.userId)],
);

/** Fan-out jobs that ended in the dead-letter queue. */
export const deadLetters = sqliteTable('dead_letters', {
  id: text('id').primaryKey().notNull(),
  queue: text('queue').notNull(),
  body: text('body').notNull(),
  attempts: integer('attempts').notNull(),
  failedAt: integer('failed_at').notNull(),
});

export type GroupRow = typeof groups.$inferSelect;
export type GroupMemberRow = typeof groupMembers.$inferSelect;

/** A user's contact list (their address book of other users). */
export const contacts = sqliteTable(
  'contacts',
  {
    ownerId: text('owner_id')
      .notNull()
      .references(() => users.id),
    contactId: text('contact_id')
      .notNull()
      .references(() => users.id),
    name: text('name').notNull().default(''),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.ownerId, t.contactId] }), index('contacts_contact_idx').on(t.contactId)],
);

/** One push token per device (migrations/0004_push.sql). */
export const pushTokens = sqliteTable(
  'push_tokens',
  {
    deviceId: text('device_id')
      .primaryKey()
      .notNull()
      .references(() => devices.id),
    userId: text('user_id')
      .notNull()
      .references(() => users.id),
    platform: text('platform').notNull(),
    token: text('token').notNull(),
    registeredAt: integer('registered_at').notNull(),
  },
  (t) => [index('push_tokens_user_idx').on(t.userId)],
);

export const pushCounters = sqliteTable('push_counters', {
  outcome: text('outcome').primaryKey().notNull(),
  count: integer('count').notNull(),
});

export const pushSink = sqliteTable('push_sink', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  userId: text('user_id').notNull(),
  deviceId: text('device_id').notNull(),
  platform: text('platform').notNull(),
  payload: text('payload').notNull(),
  at: integer('at').notNull(),
});

export type PushTokenRow = typeof pushTokens.$inferSelect;

/** The two-step verification PIN of an account (migrations/0006). */
export const accountPins = sqliteTable('account_pins', {
  userId: text('user_id')
    .primaryKey()
    .notNull()
    .references(() => users.id),
  pinHash: text('pin_hash').notNull(),
  salt: text('salt').notNull(),
  failed: integer('failed').notNull().default(0),
  lockedUntil: integer('locked_until'),
  resetAt: integer('reset_at'),
  setAt: integer('set_at').notNull(),
});

/** A login that proved the number and owes the PIN. */
export const pinChallenges = sqliteTable(
  'pin_challenges',
  {
    challengeHash: text('challenge_hash').primaryKey().notNull(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id),
    deviceName: text('device_name'),
    platform: text('platform'),
    expiresAt: integer('expires_at').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('pin_challenges_expires_idx').on(t.expiresAt)],
);

/** Blocks, mirrored from the blocker's mailbox object. */
export const blocks = sqliteTable(
  'blocks',
  {
    ownerId: text('owner_id')
      .notNull()
      .references(() => users.id),
    blockedId: text('blocked_id')
      .notNull()
      .references(() => users.id),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.ownerId, t.blockedId] }), index('blocks_blocked_idx').on(t.blockedId)],
);

/** Pending group invites, mirrored from the group object. */
export const groupInvites = sqliteTable(
  'group_invites',
  {
    groupId: text('group_id')
      .notNull()
      .references(() => groups.id),
    userId: text('user_id')
      .notNull()
      .references(() => users.id),
    invitedBy: text('invited_by')
      .notNull()
      .references(() => users.id),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.userId] }), index('group_invites_user_idx').on(t.userId, t.groupId)],
);

/** Invite links: code to group (one live link per group). */
export const groupLinks = sqliteTable('group_links', {
  code: text('code').primaryKey().notNull(),
  groupId: text('group_id')
    .notNull()
    .unique()
    .references(() => groups.id),
});

export type AccountPinRow = typeof accountPins.$inferSelect;
export type PinChallengeRow = typeof pinChallenges.$inferSelect;

/** Media uploads (migrations/0007): one row per upload slot; the bytes are in R2 under `blob_key`. */
export const media = sqliteTable(
  'media',
  {
    id: text('id').primaryKey().notNull(),
    ownerId: text('owner_id')
      .notNull()
      .references(() => users.id),
    kind: text('kind', { enum: ['image', 'video', 'voice', 'document', 'sticker', 'avatar'] }).notNull(),
    mime: text('mime').notNull(),
    size: integer('size').notNull(),
    sha256: text('sha256').notNull(),
    status: text('status', { enum: ['pending', 'uploading', 'complete', 'failed'] }).notNull(),
    blobKey: text('blob_key'),
    uploadNonce: text('upload_nonce'),
    uploadExpiresAt: integer('upload_expires_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    createdAt: integer('created_at').notNull(),
    completedAt: integer('completed_at'),
    /** The R2 multipart upload of a file over MEDIA_PART_SIZE (migrations/0010), while it is unfinished. */
    uploadId: text('upload_id'),
    /** When a message, profile photo or group picture first named it (migrations/0010); null: never. */
    referencedAt: integer('referenced_at'),
    /** The entity tag of verified bytes uploaded straight to R2 (migrations/0011); null: written by the Worker. */
    blobEtag: text('blob_etag'),
  },
  (t) => [
    index('media_owner_hash_idx').on(t.ownerId, t.sha256, t.size),
    index('media_hash_idx').on(t.sha256, t.size),
    index('media_expires_idx').on(t.status, t.expiresAt),
    // migrations/0008: the sweep checks whether another row still names an object.
    index('media_blob_key_idx').on(t.blobKey),
  ],
);

export type MediaRow = typeof media.$inferSelect;

/** The parts of an unfinished multipart upload received so far (migrations/0010). */
export const mediaParts = sqliteTable(
  'media_parts',
  {
    mediaId: text('media_id')
      .notNull()
      .references(() => media.id),
    part: integer('part').notNull(),
    etag: text('etag').notNull(),
    size: integer('size').notNull(),
  },
  (t) => [primaryKey({ columns: [t.mediaId, t.part] })],
);

/** Running totals of media housekeeping (migrations/0008), e.g. 'swept': rows deleted by sweeps. */
export const mediaCounters = sqliteTable('media_counters', {
  name: text('name').primaryKey().notNull(),
  count: integer('count').notNull(),
});

/**
 * Download grants (migrations/0009): a message naming a media item grants its recipient
 * ('user') or its group ('group': current members only, per group_members).
 */
export const mediaAccess = sqliteTable(
  'media_access',
  {
    mediaId: text('media_id')
      .notNull()
      .references(() => media.id),
    granteeKind: text('grantee_kind', { enum: ['user', 'group'] }).notNull(),
    granteeId: text('grantee_id').notNull(),
    grantedAt: integer('granted_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.mediaId, t.granteeKind, t.granteeId] })],
);
