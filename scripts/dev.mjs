#!/usr/bin/env node
/**
 * Starts the messenger locally under workerd: applies the D1 migrations to the local state
 * folder, then runs `wrangler dev` on 127.0.0.1. No Cloudflare account, login or network needed.
 *
 *   npm run dev                       # http://127.0.0.1:8787, state in .state/
 *   npm run dev -- --port 9000 --persist-to /tmp/messenger-state
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8787' },
    'persist-to': { type: 'string', default: resolve(root, '.state') },
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

try {
  await run(['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persistTo], { wait: true });
} catch (error) {
  console.error(`Could not apply the D1 migrations: ${error.message}`);
  process.exit(1);
}

const dev = run(
  ['dev', '--ip', '127.0.0.1', '--port', values.port, '--persist-to', persistTo, '--show-interactive-dev-session=false'],
  { wait: false },
);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => dev.kill(signal));
dev.on('exit', (code, signal) => process.exit(code ?? (signal ? 0 : 1)));
