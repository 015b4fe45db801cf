/**
 * The 1:1 chat list (`conversations`): a row per peer this user exchanged a message with, holding
 * what the messages alone do not say cheaply: the unread count, how far the chat was read, and
 * the "marked unread" flag. The chat's newest message is not stored here: the list reads it from
 * the messages' (peer, seq) index when asked, which is rare next to messages. So an outgoing
 * message writes nothing here (its row is made once, with the chat's first message since the
 * object woke), and an incoming one only adds to the unread count.
 *
 * Synchronous SQL over the object's database, like MailboxStore, so these writes commit with the
 * message they belong to.
 */
import { STATUS_RANK, type DirectConversation } from '../../protocol/index.ts';
import { historyItem, pageOf, type MessageRow } from './message-rows.ts';

/** Peers remembered as having a row; past this the memory starts over (a statement per peer again). */
const KNOWN_PEERS_MAX = 1_024;

export class ChatList {
  /** Peers whose row exists (made or seen since this instance started). */
  readonly #known = new Set<string>();
  /** Peers whose chat is marked unread; null until first needed. */
  #marked: Set<string> | null = null;

  constructor(private readonly sql: SqlStorage) {}

  /**
   * A message with `peer` was stored: an incoming one counts as unread (one statement); an
   * outgoing one only makes sure the chat is listed, which costs a statement the first time this
   * instance sees the peer and none after.
   */
  recorded(peer: string, incoming: boolean): void {
    if (incoming) {
      this.sql.exec('INSERT INTO conversations (peer, unread) VALUES (?, 1) ON CONFLICT (peer) DO UPDATE SET unread = unread + 1', peer);
    } else if (!this.#known.has(peer)) {
      this.sql.exec('INSERT INTO conversations (peer, unread) VALUES (?, 0) ON CONFLICT (peer) DO NOTHING', peer);
    } else {
      return;
    }
    if (this.#known.size >= KNOWN_PEERS_MAX) this.#known.clear();
    this.#known.add(peer);
  }

  /** `count` incoming messages of `peer` up to `upTo` were just marked read. */
  read(peer: string, count: number, upTo: number): void {
    this.sql.exec(
      'UPDATE conversations SET unread = max(0, unread - ?), read_through = max(read_through, ?) WHERE peer = ?',
      count,
      upTo,
      peer,
    );
  }

  /**
   * The chat list: conversations by most recent message, newest first, below `before`. Above a
   * `floor`, only chats with a message above it are listed, and only those messages count as unread.
   */
  conversations(before: number | undefined, limit: number, floor = 0): { items: DirectConversation[]; nextBefore: number | null } {
    // The stored count covers the whole chat; above a floor it is counted (a page of chats, by index).
    const unread = floor > 0 ? '(SELECT count(*) FROM messages u WHERE u.peer = c.peer AND u.outgoing = 0 AND u.status < ? AND u.seq > ?)' : 'c.unread';
    const rows = this.sql
      .exec<MessageRow & { peer: string; unread: number; marked_unread: number }>(
        `SELECT c.peer, ${unread} AS unread, c.marked_unread, m.seq, m.message, m.status, m.outgoing
         FROM (SELECT peer, unread, marked_unread, (SELECT max(x.seq) FROM messages x WHERE x.peer = conversations.peer) AS last_seq
               FROM conversations) c
         JOIN messages m ON m.seq = c.last_seq
         WHERE c.last_seq < ? AND c.last_seq > ? ORDER BY c.last_seq DESC LIMIT ?`,
        ...(floor > 0 ? [STATUS_RANK.read, floor] : []),
        before ?? Number.MAX_SAFE_INTEGER,
        floor,
        limit + 1,
      )
      .toArray();
    return pageOf(rows, limit, (row) => ({
      kind: 'direct',
      peer: row.peer,
      unread: row.unread,
      markedUnread: row.marked_unread === 1,
      last: historyItem(row),
    }));
  }

  /**
   * Reading a chat clears its "marked unread" flag: whether it was set (then the devices are told).
   * The marked chats are kept in memory (read once per wake), so a read costs no statement for it.
   */
  clearMarkedUnread(peer: string): boolean {
    const marked = this.#markedPeers();
    if (!marked.has(peer)) return false;
    this.sql.exec('UPDATE conversations SET marked_unread = 0 WHERE peer = ?', peer);
    marked.delete(peer);
    return true;
  }

  /** Set or clear the "marked unread" flag of the chat with `peer`: whether it changed, null when there is no such chat. */
  markUnread(peer: string, unread: boolean): boolean | null {
    const row = this.sql.exec<{ marked_unread: number }>('SELECT marked_unread FROM conversations WHERE peer = ?', peer).toArray()[0];
    if (!row) return null;
    if ((row.marked_unread === 1) === unread) return false;
    this.sql.exec('UPDATE conversations SET marked_unread = ? WHERE peer = ?', unread ? 1 : 0, peer);
    if (unread) this.#markedPeers().add(peer);
    else this.#markedPeers().delete(peer);
    return true;
  }

  #markedPeers(): Set<string> {
    this.#marked ??= new Set(
      this.sql.exec<{ peer: string }>('SELECT peer FROM conversations WHERE marked_unread = 1').toArray().map((r) => r.peer),
    );
    return this.#marked;
  }
}
