/**
 * Deployment safety: what this Worker refuses to run with. Outside local development (the
 * LOCAL_DEVELOPMENT=true that only `.dev.vars` carries) every required secret must be set, long
 * enough and not a published development value, and no development-only switch (the dev SMS
 * provider, the push sink, IP_LIMITS=off, fault injection, the bench's cost counters) may be on. A deployment that fails this answers every
 * request with 503 `misconfigured` and says why once in the log, instead of serving a service
 * anyone could take over.
 */
import { COST_COUNTERS_VAR } from '../lib/cost-counters.ts';
import { FAULTS_VAR } from '../lib/faults.ts';

/** Secrets the Worker cannot run without. */
export const REQUIRED_SECRETS = ['TOKEN_SECRET', 'METRICS_TOKEN'] as const;
/** Shortest acceptable secret. */
export const MIN_SECRET_LENGTH = 32;
/**
 * Values that were ever published in this repository (wrangler.toml before, .dev.vars.example
 * now): anyone can read them, so they sign nothing in production.
 */
export const PUBLISHED_DEV_SECRETS: ReadonlySet<string> = new Set([
  'dev-only-insecure-secret-change-me',
  'dev-only-metrics-token',
]);

type Vars = Record<string, unknown>;

function str(vars: Vars, name: string): string | undefined {
  const value = vars[name];
  return typeof value === 'string' ? value : undefined;
}

/** Whether this Worker runs in local development (`npm run dev`, tests): only `.dev.vars` sets it. */
export function isLocalDevelopment(env: object): boolean {
  return str(env as Vars, 'LOCAL_DEVELOPMENT') === 'true';
}

/**
 * What is wrong with this deployment's configuration; empty when it may serve. Names secrets,
 * never their values.
 *
 * @example
 * deploymentProblems({ TOKEN_SECRET: 'dev-only-insecure-secret-change-me' })
 * // ['TOKEN_SECRET is a published development value: set a real one with `wrangler secret put TOKEN_SECRET`', ...]
 */
export function deploymentProblems(env: object): string[] {
  const vars = env as Vars;
  if (isLocalDevelopment(vars)) return [];
  const problems: string[] = [];
  for (const name of REQUIRED_SECRETS) {
    const value = str(vars, name);
    const fix = `set it with \`wrangler secret put ${name}\``;
    if (value === undefined || value.length === 0) problems.push(`${name} is missing: ${fix}`);
    else if (PUBLISHED_DEV_SECRETS.has(value)) problems.push(`${name} is a published development value: ${fix}`);
    else if (value.length < MIN_SECRET_LENGTH) problems.push(`${name} is shorter than ${MIN_SECRET_LENGTH} characters: ${fix}`);
  }
  if (str(vars, 'SMS_PROVIDER') === 'dev') problems.push('SMS_PROVIDER=dev returns login codes to anyone: it works only in local development');
  if (str(vars, 'PUSH_MODE') === 'sink') problems.push('PUSH_MODE=sink sends no push: it works only in local development');
  if (str(vars, 'IP_LIMITS') === 'off') problems.push('IP_LIMITS=off disables the per-IP limits: it works only in local development');
  if (vars[FAULTS_VAR] !== undefined) problems.push(`${FAULTS_VAR} is set: fault injection (evicting objects, duplicating queue batches) is for local development only`);
  if (vars[COST_COUNTERS_VAR] !== undefined) problems.push(`${COST_COUNTERS_VAR} is set: cost counting (wrapping every object's storage and RPC methods) is for the local bench only`);
  return problems;
}

let reported = false;

/**
 * The problems of this deployment, logged once per isolate (the first time they are found).
 * Cheap on every request: a few string comparisons.
 */
export function checkDeployment(env: object): string[] {
  const problems = deploymentProblems(env);
  if (problems.length > 0 && !reported) {
    reported = true;
    console.error(`refusing to serve: this deployment is not configured safely:\n- ${problems.join('\n- ')}`);
  }
  return problems;
}
