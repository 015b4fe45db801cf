/**
 * The group scenario: one server run per fan-out path, the path forced by overriding
 * GROUP_DIRECT_FANOUT_MAX and GROUP_DIRECT_HOT_MAX: `direct` ("100000": every audience called
 * directly), `queued` ("0" and "0": every audience through the `group-fanout` queue), `hybrid`
 * (the shipped wrangler.toml values: small audiences direct; in large ones recently active
 * members direct, the rest queued). Per run: sign up the large group's members, create the large group
 * (creator + members, built in requests of 256) and the small group (its first members), connect
 * the first `connected` users, wait until every connected member has the setup events, then per
 * group: a short warm-up, the latency phase, the throughput phase, each drained and followed by
 * a wait for the server to go idle (fan-out to members without a connected device).
 */
import { freshTokens, signUpUsers } from './accounts.ts';
import { connectAll, emptyTotals, type BenchClient, type ClientTotals } from './clients.ts';
import type { BenchConfig, FanoutPath } from './config.ts';
import { COST_COUNTERS_BINDINGS, readCosts } from './cost-snapshots.ts';
import { caseCosts, phaseCosts, withCosts, type GroupCaseCosts } from './group-costs.ts';
import { GroupLedger, GroupPhase, type GroupIntegrity, type GroupPhaseResult } from './group-ledger.ts';
import { drainGroup, runGroupLatency, runGroupThroughput, waitIdle, type GroupLoadContext } from './group-load.ts';
import { createGroup, GroupSetupError, type CreatedGroup } from './group-setup.ts';
import { sampleProcesses } from './procfs.ts';
import type { RunningServer, ServerLogs } from './server.ts';
import { TARGETS, withCpu, withServer, type CpuUse } from './target.ts';
import { note, sleep } from './util.ts';

/**
 * Fan-out settings per path (see above). The copying paths turn read diffusion off (it is on above
 * 100 members as shipped), `hybrid` otherwise runs wrangler.toml as shipped; `log` is wrangler.toml
 * as shipped for groups above 100 members.
 */
export const PATH_BINDINGS: Record<FanoutPath, Record<string, string>> = {
  direct: { GROUP_DIRECT_FANOUT_MAX: '100000', GROUP_LOG_DELIVERY_MIN: '0' },
  queued: { GROUP_DIRECT_FANOUT_MAX: '0', GROUP_DIRECT_HOT_MAX: '0', GROUP_LOG_DELIVERY_MIN: '0' },
  hybrid: { GROUP_LOG_DELIVERY_MIN: '0' },
  // Read diffusion (large groups): the large group switches at creation; the small one does not.
  log: { GROUP_LOG_DELIVERY_MIN: '100' },
};

/**
 * One sender saturating a 1,024-member group causes ~20,000 member deliveries a second, a
 * hundred times what the default `group_deliveries_user` budget lets one user cause (the
 * anti-amplification limit, protocol/rate-limits.ts). This scenario measures the fan-out
 * machinery, not that limit, so it raises that budget for its servers, and the creator's budget
 * of members added.
 */
export const GROUP_BENCH_RATE_LIMITS = JSON.stringify({
  group_deliveries_user: { burst: 100_000_000, refill: 100_000_000 },
  // The creator builds a 1,024-member and a 20-member group: more adds than one user's hourly budget.
  group_add_user: { burst: 1_000_000, refill: 1_000_000 },
});

function describeBindings(bindings: Record<string, string>): string {
  const pairs = Object.entries(bindings).map(([k, v]) => `${k}=${v}`);
  return pairs.length > 0 ? pairs.join(', ') : 'wrangler.toml as shipped';
}

/** Whether a group of `members` stores its messages once in its log (read diffusion) on `path`'s server. */
export function readsFromLog(path: FanoutPath, members: number): boolean {
  const min = Number(PATH_BINDINGS[path]['GROUP_LOG_DELIVERY_MIN'] ?? 0);
  return min > 0 && members > min;
}

