/**
 * Consent to be in a group: pending invites (people whose privacy does not let the adder add
 * them directly), the group's invite link and the requests to join through it. None of these
 * makes anyone part of the log's audience; only a join does, with a `member_joined` event (or
 * `members_added` for direct adds). Synchronous SQL plus the rules; ./joining.ts and
 * ./management.ts check who is asking (admin, member) and make the changes known (fan-out, D1
 * mirror, invitee mailboxes).
 */
import { GROUP_LOG_MAX_MEMBERS, GROUP_MAX_MEMBERS, type GroupChange, type JoinRequest, type PendingInvite } from '../../protocol/index.ts';
import type { GroupLog } from './log.ts';
import type { Members } from './members.ts';
import { markPending } from './mirror-pending.ts';
import { GroupError } from './result.ts';

/** Who an add names, as the Worker sorted them (D1 knows privacy settings, contacts and blocks). */
export type AddTargets = {
  /** Their `privacy.groups` lets the actor add them, and they have not blocked the actor. */
  direct: string[];
  /** Invited; their mailbox is told. */
  invite: string[];
  /** Invited, but they blocked the actor: the invite is kept (the actor sees it pending) and never shown to them. */
  quiet: string[];
};

export type InviteRow = PendingInvite & { notified: boolean };
export type LinkRow = { code: string; approval: boolean; createdBy: string; createdAt: number };

export type ConsentDeps = {
  sql: SqlStorage;
  members: Members;
  log: GroupLog;
  /** Append a system event to the log (membership events bound fan-out runs). */
  event: (by: string, change: GroupChange, membership: boolean, at: number) => void;
  /** A fresh invite link code (22 base64url characters, 128 random bits). */
  newCode: () => string;
  /** Where read diffusion began, or null while the group copies entries into mailboxes. */
  logFrom: () => number | null;
  /** Above this many members a group switches to read diffusion (0: never). */
  logDeliveryMin: number;
};

/**
 * The most members and invites a group may hold once a change leaves it with `membersAfter`
 * members: GROUP_LOG_MAX_MEMBERS for a group read by diffusion, or one this change makes switch
 * (more members than the threshold: the publisher switches it in the same commit);
 * GROUP_MAX_MEMBERS for a group that copies every entry into every mailbox, and everywhere read
 * diffusion is off.
 */
export function seatLimit(logFrom: number | null, logDeliveryMin: number, membersAfter: number): number {
  if (logDeliveryMin <= 0) return GROUP_MAX_MEMBERS;
  return logFrom !== null || membersAfter > logDeliveryMin ? GROUP_LOG_MAX_MEMBERS : GROUP_MAX_MEMBERS;
}

type InviteSql = { user_id: string; invited_by: string; at: number; notified: number };
type LinkSql = { code: string; approval: number; created_by: string; created_at: number };

const toInvite = (r: InviteSql): InviteRow => ({ userId: r.user_id, invitedBy: r.invited_by, at: r.at, notified: r.notified === 1 });

export class Consent {
  /** Invitees whose mailbox a round is telling right now (in memory: a restart simply tells again). */
  readonly #telling = new Set<string>();

  constructor(private readonly deps: ConsentDeps) {}

