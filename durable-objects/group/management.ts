/**
 * Managing a group: creating it, its settings, direct adds, removals, leaving and roles. The
 * rules of who may do what live here (admins manage; the group always keeps an admin while it
 * has members); adds that need consent become invites (./consent.ts). Each method throws a
 * `GroupError` to refuse and makes its change known through the publisher before answering.
 */
import { GROUP_MAX_MEMBERS, type Group, type GroupChange, type GroupMemberPage, type GroupRole, type UpdateGroup } from '../../protocol/index.ts';
import type { AddTargets } from './consent.ts';
import type { Publisher } from './publisher.ts';
import { GroupError } from './result.ts';
import { insertSettings, updateSettings } from './settings.ts';
import type { GroupState } from './state.ts';

export type CreateGroupInput = {
  groupId: string;
  actor: string;
  title: string;
  description: string;
  onlyAdminsSend: boolean;
  /** Initial members besides the actor (accounts known to exist), sorted into direct adds and invites. */
  targets: AddTargets;
};

export class Management {
  constructor(
    private readonly state: GroupState,
    private readonly publisher: Publisher,
  ) {}

  /**
   * Create the group: the actor becomes its first admin; the direct targets join right after,
   * the others are invited. Seats (members and invites) are checked before anything is stored.
   */
  async create(input: CreateGroupInput): Promise<Group> {
    const { state } = this;
    if (state.find()) throw new GroupError('validation_failed', 'This group already exists');
    const { direct, invite, quiet } = input.targets;
    const wanted = new Set([...direct, ...invite, ...quiet]);
    wanted.delete(input.actor);
    if (wanted.size + 1 > GROUP_MAX_MEMBERS) throw new GroupError('group_full', `A group has at most ${GROUP_MAX_MEMBERS} members`);
    // Only now, with a valid request, does this object start to exist.
    const { members, log, consent } = state.open();
    const now = Date.now();
    insertSettings(state.sql, {
      groupId: input.groupId,
      title: input.title,
      description: input.description,
      picture: null,
      onlyAdminsSend: input.onlyAdminsSend,
      createdBy: input.actor,
      createdAt: now,
      logFrom: null,
    });
    state.settingsWritten();
    members.add([input.actor], 'admin', log.head + 1, now);
    state.event(input.actor, { kind: 'created', title: input.title }, true, now);
    consent.add(input.actor, input.targets, now);
    return this.publisher.changed(input.actor);
  }

  /** The group as `requester` (a member) sees it. */
  view(requester: string): Group {
    this.state.memberOrThrow(requester);
    return this.state.view(requester);
  }

  /** A page of the members by user id, after `after` (members only): how a large group is listed whole. */
  memberPage(requester: string, after: string, limit: number): GroupMemberPage {
    this.state.memberOrThrow(requester);
    const rows = this.state.parts.members.page(after, limit + 1);
    const members = rows.slice(0, limit).map((m) => ({ userId: m.userId, role: m.role, joinedAt: m.joinedAt }));
    return { members, nextAfter: rows.length > limit ? members[members.length - 1]!.userId : null };
  }

  /** Change title, description, picture or "only admins send" (admins). One event per change. */
  async update(actor: string, patch: UpdateGroup): Promise<Group> {
    const { state } = this;
    state.adminOrThrow(actor);
    const s = state.settings();
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
    if (changes.length === 0) return state.view(actor);
    updateSettings(state.sql, {
      title: patch.title ?? s.title,
      description: patch.description ?? s.description,
      picture: patch.picture === undefined ? s.picture : patch.picture,
      onlyAdminsSend: patch.onlyAdminsSend ?? s.onlyAdminsSend,
    });
    state.settingsWritten();
    for (const change of changes) state.event(actor, change, false, now);
    return this.publisher.changed(actor);
  }

  /**
   * Add people (admins). Current members are skipped, pending invites stay as they are; nobody
   * new is a no-op. The answer has the same shape whoever was added or invited, so an adder
   * cannot tell a block from a privacy setting.
   */
  async addMembers(actor: string, targets: AddTargets): Promise<Group> {
    this.state.adminOrThrow(actor);
    if (!this.state.parts.consent.add(actor, targets, Date.now())) return this.state.view(actor);
    return this.publisher.changed(actor);
  }

  /** Remove a member (admins); removing yourself is leaving. The removed member still receives this event, nothing after. */
  async removeMember(actor: string, target: string): Promise<Group> {
    if (actor === target) return this.leave(actor);
    const { state } = this;
    state.adminOrThrow(actor);
    state.memberOrThrow(target, 'user_not_found', 'That user is not a member of this group');
    const now = Date.now();
    state.parts.members.remove(target, state.parts.log.head + 1);
    state.event(actor, { kind: 'member_removed', member: target }, true, now);
    return this.publisher.changed(actor);
  }

  /**
   * Leave the group. If the last admin leaves while others stay, the longest-standing member
   * becomes admin (as people expect from a messenger); the group never has members but no admin.
   */
  async leave(actor: string): Promise<Group> {
    const { state } = this;
    const me = state.memberOrThrow(actor);
    const { members, log } = state.parts;
    const now = Date.now();
    members.remove(actor, log.head + 1);
    state.event(actor, { kind: 'member_left', member: actor }, true, now);
    if (me.role === 'admin' && members.adminCount() === 0) {
      const heir = members.senior(actor);
      if (heir) {
        members.setRole(heir.userId, 'admin');
        state.event(actor, { kind: 'admin_promoted', member: heir.userId }, false, now);
      }
    }
    return this.publisher.changed(actor);
  }

  /** Promote or demote a member (admins). The last admin cannot be demoted. */
  async setRole(actor: string, target: string, role: GroupRole): Promise<Group> {
    const { state } = this;
    state.adminOrThrow(actor);
    const member = state.memberOrThrow(target, 'user_not_found', 'That user is not a member of this group');
    if (member.role === role) return state.view(actor);
    const { members } = state.parts;
    if (role === 'member' && members.adminCount() === 1) throw new GroupError('last_admin');
    const now = Date.now();
    members.setRole(target, role);
    state.event(actor, { kind: role === 'admin' ? 'admin_promoted' : 'admin_demoted', member: target }, false, now);
    return this.publisher.changed(actor);
  }
}
