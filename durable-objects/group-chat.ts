/**
 * GroupChat: the Durable Object of one group. It holds the authoritative member list and
 * settings and the group log, where every message and system event gets its `gseq`; then it
 * fans entries out to the members' mailboxes (./group/fanout.ts) and sums the members' receipts
 * for senders (./group/tallies.ts). People join directly or by consent: pending invites, an
 * invite link and join requests (./group/consent.ts). This class adapts RPC entry points and
 * the alarm; rules live in the methods below and in ./group/, as does storage.
 *
 * Path of a group message: device -> sender's mailbox (`group_send` frame) -> `post` here
 * (stored in the log: `group_sent`) -> fan-out to every member's mailbox (direct calls for small
 * audiences, the fan-out queue for large ones) -> members' devices. Reactions, edits and
 * deletions for everyone take the same path as `update` entries (`act`, ./group/actions.ts).
 */
import { DurableObject } from 'cloudflare:workers';
import { monotonicFactory } from 'ulid';
import {
  GROUP_MAX_MEMBERS,
  type Group,
  type GroupChange,
  type GroupEntry,
  type GroupLink,
  type GroupRole,
  type JoinRequestList,
  type JoinResult,
  type LinkPreview,
  type MessageBody,
  type TypingState,
  type MessageInfo,
  type UpdateGroup,
} from '../protocol/index.ts';
import { revokeMediaGrant } from '../db/media.ts';
import { mailboxOf } from './stubs.ts';
import { isRetryOf, type ActInput, type GroupActions } from './group/actions.ts';
import type { AddTargets, Consent } from './group/consent.ts';
import type { FanOut, FanOutStats } from './group/fanout.ts';
import { messageInfoOf } from './group/info.ts';
import type { GroupLog } from './group/log.ts';
import type { Members, ReceiptStatus } from './group/members.ts';
import { atLeast, buildParts, type Parts } from './group/parts.ts';
import { mirror, notifyInvites } from './group/publish.ts';
import { GroupError, settle, type GroupResult } from './group/result.ts';
import { hasSchema, migrate, readMeta, writeMeta } from './group/schema.ts';
import { insertSettings, readSettings, updateSettings, type Settings } from './group/settings.ts';
import type { Tallies } from './group/tallies.ts';
import { TypingGate } from './typing.ts';

export type { ActInput, AddTargets, GroupResult };

const ulid = monotonicFactory();
const DAY_MS = 86_400_000;
/** Safety net: how soon the alarm re-checks an unfinished fan-out or an unsynced mirror. */
const RETRY_MS = 10_000;
/** Typing in a group reaches members with receipts this recent, at most this many. */
const TYPING_ACTIVE_MS = 5 * 60_000;
const GROUP_TYPING_AUDIENCE = 256;
/** Entries returned by one gap-repair call. */
const ENTRIES_PAGE = 512;

export type CreateGroupInput = {
  groupId: string;
  actor: string;
  title: string;
  description: string;
  onlyAdminsSend: boolean;
  /** Initial members besides the actor (accounts known to exist), sorted into direct adds and invites. */
  targets: AddTargets;
};

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


export class GroupChat extends DurableObject<Env> {
  readonly #sql: SqlStorage;
  readonly #retentionMs: number;
  readonly #typing = new TypingGate();
  /**
   * Null until the group exists. An object addressed by an id that was never created (a random
   * id in a URL or a frame) must not write anything: creating the schema would leave a stored,
   * empty object behind for every id anyone makes up. So the schema is created by `create`,
   * and every other entry point answers `group_not_found` (or nothing) from a blank object.
   */
  #parts: Parts | null = null;
  #alarmSet = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    this.#retentionMs = atLeast(1, env.MAILBOX_RETENTION_DAYS, 30) * DAY_MS;
    if (hasSchema(this.#sql)) this.#open();
  }

  /** Create or upgrade the schema and build the parts on it. */
  #open(): Parts {
    if (this.#parts) return this.#parts;
    migrate(this.#sql);
    this.#parts = buildParts({
      sql: this.#sql,
      env: this.env,
      groupId: () => this.#settings().groupId,
      event: (by, change, membership, at) => this.#event(by, change, membership, at),
      newId: () => ulid(),
    });
    return this.#parts;
  }

  /** The parts of a created group (callers have checked that it exists, via #find). */
  get #p(): Parts {
    if (!this.#parts) throw new Error('group object used before it was created');
    return this.#parts;
  }

