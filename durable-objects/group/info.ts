/**
 * "Message info" for a sender: who of the members there when the message was sent have it, and
 * who read it, with when (while receipt times are still kept).
 */
import type { GroupMessage, MessageInfo } from '../../protocol/index.ts';
import type { Members } from './members.ts';

/** `withTimes`: whether the message is recent enough for its receipt times to be exact. */
export function messageInfoOf(members: Members, message: GroupMessage, withTimes: boolean): MessageInfo {
  const tally = members.tallies([{ gseq: message.gseq, id: message.id, sender: message.from }])[0]!;
  // Receipt times are kept for the retention window: for an older message the first receipt
  // covering it may be gone, and a later one would give a wrong time, so none is given.
  const times = withTimes ? members.receiptTimes(message.gseq) : new Map<string, { delivered: number; read: number | null }>();
  // Only the members who have it are read (index on each watermark), not every member.
  return {
    messageId: message.id,
    gseq: message.gseq,
    tally,
    delivered: members.reached(message.gseq, 'delivered', message.from).map((userId) => ({ userId, at: times.get(userId)?.delivered ?? null })),
    read: members.reached(message.gseq, 'read', message.from).map((userId) => ({ userId, at: times.get(userId)?.read ?? null })),
  };
}
