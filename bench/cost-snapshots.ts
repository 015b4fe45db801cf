/**
 * Reading the server's local cost counters (lib/cost-counters.ts) from the bench: one snapshot
 * is `GET /v1/dev/cost` with the operator token, and what a span of work cost is the difference
 * of a snapshot before and one after it. Shared by the cost scenario (bench/cost.ts) and the
 * groups scenario's `--group-costs` (bench/group-costs.ts). The counters answer only on a server
 * started with COST_COUNTERS_BINDINGS (and LOCAL_DEVELOPMENT=true, which .dev.vars sets).
 */
import { CostSnapshotSchema, PATHS, type CostKind, type CostSnapshot, type CostTally } from '../protocol/index.ts';
import { exampleDevVars } from '../scripts/dev-vars.mjs';
import type { RunningServer } from './server.ts';

/** Miniflare bindings that turn the counters on (never written to a file). */
export const COST_COUNTERS_BINDINGS = { LOCAL_COST_COUNTERS: 'on' } as const;

export const COST_KINDS: readonly CostKind[] = ['mailbox', 'group'];

const OPERATOR_TOKEN = (): string => String(exampleDevVars().METRICS_TOKEN ?? '');

/** Every count since the server started; fails with the reason if the counters are off. */
export async function readCosts(server: RunningServer, object?: string): Promise<CostSnapshot> {
  const url = new URL(PATHS.devCost, server.url);
  // With `object` (a user or group id) the answer also carries that one object's tally.
  if (object !== undefined) url.searchParams.set('object', object);
  const response = await fetch(url, {
    headers: { authorization: `Bearer ${OPERATOR_TOKEN()}` },
    // A server still working off a backlog answers late; the bench waits rather than fail.
    signal: AbortSignal.timeout(60_000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`GET ${PATHS.devCost} -> ${response.status}: ${text.slice(0, 300)} (are the cost counters on?)`);
  return CostSnapshotSchema.parse(JSON.parse(text));
}

/** One kind's counts over a span; `objects`: objects of that kind first counted in it. */
export type KindDelta = CostTally & { objects: number };

/** What a span cost: per kind of object, and WebSocket frames the server sent. */
export type CostDelta = { kinds: Record<CostKind, KindDelta>; framesOut: number };

const TALLY_KEYS = ['commits', 'commitsLow', 'statements', 'writeStatements', 'storageWrites', 'rpcs', 'framesIn', 'alarms', 'objects'] as const;

/** `after` minus `before`. */
export function costDelta(before: CostSnapshot, after: CostSnapshot): CostDelta {
  const kind = (k: CostKind): KindDelta => {
    const out = {} as KindDelta;
    for (const key of TALLY_KEYS) out[key] = after.kinds[k][key] - before.kinds[k][key];
    return out;
  };
  return { kinds: { mailbox: kind('mailbox'), group: kind('group') }, framesOut: after.framesOut - before.framesOut };
}

/** The counts of every kind added up. */
export function totalOf(delta: CostDelta): KindDelta {
  const out = {} as KindDelta;
  for (const key of TALLY_KEYS) out[key] = COST_KINDS.reduce((sum, k) => sum + delta.kinds[k][key], 0);
  return out;
}
