/**
 * `npm run bench -- --scenario presence`: how fast presence and push work on the real server.
 *
 * - Presence: N watcher/target pairs (contacts both ways). Each watcher watches its target;
 *   the target connects, then disconnects. Measured: from the target's connect (or close) to
 *   the watcher's `presence` frame saying online (or offline).
 * - Push, one at a time: a sender sends to a user with no connected device but a registered
 *   token; measured from the sender's `sent` ack to the push appearing in the local sink
 *   (mailbox -> push queue -> consumer -> provider).
 * - Push burst: one message to each of N offline users at once; time until every push is in
 *   the sink, as pushes per second.
 */
import { PATHS, PresenceFrameSchema, SinkPushListSchema } from '../protocol/index.ts';
import { exampleDevVars } from '../scripts/dev-vars.mjs';
import { connectUrl, signUpUsers, type BenchUser } from './accounts.ts';
import type { BenchConfig } from './config.ts';
import { summarize, type LatencySummary } from './stats.ts';
import { note, progressPrinter, sleep, withTimeout } from './util.ts';
import { TARGETS, withServer } from './target.ts';
import type { RunningServer } from './server.ts';

export type PresenceScenarioResult = {
  pairs: number;
  online: LatencySummary | null;
  offline: LatencySummary | null;
  push: LatencySummary | null;
  burst: { pushes: number; ms: number; perSec: number };
  totalMs: number;
};

/** The local operator token (.dev.vars.example) for the sink. */
const OPERATOR_TOKEN = exampleDevVars().METRICS_TOKEN!;

