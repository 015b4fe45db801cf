/**
 * Fault injection for the project's own fault checker (test/fault, `npm run bench -- --scenario
 * faults`): objects evicted on demand, queue batches delivered twice. Local development only:
 * it needs LOCAL_DEVELOPMENT=true (which only `.dev.vars` sets) *and* LOCAL_FAULTS=on, which only
 * `npm run dev -- --faults` passes to `wrangler dev` (never written to any file). A deployment
 * carrying LOCAL_FAULTS is refused, by `npm run deploy` and by the Worker itself.
 */

/** The variable that turns fault injection on (with LOCAL_DEVELOPMENT=true). */
export const FAULTS_VAR = 'LOCAL_FAULTS';

/** Whether this Worker (or object) may inject faults. */
export function faultInjectionOn(env: object): boolean {
  const vars = env as Record<string, unknown>;
  return vars.LOCAL_DEVELOPMENT === 'true' && vars[FAULTS_VAR] === 'on';
}

/** The log line's prefix of every injected fault (the driver counts them in the server's output). */
export const FAULT_LOG_PREFIX = 'fault injected:';
