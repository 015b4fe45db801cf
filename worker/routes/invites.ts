/**
 * Consent, the invitee's side: the invites you received (`GET /v1/invites`, paged, without those
 * from people you blocked), accepting and declining them, and invite links (preview, join).
 * Every route needs a logged-in device (its edge rate limit applies); joining through a link
 * also costs a `group_join_user` token. A link code that is unknown, revoked or malformed is
 * answered `link_not_found` alike, and reaches no group object.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { GroupIdSchema, GroupListQuerySchema, LinkCodeSchema, PATHS, type InviteList } from '../../protocol/index.ts';
import type { AppEnv } from '../app-env.ts';
import { requireAuth } from '../auth/middleware.ts';
import { listInvitesOf } from '../../db/groups.ts';
import { ApiError } from '../errors.ts';
import { acceptInvite, declineInvite, joinByLink, previewLink } from '../groups.ts';
import { params, query } from '../validate.ts';

const GroupParam = params(z.object({ groupId: GroupIdSchema }));

/** The `:code` of a link route, or `link_not_found`: a malformed code is no different from a revoked one. */
function linkCode(raw: string): string {
  const code = LinkCodeSchema.safeParse(raw);
  if (!code.success) throw new ApiError('link_not_found');
  return code.data;
}

export const inviteRoutes = new Hono<AppEnv>()
  .get(PATHS.invites, requireAuth, query(GroupListQuerySchema), async (c) => {
    const { before, limit } = c.req.valid('query');
    // One more than the page: whether there is a next page, without a count.
    const rows = await listInvitesOf(c.env.DB, c.get('auth').userId, { before, limit: limit + 1 });
    const invites = rows.slice(0, limit);
    const nextBefore = rows.length > limit ? invites[invites.length - 1]!.groupId : null;
    return c.json({ invites, nextBefore } satisfies InviteList);
  })
  .post('/v1/invites/:groupId/accept', requireAuth, GroupParam, async (c) => {
    return c.json(await acceptInvite(c.env, c.get('auth').userId, c.req.valid('param').groupId));
  })
  .post('/v1/invites/:groupId/decline', requireAuth, GroupParam, async (c) => {
    await declineInvite(c.env, c.get('auth').userId, c.req.valid('param').groupId);
    return c.body(null, 204);
  })
  .get('/v1/links/:code', requireAuth, async (c) => {
    return c.json(await previewLink(c.env, linkCode(c.req.param('code'))));
  })
  .post('/v1/links/:code/join', requireAuth, async (c) => {
    return c.json(await joinByLink(c.env, c.get('auth').userId, linkCode(c.req.param('code'))));
  });
