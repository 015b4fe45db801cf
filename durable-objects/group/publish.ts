/**
 * Making a group's changes known outside its object: the D1 mirror (settings, members, pending
 * invites, the live link code) and the invitees' mailboxes. Both are best effort with the
 * object's alarm as the retry; the object stays authoritative either way.
 */
import { syncGroupMirror } from '../../db/groups.ts';
import { mailboxOf } from '../stubs.ts';
import type { Parts } from './parts.ts';
import type { Settings } from './settings.ts';

/** An invite whose invitee's mailbox could not be told for this long is left to the D1 list (GET /v1/invites). */
const INVITE_NOTIFY_FOR_MS = 86_400_000;

/** Replace the group's D1 mirror with the object's state; rejects if D1 did not take it. */
export async function mirror(env: Env, s: Settings, parts: Parts, now: number): Promise<void> {
  await syncGroupMirror(env.DB, {
    groupId: s.groupId,
    title: s.title,
    picture: s.picture,
    createdBy: s.createdBy,
    createdAt: s.createdAt,
    updatedAt: now,
    members: parts.members.view(),
    invites: parts.consent.invites(),
    link: parts.consent.link()?.code ?? null,
  });
}

/**
 * Tell each new invitee's mailbox (a `group_invite` entry; the mailbox drops it if they blocked
 * the inviter). The D1 list is the truth, so an invite that could not be delivered for a day is
 * left to it. A retry after a lost answer may add the entry twice; clients show one invite per
 * group. Returns whether every invitee due was told.
 */
export async function notifyInvites(env: Env, s: Settings, parts: Parts, now: number): Promise<boolean> {
  const { consent } = parts;
  const due = consent.claimUntold();
  if (due.length === 0) return true;
  const results = await Promise.allSettled(
    due.map(async (invite) => {
      try {
        if (invite.at >= now - INVITE_NOTIFY_FOR_MS) {
          await mailboxOf(env, invite.userId).groupInvited({ group: s.groupId, title: s.title, invitedBy: invite.invitedBy, at: invite.at });
        }
        consent.told(invite.userId, invite.at);
      } catch (error) {
        consent.release(invite.userId);
        throw error;
      }
    }),
  );
  return results.every((r) => r.status === 'fulfilled');
}
