/**
 * `npm run bench`: load-test the real messenger locally and compare it with a bare relay on the
 * same runtime (the ceiling). `--scenario groups` measures group fan-out instead (a 1,024-member
 * group with 200 connected and a 20-member group, over the direct and the queued path; a few
 * minutes), `--scenario presence` measures presence changes and push delivery, `--scenario all`
 * runs all three. `--scenario abuse` (not part of `all`) replays the abuse findings with the per-IP
 * limits on and prints what one client achieves now (bench/abuse.ts; JSON to
 * bench/results/abuse.json). `--scenario media` (not part of `all`) measures uploads through the
 * Worker, thumbnail and full-image latency and dedup answers (bench/media.ts; JSON to
 * bench/results/media.json). `--scenario history` (not part of `all`) measures the history tiers:
 * archive throughput, page and search latency per tier, storage per user (bench/history.ts; JSON
 * to bench/results/history.json). `--scenario cost` (not part of `all`) counts what a 1:1 message and a
 * group member delivery cost the server (commits, statements, RPCs, frames, CPU beside the bare relay's
 * and the durable relay's;
 * bench/cost.ts; JSON to bench/results/cost.json). Progress goes to stderr; the summary table to stdout
 * and, as JSON, to bench/results/latest.json. Flags: `npm run bench -- --help`.
 *
 * Exit codes: 0 done (even if goals are missed: it is a benchmark, read the table),
 * 1 a server failed to start or setup failed, 2 bad flags, 3 the time budget ran out.
 */
import { resolve } from 'node:path';
import { SignUpError } from './accounts.ts';
import { ConfigError, readConfig, usage, type BenchConfig } from './config.ts';
import { runFaultsCli } from './faults.ts';
import { codeInfo, compare, machineInfo, METHOD, renderText, writeJson, type BenchReport } from './report.ts';
import { ServerStartError, describe, ROOT } from './server.ts';
import { runTarget, type TargetResult } from './target.ts';
import { summarizeGroups, type GroupScenarioResult } from './group-report.ts';
import { GroupSetupError } from './group-setup.ts';
import { runGroupRelay, type GroupRelayResult } from './group-relay.ts';
import { runGroupPath, type GroupPathResult } from './groups.ts';
import { runPresenceScenario, type PresenceScenarioResult } from './presence.ts';
import { renderAbuse, runAbuseScenario, writeAbuseJson } from './abuse.ts';
import { renderMedia, runMediaScenario, writeMediaJson } from './media.ts';
import { historyBudgetMs, renderHistory, runHistoryScenario, writeHistoryJson } from './history.ts';
import { renderCost, runCostScenario, writeCostJson } from './cost.ts';
import { note } from './util.ts';

