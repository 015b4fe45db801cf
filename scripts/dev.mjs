#!/usr/bin/env node
/**
 * Starts the messenger locally under workerd: builds the web client (web/ into web/dist, served
 * as static assets; skipped when web/dist is newer than its sources), writes `.dev.vars` from
 * `.dev.vars.example` on the first run (local secrets and switches; never deployed), applies the
 * D1 migrations to the local state folder, then runs `wrangler dev` on 127.0.0.1. No Cloudflare
 * account, login or network needed.
 *
 *   npm run dev                       # http://127.0.0.1:8787, state in .state/
 *   npm run dev -- --port 9000 --persist-to /tmp/messenger-state
 *   npm run dev -- --var GROUP_DIRECT_FANOUT_MAX:2   # override a wrangler.toml variable
 *   npm run dev -- --faults           # fault injection for the fault checker (lib/faults.ts)
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { parse as parseToml } from 'smol-toml';
import { ensureDevVars } from './dev-vars.mjs';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8787' },
    'persist-to': { type: 'string', default: resolve(root, '.state') },
    var: { type: 'string', multiple: true, default: [] },
    faults: { type: 'boolean', default: false },
  },
});
const persistTo = resolve(values['persist-to']);

/** Keep wrangler quiet, offline and inside the project: no telemetry, no login, no home-folder files. */
export const wranglerEnv = {
  ...process.env,
  WRANGLER_SEND_METRICS: 'false',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  X_LOCAL_OBSERVABILITY: 'false',
  X_LOCAL_EXPLORER: 'false',
  XDG_CONFIG_HOME: resolve(root, '.xdg'),
  TMPDIR: resolve(root, '.tmp'),
  // No interactive prompts (migration confirmation, update nags) even in a terminal.
  CI: 'true',
};
for (const dir of [persistTo, wranglerEnv.XDG_CONFIG_HOME, wranglerEnv.TMPDIR]) mkdirSync(dir, { recursive: true });

function run(args, { wait }) {
  const child = spawn('wrangler', args, { cwd: root, env: wranglerEnv, stdio: 'inherit' });
  if (!wait) return child;
  return new Promise((done, fail) => {
    child.on('error', fail);
    child.on('exit', (code) => (code === 0 ? done() : fail(new Error(`wrangler ${args[0]} exited with ${code}`))));
  });
}

/** Newest modification time of the files under `dirs` (skipping build output and dependencies). */
function newestMtime(dirs) {
  let newest = 0;
  for (const dir of dirs) {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'dist' || entry.name === 'node_modules') continue;
      const path = resolve(dir, entry.name);
      newest = Math.max(newest, entry.isDirectory() ? newestMtime([path]) : statSync(path).mtimeMs);
    }
  }
  return newest;
}

/** Build the web client with Vite (web/vite.config.ts) unless web/dist is up to date. */
async function buildWeb() {
  const webDir = resolve(root, 'web');
  let builtAt = 0;
  try {
    builtAt = statSync(resolve(webDir, 'dist', 'index.html')).mtimeMs;
  } catch {
    // never built
  }
  // The web client bundles the SDK and the protocol module too.
  if (builtAt > newestMtime([webDir, resolve(root, 'client'), resolve(root, 'protocol')])) {
    console.log('Web client: web/dist is up to date.');
    return;
  }
  console.log('Web client: building web/dist ...');
  const started = Date.now();
  const { build } = await import('vite');
  await build({ root: webDir, logLevel: 'warn' });
  console.log(`Web client: built in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
}

ensureDevVars();

try {
  await buildWeb();
} catch (error) {
  console.error(`Could not build the web client (web/): ${error.message}`);
  process.exit(1);
}

/**
 * Apply the D1 migrations of every database in wrangler.toml (accounts and the history shards),
 * one after another: side by side they share wrangler's local state and fail now and then with
 * SQLITE_BUSY. Each `wrangler d1 migrations apply` costs ~3 s even with nothing to apply, so a
 * stamp in the state folder records what was applied; a restart on the same state whose
 * migration files did not change skips the step (a fresh or deleted state folder has no stamp).
 */
async function applyMigrations() {
  const { d1_databases: databases } = parseToml(readFileSync(resolve(root, 'wrangler.toml'), 'utf8'));
  const wanted = Object.fromEntries(
    databases.map(({ binding, migrations_dir: dir = 'migrations' }) => [
      binding,
      readdirSync(resolve(root, dir)).filter((name) => name.endsWith('.sql')).sort(),
    ]),
  );
  const stampPath = resolve(persistTo, 'd1-migrations-applied.json');
  let stamp = {};
  try {
    stamp = JSON.parse(readFileSync(stampPath, 'utf8'));
  } catch {
    // never applied on this state
  }
  if (JSON.stringify(stamp) === JSON.stringify(wanted)) {
    console.log('D1: every migration is applied (stamp in the state folder).');
    return;
  }
  for (const { binding } of databases) {
    await run(['d1', 'migrations', 'apply', binding, '--local', '--persist-to', persistTo], { wait: true });
  }
  writeFileSync(stampPath, JSON.stringify(wanted));
}

try {
  await applyMigrations();
} catch (error) {
  console.error(`Could not apply the D1 migrations: ${error.message}`);
  process.exit(1);
}

// Variables given on the command line only: nothing local-only is ever written to a file that
// could be deployed. `--faults` turns fault injection on (honoured only with LOCAL_DEVELOPMENT=true).
const vars = [...values.var, ...(values.faults ? ['LOCAL_FAULTS:on'] : [])];
for (const v of vars) {
  if (!/^[A-Z][A-Z0-9_]*:/.test(v)) {
    console.error(`--var takes NAME:VALUE (got "${v}")`);
    process.exit(1);
  }
}
const dev = run(
  ['dev', '--ip', '127.0.0.1', '--port', values.port, '--persist-to', persistTo, '--show-interactive-dev-session=false', ...vars.flatMap((v) => ['--var', v])],
  { wait: false },
);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => dev.kill(signal));
dev.on('exit', (code, signal) => process.exit(code ?? (signal ? 0 : 1)));
