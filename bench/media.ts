/**
 * `npm run bench -- --scenario media`: media on the real server (Miniflare, local R2), over the
 * raw HTTP and WebSocket protocol, one thing at a time so each figure is a latency, not a queue.
 *
 * - Upload MB/s through the Worker route: 1 MiB single-PUT uploads (the PUT only, and slot + PUT),
 *   then 40 MiB uploads in parts (R2 multipart; parts PUT a few at a time, then complete).
 * - Time to first thumbnail: the sender sends an image message with an inline thumbnail (its
 *   upload done beforehand); from the `send` frame to the recipient's `message` frame.
 * - Full image: from the same `send` to the recipient's download (GET /v1/media/:id) fully read.
 * - Dedup: a slot request for bytes the user already uploaded (answered `deduplicated: true`),
 *   next to a fresh slot request.
 * - Baseline in the same run: a plain text message, send -> recipient, on the messenger and on
 *   the bare relay (unless --skip-relay).
 *
 * A measurement, not a test: prints a table and writes bench/results/media.json.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { MediaSlotResponseSchema, PATHS, type MediaSlotRequest, type MediaUpload } from '../protocol/index.ts';
import { connectUrl, signUpUsers, type BenchUser } from './accounts.ts';
import type { BenchConfig } from './config.ts';
import { machineInfo, type BenchReport } from './report.ts';
import type { RunningServer, ServerLogs } from './server.ts';
import { round, summarize, type LatencySummary } from './stats.ts';
import { table } from './table.ts';
import { TARGETS, withServer } from './target.ts';
import { mapPool, note, withTimeout } from './util.ts';

const MiB = 1024 * 1024;
const SINGLE_UPLOADS = 20;
const SINGLE_BYTES = 1 * MiB;
const LARGE_UPLOADS = 2;
const LARGE_BYTES = 40 * MiB;
/** Parts of a multipart upload in flight at once (the SDK default, MediaApiOptions.partConcurrency). */
const PART_CONCURRENCY = 2;
const MESSAGES = 30;
const IMAGE_BYTES = 256 * 1024;
/** About what a real 6 KB JPEG preview takes in base64. */
const THUMBNAIL_BYTES = 6_000;
const WAIT_MS = 30_000;

/** MB/s figures of a set of uploads. */
export type Throughput = {
  uploads: number;
  bytesEach: number;
  /** How the server took them: 'single' (one PUT) or 'multipart'. */
  mode: string;
  /** Per upload, MiB/s. */
  p50: number;
  min: number;
  max: number;
  /** All bytes / all upload time, MiB/s. */
  overall: number;
  /** Upload time per file, ms. */
  ms: LatencySummary | null;
  /** Of that, the complete call (assembling and verifying the parts), ms; null for single PUTs. */
  completeMs: LatencySummary | null;
};

export type MediaScenarioResult = {
  generatedAt: string;
  command: string;
  totalMs: number;
  machine: BenchReport['machine'];
  code: BenchReport['code'];
  server: { bundleMs: number; startMs: number; logs: ServerLogs };
  single: Throughput;
  /** The same uploads with the slot request included. */
  singleWithSlot: Throughput;
  large: Throughput;
  thumbnail: LatencySummary | null;
  fullImage: LatencySummary | null;
  imageBytes: number;
  dedup: LatencySummary | null;
  freshSlot: LatencySummary | null;
  text: LatencySummary | null;
  relayText: LatencySummary | null;
  method: string;
};

