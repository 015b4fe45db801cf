/**
 * Messages in the group object: storing a post in the log (idempotent per sender and client
 * id), shared actions on a message (./actions.ts), gap repair for a member's mailbox, receipts
 * and message info, and typing. New log entries are handed to the publisher for fan-out.
 * Refusals are thrown as `GroupError`s.
 */
import type { GroupEntry, MessageBody, MessageInfo, TypingState } from '../../protocol/index.ts';
import { revokeMediaGrant } from '../../db/media.ts';
import { mailboxOf } from '../stubs.ts';
import { TypingGate } from '../typing.ts';
import { isRetryOf, type ActInput } from './actions.ts';
import { messageInfoOf } from './info.ts';
import { visibleRows, type ReceiptStatus } from './members.ts';
import type { Publisher } from './publisher.ts';
import { storedAt } from './reading.ts';
import { GroupError } from './result.ts';
import type { GroupState } from './state.ts';

/** Typing in a group reaches members with receipts this recent, at most this many. */
const TYPING_ACTIVE_MS = 5 * 60_000;
const GROUP_TYPING_AUDIENCE = 256;
/** Entries returned by one gap-repair call. */
const ENTRIES_PAGE = 512;

export type PostInput = {
  sender: string;
  device: string;
  clientId: string;
  body: MessageBody;
  /** A reply: the id of a message of this group the sender can see (its quote is stored with the new message). */
  replyTo?: string;
  /** A forward: the hops the sender's mailbox computed (stored as is). */
  forwarded?: number;
};
export type Posted = {
  messageId: string;
  gseq: number;
  sentAt: number;
  duplicate: boolean;
  /** Members other than the sender now: the deliveries this message causes (the sender's budget pays them). */
  audience: number;
};

export type MessagingDeps = {
  state: GroupState;
  publisher: Publisher;
  env: Env;
  /** Keep the object alive for work that finishes after the answer. */
  waitUntil: (work: Promise<unknown>) => void;
  /** How long receipt times are kept: message info gives times only for messages this recent. */
  retentionMs: number;
};

export class Messaging {
  readonly #typing = new TypingGate();

  constructor(private readonly deps: MessagingDeps) {}

