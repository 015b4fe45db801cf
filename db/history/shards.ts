/**
 * Which history shard (D1 database) holds an owner's warm history, cold index and search docs.
 * Owners hash to one of HISTORY_BUCKETS buckets (stable forever: it never depends on how many
 * shards there are); `HISTORY_SHARDS` maps bucket ranges to D1 bindings, e.g.
 * "0-511:HISTORY_0,512-1023:HISTORY_1". Adding a shard is splitting a range (and copying that
 * range's owners), never rehashing everyone.
 */

import { fnv1a32 } from '../../lib/fnv.ts';

/** How many buckets owners hash into. Changing it would move every owner: never change it. */
export const HISTORY_BUCKETS = 1024;

/** The bucket of an owner: FNV-1a 32-bit over the id's UTF-8 bytes, mod HISTORY_BUCKETS. */
export function bucketOf(owner: string): number {
  return fnv1a32(owner) % HISTORY_BUCKETS;
}

export type HistoryShard = { name: string; db: D1Database };
export type HistoryShards = {
  /** The shard that holds `owner`'s history. */
  of(owner: string): HistoryShard;
  /** Every shard once (gauges, operator jobs). */
  all(): HistoryShard[];
};

/** One range of a spec: buckets first..last (inclusive) live in the binding `binding`. */
type ShardRange = { first: number; last: number; binding: string };

const RANGE = /^(\d{1,4})-(\d{1,4}):([A-Za-z_][A-Za-z0-9_]*)$/;

/**
 * Parse and check a HISTORY_SHARDS spec: every bucket 0..HISTORY_BUCKETS-1 in exactly one range.
 * Throws an Error naming the first problem (a misconfigured deployment must not guess).
 */
export function parseShardSpec(spec: string): ShardRange[] {
  const parts = spec
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  if (parts.length === 0) throw new Error('HISTORY_SHARDS is empty: expected ranges like "0-511:HISTORY_0,512-1023:HISTORY_1"');
  const ranges = parts.map((part) => {
    const match = RANGE.exec(part);
    if (!match) throw new Error(`HISTORY_SHARDS: "${part}" is not "first-last:BINDING"`);
    const range = { first: Number(match[1]), last: Number(match[2]), binding: match[3] ?? '' };
    if (range.first > range.last) throw new Error(`HISTORY_SHARDS: "${part}" ends before it starts`);
    if (range.last >= HISTORY_BUCKETS) throw new Error(`HISTORY_SHARDS: "${part}" goes past bucket ${HISTORY_BUCKETS - 1}`);
    return range;
  });
  ranges.sort((a, b) => a.first - b.first);
  let next = 0;
  for (const range of ranges) {
    if (range.first < next) throw new Error(`HISTORY_SHARDS: buckets ${range.first}-${Math.min(range.last, next - 1)} are in two ranges (overlap)`);
    if (range.first > next) throw new Error(`HISTORY_SHARDS: buckets ${next}-${range.first - 1} are in no range (gap)`);
    next = range.last + 1;
  }
  if (next < HISTORY_BUCKETS) throw new Error(`HISTORY_SHARDS: buckets ${next}-${HISTORY_BUCKETS - 1} are in no range (gap)`);
  return ranges;
}

/** Parsed specs (a deployment has one; parsing once per isolate is enough). */
const parsed = new Map<string, ShardRange[]>();
/** Resolved shards per env object and spec (bindings are looked up once per env). */
const resolved = new WeakMap<object, Map<string, HistoryShards>>();

/** The history shards of this deployment (env.HISTORY_SHARDS over env's D1 bindings). */
export function historyShards(env: Env): HistoryShards {
  const spec = env.HISTORY_SHARDS;
  if (typeof spec !== 'string') throw new Error('HISTORY_SHARDS is not set');
  let perEnv = resolved.get(env);
  const cached = perEnv?.get(spec);
  if (cached) return cached;
  let ranges = parsed.get(spec);
  if (!ranges) {
    ranges = parseShardSpec(spec);
    parsed.set(spec, ranges);
  }
  const shards = resolveShards(env as unknown as Record<string, unknown>, ranges);
  if (!perEnv) {
    perEnv = new Map();
    resolved.set(env, perEnv);
  }
  perEnv.set(spec, shards);
  return shards;
}

/** Bind each range to its D1 database: a table from bucket to shard. */
function resolveShards(bindings: Record<string, unknown>, ranges: ShardRange[]): HistoryShards {
  const byName = new Map<string, HistoryShard>();
  const byBucket: HistoryShard[] = [];
  for (const range of ranges) {
    let shard = byName.get(range.binding);
    if (!shard) {
      const db = bindings[range.binding];
      if (!isD1(db)) throw new Error(`HISTORY_SHARDS: binding ${range.binding} is not a D1 database on this Worker`);
      shard = { name: range.binding, db };
      byName.set(range.binding, shard);
    }
    for (let bucket = range.first; bucket <= range.last; bucket++) byBucket[bucket] = shard;
  }
  const all = [...byName.values()];
  return {
    of(owner) {
      const shard = byBucket[bucketOf(owner)];
      // parseShardSpec guarantees full coverage.
      if (!shard) throw new Error(`no history shard for bucket ${bucketOf(owner)}`);
      return shard;
    },
    all: () => [...all],
  };
}

function isD1(value: unknown): value is D1Database {
  return typeof value === 'object' && value !== null && typeof (value as { prepare?: unknown }).prepare === 'function';
}
