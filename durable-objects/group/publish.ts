/**
 * Making a group's changes known outside its object: the D1 mirror (settings, members, pending
 * invites, the live link code) and the invitees' mailboxes. Both are best effort with the
 * object's alarm as the retry; the object stays authoritative either way.
 */
import { syncGroupMirror, syncGroupMirrorDelta } from '../../db/groups.ts';
import type { GroupMember, PendingInvite } from '../../protocol/index.ts';
import { mailboxOf } from '../stubs.ts';
import { clearPending, mirrored, pendingMirror } from './mirror-pending.ts';
import type { Parts } from './parts.ts';
import { readMeta, writeMeta } from './schema.ts';
import type { Settings } from './settings.ts';

/** People whose mirror rows one D1 batch carries (a large add is a few batches). */
const MIRROR_DELTA_PEOPLE = 500;

/** An invite whose invitee's mailbox could not be told for this long is left to the D1 list (GET /v1/invites). */
const INVITE_NOTIFY_FOR_MS = 86_400_000;

/**
 * Bring the group's D1 mirror in step with the object; rejects if D1 did not take it. The first
 * sync of a group (and of one created before `mirror_pending` existed) rewrites it whole; after
 * that only the rows of the people a change named are sent (./mirror-pending.ts). Callers run
 * one sync at a time (./publisher.ts): two batches of one group must not land out of order.
 */
export async function mirror(env: Env, s: Settings, parts: Parts, sql: SqlStorage, now: number): Promise<void> {
  if (readMeta(sql, 'mirror_full') !== 1) {
    await mirrorWhole(env, s, parts, now);
    clearPending(sql);
    writeMeta(sql, 'mirror_full', 1);
    return;
  }
  const link = parts.consent.link()?.code ?? null;
  for (;;) {
    const pending = pendingMirror(sql, MIRROR_DELTA_PEOPLE);
    const members: GroupMember[] = [];
    const invites: PendingInvite[] = [];
    for (const { userId } of pending) {
      const member = parts.members.get(userId);
      if (member) members.push({ userId, role: member.role, joinedAt: member.joinedAt });
      const invite = parts.consent.invite(userId);
      if (invite) invites.push({ userId, invitedBy: invite.invitedBy, at: invite.at });
    }
    await syncGroupMirrorDelta(env.DB, {
      ...mirrorHead(s, now),
      memberCount: parts.members.count(),
      changed: pending.map((p) => p.userId),
      members,
      invites,
      link,
    });
    mirrored(sql, pending);
    if (pending.length < MIRROR_DELTA_PEOPLE) return;
  }
}

/** Replace the group's D1 mirror with the object's state, every member and invite. */
async function mirrorWhole(env: Env, s: Settings, parts: Parts, now: number): Promise<void> {
  await syncGroupMirror(env.DB, {
    ...mirrorHead(s, now),
    members: parts.members.all().map((m) => ({ userId: m.userId, role: m.role, joinedAt: m.joinedAt })),
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

/** What both mirror writes say about the group itself. */
function mirrorHead(s: Settings, now: number) {
  return { groupId: s.groupId, title: s.title, picture: s.picture, createdBy: s.createdBy, createdAt: s.createdAt, updatedAt: now };
}
