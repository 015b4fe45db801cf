/**
 * Addressing: every user has exactly one `UserMailbox` Durable Object, named by the user id;
 * every group one `GroupChat`, named by the group id; the operators' gauges GAUGE_SHARDS
 * `GaugeHub`s, each user's by a hash of the user id. It lives with the objects (they address
 * each other), and the Worker imports it from here: the dependency runs one way.
 */
import { fnv1a32 } from '../lib/fnv.ts';
import type { GaugeHub } from './gauge-hub.ts';
import type { GroupChat } from './group-chat.ts';
import type { UserMailbox } from './user-mailbox.ts';

/**
 * The stub of a user's mailbox object.
 *
 * @example
 * await mailboxOf(env, userId).revokeDevice(deviceId);
 */
export function mailboxOf(env: { MAILBOX: DurableObjectNamespace<UserMailbox> }, userId: string): DurableObjectStub<UserMailbox> {
  return env.MAILBOX.get(env.MAILBOX.idFromName(userId));
}

/**
 * The stub of a group's object.
 *
 * @example
 * const result = await groupOf(env, groupId).view(userId);
 */
export function groupOf(env: { GROUP: DurableObjectNamespace<GroupChat> }, groupId: string): DurableObjectStub<GroupChat> {
  return env.GROUP.get(env.GROUP.idFromName(groupId));
}

/** How many gauge hubs the users' reports spread over. Changing it leaves old rows in their old shard: never change it. */
export const GAUGE_SHARDS = 16;

/**
 * The gauge hub a user's object reports to (by a stable hash of the user id).
 *
 * @example
 * ctx.waitUntil(gaugeHubOf(env, userId).report(userId, { connections, depth }, Date.now()));
 */
export function gaugeHubOf(env: { GAUGES: DurableObjectNamespace<GaugeHub> }, userId: string): DurableObjectStub<GaugeHub> {
  return gaugeHub(env, fnv1a32(userId) % GAUGE_SHARDS);
}

/** Every gauge hub, for the totals. */
export function gaugeHubs(env: { GAUGES: DurableObjectNamespace<GaugeHub> }): Array<DurableObjectStub<GaugeHub>> {
  return Array.from({ length: GAUGE_SHARDS }, (_, shard) => gaugeHub(env, shard));
}

function gaugeHub(env: { GAUGES: DurableObjectNamespace<GaugeHub> }, shard: number): DurableObjectStub<GaugeHub> {
  return env.GAUGES.get(env.GAUGES.idFromName(`gauges-${shard}`));
}
