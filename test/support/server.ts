/**
 * Starts the real local server for black-box tests, exactly as `npm run dev` does (the same
 * script: local D1 migrations, then `wrangler dev` on 127.0.0.1), on a free port with its own
 * throwaway state folder, and stops it afterwards. Fault runs also kill it hard (SIGKILL to the
 * whole process group: no shutdown, no flush) and start it again on the same port and state,
 * timing each start's phases. SERVER_LOG=<file> appends everything the server prints to a file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
/** Ports tried before giving up when the chosen one was taken meanwhile. */
const PORT_ATTEMPTS = 4;

/** One start, from spawn: when each phase's first log line appeared and when HTTP first answered (ms). */
export type StartTiming = {
  /** `Web client: ...` (dev.mjs checked or built web/dist). */
  webMs?: number;
  /** wrangler's D1 migrations step printed its result. */
  migrationsMs?: number;
  /** `wrangler dev` printed "Ready on". */
  readyMs?: number;
  /** GET /v1/health answered 200. */
  healthyMs: number;
};

export type LocalServer = {
  baseUrl: string;
  /** Every start so far (the first, then one per restart). */
  readonly starts: StartTiming[];
  /** Stop the server (and wait for it), keeping its state folder. */
  stop(): Promise<void>;
  /** SIGKILL the server's whole process group and wait until it is gone (a crash), keeping its state. */
  kill(): Promise<void>;
  /** Start it again on the same port and state (after stop or kill). */
  start(): Promise<StartTiming>;
  /** Start it again on the same port and state: a restart. */
  restart(): Promise<void>;
  /** Stop it and delete its state. */
  dispose(): Promise<void>;
  /**
   * Faults the server injected (`--faults`, lib/faults.ts), counted from its log over every
   * start: what followed "fault injected:" up to the first "(" or end of line → how many times.
   */
  readonly injected: Record<string, number>;
};

export type StartOptions = {
  /** Extra arguments for scripts/dev.mjs, e.g. `['--faults', '--var', 'GROUP_DIRECT_FANOUT_MAX:2']`. */
  args?: string[];
};

const PHASES: Array<[Exclude<keyof StartTiming, 'healthyMs'>, RegExp]> = [
  ['webMs', /Web client:/],
  ['migrationsMs', /No migrations to apply|Migrations? .*applied|✅|every migration is applied/i],
  ['readyMs', /Ready on/i],
];

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => done(port));
    });
  });
}

async function waitHealthy(baseUrl: string, child: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited early (${child.exitCode}):\n${output()}`);
    try {
      // A busy server (devices reconnecting after a restart) must not hold a probe past the deadline.
      const res = await fetch(`${baseUrl}/v1/health`, { signal: AbortSignal.timeout(5_000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server not healthy after ${timeoutMs} ms:\n${output()}`);
}

/**
 * @example
 * const server = await startServer();
 * const client = new MessengerClient({ baseUrl: server.baseUrl });
 * await server.dispose();
 */
/**
 * How long a test server may take to answer its health check. Alone it takes 5-15 s; beside
 * another full test run on two cores the three local D1 migration steps alone took over 60 s.
 */
export const SERVER_START_MS = 150_000;
/** A test file's `beforeAll` that starts a server: the start, and room for what it does after. */
export const SERVER_HOOK_MS = SERVER_START_MS + 30_000;

export async function startServer(timeoutMs = SERVER_START_MS, options: StartOptions = {}): Promise<LocalServer> {
  const extraArgs = options.args ?? [];
  const injected: Record<string, number> = {};
  let port = await freePort();
  const state = mkdtempSync(join(tmpdir(), 'messenger-e2e-'));
  let baseUrl = `http://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  let log = '';

  const starts: StartTiming[] = [];

  const spawnOnce = async (): Promise<StartTiming> => {
    log = '';
    const spawnedAt = Date.now();
    const timing: Partial<StartTiming> = {};
    const running = spawn(process.execPath, ['scripts/dev.mjs', '--port', String(port), '--persist-to', state, ...extraArgs], {
      cwd: ROOT,
      // info: the phase lines ("Ready on", the migrations result) are what starts are timed by.
      env: { ...process.env, WRANGLER_LOG: 'info', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group, so stop() and kill() reach wrangler's workerd children too.
      detached: true,
    });
    child = running;
    // Per stream: the rest of a line a chunk ended inside.
    const partial = { out: '', err: '' };
    const onData = (stream: 'out' | 'err') => (d: Buffer) => {
      const text = d.toString();
      log = (log + text).slice(-8_000);
      // SERVER_LOG=<file>: keep the whole output of every start (debugging a fault run).
      if (process.env.SERVER_LOG) appendFileSync(process.env.SERVER_LOG, text);
      // Whole lines only: a chunk can end inside one.
      const lines = (partial[stream] + text).split('\n');
      partial[stream] = lines.pop() ?? '';
      for (const line of lines) {
        // eslint-disable-next-line no-control-regex -- wrangler colours error lines even with FORCE_COLOR=0
        const fault = /fault injected: ([^(\n]*)/.exec(line.replace(/\x1b\[[0-9;]*m/g, ''))?.[1]?.trim();
        if (fault) injected[fault] = (injected[fault] ?? 0) + 1;
      }
      for (const [phase, pattern] of PHASES) if (timing[phase] === undefined && pattern.test(text)) timing[phase] = Date.now() - spawnedAt;
    };
    running.stdout?.on('data', onData('out'));
    running.stderr?.on('data', onData('err'));
    await waitHealthy(baseUrl, running, () => log.slice(-4000), timeoutMs);
    const done: StartTiming = { ...timing, healthyMs: Date.now() - spawnedAt };
    starts.push(done);
    return done;
  };

  const signal = async (name: 'SIGTERM' | 'SIGKILL') => {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null || running.signalCode !== null || running.pid === undefined) return;
    const exited = new Promise<void>((r) => running.once('exit', () => r()));
    try {
      process.kill(-running.pid, name);
    } catch {
      // already gone
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-running.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 5_000);
    await exited;
    clearTimeout(timer);
  };
  const stop = () => signal('SIGTERM');
  const kill = () => signal('SIGKILL');

  // After a kill the old workerd can hold the port for a moment: a restart on the same port waits and tries again.
  const start = async (): Promise<StartTiming> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await spawnOnce();
      } catch (error) {
        await kill();
        if (attempt >= 5 || !/Address already in use/i.test(log)) throw error;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  };

  // A free port can be taken by another process (another test run beside this one) between the
  // probe and wrangler's bind: then take another one, a few times.
  for (let attempt = 1; ; attempt++) {
    try {
      await spawnOnce();
      break;
    } catch (error) {
      // Whatever went wrong, the server this attempt started must not outlive it.
      await stop();
      if (attempt >= PORT_ATTEMPTS || !/Address already in use/i.test(log)) {
        rmSync(state, { recursive: true, force: true });
        throw error;
      }
      port = await freePort();
      baseUrl = `http://127.0.0.1:${port}`;
    }
  }
  return {
    baseUrl,
    starts,
    injected,
    stop,
    kill,
    start,
    restart: async () => {
      await stop();
      await start();
    },
    dispose: async () => {
      await stop();
      rmSync(state, { recursive: true, force: true });
    },
  };
}
