/**
 * The cost scenario's 1:1 phases, shared by every target it measures (the messenger, the bare
 * relay, the durable relay): an unmeasured warm-up, then fixed rate, saturation and fan-in, each
 * drained and followed by a wait for idle, with its counters and CPU span.
 */
import type { BenchClient, ClientTotals } from './clients.ts';
import type { BenchConfig } from './config.ts';
import { fanInPhase } from './cost-fanin.ts';
import { measureSpan, type Span } from './cost-rows.ts';
import { drainGroup, runGroupLatency, waitIdle, type GroupLoadContext, type GroupSender } from './group-load.ts';
import type { GroupPhase } from './group-ledger.ts';
import type { Flavor, Ledger, PhaseStats } from './ledger.ts';
import { drain, makePicker, runClosedLoop, runFixedRate, type LoadContext } from './load.ts';
import type { RunningServer } from './server.ts';
import { note } from './util.ts';

/** Unmeasured warm-up before the 1:1 phases (opens every object and the object-to-object paths). */
export const WARMUP_IN_FLIGHT = 10;
export const IDLE_TIMEOUT_MS = 20_000;

/** The 1:1 phases of one target: fixed rate, then saturation (each drained, then idle). */
export async function oneToOnePhases(
  flavor: Flavor,
  config: BenchConfig,
  server: RunningServer,
  clients: readonly BenchClient[],
  ledger: Ledger,
  totals: ClientTotals,
  rate: number,
  label: string,
): Promise<Array<{ phase: PhaseStats; span: Span }>> {
  const ctx: LoadContext = { label, clients, ledger, pick: makePicker(config.pattern, clients.length, config.seed) };
  const durationMs = config.durationS * 1000;
  const drainMs = config.drainS * 1000;
  const counters = flavor === 'messenger';
  const out: Array<{ phase: PhaseStats; span: Span }> = [];

  const fixed = ledger.phase(`1:1 fixed ${rate} msg/s`, 'f');
  out.push({
    phase: fixed,
    span: await measureSpan(server, counters, totals, async () => {
      await runFixedRate(ctx, fixed, rate, durationMs);
      await drain(ctx, fixed, drainMs);
      await waitIdle(server.pids, IDLE_TIMEOUT_MS);
    }),
  });
  const saturation = ledger.phase(`1:1 saturation, ${config.inFlight} in flight`, 's');
  out.push({
    phase: saturation,
    span: await measureSpan(server, counters, totals, async () => {
      await runClosedLoop(ctx, saturation, config.inFlight, durationMs);
      await drain(ctx, saturation, drainMs);
      await waitIdle(server.pids, IDLE_TIMEOUT_MS);
    }),
  });
  // One mailbox receiving from many senders: the busy object the phases above never make.
  out.push(
    await fanInPhase({ counters, server, clients, ledger, totals, label, durationMs, drainMs, idleTimeoutMs: IDLE_TIMEOUT_MS, seed: config.seed }),
  );
  for (const { phase } of out) {
    const r = phase.result();
    note(`${label} ${r.name}: ${r.received} received (${r.deliveredPerSec} msg/s in the window), p50 ${r.latency?.p50 ?? '-'} ms, lost ${r.integrity.lost}`);
  }
  return out;
}

export async function warmUp(ctx: LoadContext, ledger: Ledger, config: BenchConfig, server: RunningServer): Promise<void> {
  if (config.warmupS <= 0) return;
  const warmup = ledger.phase('warm-up', 'w');
  await runClosedLoop(ctx, warmup, WARMUP_IN_FLIGHT, config.warmupS * 1000);
  await drain(ctx, warmup, config.drainS * 1000);
  await waitIdle(server.pids, IDLE_TIMEOUT_MS);
}

/** The group phases' warm-up: a few messages, one in flight, drained, then a wait for idle. */
export async function groupWarmUp(ctx: GroupLoadContext<GroupSender>, phase: GroupPhase, config: BenchConfig, server: RunningServer): Promise<void> {
  await runGroupLatency(ctx, phase, 1, 4, 1_500);
  await drainGroup(ctx, phase, config.drainS * 1000);
  await waitIdle(server.pids, IDLE_TIMEOUT_MS);
}

/** The busy group phase's senders: members 1..`--group-senders` (never the whole group). */
export function groupSenders(config: BenchConfig, members: number): number[] {
  return Array.from({ length: Math.max(1, Math.min(config.groups.senders, members - 1)) }, (_, i) => i + 1);
}
