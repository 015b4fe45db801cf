// Local fault injection (lib/faults.ts), the hooks the fault checker drives: the eviction route
// exists only with LOCAL_DEVELOPMENT=true and LOCAL_FAULTS=on, then wants the operators' token
// and an existing user or group (unknown ids create no object); objects refuse to reset unless
// their own bindings allow it; queue batches are sent again only with fault injection on.
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorResponseSchema, FaultEvictResultSchema, PATHS, type ErrorCode } from '../../protocol/index.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';
import { faultInjectionOn } from '../../lib/faults.ts';
import worker from '../../worker/index.ts';
import { DUPLICATE_SHARE, duplicateSometimes } from '../../worker/queues/faults.ts';
import { BASE, connect, login, nextPhone } from './support.ts';

const FAULTS = { LOCAL_FAULTS: 'on' };
const UNKNOWN_ULID = '01ARZ3NDEKTSV4RRFFQ69G5FAV';

/** POST the eviction route through the Worker with the bindings changed. */
async function evict(vars: Record<string, string | undefined>, body: unknown, token: string | null = env.METRICS_TOKEN): Promise<Response> {
  const ctx = createExecutionContext();
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  const res = await worker.fetch(new Request(`${BASE}${PATHS.faultsEvict}`, { method: 'POST', headers, body: JSON.stringify(body) }), { ...env, ...vars } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

async function expectError(res: Response, status: number, code: ErrorCode): Promise<void> {
  expect(res.status).toBe(status);
  expect(ErrorResponseSchema.parse(await res.json()).error.code).toBe(code);
}

afterEach(() => vi.restoreAllMocks());

describe('fault injection switch', () => {
  it('is on only with both LOCAL_DEVELOPMENT=true and LOCAL_FAULTS=on', () => {
    expect(faultInjectionOn({ LOCAL_DEVELOPMENT: 'true', LOCAL_FAULTS: 'on' })).toBe(true);
    expect(faultInjectionOn({ LOCAL_DEVELOPMENT: 'false', LOCAL_FAULTS: 'on' })).toBe(false);
    expect(faultInjectionOn({ LOCAL_DEVELOPMENT: 'true', LOCAL_FAULTS: 'true' })).toBe(false);
    expect(faultInjectionOn({ LOCAL_DEVELOPMENT: 'true' })).toBe(false);
    // The test bindings are local development without fault injection.
    expect(faultInjectionOn(env)).toBe(false);
  });
});

describe('POST /v1/dev/faults/evict', () => {
  it('does not exist without fault injection, even for the operators and an existing user', async () => {
    const ann = await login(nextPhone());
    await expectError(await evict({}, { userId: ann.userId }), 404, 'not_found');
    await expectError(await evict({ LOCAL_FAULTS: 'on', LOCAL_DEVELOPMENT: 'false' }, { userId: ann.userId }), 503, 'misconfigured');
  });

  it('wants the operators token, a valid body and an existing user or group', async () => {
    const ann = await login(nextPhone());
    await expectError(await evict(FAULTS, { userId: ann.userId }, null), 401, 'unauthorized');
    await expectError(await evict(FAULTS, { userId: ann.userId }, ann.token), 401, 'unauthorized');
    await expectError(await evict(FAULTS, { userId: 'nope' }), 400, 'validation_failed');
    await expectError(await evict(FAULTS, { userId: ann.userId, groupId: UNKNOWN_ULID }), 400, 'validation_failed');
    await expectError(await evict(FAULTS, { userId: UNKNOWN_ULID }), 404, 'user_not_found');
    await expectError(await evict(FAULTS, { groupId: UNKNOWN_ULID }), 404, 'group_not_found');
  });

  it('answers for an existing user; the object itself resets only when its own bindings allow it', async () => {
    const ann = await login(nextPhone());
    const socket = await connect(ann);
    const res = await evict(FAULTS, { userId: ann.userId });
    expect(res.status).toBe(200);
    expect(FaultEvictResultSchema.parse(await res.json())).toEqual({ evicted: true });
    // The route ran with fault injection on, but the object's bindings (the test's) have it off:
    // it kept its socket.
    expect((await mailboxOf(env, ann.userId).stats()).connections).toBe(1);
    socket.close();
  });
});

describe('queue batches sent again', () => {
  const batch = (queue: string) =>
    ({ queue, messages: [{ id: 'a', body: { n: 1 } }, { id: 'b', body: { n: 2 } }] }) as unknown as MessageBatch<unknown>;
  const producer = () => {
    const sent: Array<Array<{ body: unknown; delaySeconds?: number }>> = [];
    return { sent, queue: { sendBatch: async (messages: Array<{ body: unknown; delaySeconds?: number }>) => void sent.push(messages) } as unknown as Queue };
  };

  it('copies the whole batch back to its queue, delayed at most 2 s, when the dice say so', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const { sent, queue } = producer();
    await duplicateSometimes(batch('group-fanout'), { ...env, ...FAULTS } as Env, queue);
    expect(sent).toEqual([[{ body: { n: 1 }, delaySeconds: 0 }, { body: { n: 2 }, delaySeconds: 0 }]]);
  });

  it('leaves the batch alone without fault injection, or when the dice say no', async () => {
    const { sent, queue } = producer();
    vi.spyOn(Math, 'random').mockReturnValue(0);
    await duplicateSometimes(batch('group-fanout'), env, queue);
    vi.spyOn(Math, 'random').mockReturnValue(DUPLICATE_SHARE);
    await duplicateSometimes(batch('group-fanout'), { ...env, ...FAULTS } as Env, queue);
    expect(sent).toEqual([]);
  });
});
