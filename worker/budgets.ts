/**
 * Per-user and per-device budgets for HTTP routes: the `bucket` limits of
 * protocol/rate-limits.ts, kept exactly by the user's own Durable Object (one RPC per charge).
 * Routes charge before doing the work, so a refused request changes nothing.
 */
import { RATE_LIMITS, type BucketName } from '../protocol/index.ts';
import type { Charge, Spent } from '../durable-objects/mailbox/budgets.ts';
import { rateLimited } from './errors.ts';
import { mailboxOf } from '../durable-objects/stubs.ts';

export type { Charge };

/**
 * Take `cost` tokens from one of the user's buckets (`deviceId` for per-device ones), or throw
 * `rate_limited` with the wait after which the same request can pass.
 *
 * @example
 * await spendBudget(c.env, userId, 'connect_ticket_device', 1, deviceId);
 */
export async function spendBudget(env: Env, userId: string, name: BucketName, cost: number, deviceId?: string): Promise<void> {
  refuseUnless(await mailboxOf(env, userId).spend(name, cost, deviceId));
}

/**
 * Take from several buckets at once, all or nothing (e.g. creating a group costs a group and
 * one addition per member); a zero cost is free.
 *
 * @example
 * await spendBudgets(c.env, userId, [{ name: 'group_create_user', cost: 1 }, { name: 'group_add_user', cost: 3 }]);
 */
export async function spendBudgets(env: Env, userId: string, charges: Charge[], deviceId?: string): Promise<void> {
  refuseUnless(await mailboxOf(env, userId).spendAll(charges, deviceId));
}

/**
 * Take tokens whatever the bucket holds, for a cost learnt only from the work (a phone number
 * nobody uses counts double): the bucket may go below zero, which delays the next request.
 */
export async function chargeBudget(env: Env, userId: string, name: BucketName, cost: number, deviceId?: string): Promise<void> {
  await mailboxOf(env, userId).charge(name, cost, deviceId);
}

function refuseUnless(spent: Spent): void {
  if (spent.ok) return;
  throw rateLimited(spent.retryAfterMs, `Rate limit reached (${RATE_LIMITS[spent.limit].what}); retry later`);
}
