/**
 * Load generators, each bounded in time:
 * - fixed rate (open loop): sends on a schedule regardless of replies, so a slow server shows
 *   up as latency instead of being hidden by a slower client (no coordinated omission);
 * - closed loop: keeps K messages in flight (sent, not yet received); each delivery sends the
 *   next one. Its delivered messages/s is the saturation figure.
 * Then `drain` waits (bounded) for everything still owed so losses can be counted.
 */
import type { SendFrame } from '../protocol/index.ts';
import type { BenchClient } from './clients.ts';
import type { Pattern } from './config.ts';
import type { Ledger, PhaseStats } from './ledger.ts';
import { note, seededRandom, sleep } from './util.ts';

/** Chooses the next (sender, recipient) pair. */
export type Picker = () => [sender: number, recipient: number];

export function makePicker(pattern: Pattern, users: number, seed: number): Picker {
  const random = seededRandom(seed);
  const pick = (n: number): number => Math.floor(random() * n);
  if (pattern === 'pairs') {
    // Users 2p and 2p+1 form conversation p; either side speaks.
    const pairs = Math.floor(users / 2);
    return () => {
      const p = pick(pairs);
      return random() < 0.5 ? [2 * p, 2 * p + 1] : [2 * p + 1, 2 * p];
    };
  }
  return () => {
    const sender = pick(users);
    const other = pick(users - 1);
    return [sender, other >= sender ? other + 1 : other];
  };
}

export type LoadContext = {
  label: string;
  clients: readonly BenchClient[];
  ledger: Ledger;
  pick: Picker;
};

const TEXT_PREFIX = 'Hi! This is a benchmark message with a realistic length, id ';

function sendOne(ctx: LoadContext, phase: PhaseStats): void {
  const [sender, recipient] = ctx.pick();
  const from = ctx.clients[sender]!;
  const to = ctx.clients[recipient]!;
  const id = ctx.ledger.send(phase, sender, recipient, performance.now());
  const frame: SendFrame = { type: 'send', id, to: to.userId, body: { kind: 'text', text: TEXT_PREFIX + id } };
  from.send(frame);
}

/** One progress line per second while a phase runs. */
function phaseProgress(ctx: LoadContext, phase: PhaseStats, durationMs: number): NodeJS.Timeout {
  const timer = setInterval(() => {
    const elapsed = (performance.now() - phase.windowStart) / 1000;
    note(
      `${ctx.label} ${phase.name} ${Math.min(elapsed, durationMs / 1000).toFixed(0)}/${(durationMs / 1000).toFixed(0)} s: ` +
        `sent ${phase.sent}, received ${phase.received}, in flight ${phase.awaitingDelivery}, ` +
        `failed ${phase.failedAll}`,
    );
  }, 1_000);
  timer.unref();
  return timer;
}

/** Send `rate` messages per second for `durationMs`, spread over random pairs. */
export async function runFixedRate(ctx: LoadContext, phase: PhaseStats, rate: number, durationMs: number): Promise<void> {
  const start = performance.now();
  phase.windowStart = start;
  phase.windowEnd = start + durationMs;
  const total = Math.floor((rate * durationMs) / 1000);
  const progress = phaseProgress(ctx, phase, durationMs);
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      const due = now >= phase.windowEnd ? total : Math.min(total, Math.floor(((now - start) * rate) / 1000));
      while (sent < due) {
        sendOne(ctx, phase);
        sent++;
      }
      if (now >= phase.windowEnd) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  clearInterval(progress);
}

/** Keep `inFlight` messages outstanding for `durationMs`; each delivery (or failure) sends the next. */
export async function runClosedLoop(ctx: LoadContext, phase: PhaseStats, inFlight: number, durationMs: number): Promise<void> {
  const start = performance.now();
  phase.windowStart = start;
  phase.windowEnd = start + durationMs;
  phase.onSettled = () => {
    if (performance.now() < phase.windowEnd) sendOne(ctx, phase);
  };
  const progress = phaseProgress(ctx, phase, durationMs);
  for (let i = 0; i < inFlight; i++) sendOne(ctx, phase);
  await sleep(durationMs);
  phase.onSettled = null;
  clearInterval(progress);
}

/**
 * Wait until the phase owes nothing (deliveries, sent acks, receipts) or `timeoutMs` passed;
 * in the latter case later arrivals count as late.
 */
export async function drain(ctx: LoadContext, phase: PhaseStats, timeoutMs: number): Promise<void> {
  const start = performance.now();
  const deadline = start + timeoutMs;
  while (phase.outstanding > 0 && performance.now() < deadline) await sleep(5);
  phase.drainMs = performance.now() - start;
  if (phase.outstanding > 0) {
    phase.drainTimedOut = true;
    note(`${ctx.label} ${phase.name}: still owed after ${timeoutMs} ms drain: ${phase.outstanding} (deliveries ${phase.awaitingDelivery})`);
  }
}

/** Wait (bounded) until none of `phases` owes anything. */
export async function drainAll(ctx: LoadContext, phases: readonly PhaseStats[], timeoutMs: number): Promise<void> {
  const owed = (): number => phases.reduce((sum, p) => sum + p.outstanding, 0);
  if (owed() === 0) return;
  note(`${ctx.label} waiting up to ${timeoutMs} ms for ${owed()} late deliveries / acks / receipts`);
  const deadline = performance.now() + timeoutMs;
  while (owed() > 0 && performance.now() < deadline) await sleep(5);
  if (owed() > 0) note(`${ctx.label} still owed at the end: ${owed()}`);
}
