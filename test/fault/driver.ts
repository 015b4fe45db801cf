/**
 * The fault driver: SDK users with several devices each, some in a group, sending random bursts
 * of 1:1 and group messages against the real local server while sockets are killed without a
 * close, clients close and reconnect (some with a stale cursor), the server is SIGKILLed and
 * restarted on its state, and (on a server started with FAULT_SERVER_ARGS) objects are evicted
 * mid-work and queue batches are delivered twice; then a drain and the history check. Every random choice comes from the seed, so a failing
 * seed replays the same plan (the interleaving with the server still varies with timing).
 */
import { MessengerError } from '../../client/index.ts';
import { nextPhone } from '../support/phones.ts';
import { checkHistory, type CheckReport } from './checker.ts';
import { RecordedDevice, type StaleCursorStats } from './devices.ts';
import { HistoryRecorder, type HistoryEvent } from './history.ts';
import type { LocalServer, StartTiming } from '../support/server.ts';
import { Random } from './random.ts';
import { namesTamper, type TamperMode, type TamperRecord } from './tamper.ts';

/** The group size FAULT_SERVER_ARGS's servers switch above (read diffusion). */
export const LARGE_GROUP_ABOVE = 4;

/**
 * scripts/dev.mjs arguments for a fault run's server: fault injection on (objects evicted on
 * request, queue batches sent again now and then: lib/faults.ts), and group fan-out through the
 * queue for all but one member, so duplicated batches meet group deliveries.
 */
export const FAULT_SERVER_ARGS = [
  '--faults',
  // Groups of more than 4 members are large (read diffusion): the run's large group from its
  // creation, and the small one (4 members at first) as soon as a member change grows it.
  '--var', `GROUP_LOG_DELIVERY_MIN:${LARGE_GROUP_ABOVE}`,
  '--var', 'GROUP_DIRECT_FANOUT_MAX:1',
  '--var', 'GROUP_DIRECT_HOT_MAX:1',
  '--var', 'GROUP_FANOUT_MEMBERS_PER_JOB:1',
];

/** The operators' token of local development (.dev.vars.example), which the eviction route wants. */
const LOCAL_OPERATOR_TOKEN = 'dev-only-metrics-token';

export interface FaultRunOptions {
  seed: number;
  users?: number;
  devicesPerUser?: number;
  /** Members of the small group (the first users); 0: no group. Membership changes mid-run. */
  groupSize?: number;
  /**
   * Members of a second group with fixed membership (the first users; 0: none). With
   * FAULT_SERVER_ARGS a size above LARGE_GROUP_ABOVE makes it a large group from its creation.
   */
  largeGroupSize?: number;
  /** How long traffic and faults go on while the server is up, ms (restart downtime comes on top). */
  trafficMs?: number;
  /** Hard server restarts during the traffic. */
  restarts?: number;
  /** The longest the drain may take before the check runs anyway (then it reports what was lost), ms. */
  drainMs?: number;
  /** Traffic pace: a tick every `tickMs` (min, max) picks a device; a send tick sends `burst` (min, max) messages. */
  pace?: { tickMs: [number, number]; burst: [number, number] };
  /** Progress lines (restarts, drain). */
  log?: (line: string) => void;
  /**
   * Deliberately broken devices, by label (`u<user>d<device>`, e.g. `{ u1d0: 'drop' }`): each
   * breaks the promise once (see tamper.ts), so the check must name it. Only to prove the checker.
   */
  tamper?: Record<string, TamperMode>;
  /**
   * Evict objects (a user's mailbox, the group's object) at random: the server must run with
   * FAULT_SERVER_ARGS (its fault injection on).
   */
  evictions?: boolean;
}

/** One hard restart: the server start's phases, and how soon clients were served again. */
export interface RestartTiming extends StartTiming {
  /** When the server was killed and when it answered again (ms since the epoch): the restart window. */
  killedAt: number;
  healthyAt: number;
  /** Kill → the first SDK hello after the new server answered, ms. */
  firstHelloMs?: number;
  /** Kill → the first send acked after that hello, ms. */
  firstAckMs?: number;
}

