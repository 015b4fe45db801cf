/**
 * Local fault injection (lib/faults.ts): reset a user's mailbox object or a group's object as an
 * eviction or a crash would, for the fault checker (test/fault). Without fault injection on the
 * route does not exist (404 before anything else is looked at); with it, it still needs the
 * operators' token and an existing user or group (an unknown id creates no object).
 */
import { Hono, type Context } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { FaultEvictRequestSchema, PATHS, type FaultEvictResult } from '../../protocol/index.ts';
import type { AppEnv } from '../app-env.ts';
import { faultInjectionOn } from '../../lib/faults.ts';
import { groupExists } from '../../db/groups.ts';
import { userExists } from '../../db/accounts.ts';
import { groupOf, mailboxOf } from '../../durable-objects/stubs.ts';
import { ApiError } from '../errors.ts';
import { jsonBody } from '../validate.ts';
import { operatorToken } from './metrics.ts';

export const faultRoutes = new Hono<AppEnv>().post(
  PATHS.faultsEvict,
  async (c, next) => {
    if (!faultInjectionOn(c.env)) throw new ApiError('not_found');
    await next();
  },
  bearerAuth({ verifyToken: (token, c: Context<AppEnv>) => operatorToken(token, c.env) }),
  jsonBody(FaultEvictRequestSchema),
  async (c) => {
    const body = c.req.valid('json');
    if ('userId' in body) {
      if (!(await userExists(c.env.DB, body.userId))) throw new ApiError('user_not_found');
      await mailboxOf(c.env, body.userId).faultEvict().catch(() => undefined);
    } else {
      if (!(await groupExists(c.env.DB, body.groupId))) throw new ApiError('group_not_found');
      await groupOf(c.env, body.groupId).faultEvict().catch(() => undefined);
    }
    return c.json({ evicted: true } satisfies FaultEvictResult);
  },
);
