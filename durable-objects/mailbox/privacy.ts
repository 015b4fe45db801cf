/**
 * Blocks, presence and settings as the mailbox object offers them to the Worker and to other
 * users' objects: each call applied to the parts it concerns (the block list, the presence
 * relay, settings and the notifier, the alarm).
 */
import type { BlockList as BlockListBody, ConversationRef, Presence, Settings, SettingsUpdate } from '../../protocol/index.ts';
import type { MailboxCore } from './core.ts';
import type { ViewerRelation } from './presence.ts';

export class PrivacyControls {
  constructor(private readonly core: MailboxCore) {}

  /**
   * Block `userId`: their 1:1 messages and typing (in groups too) stop reaching this user
   * (silently), and neither sees the other's presence any more.
   */
  block(userId: string): void {
    this.core.blocks.block(userId, Date.now());
    this.core.presence.blocked(userId);
  }

  async unblock(userId: string): Promise<void> {
    this.core.blocks.unblock(userId);
    await this.core.presence.unblocked(userId);
  }

  /** This user added `userId` to their contacts (or removed them): presence visibility both ways is re-evaluated. */
  contactChanged(userId: string, isContact: boolean): Promise<void> {
    return this.core.presence.contactChanged(userId, isContact);
  }

  blocked(): BlockListBody {
    return { blocked: this.core.blocks.list() };
  }

  // ---------------------------------------------------------------- presence

  presenceFor(viewer: string, relation: ViewerRelation, watch: boolean): Promise<Presence> {
    return this.core.presence.answer(viewer, relation, watch);
  }

  async checkPresence(at: number): Promise<boolean> {
    await this.core.presence.update(at);
    return this.core.presence.online;
  }

  presenceNotice(presence: Presence): boolean {
    return this.core.presence.notice(presence);
  }

  presenceOf(target: string): Promise<Presence | null> {
    return this.core.presence.presenceOfOne(target);
  }

  // ---------------------------------------------------------------- settings

  settings(): Settings {
    return this.core.settings.view(Date.now());
  }

  /**
   * Apply a settings update. Watchers are re-told only when what they may see changed. Read
   * receipts take effect for reads and receipts from now on; nothing earlier is re-sent.
   */
  async updateSettings(update: SettingsUpdate): Promise<Settings> {
    const { presenceChanged } = this.core.settings.update(update);
    if (presenceChanged) await this.core.presence.privacyChanged();
    return this.#notificationsChanged();
  }

  mute(conversation: ConversationRef, until: number | null): Promise<Settings> {
    this.core.settings.mute(conversation, until);
    return this.#notificationsChanged();
  }

  unmute(conversation: ConversationRef): Promise<Settings> {
    this.core.settings.unmute(conversation);
    return this.#notificationsChanged();
  }

  /** Quiet hours or mutes may have changed: what is held may be due at another time. Answers the settings. */
  async #notificationsChanged(): Promise<Settings> {
    const now = Date.now();
    await this.core.wakeBy(this.core.notifier.summaryDueAt(now));
    return this.core.settings.view(now);
  }
}
