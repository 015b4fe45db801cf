/**
 * Calls from this mailbox to other users' mailboxes, and whether an account or a group exists
 * (asked of D1 once, then remembered: accounts until their mailbox refuses a call, groups for
 * good since they are never deleted).
 */
import type { Message } from '../../protocol/index.ts';
import { userExists } from '../../db/accounts.ts';
import { groupExists } from '../../db/groups.ts';
import { mailboxOf } from '../stubs.ts';
import type { DirectActionRecord } from './direct-actions.ts';
import { FrameError } from './frame-error.ts';
import type { GroupInbox } from './group-inbox.ts';
import type { RidingReceipt } from './delivered-batch.ts';
import type { Receipt } from './receipts.ts';
import type { StoredMessage } from './store.ts';

export type PeersDeps = { env: Env; self: () => string; groupInbox: GroupInbox };

export class Peers {
  /** Recipients known to exist, so D1 is asked once per peer (a deleted one's mailbox says so: see deliverTo). */
  readonly #knownUsers = new Set<string>();
  /** Groups known to exist (groups are never deleted). */
  readonly #knownGroups = new Set<string>();

  constructor(private readonly deps: PeersDeps) {}

  /**
   * Store messages at the recipient's object. A deleted account's mailbox answers null: forgotten,
   * refused. `riding`: this user's delivered receipt for messages the recipient sent, applied
   * there in the same commit (the reply carries the ticks; no call of its own), settled with
   * whether the call succeeded.
   */
  async deliverTo(recipient: string, messages: Message[], riding?: RidingReceipt | null): Promise<StoredMessage[]> {
    let ok = false;
    try {
      if (!(await this.userExists(recipient))) throw new FrameError('recipient_not_found');
      const receipt = riding ? { by: this.deps.self(), clientIds: riding.receipt.clientIds, at: riding.receipt.at } : undefined;
      const stored = await mailboxOf(this.deps.env, recipient).deliver(messages, receipt);
      if (stored === null) {
        this.#knownUsers.delete(recipient);
        throw new FrameError('recipient_not_found');
      }
      ok = true;
      return stored;
    } finally {
      riding?.settled(ok);
    }
  }

  /**
   * Whether a group exists: one this mailbox received, or one the D1 mirror knows (a group just
   * created reaches its creator's mailbox after its creator may already post). Remembered once
   * known, so posting to a group costs no look-up after the first.
   */
  async groupExists(groupId: string): Promise<boolean> {
    if (this.#knownGroups.has(groupId)) return true;
    if (!this.deps.groupInbox.knows(groupId) && !(await groupExists(this.deps.env.DB, groupId))) return false;
    this.#knownGroups.add(groupId);
    return true;
  }

  /**
   * Whether an account exists: asked of D1 once per user, then remembered. An account deleted
   * since is forgotten when its mailbox refuses a delivery (deliverTo); other calls to it
   * (typing) are dropped there.
   */
  async userExists(userId: string): Promise<boolean> {
    if (this.#knownUsers.has(userId)) return true;
    if (!(await userExists(this.deps.env.DB, userId))) return false;
    this.#knownUsers.add(userId);
    return true;
  }

  /** Apply an action at the other party's mailbox; false when that account was deleted (no copy left there). */
  async deliverAction(peer: string, record: DirectActionRecord): Promise<boolean> {
    if (!(await this.userExists(peer))) return false;
    const applied = await mailboxOf(this.deps.env, peer).applyDirectAction(record);
    if (!applied) this.#knownUsers.delete(peer);
    return applied;
  }

  /** Receipts of this user for messages `receipt.peer` sent them. */
  async applyAtSender(receipt: Receipt): Promise<void> {
    await mailboxOf(this.deps.env, receipt.peer).applyReceipts(this.deps.self(), receipt.status, receipt.clientIds, receipt.at);
  }
}
