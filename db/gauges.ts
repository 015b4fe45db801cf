/**
 * Mailbox gauges for operators (GET /v1/metrics): each user's object reports its connected
 * devices and mailbox depth when they change; the metrics route sums them.
 */
import { count, max, sql, sum } from 'drizzle-orm';
import { accountsDb, type DbLike } from './accounts.ts';
import { mailboxGauges } from './schema.ts';

export async function reportMailboxGauges(db: DbLike, userId: string, gauges: { connections: number; depth: number }, now: number): Promise<void> {
  await accountsDb(db)
    .insert(mailboxGauges)
    .values({ userId, ...gauges, updatedAt: now })
    .onConflictDoUpdate({ target: mailboxGauges.userId, set: { ...gauges, updatedAt: now } });
}

export async function mailboxGaugeTotals(db: DbLike): Promise<{ connectedDevices: number; onlineUsers: number; depthTotal: number; depthMax: number; mailboxes: number }> {
  const d = accountsDb(db);
  const [totals] = await d
    .select({
      connections: sum(mailboxGauges.connections),
      online: sql<number>`sum(case when ${mailboxGauges.connections} > 0 then 1 else 0 end)`,
      depth: sum(mailboxGauges.depth),
      deepest: max(mailboxGauges.depth),
      mailboxes: count(),
    })
    .from(mailboxGauges);
  return {
    connectedDevices: Number(totals?.connections ?? 0),
    onlineUsers: Number(totals?.online ?? 0),
    depthTotal: Number(totals?.depth ?? 0),
    depthMax: Number(totals?.deepest ?? 0),
    mailboxes: Number(totals?.mailboxes ?? 0),
  };
}

