/**
 * `npm run bench -- --scenario faults`: the long fault run (test/fault/driver.ts) against the real
 * local server — many users, random 1:1 and group bursts, socket kills, reconnects, membership
 * changes, object evictions, duplicated queue batches and hard restarts — then the history check. Prints sent / acked / delivered and every
 * violation column, send→ack p50/p99 outside restart windows, and each restart's timing.
 * Flags: --seed N --users N --devices N --group N --traffic-s N --restarts N --drain-s N
 * --tick-ms MIN,MAX --burst MIN,MAX. Exit code 0 clean, 4 violations or an unfinished drain.
 */
import { parseArgs } from 'node:util';
import { formatReport } from '../test/fault/checker.ts';
import { FAULT_SERVER_ARGS, LARGE_GROUP_ABOVE, runFaults, type FaultRunOptions } from '../test/fault/driver.ts';
import { ackLatency } from '../test/fault/latency.ts';
import { startServer } from '../test/support/server.ts';
import { note } from './util.ts';

function pair(value: string | undefined, fallback: [number, number]): [number, number] {
  if (value === undefined) return fallback;
  const [a, b] = value.split(',').map(Number);
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || a > b) throw new Error(`expected MIN,MAX, got ${value}`);
  return [a, b];
}

/** Runs the scenario with `args` (the bench's command line); resolves with the exit code. */
export async function runFaultsCli(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: false,
    options: {
      seed: { type: 'string' },
      users: { type: 'string' },
      devices: { type: 'string' },
      group: { type: 'string' },
      'large-group': { type: 'string' },
      'traffic-s': { type: 'string' },
      restarts: { type: 'string' },
      'drain-s': { type: 'string' },
      'tick-ms': { type: 'string' },
      burst: { type: 'string' },
    },
  });
  const num = (key: keyof typeof values, fallback: number) => {
    const raw = values[key];
    return typeof raw === 'string' ? Number(raw) : fallback;
  };
  const text = (key: keyof typeof values) => {
    const raw = values[key];
    return typeof raw === 'string' ? raw : undefined;
  };
  const seed = num('seed', Math.floor(Math.random() * 2 ** 31));
  const options: FaultRunOptions = {
    seed,
    users: num('users', 50),
    devicesPerUser: num('devices', 2),
    groupSize: num('group', LARGE_GROUP_ABOVE),
    largeGroupSize: num('large-group', 12),
    trafficMs: num('traffic-s', 900) * 1000,
    restarts: num('restarts', 5),
    drainMs: num('drain-s', 180) * 1000,
    evictions: true,
    // ~120 msg/s offered: about what a busy 2-core machine acks under faults, so latency is not queueing.
    pace: { tickMs: pair(text('tick-ms'), [10, 30]), burst: pair(text('burst'), [1, 4]) },
    log: (line) => note(`faults: ${line}`),
  };
  note(`faults: seed ${seed}, ${JSON.stringify({ ...options, log: undefined })}`);
  const server = await startServer(90_000, { args: FAULT_SERVER_ARGS });
  try {
    const result = await runFaults(server, options);
    const { counts, violations } = result.report;
    const latency = ackLatency(result.history, result.restarts.map((r) => [r.killedAt, r.healthyAt] as const));
    const lines = [
      `fault run, seed ${seed}`,
      `  sent ${counts.sent}  attempts ${counts.attempts}  acked ${counts.acked}  delivered ${counts.delivered}  owed ${counts.owed}`,
      `  lost ${violations.lost.length}  duplicated ${violations.duplicated.length}  reordered ${violations.reordered.length}  ` +
        `phantom ${violations.phantom.length}  misrouted ${violations.misrouted.length}  ack conflicts ${violations.ackConflict.length}`,
      `  kills ${result.kills}  reconnects ${result.reconnects}  member changes ${result.memberChanges}  restarts ${result.restarts.length}  evictions ${result.evictions}`,
      `  injected by the server: ${Object.entries(result.injected).map(([kind, n]) => `${kind} ${n}`).join(', ') || 'nothing'}`,
      `  stale-cursor reconnects ${result.staleReconnects} (greeted from the older cursor ${result.stale.greeted}, frames sent again ${result.stale.resent}, cursor_expired ${result.cursorExpired})`,
      `  send→ack outside restarts: p50 ${latency.p50} ms  p99 ${latency.p99} ms  max ${latency.max} ms  (${latency.count} messages; ${latency.inRestart} waited through a restart)`,
      `  throughput ${((counts.acked * 1000) / result.trafficMs).toFixed(1)} acked msg/s over ${(result.trafficMs / 1000).toFixed(1)} s; drain ${result.drainMs} ms${result.drained ? '' : ' (timed out)'}`,
      ...result.restarts.map(
        (r, i) =>
          `  restart ${i + 1}: spawn→ready ${r.readyMs ?? '-'} ms, spawn→healthy ${r.healthyMs} ms, kill→first hello ${r.firstHelloMs ?? '-'} ms, kill→first ack ${r.firstAckMs ?? '-'} ms`,
      ),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (!result.report.ok || !result.drained) {
      process.stdout.write(`${formatReport(result.report)}\nreplay: npm run bench -- --scenario faults --seed ${seed}\n`);
      return 4;
    }
    return 0;
  } finally {
    await server.dispose();
  }
}
