/**
 * Presence, privacy and notification settings, and push-token registration.
 *
 * Presence: a user is online while one of their devices is connected and heartbeating; last
 * seen is the time of their last *user* activity (sending, reading, opening the app), never of
 * background syncs. Who may see it follows the owner's privacy settings and is reciprocal (who
 * does not share their last seen with someone cannot see that person's), and blocking in either
 * direction hides it.
 */
import { z } from 'zod';
import { GroupIdSchema } from './groups.ts';
import { UserIdSchema } from './messages.ts';

// ---------------------------------------------------------------- presence

/** What one viewer may see of one user's presence. Hidden presence reads `online: false, lastSeen: null`. */
export const PresenceSchema = z.strictObject({
  userId: UserIdSchema,
  online: z.boolean(),
  /** Last user activity, ms since the epoch; null when unknown or not visible to you. */
  lastSeen: z.number().int().nullable(),
});
export type Presence = z.infer<typeof PresenceSchema>;

// ---------------------------------------------------------------- settings

/** Who may see your last seen: everyone, your contacts, or nobody. */
export const LastSeenVisibilitySchema = z.enum(['everyone', 'contacts', 'nobody']);
export type LastSeenVisibility = z.infer<typeof LastSeenVisibilitySchema>;
/** Who may see that you are online: everyone, or the same people who may see your last seen. */
export const OnlineVisibilitySchema = z.enum(['everyone', 'same_as_last_seen']);

/** Who may do something that concerns you (see your about, add you to groups): everyone, your contacts, or nobody. */
export const AudienceSchema = z.enum(['everyone', 'contacts', 'nobody']);
export type Audience = z.infer<typeof AudienceSchema>;

export const PrivacySettingsSchema = z.strictObject({
  lastSeen: LastSeenVisibilitySchema,
  online: OnlineVisibilitySchema,
  /**
   * Read receipts. Off: you send none (people see "delivered", never "read") and, reciprocally,
   * you see none of theirs; in groups your reads are not counted. Delivered ticks are unaffected.
   */
  readReceipts: z.boolean(),
  /**
   * Who may add you to a group directly. Anyone else (and anyone you blocked, always) can only
   * invite you: you receive nothing from the group unless you accept.
   */
  groups: AudienceSchema,
  /** Who sees your "about" (and profile photo). Someone you blocked never does. Your display name is always visible. */
  profile: AudienceSchema,
});
export type PrivacySettings = z.infer<typeof PrivacySettingsSchema>;

/**
 * Privacy for an account that never changed it: presence, about and group adds for contacts only
 * (REQUIREMENTS: "visible only to contacts"), read receipts on (as in WhatsApp and Signal).
 */
export const DEFAULT_PRIVACY: PrivacySettings = {
  lastSeen: 'contacts',
  online: 'same_as_last_seen',
  readReceipts: true,
  groups: 'contacts',
  profile: 'contacts',
};

/** "HH:MM", 24-hour clock. */
const ClockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM (24-hour)');

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * A daily do-not-disturb window in the user's time zone (it may wrap midnight: 22:00-07:00).
 * Pushes during it are held and folded into one summary when it ends.
 */
export const QuietHoursSchema = z.strictObject({
  start: ClockTime,
  end: ClockTime,
  /** IANA time zone, e.g. "Europe/Berlin". */
  timeZone: z.string().min(1).max(64).refine(isTimeZone, 'unknown time zone'),
});
export type QuietHours = z.infer<typeof QuietHoursSchema>;

export const NotificationSettingsSchema = z.strictObject({
  /**
   * Show the sender and a snippet of the text in pushes. Off (the default): pushes are
   * content-free ("New message"), so nothing of a message passes through push providers.
   */
  previews: z.boolean(),
  quietHours: QuietHoursSchema.nullable(),
});
export type NotificationSettings = z.infer<typeof NotificationSettingsSchema>;

/** A conversation: a 1:1 chat (named by the peer's user id) or a group. */
export const ConversationRefSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('direct'), id: UserIdSchema }),
  z.strictObject({ kind: z.literal('group'), id: GroupIdSchema }),
]);
export type ConversationRef = z.infer<typeof ConversationRefSchema>;

export const MuteSchema = z.strictObject({
  conversation: ConversationRefSchema,
  /** Muted until this time (ms since the epoch), or null for "always". */
  until: z.number().int().nullable(),
});
export type Mute = z.infer<typeof MuteSchema>;

// ---- GET /v1/me/settings, PATCH /v1/me/settings
export const SettingsSchema = z.strictObject({
  privacy: PrivacySettingsSchema,
  notifications: NotificationSettingsSchema,
  /** Conversations muted now (expired mutes are not listed). */
  mutes: z.array(MuteSchema),
});
export type Settings = z.infer<typeof SettingsSchema>;

export const SettingsUpdateSchema = z
  .strictObject({
    privacy: PrivacySettingsSchema.partial().optional(),
    notifications: NotificationSettingsSchema.partial().optional(),
  })
  .refine((u) => u.privacy !== undefined || u.notifications !== undefined, 'nothing to update');
export type SettingsUpdate = z.infer<typeof SettingsUpdateSchema>;

// ---- PUT /v1/me/mutes/:kind/:id
export const MuteRequestSchema = z.strictObject({
  /** Mute until this time (ms since the epoch, in the future), or null for "always". */
  until: z.number().int().positive().nullable(),
});
export type MuteRequest = z.infer<typeof MuteRequestSchema>;

// ---------------------------------------------------------------- push tokens

export const PushPlatformSchema = z.enum(['apns', 'fcm', 'webhook']);
export type PushPlatformName = z.infer<typeof PushPlatformSchema>;

// ---- PUT /v1/devices/current/push
export const PushTokenRequestSchema = z.strictObject({
  platform: PushPlatformSchema,
  /** The provider's token for this device (APNs device token, FCM registration token, webhook subscriber token). */
  token: z.string().trim().min(1).max(4096),
});
export type PushTokenRequest = z.infer<typeof PushTokenRequestSchema>;

export const PushRegistrationSchema = z.strictObject({
  deviceId: z.string(),
  platform: PushPlatformSchema,
  registeredAt: z.number().int(),
});
export type PushRegistration = z.infer<typeof PushRegistrationSchema>;

// ---- GET /v1/push/sink (local sink provider only; operator token)
export const SinkPushSchema = z.strictObject({
  id: z.number().int(),
  userId: UserIdSchema,
  deviceId: z.string(),
  platform: PushPlatformSchema,
  kind: z.enum(['message', 'summary']),
  title: z.string(),
  body: z.string(),
  conversation: ConversationRefSchema.nullable(),
  messageId: z.string().nullable(),
  badge: z.number().int().nullable(),
  silent: z.boolean(),
  at: z.number().int(),
});
export type SinkPush = z.infer<typeof SinkPushSchema>;
export const SinkPushListSchema = z.strictObject({ pushes: z.array(SinkPushSchema) });
export type SinkPushList = z.infer<typeof SinkPushListSchema>;
