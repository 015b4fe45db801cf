/**
 * One benchmark target (the messenger, or the bare relay) from start to stop: start the
 * server, create users, measure server memory around opening every connection, then the
 * warm-up, saturation and fixed-rate phases (each drained and checked), then close
 * everything. Returns plain data for the report.
 */
import { connectAll, emptyTotals, type BenchClient, type ClientTotals } from './clients.ts';
import { relayUsers, signUpUsers, type BenchUser } from './accounts.ts';
import type { BenchConfig } from './config.ts';
import { Ledger, type Flavor, type PhaseResult, type PhaseStats } from './ledger.ts';
import { drain, drainAll, makePicker, runClosedLoop, runFixedRate, type LoadContext } from './load.ts';
import { machineBusyS, sampleProcesses, type ProcessSample } from './procfs.ts';
import { startServer, type RunningServer, type ServerLogs, type ServerOptions } from './server.ts';
import { note, sleep } from './util.ts';

export type CpuUse = {
  /** workerd CPU over the phase window, % of one core. */
  serverPct: number;
  /** This Node process (the clients) over the window, % of one core. */
  clientPct: number;
  /** Everything else on the machine over the window, % of one core (should be near 0). */
  otherPct: number;
};

export type MemoryResult = {
  /** workerd VmRSS before any WebSocket was opened (users exist in D1 only), KiB. */
  rssBeforeKb: number;
  /** ... after every user's device connected and idled for a second, KiB. */
  rssConnectedKb: number;
  /** ... after the load phases (mailboxes now hold messages), KiB. */
  rssAfterLoadKb: number;
  /** (connected - before) / connections, KiB. */
  perConnectionKb: number;
  fdsBefore: number;
  fdsConnected: number;
  fdsPerConnection: number;
};

export type TargetResult = {
  name: string;
  flavor: Flavor;
  users: number;
  startMs: number;
  bundleMs: number;
  signUpMs: number;
  connectMs: number;
  memory: MemoryResult;
  phases: { warmup: PhaseResult | null; fixedRate: PhaseResult; saturation: PhaseResult };
  cpu: { fixedRate: CpuUse; saturation: CpuUse };
  clients: ClientTotals;
  ledger: { unattributed: number; unattributedErrors: Record<string, number>; readReceipts: number; orphanReceipts: number };
  serverLogs: ServerLogs;
};

export const TARGETS: Record<Flavor, ServerOptions> = {
  messenger: {
    name: 'messenger',
    config: 'wrangler.toml',
    d1Migrations: [
      { binding: 'DB', dir: 'migrations' },
      { binding: 'HISTORY_0', dir: 'migrations-history' },
      { binding: 'HISTORY_1', dir: 'migrations-history' },
    ],
  },
  relay: { name: 'relay', config: 'bench/relay/wrangler.toml' },
};

/** The warm-up is a light closed loop: it opens the object-to-object paths without a backlog. */
const WARMUP_IN_FLIGHT = 10;

export async function runTarget(flavor: Flavor, config: BenchConfig): Promise<TargetResult> {
  const label = `[${flavor}]`;
  note(`${label} bundling and starting ${TARGETS[flavor].config} ...`);
  return withServer({ ...TARGETS[flavor], stateDir: config.stateDir }, label, (server, clients) =>
    measureTarget(flavor, config, server, clients, label),
  );
}

/**
 * Start a server, run `measure` against it (it registers the clients it opens in `clients`),
 * and whatever happens close those clients and stop the server; on failure, show the first
 * lines of the server's log. A start failure propagates (ServerStartError).
 */
export async function withServer<T>(
  options: ServerOptions,
  label: string,
  measure: (server: RunningServer, clients: BenchClient[]) => Promise<T>,
): Promise<T> {
  const server = await startServer(options);
  note(`${label} listening on ${server.url.href} (bundle ${(server.bundleMs / 1000).toFixed(1)} s, ready ${(server.startMs / 1000).toFixed(1)} s, workerd pid ${server.pids.join(',') || '?'})`);
  const clients: BenchClient[] = [];
  try {
    return await measure(server, clients);
  } catch (error) {
    for (const line of server.logs.samples.slice(0, 5)) note(`${label} server log: ${line}`);
    throw error;
  } finally {
    note(`${label} closing ${clients.length} connections and stopping the server`);
    await Promise.all(clients.map((c) => c.close()));
    await server.stop();
  }
}

