/**
 * The bench's output: a plain-text summary table (stdout) and the same figures as JSON
 * (bench/results/latest.json by default), including how each figure was measured.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { BenchConfig } from './config.ts';
import type { PhaseResult } from './ledger.ts';
import { int, ms, round } from './stats.ts';
import { renderGroups, type GroupScenarioResult } from './group-report.ts';
import { renderPresence, type PresenceScenarioResult } from './presence.ts';
import { table, type Row } from './table.ts';
import type { CpuUse, TargetResult } from './target.ts';

/** "Other" CPU above this (% of a core) during a phase means something else ran alongside. */
const OTHER_LOAD_WARN_PCT = 20;

/** Issue targets the summary checks. */
export const GOALS = { fixedRateP99Ms: 5, saturationVsRelay: 0.5 } as const;

export const METHOD = {
  latency:
    'send -> receive: performance.now() when the sender wrote the `send` frame to its socket until the recipient client parsed the message, same Node process, loopback.',
  sentAck: 'send -> `sent` frame at the sender (the message is stored at both ends).',
  deliveredReceipt:
    'send -> `delivered` receipt at the sender (recipient acked, coalesced every ackEvery frames / ackDelayMs).',
  fixedRate: 'open loop: sends on a 1 ms schedule at the configured total rate over random pairs, regardless of replies.',
  saturation: 'closed loop: K messages in flight in total (sent, not yet received); each delivery sends the next. Throughput = messages received inside the window / window.',
  cpu: 'CPU time over each phase window as % of one core: workerd (from /proc/<pid>/stat), this Node process (the clients), and the rest of the machine (/proc/stat busy time minus both).',
  memory:
    'Sum of VmRSS (/proc/<pid>/status) of the workerd process(es) serving the target, sampled before any WebSocket opened (users exist only in D1) and 1 s after every device connected; the difference divided by the connections. For the messenger each connection also instantiates that user\'s UserMailbox Durable Object (its SQLite database, schema, in-memory state), so the figure is per connected user, not per bare socket. fds: open descriptors of the same processes.',
  integrity:
    'Per directed pair (A -> B) every message carries its position k; received k below the highest seen = out of order; seen twice = duplicated; not received by the end of the run (after every drain) = lost; received only after a drain gave up = late.',
  server: 'Miniflare (workerd) running the `wrangler deploy --dry-run` bundle of each config on 127.0.0.1',
  order:
    'Per target: sign-up, connect (memory sampled around it), warm-up (closed loop, 10 in flight), saturation, fixed rate, each followed by a bounded drain; a final drain catches stragglers (counted as late).',
} as const;

export type Comparison = {
  saturationRatio: number | null;
  fixedRateP99Ms: number | null;
  meetsFixedRateP99: boolean | null;
  meetsSaturationRatio: boolean | null;
};

export type BenchReport = {
  generatedAt: string;
  command: string;
  totalMs: number;
  config: BenchConfig;
  machine: { cpus: number; cpuModel: string; node: string; platform: string };
  /** Which code was measured: HEAD and the server-side files that differ from it. */
  code: { commit: string | null; uncommitted: string[] };
  /** The 1:1 scenario (null when only groups ran). */
  messenger: TargetResult | null;
  relay: TargetResult | null;
  comparison: Comparison | null;
  /** The group scenario (null when it did not run). */
  groups: GroupScenarioResult | null;
  /** The presence and push scenario (null when it did not run). */
  presence: PresenceScenarioResult | null;
  method: typeof METHOD;
};

export function compare(messenger: TargetResult, relay: TargetResult | null): Comparison {
  const p99 = messenger.phases.fixedRate.latency?.p99 ?? null;
  const ratio =
    relay && relay.phases.saturation.deliveredPerSec > 0
      ? round(messenger.phases.saturation.deliveredPerSec / relay.phases.saturation.deliveredPerSec, 3)
      : null;
  return {
    saturationRatio: ratio,
    fixedRateP99Ms: p99,
    meetsFixedRateP99: p99 === null ? null : p99 < GOALS.fixedRateP99Ms,
    meetsSaturationRatio: ratio === null ? null : ratio >= GOALS.saturationVsRelay,
  };
}

