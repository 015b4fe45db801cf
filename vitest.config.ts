/**
 * Two test projects:
 * - `runtime`: inside workerd via the Cloudflare plugin (D1, Durable Objects, real bindings);
 * - `node`: SDK unit tests and black-box end-to-end tests that start the real local server.
 */
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { exampleDevVars } from './scripts/dev-vars.mjs';

const migrationsDir = fileURLToPath(new URL('./migrations', import.meta.url));
const historyMigrationsDir = fileURLToPath(new URL('./migrations-history', import.meta.url));

export default defineConfig({
  test: {
    // The dev SMS provider logs every code; that is noise in test output.
    onConsoleLog: (log: string) => !log.includes('[dev sms]'),
    projects: [
      {
        plugins: [
          cloudflareTest(async () => ({
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              bindings: {
                TEST_MIGRATIONS: await readD1Migrations(migrationsDir),
                TEST_HISTORY_MIGRATIONS: await readD1Migrations(historyMigrationsDir),
                // Local development's configuration (.dev.vars.example: dev secrets, dev SMS
                // provider, push sink), whether or not a .dev.vars exists yet ...
                ...exampleDevVars(),
                // ... but with the per-IP limits on, so they are tested: test helpers give each
                // sign-up its own CF-Connecting-IP.
                IP_LIMITS: 'on',
                // Groups of more than two members take the queue path in tests (but for one
                // recently active member, called directly), so small groups exercise every path.
                GROUP_DIRECT_FANOUT_MAX: '2',
                GROUP_DIRECT_HOT_MAX: '1',
                GROUP_FANOUT_MEMBERS_PER_JOB: '2',
                // Groups of 7 or more members switch to read diffusion (large-groups.test.ts);
                // the other tests' groups stay below that.
                GROUP_LOG_DELIVERY_MIN: '6',
                // History: keep only the newest message of each chat hot (plus the last 7 days,
                // which tests pass by moving the clock), so small chats exercise every tier.
                HISTORY_HOT_MESSAGES: '1',
              },
            },
          })),
        ],
        test: {
          name: 'runtime',
          include: ['test/runtime/**/*.test.ts'],
          setupFiles: ['./test/runtime/setup.ts'],
          // Waits inside tests are bounded by what they wait for; this only catches a hang. Two
          // suites side by side on two cores made 5 s tests take 7-10 s.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'node',
          environment: 'node',
          include: ['test/unit/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
          // e2e files each start a server; two cores, so keep files sequential.
          fileParallelism: false,
        },
      },
    ],
  },
});
