/**
 * `npm run bench -- --scenario cost`: what one message costs the server, counted rather than
 * timed. The messenger runs with the local cost counters on (LOCAL_COST_COUNTERS=on as a
 * Miniflare binding, never in a file; lib/cost-counters.ts), and for each phase the bench reads
 * `GET /v1/dev/cost` before and after (after the drain and once the server is idle, so delivered
 * receipts, tallies and cursor writes that follow a message are included) and divides by the
 * messages (1:1) or member deliveries (groups: messages x (members - 1), every member connected).
 *
 * Phases on the messenger: 1:1 over `users/2` pairs at `--cost-rate` msg/s and at saturation
 * (`--inflight`), one mailbox receiving from 100 senders (bench/cost-fanin.ts), then a group of `--group-small` members (separate users, all connected) at
 * `--cost-group-rate` msg/s (one in flight) and with `--group-inflight` in flight. Then the bare
 * relay (bench/relay) runs the same three 1:1 phases in the same run: its workerd CPU per message
 * is the yardstick, and the ratio is messenger / relay. CPU is the workerd processes' user +
 * system time (/proc) over the phase, its drain and the wait for idle, minus what the same
 * server burned idle over as long (measured before the phases). JSON to bench/results/cost.json.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { signUpUsers } from './accounts.ts';
import { connectAll, emptyTotals, type ClientTotals } from './clients.ts';
import type { BenchConfig } from './config.ts';
import { IDLE_TIMEOUT_MS, groupSenders, groupWarmUp, oneToOnePhases, warmUp } from './cost-phases.ts';
import { runRelayTargets, type RelayRow } from './cost-relay.ts';
import { costRow, idleCpuPerS, measureSpan, type CostRow } from './cost-rows.ts';
import { COST_COUNTERS_BINDINGS, readCosts } from './cost-snapshots.ts';
import { GroupLedger, GroupPhase } from './group-ledger.ts';
import { drainGroup, runGroupLatency, runGroupThroughput, waitIdle, type GroupLoadContext } from './group-load.ts';
import { createGroup } from './group-setup.ts';
import { GROUP_BENCH_RATE_LIMITS } from './groups.ts';
import { Ledger } from './ledger.ts';
import { makePicker, type LoadContext } from './load.ts';
import type { BenchReport } from './report.ts';
import { table, type Row } from './table.ts';
import { TARGETS, withServer } from './target.ts';
import { note, sleep } from './util.ts';

export type { CostRow } from './cost-rows.ts';
export type { RelayRow } from './cost-relay.ts';

export type CostScenarioResult = {
  generatedAt: string;
  command: string;
  code: BenchReport['code'];
  totalMs: number;
  config: { pairs: number; rate: number; inFlight: number; groupMembers: number; groupRate: number; groupInFlight: number; durationS: number };
  /** workerd CPU while idle (all sockets open), % of one core: messenger / relay. */
  idleCpuPct: { messenger: number; relay: number };
  rows: CostRow[];
  relay: RelayRow[];
  /** The same 1:1 phases on the relay that stores each message in both objects (bench/cost-relay.ts). */
  durableRelay: RelayRow[];
  /** Frames the bench clients counted (a cross-check of the server's frame counters). */
  clients: { messenger: ClientTotals; relay: ClientTotals; durableRelay: ClientTotals };
  method: string[];
};

const METHOD = [
  'commits: JavaScript turns of an object that wrote (statements that are not read-only, alarm or key-value writes); never fewer than the real commits. commitsLow: timer windows that wrote; never more. lib/cost-counters.ts explains both.',
  'statements: ctx.storage.sql.exec calls, reads included. rpcs: calls received by the objects\' public methods (from objects and from the Worker). frames in: webSocketMessage calls (heartbeats are answered by the runtime and never counted); frames out: WebSocket.send calls.',
  'Counts are read from GET /v1/dev/cost before each phase and after its drain and the wait for idle, and divided by messages received (1:1) or messages x (members - 1) (groups).',
  'CPU: workerd user + system time from /proc over the same span, minus the idle rate measured before the phases; the relay runs the same 1:1 phases in the same run.',
  'durable relay: the bare relay plus one row stored (and committed) in the recipient\'s object before the socket write and one in the sender\'s after (a group message: once in the group\'s object, then in each member\'s); the floor of keeping the copies, nothing else (bench/cost-relay.ts). Relay group rows: the messenger\'s busy group phase, per member delivery.',
  'storage bytes: /proc/<pid>/io write_bytes of workerd (page-cache pages dirtied; a page rewritten while dirty counts once): a lower bound.',
];

