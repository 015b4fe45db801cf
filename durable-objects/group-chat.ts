/**
 * GroupChat: the Durable Object of one group. It holds the authoritative member list and
 * settings and the group log, where every message and system event gets its `gseq`; then it
 * fans entries out to the members' mailboxes (./group/fanout.ts) and sums the members' receipts
 * for senders (./group/tallies.ts). This class adapts RPC entry points and the alarm; rules live
 * in the methods below, storage in ./group/.
 *
 * Path of a group message: device -> sender's mailbox (`group_send` frame) -> `post` here
 * (stored in the log: `group_sent`) -> fan-out to every member's mailbox (direct calls for small
 * audiences, the fan-out queue for large ones) -> members' devices.
 */
import { DurableObject } from 'cloudflare:workers';
import { monotonicFactory } from 'ulid';
import {
  GROUP_MAX_MEMBERS,
  type Group,
  type GroupChange,
  type GroupEntry,
  type GroupRole,
  type MessageBody,
  type TypingState,
  type MessageInfo,
  type UpdateGroup,
} from '../protocol/index.ts';
import { syncGroupMirror } from '../worker/db/groups.ts';
import { mailboxOf } from './stubs.ts';
import { enqueueJobs } from './group/fanout-job.ts';
import { FanOut, type FanOutStats } from './group/fanout.ts';
import { GroupLog } from './group/log.ts';
import { Members, type ReceiptStatus } from './group/members.ts';
import { GroupError, settle, type GroupResult } from './group/result.ts';
import { hasSchema, migrate, readMeta, writeMeta } from './group/schema.ts';
import { Tallies } from './group/tallies.ts';
import { TypingGate } from './typing.ts';

export type { GroupResult };

const ulid = monotonicFactory();
const DAY_MS = 86_400_000;
/** Safety net: how soon the alarm re-checks an unfinished fan-out or an unsynced mirror. */
const RETRY_MS = 10_000;
/** Audiences up to this size are served by direct calls (see README, "Fan-out threshold"). */
const DEFAULT_DIRECT_FANOUT_MAX = 32;
const DEFAULT_MEMBERS_PER_JOB = 50;
/** In large groups, recently active members called directly (the rest are queued). */
const DEFAULT_DIRECT_HOT_MAX = 256;
const TALLY_FLUSH_MS = 200;
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
  /** Initial members besides the actor, known to exist. */
  members: string[];
};

export type PostInput = { sender: string; device: string; clientId: string; body: MessageBody };
export type Posted = {
  messageId: string;
  gseq: number;
  sentAt: number;
  duplicate: boolean;
  /** Members other than the sender now: the deliveries this message causes (the sender's budget pays them). */
  audience: number;
};

type Settings = {
  groupId: string;
  title: string;
  description: string;
  picture: string | null;
  onlyAdminsSend: boolean;
  createdBy: string;
  createdAt: number;
};