  get #sql(): SqlStorage {
    return this.deps.sql;
  }

  // ------------------------------------------------------------------ adds and invites

  /**
   * Seats taken: members plus pending invites. Invites hold a seat so that accepting one never
   * finds the group full; join requests do not (they are checked when approved).
   */
  seats(): number {
    return this.deps.members.count() + this.#inviteCount();
  }

  /** How many seats adding `targets` would take (nothing for members, or for people already invited). */
  newSeats(targets: AddTargets): number {
    const fresh = new Set([...targets.direct, ...targets.invite, ...targets.quiet]);
    let n = 0;
    for (const id of fresh) if (this.deps.members.get(id) === null && this.invite(id) === null) n++;
    return n;
  }

  /** The seat limit once the group has `membersAfter` members (see `seatLimit`). */
  limit(membersAfter: number): number {
    return seatLimit(this.deps.logFrom(), this.deps.logDeliveryMin, membersAfter);
  }

  /**
   * Apply an add by `actor`: the direct targets join now (one `members_added` event; a pending
   * invite of theirs is used up), everyone else gets an invite. Members are skipped, and an
   * invite already pending stays as it is (a repeated add re-invites idempotently: no second
   * notification). Returns whether anything changed.
   */
  add(actor: string, targets: AddTargets, at: number): boolean {
    const seats = this.newSeats(targets);
    const isNew = (id: string) => id !== actor && this.deps.members.get(id) === null;
    const direct = [...new Set(targets.direct)].filter(isNew);
    const limit = this.limit(this.deps.members.count() + direct.length);
    if (this.seats() + seats > limit) {
      throw new GroupError('group_full', `${this.seats() + seats} members and invites would exceed the limit of ${limit}`);
    }
    const directSet = new Set(direct);
    const quiet = new Set(targets.quiet);
    const invited = [...new Set([...targets.invite, ...targets.quiet])].filter(
      (id) => isNew(id) && !directSet.has(id) && this.invite(id) === null,
    );
    if (direct.length > 0) {
      for (const id of direct) this.#forget(id);
      this.deps.members.add(direct, 'member', this.deps.log.head + 1, at);
      this.deps.event(actor, { kind: 'members_added', members: direct }, true, at);
    }
    for (const id of invited) {
      this.#sql.exec(
        'INSERT INTO invites (user_id, invited_by, at, notified) VALUES (?, ?, ?, ?)',
        id,
        actor,
        at,
        quiet.has(id) ? 1 : 0,
      );
    }
    markPending(this.#sql, invited);
    return direct.length + invited.length > 0;
  }

  invite(userId: string): InviteRow | null {
    const row = this.#sql.exec<InviteSql>('SELECT * FROM invites WHERE user_id = ?', userId).toArray()[0];
    return row ? toInvite(row) : null;
  }

  /** Pending invites, oldest first (at most `limit`). */
  invites(limit = Number.MAX_SAFE_INTEGER): PendingInvite[] {
    return this.#sql
      .exec<InviteSql>('SELECT * FROM invites ORDER BY at, user_id LIMIT ?', limit)
      .toArray()
      .map((r) => ({ userId: r.user_id, invitedBy: r.invited_by, at: r.at }));
  }

  /** Invites whose invitee's mailbox has not been told yet. */
  unnotified(): InviteRow[] {
    return this.#sql.exec<InviteSql>('SELECT * FROM invites WHERE notified = 0').toArray().map(toInvite);
  }

  /**
   * The untold invites no other round is telling now, claimed for this round: two changes close
   * together each start a round while the other awaits its calls, and must not both tell one
   * invitee. A claim ends with `told` or `release`.
   */
  claimUntold(): InviteRow[] {
    const due = this.unnotified().filter((i) => !this.#telling.has(i.userId));
    for (const i of due) this.#telling.add(i.userId);
    return due;
  }

  /** The invitee's mailbox has this invite (unless it was replaced meanwhile). */
  told(userId: string, at: number): void {
    this.#telling.delete(userId);
    this.#sql.exec('UPDATE invites SET notified = 1 WHERE user_id = ? AND at = ?', userId, at);
  }

  /** Telling failed: a later round (the alarm) tries again. */
  release(userId: string): void {
    this.#telling.delete(userId);
  }

  /**
   * `userId` accepts the invite `invitedBy` sent (the Worker checked that they have not blocked
   * the inviter): they join now, seeing the log from their `member_joined` event on.
   */
  accept(userId: string, invitedBy: string, at: number): void {
    const invite = this.invite(userId);
    if (invite === null || invite.invitedBy !== invitedBy || this.deps.members.get(userId) !== null) throw new GroupError('invite_not_found');
    this.#join(userId, userId, 'invite', at);
  }

  /** Drop `userId`'s pending invite and join request (declined, or the account is gone). Idempotent. */
  decline(userId: string): boolean {
    return this.#forget(userId);
  }

  /** An admin takes an invite back. */
  withdraw(userId: string): void {
    if (this.invite(userId) === null) throw new GroupError('invite_not_found', 'That user has no pending invite to this group');
    this.#sql.exec('DELETE FROM invites WHERE user_id = ?', userId);
    markPending(this.#sql, [userId]);
  }

  // ------------------------------------------------------------------ the invite link

  link(): LinkRow | null {
    const row = this.#sql.exec<LinkSql>('SELECT * FROM link WHERE id = 1').toArray()[0];
    return row ? { code: row.code, approval: row.approval === 1, createdBy: row.created_by, createdAt: row.created_at } : null;
  }

  /** Create the link, or replace it with a new code (the old one stops working; pending requests stay). */
  setLink(actor: string, approval: boolean, at: number): LinkRow {
    const link: LinkRow = { code: this.deps.newCode(), approval, createdBy: actor, createdAt: at };
    this.#sql.exec(
      'INSERT OR REPLACE INTO link (id, code, approval, created_by, created_at) VALUES (1, ?, ?, ?, ?)',
      link.code,
      approval ? 1 : 0,
      actor,
      at,
    );
    return link;
  }

  /** Revoke the link (requests made through it stay for admins to decide). Returns whether there was one. */
  revokeLink(): boolean {
    const had = this.link() !== null;
    this.#sql.exec('DELETE FROM link WHERE id = 1');
    return had;
  }

  /** The live link if `code` is its code; `link_not_found` otherwise (revoked, replaced, never existed). */
  linkFor(code: string): LinkRow {
    const link = this.link();
    if (link === null || !sameCode(link.code, code)) throw new GroupError('link_not_found');
    return link;
  }

  /** Join through the link: at once, or as a request an admin decides on when the link needs approval. */
  joinByLink(userId: string, code: string, at: number): 'joined' | 'requested' {
    const link = this.linkFor(code);
    if (this.deps.members.get(userId) !== null) throw new GroupError('already_member');
    if (link.approval) {
      this.#sql.exec('INSERT OR IGNORE INTO join_requests (user_id, at) VALUES (?, ?)', userId, at);
      return 'requested';
    }
    this.#join(userId, userId, 'link', at);
    return 'joined';
  }

  /** Pending requests to join, oldest first. */
  requests(): JoinRequest[] {
    return this.#sql
      .exec<{ user_id: string; at: number }>('SELECT user_id, at FROM join_requests ORDER BY at, user_id')
      .toArray()
      .map((r) => ({ userId: r.user_id, at: r.at }));
  }

  approve(actor: string, userId: string, at: number): void {
    this.#requestOrThrow(userId);
    if (this.deps.members.get(userId) !== null) {
      this.#forget(userId);
      throw new GroupError('already_member', 'That user is already a member');
    }
    this.#join(userId, actor, 'request', at);
  }

  declineRequest(userId: string): void {
    this.#requestOrThrow(userId);
    this.#sql.exec('DELETE FROM join_requests WHERE user_id = ?', userId);
  }

  // ------------------------------------------------------------------ internals

  /** `userId` becomes a member (their invite and request are used up). An invite already holds their seat. */
  #join(userId: string, by: string, via: 'invite' | 'link' | 'request', at: number): void {
    const seat = this.invite(userId) === null ? 1 : 0;
    if (this.seats() + seat > this.limit(this.deps.members.count() + 1)) throw new GroupError('group_full');
    this.#forget(userId);
    this.deps.members.add([userId], 'member', this.deps.log.head + 1, at);
    this.deps.event(by, { kind: 'member_joined', member: userId, via }, true, at);
  }

  #requestOrThrow(userId: string): void {
    const found = this.#sql.exec('SELECT 1 FROM join_requests WHERE user_id = ?', userId).toArray().length > 0;
    if (!found) throw new GroupError('request_not_found');
  }

  /** Remove `userId`'s invite and join request; whether there was either. */
  #forget(userId: string): boolean {
    const invites = this.#sql.exec('DELETE FROM invites WHERE user_id = ?', userId).rowsWritten;
    if (invites > 0) markPending(this.#sql, [userId]);
    const requests = this.#sql.exec('DELETE FROM join_requests WHERE user_id = ?', userId).rowsWritten;
    return invites + requests > 0;
  }

  #inviteCount(): number {
    return this.#sql.exec<{ n: number }>('SELECT count(*) AS n FROM invites').one().n;
  }
}

/** Compare codes in time independent of where they differ (a link code is a bearer secret). */
function sameCode(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
