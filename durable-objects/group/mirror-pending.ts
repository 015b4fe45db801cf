/**
 * Who the D1 mirror is behind on: every write to a member or invite row names its person here
 * (same commit), and a mirror sync sends those people's rows as they are then and clears what it
 * sent, unless a later change named them again (the version moved). So a change of a large group
 * costs D1 rows for the people it touched, not for every member (./publish.ts).
 */

/** Note that the mirror rows of `userIds` are out of date. */
export function markPending(sql: SqlStorage, userIds: Iterable<string>): void {
  for (const userId of userIds) {
    sql.exec(
      'INSERT INTO mirror_pending (user_id, version) VALUES (?, 1) ON CONFLICT (user_id) DO UPDATE SET version = version + 1',
      userId,
    );
  }
}

/** Up to `limit` people whose mirror rows are out of date, with the version seen. */
export function pendingMirror(sql: SqlStorage, limit: number): Array<{ userId: string; version: number }> {
  return sql
    .exec<{ user_id: string; version: number }>('SELECT user_id, version FROM mirror_pending LIMIT ?', limit)
    .toArray()
    .map((r) => ({ userId: r.user_id, version: r.version }));
}

/** The mirror took these rows: forget them unless they changed again since. */
export function mirrored(sql: SqlStorage, sent: ReadonlyArray<{ userId: string; version: number }>): void {
  for (const { userId, version } of sent) sql.exec('DELETE FROM mirror_pending WHERE user_id = ? AND version = ?', userId, version);
}

/** A full rewrite of the mirror took everything up to now. */
export function clearPending(sql: SqlStorage): void {
  sql.exec('DELETE FROM mirror_pending');
}
