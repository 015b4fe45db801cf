/**
 * The configuration that ships: wrangler.toml carries no secret and no development switch, its
 * rate-limit bindings match the protocol's table, and `npm run deploy` stops with the list of
 * missing secrets before it changes anything remotely.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { RATE_LIMITS } from '../../protocol/index.ts';
import { deploymentProblems, PUBLISHED_DEV_SECRETS, REQUIRED_SECRETS } from '../../worker/config.ts';
import { deployProblems, requiredSecrets } from '../../scripts/deploy-check.mjs';
import { exampleDevVars, parseDotenv } from '../../scripts/dev-vars.mjs';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const tomlText = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8');
type Config = {
  vars: Record<string, string>;
  secrets: { required: string[] };
  ratelimits: Array<{ name: string; namespace_id: string; simple: { limit: number; period: number } }>;
};
const config = parse(tomlText) as unknown as Config;

describe('wrangler.toml', () => {
  it('declares no secret and no development value as a plain variable', () => {
    for (const name of REQUIRED_SECRETS) expect(config.vars).not.toHaveProperty(name);
    for (const value of Object.values(config.vars)) expect(PUBLISHED_DEV_SECRETS.has(value)).toBe(false);
    expect(config.vars).toMatchObject({ LOCAL_DEVELOPMENT: 'false', IP_LIMITS: 'on', SMS_PROVIDER: 'webhook', PUSH_MODE: 'live' });
    expect(deployProblems(tomlText, [...REQUIRED_SECRETS, 'SMS_WEBHOOK_URL', 'SMS_WEBHOOK_TOKEN'].map((name) => ({ name })), exampleDevVars())).toEqual([]);
  });

  it('lists as required exactly the secrets the Worker refuses to run without', () => {
    expect([...config.secrets.required].sort()).toEqual([...REQUIRED_SECRETS].sort());
  });

  it('has one rate-limit binding per edge limit of the protocol table, with the same limit and period', () => {
    const edge = Object.values(RATE_LIMITS).filter((l) => l.kind === 'edge');
    expect(config.ratelimits.map((r) => r.name).sort()).toEqual(edge.map((l) => l.binding).sort());
    for (const limit of edge) {
      const binding = config.ratelimits.find((r) => r.name === limit.binding);
      expect(binding?.simple).toEqual({ limit: limit.limit, period: limit.periodSeconds });
    }
    const namespaces = config.ratelimits.map((r) => r.namespace_id);
    expect(new Set(namespaces).size).toBe(namespaces.length);
  });
});

describe('the local development configuration (.dev.vars.example)', () => {
  it('is what makes development values acceptable, and only with LOCAL_DEVELOPMENT=true', () => {
    const local = exampleDevVars();
    expect(local.LOCAL_DEVELOPMENT).toBe('true');
    expect(deploymentProblems({ ...config.vars, ...local })).toEqual([]);
    const { LOCAL_DEVELOPMENT: _dropped, ...deployed } = local;
    const problems = deploymentProblems({ ...config.vars, ...deployed });
    expect(problems.join('\n')).toMatch(/TOKEN_SECRET is a published development value/);
    expect(problems.join('\n')).toMatch(/METRICS_TOKEN is a published development value/);
    expect(problems.join('\n')).toMatch(/SMS_PROVIDER=dev/);
    expect(problems.join('\n')).toMatch(/PUSH_MODE=sink/);
    expect(problems.join('\n')).toMatch(/IP_LIMITS=off/);
  });

  it('parses dotenv lines, skipping comments and removing quotes', () => {
    expect(parseDotenv('# c\nA=1\n  B = "two words" \nC=\'x\'\n\nnot a line')).toEqual({ A: '1', B: 'two words', C: 'x' });
  });
});

describe('the deployment guard', () => {
  const good = { TOKEN_SECRET: 'x'.repeat(32), METRICS_TOKEN: 'y'.repeat(40), SMS_PROVIDER: 'webhook', PUSH_MODE: 'live', IP_LIMITS: 'on' };

  it('accepts long, unpublished secrets and production switches', () => {
    expect(deploymentProblems(good)).toEqual([]);
  });

  it.each([
    ['missing', { TOKEN_SECRET: undefined }, /TOKEN_SECRET is missing/],
    ['empty', { METRICS_TOKEN: '' }, /METRICS_TOKEN is missing/],
    ['too short', { TOKEN_SECRET: 'x'.repeat(31) }, /TOKEN_SECRET is shorter than 32/],
    ['a published value', { METRICS_TOKEN: 'dev-only-metrics-token' }, /METRICS_TOKEN is a published development value/],
    ['the dev SMS provider', { SMS_PROVIDER: 'dev' }, /SMS_PROVIDER=dev/],
    ['the push sink', { PUSH_MODE: 'sink' }, /PUSH_MODE=sink/],
    ['IP limits off', { IP_LIMITS: 'off' }, /IP_LIMITS=off/],
    ['LOCAL_DEVELOPMENT spelled otherwise', { LOCAL_DEVELOPMENT: 'TRUE', PUSH_MODE: 'sink' }, /PUSH_MODE=sink/],
  ])('refuses %s', (_name, change, problem) => {
    const problems = deploymentProblems({ ...good, ...change });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(problem);
  });
});

describe('npm run deploy', () => {
  it('needs the SMS webhook secrets only with the webhook provider', () => {
    expect(requiredSecrets({ secrets: { required: ['A'] }, vars: { SMS_PROVIDER: 'webhook' } })).toEqual(['A', 'SMS_WEBHOOK_URL', 'SMS_WEBHOOK_TOKEN']);
    expect(requiredSecrets({ secrets: { required: ['A'] }, vars: {} })).toEqual(['A']);
  });

  it('refuses a secret that is also a plain variable, and development switches', () => {
    const toml = '[vars]\nTOKEN_SECRET = "abc"\nSMS_PROVIDER = "dev"\nLOCAL_DEVELOPMENT = "true"\n[secrets]\nrequired = ["TOKEN_SECRET"]\n';
    const problems = deployProblems(toml, [{ name: 'TOKEN_SECRET' }], exampleDevVars()).join('\n');
    expect(problems).toMatch(/TOKEN_SECRET is a plain variable/);
    expect(problems).toMatch(/SMS_PROVIDER = "dev"/);
    expect(problems).toMatch(/LOCAL_DEVELOPMENT = "true"/);
  });

  it('refuses fault injection as a variable or as a secret (it is passed on the dev command line only)', () => {
    const secrets = [...REQUIRED_SECRETS].map((name) => ({ name }));
    const asVar = deployProblems(`${tomlText}\n`.replace('[vars]\n', '[vars]\nLOCAL_FAULTS = "off"\n'), secrets, exampleDevVars());
    expect(asVar.join('\n')).toMatch(/sets LOCAL_FAULTS/);
    const asSecret = deployProblems(tomlText, [...secrets, { name: 'LOCAL_FAULTS' }], exampleDevVars());
    expect(asSecret.join('\n')).toMatch(/secret LOCAL_FAULTS exists/);
    const good = { TOKEN_SECRET: 'x'.repeat(32), METRICS_TOKEN: 'y'.repeat(40), SMS_PROVIDER: 'webhook', PUSH_MODE: 'live', IP_LIMITS: 'on' };
    expect(deploymentProblems({ ...good, LOCAL_FAULTS: 'on' }).join('\n')).toMatch(/LOCAL_FAULTS is set/);
  });

  it('refuses the bench cost counters as a variable, as a secret, or set at all in a deployment', () => {
    const secrets = [...REQUIRED_SECRETS].map((name) => ({ name }));
    const asVar = deployProblems(`${tomlText}\n`.replace('[vars]\n', '[vars]\nLOCAL_COST_COUNTERS = "off"\n'), secrets, exampleDevVars());
    expect(asVar.join('\n')).toMatch(/sets LOCAL_COST_COUNTERS/);
    const asSecret = deployProblems(tomlText, [...secrets, { name: 'LOCAL_COST_COUNTERS' }], exampleDevVars());
    expect(asSecret.join('\n')).toMatch(/secret LOCAL_COST_COUNTERS exists/);
    expect(deployProblems(tomlText, secrets, exampleDevVars()).join('\n')).not.toMatch(/LOCAL_COST_COUNTERS/);
    const good = { TOKEN_SECRET: 'x'.repeat(32), METRICS_TOKEN: 'y'.repeat(40), SMS_PROVIDER: 'webhook', PUSH_MODE: 'live', IP_LIMITS: 'on' };
    expect(deploymentProblems(good)).toEqual([]);
    expect(deploymentProblems({ ...good, LOCAL_COST_COUNTERS: 'on' }).join('\n')).toMatch(/LOCAL_COST_COUNTERS is set/);
    // Never in the committed files a deployment reads.
    expect(config.vars).not.toHaveProperty('LOCAL_COST_COUNTERS');
    expect(exampleDevVars()).not.toHaveProperty('LOCAL_COST_COUNTERS');
  });

  it('stops with the list of missing secrets before changing anything remotely', () => {
    // A stand-in `wrangler` first on PATH: it answers `secret list` with one secret and records
    // every other call, which must not happen.
    const bin = mkdtempSync(join(tmpdir(), 'fake-wrangler-'));
    const calls = join(bin, 'calls.log');
    const fake = join(bin, 'wrangler');
    writeFileSync(
      fake,
      `#!/bin/sh\nif [ "$1" = "secret" ] && [ "$2" = "list" ]; then echo '[{"name":"METRICS_TOKEN","type":"secret_text"}]'; exit 0; fi\necho "$@" >> "${calls}"\n`,
    );
    chmodSync(fake, 0o755);
    try {
      const result = spawnSync(process.execPath, ['scripts/deploy.mjs'], {
        cwd: ROOT,
        env: { ...process.env, PATH: `${bin}:${dirname(process.execPath)}:/usr/bin:/bin` },
        encoding: 'utf8',
      });
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(/secret TOKEN_SECRET is missing: `npx wrangler secret put TOKEN_SECRET`/);
      expect(result.stderr).toMatch(/secret SMS_WEBHOOK_URL is missing/);
      expect(result.stderr).toMatch(/secret SMS_WEBHOOK_TOKEN is missing/);
      expect(result.stderr).not.toMatch(/METRICS_TOKEN is missing/);
      expect(() => readFileSync(calls, 'utf8')).toThrow();
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
