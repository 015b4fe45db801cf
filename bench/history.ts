/**
 * `npm run bench -- --scenario history`: the history tiers on the real server (the production
 * bundle in Miniflare; D1 history shards HISTORY_0 and HISTORY_1, local R2, the history-archive
 * queue consumed inside Miniflare), measured on one user's history:
 *
 * 1. Seed: two users exchange `--history-messages` (100,000) text messages over WebSockets
 *    (words of a small vocabulary by Zipf weights plus a few rare tokens, so search has
 *    selectivity). HISTORY_HOT_MESSAGES is 1, so everything but each chat's newest message may
 *    leave the object once it is past the hot window.
 * 2. Pages, all hot: the reading user walks the whole chat, newest first, 50 per page (the walk
 *    also records every seq, to place later pages in their tiers exactly).
 * 3. Search, all hot: common word, rare word, two words, a prefix, a common word within the chat.
 * 4. Archive hot -> warm: `historyTick(now + 8 days)` on the user's object until every row but the
 *    newest left and the shard has them all (each tick sends one batch through the queue; the
 *    next waits for its confirmation); then warm -> cold: `historyTick(boundary + 90 days, true)`
 *    with the boundary the send time of the middle message, so about half goes to R2.
 * 5. Pages per tier (all warm, all cold, straddling warm/cold, the newest page straddling
 *    hot/warm) and search again (warm + cold), each page checked against the walk's seqs.
 * 6. Storage rounds: send `--history-round-messages`, archive them, move the previous round cold;
 *    after each, the object's SQLite file, rows per table, and the owner's warm and cold rows.
 *
 * Page and search requests are spread over several devices of the reading user (logged in before
 * the seed, so their history floor is 0) and paced under the per-device edge limit
 * (RL_API_DEVICE: 300 requests per 10 s per device). The send and search budgets are raised with
 * RATE_LIMITS for this run so the load is not throttled. Prints a table; writes
 * bench/results/history.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PATHS, type HistoryPage, type SearchPage } from '../protocol/index.ts';
import { Probe } from './abuse-kit.ts';
import { signUpUsers, type BenchUser } from './accounts.ts';
import type { BenchConfig, HistoryConfig } from './config.ts';
import {
  QUERIES,
  Reader,
  historyMetrics,
  loginDevice,
  objectFigures,
  shardFigures,
  textGenerator,
  type ObjectFigures,
  type QueryKind,
  type ReaderStats,
  type ShardFigures,
} from './history-kit.ts';
import { exchange, type SeedResult } from './history-seed.ts';
import { TARGETS } from './target.ts';
import { machineInfo, type BenchReport } from './report.ts';
import type { RunningServer, ServerLogs, ServerOptions } from './server.ts';
import { int, ms, round, summarize, type LatencySummary } from './stats.ts';
import { table } from './table.ts';
import { withServer } from './target.ts';
import { note, seededRandom, sleep } from './util.ts';

const DAY = 86_400_000;
const PAGE = 50;
/** Budgets raised for this run (protocol/rate-limits.ts; the RATE_LIMITS variable). */
const UNTHROTTLED = { burst: 10_000_000, refill: 10_000_000, everyMs: 1_000 };
const RATE_LIMIT_OVERRIDES = { send_device: UNTHROTTLED, send_user: UNTHROTTLED, search_user: UNTHROTTLED };

const SERVER: ServerOptions = {
  ...TARGETS.messenger,
  name: 'history',
  bindings: { HISTORY_HOT_MESSAGES: '1', RATE_LIMITS: JSON.stringify(RATE_LIMIT_OVERRIDES) },
};

export type TierMove = {
  /** Rows that left the tier. */
  rows: number;
  ms: number;
  perSec: number;
  /** hot -> warm: batches sent through the queue; warm -> cold: R2 chunks written. */
  batches: number;
  ticks: number;
};

export type PageSet = { label: string; pages: number; rows: number; latency: LatencySummary | null; mismatches: number };
export type SearchSet = { kind: QueryKind; queries: string[]; searches: number; hitsPerPage: number; latency: LatencySummary | null };

export type StorageRound = {
  round: number;
  /** Messages in the chat so far (both directions: the reading user's object holds a copy of each). */
  messagesTotal: number;
  sendPerSec: number;
  archive: TierMove;
  cold: TierMove;
  object: ObjectFigures;
  shard: ShardFigures;
  metrics: unknown;
};

