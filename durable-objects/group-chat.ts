/**
 * GroupChat: the Durable Object of one group. It holds the authoritative member list and
 * settings and the group log, where every message and system event gets its `gseq`; then it
 * fans entries out to the members' mailboxes (./group/fanout.ts) and sums the members' receipts
 * for senders (./group/tallies.ts). People join directly or by consent: pending invites, an
 * invite link and join requests (./group/consent.ts). This class only adapts the RPC entry
 * points and the alarm: each entry point turns a refusal into a `GroupResult` and hands the
 * call to the rules in ./group/: management.ts (create, settings, members, roles), joining.ts
 * (invites, the link, join requests), messaging.ts (posts, actions, gap repair, receipts,
 * typing) and publisher.ts (fan-out, D1 mirror, invitee mailboxes, the alarm), over the state
 * in state.ts.
 *
 * Path of a group message: device -> sender's mailbox (`group_send` frame) -> `post` here
 * (stored in the log: `group_sent`) -> fan-out to every member's mailbox (direct calls for small
 * audiences, the fan-out queue for large ones) -> members' devices. Reactions, edits and
 * deletions for everyone take the same path as `update` entries (`act`, ./group/actions.ts).
 */
import { DurableObject } from 'cloudflare:workers';
import { countCosts } from '../lib/cost-counters.ts';
import { FAULT_LOG_PREFIX, faultInjectionOn } from '../lib/faults.ts';
import type {
  Group,
  GroupEntry,
  GroupLink,
  GroupMemberPage,
  GroupMessage,
  GroupRole,
  JoinRequestList,
  JoinResult,
  LinkPreview,
  MessageInfo,
  TypingState,
  UpdateGroup,
} from '../protocol/index.ts';
import { Gather } from './gather.ts';
import type { ActInput } from './group/actions.ts';
import type { AddTargets } from './group/consent.ts';
import type { FanOutStats } from './group/fanout.ts';
import { Joining } from './group/joining.ts';
import { Management, type CreateGroupInput } from './group/management.ts';
import type { ReceiptStatus } from './group/members.ts';
import { Messaging, type Posted, type PostInput } from './group/messaging.ts';
import { atLeast } from './group/parts.ts';
import { Publisher } from './group/publisher.ts';
import { searchLog, type LogHit, type LogSearchQuery } from './group/search.ts';
import { chatSummary, logPage, visibleMessage, visibleMessages, type LogItem, type LogPageQuery } from './group/reading.ts';
import { settle, type GroupResult } from './group/result.ts';
import { GroupState } from './group/state.ts';

export type { ActInput, AddTargets, CreateGroupInput, GroupResult, LogHit, LogItem, LogPageQuery, LogSearchQuery, Posted, PostInput };

const DAY_MS = 86_400_000;