/** Unmeasured warm-up per group: a few messages at this rate, one in flight. */
export const WARMUP_MS = 1_500;
export const WARMUP_RATE = 4;
/** Longest wait for the server to go idle after a phase. */
export const IDLE_TIMEOUT_MS = 20_000;
/**
 * workerd evicts Durable Objects idle for about 10 s. After the setup (the group's creation
 * touched every member's mailbox) or the large group's case that is ~1,000 mailboxes at once,
 * which here (one isolate, one thread) stalls everything for 0.5-1 s; the bench waits it out
 * before each case instead of measuring it. (Seen in the 1,024-member log case: one message of
 * the latency phase took 560-930 ms, its `group_sent` too, 5-8 s into the phase, with ~1,600
 * fsyncs on as many files in 2 s under strace; with the wait, p99 98 ms.) A deployment spreads
 * those objects over many machines.
 */
export const EVICTION_WAIT_MS = 11_000;

export type GroupCaseResult = {
  path: FanoutPath;
  groupId: string;
  members: number;
  /** Connected members (one device each), the sender included. */
  connected: number;
  latency: GroupPhaseResult & { cpu: CpuUse };
  /** `memberDeliveriesPerSec`: messages/s x (members - 1), every other member's mailbox. */
  throughput: GroupPhaseResult & { cpu: CpuUse; memberDeliveriesPerSec: number; inFlight: number; senders: number };
  /** Time the server needed to go idle after each phase (fan-out to offline mailboxes, tallies). */
  idleAfterMs: { latency: number; throughput: number };
  integrity: GroupIntegrity;
  /**
   * The group object's own counters over the case (its `stats()` RPC): member deliveries made
   * by direct calls, handed to the queue, direct calls that failed (then queued), fan-out
   * rounds, and log entries not yet handed on at the end. Null if the call failed.
   */
  fanout: { direct: number; queued: number; directFailures: number; rounds: number; busyMs: number; backlogAtEnd: number } | null;
  /**
   * With --group-costs only (absent otherwise): per phase, storage commits, statements, RPCs and
   * frames per group message from the local cost counters, and the commit target (bench/group-costs.ts).
   */
  costs?: GroupCaseCosts;
};

type GroupStats = { backlog: number; fanout: { direct: number; queued: number; directFailures: number; rounds: number; busyMs?: number } };

export type GroupPathResult = {
  path: FanoutPath;
  /** The fan-out settings of this run. */
  directFanoutMax: string;
  startMs: number;
  bundleMs: number;
  signUpMs: number;
  /** Creating both groups through the HTTP API. */
  createMs: number;
  connectMs: number;
  /** From the last connection until every connected member had the setup events and the server was idle. */
  setupSettleMs: number;
  /** workerd RSS after the run (every member's mailbox object exists), KiB. */
  rssAfterKb: number;
  cases: GroupCaseResult[];
  clients: ClientTotals;
  ledger: { unattributed: number; unattributedErrors: Record<string, number> };
  serverLogs: ServerLogs;
};

export async function runGroupPath(path: FanoutPath, config: BenchConfig): Promise<GroupPathResult> {
  const label = `[groups ${path}]`;
  const directFanoutMax = describeBindings(PATH_BINDINGS[path]);
  note(`${label} bundling and starting wrangler.toml with ${directFanoutMax} ...`);
  return withServer(
    {
      ...TARGETS.messenger,
      name: `groups-${path}`,
      stateDir: config.stateDir,
      bindings: { ...PATH_BINDINGS[path], RATE_LIMITS: GROUP_BENCH_RATE_LIMITS, ...(config.groups.costs ? COST_COUNTERS_BINDINGS : {}) },
    },
    label,
    (server, clients) => measurePath(path, directFanoutMax, config, server, clients, label),
  );
}