async function measureTarget(
  flavor: Flavor,
  config: BenchConfig,
  server: RunningServer,
  clients: BenchClient[],
  label: string,
): Promise<TargetResult> {
  const t0 = performance.now();
  const users: BenchUser[] =
    flavor === 'messenger'
      ? await signUpUsers(server.url, config.users, config.setupConcurrency, label)
      : relayUsers(config.users);
  const signUpMs = performance.now() - t0;

  const ledger = new Ledger(flavor, config.users);
  const totals = emptyTotals();
  const before = sampleProcesses(server.pids);

  const t1 = performance.now();
  const opened = await connectAll(
    users,
    { flavor, wsBase: server.wsBase, sink: ledger, totals, ackEvery: config.ackEvery, ackDelayMs: config.ackDelayMs, timeoutMs: 15_000 },
    config.setupConcurrency,
    label,
    clients,
  );
  const connectMs = performance.now() - t1;
  await sleep(1_000);
  const connectedSample = sampleProcesses(server.pids);

  const ctx: LoadContext = { label, clients: opened, ledger, pick: makePicker(config.pattern, config.users, config.seed) };
  const durationMs = config.durationS * 1000;
  const drainMs = config.drainS * 1000;

  // Order: a gentle warm-up, then saturation, then the fixed rate. The fixed rate may exceed what
  // the target sustains; running it last keeps its backlog out of the saturation figure.
  let warmup: PhaseStats | null = null;
  if (config.warmupS > 0) {
    warmup = ledger.phase('warm-up', 'w');
    await runClosedLoop(ctx, warmup, WARMUP_IN_FLIGHT, config.warmupS * 1000);
    await drain(ctx, warmup, drainMs);
  }

  const saturation = ledger.phase(`saturation ${config.inFlight} in flight`, 's');
  const saturationCpu = await withCpu(server, () => runClosedLoop(ctx, saturation, config.inFlight, durationMs));
  await drain(ctx, saturation, drainMs);
  progressLine(label, saturation);

  const fixed = ledger.phase(`fixed ${config.rate} msg/s`, 'f');
  const fixedCpu = await withCpu(server, () => runFixedRate(ctx, fixed, config.rate, durationMs));
  await drain(ctx, fixed, drainMs);
  progressLine(label, fixed);

  // Stragglers of phases whose drain timed out still count (as late), so wait once more.
  const phases = [warmup, saturation, fixed].filter((p): p is PhaseStats => p !== null);
  await drainAll(ctx, phases, drainMs);

  await sleep(500);
  const after = sampleProcesses(server.pids);

  return {
    name: server.name,
    flavor,
    users: config.users,
    startMs: Math.round(server.startMs),
    bundleMs: Math.round(server.bundleMs),
    signUpMs: Math.round(signUpMs),
    connectMs: Math.round(connectMs),
    memory: memoryResult(before, connectedSample, after, opened.length),
    phases: { warmup: warmup?.result() ?? null, fixedRate: fixed.result(), saturation: saturation.result() },
    cpu: { fixedRate: fixedCpu, saturation: saturationCpu },
    clients: totals,
    ledger: {
      unattributed: ledger.unattributed,
      unattributedErrors: ledger.unattributedErrors,
      readReceipts: ledger.readReceipts,
      orphanReceipts: ledger.orphanReceipts,
    },
    serverLogs: server.logs,
  };
}

/** One stderr line with the phase's headline figures. */
function progressLine(label: string, phase: PhaseStats): void {
  const result = phase.result();
  const l = result.latency;
  note(
    `${label} ${result.name}: ${result.deliveredPerSec} msg/s delivered, ` +
      (l ? `p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms, ` : '') +
      `not yet received ${result.integrity.lost}, drain ${result.drainMs} ms`,
  );
}

/** Run `fn` and report the CPU the server and this process used meanwhile. */
export async function withCpu(server: RunningServer, fn: () => Promise<void>): Promise<CpuUse> {
  const server0 = sampleProcesses(server.pids).cpuS;
  const client0 = process.cpuUsage();
  const machine0 = machineBusyS();
  const t0 = performance.now();
  await fn();
  const seconds = (performance.now() - t0) / 1000;
  const client = process.cpuUsage(client0);
  const serverS = sampleProcesses(server.pids).cpuS - server0;
  const clientS = (client.user + client.system) / 1e6;
  const otherS = Math.max(0, machineBusyS() - machine0 - serverS - clientS);
  return {
    serverPct: Math.round((serverS / seconds) * 100),
    clientPct: Math.round((clientS / seconds) * 100),
    otherPct: Math.round((otherS / seconds) * 100),
  };
}

function memoryResult(before: ProcessSample, connected: ProcessSample, after: ProcessSample, connections: number): MemoryResult {
  const n = Math.max(1, connections);
  return {
    rssBeforeKb: before.rssKb,
    rssConnectedKb: connected.rssKb,
    rssAfterLoadKb: after.rssKb,
    perConnectionKb: Math.round((connected.rssKb - before.rssKb) / n),
    fdsBefore: before.fds,
    fdsConnected: connected.fds,
    fdsPerConnection: Math.round(((connected.fds - before.fds) / n) * 100) / 100,
  };
}