const METHOD =
  'One server (the production bundle in Miniflare, local R2 on disk), two users, everything sequential (one request or message at a time) except the parts of one multipart upload. ' +
  `MiB/s = bytes / (first byte sent -> upload answered). Messages: clock starts when the send frame is written, stops at the recipient's message frame (thumbnail) or when its download of the ${IMAGE_BYTES / 1024} KiB image is read to the end (full image).`;

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function call(url: string | URL, init: RequestInit & { token?: string }): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.token !== undefined) headers.set('authorization', `Bearer ${init.token}`);
  const res = await fetch(url, { ...init, headers, signal: AbortSignal.timeout(120_000) });
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${String(url).split('?')[0]} -> ${res.status}: ${(await res.text()).slice(0, 200)}`);
  return res;
}

async function slot(base: URL, user: BenchUser, request: MediaSlotRequest) {
  const res = await call(new URL(PATHS.media, base), {
    method: 'POST',
    token: user.token,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(request),
  });
  return MediaSlotResponseSchema.parse(await res.json());
}

/** Send `bytes` as the slot's upload says: one PUT, or parts then complete; resolves with the complete call's ms (0 if none). */
async function upload(spec: MediaUpload, bytes: Uint8Array<ArrayBuffer>): Promise<number> {
  const complete = async (url: string): Promise<number> => {
    const t0 = performance.now();
    await (await call(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).arrayBuffer();
    return performance.now() - t0;
  };
  if (spec.mode === 'single') {
    await (await call(spec.url, { method: 'PUT', headers: spec.headers, body: bytes })).arrayBuffer();
    return spec.completeUrl === undefined ? 0 : complete(spec.completeUrl);
  }
  await mapPool(spec.partCount, PART_CONCURRENCY, async (i) => {
    const part = bytes.subarray(i * spec.partSize, Math.min(bytes.length, (i + 1) * spec.partSize));
    await (await call(spec.partUrls[i]!, { method: 'PUT', headers: spec.headers, body: part })).arrayBuffer();
  });
  return complete(spec.completeUrl);
}

type Uploaded = { mediaId: string; request: MediaSlotRequest; uploadMs: number; totalMs: number; completeMs: number; mode: string };

/** Upload fresh random bytes; times the upload alone and slot + upload. */
async function uploadFresh(base: URL, user: BenchUser, kind: 'document' | 'image', mime: string, bytes: Uint8Array<ArrayBuffer>): Promise<Uploaded> {
  const request: MediaSlotRequest = { kind, mime, size: bytes.length, sha256: sha256(bytes) };
  const t0 = performance.now();
  const answer = await slot(base, user, request);
  if (answer.deduplicated) throw new Error('fresh random bytes were answered as deduplicated');
  const t1 = performance.now();
  const completeMs = await upload(answer.upload, bytes);
  const t2 = performance.now();
  return { mediaId: answer.mediaId, request, uploadMs: t2 - t1, totalMs: t2 - t0, completeMs, mode: answer.upload.mode };
}

function throughput(bytesEach: number, uploads: readonly Uploaded[], time: (u: Uploaded) => number): Throughput {
  const times = uploads.map(time);
  const mode = uploads[0]?.mode ?? '-';
  const rates = times.map((ms) => bytesEach / MiB / (ms / 1000)).sort((a, b) => a - b);
  const total = times.reduce((a, b) => a + b, 0);
  return {
    uploads: times.length,
    bytesEach,
    mode,
    p50: round(rates[Math.ceil(rates.length / 2) - 1] ?? NaN, 1),
    min: round(rates[0] ?? NaN, 1),
    max: round(rates.at(-1) ?? NaN, 1),
    overall: round((bytesEach * times.length) / MiB / (total / 1000), 1),
    ms: summarize(times),
    completeMs: mode === 'multipart' ? summarize(uploads.map((u) => u.completeMs)) : null,
  };
}

type Frame = Record<string, unknown> & { type?: unknown };

/** A raw protocol socket: acks mailbox frames, resolves waiters on matching frames. */
class Socket {
  readonly #ws: WebSocket;
  #waiters: Array<{ match: (f: Frame) => boolean; resolve: (f: Frame) => void }> = [];

  private constructor(ws: WebSocket, ack: boolean) {
    this.#ws = ws;
    ws.addEventListener('message', (event) => {
      const frame = JSON.parse(String(event.data)) as Frame;
      if (ack && typeof frame.seq === 'number') ws.send(JSON.stringify({ type: 'ack', upTo: frame.seq }));
      this.#waiters = this.#waiters.filter((w) => (w.match(frame) ? (w.resolve(frame), false) : true));
    });
  }

  static async open(url: string, ack: boolean): Promise<Socket> {
    const socket = new Socket(new WebSocket(url), ack);
    await withTimeout(socket.next((f) => f.type === 'hello'), 10_000, 'no hello');
    return socket;
  }

  next(match: (f: Frame) => boolean): Promise<Frame> {
    return withTimeout(new Promise<Frame>((resolve) => this.#waiters.push({ match, resolve })), WAIT_MS, 'frame did not arrive');
  }

  send(frame: unknown): void {
    this.#ws.send(JSON.stringify(frame));
  }

  close(): void {
    this.#ws.close(1000, 'bench done');
  }
}

function messageWithClientId(id: string) {
  return (f: Frame): boolean => f.type === 'message' && (f.message as { clientId?: unknown } | undefined)?.clientId === id;
}

/** Send → recipient's frame, one message at a time; `after` runs once it arrived (and is timed too). */
async function timeMessages(
  from: Socket,
  to: Socket,
  count: number,
  frame: (i: number, id: string) => unknown,
  after?: (i: number) => Promise<void>,
): Promise<{ arrived: number[]; finished: number[] }> {
  const arrived: number[] = [];
  const finished: number[] = [];
  for (let i = 0; i < count; i++) {
    const id = `m${i}-${Date.now().toString(36)}`;
    const seen = to.next(messageWithClientId(id));
    const acked = from.next((f) => f.type === 'sent' && f.id === id);
    const t0 = performance.now();
    from.send(frame(i, id));
    await seen;
    arrived.push(performance.now() - t0);
    if (after !== undefined) {
      await after(i);
      finished.push(performance.now() - t0);
    }
    await acked;
  }
  return { arrived, finished };
}

async function relayTextLatency(config: BenchConfig): Promise<LatencySummary | null> {
  if (config.skipRelay) return null;
  note('media: the bare relay, for the text baseline ...');
  return withServer({ ...TARGETS.relay, stateDir: config.stateDir }, '[relay]', async (server) => {
    const a = await Socket.open(`${server.wsBase}/connect?user=a`, false);
    const b = await Socket.open(`${server.wsBase}/connect?user=b`, false);
    const times: number[] = [];
    for (let i = 0; i < MESSAGES; i++) {
      const id = `r${i}`;
      const seen = b.next((f) => f.type === 'send' && f.id === id);
      const t0 = performance.now();
      a.send({ type: 'send', id, to: 'b', body: { kind: 'text', text: 'baseline' } });
      await seen;
      times.push(performance.now() - t0);
    }
    a.close();
    b.close();
    return summarize(times);
  });
}

export async function runMediaScenario(config: BenchConfig, command: string, code: BenchReport['code']): Promise<MediaScenarioResult> {
  const started = performance.now();
  note('media: bundling and starting the messenger ...');
  const measured = await withServer({ ...TARGETS.messenger, stateDir: config.stateDir }, '[messenger]', (server) => measure(server));
  const relayText = await relayTextLatency(config);
  return {
    generatedAt: new Date().toISOString(),
    command,
    totalMs: Math.round(performance.now() - started),
    machine: machineInfo(),
    code,
    ...measured,
    relayText,
    method: METHOD,
  };
}

type Measured = Omit<MediaScenarioResult, 'generatedAt' | 'command' | 'totalMs' | 'machine' | 'code' | 'relayText' | 'method'>;

async function measure(server: RunningServer): Promise<Measured> {
  const base = server.url;
  const [alice, bob] = (await signUpUsers(base, 2, 2, 'media users')) as [BenchUser, BenchUser];

  note(`media: ${SINGLE_UPLOADS} x ${SINGLE_BYTES / MiB} MiB single-PUT uploads ...`);
  const singles: Uploaded[] = [];
  for (let i = 0; i < SINGLE_UPLOADS; i++) singles.push(await uploadFresh(base, alice, 'document', 'application/octet-stream', randomBytes(SINGLE_BYTES)));

  note(`media: ${LARGE_UPLOADS} x ${LARGE_BYTES / MiB} MiB uploads (parts, ${PART_CONCURRENCY} at a time) ...`);
  const large: Uploaded[] = [];
  for (let i = 0; i < LARGE_UPLOADS; i++) large.push(await uploadFresh(base, alice, 'document', 'application/octet-stream', randomBytes(LARGE_BYTES)));

  note(`media: ${MESSAGES} dedup answers and ${MESSAGES} fresh slots ...`);
  const dedup: number[] = [];
  const fresh: number[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    const t0 = performance.now();
    const answer = await slot(base, alice, singles[i % singles.length]!.request);
    dedup.push(performance.now() - t0);
    if (!answer.deduplicated) throw new Error('bytes uploaded before were not answered as deduplicated');
    const bytes = randomBytes(1024);
    const t1 = performance.now();
    await slot(base, alice, { kind: 'document', mime: 'application/octet-stream', size: bytes.length, sha256: sha256(bytes) });
    fresh.push(performance.now() - t1);
  }

  note(`media: ${MESSAGES} image messages (uploads first, then one message at a time) ...`);
  const images: Uploaded[] = [];
  for (let i = 0; i < MESSAGES; i++) images.push(await uploadFresh(base, alice, 'image', 'image/png', randomBytes(IMAGE_BYTES)));
  const thumbnail = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(THUMBNAIL_BYTES - 4)]).toString('base64');
  const a = await Socket.open(await connectUrl(server.wsBase, alice.token), true);
  const b = await Socket.open(await connectUrl(server.wsBase, bob.token), true);
  try {
    const download = async (i: number): Promise<void> => {
      const res = await call(new URL(PATHS.mediaItem(images[i]!.mediaId), base), { token: bob.token });
      const got = new Uint8Array(await res.arrayBuffer());
      if (got.length !== IMAGE_BYTES) throw new Error(`downloaded ${got.length} bytes, expected ${IMAGE_BYTES}`);
    };
    const imageRun = await timeMessages(
      a,
      b,
      MESSAGES,
      (i, id) => {
        const { mediaId, request } = images[i]!;
        const body = { kind: 'image', media: { id: mediaId, mime: request.mime, size: request.size }, caption: `bench ${i}`, thumbnail, width: 640, height: 480 };
        return { type: 'send', id, to: bob.userId, body };
      },
      download,
    );

    note(`media: ${MESSAGES} text messages for the baseline ...`);
    const textRun = await timeMessages(a, b, MESSAGES, (i, id) => ({ type: 'send', id, to: bob.userId, body: { kind: 'text', text: `baseline ${i}` } }));

    return {
      server: { bundleMs: Math.round(server.bundleMs), startMs: Math.round(server.startMs), logs: server.logs },
      single: throughput(SINGLE_BYTES, singles, (u) => u.uploadMs),
      singleWithSlot: throughput(SINGLE_BYTES, singles, (u) => u.totalMs),
      large: throughput(LARGE_BYTES, large, (u) => u.uploadMs),
      thumbnail: summarize(imageRun.arrived),
      fullImage: summarize(imageRun.finished),
      imageBytes: IMAGE_BYTES,
      dedup: summarize(dedup),
      freshSlot: summarize(fresh),
      text: summarize(textRun.arrived),
    };
  } finally {
    a.close();
    b.close();
  }
}

function latencyRow(label: string, l: LatencySummary | null, baseline: LatencySummary | null): [string, ...string[]] {
  const f = (v: number | undefined): string => (v === undefined ? '-' : v.toFixed(1));
  const ratio = l && baseline && baseline.p50 > 0 ? `${(l.p50 / baseline.p50).toFixed(1)} x` : '';
  return [label, f(l?.p50), f(l?.p95), f(l?.max), String(l?.count ?? 0), ratio];
}

function throughputRow(label: string, t: Throughput): [string, ...string[]] {
  const complete = t.completeMs === null ? '-' : t.completeMs.p50.toFixed(0);
  return [label, t.mode, t.p50.toFixed(1), t.min.toFixed(1), t.max.toFixed(1), t.overall.toFixed(1), (t.ms?.p50 ?? NaN).toFixed(0), complete];
}

/** The report: uploads (MiB/s) and latencies (ms), with ratios against the text message. */
export function renderMedia(result: MediaScenarioResult): string {
  const { machine, code } = result;
  const uploads = table(
    ['upload through the Worker', 'mode', 'MiB/s p50', 'min', 'max', 'overall', 'ms p50', 'of it complete'],
    [
      throughputRow(`${result.single.uploads} x ${result.single.bytesEach / MiB} MiB, PUT only`, result.single),
      throughputRow(`${result.single.uploads} x ${result.single.bytesEach / MiB} MiB, slot + PUT`, result.singleWithSlot),
      throughputRow(`${result.large.uploads} x ${result.large.bytesEach / MiB} MiB, ${PART_CONCURRENCY} parts at a time`, result.large),
    ],
  );
  const latencies = table(
    ['latency, ms', 'p50', 'p95', 'max', 'n', 'vs text p50'],
    [
      latencyRow('text message send -> recipient (baseline)', result.text, result.text),
      latencyRow('text message on the bare relay', result.relayText, result.text),
      latencyRow('image message send -> recipient (thumbnail)', result.thumbnail, result.text),
      latencyRow(`send -> recipient downloaded ${result.imageBytes / 1024} KiB`, result.fullImage, result.text),
      latencyRow('slot request, bytes already uploaded (dedup)', result.dedup, result.text),
      latencyRow('slot request, new bytes', result.freshSlot, result.text),
    ],
  );
  const errors = result.server.logs.counts['error'] ?? 0;
  return [
    '',
    `Media (local R2; ${(result.totalMs / 1000).toFixed(0)} s in all)`,
    `${machine.cpus} x ${machine.cpuModel}, Node ${machine.node}; code: commit ${code.commit ?? 'unknown'}` +
      (code.uncommitted.length ? ` plus uncommitted changes (${code.uncommitted.join(', ')})` : ''),
    '',
    uploads,
    '',
    latencies,
    ...(errors ? [`Server logged ${errors} errors; first: ${result.server.logs.samples.slice(0, 3).join(' / ')}`] : []),
    '',
  ].join('\n');
}

export function writeMediaJson(result: MediaScenarioResult, path: string): string {
  const file = resolve(path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}
