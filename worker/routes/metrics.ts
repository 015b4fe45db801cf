/**
 * Operational metrics for operators and monitors (not for app users): fan-out queue backlog and
 * dead-lettered jobs, the primary health signals of group delivery. Guarded by a bearer token of
 * its own (`METRICS_TOKEN`), compared in constant time by hono's bearer-auth middleware.
 */
import { Hono, type Context } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { PATHS, type Metrics } from '../../protocol/index.ts';
import type { AppEnv } from '../app-env.ts';
import { deadLetterCounts } from '../db/groups.ts';

async function queueMetrics(queue: Queue): Promise<Metrics['queues'][string]> {
  try {
    const m = await queue.metrics();
    return { backlog: m.backlogCount, backlogBytes: m.backlogBytes, oldestAt: m.oldestMessageTimestamp ? new Date(m.oldestMessageTimestamp).getTime() || null : null };
  } catch {
    return null;
  }
}

export const metricsRoutes = new Hono<AppEnv>().get(
  PATHS.metrics,
  bearerAuth({ verifyToken: (token, c: Context<AppEnv>) => token === c.env.METRICS_TOKEN }),
  async (c) => {
    const metrics: Metrics = {
      queues: { 'group-fanout': await queueMetrics(c.env.GROUP_FANOUT) },
      deadLetters: await deadLetterCounts(c.env.DB),
      at: Date.now(),
    };
    return c.json(metrics);
  },
);
