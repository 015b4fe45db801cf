/**
 * Tools of the abuse scenario (bench/abuse.ts): HTTP calls that say which client (IP) they come
 * from and keep the refusal's code instead of throwing, sign-ups each from an address of its own,
 * fresh phone numbers, a raw protocol socket that counts what it receives, and a count of the
 * Durable Object SQLite files on disk. Everything talks to the local server only.
 */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import WebSocket from 'ws';
import { HEARTBEAT_INTERVAL_MS, HEARTBEAT_PING, OtpResponseSchema, PATHS, SessionResponseSchema } from '../protocol/index.ts';
import { connectUrl } from './accounts.ts';
import { ROOT, type RunningServer } from './server.ts';
import { mapPool, progressPrinter, sleep, withTimeout } from './util.ts';

/** One replayed finding: the figure, what one client achieves now, and the raw counts. */
export type Finding = {
  id: number;
  title: string;
  /** The "before" figure, quoted. */
  before: string;
  /** What this run measured, in words. */
  now: string;
  /** Whether what one client achieved stayed within the documented limits (null: not a limit question). */
  bounded: boolean | null;
  data: Record<string, unknown>;
};

/** One HTTP answer, whatever its status: the refusal is the measurement. */
export type Reply = {
  status: number;
  /** `error.code` of an error body, else null. */
  code: string | null;
  retryAfterMs: number | null;
  message: string;
  body: unknown;
  headers: Headers;
};

export type CallOptions = {
  /** Bearer token. */
  token?: string;
  /** Sent as CF-Connecting-IP; without it Miniflare sets the socket's address (127.0.0.1). */
  ip?: string;
  body?: unknown;
};

/** A request to the local server; never throws for an HTTP status (only for a dead socket or a 15 s timeout). */
export async function call(base: URL, method: string, path: string, options: CallOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.ip !== undefined) headers['cf-connecting-ip'] = options.ip;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(new URL(path, base), {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? (JSON.parse(text) as unknown) : null;
  } catch {
    body = text.slice(0, 200);
  }
  const error = (body as { error?: { code?: string; message?: string; retryAfterMs?: number } } | null)?.error;
  return {
    status: response.status,
    code: error?.code ?? null,
    retryAfterMs: error?.retryAfterMs ?? null,
    message: error?.message ?? '',
    body,
    headers: response.headers,
  };
}

/** Tally of outcomes ("200", "429 rate_limited", ...), in first-seen order. */
export function tally(keys: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of keys) out[key] = (out[key] ?? 0) + 1;
  return out;
}

export const outcome = (r: Reply): string => (r.code === null ? String(r.status) : `${r.status} ${r.code}`);

/** `{ "200": 5, "429 rate_limited": 295 }` as `200 x5, 429 rate_limited x295`. */
export function showTally(counts: Record<string, number>): string {
  const entries = Object.entries(counts);
  return entries.length ? entries.map(([k, n]) => `${k} x${n}`).join(', ') : 'none';
}

/** A documentation-range IPv6 address per index: distinct clients for the per-IP limits; nothing is sent there. */
export const fakeIp = (n: number): string => `2001:db8::${(n + 1).toString(16)}`;

/**
 * Fresh German mobile numbers (+49 151 and 8 digits) for one run: each account in a block of
 * 1,000 of its own (code requests are limited per block), away from earlier runs' numbers.
 */
export class NumberPlan {
  readonly #base = Math.floor(Math.random() * 80_000);
  #nextAccount = 0;
  #nextSpare = 10_000;

  static format(block: number, suffix: number): string {
    return `+49151${String(block).padStart(5, '0')}${String(suffix).padStart(3, '0')}`;
  }

