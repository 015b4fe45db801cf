/**
 * Large groups: delivery by read diffusion. A group whose members exceed the deployment's
 * threshold switches, once and for good, from copying every entry into every member's mailbox to
 * storing it only in the group's log (the Telegram channel model: one sequence per channel,
 * pulled by the client). The switch is itself the last entry copied into mailboxes: a
 * `group_event` whose change is `delivery_changed` (gseq F). Entries after F never come as
 * mailbox entries; a device gets them:
 *
 * - live: `group_live` frames pushed to connected devices (no seq, no ack; at most once);
 * - by pulling: `group_pull` answered by `group_entries`, paged, only what this user may see
 *   (from joining to leaving), on connect (`group_heads` says how far each large group reaches)
 *   and whenever a `group_live` frame does not continue the device's gseq cursor for that group.
 *
 * A device keeps one gseq cursor per large group next to its mailbox cursor.
 */
import { z } from 'zod';
import { GroupEntrySchema, GroupIdSchema, GroupSeqSchema } from './groups.ts';
import { ClientIdSchema, SeqSchema } from './messages.ts';

/** Most entries one `group_pull` returns. */
export const GROUP_PULL_MAX = 500;

// ---------------------------------------------------------------- client -> server

/**
 * "Send me `group`'s entries after gseq `after`" (at most `limit`, default and most
 * GROUP_PULL_MAX). Answered by `group_entries` with the same `id`, or `error` with it
 * (`not_group_member`, `group_not_found`, `rate_limited`).
 */
export const GroupPullFrameSchema = z.strictObject({
  type: z.literal('group_pull'),
  /** Chosen by the client; repeated in the answer. */
  id: ClientIdSchema,
  group: GroupIdSchema,
  after: GroupSeqSchema,
  limit: z.number().int().min(1).max(GROUP_PULL_MAX).optional(),
});
export type GroupPullFrame = z.infer<typeof GroupPullFrameSchema>;

// ---------------------------------------------------------------- server -> client

/**
 * The answer to `group_pull`: the entries after `after` up to `through` that you may see, in
 * gseq order (gaps are entries that are not yours: before you joined, after you left, or an
 * update of a message you never had). Pull again from `through` while `through < head`.
 */
export const GroupEntriesFrameSchema = z.strictObject({
  type: z.literal('group_entries'),
  id: ClientIdSchema,
  group: GroupIdSchema,
  entries: z.array(GroupEntrySchema),
  /** Everything up to here is answered (continue after it). */
  through: z.number().int().nonnegative(),
  /** The group's newest gseq when it answered. */
  head: z.number().int().nonnegative(),
});
export type GroupEntriesFrame = z.infer<typeof GroupEntriesFrameSchema>;

/**
 * New entries of a large group, pushed to your connected devices as they are stored. Not a
 * mailbox entry: no `seq`, not acknowledged, not sent again after a reconnect. When its first
 * entry's gseq is above your cursor + 1 something was missed: pull from your cursor. Entries you
 * may not see are left out, so gaps are normal; pull, and trust `group_entries.through`.
 */
export const GroupLiveFrameSchema = z.strictObject({
  type: z.literal('group_live'),
  group: GroupIdSchema,
  entries: z.array(GroupEntrySchema).min(1),
  /** The last gseq this frame covers (what a device holding your cursor may move it to). */
  through: GroupSeqSchema,
  /** The gseq just before what this frame covers: continuous when it equals your cursor. */
  after: z.number().int().nonnegative(),
});
export type GroupLiveFrame = z.infer<typeof GroupLiveFrameSchema>;

/**
 * After `hello`, and when one of your groups becomes large while you are connected: how far each
 * of your large groups reaches (`head`) and where read diffusion began (`from`: the gseq of its
 * `delivery_changed` event). Pull every group whose head is past your cursor (start a group
 * you have no cursor for at `from`). Live frames of these groups flow from now on.
 */
export const GroupHeadsFrameSchema = z.strictObject({
  type: z.literal('group_heads'),
  groups: z.array(
    z.strictObject({
      group: GroupIdSchema,
      head: z.number().int().nonnegative(),
      from: GroupSeqSchema,
      /**
       * The mailbox seq of the `delivery_changed` entry in your mailbox, or null (you joined after
       * the switch: nothing of this group is in your mailbox). Show pulled entries only once your
       * mailbox is processed up to it, so the chat stays in order.
       */
      seq: SeqSchema.nullable(),
    }),
  ),
});
export type GroupHeadsFrame = z.infer<typeof GroupHeadsFrameSchema>;