export function machineInfo(): BenchReport['machine'] {
  const list = cpus();
  return { cpus: list.length, cpuModel: list[0]?.model ?? 'unknown', node: process.version, platform: `${process.platform} ${process.arch}` };
}

/** Read-only git queries (rev-parse, status): which server code this run measured. */
export function codeInfo(root: string): BenchReport['code'] {
  const git = (args: string[]): string | null => {
    const result = spawnSync('git', args, { cwd: root, encoding: 'utf8', timeout: 5_000 });
    return result.status === 0 ? result.stdout.trim() : null;
  };
  const status = git(['status', '--porcelain', '--', 'worker', 'durable-objects', 'protocol', 'migrations', 'wrangler.toml', 'bench/relay']);
  return {
    commit: git(['rev-parse', '--short', 'HEAD']),
    uncommitted: status ? status.split('\n').map((line) => line.trim()) : [],
  };
}

export function writeJson(report: BenchReport, path: string): string {
  const file = resolve(path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

// ------------------------------------------------------------------ text

const cpuCell = (c: CpuUse): string => `${c.serverPct} / ${c.clientPct} / ${c.otherPct}`;

const pair = (a: number | null | undefined, b: number | null | undefined): string => `${ms(a)} / ${ms(b)}`;

function latencyRows(get: (t: TargetResult) => PhaseResult, targets: TargetResult[]): Row[] {
  return [
    ['  delivered msg/s', ...targets.map((t) => int(get(t).deliveredPerSec))],
    ['  send -> receive p50 / p99 (ms)', ...targets.map((t) => pair(get(t).latency?.p50, get(t).latency?.p99))],
    ['  send -> receive p999 / max (ms)', ...targets.map((t) => pair(get(t).latency?.p999, get(t).latency?.max))],
    ['  send -> sent p50 / p99 (ms)', ...targets.map((t) => (get(t).sentAck ? pair(get(t).sentAck?.p50, get(t).sentAck?.p99) : 'n/a'))],
    [
      '  send -> delivered receipt p50 / p99 (ms)',
      ...targets.map((t) => (get(t).deliveredReceipt ? pair(get(t).deliveredReceipt?.p50, get(t).deliveredReceipt?.p99) : 'n/a')),
    ],
    ['  messages sent / received', ...targets.map((t) => `${int(get(t).sent)} / ${int(get(t).received)}`)],
  ];
}

function sumIntegrity(t: TargetResult): Record<string, number> {
  const phases = [t.phases.warmup, t.phases.fixedRate, t.phases.saturation].filter((p): p is PhaseResult => p !== null);
  const sum = (f: (p: PhaseResult) => number): number => phases.reduce((a, p) => a + f(p), 0);
  return {
    lost: sum((p) => p.integrity.lost),
    duplicated: sum((p) => p.integrity.duplicated),
    outOfOrder: sum((p) => p.integrity.outOfOrder),
    misrouted: sum((p) => p.integrity.misrouted),
    failed: sum((p) => Object.values(p.integrity.failed).reduce((a, b) => a + b, 0)),
    deliveredAfterFailure: sum((p) => p.integrity.deliveredAfterFailure),
    missingSentAcks: sum((p) => p.integrity.missingSentAcks),
    missingReceipts: sum((p) => p.integrity.missingReceipts),
    duplicateFlags: sum((p) => p.integrity.duplicateFlags),
    repeatedAcks: sum((p) => p.integrity.repeatedAcks),
    lateAfterDrain: sum((p) => p.integrity.lateAfterDrain),
  };
}

export function renderText(report: BenchReport): string {
  const { messenger, comparison, groups, presence } = report;
  const parts: string[] = [];
  if (messenger && comparison) parts.push(renderOneToOne(report, messenger, comparison));
  else parts.push(['', ...runInfo(report)].join('\n'));
  if (groups) parts.push(renderGroups(groups));
  if (presence) parts.push(renderPresence(presence));
  return parts.join('');
}

/** Machine and code lines (also part of the 1:1 header). */
function runInfo(report: BenchReport): string[] {
  const { config, machine } = report;
  return [
    `${machine.cpus} x ${machine.cpuModel}, Node ${machine.node}, ${METHOD.server}, Durable Object storage in ${config.stateDir}`,
    `Code: commit ${report.code.commit ?? 'unknown'}${report.code.uncommitted.length ? ` plus uncommitted changes (${report.code.uncommitted.join(', ')})` : ''}`,
  ];
}

function renderOneToOne(report: BenchReport, messenger: TargetResult, comparison: Comparison): string {
  const { config, relay } = report;
  const targets = relay ? [messenger, relay] : [messenger];
  const headers = ['', 'messenger', ...(relay ? ['bare relay (ceiling)'] : [])];
  const fr = messenger.phases.fixedRate;
  const integrity = targets.map(sumIntegrity);
  const mib = (kb: number): string => (kb / 1024).toFixed(1);
  const rows: Row[] = [
    `Fixed rate, ${int(config.rate)} msg/s for ${config.durationS} s (open loop)`,
    ['  achieved send rate msg/s', ...targets.map((t) => int(t.phases.fixedRate.sentPerSec))],
    ...latencyRows((t) => t.phases.fixedRate, targets),
    ['  CPU % of a core: server / clients / other', ...targets.map((t) => cpuCell(t.cpu.fixedRate))],
    '',
    `Saturation, ${config.inFlight} in flight for ${config.durationS} s (closed loop)`,
    ...latencyRows((t) => t.phases.saturation, targets),
    ['  CPU % of a core: server / clients / other', ...targets.map((t) => cpuCell(t.cpu.saturation))],
    '',
    `Server memory (workerd RSS), ${config.users} connections`,
    ['  before connecting (MiB)', ...targets.map((t) => mib(t.memory.rssBeforeKb))],
    ['  all connected, idle (MiB)', ...targets.map((t) => mib(t.memory.rssConnectedKb))],
    ['  per connection (KiB)', ...targets.map((t) => int(t.memory.perConnectionKb))],
    ['  file descriptors per connection', ...targets.map((t) => String(t.memory.fdsPerConnection))],
    ['  after the load phases (MiB)', ...targets.map((t) => mib(t.memory.rssAfterLoadKb))],
    '',
    'Integrity, all phases (expected 0)',
    ['  lost / duplicated / out of order', ...integrity.map((i) => `${i.lost} / ${i.duplicated} / ${i.outOfOrder}`)],
    ['  misrouted / failed (error frames)', ...integrity.map((i) => `${i.misrouted} / ${i.failed}`)],
    ['  missing sent acks / missing receipts', ...targets.map((t, k) => (t.flavor === 'messenger' ? `${integrity[k]!.missingSentAcks} / ${integrity[k]!.missingReceipts}` : 'n/a'))],
    ['  repeated sent/receipts / dup flags', ...targets.map((t, k) => (t.flavor === 'messenger' ? `${integrity[k]!.repeatedAcks} / ${integrity[k]!.duplicateFlags}` : 'n/a'))],
    ['  late: arrived after a drain timed out', ...integrity.map((i) => String(i.lateAfterDrain))],
    ['  mailbox seq gaps / repeats', ...targets.map((t) => (t.flavor === 'messenger' ? `${t.clients.seqGaps} / ${t.clients.seqRepeats}` : 'n/a'))],
    ['  sockets closed by server', ...targets.map((t) => String(Object.values(t.clients.closedByServer).reduce((a, b) => a + b, 0)))],
    ['  server log errors / warnings', ...targets.map((t) => `${t.serverLogs.counts['error'] ?? 0} / ${t.serverLogs.counts['warn'] ?? 0}`)],
    '',
    'Setup',
    ['  server bundle + start (s)', ...targets.map((t) => `${(t.bundleMs / 1000).toFixed(1)} + ${((t.startMs - t.bundleMs) / 1000).toFixed(1)}`)],
    ['  sign-up via HTTP (s)', ...targets.map((t) => (t.flavor === 'messenger' ? (t.signUpMs / 1000).toFixed(1) : 'n/a'))],
    ['  connect all (s)', ...targets.map((t) => (t.connectMs / 1000).toFixed(1))],
  ];

  const verdict = (ok: boolean | null): string => (ok === null ? 'n/a' : ok ? 'MET' : 'NOT MET');
  const lines = [
    '',
    `Edge messenger benchmark: ${config.users} users (${config.pattern === 'pairs' ? `${Math.floor(config.users / 2)} fixed pairs` : 'random A -> B'}), ` +
      `acks every ${config.ackEvery} frames or ${config.ackDelayMs} ms, warm-up ${config.warmupS} s`,
    ...runInfo(report),
    '',
    table(headers, rows),
    '',
    `Fixed-rate p99: ${ms(comparison.fixedRateP99Ms)} ms (goal < ${GOALS.fixedRateP99Ms} ms): ${verdict(comparison.meetsFixedRateP99)}`,
    relay
      ? `Saturation: messenger ${int(messenger.phases.saturation.deliveredPerSec)} msg/s = ${comparison.saturationRatio} x relay ` +
        `${int(relay.phases.saturation.deliveredPerSec)} msg/s (goal >= ${GOALS.saturationVsRelay}): ${verdict(comparison.meetsSaturationRatio)}`
      : `Saturation: messenger ${int(messenger.phases.saturation.deliveredPerSec)} msg/s (relay skipped, no ratio)`,
    fr.deliveredPerSec < 0.95 * config.rate
      ? `The messenger did not sustain ${int(config.rate)} msg/s (delivered ${int(fr.deliveredPerSec)}/s inside the window): its fixed-rate latencies are mostly queueing.`
      : `Fixed-rate delivered ${int(fr.received)} of ${int(fr.sent)}.`,
    `Run order: ${METHOD.order}`,
    `Memory: ${METHOD.memory}`,
  ];
  const busy = targets.filter((t) => Math.max(t.cpu.fixedRate.otherPct, t.cpu.saturation.otherPct) > OTHER_LOAD_WARN_PCT);
  const interference = busy.map(
    (t) => `WARNING ${t.name}: other processes used up to ${Math.max(t.cpu.fixedRate.otherPct, t.cpu.saturation.otherPct)}% of a core during a phase; figures may be perturbed.`,
  );
  const problems = targets.flatMap((t, k) => {
    const i = integrity[k]!;
    const bad = Object.entries(i)
      .filter(([key, v]) => v !== 0 && key !== 'lateAfterDrain')
      .map(([key, v]) => `${key} ${v}`);
    if (i.lateAfterDrain) bad.push(`late after drain ${i.lateAfterDrain} (not lost, slow)`);
    if (t.clients.seqGaps) bad.push(`seq gaps ${t.clients.seqGaps}`);
    const closed = Object.entries(t.clients.closedByServer).map(([code, n]) => `closed ${code} x${n}`);
    const logs = t.serverLogs.samples.slice(0, 5);
    const unattributed = Object.entries(t.ledger.unattributedErrors).map(([code, n]) => `error ${code} x${n} (no message)`);
    if (t.ledger.orphanReceipts) bad.push(`receipts for unknown messages ${t.ledger.orphanReceipts}`);
    const all = [...bad, ...closed, ...unattributed];
    return all.length || logs.length ? [`WARNING ${t.name}: ${all.join(', ') || 'server logged errors'}`, ...logs.map((l) => `  server log: ${l}`)] : [];
  });
  return [...lines, ...interference, ...problems, ''].join('\n');
}
