/**
 * A user's settings, kept in their mailbox object because that is where they are applied:
 * privacy (who sees last seen / online, read receipts) when presence is shown and receipts
 * are sent or received, notification settings and mutes when a message arrives for a user with
 * no connected device. Small, read on every delivery, so they are cached in memory and written
 * through.
 */
import {
  DEFAULT_PRIVACY,
  NotificationSettingsSchema,
  PrivacySettingsSchema,
  type ConversationRef,
  type Mute,
  type NotificationSettings,
  type PrivacySettings,
  type Settings,
  type SettingsUpdate,
} from '../../protocol/index.ts';

/** Defaults: content-free pushes (privacy defaults come from the protocol: DEFAULT_PRIVACY). */
export const DEFAULT_NOTIFICATIONS: NotificationSettings = { previews: false, quietHours: null };

export class UserSettings {
  #privacy: PrivacySettings;
  #notifications: NotificationSettings;

  constructor(private readonly sql: SqlStorage) {
    const stored = new Map(sql.exec<{ key: string; value: string }>('SELECT key, value FROM settings').toArray().map((r) => [r.key, r.value]));
    // Stored over the defaults: settings written before a field existed keep every choice made.
    this.#privacy = parseOr(stored.get('privacy'), PrivacySettingsSchema, DEFAULT_PRIVACY);
    this.#notifications = parseOr(stored.get('notifications'), NotificationSettingsSchema, DEFAULT_NOTIFICATIONS);
  }

  get privacy(): PrivacySettings {
    return this.#privacy;
  }

  get notifications(): NotificationSettings {
    return this.#notifications;
  }

  view(now: number): Settings {
    return { privacy: this.#privacy, notifications: this.#notifications, mutes: this.mutes(now) };
  }

  /**
   * Apply a partial update. Returns whether what presence watchers may see changed (they must
   * then be re-told) and whether read receipts were switched (nothing is re-sent either way:
   * reads made while receipts were off stay unannounced).
   */
  update(update: SettingsUpdate): { presenceChanged: boolean; readReceiptsChanged: boolean } {
    const before = this.#privacy;
    if (update.privacy) {
      this.#privacy = { ...this.#privacy, ...update.privacy };
      this.#write('privacy', this.#privacy);
    }
    if (update.notifications) {
      this.#notifications = { ...this.#notifications, ...update.notifications };
      this.#write('notifications', this.#notifications);
    }
    return {
      presenceChanged: before.lastSeen !== this.#privacy.lastSeen || before.online !== this.#privacy.online,
      readReceiptsChanged: before.readReceipts !== this.#privacy.readReceipts,
    };
  }

  mute(conversation: ConversationRef, until: number | null): void {
    this.sql.exec('INSERT OR REPLACE INTO mutes (kind, id, until) VALUES (?, ?, ?)', conversation.kind, conversation.id, until);
  }

  unmute(conversation: ConversationRef): void {
    this.sql.exec('DELETE FROM mutes WHERE kind = ? AND id = ?', conversation.kind, conversation.id);
  }

  isMuted(conversation: ConversationRef, now: number): boolean {
    const row = this.sql
      .exec<{ until: number | null }>('SELECT until FROM mutes WHERE kind = ? AND id = ?', conversation.kind, conversation.id)
      .toArray()[0];
    return row !== undefined && (row.until === null || row.until > now);
  }

  /** Mutes in force at `now` (expired ones are deleted on the way). */
  mutes(now: number): Mute[] {
    this.sql.exec('DELETE FROM mutes WHERE until IS NOT NULL AND until <= ?', now);
    return this.sql
      .exec<{ kind: 'direct' | 'group'; id: string; until: number | null }>('SELECT kind, id, until FROM mutes ORDER BY kind, id')
      .toArray()
      .map((r) => ({ conversation: { kind: r.kind, id: r.id } as ConversationRef, until: r.until }));
  }

  /** The earliest time a timed mute ends (a summary of what it held may be due then). */
  nextMuteEnd(now: number): number | null {
    const row = this.sql
      .exec<{ next: number | null }>('SELECT MIN(until) AS next FROM mutes WHERE until IS NOT NULL AND until > ?', now)
      .toArray()[0];
    return row?.next ?? null;
  }

  #write(key: string, value: unknown): void {
    this.sql.exec('INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)', key, JSON.stringify(value));
  }
}

/** Stored JSON laid over `fallback` (fields added since it was written take their defaults), validated. */
function parseOr<T extends object>(text: string | undefined, schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }, fallback: T): T {
  if (text === undefined) return fallback;
  try {
    const stored: unknown = JSON.parse(text);
    if (typeof stored !== 'object' || stored === null) return fallback;
    const parsed = schema.safeParse({ ...fallback, ...stored });
    return parsed.success ? parsed.data : fallback;
  } catch {
    return fallback;
  }
}
