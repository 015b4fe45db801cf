/**
 * The group endpoints of the typed HTTP API: groups and their members, group history, invites
 * (consent to be added), invite links and requests to join. `MessengerApi` (http.ts) builds on
 * this class.
 */
import {
  GroupHistoryPageSchema,
  GroupLinkSchema,
  GroupListSchema,
  GroupMemberPageSchema,
  GroupSchema,
  InviteListSchema,
  JoinRequestListSchema,
  JoinResultSchema,
  LinkPreviewSchema,
  MessageInfoSchema,
  PATHS,
} from '../protocol/index.ts';
import type {
  CreateGroup,
  CreateLink,
  Group,
  GroupHistoryPage,
  GroupLink,
  GroupList,
  GroupMemberPage,
  InviteList,
  JoinRequestList,
  JoinResult,
  LinkPreview,
  MessageInfo,
  UpdateGroup,
} from '../protocol/index.ts';
import { AccountApi } from './account-api.ts';
import { MessengerError, pageQuery } from './transport.ts';
import type { PageOptions } from './transport.ts';

/** Options for one page of mailbox history: `before` is a mailbox seq. */
export type HistoryOptions = PageOptions<number>;

/**
 * Options for one page of group history: `before` is a mailbox seq; `beforeGseq` continues a
 * large group's log part (pass the previous page's `nextBeforeGseq`).
 */
export type GroupHistoryOptions = HistoryOptions & { beforeGseq?: number };

/** Options for one page of groups or invites: `before` is a group id (`nextBefore` of the previous page). */
export type GroupPageOptions = PageOptions<string>;

export class GroupsApi extends AccountApi {
  /**
   * POST /v1/groups: create a group; you become its first admin. Members whose privacy does not
   * let you add them (and anyone who blocked you) are invited instead: they are listed in the
   * answer's `invites`, not `members`, until they accept.
   *
   * @example
   * const group = await api.createGroup({ title: 'Climbing', members: [annId, bobId] });
   */
  createGroup(body: CreateGroup, signal?: AbortSignal): Promise<Group> {
    return this.request({ method: 'POST', path: PATHS.groups, body, auth: true, schema: GroupSchema, signal });
  }

  /**
   * GET /v1/groups: one page of the groups you are a member of, newest first.
   *
   * @example
   * let page = await api.groups({ limit: 50 });
   * while (page.nextBefore !== null) page = await api.groups({ before: page.nextBefore });
   */
  groups(options: GroupPageOptions = {}, signal?: AbortSignal): Promise<GroupList> {
    return this.request({ method: 'GET', path: PATHS.groups + pageQuery(options), auth: true, schema: GroupListSchema, signal });
  }

  /** GET /v1/groups/:groupId: settings, members and (for admins) pending invites; members only. */
  group(groupId: string, signal?: AbortSignal): Promise<Group> {
    return this.request({ method: 'GET', path: PATHS.group(groupId), auth: true, schema: GroupSchema, signal });
  }

  /** PATCH /v1/groups/:groupId: change title, description, picture or who may send (admins). */
  updateGroup(groupId: string, update: UpdateGroup, signal?: AbortSignal): Promise<Group> {
    return this.request({ method: 'PATCH', path: PATHS.group(groupId), body: update, auth: true, schema: GroupSchema, signal });
  }

  /**
   * POST /v1/groups/:groupId/members: add members (admins). Resolves with the updated group;
   * those who may not be added directly appear in its `invites`.
   */
  addGroupMembers(groupId: string, members: string[], signal?: AbortSignal): Promise<Group> {
    const path = PATHS.groupMembers(groupId);
    return this.request({ method: 'POST', path, body: { members }, auth: true, schema: GroupSchema, signal });
  }

