/**
 * D1's limits, and the helpers that keep the history modules inside them. The shard tables are
 * written with plain prepared statements rather than drizzle (used for the accounts database):
 * FTS5 virtual tables, conditional upserts (`DO UPDATE ... WHERE excluded.batch >= batch`) and
 * INSERT ... SELECT over VALUES are clearer in SQL than through a query builder.
 */

/** D1 binds at most 100 parameters per statement. */
export const MAX_PARAMS = 100;
/** Statements per db.batch call (one transaction each). */
export const MAX_BATCH_STATEMENTS = 100;

/** `items` in consecutive slices of at most `size`. */
export function slices<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** `?a, ?b, ...`: `count` numbered placeholders starting at `from`. */
export function placeholders(from: number, count: number): string {
  return Array.from({ length: count }, (_, i) => `?${from + i}`).join(', ');
}

/** Run statements in as few db.batch calls as D1 allows (each call is one transaction). */
export async function runBatches(db: D1Database, groups: D1PreparedStatement[][]): Promise<void> {
  // Statements of one group stay in one transaction (a warm row and its search doc together).
  let current: D1PreparedStatement[] = [];
  for (const group of groups) {
    if (current.length > 0 && current.length + group.length > MAX_BATCH_STATEMENTS) {
      await db.batch(current);
      current = [];
    }
    current.push(...group);
  }
  if (current.length > 0) await db.batch(current);
}
