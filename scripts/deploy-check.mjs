/**
 * What `npm run deploy` checks before it deploys: the production configuration in wrangler.toml
 * carries no development switch, and every secret the Worker needs exists on Cloudflare
 * (`wrangler secret list`). Pure functions, so the rules are unit-tested without an account.
 */
import { parse } from 'smol-toml';

/**
 * The secrets this configuration needs: `[secrets] required`, plus the SMS webhook's when
 * SMS_PROVIDER is "webhook".
 */
export function requiredSecrets(config) {
  const required = [...(config.secrets?.required ?? [])];
  if (config.vars?.SMS_PROVIDER === 'webhook') required.push('SMS_WEBHOOK_URL', 'SMS_WEBHOOK_TOKEN');
  return [...new Set(required)];
}

/**
 * Problems that must stop a deploy, each a sentence with its fix; empty when it may go ahead.
 *
 * @param {string} tomlText wrangler.toml
 * @param {Array<{name: string}>} secrets what `wrangler secret list --format json` printed
 * @param {Record<string, string>} localVars local development's values (.dev.vars.example): a
 *   production variable must never carry one of them (the dev SMS provider, the push sink, ...)
 */
export function deployProblems(tomlText, secrets, localVars) {
  const config = parse(tomlText);
  const vars = config.vars ?? {};
  const problems = [];
  for (const [name, value] of Object.entries(localVars)) {
    if (vars[name] === value) problems.push(`wrangler.toml [vars] sets ${name} = "${value}", which is for local development only (.dev.vars)`);
  }
  // Fault injection (lib/faults.ts) is passed on the command line by `npm run dev -- --faults`:
  // in a deployment, as a variable or a secret, it would let the operators' token evict objects.
  if ('LOCAL_FAULTS' in vars) problems.push('wrangler.toml [vars] sets LOCAL_FAULTS, which is for local fault injection only: remove it');
  if (secrets.some((s) => s.name === 'LOCAL_FAULTS')) problems.push('a secret LOCAL_FAULTS exists, which is for local fault injection only: `npx wrangler secret delete LOCAL_FAULTS`');
  // The bench's cost counters (lib/cost-counters.ts), passed as a Miniflare binding or `--var` only.
  if ('LOCAL_COST_COUNTERS' in vars) problems.push('wrangler.toml [vars] sets LOCAL_COST_COUNTERS, which is for the local bench only: remove it');
  if (secrets.some((s) => s.name === 'LOCAL_COST_COUNTERS')) problems.push('a secret LOCAL_COST_COUNTERS exists, which is for the local bench only: `npx wrangler secret delete LOCAL_COST_COUNTERS`');
  const required = requiredSecrets(config);
  for (const name of required) {
    if (name in vars) {
      problems.push(`${name} is a plain variable in wrangler.toml [vars]: remove it there (Cloudflare refuses a secret with the name of a variable), then \`npx wrangler secret put ${name}\``);
    }
  }
  const present = new Set(secrets.map((s) => s.name));
  const missing = required.filter((name) => !present.has(name) && !(name in vars));
  for (const name of missing) problems.push(`secret ${name} is missing: \`npx wrangler secret put ${name}\``);
  return problems;
}
