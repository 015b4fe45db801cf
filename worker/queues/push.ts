/**
 * Consumer of the push queue. A job names a user; with several registered devices it is split
 * into one job per device (so a retry never repeats a push another device already got). Each
 * device's push goes through its platform's provider:
 * - sent: counted;
 * - invalid token (unregistered, bad token): the token is removed, no retry;
 * - transient failure (5xx, 429, network): retried with growing delay (or the provider's
 *   Retry-After); after the queue's max_retries the job lands in the dead-letter queue, whose
 *   consumer records it (the metric);
 * - permanent failure: counted, dropped.
 */
import { PushJobSchema, type PushJob } from '../../durable-objects/mailbox/push-job.ts';
import { pushProvidersFromEnv, type PushEnv } from '../push/config.ts';
import { renderNotification } from '../push/render.ts';
import { createSinkProvider } from '../push/sink.ts';
import type { PushPlatform, PushProvider } from '../../lib/push-types.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';
import { countPushOutcomes, displayNames, pushTargetsOf, removeDeadToken } from '../../db/push.ts';

export const PUSH_QUEUE = 'push-notifications';
export const PUSH_DLQ = 'push-notifications-dlq';

/** Longest wait before a retry, seconds. */
const MAX_RETRY_DELAY_S = 300;

export type Providers = Partial<Record<PushPlatform, PushProvider>>;

/** Providers for this environment: the sink for every platform, or the configured real ones. */
export function providersFor(env: Env): Providers {
  if (env.PUSH_MODE !== 'live') {
    const sink = createSinkProvider(env.DB);
    return { apns: sink, fcm: sink, webhook: sink };
  }
  // Secrets are not declared in the generated Env type; they are plain optional strings.
  const { providers, problems } = pushProvidersFromEnv(env as unknown as PushEnv);
  for (const problem of problems) {
    if (reported.has(problem)) continue;
    reported.add(problem);
    console.warn(`push: ${problem}`);
  }
  return providers;
}

/** Configuration problems already logged by this isolate (once is enough). */
const reported = new Set<string>();

/** Delay before retry number `attempts` (1-based): 2, 4, 8 ... seconds, at most 5 minutes, with jitter. */
export function retryDelaySeconds(attempts: number, retryAfter?: number): number {
  if (retryAfter !== undefined && retryAfter > 0) return Math.min(MAX_RETRY_DELAY_S, Math.ceil(retryAfter));
  const base = Math.min(MAX_RETRY_DELAY_S, 2 ** Math.max(1, attempts));
  return Math.max(1, Math.round(base * (0.5 + Math.random() / 2)));
}

export async function consumePush(batch: MessageBatch<unknown>, env: Env, providers: Providers = providersFor(env)): Promise<void> {
  const outcomes: Record<string, number> = {};
  const count = (outcome: string) => void (outcomes[outcome] = (outcomes[outcome] ?? 0) + 1);
  await Promise.all(batch.messages.map((message) => handle(message, env, providers, count)));
  await countPushOutcomes(env.DB, outcomes).catch((error) => console.error('push counters not written', error));
}

async function handle(message: Message<unknown>, env: Env, providers: Providers, count: (outcome: string) => void): Promise<void> {
  const parsed = PushJobSchema.safeParse(message.body);
  if (!parsed.success) {
    // Retrying cannot fix a malformed job.
    console.error('malformed push job', message.id, parsed.error.issues[0]?.message);
    count('malformed');
    message.ack();
    return;
  }
  const job = parsed.data;
  try {
    const targets = await pushTargetsOf(env.DB, job.userId, job.deviceId);
    if (targets.length === 0) {
      count('no_device');
      message.ack();
      return;
    }
    if (job.preview !== null && job.messageId !== null && job.deviceId === undefined) {
      // The message may have been deleted for everyone while this push waited: show what is
      // there now (asked once per job, before it is expanded to devices; previews are opt-in).
      const preview = await mailboxOf(env, job.userId).pushPreview(job.messageId, job.conversation ?? undefined);
      if (preview === null && job.count === 1) {
        count('recalled');
        message.ack();
        return;
      }
      job.preview = preview;
    }
    if (job.deviceId === undefined && targets.length > 1) {
      await env.PUSH.sendBatch(targets.map((t) => ({ body: { ...job, deviceId: t.deviceId } satisfies PushJob })));
      message.ack();
      return;
    }
    const target = targets[0]!;
    const provider = providers[target.platform];
    if (!provider) {
      console.warn(`push: no provider for ${target.platform}`);
      count('failed');
      message.ack();
      return;
    }
    const names = job.preview === null ? { sender: null, group: null } : await displayNames(env.DB, job.from, job.conversation?.kind === 'group' ? job.conversation.id : null);
    const outcome = await provider.send(target, renderNotification(job, names));
    switch (outcome.status) {
      case 'sent':
        count('sent');
        message.ack();
        return;
      case 'invalid_token':
        await removeDeadToken(env.DB, target);
        count('invalid_token');
        message.ack();
        return;
      case 'failed':
        console.warn(`push via ${provider.name} failed: ${outcome.reason}`);
        count('failed');
        message.ack();
        return;
      case 'retry':
        count('retried');
        message.retry({ delaySeconds: retryDelaySeconds(message.attempts, outcome.retryAfterSeconds) });
        return;
    }
  } catch (error) {
    // D1 or the queue failed us: try the whole job again later.
    console.error('push job failed', error);
    count('retried');
    message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
  }
}