export class GroupChat extends DurableObject<Env> {
  readonly #management: Management;
  readonly #joining: Joining;
  readonly #messaging: Messaging;
  /** Posts arriving while the previous one's commit is in flight are stored together: one commit for all (a busy group). */
  readonly #posts: Gather<PostInput, Posted>;
  readonly #publisher: Publisher;
  readonly #state: GroupState;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Local bench only (LOCAL_COST_COUNTERS, lib/cost-counters.ts): otherwise `counted` is `ctx`.
    const counted = countCosts('group', this, ctx, env);
    const retentionMs = atLeast(1, env.MAILBOX_RETENTION_DAYS, 30) * DAY_MS;
    const state = new GroupState(counted.storage.sql, env);
    this.#state = state;
    // Unset or 0: groups keep copying entries into mailboxes whatever their size.
    const logDeliveryMin = atLeast(0, env.GROUP_LOG_DELIVERY_MIN, 0);
    const publisher = new Publisher({ state, env, storage: counted.storage, retentionMs, logDeliveryMin });
    this.#publisher = publisher;
    this.#management = new Management(state, publisher);
    this.#joining = new Joining(state, publisher);
    this.#messaging = new Messaging({ state, publisher, env, waitUntil: (work) => ctx.waitUntil(work), retentionMs });
    this.#posts = new Gather({ apply: (input) => this.#messaging.post(input), settle: () => ctx.storage.sync() });
  }

  // ------------------------------------------------------------------ management (RPC)

  /**
   * Create the group: the actor becomes its first admin; the direct targets join right after,
   * the others are invited. Seats (members and invites) are checked before anything is stored.
   */
  create(input: CreateGroupInput): Promise<GroupResult<Group>> {
    return settle(() => this.#management.create(input));
  }

  /** The group as `requester` (a member) sees it. */
  view(requester: string): Promise<GroupResult<Group>> {
    return settle(() => this.#management.view(requester));
  }

  /** A page of the members by user id, ids after `after` (members only). */
  memberPage(requester: string, after: string, limit: number): Promise<GroupResult<GroupMemberPage>> {
    return settle(() => this.#management.memberPage(requester, after, limit));
  }

  /** Change title, description, picture or "only admins send" (admins). One event per change. */
  update(actor: string, patch: UpdateGroup): Promise<GroupResult<Group>> {
    return settle(() => this.#management.update(actor, patch));
  }

  /**
   * Add people (admins; accounts known to exist, sorted by the Worker into direct adds and
   * invites). Current members are skipped, pending invites stay as they are; nobody new is a
   * no-op. The answer has the same shape whoever was added or invited, so an adder cannot tell
   * a block from a privacy setting.
   */
  addMembers(actor: string, targets: AddTargets): Promise<GroupResult<Group>> {
    return settle(() => this.#management.addMembers(actor, targets));
  }

  /** Remove a member (admins); removing yourself is leaving. The removed member still receives this event, nothing after. */
  removeMember(actor: string, target: string): Promise<GroupResult<Group>> {
    return settle(() => this.#management.removeMember(actor, target));
  }

  /**
   * Leave the group. If the last admin leaves while others stay, the longest-standing member
   * becomes admin (as people expect from a messenger); the group never has members but no admin.
   */
  leave(actor: string): Promise<GroupResult<Group>> {
    return settle(() => this.#management.leave(actor));
  }

  /** Promote or demote a member (admins). The last admin cannot be demoted. */
  setRole(actor: string, target: string, role: GroupRole): Promise<GroupResult<Group>> {
    return settle(() => this.#management.setRole(actor, target, role));
  }

  // ------------------------------------------------------------------ invites (RPC)

  /** Who invited `userId` (pending), or `invite_not_found`: the Worker checks the invitee's blocks before accepting. */
  invitation(userId: string): Promise<GroupResult<{ invitedBy: string }>> {
    return settle(() => this.#joining.invitation(userId));
  }

  /** Accept the invite `invitedBy` sent: join now, from a `member_joined` event on (nothing of the log before it). */
  acceptInvite(userId: string, invitedBy: string): Promise<GroupResult<Group>> {
    return settle(() => this.#joining.acceptInvite(userId, invitedBy));
  }

  /**
   * Drop `userId`'s pending invite and join request: they declined, or their account is being
   * deleted. Idempotent; a group that does not exist has nothing to drop.
   */
  async declineInvite(userId: string): Promise<void> {
    await this.#joining.declineInvite(userId);
  }

  /** An admin takes back a pending invite. */
  withdrawInvite(actor: string, userId: string): Promise<GroupResult<Group>> {
    return settle(() => this.#joining.withdrawInvite(actor, userId));
  }

  // ------------------------------------------------------------------ invite link and join requests (RPC)

  /** Create the invite link, or replace it (admins): a new code; the old one stops working. */
  createLink(actor: string, approval: boolean): Promise<GroupResult<GroupLink>> {
    return settle(() => this.#joining.createLink(actor, approval));
  }

  /** The live invite link (admins), or `link_not_found`. */
  link(actor: string): Promise<GroupResult<GroupLink>> {
    return settle(() => this.#joining.link(actor));
  }

  /** Revoke the invite link (admins). Idempotent; pending requests stay for admins to decide. */
  revokeLink(actor: string): Promise<GroupResult<null>> {
    return settle(() => this.#joining.revokeLink(actor));
  }

  /** What someone holding `code` may see before joining; `link_not_found` unless it is the live link. */
  linkPreview(code: string): Promise<GroupResult<LinkPreview>> {
    return settle(() => this.#joining.linkPreview(code));
  }

  /** Join through the live link: at once (`member_joined` via link), or a request when it needs approval. */
  joinByLink(userId: string, code: string): Promise<GroupResult<JoinResult>> {
    return settle(() => this.#joining.joinByLink(userId, code));
  }

  /** Pending requests to join through the link (admins). */
  joinRequests(actor: string): Promise<GroupResult<JoinRequestList>> {
    return settle(() => this.#joining.joinRequests(actor));
  }

  /** Let a requester in (admins): `member_joined` via request, made by the approving admin. */
  approveRequest(actor: string, userId: string): Promise<GroupResult<Group>> {
    return settle(() => this.#joining.approveRequest(actor, userId));
  }

  /** Turn a request down (admins). The requester is not told (as with a declined request in WhatsApp). */
  declineRequest(actor: string, userId: string): Promise<GroupResult<null>> {
    return settle(() => this.#joining.declineRequest(actor, userId));
  }

  // ------------------------------------------------------------------ messages (RPC)

  /**
   * Store a message in the log; resolves once it is durable (the sender's `group_sent`).
   * Idempotent per (sender, client id): a retry gets the original answer, a different message
   * under a used id gets `id_conflict`. A sender removed since still gets the original answer.
   * A reply must name a message of the sender's current membership that is not deleted
   * (`message_not_found`, `message_deleted`). Posts arriving together share one commit.
   */
  post(input: PostInput): Promise<GroupResult<Posted>> {
    return settle(() => this.#posts.submit(input));
  }

  /**
   * React to, edit or delete for everyone a message of this group (the actor's mailbox charged
   * the budgets). Idempotent per (actor, client id): a retry answers the original gseq with
   * `duplicate`; the id used for anything else is `id_conflict`. The changed message replaces
   * its row in the log and an `update` entry carries it to the members who have it.
   */
  act(input: ActInput): Promise<GroupResult<{ gseq: number; duplicate: boolean }>> {
    return settle(() => this.#messaging.act(input));
  }

  /**
   * Gap repair for a member's mailbox: the entries after `after` up to `upTo` that `member` may
   * see (from their joining until their removal), and how far that answer reaches. An update
   * is theirs only if its message was too.
   */
  entriesFor(member: string, after: number, upTo: number): Promise<GroupResult<{ entries: GroupEntry[]; through: number }>> {
    return settle(() => this.#messaging.entriesFor(member, after, upTo));
  }

  /**
   * A large group: `member` has a connected device (their mailbox asks at every connect). Live
   * entries go to them from now on; the answer says how far the log reaches and where read
   * diffusion began, so the device pulls what it lacks. Not a large group: `null`.
   */
  online(member: string): Promise<GroupResult<{ head: number; from: number } | null>> {
    return settle(() => this.#messaging.online(member));
  }

  /**
   * A page of the log for a member's device (read diffusion): what `member` may see after
   * `after`, and nothing stored before `notBefore` (ms; a device without history: 0 otherwise).
   */
  pull(member: string, after: number, limit: number, notBefore = 0): Promise<GroupResult<{ entries: GroupEntry[]; through: number; head: number }>> {
    return settle(() => this.#messaging.pull(member, after, limit, notBefore));
  }

  /**
   * A large group's history for `member`, read from the log: newest first, only what they may
   * see (./group/reading.ts). Their mailbox serves the part at or below `query.after`.
   */
  logPage(member: string, query: LogPageQuery): Promise<GroupResult<{ items: LogItem[]; nextBefore: number | null }>> {
    return settle(() => logPage(this.#state, member, query));
  }

  /** A large group in `member`'s chat list: newest entry they may see above `query.after`, their unread count, the head. */
  chatSummary(
    member: string,
    query: { after: number; readGseq: number; notBefore: number },
  ): Promise<GroupResult<{ last: LogItem | null; unread: number; head: number }>> {
    return settle(() => chatSummary(this.#state, member, query));
  }

  /** Search this large group's log as `member` may see it, newest first (./group/search.ts). */
  search(member: string, query: LogSearchQuery): Promise<GroupResult<{ hits: LogHit[]; nextBefore: number | null }>> {
    return settle(() => searchLog(this.#state, member, query));
  }

  /** Message `messageId` as it is now, if `member` may see it (push previews of a large group); null otherwise. */
  async visibleMessage(member: string, messageId: string): Promise<GroupMessage | null> {
    return visibleMessage(this.#state, member, messageId);
  }

  /** Of the messages `ids`, those `member` may see, as they are now (a large group's starred messages). */
  async visibleMessages(member: string, ids: string[]): Promise<GroupMessage[]> {
    return visibleMessages(this.#state, member, ids);
  }

  /**
   * `member` read the log up to `gseq`: clamped to the head and to what they may see; with
   * `relay` (their read receipts are on) it moves their read watermark (the senders' tallies).
   * Returns the gseq read through.
   */
  readUpTo(member: string, gseq: number, relay: boolean): Promise<GroupResult<number>> {
    return settle(() => this.#messaging.readUpTo(member, gseq, relay));
  }

  /** A member's devices have (`delivered`) or read (`read`) the log up to `gseq`. Idempotent. */
  async receipt(member: string, status: ReceiptStatus, gseq: number): Promise<void> {
    this.#messaging.receipt(member, status, gseq);
  }

  /** Who received and read one message (the sender only). */
  messageInfo(requester: string, messageId: string): Promise<GroupResult<MessageInfo>> {
    return settle(() => this.#messaging.messageInfo(requester, messageId));
  }

  /**
   * A member is typing: tell the members who are likely online (receipts in the last few
   * minutes, at most GROUP_TYPING_AUDIENCE). Ephemeral and best effort; non-members are ignored.
   */
  async typing(member: string, state: TypingState): Promise<void> {
    this.#messaging.typing(member, state);
  }

  /** Push pending tallies now (tests; normally a short timer does it). */
  async flushTallies(): Promise<void> {
    await this.#messaging.flushTallies();
  }

  /** Health figures of this group. */
  async stats(): Promise<{ head: number; fannedThrough: number; backlog: number; members: number; fanout: FanOutStats }> {
    return this.#publisher.stats();
  }

  /** Local fault injection only (lib/faults.ts): reset this object as an eviction or a crash would. */
  async faultEvict(): Promise<void> {
    if (!faultInjectionOn(this.env)) return;
    console.warn(`${FAULT_LOG_PREFIX} group evicted`);
    this.ctx.abort('evicted by fault injection');
  }

  // ------------------------------------------------------------------ alarm: the safety net

  override async alarm(): Promise<void> {
    await this.#publisher.alarm();
  }
}