export type HistoryScenarioResult = {
  generatedAt: string;
  command: string;
  totalMs: number;
  machine: BenchReport['machine'];
  code: BenchReport['code'];
  config: HistoryConfig;
  server: { bundleMs: number; startMs: number; logs: ServerLogs; bindings: Record<string, string> };
  seed: SeedResult;
  /** The walk of the whole chat before archiving: rows read, and whether they came newest first without a gap or repeat. */
  walk: { rows: number; pages: number; ordered: boolean; ms: number };
  archive: TierMove;
  cold: TierMove & { boundaryAt: number; boundarySeq: number };
  tiersAfter: { object: ObjectFigures; shard: ShardFigures };
  pages: PageSet[];
  searchBefore: SearchSet[];
  searchAfter: SearchSet[];
  rounds: StorageRound[];
  reader: ReaderStats;
  method: string;
};

const METHOD =
  'One server (the production bundle in Miniflare; DO storage, D1 and R2 on disk in the state folder), two users, one chat. ' +
  'Latencies: one HTTP request at a time from Node, from the request to the parsed answer (paging waits for the per-device edge limit are never timed). ' +
  'Archive rows/s = rows that left the tier / wall time from the first historyTick to the shard holding them all (hot -> warm, through the history-archive queue) or of the one historyTick that moved them (warm -> cold). ' +
  'Object size = its SQLite file (+ WAL) on disk; warm and cold rows counted in the shard (D1) by owner.';

export function historyBudgetMs(h: HistoryConfig): number {
  return 300_000 + (h.messages + h.rounds * h.roundMessages) * 6 + (h.pages * 5 + h.searches * 10) * 200 + h.messages * 2;
}

type Ctx = { server: RunningServer; reader: Reader; owner: BenchUser; peer: BenchUser };

// ------------------------------------------------------------------ archive moves

async function tick(server: RunningServer, owner: string, now: number, forceCold = false): Promise<{ sent: number; cold: { chunks: number; rows: number } }> {
  return (await server.callObject('MAILBOX', owner, 'historyTick', now, forceCold)) as { sent: number; cold: { chunks: number; rows: number } };
}

/**
 * hot -> warm: tick until `expected` rows were sent and the shard holds every row sent (the
 * consumer writes the shard, then confirms to the object; the next tick sends the next batch).
 * Stops early if nothing moves for 20 s (then `rows` says what did).
 */
async function archiveAll(server: RunningServer, owner: string, warmBefore: number, expected: number, label: string): Promise<TierMove> {
  const now = Date.now() + 8 * DAY;
  const t0 = performance.now();
  let rows = 0;
  let batches = 0;
  let ticks = 0;
  let lastMove = t0;
  let lastNote = t0;
  let stored = 0;
  for (;;) {
    const { sent } = await tick(server, owner, now);
    ticks++;
    if (sent > 0) {
      rows += sent;
      batches++;
      lastMove = performance.now();
    } else {
      if (rows >= expected) {
        stored = (await shardFigures(server, owner)).warmRows - warmBefore;
        if (stored >= rows) {
          // One more tick: the last batch's confirmation arrived if nothing is in flight.
          const again = await tick(server, owner, now);
          ticks++;
          if (again.sent === 0) break;
          rows += again.sent;
          batches++;
        }
      }
      if (performance.now() - lastMove > 20_000) {
        note(`history: ${label}: nothing moved for 20 s, stopping at ${rows}/${expected}`);
        break;
      }
      await sleep(2);
    }
    if (performance.now() - lastNote > 5_000) {
      lastNote = performance.now();
      note(`history: ${label}: ${rows}/${expected} rows sent in ${batches} batches (${Math.round(rows / ((lastNote - t0) / 1000))} rows/s)`);
    }
  }
  const took = performance.now() - t0;
  return { rows: stored || rows, ms: Math.round(took), perSec: Math.round(((stored || rows) / took) * 1000), batches, ticks };
}

async function moveCold(server: RunningServer, owner: string, boundaryAt: number): Promise<TierMove> {
  const t0 = performance.now();
  const { cold } = await tick(server, owner, boundaryAt + 90 * DAY, true);
  const took = performance.now() - t0;
  return { rows: cold.rows, ms: Math.round(took), perSec: Math.round((cold.rows / took) * 1000), batches: cold.chunks, ticks: 1 };
}

// ------------------------------------------------------------------ pages

const historyPath = (peer: string, before: number | undefined, limit: number): string =>
  `${PATHS.history(peer)}?limit=${limit}${before === undefined ? '' : `&before=${before}`}`;

