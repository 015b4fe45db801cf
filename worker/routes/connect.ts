/**
 * WebSocket connections. `POST /v1/connect/ticket` (bearer token in the Authorization header)
 * issues a short-lived single-use ticket; `GET /v1/connect?ticket=` authenticates the upgrade
 * with it and hands the socket to the user's `UserMailbox` object, which owns it from then on
 * (and refuses a ticket used before).
 */
import { Hono } from 'hono';
import { ConnectQuerySchema, PATHS, type ConnectTicket } from '../../protocol/index.ts';
import { CONNECT_HEADERS } from '../../durable-objects/user-mailbox.ts';
import type { AppEnv } from '../app-env.ts';
import { requireAuth } from '../auth/middleware.ts';
import { issueTicket, verifyTicket } from '../auth/ticket.ts';
import { spendBudget } from '../budgets.ts';
import { getActiveDevice, inactiveDeviceCode } from '../../db/accounts.ts';
import { ApiError } from '../errors.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';
import { query } from '../validate.ts';

export const connectRoutes = new Hono<AppEnv>()
  .post(PATHS.connectTicket, requireAuth, async (c) => {
    const auth = c.get('auth');
    await spendBudget(c.env, auth.userId, 'connect_ticket_device', 1, auth.deviceId);
    return c.json((await issueTicket(c.env.TOKEN_SECRET, auth, Date.now())) satisfies ConnectTicket, 200);
  })
  .get(
    PATHS.connect,
    async (c, next) => {
      // Checked first so a plain GET gets a clear answer rather than a query or ticket error.
      if (c.req.header('Upgrade')?.toLowerCase() !== 'websocket') throw new ApiError('upgrade_required');
      await next();
    },
    query(ConnectQuerySchema),
    async (c) => {
      const { ticket, cursor } = c.req.valid('query');
      const { userId, deviceId, ticketId, expiresAt } = await verifyTicket(c.env.TOKEN_SECRET, ticket, Date.now());
      // Logged out since the ticket was issued: refused like a revoked token.
      if ((await getActiveDevice(c.env.DB, userId, deviceId)) === null) throw new ApiError(await inactiveDeviceCode(c.env.DB, deviceId));
      const headers = new Headers({
        Upgrade: 'websocket',
        [CONNECT_HEADERS.user]: userId,
        [CONNECT_HEADERS.device]: deviceId,
        [CONNECT_HEADERS.ticket]: ticketId,
        [CONNECT_HEADERS.ticketExpires]: String(expiresAt),
      });
      if (cursor !== undefined) headers.set(CONNECT_HEADERS.cursor, String(cursor));
      return mailboxOf(c.env, userId).fetch(new Request('https://mailbox.internal/connect', { headers }));
    },
  );
