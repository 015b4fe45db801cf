/**
 * Bench settings: defaults sized for a 2-core machine (the whole default run takes about a
 * minute), overridable by command-line flags or BENCH_* environment variables (flags win).
 *
 * Scenarios: `1to1` (default: 1:1 messages, messenger vs bare relay), `groups` (group fan-out:
 * a large group with part of it connected and a small fully connected group, each over the
 * direct and the queued fan-out path; a few minutes), `all` (both, in that order), `abuse` (the
 * abuse findings replayed with the per-IP limits on; bench/abuse.ts; never part of `all`), `media`
 * (upload MB/s, thumbnail and full-image latency, dedup answers; bench/media.ts; not part of `all`),
 * `history` (history tiers: archive throughput, page and search latency per tier, storage per
 * user over rounds; bench/history.ts; not part of `all`), `cost` (per 1:1 message and per group
 * member delivery: storage commits, statements, RPCs, frames, workerd CPU beside the relay's, with
 * the local cost counters on; bench/cost.ts; not part of `all`).
 *
 *   npm run bench -- --users 1000 --duration 30 --rate 2000 --inflight 100 --skip-relay
 *   npm run bench -- --scenario groups --group-members 1024 --group-connected 200
 *   BENCH_USERS=1000 BENCH_DURATION=30 npm run bench
 */
import { parseArgs } from 'node:util';
import { GROUP_LOG_MAX_MEMBERS, GROUP_MAX_MEMBERS } from '../protocol/index.ts';

export type Pattern = 'pairs' | 'random';
export type Scenario = '1to1' | 'groups' | 'presence' | 'abuse' | 'media' | 'history' | 'cost' | 'all';
/** Group fan-out path, forced per server run through the fan-out settings (bench/groups.ts). */
export type FanoutPath = 'direct' | 'queued' | 'hybrid' | 'log';

export type GroupConfig = {
  /** Members of the large group, creator included (the protocol allows 1,024). */
  members: number;
  /** Of those, how many have a connected device (the creator and the next ones). */
  connected: number;
  /** Members of the small group, all connected. */
  small: number;
  /** Length of each measured group phase, seconds. */
  durationS: number;
  /** Latency phase: group messages per second from one sender, never more than one in flight. */
  rate: number;
  /** Throughput phase: group messages in flight (not yet received by every connected member). */
  inFlight: number;
  /** Throughput phase: connected members taking turns as senders. */
  senders: number;
  /** Which fan-out paths to measure, in order. */
  paths: FanoutPath[];
  /** Count storage commits, statements, RPCs and frames per group message (local cost counters on). */
  costs: boolean;
  /** After the messenger's paths, the same fan-out to the `connected` members by the bare relay (bench/group-relay.ts). */
  relay: boolean;
};

/** The history scenario (bench/history.ts). */
export type HistoryConfig = {
  /** Text messages the two users exchange before the page and search measurements. */
  messages: number;
  /** Storage rounds (send, then archive) after that. */
  rounds: number;
  /** Messages per storage round. */
  roundMessages: number;
  /** Timed pages per tier (and per kind of boundary). */
  pages: number;
  /** Timed searches per kind of query, before and after archiving. */
  searches: number;
  /** Messages in flight per direction while seeding. */
  window: number;
  /** Devices of the reading user that share the page and search requests (RL_API_DEVICE is per device). */
  devices: number;
};

