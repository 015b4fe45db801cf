/**
 * The users this user has blocked, kept in the mailbox object because that is where it is
 * enforced: every incoming 1:1 delivery is checked against it (an in-memory set, loaded once).
 */
import type { BlockedUser } from '../../protocol/index.ts';

export class BlockList {
  readonly #blocked: Set<string>;

  constructor(private readonly sql: SqlStorage) {
    this.#blocked = new Set(sql.exec<{ user_id: string }>('SELECT user_id FROM blocked').toArray().map((r) => r.user_id));
  }

  has(userId: string): boolean {
    return this.#blocked.has(userId);
  }

  /** Block `userId` (idempotent: blocking again keeps the original time). */
  block(userId: string, now: number): void {
    this.sql.exec('INSERT OR IGNORE INTO blocked (user_id, at) VALUES (?, ?)', userId, now);
    this.#blocked.add(userId);
  }

  unblock(userId: string): void {
    this.sql.exec('DELETE FROM blocked WHERE user_id = ?', userId);
    this.#blocked.delete(userId);
  }

  list(): BlockedUser[] {
    return this.sql
      .exec<{ user_id: string; at: number }>('SELECT user_id, at FROM blocked ORDER BY at, user_id')
      .toArray()
      .map((r) => ({ userId: r.user_id, at: r.at }));
  }
}
