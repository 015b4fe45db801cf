/**
 * Group load generators, each bounded in time:
 * - latency: one sender, `rate` messages per second but never more than one in flight (the next
 *   one leaves at its slot or when the previous one has reached everyone, whichever is later),
 *   so each sample is one message's fan-out on an otherwise quiet server;
 * - throughput: K messages in flight, senders taking turns; each completed (or failed) message
 *   sends the next. Completed messages/s inside the window is the sustained figure.
 * Then `drainGroup` waits (bounded) for the rest, and `waitIdle` for the server to go quiet
 * (fan-out to members without a connected device is not visible to the clients).
 * The same drivers load the bare relay's group (bench/group-relay.ts) with `flavor: 'relay'`.
 */
import type { GroupSendFrame } from '../protocol/index.ts';
import type { BenchClient, RelayGroupSendFrame } from './clients.ts';
import type { GroupLedger, GroupPhase } from './group-ledger.ts';
import type { Flavor } from './ledger.ts';
import { sampleProcesses } from './procfs.ts';
import { note, sleep } from './util.ts';

/** What the drivers need of a ledger: record a send, get the client id for the frame. */
export type GroupSender = { send(phase: GroupPhase, group: string, sender: number, t0: number): string };

export type GroupLoadContext<L extends GroupSender = GroupLedger> = {
  label: string;
  group: string;
  /** Clients by index (index = user index). */
  clients: readonly BenchClient[];
  ledger: L;
  /** `relay`: the bare relay's frame (`send` naming `group`, bench/relay); default the messenger's `group_send`. */
  flavor?: Flavor;
};

const TEXT_PREFIX = 'Hi all! This is a benchmark group message with a realistic length, id ';

function sendOne(ctx: GroupLoadContext<GroupSender>, phase: GroupPhase, sender: number): void {
  const id = ctx.ledger.send(phase, ctx.group, sender, performance.now());
  const body = { kind: 'text', text: TEXT_PREFIX + id } as const;
  const frame: GroupSendFrame | RelayGroupSendFrame =
    ctx.flavor === 'relay' ? { type: 'send', id, group: ctx.group, body } : { type: 'group_send', id, group: ctx.group, body };
  ctx.clients[sender]!.send(frame);
}

/** One progress line per second while a phase runs. */
function phaseProgress(ctx: GroupLoadContext<GroupSender>, phase: GroupPhase, durationMs: number): NodeJS.Timeout {
  const timer = setInterval(() => {
    const elapsed = Math.min((performance.now() - phase.windowStart) / 1000, durationMs / 1000);
    note(
      `${ctx.label} ${phase.name} ${elapsed.toFixed(0)}/${(durationMs / 1000).toFixed(0)} s: ` +
        `sent ${phase.sent}, reached everyone ${phase.completed}, open ${phase.open}, failed ${phase.failedCount}`,
    );
  }, 1_000);
  timer.unref();
  return timer;
}

/** One sender, `rate` messages/s, at most one in flight, for `durationMs`. */
export async function runGroupLatency(ctx: GroupLoadContext<GroupSender>, phase: GroupPhase, sender: number, rate: number, durationMs: number): Promise<void> {
  const start = performance.now();
  phase.windowStart = start;
  phase.windowEnd = start + durationMs;
  const interval = 1000 / rate;
  const progress = phaseProgress(ctx, phase, durationMs);
  let settled: (() => void) | null = null;
  phase.onSettled = () => settled?.();
  for (let next = start; next < phase.windowEnd; next += interval) {
    const wait = next - performance.now();
    if (wait > 0) await sleep(wait);
    if (performance.now() >= phase.windowEnd) break;
    const done = new Promise<void>((resolve) => (settled = resolve));
    sendOne(ctx, phase, sender);
    // Bounded: a message that never completes must not stall the phase beyond its window.
    await Promise.race([done, sleep(Math.max(0, phase.windowEnd - performance.now()))]);
    // Late: take the next slot from now rather than sending a burst to catch up.
    next = Math.max(next, performance.now() - interval);
  }
  phase.onSettled = null;
  clearInterval(progress);
}

/** Keep `inFlight` messages open for `durationMs`, `senders` taking turns. */
export async function runGroupThroughput(
  ctx: GroupLoadContext<GroupSender>,
  phase: GroupPhase,
  senders: readonly number[],
  inFlight: number,
  durationMs: number,
): Promise<void> {
  const start = performance.now();
  phase.windowStart = start;
  phase.windowEnd = start + durationMs;
  let turn = 0;
  const next = (): void => sendOne(ctx, phase, senders[turn++ % senders.length]!);
  phase.onSettled = () => {
    if (performance.now() < phase.windowEnd) next();
  };
  const progress = phaseProgress(ctx, phase, durationMs);
  for (let i = 0; i < inFlight; i++) next();
  await sleep(durationMs);
  phase.onSettled = null;
  clearInterval(progress);
}

/** Wait until the phase has nothing open or `timeoutMs` passed. */
export async function drainGroup(ctx: GroupLoadContext<GroupSender>, phase: GroupPhase, timeoutMs: number): Promise<void> {
  const start = performance.now();
  const deadline = start + timeoutMs;
  while (phase.open > 0 && performance.now() < deadline) await sleep(5);
  phase.drainMs = performance.now() - start;
  if (phase.open > 0) note(`${ctx.label} ${phase.name}: ${phase.open} messages still not everywhere after a ${timeoutMs} ms drain`);
}

/** Below this share of one core (over IDLE_SAMPLE_MS) the server counts as idle. */
const IDLE_CPU_SHARE = 0.05;
const IDLE_SAMPLE_MS = 250;

/**
 * Wait until the server's CPU stays under IDLE_CPU_SHARE for two samples in a row (its fan-out
 * to offline mailboxes, receipts and tallies have settled) or `timeoutMs` passed. Resolves with
 * the time waited.
 */
export async function waitIdle(pids: readonly number[], timeoutMs: number): Promise<number> {
  const start = performance.now();
  let quiet = 0;
  let last = sampleProcesses(pids).cpuS;
  while (quiet < 2 && performance.now() - start < timeoutMs) {
    await sleep(IDLE_SAMPLE_MS);
    const now = sampleProcesses(pids).cpuS;
    quiet = now - last < (IDLE_SAMPLE_MS / 1000) * IDLE_CPU_SHARE ? quiet + 1 : 0;
    last = now;
  }
  return performance.now() - start;
}
