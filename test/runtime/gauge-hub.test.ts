/**
 * The operators' mailbox gauges: each user's object reports to its hub (one of GAUGE_SHARDS,
 * by user id), a report older than the stored one changes nothing, the hot count stays until an
 * archive batch reports it, a deleted account's row goes, and GET /v1/metrics adds the shards up.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { addTotals, type GaugeHub } from '../../durable-objects/gauge-hub.ts';
import { GAUGE_SHARDS, gaugeHubOf, gaugeHubs } from '../../durable-objects/stubs.ts';
import { MetricsSchema, PATHS, type SessionResponse } from '../../protocol/index.ts';
import { call } from './group-support.ts';

const OPERATOR = { token: 'dev-only-metrics-token' } as SessionResponse;

/** `n` made-up user ids that all hash to one hub, and one that hashes to another. */
function idsOnOneHub(n: number): { same: string[]; other: string } {
  const byHub = new Map<string, string[]>();
  for (let i = 0; byHub.size < 2 || ![...byHub.values()].some((ids) => ids.length >= n); i++) {
    const id = `01JDQ3ZK8Y6W2V9T7R5P3G${String(i).padStart(4, '0')}`;
    const hub = gaugeHubOf(env, id).id.toString();
    byHub.set(hub, [...(byHub.get(hub) ?? []), id]);
  }
  const same = [...byHub.values()].find((ids) => ids.length >= n)!.slice(0, n);
  const other = [...byHub.values()].find((ids) => !ids.includes(same[0]!))![0]!;
  return { same, other };
}

describe('gauge hubs', () => {
  it('keep the newest report per user, the hot count until reported again, and forget a deleted account', async () => {
    const { same: [ann, bob] } = idsOnOneHub(2);
    const hub = gaugeHubOf(env, ann!);
    const before = await hub.totals();
    await hub.report(ann!, { connections: 2, depth: 5, hot: 40 }, 1_000);
    await hub.report(bob!, { connections: 0, depth: 3 }, 1_000);
    await hub.report(ann!, { connections: 1, depth: 7 }, 2_000); // hot left as it was
    await hub.report(ann!, { connections: 9, depth: 99, hot: 1 }, 1_500); // older than the stored one: nothing
    const after = await hub.totals();
    expect({
      devices: after.connectedDevices - before.connectedDevices,
      online: after.onlineUsers - before.onlineUsers,
      depth: after.depthTotal - before.depthTotal,
      mailboxes: after.mailboxes - before.mailboxes,
      hot: after.hotMessages - before.hotMessages,
      archiving: after.hotMailboxes - before.hotMailboxes,
    }).toEqual({ devices: 1, online: 1, depth: 10, mailboxes: 2, hot: 40, archiving: 1 });
    expect(after.depthMax).toBeGreaterThanOrEqual(7);
    await hub.forget(ann!);
    const forgotten = await hub.totals();
    expect(forgotten.mailboxes - before.mailboxes).toBe(1);
    expect(forgotten.connectedDevices - before.connectedDevices).toBe(0);
    expect(await runInDurableObject(hub as DurableObjectStub<GaugeHub>, (_i, state) => state.storage.sql.exec('SELECT user_id FROM gauges WHERE user_id = ?', ann!).toArray())).toEqual([]);
  });

  it('spread users over the shards, and the metrics add every shard up', async () => {
    expect(gaugeHubs(env)).toHaveLength(GAUGE_SHARDS);
    const { same: [carol], other: dave } = idsOnOneHub(1);
    expect(gaugeHubOf(env, carol!).id.toString()).not.toBe(gaugeHubOf(env, dave).id.toString());
    const metrics = async () => MetricsSchema.parse((await call('GET', PATHS.metrics, OPERATOR)).body);
    const before = await metrics();
    await gaugeHubOf(env, carol!).report(carol!, { connections: 3, depth: 1_000_001 }, Date.now());
    await gaugeHubOf(env, dave).report(dave, { connections: 2, depth: 4 }, Date.now());
    const after = await metrics();
    expect(after.connections.devices - before.connections.devices).toBe(5);
    expect(after.connections.onlineUsers - before.connections.onlineUsers).toBe(2);
    expect(after.mailboxes.reporting - before.mailboxes.reporting).toBe(2);
    expect(after.mailboxes.depthMax).toBe(1_000_001);
    expect(addTotals([])).toEqual({ connectedDevices: 0, onlineUsers: 0, depthTotal: 0, depthMax: 0, mailboxes: 0, hotMessages: 0, hotMailboxes: 0 });
  });
});
