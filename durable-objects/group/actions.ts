/**
 * Actions on group messages in the group object: replies (the quote a new message carries, and
 * what a retried post must repeat) and
 * the shared actions (react, edit, delete for everyone), each an `update` entry of the log. The
 * rules themselves are lib/message-actions.ts; this decides what a member may name (only
 * messages of their current membership) and what is stored (the message's row rewritten in
 * place, the update appended, and after a deletion no earlier update holding the content).
 * Synchronous SQL, so the rewrite and the append commit together.
 */
import {
  EDIT_HISTORY_MAX,
  isMediaBody,
  type Action,
  type GroupMessage,
  type MessageBody,
  type Quote,
} from '../../protocol/index.ts';
import { ActionRefused, actionFingerprint, applyAction, checkAction, quoteOf, summaryOf, type ActionWindows } from '../../lib/message-actions.ts';
import type { GroupLog } from './log.ts';
import type { MemberRow } from './members.ts';
import { GroupError } from './result.ts';

export type ActInput = {
  actor: string;
  device: string;
  clientId: string;
  /** The message's server id. */
  target: string;
  /** react, edit, or delete with scope everyone (star and delete-for-me stay in the actor's mailbox). */
  action: Action;
};

export type Acted = {
  /** The update's gseq, or the log's head when the action changed nothing. */
  gseq: number;
  duplicate: boolean;
  /** Set when a deletion for everyone removed a body naming media: the group's grant goes. */
  revokeMedia?: string;
};

export type GroupActionsDeps = {
  log: GroupLog;
  groupId: () => string;
  windows: ActionWindows;
  newId: () => string;
};

export class GroupActions {
  constructor(private readonly deps: GroupActionsDeps) {}

  /** What a retry of `input` must repeat to be the same action. */
  fingerprint(input: Pick<ActInput, 'target' | 'action'>): string {
    return actionFingerprint(`group:${this.deps.groupId()}`, input.target, input.action);
  }

  /**
   * A message of this group `member` may see now (its current membership), or `message_not_found`.
   * An earlier membership does not count: what they saw then is not theirs to act on any more.
   */
  visibleMessage(member: MemberRow, messageId: string): GroupMessage {
    const message = this.deps.log.messageById(messageId);
    if (!message || message.gseq < member.joinedGseq) throw new GroupError('message_not_found');
    return message;
  }

  /** The quote a reply by `member` to message `messageId` carries (`message_deleted` for a recalled one). */
  quote(member: MemberRow, messageId: string): Quote {
    return refusals(() => quoteOf(this.visibleMessage(member, messageId)));
  }

  /**
   * Apply a shared action by `member` (the caller has checked idempotency). Returns the update's
   * gseq; the head when it changed nothing (deleting a deleted message).
   */
  act(member: MemberRow, input: ActInput, now: number): Acted {
    const { log } = this.deps;
    const { action } = input;
    if (action.kind === 'star' || (action.kind === 'delete' && action.scope === 'me')) {
      throw new GroupError('validation_failed', 'Star and delete-for-me are kept by your own mailbox, not by the group');
    }
    const target = this.visibleMessage(member, input.target);
    const admin = member.role === 'admin';
    const changes = refusals(() => checkAction(target, input.actor, action, now, this.deps.windows, admin));
    if (!changes) return { gseq: log.head, duplicate: false };
    // The log keeps no versions, so the edits made so far are counted from its updates.
    if (action.kind === 'edit' && log.editCount(target.gseq) >= EDIT_HISTORY_MAX) throw new GroupError('not_editable');
    const next = applyAction(target, input.actor, action, now, false);
    log.replaceMessage(next);
    const recall = action.kind === 'delete';
    if (recall) log.rewriteUpdates(target.gseq, next);
    const entry = log.appendUpdate({
      id: this.deps.newId(),
      by: input.actor,
      clientId: input.clientId,
      at: now,
      action: summaryOf(action),
      message: next,
      fingerprint: this.fingerprint(input),
    });
    const gseq = entry.type === 'update' ? entry.update.gseq : log.head;
    return recall && isMediaBody(target.body) ? { gseq, duplicate: false, revokeMedia: target.body.media.id } : { gseq, duplicate: false };
  }
}

/**
 * Whether a post repeats the stored message `known`: same quote and forward, and the same body
 * unless the message was edited or deleted since (a late retry of it is still the same send; a
 * deletion also dropped its quote).
 */
export function isRetryOf(input: { body: MessageBody; replyTo?: string; forwarded?: number }, known: GroupMessage): boolean {
  const deleted = known.body.kind === 'deleted';
  const changed = deleted || known.editedAt !== undefined;
  return (
    (deleted || known.replyTo?.id === input.replyTo) &&
    (known.forwarded !== undefined) === (input.forwarded !== undefined) &&
    (changed || JSON.stringify(known.body) === JSON.stringify(input.body))
  );
}

/** Run a rule check, answering a refusal with its protocol code. */
function refusals<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof ActionRefused) throw new GroupError(error.code);
    throw error;
  }
}
