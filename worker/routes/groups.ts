/**
 * Group management, history and message info. Every route needs a logged-in device; the group's
 * object decides what the caller may do (member, admin, sender) and answers with typed errors.
 * Membership changes and settings changes also appear in the group as system messages.
 * Creating groups and adding members cost the caller's budgets (worker/groups.ts); an unknown
 * group id is answered `group_not_found` without reaching any group object.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import {
  AddMembersSchema,
  CreateGroupSchema,
  GroupHistoryQuerySchema,
  GroupIdSchema,
  MessageIdSchema,
  PATHS,
  UpdateGroupSchema,
  UserIdSchema,
  type GroupList,
} from '../../protocol/index.ts';
import type { AppEnv } from '../app-env.ts';
import { requireAuth } from '../auth/middleware.ts';
import { listGroupsOf } from '../db/groups.ts';
import { ApiError } from '../errors.ts';
import { addMembers, createGroup, leaveGroup, messageInfo, removeMember, setRole, updateGroup, viewGroup } from '../groups.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';
import { jsonBody, params, query } from '../validate.ts';

const GroupParam = params(z.object({ groupId: GroupIdSchema }));
const MemberParam = params(z.object({ groupId: GroupIdSchema, userId: UserIdSchema }));

export const groupRoutes = new Hono<AppEnv>()
  .post(PATHS.groups, requireAuth, jsonBody(CreateGroupSchema), async (c) => {
    return c.json(await createGroup(c.env, c.get('auth').userId, c.req.valid('json')), 201);
  })
  .get(PATHS.groups, requireAuth, async (c) => {
    return c.json({ groups: await listGroupsOf(c.env.DB, c.get('auth').userId) } satisfies GroupList);
  })
  .get('/v1/groups/:groupId', requireAuth, GroupParam, async (c) => {
    return c.json(await viewGroup(c.env, c.get('auth').userId, c.req.valid('param').groupId));
  })
  .patch('/v1/groups/:groupId', requireAuth, GroupParam, jsonBody(UpdateGroupSchema), async (c) => {
    return c.json(await updateGroup(c.env, c.get('auth').userId, c.req.valid('param').groupId, c.req.valid('json')));
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
  .get('/v1/groups/:groupId/messages', requireAuth, GroupParam, query(GroupHistoryQuerySchema), async (c) => {
    const { groupId } = c.req.valid('param');
    const { before, limit } = c.req.valid('query');
    const page = await mailboxOf(c.env, c.get('auth').userId).groupHistory(groupId, before, limit);
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
