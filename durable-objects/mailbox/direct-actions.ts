/**
 * Actions on 1:1 messages (react, edit, delete, star). Each party's mailbox holds its own copy
 * of a message, so an action is applied to both copies like a message is stored in both: at the
 * other party's mailbox first (`applyRecord` there, over RPC), then here, and only then is the
 * device answered `acted`. Every application appends a `message_update` entry, so all devices of
 * both users converge in their mailbox order, and each copy converges to the same state: each
 * field has one writer whose actions arrive in order (reactions per user, edits and recalls by
 * the sender). Star and delete-for-me touch only this user's copy.
 *
 * The other party's copy of a message its own user sent is stored after the delivery here
 * (see outgoing.ts), so an action can arrive before its target: it waits in `early_actions` and
 * is applied when the copy is recorded.
 */
import {
  isMediaBody,
  type Action,
  type ActionFrame,
  type Message,
} from '../../protocol/index.ts';
import { revokeMediaGrant } from '../../db/media.ts';
import { ActionRefused, actionFingerprint, applyAction, checkAction, summaryOf, type ActionWindows } from '../../lib/message-actions.ts';
import { ActionLog } from './action-log.ts';
import { FrameError } from './frame-error.ts';
import type { MessageCopies, MessageRecord } from './message-copies.ts';
import type { MailboxStore, StoredEntry } from './store.ts';

/** An action as the other party's mailbox receives it: who did what to which message. */
export type DirectActionRecord = {
  actor: string;
  clientId: string;
  /** The message: its server id, and its sender and client id (how each mailbox finds its copy). */
  target: { id: string; sender: string; clientId: string };
  action: Action;
  at: number;
};

export type DirectActionDeps = {
  sql: SqlStorage;
  store: MailboxStore;
  copies: MessageCopies;
  self: () => string;
  windows: ActionWindows;
  publish: (entries: StoredEntry[]) => void;
  /** Apply a record at the other party's mailbox; false when that account no longer exists. */
  deliver: (peer: string, record: DirectActionRecord) => Promise<boolean>;
  db: D1Database;
  waitUntil: (promise: Promise<unknown>) => void;
};

type DirectFrame = ActionFrame & { chat: { kind: 'direct'; peer: string } };

export class DirectActions {
  readonly #deps: DirectActionDeps;
  readonly #log: ActionLog;
  /** Actions by client id in progress, so concurrent retries share one outcome. */
  readonly #inFlight = new Map<string, Promise<{ duplicate: boolean }>>();
  /** Rows in early_actions (read once): recording a message looks for its early actions only when there are some. */
  #early: number;

  constructor(deps: DirectActionDeps) {
    this.#deps = deps;
    this.#log = new ActionLog(deps.sql);
    this.#early = deps.sql.exec<{ n: number }>('SELECT count(*) AS n FROM early_actions').one().n;
  }

  /**
   * A device's `action` on a 1:1 message. Resolves once every copy it applies to has it.
   *
   * @example
   * await actions.act({ type: 'action', id: 'r1', chat: { kind: 'direct', peer }, target, action: { kind: 'react', emoji: '👍' } });
   */
  act(frame: DirectFrame): Promise<{ duplicate: boolean }> {
    const running = this.#inFlight.get(frame.id);
    if (running) return running.then(() => ({ duplicate: true }));
    const result = this.#act(frame).finally(() => this.#inFlight.delete(frame.id));
    this.#inFlight.set(frame.id, result);
    return result;
  }

