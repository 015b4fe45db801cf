/**
 * Conversations: the chat list (`GET /v1/conversations`), one conversation's history
 * (`GET /v1/conversations/:peerId/messages`) and the starred messages of all chats
 * (`GET /v1/starred`), newest first, paged by the caller's mailbox seq.
 * Both are served from the caller's own mailbox object, so nobody can read a conversation they
 * are not part of, and as the calling device may see them (a device logged in without history
 * sees nothing from before its login).
 */
import { Hono } from 'hono';
import { z } from 'zod';
import {
  ConversationQuerySchema,
  HistoryQuerySchema,
  PATHS,
  StarredQuerySchema,
  UserIdSchema,
  type ConversationList,
  type HistoryPage,
  type StarredPage,
} from '../../protocol/index.ts';
import type { AppEnv } from '../app-env.ts';
import { requireAuth } from '../auth/middleware.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';
import { params, query } from '../validate.ts';

export const conversationRoutes = new Hono<AppEnv>()
  .get(PATHS.conversations, requireAuth, query(ConversationQuerySchema), async (c) => {
    const { before, limit } = c.req.valid('query');
    const { userId, deviceId } = c.get('auth');
    const list: ConversationList = await mailboxOf(c.env, userId).conversations(before, limit, deviceId);
    return c.json(list);
  })
  .get(PATHS.starred, requireAuth, query(StarredQuerySchema), async (c) => {
    const { before, limit } = c.req.valid('query');
    const { userId, deviceId } = c.get('auth');
    const page: StarredPage = await mailboxOf(c.env, userId).starred(before, limit, deviceId);
    return c.json(page);
  })
  .get(
  '/v1/conversations/:peerId/messages',
  requireAuth,
  params(z.object({ peerId: UserIdSchema })),
  query(HistoryQuerySchema),
  async (c) => {
    const { userId, deviceId } = c.get('auth');
    const { peerId } = c.req.valid('param');
    const { before, limit } = c.req.valid('query');
    const page: HistoryPage = await mailboxOf(c.env, userId).history(peerId, before, limit, deviceId);
    return c.json(page);
  },
);
