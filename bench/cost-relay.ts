/**
 * The cost scenario's yardsticks, run on the relay's server (bench/relay) after the messenger:
 * - the bare relay (object → RPC → object → socket, nothing stored): the ceiling every ratio is
 *   taken against;
 * - the durable relay (the same, plus one row stored with its commit in the recipient's object
 *   before the socket write and one in the sender's after): the floor of keeping both copies
 *   durably, with none of the messenger's ids, order, acks, receipts, history or search. The
 *   messenger ÷ durable relay ratio is what the messenger's own logic costs above that floor.
 * Each runs the same 1:1 phases (bench/cost-phases.ts) with its own users, so its objects are new.
 */
import { relayUsers } from './accounts.ts';
import { connectAll, emptyTotals, type BenchClient, type ClientTotals } from './clients.ts';
import type { BenchConfig } from './config.ts';
import { oneToOnePhases, warmUp } from './cost-phases.ts';
import { idleCpuPerS, per } from './cost-rows.ts';
import { Ledger } from './ledger.ts';
import { makePicker, type LoadContext } from './load.ts';
import type { RunningServer } from './server.ts';
import { TARGETS, withServer } from './target.ts';

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
    const bare = await relayPhases(config, server, rate, clients, { label: '[cost relay]', users: count, offset: 0, store: false, totals: totals.bare });
    const durable = await relayPhases(config, server, rate, clients, { label: '[cost durable relay]', users: count, offset: count, store: true, totals: totals.durable });
    return { bare: bare.rows, durable: durable.rows, idlePerS: bare.idlePerS, totals };
  });
}

async function relayPhases(
  config: BenchConfig,
  server: RunningServer,
  rate: number,
  registry: BenchClient[],
  target: { label: string; users: number; offset: number; store: boolean; totals: ClientTotals },
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
    const netCpuS = Math.max(0, span.cpuS - idlePerS * (span.ms / 1000));
    rows.push({
      phase: r.name,
      messages: r.received,
      perSec: r.deliveredPerSec,
      framesIn: per(span.framesIn, r.received),
      framesOut: per(span.framesOut, r.received),
      cpuUs: Math.round(r.received > 0 ? (netCpuS * 1e6) / r.received : 0),
      cpuUsRaw: Math.round(r.received > 0 ? (span.cpuS * 1e6) / r.received : 0),
    });
  }
  await Promise.all(opened.map((c) => c.close()));
  return { rows, idlePerS };
}
