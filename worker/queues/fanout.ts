/**
 * Queue consumers of group fan-out.
 *
 * `group-fanout`: each job names log entries and members; every member's mailbox gets the
 * entries (idempotent there, so a redelivered or retried job is harmless). A job whose
 * members were not all reached is retried as a whole, with growing delay; after the queue's
 * max_retries it lands in `group-fanout-dlq`. A large group's push notice (a job with `notice`)
 * goes to the mailbox of each of its members who has a push token (one D1 query per job), which
 * decides whether to push; members it missed get a new job, a few times at most (a notice
 * repeated would ring a phone twice; the mailbox drops a notice for a message it already
 * noticed).
 *
 * `group-fanout-dlq`: records each dead job in D1 (`dead_letters`), which is the metric and
 * the material for a replay. A member whose job died still catches up: the next entry of that
 * group that reaches their mailbox shows the gap, which the mailbox repairs from the group.
 */
import { recordDeadLetter } from '../../db/groups.ts';
import { usersWithPushTokens } from '../../db/push.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';
import { GroupQueueJobSchema, type NoticeJob } from '../../durable-objects/group/fanout-job.ts';

export const FANOUT_QUEUE = 'group-fanout';
export const FANOUT_DLQ = 'group-fanout-dlq';

/** Mailbox calls one job makes at once. */
const CONCURRENCY = 50;
/** A large group's notice is sent again to the members it missed, up to this many tries in all (a push is best effort). */
const NOTICE_ATTEMPTS = 3;

export async function consumeFanout(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  await Promise.all(
    batch.messages.map(async (message) => {
      const parsed = GroupQueueJobSchema.safeParse(message.body);
      if (!parsed.success) {
        // Retrying cannot fix a malformed job: keep it for inspection instead.
        console.error('malformed fan-out job', message.id, parsed.error.issues[0]?.message);
        await recordDeadLetter(env.DB, deadLetter(message, FANOUT_QUEUE));
        message.ack();
        return;
      }
      const job = parsed.data;
      const delaySeconds = Math.min(60, 2 ** message.attempts);
      if ('notice' in job) {
        // Only members with a push token can be rung: the others' mailboxes are not woken (a
        // web or CLI user away from a busy large group costs nothing). If D1 cannot say, all are.
        const ringable = await usersWithPushTokens(env.DB, job.members).catch((error: unknown) => {
          console.error('push token lookup failed; noticing every member', error);
          return new Set(job.members);
        });
        const members = job.members.filter((m) => ringable.has(m));
        // Retrying the whole job would ring the phones it already reached again: only those it missed get a new job.
        const missed = await forEachLimited(members, CONCURRENCY, (member) =>
          mailboxOf(env, member).largeGroupNotice(job.group, job.notice.message, job.notice.count),
        );
        if (missed.length > 0 && message.attempts < NOTICE_ATTEMPTS) {
          await env.GROUP_FANOUT.send({ ...job, members: missed } satisfies NoticeJob, { contentType: 'json', delaySeconds });
        }
        message.ack();
        return;
      }
      const failed = await forEachLimited(job.members, CONCURRENCY, (member) => mailboxOf(env, member).deliverGroup(job.group, job.entries));
      if (failed.length === 0) message.ack();
      else message.retry({ delaySeconds });
    }),
  );
}

export async function consumeDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  for (const message of batch.messages) {
    await recordDeadLetter(env.DB, deadLetter(message, batch.queue));
    message.ack();
  }
}

/** A queue message as `dead_letters` records it (every consumer's malformed or exhausted jobs). */
export function deadLetter(message: Message<unknown>, queue: string) {
  return {
    id: message.id,
    queue,
    body: JSON.stringify(message.body),
    attempts: message.attempts,
    failedAt: Date.now(),
  };
}

/** Run `task` for every item, at most `limit` at a time; resolves with the items that failed. */
async function forEachLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<unknown>): Promise<T[]> {
  let next = 0;
  const failed: T[] = [];
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await task(item);
      } catch (error) {
        failed.push(item);
        console.error('fan-out delivery failed', error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return failed;
}