export interface FaultRunResult {
  seed: number;
  report: CheckReport;
  history: HistoryEvent[];
  kills: number;
  reconnects: number;
  /** Closes followed by a reconnect announcing a cursor older than what the device had processed. */
  staleReconnects: number;
  /** What the server did with them, over all devices (see StaleCursorStats). */
  stale: StaleCursorStats;
  /** 'cursor_expired' events the SDK raised (a stale cursor below what the server still keeps). */
  cursorExpired: number;
  /** What tampered devices did (one record per device whose tamper fired). */
  tampered: TamperRecord[];
  /** Group members added or removed mid-run. */
  memberChanges: number;
  /** Objects evicted mid-run (requests the server confirmed). */
  evictions: number;
  /** Faults the server reported injecting during the run, by kind (e.g. "queue batch duplicated"). */
  injected: Record<string, number>;
  restarts: RestartTiming[];
  /** The drain ended with everything acked delivered and every outbox empty. */
  drained: boolean;
  /** Wall time of the traffic phase, restarts included, and the part of it the server was down. */
  trafficMs: number;
  downMs: number;
  drainMs: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Counts in `now` minus those in `before`, kinds that grew only. */
function injectedSince(before: Record<string, number>, now: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(now).flatMap(([kind, n]) => (n > (before[kind] ?? 0) ? [[kind, n - (before[kind] ?? 0)]] : [])));
}

/**
 * @example
 * const result = await runFaults(server, { seed: 42 });
 * if (!result.report.ok) throw new Error(`seed ${result.seed}\n${formatReport(result.report)}`);
 */
