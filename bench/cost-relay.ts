/**
 * The cost scenario's yardsticks, run on the relay's server (bench/relay) after the messenger:
 * - the bare relay (object → RPC → object → socket, nothing stored): the ceiling every ratio is
 *   taken against;
 * - the durable relay (the same, plus one row stored with its commit in the recipient's object
 *   before the socket write and one in the sender's after): the floor of keeping both copies
 *   durably, with none of the messenger's ids, order, acks, receipts, history or search. The
 *   messenger ÷ durable relay ratio is what the messenger's own logic costs above that floor.
 * Each runs the same 1:1 phases (bench/cost-phases.ts) with its own users, so its objects are new,
 * then the messenger's busiest group phase (`--group-small` members, all connected, `--group-inflight`
 * in flight from `--group-senders` senders): the relay's group object calls every member's object
 * (the durable relay's stores the message once, then each member's object stores a copy before
 * its socket write: the floor of fan-out by copies). Its CPU is per member delivery, messages x
 * (members - 1), as the messenger's.
 */
import { relayUsers } from './accounts.ts';
import { connectAll, emptyTotals, type BenchClient, type ClientTotals } from './clients.ts';
import type { BenchConfig } from './config.ts';
import { groupSenders, groupWarmUp, oneToOnePhases, warmUp } from './cost-phases.ts';
import { idleCpuPerS, per } from './cost-rows.ts';
import { drainGroup, runGroupThroughput, waitIdle, type GroupLoadContext } from './group-load.ts';
import { setRelayGroup } from './group-relay.ts';
import { RelayGroupLedger, RelayGroupPhase } from './group-relay-ledger.ts';
import { IDLE_TIMEOUT_MS } from './cost-phases.ts';
import { measureSpan, type Span } from './cost-rows.ts';
import { Ledger } from './ledger.ts';
import { makePicker, type LoadContext } from './load.ts';
import type { RunningServer } from './server.ts';
import { TARGETS, withServer } from './target.ts';
import { note } from './util.ts';

export type RelayRow = { phase: string; messages: number; perSec: number; framesIn: number; framesOut: number; cpuUs: number; cpuUsRaw: number };

export type RelayTargets = {
  /** Bare relay, then durable relay: the same phases in the same order. */
  bare: RelayRow[];
  durable: RelayRow[];
  /** workerd CPU while idle with the bare relay's sockets open, fraction of one core (each target subtracts its own). */
  idlePerS: number;
  totals: { bare: ClientTotals; durable: ClientTotals };
};

export async function runRelayTargets(config: BenchConfig, rate: number): Promise<RelayTargets> {
  const totals = { bare: emptyTotals(), durable: emptyTotals() };
  return withServer({ ...TARGETS.relay, stateDir: config.stateDir }, '[cost relay]', async (server, clients) => {
    const count = Math.floor(config.users / 2) * 2;
    // Every target and phase has its own users: the 1:1 pairs, then each target's group members.
    const groupFrom = 2 * count;
    const members = config.groups.small;
    const bare = await relayPhases(config, server, rate, clients, { label: '[cost relay]', users: count, offset: 0, groupOffset: groupFrom, store: false, totals: totals.bare });
    const durable = await relayPhases(config, server, rate, clients, {
      label: '[cost durable relay]',
      users: count,
      offset: count,
      groupOffset: groupFrom + members,
      store: true,
      totals: totals.durable,
    });
    return { bare: bare.rows, durable: durable.rows, idlePerS: bare.idlePerS, totals };
  });
}

