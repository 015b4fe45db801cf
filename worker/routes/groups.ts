/**
 * Group management, history and message info, and the admin side of consent (pending invites,
 * the invite link, join requests). Every route needs a logged-in device; the group's object
 * decides what the caller may do (member, admin, sender) and answers with typed errors.
 * Membership changes and settings changes also appear in the group as system messages.
 * Creating groups and adding members cost the caller's budgets (worker/groups.ts); an unknown
 * group id is answered `group_not_found` without reaching any group object. The invitee's side
 * (/v1/invites, /v1/links) is in ./invites.ts.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import {
  AddMembersSchema,
  CreateGroupSchema,
  CreateLinkSchema,
  GroupHistoryQuerySchema,
  GroupIdSchema,
  GroupListQuerySchema,
  GroupMembersQuerySchema,
  MessageIdSchema,
  PATHS,
  UpdateGroupSchema,
  UserIdSchema,
  type GroupList,
} from '../../protocol/index.ts';
import type { AppEnv } from '../app-env.ts';
import { requireAuth } from '../auth/middleware.ts';
import { listGroupsOf } from '../../db/groups.ts';
import { ApiError } from '../errors.ts';
import {
  addMembers,
  approveRequest,
  createGroup,
  createLink,
  declineRequest,
  joinRequests,
  leaveGroup,
  memberPage,
  messageInfo,
  removeMember,
  revokeLink,
  setRole,
  updateGroup,
  viewGroup,
  viewLink,
  withdrawInvite,
} from '../groups.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';
import { jsonBody, params, query } from '../validate.ts';

const GroupParam = params(z.object({ groupId: GroupIdSchema }));
const MemberParam = params(z.object({ groupId: GroupIdSchema, userId: UserIdSchema }));

export const groupRoutes = new Hono<AppEnv>()
  .post(PATHS.groups, requireAuth, jsonBody(CreateGroupSchema), async (c) => {
    return c.json(await createGroup(c.env, c.get('auth').userId, c.req.valid('json')), 201);
  })
  .get(PATHS.groups, requireAuth, query(GroupListQuerySchema), async (c) => {
    const { before, limit } = c.req.valid('query');
    // One more than the page: whether there is a next page, without a count.
    const rows = await listGroupsOf(c.env.DB, c.get('auth').userId, { before, limit: limit + 1 });
    const groups = rows.slice(0, limit);
    const nextBefore = rows.length > limit ? groups[groups.length - 1]!.groupId : null;
    return c.json({ groups, nextBefore } satisfies GroupList);
  })
  .get('/v1/groups/:groupId', requireAuth, GroupParam, async (c) => {
    return c.json(await viewGroup(c.env, c.get('auth').userId, c.req.valid('param').groupId));
  })
  .patch('/v1/groups/:groupId', requireAuth, GroupParam, jsonBody(UpdateGroupSchema), async (c) => {
    return c.json(await updateGroup(c.env, c.get('auth').userId, c.req.valid('param').groupId, c.req.valid('json')));
  })
  .get('/v1/groups/:groupId/members', requireAuth, GroupParam, query(GroupMembersQuerySchema), async (c) => {
    const { after, limit } = c.req.valid('query');
    return c.json(await memberPage(c.env, c.get('auth').userId, c.req.valid('param').groupId, after, limit));
  })
  .post('/v1/groups/:groupId/members', requireAuth, GroupParam, jsonBody(AddMembersSchema), async (c) => {
    return c.json(await addMembers(c.env, c.get('auth').userId, c.req.valid('param').groupId, c.req.valid('json').members));
  })
  .delete('/v1/groups/:groupId/members/:userId', requireAuth, MemberParam, async (c) => {
    const { groupId, userId } = c.req.valid('param');
    return c.json(await removeMember(c.env, c.get('auth').userId, groupId, userId));
  })
  .put('/v1/groups/:groupId/admins/:userId', requireAuth, MemberParam, async (c) => {
    const { groupId, userId } = c.req.valid('param');
    return c.json(await setRole(c.env, c.get('auth').userId, groupId, userId, 'admin'));
  })
  .delete('/v1/groups/:groupId/admins/:userId', requireAuth, MemberParam, async (c) => {
    const { groupId, userId } = c.req.valid('param');
    return c.json(await setRole(c.env, c.get('auth').userId, groupId, userId, 'member'));
  })
  .post('/v1/groups/:groupId/leave', requireAuth, GroupParam, async (c) => {
    await leaveGroup(c.env, c.get('auth').userId, c.req.valid('param').groupId);
    return c.body(null, 204);
  })
  // ---- consent, admins' side: pending invites, the invite link, join requests
  .delete('/v1/groups/:groupId/invites/:userId', requireAuth, MemberParam, async (c) => {
    const { groupId, userId } = c.req.valid('param');
    return c.json(await withdrawInvite(c.env, c.get('auth').userId, groupId, userId));
  })
  .post('/v1/groups/:groupId/link', requireAuth, GroupParam, jsonBody(CreateLinkSchema), async (c) => {
    const { approval } = c.req.valid('json');
    return c.json(await createLink(c.env, c.get('auth').userId, c.req.valid('param').groupId, approval), 201);
  })
  .get('/v1/groups/:groupId/link', requireAuth, GroupParam, async (c) => {
    return c.json(await viewLink(c.env, c.get('auth').userId, c.req.valid('param').groupId));
  })
  .delete('/v1/groups/:groupId/link', requireAuth, GroupParam, async (c) => {
    await revokeLink(c.env, c.get('auth').userId, c.req.valid('param').groupId);
    return c.body(null, 204);
  })
  .get('/v1/groups/:groupId/requests', requireAuth, GroupParam, async (c) => {
    return c.json(await joinRequests(c.env, c.get('auth').userId, c.req.valid('param').groupId));
  })
  .post('/v1/groups/:groupId/requests/:userId/approve', requireAuth, MemberParam, async (c) => {
    const { groupId, userId } = c.req.valid('param');
    return c.json(await approveRequest(c.env, c.get('auth').userId, groupId, userId));
  })
  .delete('/v1/groups/:groupId/requests/:userId', requireAuth, MemberParam, async (c) => {
    const { groupId, userId } = c.req.valid('param');
    await declineRequest(c.env, c.get('auth').userId, groupId, userId);
    return c.body(null, 204);
  })
  // ---- history and message info
  .get('/v1/groups/:groupId/messages', requireAuth, GroupParam, query(GroupHistoryQuerySchema), async (c) => {
    const { groupId } = c.req.valid('param');
    const { userId, deviceId } = c.get('auth');
    const page = await mailboxOf(c.env, userId).groupHistory(groupId, c.req.valid('query'), deviceId);
    if (page === null) throw new ApiError('not_group_member', 'You have never been a member of this group');
    return c.json(page);
  })
  .get(
    '/v1/groups/:groupId/messages/:messageId/info',
    requireAuth,
    params(z.object({ groupId: GroupIdSchema, messageId: MessageIdSchema })),
    async (c) => {
      const { groupId, messageId } = c.req.valid('param');
      return c.json(await messageInfo(c.env, c.get('auth').userId, groupId, messageId));
    },
  );
