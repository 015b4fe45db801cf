/**
 * Runs a Worker locally for the bench, the way that holds the most sockets and adds no hop:
 * bundle it exactly as `wrangler deploy` would (`wrangler deploy --dry-run --outdir`), then run
 * the bundle in Miniflare directly (one workerd process, one fd per WebSocket, real
 * 127.0.0.1 port) with the bindings wrangler derives from the same config file. Durable Object
 * storage is on disk in a scratch folder (so commits fsync as they do under `wrangler dev`;
 * workerd's in-memory DO storage cannot back SQLite objects), removed when the server stops.
 * D1 migrations are applied before the port is handed out. Queue producers and consumers
 * (wrangler.toml `[[queues.*]]`, e.g. the group fan-out queue with max_batch_timeout 0) come
 * from the same derived options, so queued paths run as configured; `bindings` overrides
 * `[vars]` for one run (the group scenario forces a fan-out path that way).
 *
 * (wrangler's `createTestHarness` was tried: it does not apply D1 migrations by itself and
 * puts a proxy workerd in front of the runtime, i.e. one more hop and ~4 fds per socket.)
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare, convertV4MiniflareOptions } from 'miniflare';
import { exampleDevVars } from '../scripts/dev-vars.mjs';
import { workerdPids } from './procfs.ts';
import { withTimeout } from './util.ts';

/** The project root (bench/..). */
export const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

/** Keep wrangler quiet, offline and inside the project (same settings as scripts/dev.mjs). */
const WRANGLER_ENV: Record<string, string> = {
  WRANGLER_SEND_METRICS: 'false',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  X_LOCAL_OBSERVABILITY: 'false',
  X_LOCAL_EXPLORER: 'false',
  XDG_CONFIG_HOME: resolve(ROOT, '.xdg'),
  TMPDIR: resolve(ROOT, '.tmp'),
  CI: 'true',
};

export type ServerOptions = {
  /** Label for progress lines and errors. */
  name: string;
  /** Wrangler config file, relative to the project root. */
  config: string;
  /**
   * Apply every `*.sql` in `dir` (sorted) to the D1 binding `binding` before serving; a list
   * applies each entry (e.g. `migrations` to DB and `migrations-history` to every history shard).
   */
  d1Migrations?: D1Migration | D1Migration[];
  /** Folder (absolute, or relative to the project root) for the scratch state; default .tmp. */
  stateDir?: string;
  /** Replace these `[vars]` for this run (e.g. GROUP_DIRECT_FANOUT_MAX). */
  bindings?: Record<string, string>;
};

export type D1Migration = { binding: string; dir: string };

export type ServerLogs = {
  /** Runtime log lines by level (log, info, warn, error, ...). */
  counts: Record<string, number>;
  /** The first warn/error lines, truncated, for the report. */
  samples: string[];
};

export type RunningServer = {
  name: string;
  /** http://127.0.0.1:PORT/ */
  url: URL;
  /** ws://127.0.0.1:PORT */
  wsBase: string;
  /** Milliseconds from "bundle" to "migrations applied and port open". */
  startMs: number;
  bundleMs: number;
  logs: ServerLogs;
  /** The workerd processes serving this Worker (for memory / CPU sampling). */
  pids: number[];
  /** Call `method(...args)` over RPC on the Durable Object `name` of `binding` (diagnostics, test clocks). */
  callObject(binding: string, name: string, method: string, ...args: unknown[]): Promise<unknown>;
  /** The hex id of the Durable Object `name` of `binding` (its SQLite file is `<id>.sqlite` under the state folder). */
  objectId(binding: string, name: string): Promise<string>;
  /** Run one read statement on the D1 binding `binding` from outside the Worker (bench figures); its rows. */
  queryD1(binding: string, sql: string, ...params: unknown[]): Promise<Array<Record<string, unknown>>>;
  /** The Miniflare state folder (Durable Object SQLite files, D1, R2) of this server. */
  stateDir: string;
  stop(): Promise<void>;
};

export class ServerStartError extends Error {}

const MAX_LOG_SAMPLES = 20;