async function measurePath(
  path: FanoutPath,
  directFanoutMax: string,
  config: BenchConfig,
  server: RunningServer,
  clients: BenchClient[],
  label: string,
): Promise<GroupPathResult> {
  const g = config.groups;
  // Fails early, with the reason, if the counters did not come on.
  if (g.costs) await readCosts(server);
  const t0 = performance.now();
  const users = await signUpUsers(server.url, g.members, config.setupConcurrency, label);
  const signUpMs = performance.now() - t0;

  const t1 = performance.now();
  note(`${label} creating a ${g.members}-member and a ${g.small}-member group ...`);
  const large = await createGroup(server.url, `bench ${g.members}`, users);
  const small = await createGroup(server.url, `bench ${g.small}`, users.slice(0, g.small));
  const createMs = performance.now() - t1;

  const ledger = new GroupLedger();
  const range = (n: number): Set<number> => new Set(Array.from({ length: n }, (_, i) => i));
  ledger.addGroup(large.groupId, range(g.connected));
  ledger.addGroup(small.groupId, range(g.small));
  const totals = emptyTotals();
  // Sign-up and group creation of 10,000 members take longer than an access token lives.
  await freshTokens(server.url, users.slice(0, g.connected), config.setupConcurrency);
  const t2 = performance.now();
  const opened = await connectAll(
    users.slice(0, g.connected),
    { flavor: 'messenger', wsBase: server.wsBase, sink: ledger, totals, ackEvery: config.ackEvery, ackDelayMs: config.ackDelayMs, timeoutMs: 15_000 },
    config.setupConcurrency,
    label,
    clients,
  );
  const connectMs = performance.now() - t2;

  const t3 = performance.now();
  await untilSetUp(ledger, [large, small], config.drainS * 1000, label);
  await waitIdle(server.pids, IDLE_TIMEOUT_MS);
  const setupSettleMs = performance.now() - t3;
  note(`${label} setup done: sign-up ${(signUpMs / 1000).toFixed(1)} s, groups ${(createMs / 1000).toFixed(1)} s, settle ${(setupSettleMs / 1000).toFixed(1)} s`);

  const cases: GroupCaseResult[] = [];
  for (const [group, connected] of [
    [large, g.connected],
    [small, g.small],
  ] as const) {
    note(`${label} waiting ${EVICTION_WAIT_MS / 1000} s for workerd to evict the objects the ${cases.length > 0 ? 'last case' : 'setup'} left idle`);
    await sleep(EVICTION_WAIT_MS);
    await waitIdle(server.pids, IDLE_TIMEOUT_MS);
    const ctx: GroupLoadContext = { label: `${label} ${group.members}m`, group: group.groupId, clients: opened, ledger };
    cases.push(await runCase(ctx, path, group, connected, config, server));
  }

  return {
    path,
    directFanoutMax,
    startMs: Math.round(server.startMs),
    bundleMs: Math.round(server.bundleMs),
    signUpMs: Math.round(signUpMs),
    createMs: Math.round(createMs),
    connectMs: Math.round(connectMs),
    setupSettleMs: Math.round(setupSettleMs),
    rssAfterKb: sampleProcesses(server.pids).rssKb,
    cases,
    clients: totals,
    ledger: { unattributed: ledger.unattributed, unattributedErrors: ledger.unattributedErrors },
    serverLogs: server.logs,
  };
}

