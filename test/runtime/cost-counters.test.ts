// The bench's cost counters (lib/cost-counters.ts) with the switch off, as in every deployment
// and in these tests: a message between two users counts nothing, and the route that reads the
// counters does not exist, even for the operators. (With the switch on, see
// test/e2e/cost-counters.e2e.test.ts; the deployment refusal is in deploy-safety.test.ts.)
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { ErrorResponseSchema, PATHS } from '../../protocol/index.ts';
import { costCountersOn, costSnapshot } from '../../lib/cost-counters.ts';
import worker from '../../worker/index.ts';
import { BASE, connect, isType, login, nextPhone, text } from './support.ts';

async function readCosts(vars: Record<string, string | undefined>): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`${BASE}${PATHS.devCost}`, { headers: { Authorization: `Bearer ${env.METRICS_TOKEN}` } }),
    { ...env, ...vars } as Env,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

describe('cost counters switched off', () => {
  it('count nothing while a message is sent, stored and delivered', async () => {
    expect(costCountersOn(env)).toBe(false);
    const ann = await login(nextPhone());
    const bob = await login(nextPhone());
    const annSocket = await connect(ann);
    const bobSocket = await connect(bob);
    annSocket.send({ type: 'send', id: 'cost-off-1', to: bob.userId, body: text('hi') });
    await annSocket.waitFor(isType('sent'));
    await bobSocket.waitFor(isType('message'));
    const snapshot = costSnapshot(bob.userId);
    expect(snapshot.object).toBeNull();
    expect(snapshot.kinds.mailbox).toMatchObject({ objects: 0, commits: 0, statements: 0, rpcs: 0, framesIn: 0 });
    expect(snapshot.framesOut).toBe(0);
    annSocket.close();
    bobSocket.close();
  });

  it('has no route to read them, even for the operators', async () => {
    const res = await readCosts({});
    expect(res.status).toBe(404);
    expect(ErrorResponseSchema.parse(await res.json()).error.code).toBe('not_found');
    // Outside local development the switch is refused outright.
    const deployed = await readCosts({ LOCAL_COST_COUNTERS: 'on', LOCAL_DEVELOPMENT: 'false' });
    expect(deployed.status).toBe(503);
  });
});
