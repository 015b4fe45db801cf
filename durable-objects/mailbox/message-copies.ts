/**
 * The 1:1 message copies of one user's mailbox as message actions see them: found by server id
 * (what an action names) or by sender and client id (how the other party's mailbox finds its
 * copy), changed in place (with every sync-log entry holding a copy rewritten when the content
 * must go: MailboxStore.rewriteEntries), and the starred list. Synchronous SQL over the tables of MailboxStore
 * (schema.ts v7), so a change commits with the update entry it publishes.
 */
import type { Message } from '../../protocol/index.ts';
import type { MailboxStore } from './store.ts';

/** A 1:1 message as this mailbox holds it, with where it is. */
export type MessageRecord = { seq: number; peer: string; outgoing: boolean; hidden: boolean; message: Message };

export class MessageCopies {
  constructor(
    private readonly sql: SqlStorage,
    private readonly store: MailboxStore,
  ) {}

  /** A 1:1 message by its server id (actions and forwards name messages by it). */
  messageById(id: string): MessageRecord | null {
    return recordOf(
      this.sql.exec<RecordRow>('SELECT seq, peer, outgoing, hidden, message FROM messages WHERE id = ?', id).toArray()[0],
    );
  }

  /** A 1:1 message by its sender and client id (how the other party's mailbox finds its copy). */
  messageBySender(sender: string, clientId: string): MessageRecord | null {
    return recordOf(
      this.sql
        .exec<RecordRow>('SELECT seq, peer, outgoing, hidden, message FROM messages WHERE sender = ? AND client_id = ?', sender, clientId)
        .toArray()[0],
    );
  }

  /**
   * Store a changed message in place: its history row, and (`rewriteEntries`, for deletions) every
   * mailbox entry holding a copy of it, so no earlier content stays in this user's storage.
   */
  replaceMessage(seq: number, message: Message, options: { hidden?: boolean; rewriteEntries?: boolean } = {}): void {
    const starred = message.starred === true;
    this.sql.exec(
      `UPDATE messages SET message = ?, hidden = max(hidden, ?),
         starred_at = CASE WHEN ? THEN coalesce(starred_at, ?) ELSE NULL END
       WHERE seq = ?`,
      JSON.stringify(message),
      options.hidden ? 1 : 0,
      starred ? 1 : 0,
      Date.now(),
      seq,
    );
    if (options.rewriteEntries) this.store.rewriteEntries(seq, message);
  }

  /** Whether a 1:1 message of this user (not deleted) names media `mediaId` (index messages_media). */
  namesMedia(mediaId: string): boolean {
    return (
      this.sql
        .exec(
          "SELECT 1 FROM messages WHERE json_extract(message, '$.body.media.id') = ? AND json_extract(message, '$.body.media.id') IS NOT NULL LIMIT 1",
          mediaId,
        )
        .toArray().length > 0
    );
  }

  /** Starred 1:1 messages, newest first, strictly below `before`. */
  starred(before: number | undefined, limit: number): Array<{ seq: number; peer: string; message: Message }> {
    return this.sql
      .exec<{ seq: number; peer: string; message: string }>(
        'SELECT seq, peer, message FROM messages WHERE starred_at IS NOT NULL AND hidden = 0 AND seq < ? ORDER BY seq DESC LIMIT ?',
        before ?? Number.MAX_SAFE_INTEGER,
        limit,
      )
      .toArray()
      .map((r) => ({ seq: r.seq, peer: r.peer, message: JSON.parse(r.message) as Message }));
  }

}

type RecordRow = { seq: number; peer: string; outgoing: number; hidden: number; message: string };

function recordOf(row: RecordRow | undefined): MessageRecord | null {
  if (!row) return null;
  return { seq: row.seq, peer: row.peer, outgoing: row.outgoing === 1, hidden: row.hidden === 1, message: JSON.parse(row.message) as Message };
}
