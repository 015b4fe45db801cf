/**
 * What a new message says about others: the message it replies to (a quote copied from this
 * user's copy, so it survives the original's deletion) and, for a forward, how many hops the
 * forwarded content has made. Read from this user's own storage: a user can only quote or forward
 * what they have (a large group's messages, which have no copy here, are looked up in the groups
 * first: see Originals).
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
  const original = direct && !direct.hidden ? direct.message : (groups.copies.findMessage(id)?.message ?? fromLargeGroups?.(id));
  if (!original) throw new FrameError('message_not_found');
  if (original.body.kind === 'deleted') throw new FrameError('message_deleted');
  if (canonicalJson(original.body) !== canonicalJson(body)) throw new FrameError('forward_mismatch');
  return (original.forwarded ?? 0) + 1;
}

export type OriginalsDeps = {
  copies: () => MessageCopies;
  groups: GroupInbox;
  /** The user's large groups. */
  largeGroups: () => string[];
  /** Message `id` of `group` as it is now, if this user may see it. */
  visible: (group: string, id: string) => Promise<GroupMessage | null>;
};

/**
 * The originals of forwards. A large group's messages have no copy here: `find` asks the user's
 * large groups (before a send's synchronous path) and remembers what it found for
 * `forwardHops`, which then counts them like copies.
 */
export class Originals {
  /** Large groups' messages found for forwards, the latest few. */
  readonly #found = new Map<string, GroupMessage>();

  constructor(private readonly deps: OriginalsDeps) {}

  /** Look message `id` up in the user's large groups unless a copy of it is here. */
  async find(id: string): Promise<void> {
    const { copies, groups, largeGroups, visible } = this.deps;
    if (copies().messageById(id) || groups.copies.findMessage(id)) return;
    const answers = await Promise.allSettled(largeGroups().map((group) => visible(group, id)));
    const message = answers.flatMap((a) => (a.status === 'fulfilled' && a.value ? [a.value] : []))[0];
    if (!message) return;
    this.#found.set(id, message);
    if (this.#found.size > FOUND_KEPT) this.#found.delete(this.#found.keys().next().value!);
  }

  /** The hops of a forward of `id` with `body` (see forwardHops). */
  forwardHops(id: string, body: MessageBody): number {
    return forwardHops(this.deps.copies(), this.deps.groups, id, body, (found) => this.#found.get(found));
  }
}

/** Originals found in large groups kept for the forwards that asked. */
const FOUND_KEPT = 64;
