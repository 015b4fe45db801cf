/**
 * Joining a group by consent, as the group object's entry points see it: answering and
 * withdrawing pending invites, the invite link (create, show, revoke, preview, join) and join
 * requests. ./consent.ts keeps the rows and the seat rules; this checks who is asking (an
 * invitee, a link holder, an admin) and makes each change known through the publisher.
 * Refusals are thrown as `GroupError`s.
 */
import type { Group, GroupLink, JoinRequestList, JoinResult, LinkPreview } from '../../protocol/index.ts';
import type { Publisher } from './publisher.ts';
import { GroupError } from './result.ts';
import type { GroupState } from './state.ts';

export class Joining {
  constructor(
    private readonly state: GroupState,
    private readonly publisher: Publisher,
  ) {}

  // ------------------------------------------------------------------ invites

  /** Who invited `userId` (pending), or `invite_not_found`: the Worker checks the invitee's blocks before accepting. */
  invitation(userId: string): { invitedBy: string } {
    this.state.settingsOrThrow();
    const invite = this.state.parts.consent.invite(userId);
    if (invite === null) throw new GroupError('invite_not_found');
    return { invitedBy: invite.invitedBy };
  }

  /** Accept the invite `invitedBy` sent: join now, from a `member_joined` event on (nothing of the log before it). */
  async acceptInvite(userId: string, invitedBy: string): Promise<Group> {
    this.state.settingsOrThrow();
    this.state.parts.consent.accept(userId, invitedBy, Date.now());
    return this.publisher.changed(userId);
  }

  /** Drop `userId`'s pending invite and join request. Idempotent; a group that does not exist has nothing to drop. */
  async declineInvite(userId: string): Promise<void> {
    if (!this.state.find()) return;
    if (this.state.parts.consent.decline(userId)) await this.publisher.publish();
  }

  /** An admin takes back a pending invite. */
  async withdrawInvite(actor: string, userId: string): Promise<Group> {
    this.state.adminOrThrow(actor);
    this.state.parts.consent.withdraw(userId);
    return this.publisher.changed(actor);
  }

  // ------------------------------------------------------------------ the invite link and join requests

  /** Create the invite link, or replace it (admins): a new code; the old one stops working. */
  async createLink(actor: string, approval: boolean): Promise<GroupLink> {
    this.state.adminOrThrow(actor);
    const link = this.state.parts.consent.setLink(actor, approval, Date.now());
    await this.publisher.publish();
    return { groupId: this.state.settings().groupId, ...link };
  }

  /** The live invite link (admins), or `link_not_found`. */
  link(actor: string): GroupLink {
    this.state.adminOrThrow(actor);
    const link = this.state.parts.consent.link();
    if (link === null) throw new GroupError('link_not_found');
    return { groupId: this.state.settings().groupId, ...link };
  }

  /** Revoke the invite link (admins). Idempotent; pending requests stay for admins to decide. */
  async revokeLink(actor: string): Promise<null> {
    this.state.adminOrThrow(actor);
    if (this.state.parts.consent.revokeLink()) await this.publisher.publish();
    return null;
  }

  /**
   * What someone holding `code` may see before joining; `link_not_found` unless it is the live
   * link (also for a group that does not exist, so a code reveals nothing but a live link).
   */
  linkPreview(code: string): LinkPreview {
    const s = this.state.find();
    if (!s) throw new GroupError('link_not_found');
    const { consent, members } = this.state.parts;
    const link = consent.linkFor(code);
    return { groupId: s.groupId, title: s.title, description: s.description, memberCount: members.count(), approval: link.approval };
  }

  /** Join through the live link: at once (`member_joined` via link), or a request when it needs approval. */
  async joinByLink(userId: string, code: string): Promise<JoinResult> {
    if (!this.state.find()) throw new GroupError('link_not_found');
    const outcome = this.state.parts.consent.joinByLink(userId, code, Date.now());
    if (outcome === 'requested') return { status: 'requested', groupId: this.state.settings().groupId };
    return { status: 'joined', group: await this.publisher.changed(userId) };
  }

  /** Pending requests to join through the link (admins). */
  joinRequests(actor: string): JoinRequestList {
    this.state.adminOrThrow(actor);
    return { requests: this.state.parts.consent.requests() };
  }

  /** Let a requester in (admins): `member_joined` via request, made by the approving admin. */
  async approveRequest(actor: string, userId: string): Promise<Group> {
    this.state.adminOrThrow(actor);
    this.state.parts.consent.approve(actor, userId, Date.now());
    return this.publisher.changed(actor);
  }

  /** Turn a request down (admins). The requester is not told (as with a declined request in WhatsApp). */
  declineRequest(actor: string, userId: string): null {
    this.state.adminOrThrow(actor);
    this.state.parts.consent.declineRequest(userId);
    return null;
  }
}
