/**
 * `npm run bench -- --scenario abuse`: replay each abuse finding of the "safe to deploy" and privacy issues
 * against the real server (the same bundle in Miniflare as every scenario, with the per-IP limits
 * ON as in production) and report what one client achieves now next to the issue's figure.
 * A measurement, not a test: it asserts nothing, prints a table and writes
 * bench/results/abuse.json. Bounded: a fixed number of requests and frames per finding, every
 * wait capped; it talks to 127.0.0.1 only (the CF-Connecting-IP headers are labels).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { BenchConfig } from './config.ts';
import { NumberPlan, signUpFrom, type Account, type Finding } from './abuse-kit.ts';
import { strangerGroup } from './abuse-group.ts';
import { groupSpam, presenceTiming } from './abuse-privacy.ts';
import { badNames, codeRequests, lockOut, phoneWalk, webHeaders, wrongGuesses, type Issued } from './abuse-login.ts';
import { madeUpIds, presenceStorm, resumeReplay, sendFlood, typingStorm } from './abuse-socket.ts';
import { machineInfo, type BenchReport } from './report.ts';
import type { ServerLogs } from './server.ts';
import { TARGETS, withServer } from './target.ts';
import { note } from './util.ts';

/** The group finding wants 1,023 fresh members; fewer (256) if signing them up would be too slow. */
const FULL_POOL = 1_023;
const SMALL_POOL = 255;
const POOL_SIGN_UP_BUDGET_MS = 150_000;

export type AbuseResult = {
  generatedAt: string;
  command: string;
  totalMs: number;
  machine: BenchReport['machine'];
  code: BenchReport['code'];
  server: { bundleMs: number; startMs: number; bindings: Record<string, string>; logs: ServerLogs };
  signUps: { accounts: number; ms: number; groupMembers: number; note: string };
  findings: Finding[];
  method: string;
};

const METHOD =
  'Each finding is replayed by one client (one IP header for anonymous requests, one device for the rest) against a fresh local server with IP_LIMITS=on; ' +
  'anonymous requests without a CF-Connecting-IP header come from 127.0.0.1 (Miniflare sets it). Setup accounts sign up from distinct documentation-range IP headers, ' +
  'each number in a block of 1,000 of its own. "bounded" compares what got through with protocol/rate-limits.ts.';

type Cast = {
  owner: Account; flooder: Account; victim: Account; pairA: Account; pairB: Account; stranger: Account;
  typer: Account; peer: Account; groupTyper: Account; watcher: Account; hoarder: Account; sender1: Account;
  sender2: Account; looker: Account; madeUp: Account; namer: Account; web: Account; spammer: Account; spamVictim: Account;
  peeper: Account; hidden: Account; typingMembers: Account[];
};

const ROLES = [
  'owner', 'flooder', 'victim', 'pairA', 'pairB', 'stranger', 'typer', 'peer', 'groupTyper', 'watcher',
  'hoarder', 'sender1', 'sender2', 'looker', 'madeUp', 'namer', 'web', 'spammer', 'spamVictim', 'peeper', 'hidden',
] as const;

