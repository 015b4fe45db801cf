/**
 * The cost scenario's fan-in phase: one mailbox receiving from many senders at once (client 0
 * gets every message, from clients 1..FAN_IN_SENDERS, FAN_IN_IN_FLIGHT outstanding). It is the
 * busy object the 1:1 phases never make (there each mailbox sees a message or two at a time),
 * so it shows what a hot object's commits per message are and how many messages it stores per
 * second. With the counters on, the recipient's own counts are read too (`?object=`).
 */
import type { BenchClient, ClientTotals } from './clients.ts';
import { measureSpan, type Span } from './cost-rows.ts';
import { waitIdle } from './group-load.ts';
import type { Ledger, PhaseStats } from './ledger.ts';
import { drain, runClosedLoop, type LoadContext } from './load.ts';
import type { RunningServer } from './server.ts';
import { seededRandom } from './util.ts';

export const FAN_IN_SENDERS = 100;
export const FAN_IN_IN_FLIGHT = 100;

export async function fanInPhase(
  options: {
    counters: boolean;
    server: RunningServer;
    clients: readonly BenchClient[];
    ledger: Ledger;
    totals: ClientTotals;
    label: string;
    durationMs: number;
    drainMs: number;
    idleTimeoutMs: number;
    seed: number;
  },
): Promise<{ phase: PhaseStats; span: Span }> {
  const { server, clients, ledger, label } = options;
  const senders = Math.min(FAN_IN_SENDERS, clients.length - 1);
  const random = seededRandom(options.seed);
  const ctx: LoadContext = { label, clients, ledger, pick: () => [1 + Math.floor(random() * senders), 0] };
  const phase = ledger.phase(`1:1 fan-in, ${senders} senders to one mailbox, ${FAN_IN_IN_FLIGHT} in flight`, 'i');
  const span = await measureSpan(
    server,
    options.counters,
    options.totals,
    async () => {
      await runClosedLoop(ctx, phase, FAN_IN_IN_FLIGHT, options.durationMs);
      await drain(ctx, phase, options.drainMs);
      await waitIdle(server.pids, options.idleTimeoutMs);
    },
    options.counters ? clients[0]!.userId : undefined,
  );
  return { phase, span };
}
