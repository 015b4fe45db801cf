/**
 * Tools of the history scenario (bench/history.ts): message text with a realistic spread of
 * words (so search has selectivity), extra devices of one user, paced and timed HTTP reads that
 * stay under the per-device edge limit, and the figures of one user's tiers read from outside
 * the Worker: its Durable Object's SQLite file (size, and rows per table), its history shard's
 * rows and chunks (D1), and the operators' metrics endpoint.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { OtpResponseSchema, PATHS, RATE_LIMITS, SessionResponseSchema } from '../protocol/index.ts';
import { exampleDevVars } from '../scripts/dev-vars.mjs';
import type { RunningServer } from './server.ts';
import { seededRandom, sleep } from './util.ts';

/** The local operators' token (.dev.vars.example) for GET /v1/metrics. */
export const OPERATOR_TOKEN = exampleDevVars().METRICS_TOKEN!;

// ------------------------------------------------------------------ message text

/** Everyday words, most frequent first: drawn with Zipf weights, so the first ones are common. */
const VOCABULARY = (
  'the to and you a i it is of for that in on we be this are have at with me my so just can will ' +
  'not what do meeting coffee tomorrow project dinner today call later time going get see back ' +
  'now good know think send need want yes ok sure thanks please when where how about maybe still ' +
  'work home lunch morning tonight weekend train office email report plan week again soon sorry ' +
  'problem promise proposal program progress deadline budget review draft update summary summer ' +
  'birthday present party music movie concert ticket trip travel hotel flight station platform ' +
  'contract contact question answer idea picture photo video message phone number address street ' +
  'doctor school teacher garden kitchen window weather rain sunny cold warm coat shoes market bread ' +
  'cheese apple orange banana tea water bottle glass table chair friend family brother sister mother'
).split(' ');

/** Rare tokens: each in about one message in RARE_EVERY (so about 10 hits in 100,000 messages). */
export const RARE_TOKENS = ['zephyrine', 'quillback', 'marzipanic', 'obsidianly', 'fjordwalk'] as const;
const RARE_EVERY = 10_000;

/** The queries searched, by kind (each kind rotates through its list). */
export const QUERIES = {
  common: ['meeting', 'coffee', 'tomorrow', 'project', 'dinner'],
  rare: [...RARE_TOKENS],
  twoWords: ['coffee tomorrow', 'project deadline', 'dinner tonight', 'train station', 'birthday party'],
  prefix: ['pro', 'tra', 'sum', 'bir', 'con'],
} as const;
export type QueryKind = keyof typeof QUERIES | 'commonInChat';

/** Seeded message texts: 3 to 14 words by Zipf weights, a rare token now and then. */
export function textGenerator(seed: number): (i: number) => string {
  const random = seededRandom(seed);
  const weights = VOCABULARY.map((_, rank) => 1 / (rank + 1));
  const cumulative: number[] = [];
  let total = 0;
  for (const w of weights) cumulative.push((total += w));
  const word = (): string => {
    const x = random() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return VOCABULARY[lo]!;
  };
  return () => {
    const words = Array.from({ length: 3 + Math.floor(random() * 12) }, word);
    if (random() < RARE_TOKENS.length / RARE_EVERY) {
      words.splice(Math.floor(random() * words.length), 0, RARE_TOKENS[Math.floor(random() * RARE_TOKENS.length)]!);
    }
    const text = words.join(' ');
    return text.charAt(0).toUpperCase() + text.slice(1);
  };
}

// ------------------------------------------------------------------ devices

