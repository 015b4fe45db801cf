/**
 * A user's settings, kept in their mailbox object because that is where they are applied:
 * privacy (who sees last seen / online) when presence is shown, notification settings and mutes
 * when a message arrives for a user with no connected device. Small, read on every delivery,
 * so they are cached in memory and written through.
 */
import {
  NotificationSettingsSchema,
  PrivacySettingsSchema,
  type ConversationRef,
  type Mute,
  type NotificationSettings,
  type PrivacySettings,
  type Settings,
  type SettingsUpdate,
} from '../../protocol/index.ts';

/** Defaults: presence for contacts only (REQUIREMENTS: "visible only to contacts"); content-free pushes. */
export const DEFAULT_PRIVACY: PrivacySettings = { lastSeen: 'contacts', online: 'same_as_last_seen' };
export const DEFAULT_NOTIFICATIONS: NotificationSettings = { previews: false, quietHours: null };

export class UserSettings {
  #privacy: PrivacySettings;
  #notifications: NotificationSettings;

  constructor(private readonly sql: SqlStorage) {
    const stored = new Map(sql.exec<{ key: string; value: string }>('SELECT key, value FROM settings').toArray().map((r) => [r.key, r.value]));
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

  /** Apply a partial update; returns whether privacy changed (watchers must then be re-told). */
  update(update: SettingsUpdate): { privacyChanged: boolean } {
    const before = this.#privacy;
    if (update.privacy) {
      this.#privacy = { ...this.#privacy, ...update.privacy };
      this.#write('privacy', this.#privacy);
    }
    if (update.notifications) {
      this.#notifications = { ...this.#notifications, ...update.notifications };
      this.#write('notifications', this.#notifications);
    }
    return { privacyChanged: before.lastSeen !== this.#privacy.lastSeen || before.online !== this.#privacy.online };
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

function parseOr<T>(text: string | undefined, schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }, fallback: T): T {
  if (text === undefined) return fallback;
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : fallback;
  } catch {
    return fallback;
  }
}