  /**
   * GET /v1/groups/:groupId/members: the members page by page, by user id (a large group's view
   * lists at most GROUP_VIEW_MEMBERS_MAX of them; `memberCount` says how many there are).
   *
   * @example
   * let page = await api.groupMembers(groupId);
   * while (page.nextAfter !== null) page = await api.groupMembers(groupId, { after: page.nextAfter });
   */
  groupMembers(groupId: string, options: { after?: string; limit?: number } = {}, signal?: AbortSignal): Promise<GroupMemberPage> {
    const query = new URLSearchParams();
    if (options.after !== undefined) query.set('after', options.after);
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    const qs = query.toString();
    const path = PATHS.groupMembers(groupId) + (qs === '' ? '' : `?${qs}`);
    return this.request({ method: 'GET', path, auth: true, schema: GroupMemberPageSchema, signal });
  }

  /** DELETE /v1/groups/:groupId/members/:userId: remove a member (admins; use `leaveGroup` for yourself). */
  removeGroupMember(groupId: string, userId: string, signal?: AbortSignal): Promise<Group> {
    const path = PATHS.groupMember(groupId, userId);
    return this.request({ method: 'DELETE', path, auth: true, schema: GroupSchema, signal });
  }

  /** PUT /v1/groups/:groupId/admins/:userId: make a member an admin (admins). */
  promoteAdmin(groupId: string, userId: string, signal?: AbortSignal): Promise<Group> {
    const path = PATHS.groupAdmin(groupId, userId);
    return this.request({ method: 'PUT', path, auth: true, schema: GroupSchema, signal });
  }

  /** DELETE /v1/groups/:groupId/admins/:userId: make an admin a plain member again (admins). */
  demoteAdmin(groupId: string, userId: string, signal?: AbortSignal): Promise<Group> {
    const path = PATHS.groupAdmin(groupId, userId);
    return this.request({ method: 'DELETE', path, auth: true, schema: GroupSchema, signal });
  }

  /** POST /v1/groups/:groupId/leave: leave the group (204). */
  leaveGroup(groupId: string, signal?: AbortSignal): Promise<void> {
    return this.request({ method: 'POST', path: PATHS.groupLeave(groupId), auth: true, schema: null, signal });
  }

  /**
   * GET /v1/groups/:groupId/messages: one page of the group (messages, system events and
   * updates), newest first. `before` and `nextBefore` are mailbox seqs, as for 1:1 history. A
   * large group (read diffusion) is read from its log first: those items have `seq: null` (their
   * gseq names them) and the page's `nextBeforeGseq`, while not null, is where the next page
   * starts (`beforeGseq`); after it, `nextBefore` pages your mailbox's copy below the switch.
   *
   * @example
   * let page = await api.groupHistory(groupId, { limit: 50 });
   * while (page.nextBeforeGseq != null || page.nextBefore !== null) {
   *   const next = page.nextBeforeGseq != null ? { beforeGseq: page.nextBeforeGseq } : { before: page.nextBefore! };
   *   page = await api.groupHistory(groupId, next);
   * }
   */
  groupHistory(groupId: string, options: GroupHistoryOptions = {}, signal?: AbortSignal): Promise<GroupHistoryPage> {
    const query = pageQuery(options);
    const gseq = options.beforeGseq === undefined ? '' : `beforeGseq=${options.beforeGseq}`;
    const path = PATHS.groupHistory(groupId) + query + (gseq === '' ? '' : `${query === '' ? '?' : '&'}${gseq}`);
    return this.request({ method: 'GET', path, auth: true, schema: GroupHistoryPageSchema, signal });
  }

  /** GET /v1/groups/:groupId/messages/:messageId/info: who received and read one of your messages (sender only). */
  messageInfo(groupId: string, messageId: string, signal?: AbortSignal): Promise<MessageInfo> {
    const path = PATHS.groupMessageInfo(groupId, messageId);
    return this.request({ method: 'GET', path, auth: true, schema: MessageInfoSchema, signal });
  }

  // ------------------------------------------------------------ invites

  /** GET /v1/invites: one page of the group invites you have not answered, newest group first. */
  invites(options: GroupPageOptions = {}, signal?: AbortSignal): Promise<InviteList> {
    return this.request({ method: 'GET', path: PATHS.invites + pageQuery(options), auth: true, schema: InviteListSchema, signal });
  }