  async #act(frame: DirectFrame): Promise<{ duplicate: boolean }> {
    const { copies } = this.#deps;
    const self = this.#deps.self();
    const peer = frame.chat.peer;
    const fingerprint = actionFingerprint('direct', frame.target, frame.action);
    if (this.#log.seen(self, frame.id, fingerprint)) return { duplicate: true };
    const found = copies.messageById(frame.target);
    if (!found || found.peer !== peer) throw new FrameError('message_not_found');
    if (found.hidden) {
      // Deleted for this user: only deleting it again is answered (it changes nothing).
      if (frame.action.kind !== 'delete' || frame.action.scope !== 'me') throw new FrameError('message_not_found');
      this.#log.record(self, frame.id, frame.target, fingerprint, Date.now());
      return { duplicate: false };
    }
    const now = Date.now();
    let changes: boolean;
    try {
      changes = checkAction(found.message, self, frame.action, now, this.#deps.windows);
    } catch (error) {
      if (error instanceof ActionRefused) throw new FrameError(error.code);
      throw error;
    }
    const record: DirectActionRecord = {
      actor: self,
      clientId: frame.id,
      target: { id: found.message.id, sender: found.message.from, clientId: found.message.clientId },
      action: frame.action,
      at: now,
    };
    if (changes && shared(frame.action)) {
      // The other copy first, as a message is stored at the recipient first. A deleted account
      // has no copy left to change; this user's copy still changes.
      await this.#deps.deliver(peer, record);
    }
    if (changes) this.#deps.publish(this.#apply(found, record));
    else this.#log.record(self, frame.id, frame.target, fingerprint, now);
    return { duplicate: false };
  }

  /**
   * The other party's action on a message of this chat (the RPC `applyDirectAction`). Idempotent;
   * kept for later when the message is not here yet. Returns the entries it appended.
   */
  applyRecord(record: DirectActionRecord): StoredEntry[] {
    const fingerprint = actionFingerprint('direct', record.target.id, record.action);
    if (this.#log.seen(record.actor, record.clientId, fingerprint)) return [];
    const found = this.#deps.copies.messageBySender(record.target.sender, record.target.clientId);
    if (found?.hidden) {
      // This user deleted it for themselves: nothing of it is shown any more, so nothing changes.
      this.#log.record(record.actor, record.clientId, record.target.id, fingerprint, record.at);
      return [];
    }
    if (!found) {
      this.#deps.sql.exec(
        'INSERT INTO early_actions (sender, client_id, n, action) VALUES (?, ?, (SELECT count(*) FROM early_actions), ?)',
        record.target.sender,
        record.target.clientId,
        JSON.stringify(record),
      );
      this.#early++;
      return [];
    }
    return this.#apply(found, record);
  }

  /** A message was just recorded here: apply the actions that arrived before it, in arrival order. */
  recorded(message: Message): StoredEntry[] {
    if (this.#early === 0) return [];
    const rows = this.#deps.sql
      .exec<{ n: number; action: string }>(
        'DELETE FROM early_actions WHERE sender = ? AND client_id = ? RETURNING n, action',
        message.from,
        message.clientId,
      )
      .toArray();
    if (rows.length === 0) return [];
    this.#early = Math.max(0, this.#early - rows.length);
    const entries: StoredEntry[] = [];
    for (const row of rows.sort((a, b) => a.n - b.n)) {
      entries.push(...this.applyRecord(JSON.parse(row.action) as DirectActionRecord));
    }
    return entries;
  }

  /** Apply to this user's copy: the row, the sync log (deletions rewrite it), the idempotency record. */
  #apply(found: MessageRecord, record: DirectActionRecord): StoredEntry[] {
    const { store, copies } = this.#deps;
    const { action } = record;
    // Edits keep earlier versions on the sender's copy only.
    const next = applyAction(found.message, record.actor, action, record.at, found.outgoing);
    const deleting = action.kind === 'delete';
    copies.replaceMessage(found.seq, next, { hidden: deleting && action.scope === 'me', rewriteEntries: deleting });
    const entry = store.append({ type: 'message_update', by: record.actor, action: summaryOf(action), at: record.at, message: next }, Date.now());
    store.linkEntry(found.seq, entry.seq);
    if (deleting && action.scope === 'everyone' && !found.outgoing) this.#revokeMedia(found.message);
    this.#log.record(record.actor, record.clientId, record.target.id, actionFingerprint('direct', record.target.id, action), record.at);
    return [entry];
  }

  /**
   * A message this user received was recalled: if it named media that no other of this user's
   * 1:1 messages names (a forward of it from someone else, say), their download grant goes
   * (best effort; decided here, where all their messages are).
   */
  #revokeMedia(message: Message): void {
    if (!isMediaBody(message.body)) return;
    const media = message.body.media.id;
    if (this.#deps.copies.namesMedia(media)) return;
    this.#deps.waitUntil(
      revokeMediaGrant(this.#deps.db, media, { kind: 'user', id: this.#deps.self() }, Date.now()).catch((error: unknown) =>
        console.error('media grant revocation failed', error),
      ),
    );
  }
}

/** Whether an action changes the other party's copy too (star and delete-for-me do not). */
function shared(action: Action): boolean {
  return action.kind === 'react' || action.kind === 'edit' || (action.kind === 'delete' && action.scope === 'everyone');
}