/** Walk the whole chat newest first: every seq and send time, and each page's latency. */
async function walk(ctx: Ctx): Promise<{ seqs: number[]; at: number[]; times: number[]; ordered: boolean; ms: number }> {
  const seqs: number[] = [];
  const at: number[] = [];
  const times: number[] = [];
  let before: number | undefined;
  let ordered = true;
  const t0 = performance.now();
  let lastNote = t0;
  for (;;) {
    const { body, ms: took } = await ctx.reader.get<HistoryPage>(historyPath(ctx.peer.userId, before, PAGE));
    times.push(took);
    for (const item of body.messages) {
      if (seqs.length > 0 && item.seq >= seqs[seqs.length - 1]!) ordered = false;
      seqs.push(item.seq);
      at.push(item.message.sentAt);
    }
    if (body.nextBefore === null || body.messages.length === 0) break;
    before = body.nextBefore;
    if (performance.now() - lastNote > 5_000) {
      lastNote = performance.now();
      note(`history: walked ${seqs.length} rows in ${times.length} pages`);
    }
  }
  return { seqs, at, times, ordered, ms: Math.round(performance.now() - t0) };
}

/** Time `count` pages starting at positions `start()` of the newest-first seq list; each checked against it. */
async function timePages(ctx: Ctx, label: string, seqs: readonly number[], count: number, start: () => number): Promise<PageSet> {
  const times: number[] = [];
  let mismatches = 0;
  let rows = 0;
  for (let n = 0; n < count; n++) {
    const i = start();
    const before = i === 0 ? undefined : seqs[i - 1]!;
    const { body, ms: took } = await ctx.reader.get<HistoryPage>(historyPath(ctx.peer.userId, before, PAGE));
    times.push(took);
    rows += body.messages.length;
    const want = seqs.slice(i, i + PAGE);
    const got = body.messages.map((m) => m.seq);
    if (got.length !== want.length || got.some((s, k) => s !== want[k])) mismatches++;
  }
  return { label, pages: count, rows, latency: summarize(times), mismatches };
}

// ------------------------------------------------------------------ search

async function timeSearches(ctx: Ctx, count: number): Promise<SearchSet[]> {
  const kinds: Array<{ kind: QueryKind; queries: readonly string[]; chat: boolean }> = [
    { kind: 'common', queries: QUERIES.common, chat: false },
    { kind: 'rare', queries: QUERIES.rare, chat: false },
    { kind: 'twoWords', queries: QUERIES.twoWords, chat: false },
    { kind: 'prefix', queries: QUERIES.prefix, chat: false },
    { kind: 'commonInChat', queries: QUERIES.common, chat: true },
  ];
  const out: SearchSet[] = [];
  for (const { kind, queries, chat } of kinds) {
    const times: number[] = [];
    let hits = 0;
    for (let n = 0; n < count; n++) {
      const q = queries[n % queries.length]!;
      const path = `${PATHS.search}?q=${encodeURIComponent(q)}&limit=20${chat ? `&peer=${ctx.peer.userId}` : ''}`;
      const { body, ms: took } = await ctx.reader.get<SearchPage>(path);
      times.push(took);
      hits += body.hits.length;
    }
    out.push({ kind, queries: [...queries], searches: count, hitsPerPage: round(hits / count, 1), latency: summarize(times) });
  }
  return out;
}

// ------------------------------------------------------------------ the run

