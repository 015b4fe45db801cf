/**
 * What a new message says about others: the message it replies to (a quote copied from this
 * user's copy, so it survives the original's deletion) and, for a forward, how many hops the
 * forwarded content has made. Read from this user's own storage: a user can only quote or forward
 * what they have (a large group's messages, which have no copy here, are looked up in the groups
 * first: see MailboxCore.findInLargeGroups).
 */
import type { GroupMessage, MessageBody, Quote } from '../../protocol/index.ts';
import { ActionRefused, canonicalJson, quoteOf } from '../../lib/message-actions.ts';
import { FrameError } from './frame-error.ts';
import type { GroupInbox } from './group-inbox.ts';
import type { MessageCopies } from './message-copies.ts';

/** The quote for a reply to message `id` of the 1:1 chat with `peer`. */
export function replyQuote(copies: MessageCopies, peer: string, id: string): Quote {
  const found = copies.messageById(id);
  if (!found || found.peer !== peer || found.hidden) throw new FrameError('message_not_found');
  try {
    return quoteOf(found.message);
  } catch (error) {
    if (error instanceof ActionRefused) throw new FrameError(error.code);
    throw error;
  }
}

/**
 * The hop count of a forward of message `id` (any chat of this user) whose body must be `body`:
 * one more than the original's. Media is reused as is: the sender may download it, so the
 * media check lets it through without an upload.
 */
export function forwardHops(
  copies: MessageCopies,
  groups: GroupInbox,
  id: string,
  body: MessageBody,
  fromLargeGroups?: (id: string) => GroupMessage | undefined,
): number {
  const direct = copies.messageById(id);
  const original = direct && !direct.hidden ? direct.message : (groups.findMessage(id)?.message ?? fromLargeGroups?.(id));
  if (!original) throw new FrameError('message_not_found');
  if (original.body.kind === 'deleted') throw new FrameError('message_deleted');
  if (canonicalJson(original.body) !== canonicalJson(body)) throw new FrameError('forward_mismatch');
  return (original.forwarded ?? 0) + 1;
}