/** The parts of a group object that need its tables (which exist once the group was created). */
type Parts = { log: GroupLog; members: Members; fanout: FanOut; tallies: Tallies };

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
    const env = this.env;
    migrate(this.#sql);
    const groupId = (): string => this.#settings().groupId;
    const log = new GroupLog(this.#sql, groupId);
    const members = new Members(this.#sql);
    const fanout = new FanOut({
      sql: this.#sql,
      log,
      members,
      groupId,
      deliver: async (member, entries) => {
        await mailboxOf(env, member).deliverGroup(groupId(), entries);
      },
      enqueue: (jobs) => enqueueJobs(env.GROUP_FANOUT, jobs),
      // 0 is meaningful here: every audience goes through the queue.
      directLimit: atLeast(0, env.GROUP_DIRECT_FANOUT_MAX, DEFAULT_DIRECT_FANOUT_MAX),
      hotLimit: atLeast(0, env.GROUP_DIRECT_HOT_MAX, DEFAULT_DIRECT_HOT_MAX),
      membersPerJob: atLeast(1, env.GROUP_FANOUT_MEMBERS_PER_JOB, DEFAULT_MEMBERS_PER_JOB),
    });
    const tallies = new Tallies({
      log,
      members,
      push: async (sender, tallies) => {
        await mailboxOf(env, sender).groupTallies(groupId(), tallies);
      },
      flushAfterMs: TALLY_FLUSH_MS,
    });
    this.#parts = { log, members, fanout, tallies };
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

  // ------------------------------------------------------------------ management (RPC)

  /** Create the group: the actor becomes its first admin, `members` join right after. */
  create(input: CreateGroupInput): Promise<GroupResult<Group>> {
    return settle(async () => {
      if (this.#find()) throw new GroupError('validation_failed', 'This group already exists');
      const members = [...new Set(input.members)].filter((m) => m !== input.actor);
      if (members.length + 1 > GROUP_MAX_MEMBERS) throw new GroupError('group_full', `A group has at most ${GROUP_MAX_MEMBERS} members`);
      // Only now, with a valid request, does this object start to exist.
      this.#open();
      const now = Date.now();
      this.#sql.exec(
        `INSERT INTO settings (id, group_id, title, description, picture, only_admins_send, created_by, created_at)
         VALUES (1, ?, ?, ?, NULL, ?, ?, ?)`,
        input.groupId,
        input.title,
        input.description,
        input.onlyAdminsSend ? 1 : 0,
        input.actor,
        now,
      );
      this.#members.add([input.actor], 'admin', this.#log.head + 1, now);
      this.#event(input.actor, { kind: 'created', title: input.title }, true, now);
      if (members.length > 0) {
        this.#members.add(members, 'member', this.#log.head + 1, now);
        this.#event(input.actor, { kind: 'members_added', members }, true, now);
      }
      return this.#changed();
    });
  }

  /** The group as `requester` (a member) sees it. */
  view(requester: string): Promise<GroupResult<Group>> {
    return settle(() => {
      this.#memberOrThrow(requester);
      return this.#view();
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
      if (changes.length === 0) return this.#view();
      this.#sql.exec(
        'UPDATE settings SET title = ?, description = ?, picture = ?, only_admins_send = ?',
        patch.title ?? s.title,
        patch.description ?? s.description,
        patch.picture === undefined ? s.picture : patch.picture,
        (patch.onlyAdminsSend ?? s.onlyAdminsSend) ? 1 : 0,
      );
      for (const change of changes) this.#event(actor, change, false, now);
      return this.#changed();
    });
  }

  /** Add people (admins; ids known to exist). Current members are skipped; nobody new is a no-op. */
  addMembers(actor: string, userIds: string[]): Promise<GroupResult<Group>> {
    return settle(async () => {
      this.#adminOrThrow(actor);
      const fresh = [...new Set(userIds)].filter((id) => this.#members.get(id) === null);
      if (fresh.length === 0) return this.#view();
      const total = this.#members.count() + fresh.length;
      if (total > GROUP_MAX_MEMBERS) {
        throw new GroupError('group_full', `${total} members would exceed the limit of ${GROUP_MAX_MEMBERS}`);
      }
      const now = Date.now();
      this.#members.add(fresh, 'member', this.#log.head + 1, now);
      this.#event(actor, { kind: 'members_added', members: fresh }, true, now);
      return this.#changed();
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
      return this.#changed();
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
      return this.#changed();
    });
  }

  /** Promote or demote a member (admins). The last admin cannot be demoted. */
  setRole(actor: string, target: string, role: GroupRole): Promise<GroupResult<Group>> {
    return settle(async () => {
      this.#adminOrThrow(actor);
      const member = this.#memberOrThrow(target, 'user_not_found', 'That user is not a member of this group');
      if (member.role === role) return this.#view();
      if (role === 'member' && this.#members.adminCount() === 1) throw new GroupError('last_admin');
      const now = Date.now();
      this.#members.setRole(target, role);
      this.#event(actor, { kind: role === 'admin' ? 'admin_promoted' : 'admin_demoted', member: target }, false, now);
      return this.#changed();
    });
  }

  // ------------------------------------------------------------------ messages (RPC)

  /**
   * Store a message in the log; resolves once it is durable (the sender's `group_sent`).
   * Idempotent per (sender, client id): a retry gets the original answer, a different message
   * under a used id gets `id_conflict`. A sender removed since still gets the original answer.
   */
  post(input: PostInput): Promise<GroupResult<Posted>> {
    return settle(() => {
      this.#settingsOrThrow();
      const known = this.#log.findMessage(input.sender, input.clientId);
      if (known) {
        if (JSON.stringify(known.body) !== JSON.stringify(input.body)) throw new GroupError('id_conflict');
        return { messageId: known.id, gseq: known.gseq, sentAt: known.sentAt, duplicate: true, audience: this.#audience(input.sender) };
      }
      const member = this.#memberOrThrow(input.sender);
      if (this.#settings().onlyAdminsSend && member.role !== 'admin') throw new GroupError('admins_only');
      const message = this.#log.appendMessage({
        id: ulid(),
        clientId: input.clientId,
        from: input.sender,
        fromDevice: input.device,
        body: input.body,
        at: Date.now(),
      });
      this.#appended();
      return { messageId: message.id, gseq: message.gseq, sentAt: message.sentAt, duplicate: false, audience: this.#audience(input.sender) };
    });
  }

  /**
   * Gap repair for a member's mailbox: the entries after `after` up to `upTo` that `member` may
   * see (from their joining until their removal), and how far that answer reaches.
   */
  entriesFor(member: string, after: number, upTo: number): Promise<GroupResult<{ entries: GroupEntry[]; through: number }>> {
    return settle(() => {
      this.#settingsOrThrow();
      const intervals = this.#members.intervals(member);
      if (intervals.length === 0) throw new GroupError('not_group_member');
      const end = Math.min(upTo, this.#log.head);
      const rows = this.#log.range(after, end, ENTRIES_PAGE);
      const entries = rows
        .filter((r) => intervals.some(([from, to]) => r.gseq >= from && r.gseq <= to))
        .map((r) => r.entry);
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
      const tally = this.#members.tallies([{ gseq: message.gseq, id: message.id, sender: message.from }])[0]!;
      // Receipt times are kept for the retention window: for an older message the first receipt
      // covering it may be gone, and a later one would give a wrong time, so none is given.
      const times = message.sentAt >= Date.now() - this.#retentionMs ? this.#members.receiptTimes(message.gseq) : new Map();
      const counted = this.#members.all().filter((m) => m.userId !== requester && m.joinedGseq <= message.gseq);
      return {
        messageId,
        gseq: message.gseq,
        tally,
        delivered: counted
          .filter((m) => m.deliveredGseq >= message.gseq)
          .map((m) => ({ userId: m.userId, at: times.get(m.userId)?.delivered ?? null })),
        read: counted
          .filter((m) => m.readGseq >= message.gseq)
          .map((m) => ({ userId: m.userId, at: times.get(m.userId)?.read ?? null })),
      };
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
    await this.#fanout.kick().catch((error: unknown) => console.error('group fan-out failed', error));
    if (this.#fanout.backlog > 0 || readMeta(this.#sql, 'mirror_dirty') === 1) await this.#ensureAlarm();
  }

  // ------------------------------------------------------------------ internals

  /** Append a system event (membership events bound fan-out runs). */
  #event(by: string, change: GroupChange, membership: boolean, at: number): void {
    this.#log.appendEvent(ulid(), by, change, at, membership);
  }

  /** After a settings or membership change: fan the events out, mirror to D1, answer with the new state. */
  async #changed(): Promise<Group> {
    writeMeta(this.#sql, 'mirror_dirty', 1);
    this.#appended();
    await this.#syncMirror();
    return this.#view();
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
    const s = this.#settings();
    try {
      await syncGroupMirror(this.env.DB, {
        groupId: s.groupId,
        title: s.title,
        createdBy: s.createdBy,
        createdAt: s.createdAt,
        updatedAt: Date.now(),
        members: this.#members.view(),
      });
      writeMeta(this.#sql, 'mirror_dirty', 0);
    } catch (error) {
      console.error('group mirror sync failed; the alarm retries', error);
      await this.#ensureAlarm();
    }
  }

  /** Members other than `sender` (whom a message of theirs reaches). */
  #audience(sender: string): number {
    return this.#members.count() - (this.#members.get(sender) ? 1 : 0);
  }

  #find(): Settings | null {
    if (!this.#parts) return null;
    const row = this.#sql
      .exec<{
        group_id: string;
        title: string;
        description: string;
        picture: string | null;
        only_admins_send: number;
        created_by: string;
        created_at: number;
      }>('SELECT * FROM settings WHERE id = 1')
      .toArray()[0];
    if (!row) return null;
    return {
      groupId: row.group_id,
      title: row.title,
      description: row.description,
      picture: row.picture,
      onlyAdminsSend: row.only_admins_send === 1,
      createdBy: row.created_by,
      createdAt: row.created_at,
    };
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

  #view(): Group {
    const s = this.#settings();
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
    };
  }
}

/** A numeric setting: `value` if it is a number >= `min`, else `fallback` (unset or invalid). */
function atLeast(min: number, value: unknown, fallback: number): number {
  const n = value === undefined || value === '' ? NaN : Number(value);
  return Number.isFinite(n) && n >= min ? n : fallback;
}
