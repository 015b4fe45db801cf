/**
 * Mailbox gauges for operators (GET /v1/metrics): each user's object reports its connected
 * devices and mailbox depth when they change; the metrics route sums them.
 */
import { count, max, sql, sum } from 'drizzle-orm';
import { accountsDb, type DbLike } from './accounts.ts';
import { mailboxGauges } from './schema.ts';

/** `hot`: history rows kept in the object, reported when an archive batch moved some (else left as it was). */
export async function reportMailboxGauges(
  db: DbLike,
  userId: string,
  gauges: { connections: number; depth: number; hot?: number },
  now: number,
): Promise<void> {
  await accountsDb(db)
    .insert(mailboxGauges)
    .values({ userId, ...gauges, updatedAt: now })
    .onConflictDoUpdate({ target: mailboxGauges.userId, set: { ...gauges, updatedAt: now } });
}

export async function mailboxGaugeTotals(
  db: DbLike,
): Promise<{ connectedDevices: number; onlineUsers: number; depthTotal: number; depthMax: number; mailboxes: number; hotMessages: number; hotMailboxes: number }> {
  const d = accountsDb(db);
  const [totals] = await d
    .select({
      connections: sum(mailboxGauges.connections),
      online: sql<number>`sum(case when ${mailboxGauges.connections} > 0 then 1 else 0 end)`,
      depth: sum(mailboxGauges.depth),
      deepest: max(mailboxGauges.depth),
      mailboxes: count(),
      hot: sum(mailboxGauges.hot),
      archiving: sql<number>`sum(case when ${mailboxGauges.hot} > 0 then 1 else 0 end)`,
    })
    .from(mailboxGauges);
  return {
    connectedDevices: Number(totals?.connections ?? 0),
    onlineUsers: Number(totals?.online ?? 0),
    depthTotal: Number(totals?.depth ?? 0),
    depthMax: Number(totals?.deepest ?? 0),
    mailboxes: Number(totals?.mailboxes ?? 0),
    hotMessages: Number(totals?.hot ?? 0),
    hotMailboxes: Number(totals?.archiving ?? 0),
  };
}