async function http(base: URL, method: string, path: string, token: string, body?: unknown): Promise<unknown> {
  const res = await fetch(new URL(path, base), {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} -> ${res.status}: ${text.slice(0, 200)}`);
  return text ? (JSON.parse(text) as unknown) : null;
}

/** A raw protocol connection: frames in arrival order, with a way to wait for one. */
class Socket {
  readonly ws: WebSocket;
  #waiters: { match: (f: Record<string, unknown>) => boolean; resolve: (f: Record<string, unknown>) => void }[] = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.addEventListener('message', (event) => {
      const frame = JSON.parse(String(event.data)) as Record<string, unknown>;
      if (typeof frame.seq === 'number') ws.send(JSON.stringify({ type: 'ack', upTo: frame.seq }));
      this.#waiters = this.#waiters.filter((w) => (w.match(frame) ? (w.resolve(frame), false) : true));
    });
  }

  static async open(server: RunningServer, user: BenchUser): Promise<Socket> {
    const ws = new WebSocket(await connectUrl(server.wsBase, user.token));
    const socket = new Socket(ws);
    await withTimeout(socket.next((f) => f.type === 'hello'), 10_000, 'no hello');
    return socket;
  }

  next(match: (f: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  send(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  close(): void {
    this.ws.close(1000, 'bench done');
  }
}

function presenceOf(userId: string, online: boolean) {
  return (f: Record<string, unknown>) => {
    const p = PresenceFrameSchema.safeParse(f);
    return p.success && p.data.userId === userId && p.data.online === online;
  };
}

async function sinkCount(base: URL, userId: string): Promise<number> {
  const page = SinkPushListSchema.parse(await http(base, 'GET', `${PATHS.pushSink}?userId=${userId}`, OPERATOR_TOKEN));
  return page.pushes.length;
}

async function untilPushed(base: URL, userId: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while ((await sinkCount(base, userId)) === 0) {
    if (performance.now() > deadline) throw new Error(`no push for ${userId} within ${timeoutMs} ms`);
    await sleep(2);
  }
}

export async function runPresenceScenario(config: BenchConfig): Promise<PresenceScenarioResult> {
  const pairs = Math.min(config.users, 100);
  return withServer({ ...TARGETS.messenger, stateDir: config.stateDir }, 'presence', async (server) => {
    const started = performance.now();
    const base = server.url;
    const users = await signUpUsers(base, pairs * 3 + 1, config.setupConcurrency, 'presence');
    const watchers = users.slice(0, pairs);
    const targets = users.slice(pairs, 2 * pairs);
    const offline = users.slice(2 * pairs, 3 * pairs);
    const sender = users[3 * pairs]!;

    note(`presence: befriending ${pairs} pairs, registering ${pairs} push tokens`);
    for (let i = 0; i < pairs; i++) {
      await http(base, 'POST', PATHS.contacts, watchers[i]!.token, { phone: targets[i]!.phone });
      await http(base, 'POST', PATHS.contacts, targets[i]!.token, { phone: watchers[i]!.phone });
      await http(base, 'PUT', PATHS.pushToken, offline[i]!.token, { platform: 'fcm', token: `bench-${offline[i]!.userId}` });
    }

    const online: number[] = [];
    const gone: number[] = [];
    const progress = progressPrinter('presence pairs measured', pairs);
    for (let i = 0; i < pairs; i++) {
      const watcher = await Socket.open(server, watchers[i]!);
      const target = targets[i]!;
      const first = watcher.next((f) => f.type === 'presence' && f.userId === target.userId);
      watcher.send({ type: 'presence_watch', users: [target.userId] });
      await withTimeout(first, 10_000, 'no first presence');
      const sawOnline = watcher.next(presenceOf(target.userId, true));
      const t0 = performance.now();
      const t = await Socket.open(server, target);
      await withTimeout(sawOnline, 10_000, 'no online presence');
      online.push(performance.now() - t0);
      const sawOffline = watcher.next(presenceOf(target.userId, false));
      const t1 = performance.now();
      t.close();
      await withTimeout(sawOffline, 10_000, 'no offline presence');
      gone.push(performance.now() - t1);
      watcher.close();
      progress(i + 1);
    }

    note(`presence: ${pairs} pushes one at a time`);
    const s = await Socket.open(server, sender);
    const push: number[] = [];
    const half = Math.floor(pairs / 2);
    for (let i = 0; i < half; i++) {
      const to = offline[i]!;
      const sent = s.next((f) => f.type === 'sent' && f.id === `p${i}`);
      s.send({ type: 'send', id: `p${i}`, to: to.userId, body: { kind: 'text', text: 'ping' } });
      await withTimeout(sent, 10_000, 'no sent');
      const t0 = performance.now();
      await untilPushed(base, to.userId, 10_000);
      push.push(performance.now() - t0);
    }

    const rest = offline.slice(half);
    note(`presence: burst of ${rest.length} pushes`);
    const b0 = performance.now();
    await Promise.all(
      rest.map((to, i) => {
        const sent = s.next((f) => f.type === 'sent' && f.id === `b${i}`);
        s.send({ type: 'send', id: `b${i}`, to: to.userId, body: { kind: 'text', text: 'burst' } });
        return sent;
      }),
    );
    for (const to of rest) await untilPushed(base, to.userId, 30_000);
    const burstMs = performance.now() - b0;
    s.close();

    return {
      pairs,
      online: summarize(online),
      offline: summarize(gone),
      push: summarize(push),
      burst: { pushes: rest.length, ms: Math.round(burstMs), perSec: Math.round((rest.length / burstMs) * 1000) },
      totalMs: Math.round(performance.now() - started),
    };
  });
}

export function renderPresence(result: PresenceScenarioResult): string {
  const row = (label: string, l: LatencySummary | null) =>
    `  ${label.padEnd(40)} ${l ? `p50 ${l.p50.toFixed(1)}  p95 ${l.p95.toFixed(1)}  p99 ${l.p99.toFixed(1)}  max ${l.max.toFixed(1)} ms  (n=${l.count})` : 'no samples'}`;
  return [
    '',
    `Presence and push (${result.pairs} pairs, one at a time; local sink provider)`,
    row('connect -> watcher sees "online"', result.online),
    row('close -> watcher sees "offline"', result.offline),
    row('sent ack -> push in sink', result.push),
    `  push burst: ${result.burst.pushes} offline users at once -> all pushed in ${result.burst.ms} ms (${result.burst.perSec} pushes/s)`,
    '',
  ].join('\n');
}