async function postJson(base: URL, path: string, body: unknown): Promise<unknown> {
  const response = await fetch(new URL(path, base), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`POST ${path} -> ${response.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as unknown;
}

/** Log in another device of the account with number `phone` (IP_LIMITS=off lifts the waits per number). */
export async function loginDevice(base: URL, phone: string, name: string): Promise<{ token: string; deviceId: string }> {
  const otp = OtpResponseSchema.parse(await postJson(base, PATHS.requestOtp, { phone }));
  if (otp.devCode === undefined) throw new Error('the server did not return devCode: SMS_PROVIDER must be "dev"');
  const session = SessionResponseSchema.parse(
    await postJson(base, PATHS.verifyOtp, { phone: otp.phone, code: otp.devCode, challenge: otp.challenge, deviceName: name, platform: 'cli' }),
  );
  return { token: session.token, deviceId: session.deviceId };
}

// ------------------------------------------------------------------ paced, timed reads

/** Requests per device per window we allow ourselves: the edge limit (RL_API_DEVICE) minus a margin. */
const DEVICE_WINDOW = { limit: RATE_LIMITS.api_device.limit - 20, periodMs: RATE_LIMITS.api_device.periodSeconds * 1000 };

export type ReaderStats = { requests: number; refused: number; pacedMs: number; devices: number; perDeviceWindow: number; windowMs: number };

/**
 * GETs spread over several devices of one user, round robin, each device sending at most
 * DEVICE_WINDOW.limit requests per fixed clock-aligned window (how Miniflare and Cloudflare count
 * the per-device edge limit). Only the request itself is timed, never a pacing wait; a 429 that
 * slips through is counted, waited out and sent again (not timed).
 */
export class Reader {
  readonly #base: URL;
  readonly #devices: Array<{ token: string; window: number; used: number }>;
  #next = 0;
  readonly stats: ReaderStats;

  constructor(base: URL, tokens: readonly string[]) {
    this.#base = base;
    this.#devices = tokens.map((token) => ({ token, window: -1, used: 0 }));
    this.stats = { requests: 0, refused: 0, pacedMs: 0, devices: tokens.length, perDeviceWindow: DEVICE_WINDOW.limit, windowMs: DEVICE_WINDOW.periodMs };
  }

  /** GET `path`; resolves with the parsed body and the request's milliseconds. */
  async get<T>(path: string): Promise<{ body: T; ms: number }> {
    for (;;) {
      const device = await this.#device();
      const t0 = performance.now();
      const response = await fetch(new URL(path, this.#base), {
        headers: { authorization: `Bearer ${device.token}` },
        signal: AbortSignal.timeout(60_000),
      });
      const text = await response.text();
      const ms = performance.now() - t0;
      this.stats.requests++;
      if (response.status === 429) {
        this.stats.refused++;
        const retry = Number(response.headers.get('retry-after') ?? '1');
        await sleep(Math.max(100, retry * 1000));
        continue;
      }
      if (!response.ok) throw new Error(`GET ${path.split('?')[0]} -> ${response.status}: ${text.slice(0, 300)}`);
      return { body: JSON.parse(text) as T, ms };
    }
  }

  async #device(): Promise<{ token: string }> {
    const device = this.#devices[this.#next++ % this.#devices.length]!;
    for (;;) {
      const window = Math.floor(Date.now() / DEVICE_WINDOW.periodMs);
      if (window !== device.window) {
        device.window = window;
        device.used = 0;
      }
      if (device.used < DEVICE_WINDOW.limit) {
        device.used++;
        return device;
      }
      const wait = (window + 1) * DEVICE_WINDOW.periodMs - Date.now() + 30;
      this.stats.pacedMs += wait;
      await sleep(wait);
    }
  }
}

// ------------------------------------------------------------------ one user's tiers, from outside

export type ShardFigures = {
  shard: string;
  warmRows: number;
  /** Characters of the warm rows' JSON. */
  warmBytes: number;
  warmMinSeq: number | null;
  warmMaxSeq: number | null;
  coldChunks: number;
  coldRows: number;
  /** Stored (gzip'd) bytes of the chunks. */
  coldBytes: number;
  coldMinSeq: number | null;
  coldMaxSeq: number | null;
  searchDocs: number;
};

const SHARDS = ['HISTORY_0', 'HISTORY_1'] as const;

/** The owner's rows in the history shards (whichever holds them: the other answers zeros). */
export async function shardFigures(server: RunningServer, owner: string): Promise<ShardFigures> {
  const num = (v: unknown): number => Number(v ?? 0);
  const opt = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
  let best: ShardFigures | null = null;
  for (const shard of SHARDS) {
    const [warm] = await server.queryD1(
      shard,
      'SELECT count(*) AS n, coalesce(sum(length(row)), 0) AS bytes, min(seq) AS lo, max(seq) AS hi FROM history_warm WHERE owner = ?',
      owner,
    );
    const [cold] = await server.queryD1(
      shard,
      'SELECT count(*) AS chunks, coalesce(sum(count), 0) AS n, coalesce(sum(bytes), 0) AS bytes, min(first_seq) AS lo, max(last_seq) AS hi FROM history_chunks WHERE owner = ?',
      owner,
    );
    const [docs] = await server.queryD1(shard, 'SELECT count(*) AS n FROM search_docs WHERE owner = ?', owner);
    const figures: ShardFigures = {
      shard,
      warmRows: num(warm?.n),
      warmBytes: num(warm?.bytes),
      warmMinSeq: opt(warm?.lo),
      warmMaxSeq: opt(warm?.hi),
      coldChunks: num(cold?.chunks),
      coldRows: num(cold?.n),
      coldBytes: num(cold?.bytes),
      coldMinSeq: opt(cold?.lo),
      coldMaxSeq: opt(cold?.hi),
      searchDocs: num(docs?.n),
    };
    if (best === null || figures.warmRows + figures.coldChunks + figures.searchDocs > best.warmRows + best.coldChunks + best.searchDocs) best = figures;
  }
  return best!;
}

export type ObjectFigures = {
  /** The object's SQLite file, bytes (what the 10 GB per-object limit counts, roughly). */
  fileBytes: number;
  /** Its write-ahead log, bytes (checkpointed into the file from time to time). */
  walBytes: number;
  /** Rows of the tables that grow with traffic (null when the file could not be read). */
  rows: Record<string, number> | null;
  /** Bytes per table and index (SQLite dbstat), largest first; null when unavailable. */
  tableBytes: Record<string, number> | null;
  /** Free pages in the file (deleted rows leave them for reuse; the file does not shrink). */
  freePages: number | null;
  pageSize: number | null;
};

function findFile(dir: string, name: string, depth = 0): string | null {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return null;
  }
  for (const e of entries) {
    if (e.isFile() && e.name === name) return join(dir, e.name);
  }
  if (depth >= 5) return null;
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const found = findFile(join(dir, e.name), name, depth + 1);
    if (found) return found;
  }
  return null;
}

const GROWING_TABLES = ['messages', 'group_entries', 'mailbox', 'search_hot', 'archived_chats'];

/** The size of user `owner`'s mailbox object on disk and what fills it. */
export async function objectFigures(server: RunningServer, owner: string): Promise<ObjectFigures> {
  const id = await server.objectId('MAILBOX', owner);
  const file = findFile(server.stateDir, `${id}.sqlite`);
  if (file === null) return { fileBytes: 0, walBytes: 0, rows: null, tableBytes: null, freePages: null, pageSize: null };
  const size = (path: string): number => {
    try {
      return statSync(path).size;
    } catch {
      return 0;
    }
  };
  const out: ObjectFigures = { fileBytes: size(file), walBytes: size(`${file}-wal`), rows: null, tableBytes: null, freePages: null, pageSize: null };
  let db: DatabaseSync | null = null;
  try {
    db = new DatabaseSync(file, { readOnly: true });
    const rows: Record<string, number> = {};
    for (const table of GROWING_TABLES) {
      try {
        rows[table] = Number((db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n);
      } catch {
        // The table does not exist in this schema version.
      }
    }
    out.rows = rows;
    out.freePages = Number((db.prepare('PRAGMA freelist_count').get() as { freelist_count: number }).freelist_count);
    out.pageSize = Number((db.prepare('PRAGMA page_size').get() as { page_size: number }).page_size);
    try {
      const stat = db.prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC').all() as Array<{ name: string; bytes: number }>;
      out.tableBytes = Object.fromEntries(stat.filter((r) => r.bytes >= 64 * 1024).map((r) => [r.name, Number(r.bytes)]));
    } catch {
      // dbstat is not compiled into this SQLite.
    }
  } catch {
    // Unreadable from outside (locked, another format): the sizes alone are reported.
  } finally {
    db?.close();
  }
  return out;
}

/** GET /v1/metrics with the local operator token: the `history` section. */
export async function historyMetrics(server: RunningServer): Promise<unknown> {
  const response = await fetch(new URL(PATHS.metrics, server.url), {
    headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`GET ${PATHS.metrics} -> ${response.status}: ${text.slice(0, 200)}`);
  const body = JSON.parse(text) as { history?: unknown; queues?: Record<string, unknown>; deadLetters?: unknown };
  return { history: body.history ?? null, archiveQueue: body.queues?.['history-archive'] ?? null, deadLetters: body.deadLetters ?? null };
}