  /** POST /v1/invites/:groupId/accept: join the group you were invited to (`invite_not_found` when there is no such invite). */
  acceptInvite(groupId: string, signal?: AbortSignal): Promise<Group> {
    return this.request({ method: 'POST', path: PATHS.inviteAccept(groupId), auth: true, schema: GroupSchema, signal });
  }

  /** POST /v1/invites/:groupId/decline: turn an invite down (204; the group is not told who declined beyond its invite list). */
  declineInvite(groupId: string, signal?: AbortSignal): Promise<void> {
    return this.request({ method: 'POST', path: PATHS.inviteDecline(groupId), auth: true, schema: null, signal });
  }

  /** DELETE /v1/groups/:groupId/invites/:userId: withdraw a pending invite (admins). Resolves with the updated group. */
  withdrawInvite(groupId: string, userId: string, signal?: AbortSignal): Promise<Group> {
    return this.request({ method: 'DELETE', path: PATHS.groupInvite(groupId, userId), auth: true, schema: GroupSchema, signal });
  }

  // ------------------------------------------------------------ invite links and requests to join

  /**
   * POST /v1/groups/:groupId/link: create the group's invite link (admins), replacing any
   * previous one. With `approval`, joining through it only asks; an admin decides.
   *
   * @example
   * const { code } = await api.createLink(groupId, { approval: true });
   * share(`${location.origin}/#join/${code}`);
   */
  createLink(groupId: string, options: CreateLink = {}, signal?: AbortSignal): Promise<GroupLink> {
    const body = { approval: options.approval ?? false };
    return this.request({ method: 'POST', path: PATHS.groupLink(groupId), body, auth: true, schema: GroupLinkSchema, signal });
  }

  /** GET /v1/groups/:groupId/link: the group's invite link (admins), or null when it has none. */
  async groupLink(groupId: string, signal?: AbortSignal): Promise<GroupLink | null> {
    try {
      return await this.request({ method: 'GET', path: PATHS.groupLink(groupId), auth: true, schema: GroupLinkSchema, signal });
    } catch (error) {
      if (error instanceof MessengerError && error.code === 'link_not_found') return null;
      throw error;
    }
  }

  /** DELETE /v1/groups/:groupId/link: revoke the invite link (admins, 204); the code stops working. */
  revokeLink(groupId: string, signal?: AbortSignal): Promise<void> {
    return this.request({ method: 'DELETE', path: PATHS.groupLink(groupId), auth: true, schema: null, signal });
  }

  /** GET /v1/links/:code: what an invite link leads to (`link_not_found` when unknown or revoked). */
  linkPreview(code: string, signal?: AbortSignal): Promise<LinkPreview> {
    return this.request({ method: 'GET', path: PATHS.link(code), auth: true, schema: LinkPreviewSchema, signal });
  }

  /**
   * POST /v1/links/:code/join: join through an invite link: `{ status: 'joined', group }`, or
   * `{ status: 'requested' }` when the link needs an admin's approval. `already_member` when you are in.
   */
  joinByLink(code: string, signal?: AbortSignal): Promise<JoinResult> {
    return this.request({ method: 'POST', path: PATHS.linkJoin(code), auth: true, schema: JoinResultSchema, signal });
  }

  /** GET /v1/groups/:groupId/requests: requests to join through the link waiting for approval (admins). */
  joinRequests(groupId: string, signal?: AbortSignal): Promise<JoinRequestList> {
    return this.request({ method: 'GET', path: PATHS.groupRequests(groupId), auth: true, schema: JoinRequestListSchema, signal });
  }

  /** POST /v1/groups/:groupId/requests/:userId/approve: let the user in (admins). Resolves with the updated group. */
  approveRequest(groupId: string, userId: string, signal?: AbortSignal): Promise<Group> {
    const path = PATHS.groupRequestApprove(groupId, userId);
    return this.request({ method: 'POST', path, auth: true, schema: GroupSchema, signal });
  }

  /** DELETE /v1/groups/:groupId/requests/:userId: turn a request down (admins, 204). */
  declineRequest(groupId: string, userId: string, signal?: AbortSignal): Promise<void> {
    return this.request({ method: 'DELETE', path: PATHS.groupRequest(groupId, userId), auth: true, schema: null, signal });
  }
}
