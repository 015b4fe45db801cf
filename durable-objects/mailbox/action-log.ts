/**
 * Actions this mailbox applied, by (actor, client id): what makes every action idempotent here.
 * A retry with the same id and the same content is a duplicate; the same id with other content is
 * refused (`id_conflict`). Synchronous, so the record commits with the change it guards.
 */
import { FrameError } from './frame-error.ts';

export class ActionLog {
  constructor(private readonly sql: SqlStorage) {}

  /**
   * Whether `actor` already did `clientId` here: true for a duplicate (same fingerprint), false
   * for a new one; throws `id_conflict` when the id was used for something else.
   */
  seen(actor: string, clientId: string, fingerprint: string): boolean {
    const row = this.sql
      .exec<{ fingerprint: string }>('SELECT fingerprint FROM actions WHERE actor = ? AND client_id = ?', actor, clientId)
      .toArray()[0];
    if (!row) return false;
    if (row.fingerprint !== fingerprint) throw new FrameError('id_conflict');
    return true;
  }

  record(actor: string, clientId: string, target: string, fingerprint: string, at: number): void {
    this.sql.exec(
      'INSERT OR IGNORE INTO actions (actor, client_id, target, fingerprint, at) VALUES (?, ?, ?, ?, ?)',
      actor,
      clientId,
      target,
      fingerprint,
      at,
    );
  }
}
