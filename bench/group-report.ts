/**
 * The group scenario's part of the output: one table over the four cases (large / small group x
 * direct / queued fan-out), the target check (a message in the large group reaches every
 * connected member within GROUP_GOALS.lastMemberP99Ms at p99, latency phase) and the figures the
 * direct-fan-out threshold is chosen from (the small group over both paths).
 */
import type { GroupConfig } from './config.ts';
import { GROUP_COST_METHOD, groupCostGoalLines, groupCostRows } from './group-costs.ts';
import type { GroupRelayResult } from './group-relay.ts';
import type { GroupCaseResult, GroupPathResult } from './groups.ts';
import type { CpuUse } from './target.ts';
import { int, ms, type LatencySummary } from './stats.ts';
import { table, type Row } from './table.ts';

export const GROUP_GOALS = { lastMemberP99Ms: 250 } as const;

/** "Other" CPU above this (% of a core) during a phase means something else ran alongside. */
const OTHER_LOAD_WARN_PCT = 20;

export const GROUP_METHOD = {
  latency:
    'Latency phase: one connected member sends group messages at the configured rate, never more than one in flight. Per message: performance.now() when the `group_send` frame was written until the LAST connected member other than the sender parsed its `group_message` frame (first member: the first one). Same Node process, loopback.',
  throughput:
    'Throughput phase: K messages in flight in total (sent, not yet received by every connected member), senders taking turns; a completed or failed message sends the next. Group msg/s = messages received by every connected member inside the window / window; member deliveries/s = that x (members - 1), i.e. mailboxes written, connected or not.',
  paths:
    'One server per fan-out path: direct (GROUP_DIRECT_FANOUT_MAX=100000: direct calls from the group object for every audience), queued (GROUP_DIRECT_FANOUT_MAX=0, GROUP_DIRECT_HOT_MAX=0: every audience through the group-fanout queue, jobs of GROUP_FANOUT_MEMBERS_PER_JOB), hybrid (mailbox copies as wrangler.toml ships them for groups up to 100 members, GROUP_LOG_DELIVERY_MIN=0: audiences up to 32 direct; in larger ones up to 256 recently active members direct, the rest queued); the three copying paths run with read diffusion off. The fan-out row counts member deliveries by path, as the group object reports them. Queue consumer as in wrangler.toml (Miniflare runs one batch at a time per queue).',
  integrity:
    'Per connected member and group, each entry (message or system event) must carry the previous gseq + 1: lower = repeated / out of order, higher = gap. Incomplete = not received by every connected member when the drain ended.',
  relay:
    'Yardstick (--group-relay on): after the messenger\'s paths, the bare relay (bench/relay/worker.ts) on its own server in the same run: a group object holding the connected members only (read diffusion pushes live only to them) in memory calls every member\'s object for each message (the sender\'s included), at most 256 calls in flight, and each writes the frame to its socket; no storage, no log, no receipts. Same sequence as a messenger case (connect, 11 s for evictions, warm-up, latency phase, throughput phase, same rates, senders, durations and drain). The relay makes one call per member per message; the messenger\'s group object makes one call per member per fan-out round, and a round carries every entry stored since the last one, so under load (throughput phase) it makes fewer calls than messages. Ratios are messenger / relay: above 1x the messenger is slower for latency; below 1x it carries fewer msg/s.',
  order:
    'Per path: sign-up, create groups (HTTP, 256 members per request), connect, wait for the setup events and an idle server; per group: warm-up (1.5 s, unmeasured), latency phase, throughput phase, each drained and followed by a wait until workerd is idle (fan-out to members without a connected device). Before the small group, 11 s more: workerd evicts objects idle for ~10 s, and evicting the ~1,000 mailboxes the large group left idle stalls this single-isolate runtime for about a second.',
} as const;