export async function runFaults(server: LocalServer, options: FaultRunOptions): Promise<FaultRunResult> {
  const { seed, users = 6, devicesPerUser = 2, groupSize = 4, largeGroupSize = 0, trafficMs = 30_000, restarts = 2, drainMs = 30_000 } = options;
  const log = options.log ?? (() => undefined);
  const pace = options.pace ?? { tickMs: [10, 80], burst: [1, 5] };
  const rng = new Random(seed);
  const rec = new HistoryRecorder(Date.now);
  const hellos: number[] = [];
  let cursorExpired = 0;
  const tamper = options.tamper ?? {};
  const injectedBefore = { ...server.injected };

  // Users and devices, each device declared at login (before any send).
  const byUser: RecordedDevice[][] = [];
  for (let u = 0; u < users; u++) {
    const phone = nextPhone();
    const devices: RecordedDevice[] = [];
    for (let d = 0; d < devicesPerUser; d++) {
      const label = `u${u}d${d}`;
      const device = new RecordedDevice(label, server.baseUrl, rec, { tamper: tamper[label] });
      await device.login(phone);
      device.client.on('hello', () => hellos.push(Date.now()));
      device.client.on('cursor_expired', () => cursorExpired++);
      devices.push(device);
    }
    byUser.push(devices);
  }
  const all = byUser.flat();
  const unknownLabels = Object.keys(tamper).filter((label) => !all.some((d) => d.label === label));
  if (unknownLabels.length > 0) throw new Error(`no device to tamper with: ${unknownLabels.join(', ')}`);
  const userIds = byUser.map((devices) => devices[0]?.userId ?? '');

  // The group: its creator adds the others directly (everyone lets anyone add them, so members
  // can also be added mid-run).
  let group: string | undefined;
  const members = userIds.slice(0, groupSize);
  if (groupSize > 1) {
    for (const devices of byUser) await devices[0]?.client.api.updateSettings({ privacy: { groups: 'everyone' } });
    const requestedAt = rec.position();
    const creator = byUser[0]?.[0];
    if (!creator) throw new Error('no users');
    const created = await creator.client.api.createGroup({ title: `faults ${seed}`, members: members.slice(1) });
    group = created.groupId;
    const joined = new Set(created.members.map((m) => m.userId));
    for (const user of members) {
      if (!joined.has(user)) throw new Error(`${user} was not added to the group directly`);
      rec.member(group, user, 'joined', requestedAt);
    }
  }
  // The large group: fixed membership, so its members are known to be in it the whole run.
  let large: string | undefined;
  const largeMembers = userIds.slice(0, largeGroupSize);
  if (largeGroupSize > 1) {
    const creator = byUser[0]?.[0];
    if (!creator) throw new Error('no users');
    if (groupSize <= 1) for (const devices of byUser) await devices[0]?.client.api.updateSettings({ privacy: { groups: 'everyone' } });
    const requestedAt = rec.position();
    const created = await creator.client.api.createGroup({ title: `faults ${seed} large`, members: largeMembers.slice(1) });
    large = created.groupId;
    for (const user of largeMembers) rec.member(large, user, 'joined', requestedAt);
  }
  await Promise.all(all.map((d) => d.client.connect()));

  let kills = 0;
  let reconnects = 0;
  let staleReconnects = 0;
  let sendCount = 0;
  const restartLog: RestartTiming[] = [];
  // Restarts at seeded points of the server's up time, one per slice of it, so traffic runs
  // between restarts and after the last however long a restart takes on a busy machine.
  const restartAt = Array.from({ length: restarts }, (_, i) => (trafficMs * (i + 0.5 + 0.5 * rng.next())) / (restarts + 1));
  let restarting: Promise<void> | undefined;
  const started = Date.now();
  let downMs = 0;
  let downSince: number | undefined;
  const upTime = () => Date.now() - started - downMs - (downSince === undefined ? 0 : Date.now() - downSince);

  const restart = async () => {
    const killedAt = Date.now();
    downSince = killedAt;
    await server.kill();
    await sleep(rng.int(0, 300));
    log(`restart ${restartLog.length + 1}: killed; starting again`);
    const timing: RestartTiming = { ...(await server.start()), killedAt, healthyAt: Date.now() };
    const spawnedAt = timing.healthyAt - timing.healthyMs;
    downMs += timing.healthyAt - killedAt;
    downSince = undefined;
    restartLog.push(timing);
    const servedAgain = () => {
      // After the first hello: a busy driver can still be handling frames the old server sent.
      const hello = hellos.find((t) => t > spawnedAt);
      const ack = hello === undefined ? undefined : rec.events.find((e) => e.type === 'ack' && (e.time ?? 0) >= hello);
      if (hello !== undefined) timing.firstHelloMs = hello - killedAt;
      if (ack?.time !== undefined) timing.firstAckMs = ack.time - killedAt;
      return hello !== undefined && ack !== undefined;
    };
    // Measured on the side: traffic and the next fault need not wait for it.
    void (async () => {
      for (let i = 0; i < 200 && !servedAgain(); i++) await sleep(50);
      log(`restart ${restartLog.indexOf(timing) + 1}: ${JSON.stringify(timing)}`);
    })();
  };

  // Membership changes: the creator adds or removes one other user, one change at a time and
  // never during a restart (an answer lost with the server would leave the change unknown).
  let changing: Promise<void> | undefined;
  let memberChanges = 0;
  /** Changes no answer confirmed, even after retries: the history cannot say whether they happened. */
  const memberErrors: string[] = [];
  const changeMember = async (user: string) => {
    const creator = byUser[0]?.[0];
    if (!creator || group === undefined) return;
    const joining = !members.includes(user);
    const requestedAt = rec.position();
    // A busy server can time a request out after doing it: ask again until an answer says how
    // things stand (adding a member is a no-op; removing a non-member is `user_not_found`).
    for (let attempt = 1; ; attempt++) {
      try {
        if (joining) await creator.client.api.addGroupMembers(group, [user]);
        else await creator.client.api.removeGroupMember(group, user);
        break;
      } catch (error) {
        if (!joining && error instanceof MessengerError && error.code === 'user_not_found') break;
        if (attempt >= 20) throw error;
        await sleep(250);
      }
    }
    rec.member(group, user, joining ? 'joined' : 'left', requestedAt);
    memberChanges++;
    if (joining) members.push(user);
    else members.splice(members.indexOf(user), 1);
  };

  const sendBurst = (device: RecordedDevice, me: string) => {
    const groups = [
      ...(group !== undefined && members.includes(me) ? [group] : []),
      ...(large !== undefined && largeMembers.includes(me) ? [large] : []),
    ];
    const others = userIds.filter((u) => u !== me);
    for (let n = rng.int(...pace.burst); n > 0; n--) {
      const text = `s${seed}:${device.label}:${++sendCount}`;
      if (groups.length > 0 && rng.next() < 0.4) device.client.sendGroupText(rng.pick(groups), text).sent.catch(() => undefined);
      else device.client.sendText(rng.pick(others), text).sent.catch(() => undefined);
    }
  };

  // Evictions: a user's mailbox or the group's object loses its memory and its work in flight,
  // as on an eviction or a crash; its sockets drop. One at a time, never during a restart.
  let evictions = 0;
  let evicting: Promise<void> | undefined;
  const evict = async (target: { userId: string } | { groupId: string }) => {
    try {
      const res = await fetch(`${server.baseUrl}/v1/dev/faults/evict`, {
        method: 'POST',
        headers: { authorization: `Bearer ${LOCAL_OPERATOR_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(target),
        signal: AbortSignal.timeout(10_000),
      });
      if (res.status === 404 && (await res.text()).includes('"not_found"')) throw new Error('the server does not inject faults: start it with FAULT_SERVER_ARGS');
      if (res.ok) evictions++;
    } catch (error) {
      if (error instanceof Error && error.message.includes('FAULT_SERVER_ARGS')) throw error;
      // the server died under it (a restart): the eviction is moot
    }
  };

  const reconnectLater = (device: RecordedDevice, ms: number) => {
    device.client.close();
    reconnects++;
    setTimeout(() => void device.client.connect().catch(() => undefined), ms);
  };

  let restartError: unknown;
  let evictError: unknown;
  while ((upTime() < trafficMs || restartAt.length > 0 || restarting) && restartError === undefined && evictError === undefined) {
    await sleep(rng.int(...pace.tickMs));
    if (restarting === undefined && changing === undefined && restartAt.length > 0 && upTime() >= (restartAt[0] ?? Infinity)) {
      restartAt.shift();
      restarting = restart()
        .catch((error: unknown) => void (restartError ??= error))
        .finally(() => (restarting = undefined));
    }
    const roll = rng.next();
    const u = rng.int(0, users - 1);
    const device = rng.pick(byUser[u] ?? []);
    if (roll < 0.006 && group !== undefined) {
      if (restarting === undefined && changing === undefined) {
        changing = changeMember(rng.pick(userIds.slice(1)))
          .catch((error: unknown) => void memberErrors.push(String(error)))
          .finally(() => (changing = undefined));
      }
    } else if (roll < 0.04) {
      if (device.kill()) kills++;
    } else if (roll < 0.05) {
      reconnectLater(device, rng.int(0, 500));
    } else if (roll < 0.065) {
      // Usually a few entries back; sometimes far back (to the start of a short mailbox, or past
      // what the server still keeps, which the SDK hears as cursor_expired).
      const back = rng.next() < 0.2 ? 2_000 : rng.int(1, 100);
      if (device.reconnectStale(back, rng.int(0, 500))) staleReconnects++;
    } else if (roll < 0.08 && options.evictions) {
      if (restarting === undefined && evicting === undefined) {
        const groupIds = [group, large].filter((g): g is string => g !== undefined);
        const target = groupIds.length > 0 && rng.next() < 0.3 ? { groupId: rng.pick(groupIds) } : { userId: rng.pick(userIds) };
        evicting = evict(target)
          .catch((error: unknown) => void (evictError ??= error))
          .finally(() => (evicting = undefined));
      }
    } else {
      sendBurst(device, userIds[u] ?? '');
    }
  }
  while (changing) await changing;
  while (evicting) await evicting;
  if (restartError !== undefined || evictError !== undefined || memberErrors.length > 0) {
    for (const d of all) d.client.close();
    if (restartError !== undefined) throw restartError;
    if (evictError !== undefined) throw evictError;
    throw new Error(`seed ${seed}: a membership change failed, so the history is unknown: ${memberErrors.join('; ')}`);
  }
  const trafficEnded = Date.now();

  // Drain: everyone connected, until every outbox is empty and nothing acked is missing anywhere.
  for (const d of all) if (d.client.state === 'closed' || d.client.state === 'idle') void d.client.connect().catch(() => undefined);
  let drained = false;
  // What a tampered device swallowed stays lost however long the drain waits.
  const tampered = () => all.flatMap((d) => d.tampered() ?? []);
  const unexplainedLoss = () => {
    const dropped = tampered().filter((t) => t.mode === 'drop');
    return checkHistory(rec.events).violations.lost.some((v) => !dropped.some((t) => namesTamper(v, t)));
  };
  while (Date.now() - trafficEnded < drainMs) {
    const pending = all.reduce((n, d) => n + d.pending(), 0);
    const checkStarted = Date.now();
    if (pending === 0 && !unexplainedLoss()) {
      drained = true;
      break;
    }
    // A long history takes seconds to check: poll no more than half the time.
    await sleep(Math.max(200, Date.now() - checkStarted));
  }
  const drainTook = Date.now() - trafficEnded;
  log(`drain ${drained ? 'done' : 'timed out'} in ${drainTook} ms`);
  for (const d of all) d.client.close();
  for (const d of all) d.flushTamper();

  const history = rec.events;
  const stale: StaleCursorStats = { connects: 0, greeted: 0, resent: 0 };
  for (const d of all) {
    stale.connects += d.stale.connects;
    stale.greeted += d.stale.greeted;
    stale.resent += d.stale.resent;
  }
  return { seed, report: checkHistory(history), history, kills, reconnects, staleReconnects, stale, cursorExpired, tampered: tampered(), memberChanges, evictions, injected: injectedSince(injectedBefore, server.injected), restarts: restartLog, drained, trafficMs: trafficEnded - started, downMs, drainMs: drainTook };
}
