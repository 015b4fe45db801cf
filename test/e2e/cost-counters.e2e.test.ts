/**
 * Black box with the bench's cost counters on (`--var LOCAL_COST_COUNTERS:on`, as the cost
 * bench passes it): one 1:1 message costs the recipient's object at least one storage commit, a
 * few statements and the `deliver` RPC; frames are counted both ways; the counters sit behind
 * the operators' token. (Switched off, nothing counts and the route is absent:
 * test/runtime/cost-counters.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CostSnapshotSchema, PATHS, type CostSnapshot } from '../../protocol/index.ts';
import { exampleDevVars } from '../../scripts/dev-vars.mjs';
import type { MessengerClient } from '../../client/index.ts';
import { device, eventually, nextPhone, textsFrom } from '../support/clients.ts';
import { SERVER_HOOK_MS, startServer, type LocalServer } from '../support/server.ts';

let server: LocalServer | undefined;
const open: MessengerClient[] = [];

beforeAll(async () => {
  server = await startServer(undefined, { args: ['--var', 'LOCAL_COST_COUNTERS:on'] });
}, SERVER_HOOK_MS);

afterAll(async () => {
  for (const c of open) c.close();
  await server?.dispose();
});

async function costs(object?: string, token = String(exampleDevVars().METRICS_TOKEN)): Promise<Response> {
  const url = new URL(PATHS.devCost, server!.baseUrl);
  if (object !== undefined) url.searchParams.set('object', object);
  return fetch(url, { headers: { authorization: `Bearer ${token}` } });
}

async function snapshot(object?: string): Promise<CostSnapshot> {
  const res = await costs(object);
  expect(res.status).toBe(200);
  return CostSnapshotSchema.parse(await res.json());
}

describe('cost counters switched on', () => {
  it('count at least one commit, the statements and the deliver call at the recipient of one message', async () => {
    const alice = await device(server!.baseUrl, nextPhone(), 'alice');
    const bob = await device(server!.baseUrl, nextPhone(), 'bob');
    open.push(alice, bob);
    await alice.connect();
    await bob.connect();
    const bobId = bob.userId!;
    // Let connecting settle (ticket writes, cursors), then count from here.
    await new Promise((r) => setTimeout(r, 300));
    const before = await snapshot(bobId);
    const total0 = before.kinds.mailbox;

    await alice.sendText(bobId, 'what does this cost?').sent;
    await eventually(() => expect(textsFrom(bob, alice.userId!)).toEqual(['what does this cost?']));

    // Polled: delivered receipts and cursor writes land a little later; the deliver call and
    // the recipient's commit come before the message reaches Bob.
    let after = await snapshot(bobId);
    const settled = (s: CostSnapshot): boolean => s.object !== null && s.object !== undefined && s.object.rpcs > before.object!.rpcs;
    for (let i = 0; i < 40 && !settled(after); i++) {
      await new Promise((r) => setTimeout(r, 250));
      after = await snapshot(bobId);
    }
    const was = before.object!;
    const mine = after.object!;
    const context = JSON.stringify({ before, after });
    expect(mine.kind, context).toBe('mailbox');
    expect(mine.commits - was.commits, context).toBeGreaterThanOrEqual(1);
    expect(mine.commitsLow - was.commitsLow, context).toBeGreaterThanOrEqual(1);
    expect(mine.commits, context).toBeGreaterThanOrEqual(mine.commitsLow);
    expect(mine.writeStatements - was.writeStatements, context).toBeGreaterThanOrEqual(1);
    expect(mine.rpcs - was.rpcs, context).toBeGreaterThanOrEqual(1); // deliver
    const total = after.kinds.mailbox;
    expect(total.framesIn - total0.framesIn, context).toBeGreaterThanOrEqual(1); // alice's send frame
    expect(after.framesOut - before.framesOut, context).toBeGreaterThanOrEqual(2); // bob's message, alice's sent
    expect(total.objects, context).toBeGreaterThanOrEqual(2);
  });

  it('sit behind the operators token', async () => {
    expect((await costs(undefined, 'not-the-operators-token')).status).toBe(401);
    expect((await snapshot('no-such-object')).object).toBeNull();
  });
});