export type GroupScenarioResult = {
  config: GroupConfig;
  /** Wall time of the whole group scenario (every path, setup included). */
  totalMs: number;
  goals: typeof GROUP_GOALS;
  paths: GroupPathResult[];
  /** Per path: does the large group meet the p99 goal (latency phase)? */
  verdict: Array<{ path: string; members: number; lastMemberP99Ms: number | null; meetsGoal: boolean | null }>;
  /** The small group over both paths: what the direct-fan-out threshold is chosen from. */
  thresholdInput: Array<{ path: string; members: number; latencyP50Ms: number | null; latencyP99Ms: number | null; messagesPerSec: number }>;
  method: typeof GROUP_METHOD;
  /** With --group-costs only (absent otherwise): how the per-message costs in each case's `costs` were counted. */
  costMethod?: string[];
  /** The bare relay's fan-out to the same connected members in the same run; null with --group-relay off or if it failed (relayError). */
  relay: GroupRelayResult | null;
  relayError?: string;
  /** Per path, the large group's case over the relay's: messenger / relay (latency phase p50 / p99; throughput msg/s). */
  relayRatios: RelayRatio[];
};

export type RelayRatio = { path: string; members: number; lastMemberP50: number | null; lastMemberP99: number | null; messagesPerSec: number | null };

const ratio = (messenger: number | null | undefined, relay: number | null | undefined): number | null =>
  messenger === null || messenger === undefined || !relay ? null : Math.round((messenger / relay) * 100) / 100;

export function summarizeGroups(
  config: GroupConfig,
  paths: GroupPathResult[],
  totalMs: number,
  relay: GroupRelayResult | null = null,
  relayError?: string,
): GroupScenarioResult {
  const cases = paths.flatMap((p) => p.cases);
  const largest = Math.max(...cases.map((c) => c.members));
  const smallest = Math.min(...cases.map((c) => c.members));
  const relayRatios = relay
    ? cases
        .filter((c) => c.members === largest)
        .map((c) => ({
          path: c.path,
          members: c.members,
          lastMemberP50: ratio(c.latency.lastMember?.p50, relay.latency.lastMember?.p50),
          lastMemberP99: ratio(c.latency.lastMember?.p99, relay.latency.lastMember?.p99),
          messagesPerSec: ratio(c.throughput.messagesPerSec, relay.throughput.messagesPerSec),
        }))
    : [];
  return {
    config,
    totalMs: Math.round(totalMs),
    goals: GROUP_GOALS,
    paths,
    verdict: cases
      .filter((c) => c.members === largest)
      .map((c) => {
        const p99 = c.latency.lastMember?.p99 ?? null;
        const complete = c.latency.incomplete === 0 && Object.keys(c.latency.failed).length === 0;
        return { path: c.path, members: c.members, lastMemberP99Ms: p99, meetsGoal: p99 === null ? null : complete && p99 < GROUP_GOALS.lastMemberP99Ms };
      }),
    thresholdInput: cases
      .filter((c) => c.members === smallest)
      .map((c) => ({
        path: c.path,
        members: c.members,
        latencyP50Ms: c.latency.lastMember?.p50 ?? null,
        latencyP99Ms: c.latency.lastMember?.p99 ?? null,
        messagesPerSec: c.throughput.messagesPerSec,
      })),
    method: GROUP_METHOD,
    ...(config.costs ? { costMethod: GROUP_COST_METHOD } : {}),
    relay,
    ...(relayError ? { relayError } : {}),
    relayRatios,
  };
}

const quad = (l: LatencySummary | null): string => (l ? `${ms(l.p50)} / ${ms(l.p95)} / ${ms(l.p99)} / ${ms(l.max)}` : '-');
const duo = (l: LatencySummary | null): string => (l ? `${ms(l.p50)} / ${ms(l.p99)}` : '-');
const cpu = (c: CpuUse): string => `${c.serverPct} / ${c.clientPct} / ${c.otherPct}`;
const secs = (msValue: number): string => (msValue / 1000).toFixed(1);
const failures = (failed: Record<string, number>): number => Object.values(failed).reduce((a, b) => a + b, 0);