/**
 * Bundle and start a Worker; resolves when it accepts connections on 127.0.0.1.
 * Throws ServerStartError with the reason (bundle output, runtime error) if it cannot start.
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  for (const [key, value] of Object.entries(WRANGLER_ENV)) process.env[key] ??= value;
  const work = resolve(ROOT, options.stateDir ?? '.tmp', `bench-${process.pid}-${options.name}`);
  try {
    return await launch(options, work);
  } catch (error) {
    removeQuietly(work);
    if (error instanceof ServerStartError) throw error;
    throw new ServerStartError(`${options.name}: could not start: ${describe(error)}`);
  }
}

async function launch(options: ServerOptions, work: string): Promise<RunningServer> {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });

  const t0 = performance.now();
  const outdir = join(work, 'bundle');
  await bundle(options, outdir);
  const scriptPath = entryOf(outdir);
  const bundleMs = performance.now() - t0;

  // Imported lazily: wrangler reads its environment (metrics, config home) at import time.
  const { unstable_getMiniflareWorkerOptions, unstable_splitSqlQuery } = await import('wrangler');
  const configPath = resolve(ROOT, options.config);
  // modulesRules only matter for unbundled sources; the bundle is a single ES module.
  const { modulesRules: _rules, ...workerOptions } = unstable_getMiniflareWorkerOptions(configPath).workerOptions;

  const logs: ServerLogs = { counts: {}, samples: [] };
  const before = new Set(workerdPids());
  let mf: Miniflare;
  try {
    mf = new Miniflare(
      convertV4MiniflareOptions({
        ...workerOptions,
        // Local development's configuration (.dev.vars.example), as `npm run dev` runs.
        bindings: { ...(workerOptions.bindings as Record<string, string> | undefined), ...exampleDevVars(), ...options.bindings },
        modules: true,
        scriptPath,
        // The bundle's own folder: module paths must not climb out of the modules root.
        modulesRoot: outdir,
        host: '127.0.0.1',
        port: 0,
        // Profiling aid: BENCH_INSPECTOR_PORT=9229 exposes the runtime's DevTools protocol.
        ...(process.env.BENCH_INSPECTOR_PORT ? { inspectorPort: Number(process.env.BENCH_INSPECTOR_PORT) } : {}),
        resourcePersistencePath: join(work, 'state'),
        resourceTmpPath: join(work, 'tmp'),
        handleStructuredLogs: (log) => {
          logs.counts[log.level] = (logs.counts[log.level] ?? 0) + 1;
          if ((log.level === 'error' || log.level === 'warn') && logs.samples.length < MAX_LOG_SAMPLES) {
            logs.samples.push(`${log.level}: ${log.message.slice(0, 300)}`);
          }
        },
      }),
    );
  } catch (error) {
    throw new ServerStartError(`${options.name}: Miniflare rejected the options: ${describe(error)}`);
  }

  const stop = async (): Promise<void> => {
    await mf.dispose().catch(() => undefined);
    removeQuietly(work);
  };

  try {
    const url = await withTimeout(mf.ready, 30_000, 'runtime did not become ready');
    const migrations = options.d1Migrations === undefined ? [] : [options.d1Migrations].flat();
    for (const { binding, dir } of migrations) {
      const db = await mf.getD1Database(binding);
      const folder = resolve(ROOT, dir);
      for (const file of readdirSync(folder).filter((f) => f.endsWith('.sql')).sort()) {
        const statements = unstable_splitSqlQuery(readFileSync(join(folder, file), 'utf8'));
        await db.batch(statements.map((sql) => db.prepare(sql)));
      }
    }
    const pids = workerdPids().filter((pid) => !before.has(pid));
    return {
      name: options.name,
      url,
      wsBase: `ws://127.0.0.1:${url.port}`,
      startMs: performance.now() - t0,
      bundleMs,
      logs,
      pids,
      callObject: async (binding, name, method, ...args) => {
        const namespace = await mf.getDurableObjectNamespace(binding);
        const stub = namespace.get(namespace.idFromName(name)) as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
        return stub[method]!(...args);
      },
      objectId: async (binding, name) => (await mf.getDurableObjectNamespace(binding)).idFromName(name).toString(),
      queryD1: async (binding, sql, ...params) => {
        const db = await mf.getD1Database(binding);
        const result = await db.prepare(sql).bind(...params).all<Record<string, unknown>>();
        return result.results;
      },
      stateDir: join(work, 'state'),
      stop,
    };
  } catch (error) {
    await stop();
    throw new ServerStartError(`${options.name}: could not start: ${describe(error)}`);
  }
}

/** `wrangler deploy --dry-run --outdir`: the exact production bundle, no network. */
async function bundle(options: ServerOptions, outdir: string): Promise<void> {
  const wrangler = resolve(ROOT, 'node_modules/wrangler/bin/wrangler.js');
  const args = [wrangler, 'deploy', '--dry-run', '--outdir', outdir, '--config', resolve(ROOT, options.config)];
  const output: string[] = [];
  const code = await new Promise<number | null>((done, fail) => {
    // process.execPath: the Node that runs the bench (22 under npm/npx), which wrangler requires.
    const env = { ...process.env, ...WRANGLER_ENV, NO_COLOR: '1' };
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: 'pipe' });
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), 120_000);
    child.on('error', fail);
    child.on('exit', (exitCode) => {
      clearTimeout(timer);
      done(exitCode);
    });
  });
  if (code !== 0) {
    const tail = output.join('').split('\n').slice(-25).join('\n');
    throw new ServerStartError(`${options.name}: bundling ${options.config} failed (exit ${code}):\n${tail}`);
  }
}

/** Best-effort cleanup: never let it hide the error that made us clean up. */
function removeQuietly(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch {
    // Nothing more to do.
  }
}

/** The bundle's entry module: wrangler names it after `main` (index.js, worker.js, ...). */
function entryOf(outdir: string): string {
  const entry = readdirSync(outdir).find((f) => f.endsWith('.js'));
  if (!entry) throw new ServerStartError(`no .js bundle in ${outdir}`);
  return join(outdir, entry);
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
