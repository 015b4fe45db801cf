#!/usr/bin/env node
/**
 * `npm run deploy`: check first, then deploy. Stops with the exact list of what is missing
 * (secrets not set on Cloudflare, development switches in wrangler.toml) before anything is
 * changed remotely; then builds the web client, applies the D1 migrations remotely and runs
 * `wrangler deploy`.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'smol-toml';
import { deployProblems } from './deploy-check.mjs';
import { exampleDevVars } from './dev-vars.mjs';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const env = { ...process.env, WRANGLER_SEND_METRICS: 'false' };

function wrangler(args, options = {}) {
  return spawnSync('wrangler', args, { cwd: root, env, encoding: 'utf8', ...options });
}

/** The names of the Worker's secrets on Cloudflare; [] when the Worker does not exist yet. */
function listSecrets() {
  const result = wrangler(['secret', 'list', '--format', 'json']);
  if (result.status === 0) {
    const start = result.stdout.indexOf('[');
    try {
      return JSON.parse(start >= 0 ? result.stdout.slice(start) : '[]');
    } catch {
      // fall through to the error below
    }
  }
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (/not found|does not exist|10007/i.test(output)) return [];
  console.error(`Could not list the Worker's secrets (\`wrangler secret list\`):\n${output.trim()}`);
  console.error('Log in first (`npx wrangler login`) and try again.');
  process.exit(1);
}

const problems = deployProblems(readFileSync(resolve(root, 'wrangler.toml'), 'utf8'), listSecrets(), exampleDevVars());
if (problems.length > 0) {
  console.error('Not deploying: this configuration would not run safely.');
  for (const problem of problems) console.error(`  - ${problem}`);
  console.error('See README.md, "Deploy".');
  process.exit(1);
}
console.log('Secrets and configuration checked.');

const build = spawnSync('npm', ['run', 'build:web'], { cwd: root, env, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
// Every D1 database of wrangler.toml: the accounts database and each history shard.
const databases = parse(readFileSync(resolve(root, 'wrangler.toml'), 'utf8')).d1_databases ?? [];
const migrations = databases.map(({ binding }) => ['d1', 'migrations', 'apply', binding, '--remote']);
for (const args of [...migrations, ['deploy']]) {
  const result = wrangler(args, { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