export async function runHistoryScenario(config: BenchConfig, command: string, code: BenchReport['code']): Promise<HistoryScenarioResult> {
  const started = performance.now();
  const h = config.history;
  note(`history: bundling and starting the messenger (HISTORY_HOT_MESSAGES=1, send/search budgets raised) ...`);
  return withServer({ ...SERVER, stateDir: config.stateDir }, '[history]', async (server) => {
    const [owner, peer] = (await signUpUsers(server.url, 2, 2, 'history users')) as [BenchUser, BenchUser];
    // Reader devices log in before anything is sent: their history floor is 0, they see it all.
    const readers: string[] = [];
    for (let d = 0; d < h.devices; d++) readers.push((await loginDevice(server.url, owner.phone, `history reader ${d}`)).token);
    const reader = new Reader(server.url, readers);
    const ctx: Ctx = { server, reader, owner, peer };
    const a = await Probe.open(server, owner.token);
    const b = await Probe.open(server, peer.token);
    const sides = { a: { probe: a, userId: owner.userId }, b: { probe: b, userId: peer.userId } };
    const text = textGenerator(config.seed);
    try {
      note(`history: seeding ${int(h.messages)} messages, ${h.window} in flight each way ...`);
      const seed = await exchange(sides.a, sides.b, h.messages, h.window, text, 's', Math.max(120_000, h.messages * 12));

      note('history: walking the whole chat (all hot) ...');
      const walked = await walk(ctx);
      const seqs = walked.seqs;
      note(`history: ${seqs.length} rows in ${walked.times.length} pages, ${walked.ordered ? 'newest first, no repeats' : 'OUT OF ORDER'}`);
      const hotPages: PageSet = { label: 'all hot (before archiving; the whole chat)', pages: walked.times.length, rows: seqs.length, latency: summarize(walked.times), mismatches: walked.ordered ? 0 : 1 };

      note(`history: ${h.searches} searches per kind, all hot ...`);
      const searchBefore = await timeSearches(ctx, h.searches);

      note('history: archiving hot -> warm ...');
      const archive = await archiveAll(server, owner.userId, 0, seqs.length - 1, 'hot -> warm');
      note(`history: hot -> warm: ${archive.rows} rows in ${(archive.ms / 1000).toFixed(1)} s (${archive.perSec} rows/s, ${archive.batches} batches)`);

      // The boundary: the send time of the middle message (by position); older ones go cold.
      const middle = Math.floor(seqs.length / 2);
      const boundaryAt = walked.at[middle]!;
      note('history: moving warm -> cold (older half) ...');
      const coldMove = await moveCold(server, owner.userId, boundaryAt);
      note(`history: warm -> cold: ${coldMove.rows} rows in ${coldMove.batches} chunks, ${(coldMove.ms / 1000).toFixed(1)} s (${coldMove.perSec} rows/s)`);
      const shard = await shardFigures(server, owner.userId);
      const object = await objectFigures(server, owner.userId);

      // Place each row in its tier: above the warm range hot, in it warm, below it cold.
      const warmLo = shard.warmMinSeq ?? Number.POSITIVE_INFINITY;
      const warmHi = shard.warmMaxSeq ?? Number.NEGATIVE_INFINITY;
      const tierOf = (seq: number): 'hot' | 'warm' | 'cold' => (seq > warmHi ? 'hot' : seq >= warmLo ? 'warm' : 'cold');
      const tiers = seqs.map(tierOf);
      const pageTiers = (i: number): Set<string> => new Set(tiers.slice(i, i + PAGE));
      const starts = { warm: [] as number[], cold: [] as number[], warmCold: [] as number[], hotWarm: [] as number[] };
      for (let i = 0; i + PAGE <= seqs.length; i++) {
        const t = pageTiers(i);
        if (t.size === 1 && t.has('warm')) starts.warm.push(i);
        else if (t.size === 1 && t.has('cold')) starts.cold.push(i);
        else if (t.has('warm') && t.has('cold') && !t.has('hot')) starts.warmCold.push(i);
        else if (t.has('hot') && t.has('warm')) starts.hotWarm.push(i);
      }
      const random = seededRandom(config.seed + 1);
      const pick = (list: number[]) => (): number => list[Math.floor(random() * list.length)]!;
      note(`history: ${h.pages} pages per tier (warm ${starts.warm.length}, cold ${starts.cold.length} possible starts) ...`);
      const pages: PageSet[] = [hotPages];
      if (starts.warm.length) pages.push(await timePages(ctx, 'all warm (D1)', seqs, h.pages, pick(starts.warm)));
      if (starts.cold.length) pages.push(await timePages(ctx, 'all cold (R2 chunks)', seqs, h.pages, pick(starts.cold)));
      if (starts.warmCold.length) pages.push(await timePages(ctx, 'straddling warm / cold', seqs, h.pages, pick(starts.warmCold)));
      if (starts.hotWarm.length) pages.push(await timePages(ctx, 'newest page: hot row + warm', seqs, h.pages, pick(starts.hotWarm)));

      note(`history: ${h.searches} searches per kind, warm + cold ...`);
      const searchAfter = await timeSearches(ctx, h.searches);

      const rounds: StorageRound[] = [];
      let total = seqs.length;
      rounds.push({
        round: 0,
        messagesTotal: total,
        sendPerSec: seed.perSec,
        archive,
        cold: coldMove,
        object,
        shard,
        metrics: await historyMetrics(server),
      });
      for (let r = 1; r <= h.rounds; r++) {
        note(`history: storage round ${r}/${h.rounds}: ${int(h.roundMessages)} messages ...`);
        const roundStart = Date.now();
        const sent = await exchange(sides.a, sides.b, h.roundMessages, h.window, (i) => text(i), `r${r}`, Math.max(60_000, h.roundMessages * 12));
        total += sent.sent;
        const warmBefore = (await shardFigures(server, owner.userId)).warmRows;
        const moved = await archiveAll(server, owner.userId, warmBefore, sent.sent, `round ${r} hot -> warm`);
        // Everything sent before this round goes cold; this round stays warm.
        const cold = await moveCold(server, owner.userId, roundStart);
        const figures: StorageRound = {
          round: r,
          messagesTotal: total,
          sendPerSec: sent.perSec,
          archive: moved,
          cold,
          object: await objectFigures(server, owner.userId),
          shard: await shardFigures(server, owner.userId),
          metrics: await historyMetrics(server),
        };
        rounds.push(figures);
        note(
          `history: round ${r}: object ${(figures.object.fileBytes / 1048576).toFixed(1)} MiB (+WAL ${(figures.object.walBytes / 1048576).toFixed(1)}), ` +
            `hot rows ${figures.object.rows?.messages ?? '?'}, warm ${figures.shard.warmRows}, cold ${figures.shard.coldRows}`,
        );
      }
      return {
        generatedAt: new Date().toISOString(),
        command,
        totalMs: Math.round(performance.now() - started),
        machine: machineInfo(),
        code,
        config: h,
        server: { bundleMs: Math.round(server.bundleMs), startMs: Math.round(server.startMs), logs: server.logs, bindings: SERVER.bindings ?? {} },
        seed,
        walk: { rows: seqs.length, pages: walked.times.length, ordered: walked.ordered, ms: walked.ms },
        archive,
        cold: { ...coldMove, boundaryAt, boundarySeq: seqs[middle]! },
        tiersAfter: { object, shard },
        pages,
        searchBefore,
        searchAfter,
        rounds,
        reader: reader.stats,
        method: METHOD,
      };
    } finally {
      a.close();
      b.close();
    }
  });
}

