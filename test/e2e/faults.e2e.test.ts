/**
 * Black box under faults: six users with two devices each (four in a group at first) send random
 * 1:1 and group bursts through the SDK against the real local server while sockets die without a
 * close, clients reconnect (some announcing a stale cursor: the server resends, the SDK must drop
 * what it already had), members are added and removed, mailbox and group objects are evicted
 * mid-work, queue batches (group fan-out goes through the queue here) are delivered twice, and
 * the server is SIGKILLed and restarted twice on its state; after a drain, the history checker must find nothing lost,
 * duplicated, reordered, phantom or misrouted.
 * FAULT_SEED=<n> replays a seed (the failure message prints it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatReport } from '../fault/checker.ts';
import { FAULT_SERVER_ARGS, runFaults } from '../fault/driver.ts';
import { SERVER_HOOK_MS, startServer, type LocalServer } from '../support/server.ts';

let server: LocalServer | undefined;

beforeAll(async () => {
  server = await startServer(undefined, { args: FAULT_SERVER_ARGS });
}, SERVER_HOOK_MS);

afterAll(async () => {
  await server?.dispose();
});

describe('fault run', () => {
  it(
    'keeps every acked message: delivered to every owed device exactly once, in order, through socket kills, evictions, duplicated queue batches and two hard restarts',
    async () => {
      if (!server) throw new Error('the server has not started');
      const seed = Number(process.env.FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31));
      const result = await runFaults(server, {
        seed,
        users: 6,
        devicesPerUser: 2,
        groupSize: 4,
        // All six users: a large group (read diffusion) from its creation.
        largeGroupSize: 6,
        trafficMs: 15_000,
        restarts: 2,
        drainMs: 30_000,
        evictions: true,
        log: (line) => console.log(`[faults seed ${seed}] ${line}`),
      });
      const { counts } = result.report;
      const fromLog = result.history.filter((e) => e.type === 'deliver' && e.stream !== undefined).length;
      const summary =
        `seed ${seed}: sent ${counts.sent} (attempts ${counts.attempts}), acked ${counts.acked}, delivered ${counts.delivered}, owed ${counts.owed}, ` +
        `kills ${result.kills}, reconnects ${result.reconnects}, stale reconnects ${result.staleReconnects} ` +
        `(greeted ${result.stale.greeted}, resent ${result.stale.resent}, cursor_expired ${result.cursorExpired}), member changes ${result.memberChanges}, evictions ${result.evictions}, injected ${JSON.stringify(result.injected)}, restarts ${result.restarts.length} ` +
        `(spawn→healthy ${result.restarts.map((r) => r.healthyMs).join('/')} ms, kill→first ack ${result.restarts.map((r) => r.firstAckMs ?? '-').join('/')} ms), ` +
        `large-group deliveries (pulled or pushed live) ${fromLog}, ` +
        `traffic ${result.trafficMs} ms (server down ${result.downMs} ms), drain ${result.drainMs} ms${result.drained ? '' : ' (timed out)'}`;
      console.log(summary);
      const failure = `${summary}\nreplay with FAULT_SEED=${seed}\n${formatReport(result.report)}`;
      expect(result.report.ok, failure).toBe(true);
      expect(result.drained, failure).toBe(true);
      expect(result.restarts.length, failure).toBeGreaterThanOrEqual(2);
      // The run must have exercised something: messages acked and delivered across the faults.
      expect(counts.acked, failure).toBeGreaterThan(100);
      expect(counts.owed, failure).toBeGreaterThan(0);
      // ... including the large group's entries, which reach devices only by push or pull.
      expect(fromLog, failure).toBeGreaterThan(0);
      // ... and the faults it claims: objects evicted, queue batches delivered twice.
      expect(result.evictions, failure).toBeGreaterThan(0);
      expect(result.injected['queue batch duplicated'] ?? 0, failure).toBeGreaterThan(0);
    },
    240_000,
  );
});
