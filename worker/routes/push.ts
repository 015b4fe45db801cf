/**
 * Push-token registration for the calling device, and (local sink mode only) what the sink
 * recorded, for developers and tests, behind the operators' metrics token.
 */
import { Hono, type Context } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { z } from 'zod';
import { PATHS, PushTokenRequestSchema, UserIdSchema, type PushRegistration, type SinkPushList } from '../../protocol/index.ts';
import type { AppEnv } from '../app-env.ts';
import { requireAuth } from '../auth/middleware.ts';
import { pushRegistrationOf, registerPushToken, sinkPushes, unregisterPushToken } from '../../db/push.ts';
import { ApiError } from '../errors.ts';
import { jsonBody, query } from '../validate.ts';
import { operatorToken } from './metrics.ts';

const SinkQuery = z.strictObject({
  userId: UserIdSchema.optional(),
  after: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export const pushRoutes = new Hono<AppEnv>()
  .put(PATHS.pushToken, requireAuth, jsonBody(PushTokenRequestSchema), async (c) => {
    const { userId, deviceId } = c.get('auth');
    const { platform, token } = c.req.valid('json');
    const now = Date.now();
    if (!(await registerPushToken(c.env.DB, { userId, deviceId, platform, token }, now))) throw new ApiError('push_token_in_use');
    return c.json({ deviceId, platform, registeredAt: now } satisfies PushRegistration, 200);
  })
  .get(PATHS.pushToken, requireAuth, async (c) => {
    const { deviceId } = c.get('auth');
    const row = await pushRegistrationOf(c.env.DB, deviceId);
    if (row === null) throw new ApiError('not_found', 'This device has no push token');
    return c.json({ deviceId, platform: row.platform as PushRegistration['platform'], registeredAt: row.registeredAt } satisfies PushRegistration);
  })
  .delete(PATHS.pushToken, requireAuth, async (c) => {
    await unregisterPushToken(c.env.DB, c.get('auth').deviceId);
    return c.body(null, 204);
  })
  .get(PATHS.pushSink, bearerAuth({ verifyToken: (token, c: Context<AppEnv>) => operatorToken(token, c.env) }), query(SinkQuery), async (c) => {
    if (c.env.PUSH_MODE === 'live') throw new ApiError('not_found', 'The push sink is only kept with PUSH_MODE=sink');
    const { userId, after, limit } = c.req.valid('query');
    return c.json({ pushes: await sinkPushes(c.env.DB, { userId, after, limit }) } satisfies SinkPushList);
  });