export async function runCostScenario(config: BenchConfig, command: string, code: BenchReport['code']): Promise<CostScenarioResult> {
  const started = performance.now();
  const pairs = Math.floor(config.users / 2);
  const members = config.groups.small;
  const rate = config.costRate;
  const groupRate = config.costGroupRate;
  note(
    `bench cost: ${pairs} pairs at ${rate} msg/s and ${config.inFlight} in flight, a ${members}-member group at ${groupRate} msg/s ` +
      `and ${config.groups.inFlight} in flight, ${config.durationS} s per phase; then the relay`,
  );

  const messengerTotals = emptyTotals();
  const label = '[cost messenger]';
  const messenger = await withServer(
    { ...TARGETS.messenger, name: 'cost', stateDir: config.stateDir, bindings: { ...COST_COUNTERS_BINDINGS, RATE_LIMITS: GROUP_BENCH_RATE_LIMITS } },
    label,
    async (server, clients) => {
      await readCosts(server); // fails early, with the reason, if the switch did not take
      const users = await signUpUsers(server.url, pairs * 2, config.setupConcurrency, label);
      const groupUsers = await signUpUsers(server.url, members, config.setupConcurrency, `${label} group`);
      const group = await createGroup(server.url, `cost ${members}`, groupUsers);
      const ledger = new Ledger('messenger', users.length);
      const groupLedger = new GroupLedger();
      groupLedger.addGroup(group.groupId, new Set(groupUsers.map((_, i) => i)));
      const options = { flavor: 'messenger' as const, wsBase: server.wsBase, totals: messengerTotals, ackEvery: config.ackEvery, ackDelayMs: config.ackDelayMs, timeoutMs: 15_000 };
      const opened = await connectAll(users, { ...options, sink: ledger }, config.setupConcurrency, label, clients);
      const groupClients = await connectAll(groupUsers, { ...options, sink: groupLedger }, config.setupConcurrency, `${label} group`, clients);
      const setupDeadline = performance.now() + config.drainS * 1000;
      while (groupLedger.lowestGseq(group.groupId) < group.head && performance.now() < setupDeadline) await sleep(20);

      const ctx: LoadContext = { label, clients: opened, ledger, pick: makePicker(config.pattern, opened.length, config.seed) };
      await warmUp(ctx, ledger, config, server);
      const idlePerS = await idleCpuPerS(server);
      note(`${label} idle workerd CPU ${(idlePerS * 100).toFixed(1)}% of a core (subtracted from every phase)`);

      const rows: CostRow[] = [];
      for (const { phase, span } of await oneToOnePhases('messenger', config, server, opened, ledger, messengerTotals, rate, label)) {
        const r = phase.result();
        rows.push(costRow(r.name, 'message', r.received, r.deliveredPerSec, span, idlePerS));
      }

      // The group: a warm-up, then one message in flight at `groupRate`, then K in flight.
      const gctx: GroupLoadContext = { label: `${label} ${members}m`, group: group.groupId, clients: groupClients, ledger: groupLedger };
      const drainMs = config.drainS * 1000;
      const durationMs = config.durationS * 1000;
      await groupWarmUp(gctx, new GroupPhase('warm-up'), config, server);
      const senders = groupSenders(config, members);
      const groupPhases: Array<[GroupPhase, () => Promise<void>]> = [];
      const fixed = new GroupPhase(`group of ${members}, ${groupRate} msg/s`);
      groupPhases.push([fixed, () => runGroupLatency(gctx, fixed, 1, groupRate, durationMs)]);
      const busy = new GroupPhase(`group of ${members}, ${config.groups.inFlight} in flight`);
      groupPhases.push([busy, () => runGroupThroughput(gctx, busy, senders, config.groups.inFlight, durationMs)]);
      for (const [phase, run] of groupPhases) {
        const span = await measureSpan(server, true, messengerTotals, async () => {
          await run();
          await drainGroup(gctx, phase, drainMs);
          await waitIdle(server.pids, IDLE_TIMEOUT_MS);
        });
        const r = groupLedger.result(phase);
        note(`${gctx.label} ${r.name}: ${r.completed} of ${r.sent} reached everyone (${r.messagesPerSec} msg/s), last member p50 ${r.lastMember?.p50 ?? '-'} ms`);
        rows.push(costRow(r.name, 'member delivery', r.completed * (members - 1), r.messagesPerSec, span, idlePerS));
      }
      return { rows, idlePerS };
    },
  );

  const relay = await runRelayTargets(config, rate);

  // Ratios: each phase against the bare relay's phase of the same name (the group at 10 msg/s has none).
  for (const row of messenger.rows) {
    const yardstick = relay.bare.find((r) => r.phase === row.phase);
    if (!yardstick || yardstick.cpuUs <= 0) continue;
    row.relayCpuUs = yardstick.cpuUs;
    row.ratio = Math.round((row.cpuUs / yardstick.cpuUs) * 10) / 10;
  }

  return {
    generatedAt: new Date().toISOString(),
    command,
    code,
    totalMs: Math.round(performance.now() - started),
    config: { pairs, rate, inFlight: config.inFlight, groupMembers: members, groupRate, groupInFlight: config.groups.inFlight, durationS: config.durationS },
    idleCpuPct: { messenger: Math.round(messenger.idlePerS * 1000) / 10, relay: Math.round(relay.idlePerS * 1000) / 10 },
    rows: messenger.rows,
    relay: relay.bare,
    durableRelay: relay.durable,
    clients: { messenger: messengerTotals, relay: relay.totals.bare, durableRelay: relay.totals.durable },
    method: METHOD,
  };
}