export type BenchConfig = {
  /** Users (and connected devices). In `pairs` mode they form users/2 fixed conversations. */
  users: number;
  /** Length of each measured phase, seconds. */
  durationS: number;
  /** Unmeasured warm-up (a light closed loop) before the measured phases, seconds (0 = none). */
  warmupS: number;
  /** Total send rate of the fixed-rate phase, messages per second. */
  rate: number;
  /** Messages in flight (sent, not yet received) in the saturation phase, across all senders. */
  inFlight: number;
  /** Longest wait after a phase for outstanding deliveries, sent acks and receipts, seconds. */
  drainS: number;
  /** `pairs`: each message goes one way within a random fixed pair; `random`: any A -> any B. */
  pattern: Pattern;
  /** Clients ack after this many unacked mailbox frames ... */
  ackEvery: number;
  /** ... or this long after the first unacked one, whichever comes first (ms). */
  ackDelayMs: number;
  /** Skip the bare-relay ceiling (then no ratio is printed). */
  skipRelay: boolean;
  /** Seed of the pseudo-random pair choice, so runs pick the same sequence of pairs. */
  seed: number;
  /** Where the JSON summary goes (relative to the project root). */
  out: string;
  /** Concurrent HTTP requests / WebSocket handshakes while setting up. */
  setupConcurrency: number;
  /**
   * Folder for the servers' scratch state (bundles, Durable Object SQLite files, D1); removed at
   * the end. Default: the project's .tmp/. Diagnostic: `/dev/shm` (tmpfs) makes every fsync free,
   * which shows how much of the cost is the disk.
   */
  stateDir: string;
  scenario: Scenario;
  /** Cost scenario: the 1:1 fixed rate, msg/s (moderate: below what the messenger sustains). */
  costRate: number;
  /** Cost scenario: group messages per second, one in flight. */
  costGroupRate: number;
  groups: GroupConfig;
  history: HistoryConfig;
};

const HELP = `npm run bench -- [flags]        (each flag also reads BENCH_<NAME>, e.g. BENCH_USERS)
  --users N          users / connected devices            (default 200)
  --duration S       seconds per measured phase          (default 10)
  --warmup S         unmeasured warm-up seconds          (default 2)
  --rate R           fixed-rate phase, msg/s total       (default 1000)
  --inflight K       saturation phase, messages in flight (default 50)
  --drain S          max wait for stragglers per phase   (default 20)
  --pattern P        pairs | random                      (default pairs)
  --ack-every N      ack after N mailbox frames          (default 32)
  --ack-delay MS     ... or after MS milliseconds        (default 10)
  --skip-relay       do not run the bare-relay ceiling
  --seed N           pair-choice seed                    (default 1)
  --out FILE         JSON summary                        (default bench/results/latest.json)
  --setup-concurrency N  parallel sign-ups / handshakes  (default 16)
  --state-dir DIR    servers' scratch state; /dev/shm = no fsync cost  (default .tmp)
  --scenario S       1to1 | groups | presence | abuse | media | history | cost | faults | all  (default 1to1)
                     presence: presence and push latency over min(users, 100) pairs
                     abuse: replays the abuse findings with IP limits on (a few minutes;
                     not part of all; JSON to bench/results/abuse.json unless --out)
                     media: upload MB/s, thumbnail / full-image latency, dedup answers
                     (about a minute; not part of all; JSON to bench/results/media.json;
                     --skip-relay drops the relay's text baseline)
                     history: archive throughput, page / search latency per tier, storage
                     per user over rounds (about 15 minutes; not part of all; JSON to
                     bench/results/history.json; flags below)
                     cost: per 1:1 message and per group member delivery: storage commits,
                     statements, RPCs, frames in/out, disk bytes, workerd CPU µs beside the
                     relay's CPU µs in the same run (cost counters on; about 3 minutes; not
                     part of all; JSON to bench/results/cost.json). Uses --users (pairs),
                     --inflight, --duration, --group-small, --group-inflight, --group-senders and:
  --cost-rate R        1:1 fixed-rate phase, msg/s total  (default 200)
  --cost-group-rate R  group messages/s, one in flight    (default 10)
faults scenario (--scenario faults, not part of all; its own flags): --seed N --users N --devices N
  --group N (small group, default 4) --large-group N (read diffusion, default 12) --traffic-s N --restarts N --drain-s N --tick-ms MIN,MAX --burst MIN,MAX

group scenario (--scenario groups|all; a few minutes; uses --drain, --ack-*, --setup-concurrency):
  --group-members N    members of the large group        (default 1024; up to 100000 with
                       --group-paths log only: copying groups stop at 1024, GROUP_MAX_MEMBERS)
  --group-connected N  of those, connected devices       (default 200)
                       e.g. --group-paths log --group-members 10000 --group-connected 1000
  --group-small N      members of the small group, all connected (default 20)
  --group-duration S   seconds per measured group phase  (default 10)
  --group-rate R       latency phase msg/s, one in flight (default 2)
  --group-inflight K   throughput phase messages in flight (default 8)
  --group-senders N    throughput phase senders          (default 8)
  --group-paths LIST   fan-out paths: direct,queued,hybrid (default all three), and
                       log (read diffusion: GROUP_LOG_DELIVERY_MIN=100, so the large group switches)
  --group-costs        also count, per group message and phase, storage commits, SQL
                       statements, RPCs (mailbox / group objects) and frames, with the local
                       cost counters on; they slow the server, so latency and throughput
                       figures of such a run are perturbed (off by default)
  --group-relay on|off after the messenger's paths, the bare relay (bench/relay) fans the
                       same messages out to a group of the same connected members, same
                       phases: the yardstick, and messenger / relay ratios (default on)

history scenario (--scenario history):
  --history-messages N        messages two users exchange first   (default 100000)
  --history-rounds N          storage rounds (send, then archive) (default 5)
  --history-round-messages N  messages per storage round          (default 10000)
  --history-pages N           timed pages per tier / boundary     (default 200)
  --history-searches N        timed searches per query kind, before and after (default 100)
  --history-window N          messages in flight per direction while seeding (default 32)
  --history-devices N         reader devices sharing page/search requests (default 4)`;