async function runCase(
  ctx: GroupLoadContext,
  path: FanoutPath,
  group: CreatedGroup,
  connected: number,
  config: BenchConfig,
  server: RunningServer,
): Promise<GroupCaseResult> {
  const g = config.groups;
  const durationMs = g.durationS * 1000;
  const drainMs = config.drainS * 1000;
  // User 0 created the groups; user 1 is a plain member. Throughput senders: users 1..S.
  const latencySender = 1;
  const senders = Array.from({ length: Math.max(1, Math.min(g.senders, connected - 1)) }, (_, i) => i + 1);

  const statsBefore = await groupStats(server, group.groupId);
  const warmup = new GroupPhase('warm-up');
  await runGroupLatency(ctx, warmup, latencySender, WARMUP_RATE, WARMUP_MS);
  await drainGroup(ctx, warmup, drainMs);
  await waitIdle(server.pids, IDLE_TIMEOUT_MS);

  // With --group-costs the counters are read before each window and after its drain and idle wait.
  const latency = new GroupPhase(`latency ${g.rate} msg/s`);
  const latencySpan = await withCosts(server, g.costs, async () => {
    const cpu = await withCpu(server, () => runGroupLatency(ctx, latency, latencySender, g.rate, durationMs));
    await drainGroup(ctx, latency, drainMs);
    return { cpu, idleMs: await waitIdle(server.pids, IDLE_TIMEOUT_MS) };
  });
  const { cpu: latencyCpu, idleMs: idleAfterLatency } = latencySpan.value;
  const latencyResult = ctx.ledger.result(latency);
  summaryLine(ctx.label, latencyResult);

  const throughput = new GroupPhase(`throughput ${g.inFlight} in flight`);
  const throughputSpan = await withCosts(server, g.costs, async () => {
    const cpu = await withCpu(server, () => runGroupThroughput(ctx, throughput, senders, g.inFlight, durationMs));
    await drainGroup(ctx, throughput, drainMs);
    return { cpu, idleMs: await waitIdle(server.pids, IDLE_TIMEOUT_MS) };
  });
  const { cpu: throughputCpu, idleMs: idleAfterThroughput } = throughputSpan.value;
  const throughputResult = ctx.ledger.result(throughput);
  summaryLine(ctx.label, throughputResult);
  const statsAfter = await groupStats(server, group.groupId);
  const costs =
    latencySpan.costs && throughputSpan.costs
      ? caseCosts(readsFromLog(path, group.members), connected, phaseCosts(latencyResult, latencySpan.costs), phaseCosts(throughputResult, throughputSpan.costs))
      : null;
  if (costs) costLine(ctx.label, costs);

  return {
    path,
    groupId: group.groupId,
    members: group.members,
    connected,
    latency: { ...latencyResult, cpu: latencyCpu },
    throughput: {
      ...throughputResult,
      cpu: throughputCpu,
      memberDeliveriesPerSec: Math.round(throughputResult.messagesPerSec * (group.members - 1)),
      inFlight: g.inFlight,
      senders: senders.length,
    },
    idleAfterMs: { latency: Math.round(idleAfterLatency), throughput: Math.round(idleAfterThroughput) },
    integrity: ctx.ledger.integrityOf(group.groupId),
    fanout:
      statsBefore && statsAfter
        ? {
            direct: statsAfter.fanout.direct - statsBefore.fanout.direct,
            queued: statsAfter.fanout.queued - statsBefore.fanout.queued,
            directFailures: statsAfter.fanout.directFailures - statsBefore.fanout.directFailures,
            rounds: statsAfter.fanout.rounds - statsBefore.fanout.rounds,
            busyMs: (statsAfter.fanout.busyMs ?? 0) - (statsBefore.fanout.busyMs ?? 0),
            backlogAtEnd: statsAfter.backlog,
          }
        : null,
    ...(costs ? { costs } : {}),
  };
}

/** The group object's counters (in memory there: they start over if the object was evicted). */
async function groupStats(server: RunningServer, groupId: string): Promise<GroupStats | null> {
  try {
    return (await server.callObject('GROUP', groupId, 'stats')) as GroupStats;
  } catch (error) {
    note(`group stats unavailable: ${error instanceof Error ? error.message : String(error)}`);
    return null;
  }
}

/** Wait (bounded) until every connected member of each group has received the group's log up to its head. */
async function untilSetUp(ledger: GroupLedger, groups: readonly CreatedGroup[], timeoutMs: number, label: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const behind = (): CreatedGroup[] => groups.filter((group) => ledger.lowestGseq(group.groupId) < group.head);
  while (behind().length > 0 && performance.now() < deadline) await sleep(20);
  const late = behind()[0];
  if (late) {
    throw new GroupSetupError(
      `${label} after ${timeoutMs} ms a connected member of the ${late.members}-member group has the log only up to gseq ` +
        `${ledger.lowestGseq(late.groupId)} of ${late.head}`,
    );
  }
}

function costLine(label: string, costs: GroupCaseCosts): void {
  const one = (name: string, p: GroupCaseCosts['latency']): string =>
    `${name} ${p.perMessage.commits} commits (≥${p.perMessage.commitsLow}), ${p.perMessage.statements} statements, ${p.perMessage.rpcs} RPCs per message`;
  note(`${label} costs: ${one('latency', costs.latency)}; ${one('throughput', costs.throughput)}`);
}

function summaryLine(label: string, r: GroupPhaseResult): void {
  const l = r.lastMember;
  note(
    `${label} ${r.name}: ${r.messagesPerSec} group msg/s, ` +
      (l ? `last member p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms, ` : '') +
      `incomplete ${r.incomplete}, drain ${r.drainMs} ms`,
  );
}