// ------------------------------------------------------------------ the report

const MiB = (bytes: number): string => (bytes / 1048576).toFixed(1);

function latencyCells(l: LatencySummary | null): string[] {
  return [ms(l?.p50), ms(l?.p90), ms(l?.p99), ms(l?.max), int(l?.count)];
}

export function renderHistory(result: HistoryScenarioResult): string {
  const { machine, code, seed, archive, cold } = result;
  const moves = table(
    ['throughput', 'rows', 'seconds', 'rows/s', 'batches / chunks'],
    [
      [`seed: messages sent over 2 WebSockets (${result.config.window} in flight each way)`, int(seed.sent), (seed.ms / 1000).toFixed(1), int(seed.perSec), '-'],
      ['archive hot -> warm (queue -> D1 -> confirm)', int(archive.rows), (archive.ms / 1000).toFixed(1), int(archive.perSec), int(archive.batches)],
      ['archive warm -> cold (D1 -> gzip -> R2)', int(cold.rows), (cold.ms / 1000).toFixed(1), int(cold.perSec), int(cold.batches)],
    ],
  );
  const pages = table(
    [`history page (${PAGE} rows), ms`, 'p50', 'p90', 'p99', 'max', 'n', 'wrong pages'],
    result.pages.map((p): [string, ...string[]] => [p.label, ...latencyCells(p.latency), int(p.mismatches)]),
  );
  const label: Record<QueryKind, string> = {
    common: 'common word',
    rare: 'rare word',
    twoWords: 'two words',
    prefix: 'prefix',
    commonInChat: 'common word, in the chat',
  };
  const searchRows: Array<[string, ...string[]]> = [];
  for (const [phase, sets] of [
    ['all hot', result.searchBefore],
    ['warm + cold', result.searchAfter],
  ] as const) {
    for (const s of sets) searchRows.push([`${label[s.kind]} (${phase})`, ...latencyCells(s.latency), String(s.hitsPerPage)]);
  }
  const search = table([`search over ${int(result.walk.rows)} messages, ms`, 'p50', 'p90', 'p99', 'max', 'n', 'hits/page'], searchRows);
  const storage = table(
    ['round', 'messages', 'send msg/s', 'moved/s', 'object MiB', 'WAL MiB', 'free pages', 'hot rows', 'sync log', 'warm rows', 'cold rows', 'chunks', 'cold MiB', 'search docs'],
    result.rounds.map((r): [string, ...string[]] => [
      String(r.round),
      int(r.messagesTotal),
      int(r.sendPerSec),
      int(r.archive.perSec),
      MiB(r.object.fileBytes),
      MiB(r.object.walBytes),
      int(r.object.freePages),
      int(r.object.rows?.messages),
      int(r.object.rows?.mailbox),
      int(r.shard.warmRows),
      int(r.shard.coldRows),
      int(r.shard.coldChunks),
      MiB(r.shard.coldBytes),
      int(r.shard.searchDocs),
    ]),
  );
  const last = result.rounds.at(-1);
  const breakdown = last?.object.tableBytes
    ? `Object file by table after round ${last.round} (dbstat, >= 64 KiB): ${Object.entries(last.object.tableBytes)
        .map(([name, bytes]) => `${name} ${MiB(bytes)} MiB`)
        .join(', ')}`
    : null;
  const metricsLine = last ? metricsSummary(last.metrics) : null;
  const r = result.reader;
  const errors = result.server.logs.counts['error'] ?? 0;
  return [
    '',
    `History tiers (${(result.totalMs / 1000).toFixed(0)} s in all; shard ${result.tiersAfter.shard.shard}; HISTORY_HOT_MESSAGES=1)`,
    `${machine.cpus} x ${machine.cpuModel}, Node ${machine.node}; code: commit ${code.commit ?? 'unknown'}` +
      (code.uncommitted.length ? ` plus uncommitted changes (${code.uncommitted.length} files)` : ''),
    '',
    moves,
    seed.truncated ? `Seed stopped by its time bound at ${int(seed.sent)} of ${int(seed.requested)} messages.` : '',
    `Walk before archiving: ${int(result.walk.rows)} rows in ${int(result.walk.pages)} pages, ${result.walk.ordered ? 'newest first with no gap or repeat' : 'NOT in order'}. ` +
      `Warm -> cold boundary: seq ${result.cold.boundarySeq} (${new Date(result.cold.boundaryAt).toISOString()}).`,
    '',
    pages,
    '',
    search,
    '',
    storage,
    ...(breakdown ? [breakdown] : []),
    ...(metricsLine ? [`GET /v1/metrics after round ${last!.round}: ${metricsLine}`] : []),
    `"sync log" = the object's mailbox entries (what devices resume from), kept MAILBOX_RETENTION_DAYS (30) whatever the history tier.`,
    '',
    `Requests: ${int(r.requests)} page/search requests over ${r.devices} devices, paced at ${r.perDeviceWindow} per device per ${r.windowMs / 1000} s ` +
      `(RL_API_DEVICE 300/10 s); ${int(r.refused)} refused 429; ${(r.pacedMs / 1000).toFixed(1)} s spent waiting for a window (not timed).`,
    `Seed refusals: rate_limited ${seed.rateLimited}, other ${JSON.stringify(seed.errors)}, duplicates ${seed.duplicates}.`,
    ...(errors ? [`Server logged ${errors} errors; first: ${result.server.logs.samples.slice(0, 3).join(' / ')}`] : []),
    '',
  ].join('\n');
}