export function renderGroups(result: GroupScenarioResult): string {
  const { config, paths } = result;
  // Large group first, each over every path, then the small group.
  const cases = paths.flatMap((p) => p.cases).sort((a, b) => b.members - a.members);
  const headers = ['', ...cases.map((c) => `${int(c.members)} m, ${c.connected} conn., ${c.path}`)];
  const row = (name: string, cell: (c: GroupCaseResult) => string): Row => [name, ...cases.map(cell)];
  const rows: Row[] = [
    `Latency: one sender, ${config.rate} msg/s, one in flight, ${config.durationS} s`,
    row('  send -> last member p50/p95/p99/max (ms)', (c) => quad(c.latency.lastMember)),
    row('  send -> first member p50 / p99 (ms)', (c) => duo(c.latency.firstMember)),
    row('  send -> group_sent p50 / p99 (ms)', (c) => duo(c.latency.sentAck)),
    row('  messages sent / reached everyone', (c) => `${c.latency.sent} / ${c.latency.completed}`),
    row('  CPU % of a core: server / clients / other', (c) => cpu(c.latency.cpu)),
    '',
    `Throughput: ${config.inFlight} in flight, ${config.senders} senders taking turns, ${config.durationS} s`,
    row('  group msg/s (reached every connected member)', (c) => String(c.throughput.messagesPerSec)),
    row('  member deliveries/s (msg/s x (members-1))', (c) => int(c.throughput.memberDeliveriesPerSec)),
    row('  connected-member deliveries/s (observed)', (c) => int(c.throughput.connectedDeliveriesPerSec)),
    row('  send -> last member p50 / p99 (ms)', (c) => duo(c.throughput.lastMember)),
    row('  messages sent / reached everyone', (c) => `${c.throughput.sent} / ${c.throughput.completed}`),
    row('  CPU % of a core: server / clients / other', (c) => cpu(c.throughput.cpu)),
    row('  server busy after the window (s)', (c) => secs(c.idleAfterMs.throughput)),
    row('  fan-out: direct / queued member deliveries', (c) => (c.fanout ? `${int(c.fanout.direct)} / ${int(c.fanout.queued)}` : 'n/a')),
    row('  group object: fan-out rounds / busy in them (s), whole case', (c) => (c.fanout ? `${int(c.fanout.rounds)} / ${(c.fanout.busyMs / 1000).toFixed(1)}` : 'n/a')),
    '',
    'Integrity, both phases (expected 0)',
    row('  incomplete msgs / missing deliveries', (c) => `${c.latency.incomplete + c.throughput.incomplete} / ${c.latency.missingDeliveries + c.throughput.missingDeliveries}`),
    row('  gseq gaps / repeats / misrouted', (c) => `${c.integrity.gseqGaps} / ${c.integrity.gseqRepeats} / ${c.integrity.misrouted}`),
    row('  direct calls failed / fan-out backlog at end', (c) => (c.fanout ? `${c.fanout.directFailures} / ${c.fanout.backlogAtEnd}` : 'n/a')),
    row('  failed (error frames) / missing group_sent', (c) => `${failures(c.latency.failed) + failures(c.throughput.failed)} / ${c.latency.missingSentAcks + c.throughput.missingSentAcks}`),
    ...(config.costs ? groupCostRows(cases) : []),
  ];
  const setupHeaders = ['Setup per server run', ...paths.map((p) => `${p.path} (${p.directFanoutMax})`)];
  const setupRows: Row[] = [
    ['  sign-up / create groups / connect (s)', ...paths.map((p) => `${secs(p.signUpMs)} / ${secs(p.createMs)} / ${secs(p.connectMs)}`)],
    ['  setup events everywhere + idle (s)', ...paths.map((p) => secs(p.setupSettleMs))],
    ['  workerd RSS at the end (MiB)', ...paths.map((p) => (p.rssAfterKb / 1024).toFixed(0))],
    ['  server log errors / warnings', ...paths.map((p) => `${p.serverLogs.counts['error'] ?? 0} / ${p.serverLogs.counts['warn'] ?? 0}`)],
  ];
  const verdict = (ok: boolean | null): string => (ok === null ? 'n/a' : ok ? 'MET' : 'NOT MET');
  const lines = [
    '',
    `Group fan-out: a ${int(config.members)}-member group with ${config.connected} connected and a ${config.small}-member group, all connected; ` +
      `one device per connected member, acks like 1:1; ${(result.totalMs / 1000).toFixed(0)} s in all`,
    ...(config.costs ? ['--group-costs: the server ran with its cost counters on; latency, throughput and CPU figures are perturbed by them (notes at the end).'] : []),
    '',
    table(headers, rows),
    '',
    table(setupHeaders, setupRows),
    '',
    ...relayLines(result, cases),
    ...result.verdict.map(
      (v) =>
        `Goal: a ${int(v.members)}-member group message reaches every connected member in < ${GROUP_GOALS.lastMemberP99Ms} ms p99, ` +
        `${v.path}: p99 ${ms(v.lastMemberP99Ms)} ms: ${verdict(v.meetsGoal)}`,
    ),
    ...(config.costs ? groupCostGoalLines(cases) : []),
    `Threshold input (${result.thresholdInput[0]?.members ?? '-'} members, latency phase, last member p50 / p99; throughput): ` +
      result.thresholdInput.map((t) => `${t.path} ${ms(t.latencyP50Ms)} / ${ms(t.latencyP99Ms)} ms, ${t.messagesPerSec} msg/s`).join('; '),
    `Method: ${GROUP_METHOD.paths}`,
    ...(config.costs ? GROUP_COST_METHOD.map((m) => `- ${m}`) : []),
  ];
  const relayOther = result.relay ? [result.relay.latency.cpu.otherPct, result.relay.throughput.cpu.otherPct] : [];
  const busiest = Math.max(...cases.flatMap((c) => [c.latency.cpu.otherPct, c.throughput.cpu.otherPct]), ...relayOther);
  const interference =
    busiest > OTHER_LOAD_WARN_PCT ? [`WARNING groups: other processes used up to ${busiest}% of a core during a phase; figures may be perturbed.`] : [];
  const problems = paths.flatMap((p) => {
    const issues: string[] = [];
    if (p.ledger.unattributed) issues.push(`unattributed frames ${p.ledger.unattributed}`);
    for (const [code, n] of Object.entries(p.ledger.unattributedErrors)) issues.push(`error ${code} x${n} (no message)`);
    if (p.clients.seqGaps || p.clients.seqRepeats) issues.push(`mailbox seq gaps ${p.clients.seqGaps} / repeats ${p.clients.seqRepeats}`);
    if (p.clients.unexpected) issues.push(`unexpected frames ${p.clients.unexpected}`);
    for (const [code, n] of Object.entries(p.clients.closedByServer)) issues.push(`closed ${code} x${n}`);
    for (const c of p.cases) {
      for (const phase of [c.latency, c.throughput]) {
        for (const [code, n] of Object.entries(phase.failed)) issues.push(`${c.members} members ${phase.name}: failed ${code} x${n}`);
      }
    }
    const logs = p.serverLogs.samples.slice(0, 5);
    return issues.length || logs.length ? [`WARNING groups ${p.path}: ${issues.join(', ') || 'server logged errors'}`, ...logs.map((l) => `  server log: ${l}`)] : [];
  });
  return [...lines, ...interference, ...problems, ...relayProblems(result), ''].join('\n');
}