  /** A number for a new account: always suffix 500 of the next block. */
  account(): string {
    return NumberPlan.format(this.#base + this.#nextAccount++, 500);
  }

  /** A number nobody signed up with, in a block of its own. */
  spare(): string {
    return NumberPlan.format(this.#base + this.#nextSpare++, 123);
  }

  /** `count` consecutive numbers starting 50 below the first account's number (so the range holds it). */
  sequential(count: number): string[] {
    const first = (this.#base * 1000 + 450) % 100_000_000;
    return Array.from({ length: count }, (_, k) => {
      const n = first + k;
      return NumberPlan.format(Math.floor(n / 1000), n % 1000);
    });
  }
}

export type Account = { userId: string; token: string; phone: string; ip: string; name: string };

let ipCounter = 1_000;

/** Sign up `count` accounts through the API, each from an address of its own (the sign-up limit is per IP). */
export async function signUpFrom(base: URL, plan: NumberPlan, count: number, name: string, concurrency: number): Promise<Account[]> {
  const progress = progressPrinter(`abuse: signed up (${name})`, count, 2_000);
  let done = 0;
  const phones = Array.from({ length: count }, () => plan.account());
  const ips = Array.from({ length: count }, () => fakeIp(ipCounter++));
  return mapPool(count, concurrency, async (i) => {
    const phone = phones[i]!;
    const ip = ips[i]!;
    const otp = await call(base, 'POST', PATHS.requestOtp, { ip, body: { phone } });
    if (otp.status !== 200) throw new Error(`sign-up ${name} ${i}: code request -> ${outcome(otp)} ${otp.message}`);
    const { challenge, devCode } = OtpResponseSchema.parse(otp.body);
    if (devCode === undefined) throw new Error('the server did not return devCode: SMS_PROVIDER must be "dev"');
    const verify = await call(base, 'POST', PATHS.verifyOtp, {
      ip,
      body: { phone, code: devCode, challenge, deviceName: `abuse ${name} ${i}`, platform: 'cli' },
    });
    if (verify.status !== 200) throw new Error(`sign-up ${name} ${i}: verify -> ${outcome(verify)} ${verify.message}`);
    const session = SessionResponseSchema.parse(verify.body);
    progress(++done);
    return { userId: session.userId, token: session.token, phone, ip, name: `${name}${i}` };
  });
}

export type Frame = { type: string; [key: string]: unknown };

/**
 * A raw protocol connection that counts: bytes and frames received, frames by type, error frames
 * by code. It acks mailbox entries (coalesced) unless `autoAck` is off, and heartbeats.
 */
export class Probe {
  readonly ws: WebSocket;
  bytes = 0;
  frames = 0;
  autoAck = true;
  readonly types = new Map<string, number>();
  readonly errors = new Map<string, number>();
  /** Called for every frame received (after counting). */
  onFrame: ((frame: Frame, now: number) => void) | null = null;
  #highestSeq = 0;
  #acked = 0;
  #ackTimer: NodeJS.Timeout | null = null;
  readonly #heartbeat: NodeJS.Timeout;
  #waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data: Buffer, isBinary: boolean) => this.#receive(isBinary ? '' : data.toString(), data.length));
    ws.on('error', () => undefined);
    this.#heartbeat = setInterval(() => this.#write(HEARTBEAT_PING), HEARTBEAT_INTERVAL_MS);
    this.#heartbeat.unref();
  }

  static async open(server: RunningServer, token: string): Promise<Probe> {
    const ws = new WebSocket(await connectUrl(server.wsBase, token), { perMessageDeflate: false, handshakeTimeout: 15_000 });
    const probe = new Probe(ws);
    try {
      await withTimeout(probe.next((f) => f.type === 'hello'), 15_000, 'no hello');
    } catch (error) {
      probe.close();
      ws.terminate();
      throw error;
    }
    return probe;
  }

  count(type: string): number {
    return this.types.get(type) ?? 0;
  }

  errorCount(code: string): number {
    return this.errors.get(code) ?? 0;
  }

  /** Forget what was counted so far (a finding's window starts). */
  reset(): void {
    this.bytes = 0;
    this.frames = 0;
    this.types.clear();
    this.errors.clear();
  }

  next(match: (f: Frame) => boolean): Promise<Frame> {
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  send(frame: object): void {
    this.#write(JSON.stringify(frame));
  }

  close(): void {
    clearInterval(this.#heartbeat);
    if (this.#ackTimer) clearTimeout(this.#ackTimer);
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000, 'bench done');
  }

  #write(text: string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(text);
  }

  #receive(text: string, size: number): void {
    const now = performance.now();
    this.bytes += size;
    this.frames++;
    let frame: Frame;
    try {
      frame = JSON.parse(text) as Frame;
    } catch {
      return;
    }
    this.types.set(frame.type, (this.types.get(frame.type) ?? 0) + 1);
    if (frame.type === 'error') this.errors.set(String(frame.code), (this.errors.get(String(frame.code)) ?? 0) + 1);
    if (typeof frame.seq === 'number') {
      this.#highestSeq = Math.max(this.#highestSeq, frame.seq);
      if (this.autoAck) this.#ackTimer ??= setTimeout(() => this.#ack(), 5);
    }
    this.onFrame?.(frame, now);
    if (this.#waiters.length) this.#waiters = this.#waiters.filter((w) => (w.match(frame) ? (w.resolve(frame), false) : true));
  }

  #ack(): void {
    this.#ackTimer = null;
    if (!this.autoAck || this.#highestSeq <= this.#acked) return;
    this.#acked = this.#highestSeq;
    this.send({ type: 'ack', upTo: this.#acked });
  }
}

/** Poll `done` every 20 ms until it holds or `timeoutMs` passes; says whether it held. */
export async function waitUntil(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

/** Wait until `value()` has not changed for `quietMs` (or `timeoutMs` passed); answers the last change's time. */
export async function settle(value: () => number, quietMs: number, timeoutMs: number): Promise<number> {
  const start = performance.now();
  let last = value();
  let changedAt = start;
  while (performance.now() - changedAt < quietMs && performance.now() - start < timeoutMs) {
    await sleep(20);
    const v = value();
    if (v !== last) {
      last = v;
      changedAt = performance.now();
    }
  }
  return changedAt;
}

/**
 * Edge limits count in fixed windows aligned to the clock (Miniflare as Cloudflare): a burst that
 * straddles a boundary gets two windows. Wait for the next window if fewer than `needMs` are left.
 */
export async function avoidWindowEdge(periodS: number, needMs: number): Promise<void> {
  const left = periodS * 1000 - (Date.now() % (periodS * 1000));
  if (left < needMs) await sleep(left + 50);
}

/**
 * The server's Durable Object SQLite files (one per object), per class folder: Miniflare keeps
 * them under the state folder bench/server.ts gives it (`<stateDir>/bench-<pid>-<name>/state`).
 */
export function objectFiles(server: RunningServer, stateDir: string): Record<string, number> | null {
  const root = join(resolve(ROOT, stateDir, `bench-${process.pid}-${server.name}`, 'state'));
  const out: Record<string, number> = {};
  const walk = (dir: string, depth: number): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory() && depth < 4) walk(join(dir, e.name), depth + 1);
      // One file per object; each class folder also holds Miniflare's own metadata.sqlite.
      else if (e.isFile() && e.name.endsWith('.sqlite') && e.name !== 'metadata.sqlite') {
        const folder = dir.slice(root.length + 1) || '.';
        out[folder] = (out[folder] ?? 0) + 1;
      }
    }
  };
  walk(root, 0);
  return Object.keys(out).length ? out : null;
}
