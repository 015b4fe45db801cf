/**
 * A device's `action` frame on a group message. Reactions, edits and deletions for everyone are
 * the group's: its object checks and stores them in the log, and they reach every member's copy
 * through fan-out (this user's too). Stars and deletions for this user only never leave this
 * mailbox: they change this user's copy and are entries for this user's devices. Either way an
 * action is idempotent by client id (the group's log, or this mailbox's ActionLog).
 */
import type { ActionFrame } from '../../protocol/index.ts';
import { actionFingerprint } from '../../lib/message-actions.ts';
import { ActionLog } from './action-log.ts';
import type { MailboxCore } from './core.ts';
import { FrameError } from './frame-error.ts';
import type { LocalAction } from './group-inbox.ts';

export type GroupActionFrame = ActionFrame & { chat: { kind: 'group'; group: string } };

/**
 * Apply `frame` for `actor` (the caller charged the budgets). Throws FrameError with the
 * protocol's code; resolves once the action is stored (shared ones in the group's log).
 *
 * @example
 * await actOnGroup(core, state, { type: 'action', id: 'r1', chat: { kind: 'group', group }, target, action: { kind: 'react', emoji: '👍' } });
 */
export async function actOnGroup(
  core: MailboxCore,
  actor: { userId: string; deviceId: string },
  frame: GroupActionFrame,
): Promise<{ duplicate: boolean }> {
  const { action } = frame;
  if (action.kind === 'star') return await actLocally(core, actor.userId, frame, action);
  if (action.kind === 'delete' && action.scope === 'me') return await actLocally(core, actor.userId, frame, { kind: 'delete', scope: 'me' });
  const group = frame.chat.group;
  if (!(await core.peers.groupExists(group))) throw new FrameError('group_not_found');
  const result = await core.groups.act(group, {
    actor: actor.userId,
    device: actor.deviceId,
    clientId: frame.id,
    target: frame.target,
    action,
  });
  if (!result.ok) throw new FrameError(result.code, result.message ?? undefined);
  return { duplicate: result.value.duplicate };
}

/**
 * Star or delete for me: this user's copy only, recorded so a retry is a duplicate. A large
 * group's message after its switch has no copy here: the group says whether this user may see
 * it, and a mark records the action (./large-marks.ts).
 */
async function actLocally(core: MailboxCore, self: string, frame: GroupActionFrame, action: LocalAction): Promise<{ duplicate: boolean }> {
  const group = frame.chat.group;
  const log = new ActionLog(core.ctx.storage.sql);
  const fingerprint = actionFingerprint(`group:${group}`, frame.target, frame.action);
  if (log.seen(self, frame.id, fingerprint)) return { duplicate: true };
  const found = core.groupInbox.copies.findMessage(frame.target);
  if (found === null && core.groupInbox.largeFrom(group) !== null) {
    const message = core.largeMarks.hidden(group, frame.target) ? null : await core.group(group).visibleMessage(self, frame.target);
    const repeat = message === null && action.kind === 'delete' && core.largeMarks.hidden(group, frame.target);
    if (message === null && !repeat) throw new FrameError('message_not_found');
    const now = Date.now();
    const entry = message ? core.largeMarks.apply(group, message, action, self, now) : null;
    log.record(self, frame.id, frame.target, fingerprint, now);
    if (entry) core.publish([entry]);
    return { duplicate: false };
  }
  const visible = found !== null && found.group === group;
  // Deleting again for yourself changes nothing, like deleting a deleted message for everyone.
  const repeat = !visible && action.kind === 'delete' && core.groupInbox.copies.hidden(group, frame.target);
  if (!visible && !repeat) throw new FrameError('message_not_found');
  const now = Date.now();
  const entry = visible ? core.groupInbox.copies.applyLocal(group, frame.target, action, self, now) : null;
  log.record(self, frame.id, frame.target, fingerprint, now);
  if (entry) core.publish([entry]);
  return { duplicate: false };
}
