/**
 * Starts the real local server for black-box tests, exactly as `npm run dev` does (the same
 * script: local D1 migrations, then `wrangler dev` on 127.0.0.1), on a free port with its own
 * throwaway state folder, and stops it afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
/** Ports tried before giving up when the chosen one was taken meanwhile. */
const PORT_ATTEMPTS = 4;

export type LocalServer = {
  baseUrl: string;
  /** Stop the server (and wait for it), keeping its state folder. */
  stop(): Promise<void>;
  /** Start it again on the same port and state: a restart. */
  restart(): Promise<void>;
  /** Stop it and delete its state. */
  dispose(): Promise<void>;
};

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
      // A busy server must not hold a probe past the deadline.
      const res = await fetch(`${baseUrl}/v1/health`, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`server not healthy after ${timeoutMs} ms:\n${output()}`);
}

/**
 * @example
 * const server = await startServer();
 * const client = new MessengerClient({ baseUrl: server.baseUrl });
 * await server.dispose();
 */
export async function startServer(timeoutMs = 60_000): Promise<LocalServer> {
  let port = await freePort();
  const state = mkdtempSync(join(tmpdir(), 'messenger-e2e-'));
  let baseUrl = `http://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  let log = '';

  const start = async () => {
    log = '';
    child = spawn(process.execPath, ['scripts/dev.mjs', '--port', String(port), '--persist-to', state], {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_LOG: 'warn', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group, so stop() reaches wrangler's workerd children too.
      detached: true,
    });
    child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    await waitHealthy(baseUrl, child, () => log.slice(-4000), timeoutMs);
  };

  const stop = async () => {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null || running.pid === undefined) return;
    const exited = new Promise<void>((r) => running.once('exit', () => r()));
    process.kill(-running.pid, 'SIGTERM');
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

  // A free port can be taken by another process (another test run beside this one) between the
  // probe and wrangler's bind: then take another one, a few times.
  for (let attempt = 1; ; attempt++) {
    try {
      await start();
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
    stop,
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
