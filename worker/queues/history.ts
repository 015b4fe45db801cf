/**
 * Queue consumers of the history archive (durable-objects/mailbox/history-tiers.ts).
 *
 * `history-archive`: each job is one batch of a user's messages past their hot window. The
 * consumer writes it to the user's history shard (idempotent: a batch delivered twice stores
 * once, an older batch never overwrites a newer one) and only then tells the user's object,
 * which drops the rows that did not change since they left. A failure anywhere retries the
 * whole job; the object sends unconfirmed rows again later anyway, so nothing is lost if the
 * job dies, and nothing is duplicated because every tier is keyed by the owner's mailbox seq.
 *
 * `history-archive-dlq`: jobs that exhausted their retries are recorded in D1 (`dead_letters`,
 * the metric) by the shared dead-letter consumer (fanout.ts).
 */
import { z } from 'zod';
import { UserIdSchema } from '../../protocol/index.ts';
import { deleteWarm, historyShards, putWarm } from '../../db/history/index.ts';
import { recordDeadLetter } from '../../db/groups.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';
import { deadLetter } from './fanout.ts';

export const HISTORY_QUEUE = 'history-archive';
export const HISTORY_DLQ = 'history-archive-dlq';

/** Jobs are internal, but a queue outlives deploys: validated all the same. */
const ArchiveJobSchema = z.object({
  owner: UserIdSchema,
  batch: z.number().int().positive(),
  rows: z
    .array(
      z.object({
        seq: z.number().int().positive(),
        chat: z.string().regex(/^[dg]:/),
        id: z.string().nullable(),
        sender: z.string().nullable(),
        at: z.number().int(),
        kind: z.string(),
        text: z.string().nullable(),
        row: z.string(),
        digest: z.string(),
      }),
    )
    .min(1),
});

export async function consumeHistory(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const shards = historyShards(env);
  await Promise.all(
    batch.messages.map(async (message) => {
      const parsed = ArchiveJobSchema.safeParse(message.body);
      if (!parsed.success) {
        console.error('malformed history job', message.id, parsed.error.issues[0]?.message);
        await recordDeadLetter(env.DB, deadLetter(message, HISTORY_QUEUE));
        message.ack();
        return;
      }
      const { owner, batch: number, rows } = parsed.data;
      try {
        const { db } = shards.of(owner);
        await putWarm(db, owner, number, rows);
        const dropped = await mailboxOf(env, owner).historyArchived(
          number,
          rows.map((row) => ({ seq: row.seq, digest: row.digest })),
        );
        // The account was deleted while this batch travelled: what it wrote must not outlive it.
        if (dropped === null) await deleteWarm(db, owner, rows.map((row) => row.seq));
        message.ack();
      } catch (error) {
        console.error('history batch failed; retrying', owner, number, error);
        message.retry({ delaySeconds: Math.min(60, 2 ** message.attempts) });
      }
    }),
  );
}
