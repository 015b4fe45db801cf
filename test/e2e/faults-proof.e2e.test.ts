/**
 * Proof that the fault checker can fail, end to end: one short fault run against the real local
 * server (no restarts) in which three devices are deliberately broken clients (tamper.ts): one
 * swallows a delivery the SDK still acks, one surfaces a message twice, one swaps two consecutive
 * messages of one conversation. The checker must report exactly `lost`, `duplicated` and
 * `reordered` for them, each naming the tampered device and message, and nothing else (the
 * server under kills, reconnects and stale cursors keeps its promise for everyone).
 * FAULT_SEED=<n> replays a seed (printed, and in the failure message).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatReport, VIOLATION_KINDS, type Violation } from '../fault/checker.ts';
import { runFaults } from '../fault/driver.ts';
import { namesTamper, type TamperMode, type TamperRecord } from '../fault/tamper.ts';
import { SERVER_HOOK_MS, startServer, type LocalServer } from '../support/server.ts';

let server: LocalServer | undefined;

beforeAll(async () => {
  server = await startServer();
}, SERVER_HOOK_MS);

afterAll(async () => {
  await server?.dispose();
});

const TAMPER: Record<string, TamperMode> = { u1d0: 'drop', u2d0: 'duplicate', u3d0: 'swap' };

describe('fault checker proof', () => {
  it(
    'names a dropped delivery as lost, a doubled one as duplicated and a swapped pair as reordered, on the tampered devices only',
    async () => {
      if (!server) throw new Error('the server has not started');
      const seed = Number(process.env.FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31));
      const result = await runFaults(server, {
        seed,
        users: 4,
        devicesPerUser: 2,
        groupSize: 3,
        trafficMs: 8_000,
        restarts: 0,
        drainMs: 20_000,
        tamper: TAMPER,
        log: (line) => console.log(`[faults-proof seed ${seed}] ${line}`),
      });
      const { report } = result;
      const { counts, violations } = report;
      const found = VIOLATION_KINDS.map((k) => `${k} ${violations[k].length}`).join(', ');
      const summary =
        `seed ${seed}: sent ${counts.sent} (attempts ${counts.attempts}), acked ${counts.acked}, delivered ${counts.delivered}, owed ${counts.owed}, ` +
        `kills ${result.kills}, reconnects ${result.reconnects}, stale reconnects ${result.staleReconnects} (resent ${result.stale.resent}), member changes ${result.memberChanges}, ` +
        `tampered ${result.tampered.map((t) => `${t.label}:${t.mode}`).join(' ')}; found ${found}`;
      console.log(summary);
      console.log(formatReport(report));
      const failure = `${summary}\nreplay with FAULT_SEED=${seed}\n${formatReport(report)}`;

      // Every tamper fired once, on its device.
      const record = (mode: TamperMode): TamperRecord => {
        const fired = result.tampered.filter((t) => t.mode === mode);
        expect(fired.map((t) => t.label), `${mode} fired\n${failure}`).toEqual(Object.keys(TAMPER).filter((l) => TAMPER[l] === mode));
        return fired[0] as TamperRecord;
      };
      const drop = record('drop');
      const duplicate = record('duplicate');
      const swap = record('swap');
      expect(swap.messages, failure).toHaveLength(2);
      expect(result.drained, failure).toBe(true);

      // Exactly the three injected faults, each naming its device and message.
      const device = (t: TamperRecord) => `${t.user}/${t.device}`;
      expect(violations.lost, failure).toHaveLength(1);
      expect(namesTamper(violations.lost[0] as Violation, drop), failure).toBe(true);
      expect(violations.lost[0]?.summary, failure).toContain(device(drop));
      expect(violations.lost[0]?.summary, failure).toContain(drop.messages[0]?.clientId);

      expect(violations.duplicated, failure).toHaveLength(1);
      const doubled = violations.duplicated[0] as Violation;
      expect(namesTamper(doubled, duplicate), failure).toBe(true);
      expect(doubled.summary, failure).toContain(device(duplicate));
      expect(doubled.summary, failure).toContain(duplicate.messages[0]?.clientId);
      expect(doubled.trace.filter((e) => e.type === 'deliver' && e.clientId === duplicate.messages[0]?.clientId), failure).toHaveLength(2);

      // The swap breaks the device's mailbox order, and the sender's order when it was fixed
      // (acked before the next send, or on one connection): one or two findings, both its own.
      expect(violations.reordered.length, failure).toBeGreaterThanOrEqual(1);
      expect(violations.reordered.length, failure).toBeLessThanOrEqual(2);
      for (const v of violations.reordered) expect(namesTamper(v, swap), failure).toBe(true);
      const [first, second] = swap.messages;
      const bySeq = violations.reordered.find((v) => v.summary.includes(`${device(swap)}'s mailbox seq went from ${second?.seq} to ${first?.seq}`));
      expect(bySeq, failure).toBeDefined();

      for (const kind of ['phantom', 'misrouted', 'ackConflict'] as const) expect(violations[kind], `${kind}\n${failure}`).toEqual([]);
    },
    90_000,
  );
});