const OPTIONS = {
  users: { type: 'string' },
  duration: { type: 'string' },
  warmup: { type: 'string' },
  rate: { type: 'string' },
  inflight: { type: 'string' },
  drain: { type: 'string' },
  pattern: { type: 'string' },
  'ack-every': { type: 'string' },
  'ack-delay': { type: 'string' },
  'skip-relay': { type: 'boolean' },
  seed: { type: 'string' },
  out: { type: 'string' },
  'setup-concurrency': { type: 'string' },
  'state-dir': { type: 'string' },
  scenario: { type: 'string' },
  'cost-rate': { type: 'string' },
  'cost-group-rate': { type: 'string' },
  'group-members': { type: 'string' },
  'group-connected': { type: 'string' },
  'group-small': { type: 'string' },
  'group-duration': { type: 'string' },
  'group-rate': { type: 'string' },
  'group-inflight': { type: 'string' },
  'group-senders': { type: 'string' },
  'group-paths': { type: 'string' },
  'group-costs': { type: 'boolean' },
  'group-relay': { type: 'string' },
  'history-messages': { type: 'string' },
  'history-rounds': { type: 'string' },
  'history-round-messages': { type: 'string' },
  'history-pages': { type: 'string' },
  'history-searches': { type: 'string' },
  'history-window': { type: 'string' },
  'history-devices': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type OptionName = keyof typeof OPTIONS;

export class ConfigError extends Error {}

/** Read the settings from argv and the environment; throws ConfigError with a readable message. */
export function readConfig(argv: string[], env: NodeJS.ProcessEnv): BenchConfig | 'help' {
  const { values } = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false });
  if (values.help) return 'help';

  const raw = (name: OptionName): string | undefined => {
    const flag = values[name];
    if (typeof flag === 'string') return flag;
    if (flag === true) return 'true';
    return env[`BENCH_${name.toUpperCase().replace(/-/g, '_')}`];
  };
  const num = (name: OptionName, fallback: number, min: number, max: number, integer = true): number => {
    const text = raw(name);
    if (text === undefined || text === '') return fallback;
    const value = Number(text);
    if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
      throw new ConfigError(`--${name} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got ${text}`);
    }
    return value;
  };
  const bool = (name: OptionName): boolean => {
    const text = raw(name);
    return text !== undefined && ['1', 'true', 'yes'].includes(text.toLowerCase());
  };

  const pattern = raw('pattern') ?? 'pairs';
  if (pattern !== 'pairs' && pattern !== 'random') throw new ConfigError(`--pattern must be pairs or random, got ${pattern}`);
  const scenario = raw('scenario') ?? '1to1';
  if (!['1to1', 'groups', 'presence', 'abuse', 'media', 'history', 'cost', 'all'].includes(scenario)) {
    throw new ConfigError(`--scenario must be 1to1, groups, presence, abuse, media, history, cost or all, got ${scenario}`);
  }
  const paths = (raw('group-paths') ?? 'direct,queued,hybrid').split(',').map((p) => p.trim());
  const known = ['direct', 'queued', 'hybrid', 'log'];
  if (paths.length === 0 || paths.some((p) => !known.includes(p)) || new Set(paths).size !== paths.length) {
    throw new ConfigError(`--group-paths must list some of direct, queued, hybrid, log; got ${paths.join(',')}`);
  }
  // Beyond GROUP_MAX_MEMBERS only a large group (read diffusion) can go: the `log` path alone.
  const members = num('group-members', GROUP_MAX_MEMBERS, 3, GROUP_LOG_MAX_MEMBERS);
  if (members > GROUP_MAX_MEMBERS && paths.some((p) => p !== 'log')) {
    throw new ConfigError(`--group-members above ${GROUP_MAX_MEMBERS} needs --group-paths log (copying groups stop at ${GROUP_MAX_MEMBERS})`);
  }
  const connected = num('group-connected', Math.min(200, members), 2, members);
  const groupRelay = raw('group-relay') ?? 'on';
  if (groupRelay !== 'on' && groupRelay !== 'off') throw new ConfigError(`--group-relay must be on or off, got ${groupRelay}`);
  const small = num('group-small', Math.min(20, connected), 2, connected);

  return {
    users: num('users', 200, 2, 15_000),
    durationS: num('duration', 10, 0.5, 3_600, false),
    warmupS: num('warmup', 2, 0, 600, false),
    rate: num('rate', 1_000, 1, 1_000_000),
    inFlight: num('inflight', 50, 1, 100_000),
    drainS: num('drain', 20, 0.1, 600, false),
    pattern,
    ackEvery: num('ack-every', 32, 1, 1_000),
    ackDelayMs: num('ack-delay', 10, 0, 10_000),
    skipRelay: bool('skip-relay'),
    seed: num('seed', 1, 0, 2 ** 31 - 1),
    out: raw('out') ?? (['abuse', 'media', 'history', 'cost'].includes(scenario) ? `bench/results/${scenario}.json` : 'bench/results/latest.json'),
    setupConcurrency: num('setup-concurrency', 16, 1, 1_000),
    stateDir: raw('state-dir') ?? '.tmp',
    scenario: scenario as Scenario,
    costRate: num('cost-rate', 200, 1, 1_000_000),
    costGroupRate: num('cost-group-rate', 10, 0.1, 1_000, false),
    groups: {
      members,
      connected,
      small,
      durationS: num('group-duration', 10, 0.5, 3_600, false),
      rate: num('group-rate', 2, 0.1, 1_000, false),
      inFlight: num('group-inflight', 8, 1, 1_000),
      senders: Math.min(connected, num('group-senders', 8, 1, GROUP_MAX_MEMBERS)),
      paths: paths as FanoutPath[],
      costs: bool('group-costs'),
      relay: groupRelay === 'on',
    },
    history: {
      messages: num('history-messages', 100_000, 100, 10_000_000),
      rounds: num('history-rounds', 5, 0, 100),
      roundMessages: num('history-round-messages', 10_000, 100, 1_000_000),
      pages: num('history-pages', 200, 10, 100_000),
      searches: num('history-searches', 100, 10, 100_000),
      window: num('history-window', 32, 1, 1_000),
      devices: num('history-devices', 4, 1, 10),
    },
  };
}

export function usage(): string {
  return HELP;
}
