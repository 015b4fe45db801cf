/**
 * The bench's cost counters (lib/cost-counters.ts): what every Durable Object in this runtime
 * did (commits, statements, RPCs, frames), read by `npm run bench -- --scenario cost` before and
 * after each phase. Without LOCAL_COST_COUNTERS=on (and LOCAL_DEVELOPMENT=true) the route does
 * not exist (404 before anything else is looked at); with it, it still needs the operators' token.
 * Locally the Worker and every object share one isolate, so the counts read here are theirs.
 */
import { Hono, type Context } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { PATHS, type CostSnapshot } from '../../protocol/index.ts';
import type { AppEnv } from '../app-env.ts';
import { costCountersOn, costSnapshot } from '../../lib/cost-counters.ts';
import { ApiError } from '../errors.ts';
import { operatorToken } from './metrics.ts';

export const costRoutes = new Hono<AppEnv>().get(
  PATHS.devCost,
  async (c, next) => {
    if (!costCountersOn(c.env)) throw new ApiError('not_found');
    await next();
  },
  bearerAuth({ verifyToken: (token, c: Context<AppEnv>) => operatorToken(token, c.env) }),
  (c) => {
    const object = c.req.query('object');
    return c.json(costSnapshot(object === undefined || object === '' ? undefined : object) satisfies CostSnapshot);
  },
);