/** Generous wall-clock bound for the whole run, so the bench always stops by itself. */
function timeBudgetMs(config: BenchConfig): number {
  const perTarget = 60_000 + (config.warmupS + 2 * config.durationS + 3 * config.drainS) * 1000 + config.users * 100;
  const only = (s: string) => config.scenario === s || config.scenario === 'all';
  const oneToOne = only('1to1') ? perTarget * (config.skipRelay ? 1 : 2) : 0;
  // Per path: start, sign-up and setup; per group: warm-up, two phases, their drains and idle waits.
  const g = config.groups;
  const perPath = 90_000 + g.members * 100 + 2 * (2 * g.durationS * 1000 + 4 * config.drainS * 1000 + 60_000);
  // The relay's yardstick: start, connect, the eviction wait, warm-up, two phases, drains and idle waits.
  const groupRelay = g.relay ? 60_000 + g.connected * 50 + 2 * (g.durationS * 1000 + 2 * config.drainS * 1000 + 20_000) : 0;
  const groups = only('groups') ? perPath * g.paths.length + groupRelay : 0;
  const presence = only('presence') ? 300_000 : 0;
  // Sign-ups, twelve bounded findings and the fan-out wait of the largest group.
  const abuse = config.scenario === 'abuse' ? 600_000 : 0;
  // Two server starts, ~150 MiB of uploads, 90 one-at-a-time messages and downloads.
  const media = config.scenario === 'media' ? 600_000 : 0;
  const history = config.scenario === 'history' ? historyBudgetMs(config.history) : 0;
  // Two servers, three targets (messenger, bare relay, durable relay); per target three 1:1 phases
  // (and two group phases on the messenger, one on each relay), each drained and idled.
  const cost = config.scenario === 'cost' ? 3 * perTarget + 11 * (config.durationS + config.drainS + 20) * 1000 + 3 * config.groups.small * 1000 : 0;
  return oneToOne + groups + presence + abuse + media + history + cost + 60_000;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  // The fault run has its own flags (bench/faults.ts) and its own server: it skips the config below.
  if (argv.includes('--scenario=faults') || argv[argv.indexOf('--scenario') + 1] === 'faults') return runFaultsCli(argv);
  let config: BenchConfig | 'help';
  try {
    config = readConfig(process.argv.slice(2), process.env);
  } catch (error) {
    note(`bench: ${describe(error)}\n${usage()}`);
    return 2;
  }
  if (config === 'help') {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  const settings = config;
  const budget = setTimeout(() => {
    note(`bench: gave up after the ${Math.round(timeBudgetMs(settings) / 1000)} s time budget`);
    process.exit(3);
  }, timeBudgetMs(settings));
  budget.unref();

  const started = performance.now();
  // Taken before the servers are bundled: that is the code they run.
  const code = codeInfo(ROOT);
  const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();
  if (settings.scenario === 'abuse') {
    const abuse = await runAbuseScenario(settings, command, code);
    process.stdout.write(renderAbuse(abuse));
    note(`bench: done in ${(abuse.totalMs / 1000).toFixed(1)} s; JSON written to ${writeAbuseJson(abuse, resolve(ROOT, settings.out))}`);
    return 0;
  }
  if (settings.scenario === 'media') {
    const media = await runMediaScenario(settings, command, code);
    process.stdout.write(renderMedia(media));
    note(`bench: done in ${(media.totalMs / 1000).toFixed(1)} s; JSON written to ${writeMediaJson(media, resolve(ROOT, settings.out))}`);
    return 0;
  }
  if (settings.scenario === 'cost') {
    const cost = await runCostScenario(settings, command, code);
    process.stdout.write(renderCost(cost));
    note(`bench: done in ${(cost.totalMs / 1000).toFixed(1)} s; JSON written to ${writeCostJson(cost, resolve(ROOT, settings.out))}`);
    return 0;
  }
  if (settings.scenario === 'history') {
    const history = await runHistoryScenario(settings, command, code);
    process.stdout.write(renderHistory(history));
    note(`bench: done in ${(history.totalMs / 1000).toFixed(1)} s; JSON written to ${writeHistoryJson(history, resolve(ROOT, settings.out))}`);
    return 0;
  }
  let messenger: TargetResult | null = null;
  let relay: TargetResult | null = null;
  const runs = (s: string) => settings.scenario === s || settings.scenario === 'all';
  if (runs('1to1')) {
    note(
      `bench: ${settings.users} users, ${settings.durationS} s per phase, ${settings.rate} msg/s fixed, ` +
        `${settings.inFlight} in flight, pattern ${settings.pattern}${settings.skipRelay ? ', relay skipped' : ''}`,
    );
    messenger = await runTarget('messenger', settings);
    relay = settings.skipRelay ? null : await runTarget('relay', settings);
  }
  let groups: GroupScenarioResult | null = null;
  if (runs('groups')) {
    const g = settings.groups;
    note(
      `bench: groups of ${g.members} (${g.connected} connected) and ${g.small} members, paths ${g.paths.join(', ')}, ` +
        `${g.durationS} s per phase, ${g.rate} msg/s latency phase, ${g.inFlight} in flight${g.relay ? '; then the bare relay, same fan-out' : ''}`,
    );
    const groupsStarted = performance.now();
    const paths: GroupPathResult[] = [];
    for (const path of g.paths) paths.push(await runGroupPath(path, settings));
    // The yardstick runs last: a failure there must not lose the messenger's figures.
    let groupRelay: GroupRelayResult | null = null;
    let relayError: string | undefined;
    if (g.relay) {
      try {
        groupRelay = await runGroupRelay(settings);
      } catch (error) {
        relayError = describe(error);
        note(`bench: the bare relay's group fan-out failed: ${relayError}`);
      }
    }
    groups = summarizeGroups(g, paths, performance.now() - groupsStarted, groupRelay, relayError);
    note(`bench: group scenario done in ${(groups.totalMs / 1000).toFixed(1)} s`);
  }

  let presence: PresenceScenarioResult | null = null;
  if (runs('presence')) presence = await runPresenceScenario(settings);

  const report: BenchReport = {
    generatedAt: new Date().toISOString(),
    command,
    totalMs: Math.round(performance.now() - started),
    config: settings,
    machine: machineInfo(),
    code,
    messenger,
    relay,
    comparison: messenger ? compare(messenger, relay) : null,
    groups,
    presence,
    method: METHOD,
  };
  process.stdout.write(renderText(report));
  const file = writeJson(report, resolve(ROOT, settings.out));
  note(`bench: done in ${(report.totalMs / 1000).toFixed(1)} s; JSON written to ${file}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ServerStartError) note(`bench: the server failed to start.\n${error.message}`);
    else if (error instanceof ConfigError) note(`bench: ${error.message}`);
    else if (error instanceof SignUpError) note(`bench: creating users through the HTTP API failed: ${error.message}`);
    else if (error instanceof GroupSetupError) note(`bench: setting up the groups failed: ${error.message}`);
    else note(`bench: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
