/**
 * Account deletion at the mailbox object: everything it stored goes, and a one-row tombstone
 * stays so the object never stores anything again (object ids are derived from user ids, so
 * anyone still addressing the deleted user would otherwise bring up a fresh, empty mailbox).
 * The constructor checks the tombstone before anything else, so no table is recreated.
 */
import { CLOSE_CODES } from '../../protocol/index.ts';

/** Whether this object belongs to a deleted account. Reads only. */
export function isWiped(sql: SqlStorage): boolean {
  return sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tombstone'").toArray().length > 0;
}

/**
 * Close every connection (`account_deleted`, fatal for clients), delete all storage and the
 * alarm, and leave the tombstone. Sockets lose their state first, so their close events record nothing.
 */
export async function wipeStorage(ctx: DurableObjectState, now: number): Promise<void> {
  for (const ws of ctx.getWebSockets()) {
    ws.serializeAttachment(null);
    try {
      ws.close(CLOSE_CODES.account_deleted, 'account deleted');
    } catch {
      // Already closing.
    }
  }
  await ctx.storage.deleteAlarm();
  await ctx.storage.deleteAll();
  ctx.storage.sql.exec('CREATE TABLE tombstone (wiped_at INTEGER NOT NULL)');
  ctx.storage.sql.exec('INSERT INTO tombstone (wiped_at) VALUES (?)', now);
}
