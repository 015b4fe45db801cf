/**
 * `GET /v1/connect`: authenticate a WebSocket upgrade and hand it to the user's mailbox object,
 * which owns the socket from then on.
 */
import { Hono } from 'hono';
import { ConnectQuerySchema, PATHS } from '../../protocol/index.ts';
import { CONNECT_HEADERS } from '../../durable-objects/user-mailbox.ts';
import type { AppEnv } from '../app-env.ts';
import { requireAuth } from '../auth/middleware.ts';
import { ApiError } from '../errors.ts';
import { mailboxOf } from '../mailboxes.ts';
import { query } from '../validate.ts';

export const connectRoutes = new Hono<AppEnv>().get(
  PATHS.connect,
  async (c, next) => {
    // Checked first so a plain GET gets a clear answer rather than a query or token error.
    if (c.req.header('Upgrade')?.toLowerCase() !== 'websocket') throw new ApiError('upgrade_required');
    await next();
  },
  query(ConnectQuerySchema),
  requireAuth,
  async (c) => {
    const { userId, deviceId } = c.get('auth');
    const { cursor } = c.req.valid('query');
    const headers = new Headers({
      Upgrade: 'websocket',
      [CONNECT_HEADERS.user]: userId,
      [CONNECT_HEADERS.device]: deviceId,
    });
    if (cursor !== undefined) headers.set(CONNECT_HEADERS.cursor, String(cursor));
    return mailboxOf(c.env, userId).fetch(new Request('https://mailbox.internal/connect', { headers }));
  },
);
