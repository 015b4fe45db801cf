/**
 * Presence queries, and the caller's settings (privacy, notifications) and muted chats. All of
 * it lives in the users' mailbox objects, where it is applied; these routes only validate and
 * ask the right object. The privacy settings the Worker applies itself (profile visibility,
 * group adds, read receipts) are then mirrored to D1 from the object's answer.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import {
  ConversationRefSchema,
  MuteRequestSchema,
  PATHS,
  SettingsUpdateSchema,
  UserIdSchema,
  type ConversationRef,
  type Presence,
  type Settings,
} from '../../protocol/index.ts';
import type { AppEnv } from '../app-env.ts';
import { requireAuth } from '../auth/middleware.ts';
import { userExists } from '../../db/accounts.ts';
import { mirrorPrivacy } from '../../db/privacy.ts';
import { ApiError } from '../errors.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';
import { jsonBody, params } from '../validate.ts';

const UserParam = params(z.object({ userId: UserIdSchema }));
const MuteParam = params(ConversationRefSchema);

export const presenceRoutes = new Hono<AppEnv>()
  .get('/v1/users/:userId/presence', requireAuth, UserParam, async (c) => {
    const { userId } = c.get('auth');
    const target = c.req.valid('param').userId;
    if (target === userId) throw new ApiError('self_reference', 'Ask about someone else');
    const presence = await mailboxOf(c.env, userId).presenceOf(target);
    if (presence === null) throw new ApiError('user_not_found');
    return c.json(presence satisfies Presence);
  })
  .get(PATHS.settings, requireAuth, async (c) => {
    return c.json((await mailboxOf(c.env, c.get('auth').userId).settings()) satisfies Settings);
  })
  // Every update rewrites the mirror from the object's answer (one UPDATE), so a mirror write
  // that failed is repaired by the retry, or by any later update.
  .patch(PATHS.settings, requireAuth, jsonBody(SettingsUpdateSchema), async (c) => {
    const { userId } = c.get('auth');
    const settings = await mailboxOf(c.env, userId).updateSettings(c.req.valid('json'));
    await mirrorPrivacy(c.env.DB, userId, settings.privacy);
    return c.json(settings satisfies Settings);
  })
  .put('/v1/me/mutes/:kind/:id', requireAuth, MuteParam, jsonBody(MuteRequestSchema), async (c) => {
    const { userId } = c.get('auth');
    const conversation = c.req.valid('param');
    const { until } = c.req.valid('json');
    if (until !== null && until <= Date.now()) throw new ApiError('validation_failed', 'until must be in the future (or null for always)');
    await assertConversation(c.env, userId, conversation);
    return c.json((await mailboxOf(c.env, userId).mute(conversation, until)) satisfies Settings);
  })
  .delete('/v1/me/mutes/:kind/:id', requireAuth, MuteParam, async (c) => {
    const conversation = c.req.valid('param');
    return c.json((await mailboxOf(c.env, c.get('auth').userId).unmute(conversation)) satisfies Settings);
  });

/** A chat one can mute: another existing (not deleted) user, or a group one is in. */
async function assertConversation(env: Env, userId: string, conversation: ConversationRef): Promise<void> {
  if (conversation.kind === 'direct') {
    if (conversation.id === userId) throw new ApiError('self_reference', 'There is no chat with yourself to mute');
    if (!(await userExists(env.DB, conversation.id))) throw new ApiError('user_not_found');
  } else if (!(await mailboxOf(env, userId).knowsGroup(conversation.id))) {
    throw new ApiError('group_not_found');
  }
}