const times = (r: number | null): string => (r === null ? '-' : `${r}x`);

/** The bare relay's fan-out beside the messenger's large-group case(s), and the ratios. */
function relayLines(result: GroupScenarioResult, cases: readonly GroupCaseResult[]): string[] {
  const { config, relay } = result;
  if (!config.relay) return [];
  if (!relay) return [`Bare relay fan-out (yardstick): not measured: ${result.relayError ?? 'no result'}`, ''];
  const large = cases.filter((c) => c.members === Math.max(...cases.map((x) => x.members)));
  const ratios = new Map(result.relayRatios.map((r) => [r.path, r]));
  const headers = ['', ...large.map((c) => `messenger ${int(c.members)} m, ${c.connected} conn., ${c.path}`), `bare relay, ${relay.connected} members`, ...large.map((c) => `messenger / relay, ${c.path}`)];
  const row = (name: string, messenger: (c: GroupCaseResult) => string, bare: string, r: (x: RelayRatio | undefined) => string = () => ''): Row => [
    name,
    ...large.map(messenger),
    bare,
    ...large.map((c) => r(ratios.get(c.path))),
  ];
  const rl = relay.latency;
  const rt = relay.throughput;
  const rows: Row[] = [
    `Latency: one sender, ${config.rate} msg/s, one in flight, ${config.durationS} s`,
    row('  send -> last member p50/p95/p99/max (ms)', (c) => quad(c.latency.lastMember), quad(rl.lastMember), (x) => `p50 ${times(x?.lastMemberP50 ?? null)}, p99 ${times(x?.lastMemberP99 ?? null)}`),
    row('  send -> first member p50 / p99 (ms)', (c) => duo(c.latency.firstMember), duo(rl.firstMember)),
    row('  messages sent / reached everyone', (c) => `${c.latency.sent} / ${c.latency.completed}`, `${rl.sent} / ${rl.completed}`),
    row('  CPU % of a core: server / clients / other', (c) => cpu(c.latency.cpu), cpu(rl.cpu)),
    '',
    `Throughput: ${config.inFlight} in flight, ${rt.senders} senders taking turns, ${config.durationS} s`,
    row('  group msg/s (reached every connected member)', (c) => String(c.throughput.messagesPerSec), String(rt.messagesPerSec), (x) => times(x?.messagesPerSec ?? null)),
    row('  connected-member deliveries/s (observed)', (c) => int(c.throughput.connectedDeliveriesPerSec), int(rt.connectedDeliveriesPerSec)),
    row('  send -> last member p50 / p99 (ms)', (c) => duo(c.throughput.lastMember), duo(rt.lastMember)),
    row('  messages sent / reached everyone', (c) => `${c.throughput.sent} / ${c.throughput.completed}`, `${rt.sent} / ${rt.completed}`),
    row('  CPU % of a core: server / clients / other', (c) => cpu(c.throughput.cpu), cpu(rt.cpu)),
    '',
    'Integrity, both phases (expected 0)',
    row(
      '  incomplete msgs / missing deliveries',
      (c) => `${c.latency.incomplete + c.throughput.incomplete} / ${c.latency.missingDeliveries + c.throughput.missingDeliveries}`,
      `${rl.incomplete + rt.incomplete} / ${rl.missingDeliveries + rt.missingDeliveries}`,
    ),
    row('  relay: duplicates / misrouted / missing sender echoes', () => '', `${rl.duplicates + rt.duplicates} / ${rl.misrouted + rt.misrouted} / ${rl.missingEchoes + rt.missingEchoes}`),
  ];
  return [
    `Bare relay fan-out to the same ${relay.connected} connected (same run, after the messenger; bench/relay: member list in memory, <= 256 calls in flight, no storage)`,
    '',
    table(headers, rows),
    '',
    ...result.relayRatios.map(
      (r) =>
        `Against the bare relay, ${r.path}: last member p50 ${times(r.lastMemberP50)} and p99 ${times(r.lastMemberP99)} the relay's (latency phase); ` +
        `${times(r.messagesPerSec)} the relay's group msg/s (throughput phase)`,
    ),
    `Method: ${GROUP_METHOD.relay}`,
    '',
  ];
}

function relayProblems(result: GroupScenarioResult): string[] {
  const relay = result.relay;
  if (!relay) return [];
  const issues: string[] = [];
  if (relay.unattributed) issues.push(`unattributed frames ${relay.unattributed}`);
  if (relay.clients.unexpected) issues.push(`unexpected frames ${relay.clients.unexpected}`);
  for (const [code, n] of Object.entries(relay.clients.closedByServer)) issues.push(`closed ${code} x${n}`);
  const logs = relay.serverLogs.samples.slice(0, 5);
  return issues.length || logs.length ? [`WARNING groups relay: ${issues.join(', ') || 'server logged errors'}`, ...logs.map((l) => `  server log: ${l}`)] : [];
}
