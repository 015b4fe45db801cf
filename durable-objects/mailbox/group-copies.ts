/**
 * This user's copies of group messages (rows of `group_entries`) and what changes them: updates
 * that reach the mailbox (reactions, edits, deletions for everyone, through fan-out) and the
 * user's own stars and deletions for themselves. A deletion also rewrites every mailbox entry
 * that held the message (`message_entries`), so no content stays in this user's storage.
 */
import type { GroupEntry, GroupMessage, GroupUpdate } from '../../protocol/index.ts';
import { applyAction, summaryOf, tombstone } from '../../lib/message-actions.ts';
import type { LocalAction, StarredGroupItem } from './group-inbox.ts';
import type { MailboxStore, StoredEntry } from './store.ts';

type CopyRow = { seq: number; hidden: number; entry: string };

export class GroupCopies {
  constructor(
    private readonly sql: SqlStorage,
    private readonly store: MailboxStore,
  ) {}

  /** This user's visible copy of a group message by server id (replies, forwards, local actions), or null. */
  findMessage(messageId: string): { group: string; seq: number; message: GroupMessage } | null {
    const row = this.sql
      .exec<CopyRow & { group_id: string }>(
        'SELECT seq, group_id, hidden, entry FROM group_entries WHERE message_id = ? AND hidden = 0',
        messageId,
      )
      .toArray()[0];
    const message = row ? messageOf(row) : null;
    return row && message ? { group: row.group_id, seq: row.seq, message } : null;
  }

  /** Whether this user deleted message `messageId` of `group` for themselves (a repeat changes nothing). */
  hidden(group: string, messageId: string): boolean {
    return this.#copy(group, messageId)?.hidden === 1;
  }

  /**
   * Star / unstar, or delete for this user only, this user's copy of a message of `group`: the
   * row changes, a `group_message_update` entry (gseq null) tells this user's devices, and a
   * deletion also rewrites the mailbox entries that held the message. Null when nothing changed
   * (or there is no visible copy).
   */
  applyLocal(group: string, messageId: string, action: LocalAction, actor: string, at: number): StoredEntry | null {
    const row = this.#copy(group, messageId);
    const own = row && row.hidden === 0 ? messageOf(row) : null;
    if (!row || !own) return null;
    let next: GroupMessage;
    if (action.kind === 'star') {
      if ((own.starred === true) === action.starred) return null;
      next = applyAction(own, actor, action, at, false);
      this.sql.exec('UPDATE group_entries SET entry = ?, starred_at = ? WHERE seq = ?', entryText(next), action.starred ? at : null, row.seq);
    } else {
      const { starred: _starred, ...gone } = tombstone(own, actor, 'me', at);
      next = gone;
      this.sql.exec('UPDATE group_entries SET entry = ?, hidden = 1, starred_at = NULL WHERE seq = ?', entryText(next), row.seq);
      this.store.rewriteEntries(row.seq, next);
    }
    return this.#appendUpdate(row.seq, { gseq: null, by: actor, action: summaryOf(action), at, message: next }, at);
  }

  /** Starred group messages (not deleted for this user), newest first, strictly below mailbox seq `before`. */
  starred(before: number | undefined, limit: number): StarredGroupItem[] {
    return this.sql
      .exec<CopyRow & { group_id: string }>(
        `SELECT seq, group_id, hidden, entry FROM group_entries
         WHERE starred_at IS NOT NULL AND hidden = 0 AND seq < ? ORDER BY seq DESC LIMIT ?`,
        before ?? Number.MAX_SAFE_INTEGER,
        limit,
      )
      .toArray()
      .flatMap((r) => {
        const message = messageOf(r);
        return message ? [{ seq: r.seq, chat: { kind: 'group' as const, group: r.group_id }, message }] : [];
      });
  }

  /**
   * A group update (reaction, edit, deletion for everyone) reached this mailbox: apply it to this
   * user's copy of its message. No copy (joined after it, or deleted it for themselves): nothing
   * is stored. The copy keeps this user's star and, on the sender's copy, the earlier versions.
   */
  applyUpdate(group: string, update: GroupUpdate, self: string, now: number): StoredEntry | null {
    const row = this.sql
      .exec<CopyRow>('SELECT seq, hidden, entry FROM group_entries WHERE group_id = ? AND gseq = ?', group, update.message.gseq)
      .toArray()[0];
    const own = row && row.hidden === 0 ? messageOf(row) : null;
    if (!row || !own || own.id !== update.message.id) return null;
    const recall = update.action.kind === 'delete';
    const { starred: _starred, edits: _edits, rev: _rev, ...theirs } = update.message;
    const next: GroupMessage = { ...theirs, rev: (own.rev ?? 0) + 1 };
    if (!recall) {
      if (own.starred) next.starred = true;
      const edits = [...(own.edits ?? [])];
      if (update.by === self && update.action.kind === 'edit' && own.body.kind !== 'deleted') {
        edits.push({ body: own.body, at: own.editedAt ?? own.sentAt });
      }
      if (edits.length > 0) next.edits = edits;
    }
    this.sql.exec(
      'UPDATE group_entries SET entry = ?, starred_at = CASE WHEN ? THEN NULL ELSE starred_at END WHERE seq = ?',
      entryText(next),
      recall ? 1 : 0,
      row.seq,
    );
    if (recall) this.store.rewriteEntries(row.seq, next);
    const { gseq, by, action, at } = update;
    return this.#appendUpdate(row.seq, { gseq, by, action, at, message: next }, now);
  }

  /** Append a `group_message_update` entry and remember that it holds a copy of the message at `messageSeq`. */
  #appendUpdate(
    messageSeq: number,
    update: { gseq: number | null; by: string; action: GroupUpdate['action']; at: number; message: GroupMessage },
    now: number,
  ): StoredEntry {
    const entry = this.store.append({ type: 'group_message_update', ...update }, now);
    this.store.linkEntry(messageSeq, entry.seq);
    return entry;
  }

  #copy(group: string, messageId: string): CopyRow | null {
    return (
      this.sql
        .exec<CopyRow>('SELECT seq, hidden, entry FROM group_entries WHERE message_id = ? AND group_id = ?', messageId, group)
        .toArray()[0] ?? null
    );
  }
}

function messageOf(row: { entry: string }): GroupMessage | null {
  const entry = JSON.parse(row.entry) as GroupEntry;
  return entry.type === 'message' ? entry.message : null;
}

function entryText(message: GroupMessage): string {
  const entry: GroupEntry = { type: 'message', message };
  return JSON.stringify(entry);
}