export async function runAbuseScenario(config: BenchConfig, command: string, code: BenchReport['code']): Promise<AbuseResult> {
  const started = performance.now();
  const bindings = { IP_LIMITS: 'on' };
  note('abuse: bundling and starting the messenger with IP_LIMITS=on ...');
  return withServer({ ...TARGETS.messenger, stateDir: config.stateDir, bindings }, 'abuse', async (server) => {
    const base = server.url;
    const plan = new NumberPlan();
    const concurrency = config.setupConcurrency;

    const s0 = performance.now();
    const singles = await signUpFrom(base, plan, ROLES.length + 11, 'cast', concurrency);
    const cast = Object.fromEntries(ROLES.map((role, i) => [role, singles[i]!])) as Omit<Cast, 'typingMembers'>;
    const typingMembers = singles.slice(ROLES.length);
    const p0 = performance.now();
    const pool = await signUpFrom(base, plan, SMALL_POOL, 'member', concurrency);
    const projected = ((performance.now() - p0) / SMALL_POOL) * FULL_POOL;
    let poolNote = '';
    if (projected <= POOL_SIGN_UP_BUDGET_MS) pool.push(...(await signUpFrom(base, plan, FULL_POOL - SMALL_POOL, 'member+', concurrency)));
    else poolNote = `256 members, not 1,024: signing up 1,023 would take ~${Math.round(projected / 1000)} s here; `;
    const signUpMs = performance.now() - s0;
    note(`abuse: ${singles.length + pool.length} accounts signed up in ${(signUpMs / 1000).toFixed(1)} s`);

    const findings: Finding[] = [];
    const run = async (label: string, f: () => Promise<Finding>): Promise<void> => {
      note(`abuse: ${label} ...`);
      const t0 = performance.now();
      const finding = await f();
      findings.push(finding);
      note(`abuse: ${label} done in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${finding.now}`);
    };
    await run('12 web headers and tokens in URLs', () => webHeaders(base, server.wsBase, cast.web));
    await run('11 names', () => badNames(base, cast.namer));
    const requested: { phones: string[]; issued: Issued[] } = { phones: [], issued: [] };
    await run('1 code requests from one IP', async () => {
      const { finding, phones, issued } = await codeRequests(base, plan);
      Object.assign(requested, { phones, issued });
      return finding;
    });
    await run('2 wrong verifications from one IP', () => wrongGuesses(base, requested.phones, requested.issued));
    await run('3 lock-out', () => lockOut(base, cast.owner));
    await run('9 phone look-ups', () => phoneWalk(base, cast.looker, plan));
    await run('10 made-up ids', () => madeUpIds(server, cast.madeUp, pool[pool.length - 1]!, config.stateDir));
    await run('7 presence_watch storm', () => presenceStorm(server, cast.watcher, pool));
    await run('6 typing storms', () => typingStorm(server, cast.typer, cast.peer, cast.groupTyper, typingMembers));
    await run('8 resume replays', () => resumeReplay(server, cast.hoarder, [cast.sender1, cast.sender2]));
    await run('4 send flood', () => sendFlood(server, cast.flooder, cast.victim, cast.pairA, cast.pairB));
    await run('5 stranger group', () => strangerGroup(server, cast.stranger, pool, poolNote));
    await run('13 one victim in 300 groups', () => groupSpam(server, cast.spammer, cast.spamVictim));
    await run('14 presence timing', () => presenceTiming(server, cast.peeper, cast.hidden));
    findings.sort((a, b) => a.id - b.id);

    return {
      generatedAt: new Date().toISOString(),
      command,
      totalMs: Math.round(performance.now() - started),
      machine: machineInfo(),
      code,
      server: { bundleMs: Math.round(server.bundleMs), startMs: Math.round(server.startMs), bindings, logs: server.logs },
      signUps: { accounts: singles.length + pool.length, ms: Math.round(signUpMs), groupMembers: pool.length + 1, note: poolNote },
      findings,
      method: METHOD,
    };
  });
}

/** Split `text` into lines of at most `width` characters, at spaces. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.length ? lines : [''];
}

/** The plain table: finding | before (from the issue) | now, wrapped to fit a terminal. */
export function renderAbuse(result: AbuseResult): string {
  const widths = [34, 34, 84];
  const row = (cells: string[]): string[] => {
    const wrapped = cells.map((c, i) => wrap(c, widths[i]!));
    const height = Math.max(...wrapped.map((w) => w.length));
    return Array.from({ length: height }, (_, k) => wrapped.map((w, i) => (w[k] ?? '').padEnd(widths[i]!)).join(' | ').trimEnd());
  };
  const rule = widths.map((w) => '-'.repeat(w)).join('-+-');
  const verdict = (b: boolean | null): string => (b === null ? '' : b ? ' [bounded]' : ' [NOT BOUNDED]');
  const lines = [
    '',
    `Abuse findings replayed (${result.signUps.accounts} accounts; IP_LIMITS=on; ${(result.totalMs / 1000).toFixed(0)} s in all)`,
    `${result.machine.cpus} x ${result.machine.cpuModel}, Node ${result.machine.node}; code: commit ${result.code.commit ?? 'unknown'}` +
      (result.code.uncommitted.length ? ` plus uncommitted changes (${result.code.uncommitted.join(', ')})` : ''),
    '',
    ...row(['finding', 'before (from the issue)', 'now']),
    rule,
  ];
  for (const f of result.findings) {
    lines.push(...row([`${f.id}. ${f.title}`, f.before, `${f.now}${verdict(f.bounded)}`]), rule);
  }
  const loose = result.findings.filter((f) => f.bounded === false);
  lines.push(loose.length ? `NOT BOUNDED: ${loose.map((f) => `${f.id} (${f.title})`).join('; ')}` : 'Every finding stayed within its documented limit.');
  const errors = result.server.logs.counts['error'] ?? 0;
  if (errors) lines.push(`Server logged ${errors} errors; first: ${result.server.logs.samples.slice(0, 3).join(' / ')}`);
  lines.push('');
  return lines.join('\n');
}

export function writeAbuseJson(result: AbuseResult, path: string): string {
  const file = resolve(path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}
