/**
 * Stars and deletions for this user only of a large group's messages (read diffusion: no copy of
 * them is here to change). A mark names the message; its content stays in the group's log, so
 * an edit or a deletion for everyone shows wherever the message is read, and nothing of it is
 * stored here. The devices are told as for a copy: a `group_message_update` entry (gseq null).
 * Log pages (history, the chat list) are read through `overlay`; the starred list through
 * `starred`, whose messages the caller fetches from the groups.
 */
import type { GroupHistoryItem, GroupMessage } from '../../protocol/index.ts';
import { applyAction, summaryOf, tombstone } from '../../lib/message-actions.ts';
import type { LocalAction } from './group-inbox.ts';
import type { MailboxStore, StoredEntry } from './store.ts';

type MarkRow = { group_id: string; message_id: string; seq: number; starred_at: number | null; hidden: number };

export class LargeMarks {
  constructor(
    private readonly sql: SqlStorage,
    private readonly store: MailboxStore,
  ) {}

  /** Whether this user deleted message `messageId` of `group` for themselves. */
  hidden(group: string, messageId: string): boolean {
    return this.#mark(group, messageId)?.hidden === 1;
  }

  /**
   * Star / unstar, or delete for this user only, `message` (as the group has it now). Returns the
   * entry for this user's devices, or null when nothing changed (already so, or starring a
   * message deleted for this user).
   */
  apply(group: string, message: GroupMessage, action: LocalAction, actor: string, at: number): StoredEntry | null {
    const mark = this.#mark(group, message.id);
    if (mark?.hidden === 1) return null;
    let next: GroupMessage;
    if (action.kind === 'star') {
      if ((mark?.starred_at != null) === action.starred) return null;
      next = applyAction(message, actor, action, at, false);
    } else {
      const { starred: _starred, ...gone } = tombstone(message, actor, 'me', at);
      next = gone;
    }
    const entry = this.store.append({ type: 'group_message_update', gseq: null, by: actor, action: summaryOf(action), at, message: next }, at);
    this.sql.exec(
      `INSERT INTO large_marks (group_id, message_id, gseq, seq, starred_at, hidden) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (group_id, message_id) DO UPDATE SET seq = excluded.seq, starred_at = excluded.starred_at, hidden = excluded.hidden`,
      group,
      message.id,
      message.gseq,
      entry.seq,
      action.kind === 'star' && action.starred ? at : null,
      action.kind === 'delete' ? 1 : 0,
    );
    return entry;
  }

  /**
   * Items read from `group`'s log as this user has marked them: starred ones say so, and those
   * deleted for this user become their tombstone (`dropHidden`: left out, as history does).
   */
  overlay(group: string, items: readonly GroupHistoryItem[], dropHidden: boolean): GroupHistoryItem[] {
    const ids = items.flatMap((i) => (i.entry.type === 'message' ? [i.entry.message.id] : []));
    if (ids.length === 0) return [...items];
    const marks = new Map(
      this.sql
        .exec<MarkRow>(
          `SELECT group_id, message_id, seq, starred_at, hidden FROM large_marks
           WHERE group_id = ? AND message_id IN (SELECT value FROM json_each(?))`,
          group,
          JSON.stringify(ids),
        )
        .toArray()
        .map((m) => [m.message_id, m]),
    );
    if (marks.size === 0) return [...items];
    return items.flatMap((item) => {
      const mark = item.entry.type === 'message' ? marks.get(item.entry.message.id) : undefined;
      if (!mark || item.entry.type !== 'message') return [item];
      const message = item.entry.message;
      if (mark.hidden === 1) {
        if (dropHidden) return [];
        const { starred: _starred, ...gone } = tombstone(message, message.from, 'me', message.sentAt);
        return [{ ...item, entry: { type: 'message', message: gone } }];
      }
      const { starred: _starred, ...unstarred } = message;
      return [{ ...item, entry: { type: 'message', message: mark.starred_at !== null ? { ...unstarred, starred: true } : unstarred } }];
    });
  }

  /** Starred messages of large groups, newest star first, strictly below mailbox seq `before`: where each is (its content is the group's). */
  starred(before: number | undefined, limit: number): Array<{ seq: number; group: string; messageId: string }> {
    return this.sql
      .exec<MarkRow>(
        `SELECT group_id, message_id, seq, starred_at, hidden FROM large_marks
         WHERE starred_at IS NOT NULL AND seq < ? ORDER BY seq DESC LIMIT ?`,
        before ?? Number.MAX_SAFE_INTEGER,
        limit,
      )
      .toArray()
      .map((m) => ({ seq: m.seq, group: m.group_id, messageId: m.message_id }));
  }

  #mark(group: string, messageId: string): MarkRow | null {
    return (
      this.sql
        .exec<MarkRow>('SELECT group_id, message_id, seq, starred_at, hidden FROM large_marks WHERE group_id = ? AND message_id = ?', group, messageId)
        .toArray()[0] ?? null
    );
  }
}
