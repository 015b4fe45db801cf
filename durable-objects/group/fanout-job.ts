/**
 * Fan-out jobs: what the group object puts on the fan-out queue for large audiences, and what
 * the queue consumer delivers. One job = some log entries for some members, or (large groups) a
 * push notice for some members. Jobs are internal
 * (not part of the wire protocol) but still validated, since a queue outlives deploys.
 */
import { z } from 'zod';
import { GroupEntrySchema, GroupIdSchema, GroupMessageSchema, UserIdSchema, type GroupEntry } from '../../protocol/index.ts';

export const FanoutJobSchema = z.strictObject({
  group: GroupIdSchema,
  members: z.array(UserIdSchema).min(1),
  /** Consecutive entries of the log, in gseq order. */
  entries: z.array(GroupEntrySchema).min(1),
});
export type FanoutJob = z.infer<typeof FanoutJobSchema>;

/**
 * A large group's push notice (./notices.ts): `count` new messages, the newest being `message`,
 * for members who had no connected device. Each member's mailbox decides whether to push.
 */
export const NoticeJobSchema = z.strictObject({
  group: GroupIdSchema,
  members: z.array(UserIdSchema).min(1),
  notice: z.strictObject({ message: GroupMessageSchema, count: z.number().int().min(1) }),
});
export type NoticeJob = z.infer<typeof NoticeJobSchema>;
export type Notice = NoticeJob['notice'];

/** Everything the group-fanout queue carries. */
export const GroupQueueJobSchema = z.union([FanoutJobSchema, NoticeJobSchema]);
export type GroupQueueJob = FanoutJob | NoticeJob;

/** Cut a notice for `members` into jobs of `membersPerJob`. */
export function planNotices(group: string, members: readonly string[], notice: Notice, membersPerJob: number): NoticeJob[] {
  const jobs: NoticeJob[] = [];
  for (let i = 0; i < members.length; i += membersPerJob) jobs.push({ group, members: members.slice(i, i + membersPerJob), notice });
  return jobs;
}

/** Queues take messages up to 128 KB; keep each job's entries well below. */
const JOB_ENTRY_BYTES = 96 * 1024;
/** Queues take batches of at most 100 messages and 256 KB. */
const SEND_BATCH_MESSAGES = 100;
const SEND_BATCH_BYTES = 240 * 1024;

const encoder = new TextEncoder();

/**
 * Cut a fan-out into jobs: members in chunks of `membersPerJob`, entries in chunks that fit a
 * queue message. Every member gets every entry chunk, in order.
 */
export function planJobs(group: string, members: readonly string[], entries: readonly GroupEntry[], membersPerJob: number): FanoutJob[] {
  const entryChunks: GroupEntry[][] = [];
  let chunk: GroupEntry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = encoder.encode(JSON.stringify(entry)).byteLength;
    if (chunk.length > 0 && bytes + size > JOB_ENTRY_BYTES) {
      entryChunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(entry);
    bytes += size;
  }
  if (chunk.length > 0) entryChunks.push(chunk);
  const jobs: FanoutJob[] = [];
  for (let i = 0; i < members.length; i += membersPerJob) {
    const slice = members.slice(i, i + membersPerJob);
    for (const part of entryChunks) jobs.push({ group, members: slice, entries: part });
  }
  return jobs;
}

/** Send jobs with `sendBatch`, in batches within the queue's count and size limits. */
export async function enqueueJobs(queue: Queue<GroupQueueJob>, jobs: readonly GroupQueueJob[]): Promise<void> {
  let batch: MessageSendRequest<GroupQueueJob>[] = [];
  let bytes = 0;
  for (const job of jobs) {
    const size = encoder.encode(JSON.stringify(job)).byteLength;
    if (batch.length === SEND_BATCH_MESSAGES || (batch.length > 0 && bytes + size > SEND_BATCH_BYTES)) {
      await queue.sendBatch(batch);
      batch = [];
      bytes = 0;
    }
    batch.push({ body: job, contentType: 'json' });
    bytes += size;
  }
  if (batch.length > 0) await queue.sendBatch(batch);
}
