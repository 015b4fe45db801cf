/**
 * Search over the caller's own history (`GET /v1/search`): served by the caller's own mailbox
 * object, which searches its recent messages and the caller's history shard and charges the
 * `search_user` budget first. Nobody can search anything but their own copies.
 */
import { Hono } from 'hono';
import { PATHS, SearchQuerySchema, type SearchPage } from '../../protocol/index.ts';
import type { AppEnv } from '../app-env.ts';
import { requireAuth } from '../auth/middleware.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';
import { rateLimited } from '../errors.ts';
import { query } from '../validate.ts';

export const searchRoutes = new Hono<AppEnv>().get(PATHS.search, requireAuth, query(SearchQuerySchema), async (c) => {
  const { userId, deviceId } = c.get('auth');
  const answer = await mailboxOf(c.env, userId).search(c.req.valid('query'), deviceId);
  if ('ok' in answer) throw rateLimited(answer.retryAfterMs, 'Rate limit reached (searches per user); retry later');
  // The RPC's declared type widens the [start, end] tuples to number[]; the values are the pairs.
  const page = answer as SearchPage;
  return c.json(page);
});
