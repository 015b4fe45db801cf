/**
 * What a push shows, from a job. Content-free by default: "New message" names neither the
 * sender nor the text. With previews on, the title is the sender (or the group) and the body
 * the snippet the mailbox put in the job.
 */
import type { PushJob } from '../../durable-objects/mailbox/push-job.ts';
import type { PushNotification } from '../../lib/push-types.ts';

export type Names = { sender: string | null; group: string | null };

function messages(count: number): string {
  return count === 1 ? '1 new message' : `${count} new messages`;
}

export function renderNotification(job: PushJob, names: Names): PushNotification {
  const conversation = job.conversation;
  const base = {
    kind: job.kind,
    conversation,
    messageId: job.messageId,
    badge: null,
    collapseKey: conversation ? `${conversation.kind}:${conversation.id}` : 'summary',
    silent: job.silent,
  } as const;
  if (job.kind === 'summary') {
    const body = job.chats === 1 ? messages(job.count) : `${messages(job.count)} in ${job.chats} chats`;
    return { ...base, title: 'New messages', body };
  }
  if (job.preview === null) {
    return { ...base, title: 'New message', body: job.count === 1 ? 'You have a new message' : `You have ${messages(job.count)}` };
  }
  const sender = names.sender ?? 'Someone';
  const title = conversation?.kind === 'group' ? (names.group ?? 'Group') : sender;
  const text = conversation?.kind === 'group' ? `${sender}: ${job.preview}` : job.preview;
  const body = job.count > 1 ? `${text} (+${job.count - 1} more)` : text;
  return { ...base, title, body };
}