type ShardGauge = { warmRows: number; coldChunks: number; coldMessages: number; coldBytes: number; searchDocs: number } | null;
type MetricsPart = {
  history: { hot: { messages: number; mailboxes: number }; shards: Record<string, ShardGauge> } | null;
  archiveQueue: { backlog: number } | null;
  deadLetters: Record<string, number> | null;
};

/** One line of the operators' view (all users of this server: the two bench users). */
function metricsSummary(raw: unknown): string | null {
  const m = raw as MetricsPart;
  if (!m.history) return null;
  const shards = Object.entries(m.history.shards)
    .map(([name, g]) => (g ? `${name} warm ${int(g.warmRows)} / cold ${int(g.coldMessages)} in ${int(g.coldChunks)} chunks / ${int(g.searchDocs)} search docs` : `${name} unavailable`))
    .join('; ');
  const dead = m.deadLetters ? Object.values(m.deadLetters).reduce((a, b) => a + Number(b), 0) : 0;
  return (
    `hot ${int(m.history.hot.messages)} rows in ${int(m.history.hot.mailboxes)} archiving mailbox(es); ${shards}; ` +
    `history-archive backlog ${m.archiveQueue ? int(m.archiveQueue.backlog) : 'n/a'}; dead letters ${dead}`
  );
}

export function writeHistoryJson(result: HistoryScenarioResult, path: string): string {
  const file = resolve(path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}