  get #log(): GroupLog {
    return this.#p.log;
  }

  get #members(): Members {
    return this.#p.members;
  }

  get #fanout(): FanOut {
    return this.#p.fanout;
  }

  get #tallies(): Tallies {
    return this.#p.tallies;
  }

  get #consent(): Consent {
    return this.#p.consent;
  }

  get #actions(): GroupActions {
    return this.#p.actions;
  }

  // ------------------------------------------------------------------ management (RPC)

  /**
   * Create the group: the actor becomes its first admin; the direct targets join right after,
   * the others are invited. Seats (members and invites) are checked before anything is stored.
   */
  create(input: CreateGroupInput): Promise<GroupResult<Group>> {
    return settle(async () => {
      if (this.#find()) throw new GroupError('validation_failed', 'This group already exists');
      const { direct, invite, quiet } = input.targets;
      const wanted = new Set([...direct, ...invite, ...quiet]);
      wanted.delete(input.actor);
      if (wanted.size + 1 > GROUP_MAX_MEMBERS) throw new GroupError('group_full', `A group has at most ${GROUP_MAX_MEMBERS} members`);
      // Only now, with a valid request, does this object start to exist.
      this.#open();
      const now = Date.now();
      insertSettings(this.#sql, {
        groupId: input.groupId,
        title: input.title,
        description: input.description,
        picture: null,
        onlyAdminsSend: input.onlyAdminsSend,
        createdBy: input.actor,
        createdAt: now,
      });
      this.#members.add([input.actor], 'admin', this.#log.head + 1, now);
      this.#event(input.actor, { kind: 'created', title: input.title }, true, now);
      this.#consent.add(input.actor, input.targets, now);
      return this.#changed(input.actor);
    });
  }

  /** The group as `requester` (a member) sees it. */
  view(requester: string): Promise<GroupResult<Group>> {
    return settle(() => {
      this.#memberOrThrow(requester);
      return this.#view(requester);
    });
  }

  /** Change title, description, picture or "only admins send" (admins). One event per change. */
  update(actor: string, patch: UpdateGroup): Promise<GroupResult<Group>> {
    return settle(async () => {
      this.#adminOrThrow(actor);
      const s = this.#settings();
      const now = Date.now();
      const changes: GroupChange[] = [];
      if (patch.title !== undefined && patch.title !== s.title) changes.push({ kind: 'title_changed', title: patch.title });
      if (patch.description !== undefined && patch.description !== s.description) {
        changes.push({ kind: 'description_changed', description: patch.description });
      }
      if (patch.picture !== undefined && patch.picture !== s.picture) changes.push({ kind: 'picture_changed', picture: patch.picture });
      if (patch.onlyAdminsSend !== undefined && patch.onlyAdminsSend !== s.onlyAdminsSend) {
        changes.push({ kind: 'settings_changed', onlyAdminsSend: patch.onlyAdminsSend });
      }
      if (changes.length === 0) return this.#view(actor);
      updateSettings(this.#sql, {
        title: patch.title ?? s.title,
        description: patch.description ?? s.description,
        picture: patch.picture === undefined ? s.picture : patch.picture,
        onlyAdminsSend: patch.onlyAdminsSend ?? s.onlyAdminsSend,
      });
      for (const change of changes) this.#event(actor, change, false, now);
      return this.#changed(actor);
    });
  }

  /**
   * Add people (admins; accounts known to exist, sorted by the Worker into direct adds and
   * invites). Current members are skipped, pending invites stay as they are; nobody new is a
   * no-op. The answer has the same shape whoever was added or invited, so an adder cannot tell
   * a block from a privacy setting.
   */
  addMembers(actor: string, targets: AddTargets): Promise<GroupResult<Group>> {
    return settle(async () => {
      this.#adminOrThrow(actor);
      if (!this.#consent.add(actor, targets, Date.now())) return this.#view(actor);
      return this.#changed(actor);
    });
  }

  /** Remove a member (admins); removing yourself is leaving. The removed member still receives this event, nothing after. */
  removeMember(actor: string, target: string): Promise<GroupResult<Group>> {
    if (actor === target) return this.leave(actor);
    return settle(async () => {
      this.#adminOrThrow(actor);
      this.#memberOrThrow(target, 'user_not_found', 'That user is not a member of this group');
      const now = Date.now();
      this.#members.remove(target, this.#log.head + 1);
      this.#event(actor, { kind: 'member_removed', member: target }, true, now);
      return this.#changed(actor);
    });
  }

  /**
   * Leave the group. If the last admin leaves while others stay, the longest-standing member
   * becomes admin (as people expect from a messenger); the group never has members but no admin.
   */
  leave(actor: string): Promise<GroupResult<Group>> {
    return settle(async () => {
      const me = this.#memberOrThrow(actor);
      const now = Date.now();
      this.#members.remove(actor, this.#log.head + 1);
      this.#event(actor, { kind: 'member_left', member: actor }, true, now);
      if (me.role === 'admin' && this.#members.adminCount() === 0) {
        const heir = this.#members.senior(actor);
        if (heir) {
          this.#members.setRole(heir.userId, 'admin');
          this.#event(actor, { kind: 'admin_promoted', member: heir.userId }, false, now);
        }
      }
      return this.#changed(actor);
    });
  }

  /** Promote or demote a member (admins). The last admin cannot be demoted. */
  setRole(actor: string, target: string, role: GroupRole): Promise<GroupResult<Group>> {
    return settle(async () => {
      this.#adminOrThrow(actor);
      const member = this.#memberOrThrow(target, 'user_not_found', 'That user is not a member of this group');
      if (member.role === role) return this.#view(actor);
      if (role === 'member' && this.#members.adminCount() === 1) throw new GroupError('last_admin');
      const now = Date.now();
      this.#members.setRole(target, role);
      this.#event(actor, { kind: role === 'admin' ? 'admin_promoted' : 'admin_demoted', member: target }, false, now);
      return this.#changed(actor);
    });
  }

  // ------------------------------------------------------------------ invites (RPC)

  /** Who invited `userId` (pending), or `invite_not_found`: the Worker checks the invitee's blocks before accepting. */
  invitation(userId: string): Promise<GroupResult<{ invitedBy: string }>> {
    return settle(() => {
      this.#settingsOrThrow();
      const invite = this.#consent.invite(userId);
      if (invite === null) throw new GroupError('invite_not_found');
      return { invitedBy: invite.invitedBy };
    });
  }

  /** Accept the invite `invitedBy` sent: join now, from a `member_joined` event on (nothing of the log before it). */
  acceptInvite(userId: string, invitedBy: string): Promise<GroupResult<Group>> {
    return settle(async () => {
      this.#settingsOrThrow();
      this.#consent.accept(userId, invitedBy, Date.now());
      return this.#changed(userId);
    });
  }

  /**
   * Drop `userId`'s pending invite and join request: they declined, or their account is being
   * deleted. Idempotent; a group that does not exist has nothing to drop.
   */
  async declineInvite(userId: string): Promise<void> {
    if (!this.#find()) return;
    if (this.#consent.decline(userId)) await this.#publish();
  }

  /** An admin takes back a pending invite. */
  withdrawInvite(actor: string, userId: string): Promise<GroupResult<Group>> {
    return settle(async () => {
      this.#adminOrThrow(actor);
      this.#consent.withdraw(userId);
      return this.#changed(actor);
    });
  }

  // ------------------------------------------------------------------ invite link and join requests (RPC)

  /** Create the invite link, or replace it (admins): a new code; the old one stops working. */
  createLink(actor: string, approval: boolean): Promise<GroupResult<GroupLink>> {
    return settle(async () => {
      this.#adminOrThrow(actor);
      const link = this.#consent.setLink(actor, approval, Date.now());
      await this.#publish();
      return { groupId: this.#settings().groupId, ...link };
    });
  }

  /** The live invite link (admins), or `link_not_found`. */
  link(actor: string): Promise<GroupResult<GroupLink>> {
    return settle(() => {
      this.#adminOrThrow(actor);
      const link = this.#consent.link();
      if (link === null) throw new GroupError('link_not_found');
      return { groupId: this.#settings().groupId, ...link };
    });
  }

  /** Revoke the invite link (admins). Idempotent; pending requests stay for admins to decide. */
  revokeLink(actor: string): Promise<GroupResult<null>> {
    return settle(async () => {
      this.#adminOrThrow(actor);
      if (this.#consent.revokeLink()) await this.#publish();
      return null;
    });
  }

  /** What someone holding `code` may see before joining; `link_not_found` unless it is the live link. */
  linkPreview(code: string): Promise<GroupResult<LinkPreview>> {
    return settle(() => {
      const s = this.#find();
      if (!s) throw new GroupError('link_not_found');
      const link = this.#consent.linkFor(code);
      return { groupId: s.groupId, title: s.title, description: s.description, memberCount: this.#members.count(), approval: link.approval };
    });
  }

  /** Join through the live link: at once (`member_joined` via link), or a request when it needs approval. */
  joinByLink(userId: string, code: string): Promise<GroupResult<JoinResult>> {
    return settle(async (): Promise<JoinResult> => {
      if (!this.#find()) throw new GroupError('link_not_found');
      const outcome = this.#consent.joinByLink(userId, code, Date.now());
      if (outcome === 'requested') return { status: 'requested', groupId: this.#settings().groupId };
      return { status: 'joined', group: await this.#changed(userId) };
    });
  }

  /** Pending requests to join through the link (admins). */
  joinRequests(actor: string): Promise<GroupResult<JoinRequestList>> {
    return settle(() => {
      this.#adminOrThrow(actor);
      return { requests: this.#consent.requests() };
    });
  }

  /** Let a requester in (admins): `member_joined` via request, made by the approving admin. */
  approveRequest(actor: string, userId: string): Promise<GroupResult<Group>> {
    return settle(async () => {
      this.#adminOrThrow(actor);
      this.#consent.approve(actor, userId, Date.now());
      return this.#changed(actor);
    });
  }

  /** Turn a request down (admins). The requester is not told (as with a declined request in WhatsApp). */
  declineRequest(actor: string, userId: string): Promise<GroupResult<null>> {
    return settle(() => {
      this.#adminOrThrow(actor);
      this.#consent.declineRequest(userId);
      return null;
    });
  }

  // ------------------------------------------------------------------ messages (RPC)

  /**
   * Store a message in the log; resolves once it is durable (the sender's `group_sent`).
   * Idempotent per (sender, client id): a retry gets the original answer, a different message
   * under a used id gets `id_conflict`. A sender removed since still gets the original answer.
   * A reply must name a message of the sender's current membership that is not deleted
   * (`message_not_found`, `message_deleted`).
   */
  post(input: PostInput): Promise<GroupResult<Posted>> {
    return settle(() => {
      this.#settingsOrThrow();
      const stored = this.#log.findByClient(input.sender, input.clientId);
      if (stored) {
        if (stored.entry.type !== 'message' || !isRetryOf(input, stored.entry.message)) throw new GroupError('id_conflict');
        const known = stored.entry.message;
        return { messageId: known.id, gseq: known.gseq, sentAt: known.sentAt, duplicate: true, audience: this.#audience(input.sender) };
      }
      const member = this.#memberOrThrow(input.sender);
      if (this.#settings().onlyAdminsSend && member.role !== 'admin') throw new GroupError('admins_only');
      const replyTo = input.replyTo === undefined ? undefined : this.#actions.quote(member, input.replyTo);
      const message = this.#log.appendMessage({
        id: ulid(),
        clientId: input.clientId,
        from: input.sender,
        fromDevice: input.device,
        body: input.body,
        at: Date.now(),
        ...(replyTo ? { replyTo } : {}),
        ...(input.forwarded !== undefined ? { forwarded: input.forwarded } : {}),
      });
      this.#appended();
      return { messageId: message.id, gseq: message.gseq, sentAt: message.sentAt, duplicate: false, audience: this.#audience(input.sender) };
    });
  }

  /**
   * React to, edit or delete for everyone a message of this group (the actor's mailbox charged
   * the budgets). Idempotent per (actor, client id): a retry answers the original gseq with
   * `duplicate`; the id used for anything else is `id_conflict`. The changed message replaces
   * its row in the log and an `update` entry carries it to the members who have it.
   */
  act(input: ActInput): Promise<GroupResult<{ gseq: number; duplicate: boolean }>> {
    return settle(() => {
      this.#settingsOrThrow();
      const stored = this.#log.findByClient(input.actor, input.clientId);
      if (stored) {
        if (stored.entry.type !== 'update' || stored.fingerprint !== this.#actions.fingerprint(input)) throw new GroupError('id_conflict');
        return { gseq: stored.gseq, duplicate: true };
      }
      const member = this.#memberOrThrow(input.actor);
      const head = this.#log.head;
      const now = Date.now();
      const acted = this.#actions.act(member, input, now);
      if (this.#log.head > head) this.#appended();
      if (acted.revokeMedia !== undefined) this.#revokeMedia(acted.revokeMedia, now);
      return { gseq: acted.gseq, duplicate: false };
    });
  }

  /**
   * Gap repair for a member's mailbox: the entries after `after` up to `upTo` that `member` may
   * see (from their joining until their removal), and how far that answer reaches. An update
   * is theirs only if its message was too.
   */
  entriesFor(member: string, after: number, upTo: number): Promise<GroupResult<{ entries: GroupEntry[]; through: number }>> {
    return settle(() => {
      this.#settingsOrThrow();
      const intervals = this.#members.intervals(member);
      if (intervals.length === 0) throw new GroupError('not_group_member');
      const end = Math.min(upTo, this.#log.head);
      const rows = this.#log.range(after, end, ENTRIES_PAGE);
      const covered = (gseq: number) => intervals.some(([from, to]) => gseq >= from && gseq <= to);
      const entries = rows.filter((r) => covered(r.gseq) && (r.target === null || covered(r.target))).map((r) => r.entry);
      const through = rows.length === ENTRIES_PAGE ? rows[rows.length - 1]!.gseq : Math.max(end, after);
      return { entries, through };
    });
  }

  /** A member's devices have (`delivered`) or read (`read`) the log up to `gseq`. Idempotent. */
  async receipt(member: string, status: ReceiptStatus, gseq: number): Promise<void> {
    if (!this.#find()) return;
    const upTo = Math.min(gseq, this.#log.head);
    const moved = this.#members.advance(member, status, upTo, Date.now());
    if (moved) this.#tallies.touch(moved.from, upTo);
  }

  /** Who received and read one message (the sender only). */
  messageInfo(requester: string, messageId: string): Promise<GroupResult<MessageInfo>> {
    return settle(() => {
      this.#memberOrThrow(requester);
      const message = this.#log.messageById(messageId);
      if (!message) throw new GroupError('not_found', 'No such message in this group');
      if (message.from !== requester) throw new GroupError('not_message_sender');
      return messageInfoOf(this.#members, message, message.sentAt >= Date.now() - this.#retentionMs);
    });
  }

  /**
   * A member is typing: tell the members who are likely online (receipts in the last few
   * minutes, at most GROUP_TYPING_AUDIENCE). Ephemeral and best effort; non-members are ignored.
   */
  async typing(member: string, state: TypingState): Promise<void> {
    if (!this.#find() || !this.#members.get(member)) return;
    // The sender's object has charged the sender's budget; this only drops repeats and noise.
    if (!this.#typing.allow(member, state, Date.now())) return;
    const since = Date.now() - TYPING_ACTIVE_MS;
    const audience = this.#members
      .all()
      .filter((m) => m.userId !== member && m.activeAt >= since)
      .sort((a, b) => b.activeAt - a.activeAt)
      .slice(0, GROUP_TYPING_AUDIENCE);
    const groupId = this.#settings().groupId;
    for (const m of audience) {
      mailboxOf(this.env, m.userId)
        .typingNotice(member, groupId, state)
        .catch(() => undefined);
    }
  }

  /** Push pending tallies now (tests; normally a short timer does it). */
  async flushTallies(): Promise<void> {
    if (this.#find()) await this.#tallies.flush();
  }

  /** Health figures of this group. */
  async stats(): Promise<{ head: number; fannedThrough: number; backlog: number; members: number; fanout: FanOutStats }> {
    if (!this.#find()) return { head: 0, fannedThrough: 0, backlog: 0, members: 0, fanout: { direct: 0, queued: 0, directFailures: 0, rounds: 0 } };
    return {
      head: this.#log.head,
      fannedThrough: this.#fanout.fannedThrough,
      backlog: this.#fanout.backlog,
      members: this.#members.count(),
      fanout: { ...this.#fanout.stats },
    };
  }

  // ------------------------------------------------------------------ alarm: the safety net

  override async alarm(): Promise<void> {
    this.#alarmSet = false;
    if (!this.#find()) return;
    this.#members.pruneReceiptLog(Date.now() - this.#retentionMs);
    if (readMeta(this.#sql, 'mirror_dirty') === 1) await this.#syncMirror();
    await this.#notifyInvites();
    await this.#fanout.kick().catch((error: unknown) => console.error('group fan-out failed', error));
    const unfinished = this.#fanout.backlog > 0 || readMeta(this.#sql, 'mirror_dirty') === 1 || this.#consent.unnotified().length > 0;
    if (unfinished) await this.#ensureAlarm();
  }

  // ------------------------------------------------------------------ internals

  /** Append a system event (membership events bound fan-out runs). */
  #event(by: string, change: GroupChange, membership: boolean, at: number): void {
    this.#log.appendEvent(ulid(), by, change, at, membership);
  }

  /** After a change: make it known (fan-out, mirror, invitees) and answer with the group as `viewer` sees it. */
  async #changed(viewer: string): Promise<Group> {
    await this.#publish();
    return this.#view(viewer);
  }

  /**
   * Make a change known: fan new log entries out, mirror the group to D1 and tell new invitees'
   * mailboxes, each with the alarm as its safety net. A failure of any of these does not undo
   * the change (the object is authoritative); the alarm retries.
   */
  async #publish(): Promise<void> {
    writeMeta(this.#sql, 'mirror_dirty', 1);
    this.#appended();
    await Promise.all([this.#syncMirror(), this.#notifyInvites()]);
  }

  /** New log entries: start their fan-out, with the alarm as the safety net if this object dies mid-way. */
  #appended(): void {
    void this.#ensureAlarm();
    this.#fanout.kick().catch((error: unknown) => {
      console.error('group fan-out failed; the alarm retries', error);
    });
  }

  async #ensureAlarm(): Promise<void> {
    if (this.#alarmSet) return;
    this.#alarmSet = true;
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + RETRY_MS);
  }

  async #syncMirror(): Promise<void> {
    try {
      await mirror(this.env, this.#settings(), this.#p, Date.now());
      writeMeta(this.#sql, 'mirror_dirty', 0);
    } catch (error) {
      console.error('group mirror sync failed; the alarm retries', error);
      await this.#ensureAlarm();
    }
  }

  async #notifyInvites(): Promise<void> {
    if (await notifyInvites(this.env, this.#settings(), this.#p, Date.now())) return;
    console.error('group invite notification failed; the alarm retries');
    await this.#ensureAlarm();
  }

  /**
   * A message naming media was deleted for everyone: members may no longer download it. Best
   * effort, after the answer: the deletion stands whatever D1 says.
   */
  #revokeMedia(mediaId: string, now: number): void {
    // Another message of the group (a forward of it, a second send) still names it: keep the grant.
    if (this.#log.namesMedia(mediaId)) return;
    const grantee = { kind: 'group' as const, id: this.#settings().groupId };
    this.ctx.waitUntil(
      revokeMediaGrant(this.env.DB, mediaId, grantee, now).catch((error: unknown) => console.error('group media grant revocation failed', error)),
    );
  }

  /** Members other than `sender` (whom a message of theirs reaches). */
  #audience(sender: string): number {
    return this.#members.count() - (this.#members.get(sender) ? 1 : 0);
  }

  #find(): Settings | null {
    return this.#parts ? readSettings(this.#sql) : null;
  }

  #settings(): Settings {
    const s = this.#find();
    if (!s) throw new Error('group object used before it was created');
    return s;
  }

  #settingsOrThrow(): Settings {
    const s = this.#find();
    if (!s) throw new GroupError('group_not_found');
    return s;
  }

  #memberOrThrow(userId: string, code: 'not_group_member' | 'user_not_found' = 'not_group_member', message?: string) {
    this.#settingsOrThrow();
    const member = this.#members.get(userId);
    if (!member) throw new GroupError(code, message);
    return member;
  }

  #adminOrThrow(userId: string): void {
    if (this.#memberOrThrow(userId).role !== 'admin') throw new GroupError('not_group_admin');
  }

  /** The group as `viewer` sees it: pending invites are listed for admins only. */
  #view(viewer: string): Group {
    const s = this.#settings();
    const admin = this.#members.get(viewer)?.role === 'admin';
    return {
      groupId: s.groupId,
      title: s.title,
      description: s.description,
      picture: s.picture,
      onlyAdminsSend: s.onlyAdminsSend,
      createdBy: s.createdBy,
      createdAt: s.createdAt,
      head: this.#log.head,
      members: this.#members.view(),
      invites: admin ? this.#consent.invites() : [],
    };
  }
}