const fmt = (n: number): string => (Number.isInteger(n) ? String(n) : n.toFixed(2));

export function renderCost(result: CostScenarioResult): string {
  const rows: Row[] = result.rows.map((r) => [
    `${r.phase} (per ${r.unit}; ${r.units})`,
    `${fmt(r.commits)} (≥${fmt(r.commitsLow)})`,
    fmt(r.statements),
    fmt(r.rpcs),
    fmt(r.framesIn),
    fmt(r.framesOut),
    String(r.storageBytes),
    String(r.cpuUs),
    r.relayCpuUs === null ? '-' : String(r.relayCpuUs),
    r.ratio === null ? '-' : `${r.ratio}x`,
  ]);
  for (const r of result.relay) {
    // One call per 1:1 message by construction; a group message is one call to the group and one per member.
    const group = r.phase.startsWith('group');
    rows.push([`relay: ${r.phase} (per ${group ? 'member delivery' : 'message'}; ${r.messages})`, '0', '0', group ? '-' : '1', fmt(r.framesIn), fmt(r.framesOut), '-', String(r.cpuUs), String(r.cpuUs), '1x']);
  }
  const kinds: Row[] = result.rows.map((r) => [
    r.phase,
    fmt(r.byKind.mailbox.commits),
    fmt(r.byKind.group.commits),
    fmt(r.byKind.mailbox.statements),
    fmt(r.byKind.group.statements),
    fmt(r.byKind.mailbox.rpcs),
    fmt(r.byKind.group.rpcs),
    fmt(r.writeStatements),
  ]);
  const floors: Row[] = result.durableRelay.map((d) => {
    const bare = result.relay.find((r) => r.phase === d.phase);
    const mine = result.rows.find((r) => r.phase === d.phase);
    const ratio = (a: number | undefined, b: number | undefined): string => (a && b ? `${(a / b).toFixed(2)}x` : '-');
    return [d.phase, String(d.cpuUs), ratio(d.cpuUs, bare?.cpuUs), ratio(mine?.cpuUs, d.cpuUs), String(d.perSec), ratio(d.perSec, bare?.perSec), ratio(mine?.perSec, d.perSec)];
  });
  const hot: Row[] = result.rows.flatMap((r) =>
    r.object ? [[r.phase, `${fmt(r.object.commits)} (≥${fmt(r.object.commitsLow)})`, fmt(r.object.statements), fmt(r.object.rpcs), fmt(r.object.framesIn), String(r.perSec)]] : [],
  );
  return [
    '',
    `Cost per 1:1 message and per group member delivery (${result.config.pairs} pairs; group of ${result.config.groupMembers}, all connected; ${result.config.durationS} s per phase)`,
    table(['phase', 'commits (≥ low)', 'statements', 'RPCs', 'frames in', 'frames out', 'disk B', 'workerd CPU µs', 'relay CPU µs', 'ratio'], rows),
    '',
    'By object kind (per unit): commits, statements and RPCs at the mailboxes and at the group object; write statements overall',
    table(['phase', 'mbx commits', 'group commits', 'mbx stmts', 'group stmts', 'mbx RPCs', 'group RPCs', 'write stmts'], kinds),
    '',
    'The floor of storing the copies: the durable relay (the bare relay + one row and commit in each object it passes through) in the same phases; group rows per member delivery',
    table(['phase', 'durable relay CPU µs', '÷ bare relay', 'messenger ÷ durable', 'durable relay msg/s', '÷ bare relay', 'messenger ÷ durable'], floors),
    '',
    ...(hot.length > 0
      ? ['At the receiving mailbox alone (per message it received)', table(['phase', 'commits (≥ low)', 'statements', 'RPCs', 'frames in', 'msg/s'], hot), '']
      : []),
    `idle workerd CPU subtracted: messenger ${result.idleCpuPct.messenger}% of a core, relay ${result.idleCpuPct.relay}%`,
    ...result.method.map((m) => `- ${m}`),
    '',
  ].join('\n');
}

export function writeCostJson(result: CostScenarioResult, file: string): string {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}
