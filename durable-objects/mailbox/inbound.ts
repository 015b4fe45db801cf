/**
 * What other objects hand to this user: 1:1 messages, group fan-out, tallies of the user's own
 * group messages, typing notices and group invites. Blocking applies here, silently: the sender
 * learns nothing of it.
 */
import {
  TYPING_TTL_MS,
  type GroupEntry,
  type GroupTally,
  type Message,
  type TypingNoticeFrame,
  type TypingState,
} from '../../protocol/index.ts';
import type { MailboxCore } from './core.ts';
import type { Arrival } from './notifications.ts';
import type { DirectActionRecord } from './direct-actions.ts';
import { Gather } from '../gather.ts';
import type { StoredEntry, StoredMessage } from './store.ts';

export type GroupInvite = { group: string; title: string; invitedBy: string; at: number };

/** A delivered receipt riding on a delivery: `by` (the caller) received these messages this user sent them. */
export type RidingDelivered = { by: string; clientIds: string[]; at: number };

export class Inbound {
  /**
   * Deliveries that arrive while the previous one's commit is in flight (a busy mailbox: many
   * senders at once) are stored together in one turn and share one commit; each sender's answer
   * leaves after it (the output gate). Null for a round that runs after the account was deleted
   * (the sender reports `recipient_not_found`).
   */
  readonly #deliveries: Gather<{ messages: Message[]; receipt: RidingDelivered | undefined }, StoredMessage[] | null>;

  constructor(private readonly core: MailboxCore) {
    this.#deliveries = new Gather({
      apply: ({ messages, receipt }) => {
        if (core.closed) return null;
        // The sender's delivered ticks for what this user sent them, in the same commit.
        if (receipt) core.applyReceipts(receipt.by, 'delivered', receipt.clientIds, receipt.at);
        return this.deliver(messages);
      },
      settle: () => core.ctx.storage.sync(),
    });
  }

  /** `deliver` (and a riding receipt), gathered with the deliveries that arrive during the previous commit. */
  deliverGathered(messages: Message[], receipt?: RidingDelivered): Promise<StoredMessage[] | null> {
    return this.#deliveries.submit({ messages, receipt });
  }

  /**
   * Store messages sent to this user (in order) and push them to connected devices.
   * Idempotent per (sender, client id); durable once it returns.
   *
   * Messages from someone this user blocked are answered as if stored (the sender sees "sent",
   * never "delivered", as in WhatsApp) and dropped: blocking stays silent.
   */
  deliver(messages: Message[]): StoredMessage[] {
    const { core } = this;
    const now = Date.now();
    const entries: StoredEntry[] = [];
    const arrivals: Arrival[] = [];
    const results = messages.map((message) => {
      if (core.blocks.has(message.from)) return { id: message.id, sentAt: message.sentAt, duplicate: false };
      const { stored, entry } = core.store.recordMessage(message, false, now);
      if (entry) {
        entries.push(entry, ...core.actions.recorded(message));
        arrivals.push({ conversation: { kind: 'direct', id: message.from }, messageId: message.id, from: message.from, body: message.body });
      }
      return stored;
    });
    core.publish(entries);
    core.pushes.ifAway(arrivals, now);
    return results;
  }

  /**
   * The other party of a 1:1 chat acted on a message of it (reaction, edit, deletion for
   * everyone): apply it to this user's copy. Reactions and edits from someone this user blocked
   * are dropped, silently; a deletion still applies (it only removes what they sent).
   */
  applyDirectAction(record: DirectActionRecord): void {
    const { core } = this;
    const deletion = record.action.kind === 'delete';
    if (core.blocks.has(record.actor) && !deletion) return;
    core.publish(core.actions.applyRecord(record));
  }

  /**
   * Store a fan-out delivery of a group's entries (at least once, any order: duplicates are
   * dropped, gaps repaired from the group first). Resolves once they are durable here.
   */
  deliverGroup(group: string, entries: GroupEntry[]): Promise<number> {
    return this.core.groups.deliver(group, entries);
  }

  /**
   * New delivered / read counts of this user's messages in `group`. With read receipts off this
   * user sees no one's reads (reciprocity, as in 1:1): the counts arrive with `read: 0`.
   */
  groupTallies(group: string, tallies: GroupTally[]): void {
    const { core } = this;
    const shown = core.settings.privacy.readReceipts ? tallies : tallies.map((t) => ({ ...t, read: 0 }));
    core.publish(core.groupInbox.recordTallies(group, shown, Date.now()));
  }

  /**
   * Someone is typing to this user (`group` null) or in one of their groups: tell the connected
   * devices, if any. Nothing is stored; notices from a user this user blocked are dropped, in
   * groups too.
   */
  typingNotice(from: string, group: string | null, state: TypingState): void {
    const { core } = this;
    if (core.blocks.has(from)) return;
    const notice: TypingNoticeFrame = { type: 'typing_notice', from, group, state, expiresInMs: TYPING_TTL_MS };
    for (const ws of core.connections.all()) core.connections.sendDirect(ws, notice);
  }

  /**
   * Someone invited this user to a group: a `group_invite` entry for every device, unless this
   * user blocked the inviter (then nothing, and the inviter cannot tell). No push: invites
   * come from people who may not add the user directly, mostly strangers, and a push per
   * invite would hand them the user's attention (the spam this setting exists to stop); the
   * entry waits for the next time the app is opened.
   */
  groupInvited(invite: GroupInvite): void {
    if (this.core.blocks.has(invite.invitedBy)) return;
    const { group, title, invitedBy, at } = invite;
    this.core.appendAndPublish({ type: 'group_invite', group, title, invitedBy, at });
  }
}
