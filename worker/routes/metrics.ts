/**
 * Operational metrics for operators and monitors (not for app users): queue backlogs and
 * dead-lettered jobs, push outcomes, connected devices and mailbox depth, the health signals of
 * delivery; media stored, pending, deduplicated and swept. Guarded by a bearer token of its own
 * (`METRICS_TOKEN`), compared in constant time.
 */
import { Hono, type Context } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { PATHS, type Metrics } from '../../protocol/index.ts';
import type { AppEnv } from '../app-env.ts';
import { deadLetterCounts } from '../../db/groups.ts';
import { mediaTotals } from '../../db/media.ts';
import { pushOutcomeCounts } from '../../db/push.ts';
import { historyShards, shardGauges } from '../../db/history/index.ts';
import { tierConfig } from '../../durable-objects/mailbox/history-tiers.ts';
import { addTotals } from '../../durable-objects/gauge-hub.ts';
import { gaugeHubs } from '../../durable-objects/stubs.ts';

const encoder = new TextEncoder();

/** Whether `token` is the operators' token (constant time in its length, via hashes of both). */
export async function operatorToken(token: string, env: Env): Promise<boolean> {
  if (!env.METRICS_TOKEN) return false;
  const [a, b] = await Promise.all([token, env.METRICS_TOKEN].map((t) => crypto.subtle.digest('SHA-256', encoder.encode(t))));
  return crypto.subtle.timingSafeEqual(a!, b!);
}

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
  bearerAuth({ verifyToken: (token, c: Context<AppEnv>) => operatorToken(token, c.env) }),
  async (c) => {
    const now = Date.now();
    const { coldMs } = tierConfig(c.env);
    const shards = historyShards(c.env).all();
    const [fanout, push, archive, shardFigures, deadLetters, outcomes, gauges, media] = await Promise.all([
      queueMetrics(c.env.GROUP_FANOUT),
      queueMetrics(c.env.PUSH),
      queueMetrics(c.env.HISTORY_ARCHIVE),
      Promise.all(shards.map((shard) => shardGauges(shard.db, coldMs, now).catch(() => null))),
      deadLetterCounts(c.env.DB),
      pushOutcomeCounts(c.env.DB),
      Promise.all(gaugeHubs(c.env).map((hub) => hub.totals())).then(addTotals),
      mediaTotals(c.env.DB),
    ]);
    const metrics: Metrics = {
      queues: { 'group-fanout': fanout, 'push-notifications': push, 'history-archive': archive },
      deadLetters,
      push: {
        sent: outcomes.sent ?? 0,
        failed: outcomes.failed ?? 0,
        retried: outcomes.retried ?? 0,
        invalidTokens: outcomes.invalid_token ?? 0,
        noDevice: outcomes.no_device ?? 0,
      },
      connections: { devices: gauges.connectedDevices, onlineUsers: gauges.onlineUsers },
      mailboxes: { reporting: gauges.mailboxes, depthTotal: gauges.depthTotal, depthMax: gauges.depthMax },
      media,
      history: {
        hot: { messages: gauges.hotMessages, mailboxes: gauges.hotMailboxes },
        shards: Object.fromEntries(shards.map((shard, i) => [shard.name, shardFigures[i] ?? null])),
      },
      at: now,
    };
    return c.json(metrics);
  },
);
