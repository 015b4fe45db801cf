/**
 * Versioned SQLite schemas for Durable Objects: a `meta` table of small integer values holds
 * `schema_version`, and `applyMigrations` runs the migrations a stored object has not seen yet,
 * so a deployed object upgrades itself in place the first time new code wakes it.
 */

/**
 * Bring an object's database to the newest schema (call from the constructor).
 *
 * @example
 * applyMigrations(ctx.storage.sql, [`CREATE TABLE log (...)`, `ALTER TABLE log ADD COLUMN ...`]);
 */
export function applyMigrations(sql: SqlStorage, migrations: readonly string[]): void {
  // `meta` predates every migration.
  sql.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)');
  for (let v = readMeta(sql, 'schema_version'); v < migrations.length; v++) {
    sql.exec(migrations[v]!);
    writeMeta(sql, 'schema_version', v + 1);
  }
}

/**
 * Whether this object's database was ever set up (by `applyMigrations`). Only reads: an object
 * that has written nothing has no stored state, and asking must not give it some.
 */
export function hasSchema(sql: SqlStorage): boolean {
  return sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").toArray().length > 0;
}

/** A value from `meta` (0 when unset). */
export function readMeta(sql: SqlStorage, key: string): number {
  return sql.exec<{ value: number }>('SELECT value FROM meta WHERE key = ?', key).toArray()[0]?.value ?? 0;
}

export function writeMeta(sql: SqlStorage, key: string, value: number): void {
  sql.exec('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)', key, value);
}