  /**
   * Store a message in the log. Idempotent per (sender, client id): a retry gets the original
   * answer (even after the sender was removed), a different message under a used id gets
   * `id_conflict`. A reply must name a visible message that is not deleted.
   */
  post(input: PostInput): Posted {
    const { state } = this.deps;
    state.settingsOrThrow();
    const { log, actions } = state.parts;
    const stored = log.findByClient(input.sender, input.clientId);
    if (stored) {
      if (stored.entry.type !== 'message' || !isRetryOf(input, stored.entry.message)) throw new GroupError('id_conflict');
      const known = stored.entry.message;
      return { messageId: known.id, gseq: known.gseq, sentAt: known.sentAt, duplicate: true, audience: this.#audience(input.sender) };
    }
    const member = state.memberOrThrow(input.sender);
    if (state.settings().onlyAdminsSend && member.role !== 'admin') throw new GroupError('admins_only');
    const replyTo = input.replyTo === undefined ? undefined : actions.quote(member, input.replyTo);
    const message = log.appendMessage({
      id: state.newId(),
      clientId: input.clientId,
      from: input.sender,
      fromDevice: input.device,
      body: input.body,
      at: Date.now(),
      ...(replyTo ? { replyTo } : {}),
      ...(input.forwarded !== undefined ? { forwarded: input.forwarded } : {}),
    });
    this.deps.publisher.appended();
    return { messageId: message.id, gseq: message.gseq, sentAt: message.sentAt, duplicate: false, audience: this.#audience(input.sender) };
  }

  /**
   * React to, edit or delete for everyone a message. Idempotent per (actor, client id): a retry
   * answers the original gseq with `duplicate`; the id used for anything else is `id_conflict`.
   */
  act(input: ActInput): { gseq: number; duplicate: boolean } {
    const { state } = this.deps;
    state.settingsOrThrow();
    const { log, actions } = state.parts;
    const stored = log.findByClient(input.actor, input.clientId);
    if (stored) {
      if (stored.entry.type !== 'update' || stored.fingerprint !== actions.fingerprint(input)) throw new GroupError('id_conflict');
      return { gseq: stored.gseq, duplicate: true };
    }
    const member = state.memberOrThrow(input.actor);
    const head = log.head;
    const now = Date.now();
    const acted = actions.act(member, input, now);
    if (log.head > head) this.deps.publisher.appended();
    if (acted.revokeMedia !== undefined) this.#revokeMedia(acted.revokeMedia, now);
    return { gseq: acted.gseq, duplicate: false };
  }

  /**
   * Gap repair: the entries after `after` up to `upTo` that `member` may see (from their joining
   * until their removal), and how far that answer reaches. An update is theirs only if its
   * message was too.
   */
  entriesFor(member: string, after: number, upTo: number): { entries: GroupEntry[]; through: number } {
    const { state } = this.deps;
    state.settingsOrThrow();
    const { log, members } = state.parts;
    const intervals = members.intervals(member);
    if (intervals.length === 0) throw new GroupError('not_group_member');
    const end = Math.min(upTo, log.head);
    const rows = log.range(after, end, ENTRIES_PAGE);
    const entries = visibleRows(rows, intervals).map((r) => r.entry);
    const through = rows.length === ENTRIES_PAGE ? rows[rows.length - 1]!.gseq : Math.max(end, after);
    return { entries, through };
  }

  /** A member's device connected: see GroupChat.online. */
  online(member: string): { head: number; from: number } | null {
    const { state } = this.deps;
    const s = state.settingsOrThrow();
    const { delivery, members, log, notices } = state.parts;
    const intervals = members.intervals(member);
    if (intervals.length === 0) throw new GroupError('not_group_member');
    if (s.logFrom === null) return null;
    const registered = delivery.register(member, Date.now());
    if (registered) {
      notices.present(member);
      return { head: registered.head, from: s.logFrom };
    }
    // A former member: nothing live, but they may pull up to their removal.
    const last = Math.max(...intervals.map(([, to]) => to));
    return { head: Math.min(log.head, last), from: s.logFrom };
  }

  /**
   * A page for a member's device: the entries after `after` that `member` may see, at most
   * `limit` rows of the log read (what they may not see is skipped, so a page can be short or
   * empty with `through` still moving). Former members may pull up to their removal.
   */
  pull(member: string, after: number, limit: number, notBefore = 0): { entries: GroupEntry[]; through: number; head: number } {
    const page = this.entriesFor(member, after, after + Math.max(1, Math.min(limit, ENTRIES_PAGE)));
    const entries = notBefore > 0 ? page.entries.filter((e) => storedAt(e) >= notBefore) : page.entries;
    return { entries, through: page.through, head: this.deps.state.parts.log.head };
  }

  /** A member's devices have (`delivered`) or read (`read`) the log up to `gseq`. Idempotent. */
  receipt(member: string, status: ReceiptStatus, gseq: number): void {
    const { state } = this.deps;
    if (!state.find()) return;
    const { log, members, tallies } = state.parts;
    const upTo = Math.min(gseq, log.head);
    const moved = members.advance(member, status, upTo, Date.now());
    if (moved) tallies.touch(moved.from, upTo);
  }

  /** See GroupChat.readUpTo. */
  readUpTo(member: string, gseq: number, relay: boolean): number {
    const { state } = this.deps;
    state.settingsOrThrow();
    const { log, members } = state.parts;
    const intervals = members.intervals(member);
    if (intervals.length === 0) throw new GroupError('not_group_member');
    const upTo = Math.min(gseq, log.head, Math.max(...intervals.map(([, to]) => to)));
    if (relay) this.receipt(member, 'read', upTo);
    return upTo;
  }

  /** Who received and read one message (the sender only). */
  messageInfo(requester: string, messageId: string): MessageInfo {
    const { state } = this.deps;
    state.memberOrThrow(requester);
    const { log, members } = state.parts;
    const message = log.messageById(messageId);
    if (!message) throw new GroupError('not_found', 'No such message in this group');
    if (message.from !== requester) throw new GroupError('not_message_sender');
    return messageInfoOf(members, message, message.sentAt >= Date.now() - this.deps.retentionMs);
  }

  /**
   * A member is typing: tell the members who are likely online (receipts in the last few
   * minutes, at most GROUP_TYPING_AUDIENCE). Ephemeral and best effort; non-members are ignored.
   */
  typing(member: string, state: TypingState): void {
    const group = this.deps.state;
    if (!group.find() || !group.parts.members.get(member)) return;
    // The sender's object has charged the sender's budget; this only drops repeats and noise.
    if (!this.#typing.allow(member, state, Date.now())) return;
    const since = Date.now() - TYPING_ACTIVE_MS;
    const audience = group.parts.members.recentlyActive(since, member, GROUP_TYPING_AUDIENCE);
    const groupId = group.settings().groupId;
    for (const userId of audience) {
      mailboxOf(this.deps.env, userId)
        .typingNotice(member, groupId, state)
        .catch(() => undefined);
    }
  }

  /** Push pending tallies now (tests; normally a short timer does it). */
  async flushTallies(): Promise<void> {
    if (this.deps.state.find()) await this.deps.state.parts.tallies.flush();
  }

  /**
   * A message naming media was deleted for everyone: members may no longer download it. Best
   * effort, after the answer: the deletion stands whatever D1 says.
   */
  #revokeMedia(mediaId: string, now: number): void {
    const { state, env } = this.deps;
    // Another message of the group (a forward of it, a second send) still names it: keep the grant.
    if (state.parts.log.namesMedia(mediaId)) return;
    const grantee = { kind: 'group' as const, id: state.settings().groupId };
    this.deps.waitUntil(
      revokeMediaGrant(env.DB, mediaId, grantee, now).catch((error: unknown) => console.error('group media grant revocation failed', error)),
    );
  }

  /** Members other than `sender` (whom a message of theirs reaches). */
  #audience(sender: string): number {
    const { members } = this.deps.state.parts;
    return members.count() - (members.get(sender) ? 1 : 0);
  }
}

/** When an entry was stored in the log. */
