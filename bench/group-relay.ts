/**
 * The group scenario's yardstick, measured in the same run: the same fan-out done by the bare
 * relay (bench/relay/worker.ts). Its group object holds the `connected` members in memory and,
 * for each message, calls every member's object (the sender's included), at most 256 calls in
 * flight, as the messenger's large group calls each connected member's mailbox; each member's
 * object writes the frame to its socket. No storage, no log, no receipts: what the runtime itself
 * costs for one group message to N connected members.
 *
 * Only the connected members are in the relay's group: in the messenger's large group (read
 * diffusion, `--group-paths log`) a message is stored once and pushed live only to members with
 * a connected device, so those pushes are the part the relay can be compared with.
 *
 * It runs after the messenger's paths, on its own server (the messenger's has stopped by then):
 * the messenger's cases keep exactly the conditions of the runs before this yardstick existed,
 * so their figures stay comparable with earlier runs. Same sequence as a messenger case: connect,
 * wait for workerd to evict the idle objects, a short warm-up, the latency phase (`--group-rate`,
 * one in flight), the throughput phase (`--group-inflight` in flight, `--group-senders` taking
 * turns), each bounded by its window and the drain, then a wait for an idle server.
 */
import { relayUsers } from './accounts.ts';
import { connectAll, emptyTotals, type ClientTotals } from './clients.ts';
import type { BenchConfig } from './config.ts';
import { drainGroup, runGroupLatency, runGroupThroughput, waitIdle, type GroupLoadContext } from './group-load.ts';
import { RelayGroupLedger, RelayGroupPhase, type RelayGroupPhaseResult } from './group-relay-ledger.ts';
import { EVICTION_WAIT_MS, IDLE_TIMEOUT_MS, WARMUP_MS, WARMUP_RATE } from './groups.ts';
import { sampleProcesses } from './procfs.ts';
import type { RunningServer, ServerLogs } from './server.ts';
import { TARGETS, withCpu, withServer, type CpuUse } from './target.ts';
import { note, sleep } from './util.ts';

/** The relay group's name (any string: the relay's group objects are named by the bench). */
const GROUP_NAME = 'bench-large';

export type GroupRelayResult = {
  /** Members of the relay's group: the messenger's connected members (one device each), the sender included. */
  connected: number;
  startMs: number;
  bundleMs: number;
  connectMs: number;
  latency: RelayGroupPhaseResult & { cpu: CpuUse };
  throughput: RelayGroupPhaseResult & { cpu: CpuUse; inFlight: number; senders: number };
  /** Time the server needed to go idle after each phase. */
  idleAfterMs: { latency: number; throughput: number };
  /** workerd RSS at the end, KiB. */
  rssAfterKb: number;
  clients: ClientTotals;
  /** Frames the relay ledger could not attribute: expected 0. */
  unattributed: number;
  serverLogs: ServerLogs;
};

export async function runGroupRelay(config: BenchConfig): Promise<GroupRelayResult> {
  const label = '[groups relay]';
  note(`${label} bundling and starting ${TARGETS.relay.config} ...`);
  return withServer({ ...TARGETS.relay, name: 'groups-relay', stateDir: config.stateDir }, label, async (server, clients) => {
    const g = config.groups;
    const users = relayUsers(g.connected);
    const ledger = new RelayGroupLedger(new Set(users.map((u) => u.index)));
    const totals = emptyTotals();
    const t0 = performance.now();
    const opened = await connectAll(
      users,
      { flavor: 'relay', wsBase: server.wsBase, sink: ledger, totals, ackEvery: config.ackEvery, ackDelayMs: config.ackDelayMs, timeoutMs: 15_000 },
      config.setupConcurrency,
      label,
      clients,
    );
    const connectMs = performance.now() - t0;
    // As before a messenger case: the objects the connections opened are evicted first, not mid-phase.
    note(`${label} waiting ${EVICTION_WAIT_MS / 1000} s for workerd to evict the objects the connections left idle`);
    await sleep(EVICTION_WAIT_MS);
    await waitIdle(server.pids, IDLE_TIMEOUT_MS);

    const names = users.map((u) => u.userId);
    const ctx: GroupLoadContext<RelayGroupLedger> = { label: `${label} ${g.connected}c`, group: GROUP_NAME, clients: opened, ledger, flavor: 'relay' };
    const durationMs = g.durationS * 1000;
    const drainMs = config.drainS * 1000;
    // Like the messenger's case: user 1 sends in the latency phase, users 1..S take turns after.
    const latencySender = 1;
    const senders = Array.from({ length: Math.max(1, Math.min(g.senders, g.connected - 1)) }, (_, i) => i + 1);

    await setRelayGroup(server, GROUP_NAME, names);
    const warmup = new RelayGroupPhase('warm-up');
    await runGroupLatency(ctx, warmup, latencySender, WARMUP_RATE, WARMUP_MS);
    await drainGroup(ctx, warmup, drainMs);
    await waitIdle(server.pids, IDLE_TIMEOUT_MS);

    // The member list lives in the group object's memory only: set again before each phase, in
    // case workerd evicted the object in between (it is idle during drains and idle waits).
    await setRelayGroup(server, GROUP_NAME, names);
    const latency = new RelayGroupPhase(`latency ${g.rate} msg/s`);
    const latencyCpu = await withCpu(server, () => runGroupLatency(ctx, latency, latencySender, g.rate, durationMs));
    await drainGroup(ctx, latency, drainMs);
    const idleAfterLatency = await waitIdle(server.pids, IDLE_TIMEOUT_MS);
    const latencyResult = ledger.result(latency);
    summaryLine(ctx.label, latencyResult);

    await setRelayGroup(server, GROUP_NAME, names);
    const throughput = new RelayGroupPhase(`throughput ${g.inFlight} in flight`);
    const throughputCpu = await withCpu(server, () => runGroupThroughput(ctx, throughput, senders, g.inFlight, durationMs));
    await drainGroup(ctx, throughput, drainMs);
    const idleAfterThroughput = await waitIdle(server.pids, IDLE_TIMEOUT_MS);
    const throughputResult = ledger.result(throughput);
    summaryLine(ctx.label, throughputResult);

    return {
      connected: g.connected,
      startMs: Math.round(server.startMs),
      bundleMs: Math.round(server.bundleMs),
      connectMs: Math.round(connectMs),
      latency: { ...latencyResult, cpu: latencyCpu },
      throughput: { ...throughputResult, cpu: throughputCpu, inFlight: g.inFlight, senders: senders.length },
      idleAfterMs: { latency: Math.round(idleAfterLatency), throughput: Math.round(idleAfterThroughput) },
      rssAfterKb: sampleProcesses(server.pids).rssKb,
      clients: totals,
      unattributed: ledger.unattributed,
      serverLogs: server.logs,
    };
  });
}

/** POST /group: a relay group's members (bench/relay/worker.ts); also the cost scenario's relay groups. */
export async function setRelayGroup(server: RunningServer, group: string, names: readonly string[]): Promise<void> {
  const response = await fetch(new URL(`/group?name=${encodeURIComponent(group)}`, server.url), { method: 'POST', body: JSON.stringify(names) });
  if (response.status !== 204) throw new Error(`relay POST /group answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
}

function summaryLine(label: string, r: RelayGroupPhaseResult): void {
  const l = r.lastMember;
  note(
    `${label} ${r.name}: ${r.messagesPerSec} group msg/s, ` +
      (l ? `last member p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms, ` : '') +
      `incomplete ${r.incomplete}, duplicates ${r.duplicates}, drain ${r.drainMs} ms`,
  );
}