async function relayPhases(
  config: BenchConfig,
  server: RunningServer,
  rate: number,
  registry: BenchClient[],
  target: { label: string; users: number; offset: number; groupOffset: number; store: boolean; totals: ClientTotals },
): Promise<{ rows: RelayRow[]; idlePerS: number }> {
  // Names after `offset`, so the durable relay's objects are not the bare relay's.
  const users = relayUsers(target.offset + target.users).slice(target.offset).map((u, index) => ({ ...u, index }));
  const ledger = new Ledger('relay', users.length);
  const opened = await connectAll(
    users,
    {
      flavor: 'relay',
      wsBase: server.wsBase,
      sink: ledger,
      totals: target.totals,
      ackEvery: config.ackEvery,
      ackDelayMs: config.ackDelayMs,
      timeoutMs: 15_000,
      relayStore: target.store,
    },
    config.setupConcurrency,
    target.label,
    registry,
  );
  const ctx: LoadContext = { label: target.label, clients: opened, ledger, pick: makePicker(config.pattern, opened.length, config.seed) };
  await warmUp(ctx, ledger, config, server);
  const idlePerS = await idleCpuPerS(server);
  const rows: RelayRow[] = [];
  for (const { phase, span } of await oneToOnePhases('relay', config, server, opened, ledger, target.totals, rate, target.label)) {
    const r = phase.result();
    rows.push(relayRow(r.name, r.received, r.deliveredPerSec, span, idlePerS));
  }
  await Promise.all(opened.map((c) => c.close()));
  rows.push(await groupPhase(config, server, registry, { ...target, offset: target.groupOffset, idlePerS }));
  return { rows, idlePerS };
}

/** The busy group phase on the relay: its own members (named after every 1:1 user), its own group object. */
async function groupPhase(
  config: BenchConfig,
  server: RunningServer,
  registry: BenchClient[],
  target: { label: string; offset: number; store: boolean; totals: ClientTotals; idlePerS: number },
): Promise<RelayRow> {
  const members = config.groups.small;
  const users = relayUsers(target.offset + members).slice(target.offset).map((u, index) => ({ ...u, index }));
  const ledger = new RelayGroupLedger(new Set(users.map((u) => u.index)));
  const opened = await connectAll(
    users,
    { flavor: 'relay', wsBase: server.wsBase, sink: ledger, totals: target.totals, ackEvery: config.ackEvery, ackDelayMs: config.ackDelayMs, timeoutMs: 15_000, relayStore: target.store },
    config.setupConcurrency,
    `${target.label} group`,
    registry,
  );
  const group = `cost-${target.store ? 'durable' : 'bare'}-${members}`;
  await setRelayGroup(server, group, users.map((u) => u.userId));
  const ctx: GroupLoadContext<RelayGroupLedger> = { label: `${target.label} ${members}m`, group, clients: opened, ledger, flavor: 'relay' };
  const drainMs = config.drainS * 1000;
  await groupWarmUp(ctx, new RelayGroupPhase('warm-up'), config, server);
  const senders = groupSenders(config, members);
  // The same name as the messenger's phase: the report pairs rows by it.
  const busy = new RelayGroupPhase(`group of ${members}, ${config.groups.inFlight} in flight`);
  const span = await measureSpan(server, false, target.totals, async () => {
    await runGroupThroughput(ctx, busy, senders, config.groups.inFlight, config.durationS * 1000);
    await drainGroup(ctx, busy, drainMs);
    await waitIdle(server.pids, IDLE_TIMEOUT_MS);
  });
  const r = ledger.result(busy);
  note(`${ctx.label} ${r.name}: ${r.completed} of ${r.sent} reached everyone (${r.messagesPerSec} msg/s), incomplete ${r.incomplete}, duplicates ${r.duplicates}`);
  await Promise.all(opened.map((c) => c.close()));
  return relayRow(r.name, r.completed * (members - 1), r.messagesPerSec, span, target.idlePerS);
}

/** A relay phase per unit (1:1 message or member delivery): frames, and CPU net of the idle rate. */
function relayRow(phase: string, units: number, perSec: number, span: Span, idlePerS: number): RelayRow {
  const netCpuS = Math.max(0, span.cpuS - idlePerS * (span.ms / 1000));
  return {
    phase,
    messages: units,
    perSec,
    framesIn: per(span.framesIn, units),
    framesOut: per(span.framesOut, units),
    cpuUs: Math.round(units > 0 ? (netCpuS * 1e6) / units : 0),
    cpuUsRaw: Math.round(units > 0 ? (span.cpuS * 1e6) / units : 0),
  };
}
