/**
 * The local development configuration: `.dev.vars` (git-ignored; wrangler dev reads it) is
 * written from the committed `.dev.vars.example` when it does not exist yet, so a fresh clone
 * runs with no set-up. Also parses the example for the test configuration.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const DEV_VARS = resolve(root, '.dev.vars');
export const DEV_VARS_EXAMPLE = resolve(root, '.dev.vars.example');

/** Write .dev.vars from the example unless it exists (never overwrites the developer's file). */
export function ensureDevVars() {
  try {
    // 'wx': fails if the file exists, so two servers starting at once cannot clobber each other.
    writeFileSync(DEV_VARS, readFileSync(DEV_VARS_EXAMPLE, 'utf8'), { flag: 'wx' });
    console.log('Local configuration: wrote .dev.vars from .dev.vars.example.');
  } catch (error) {
    if (error.code !== 'EEXIST') throw error;
  }
}

/**
 * KEY=VALUE lines of a dotenv file (comments and blank lines skipped; optional quotes removed).
 *
 * @example
 * parseDotenv('A=1\n# note\nB="two"') // { A: '1', B: 'two' }
 */
export function parseDotenv(text) {
  const vars = {};
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match || line.trimStart().startsWith('#')) continue;
    vars[match[1]] = match[2].replace(/^(["'])(.*)\1$/, '$2');
  }
  return vars;
}

/** The example's variables (what local development and the tests run with). */
export function exampleDevVars() {
  return parseDotenv(readFileSync(DEV_VARS_EXAMPLE, 'utf8'));
}
