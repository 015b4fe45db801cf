/**
 * The operators' mailbox gauges (GET /v1/metrics): each user's object reports its connected
 * devices and mailbox depth when they change (on connect and disconnect) and its hot history rows
 * after an archive batch, to one of GAUGE_SHARDS hub objects chosen by the user id. A hub keeps a
 * row per user in its own SQLite; the metrics route adds up the shards' totals.
 *
 * Before this the gauges were a D1 row per user, written on every connect and disconnect: one
 * write on the one database every Worker shares, per connection. Here the writes spread over the
 * shards, and a hub's writes that arrive together commit together.
 */
import { DurableObject } from 'cloudflare:workers';
import { applyMigrations } from './sqlite-schema.ts';

/** What one user's object reports; `hot` only after an archive batch (otherwise left as it was). */
export type MailboxGauges = { connections: number; depth: number; hot?: number };

/** One shard's sums, or all of them added up. */
export type GaugeTotals = {
  connectedDevices: number;
  onlineUsers: number;
  depthTotal: number;
  depthMax: number;
  mailboxes: number;
  hotMessages: number;
  hotMailboxes: number;
};

const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE gauges (
    user_id     TEXT    PRIMARY KEY,
    connections INTEGER NOT NULL,
    depth       INTEGER NOT NULL,
    hot         INTEGER NOT NULL,          -- history rows kept in the object, as of its last archive batch
    updated_at  INTEGER NOT NULL           -- ms, the reporter's clock: an older report never overwrites a newer one
  ) WITHOUT ROWID;
  `,
];

export class GaugeHub extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    applyMigrations(ctx.storage.sql, MIGRATIONS);
  }

  /** Store `userId`'s gauges as of `at` (a report older than the stored one changes nothing). */
  report(userId: string, gauges: MailboxGauges, at: number): void {
    this.ctx.storage.sql.exec(
      `INSERT INTO gauges (user_id, connections, depth, hot, updated_at) VALUES (?1, ?2, ?3, coalesce(?4, 0), ?5)
       ON CONFLICT (user_id) DO UPDATE SET connections = ?2, depth = ?3, hot = coalesce(?4, hot), updated_at = ?5
       WHERE ?5 >= gauges.updated_at`,
      userId,
      gauges.connections,
      gauges.depth,
      gauges.hot ?? null,
      at,
    );
  }

  /** The account is gone: its row goes too. */
  forget(userId: string): void {
    this.ctx.storage.sql.exec('DELETE FROM gauges WHERE user_id = ?', userId);
  }

  /** This shard's sums. */
  totals(): GaugeTotals {
    const row = this.ctx.storage.sql
      .exec<{ devices: number; online: number; depth: number; deepest: number; mailboxes: number; hot: number; archiving: number }>(
        `SELECT coalesce(sum(connections), 0) AS devices, coalesce(sum(connections > 0), 0) AS online,
                coalesce(sum(depth), 0) AS depth, coalesce(max(depth), 0) AS deepest, count(*) AS mailboxes,
                coalesce(sum(hot), 0) AS hot, coalesce(sum(hot > 0), 0) AS archiving
         FROM gauges`,
      )
      .one();
    return {
      connectedDevices: row.devices,
      onlineUsers: row.online,
      depthTotal: row.depth,
      depthMax: row.deepest,
      mailboxes: row.mailboxes,
      hotMessages: row.hot,
      hotMailboxes: row.archiving,
    };
  }
}

/** Shards' totals added up (the deepest mailbox is the deepest of any shard). */
export function addTotals(shards: readonly GaugeTotals[]): GaugeTotals {
  const sum = (key: keyof GaugeTotals): number => shards.reduce((total, shard) => total + shard[key], 0);
  return {
    connectedDevices: sum('connectedDevices'),
    onlineUsers: sum('onlineUsers'),
    depthTotal: sum('depthTotal'),
    depthMax: shards.reduce((deepest, shard) => Math.max(deepest, shard.depthMax), 0),
    mailboxes: sum('mailboxes'),
    hotMessages: sum('hotMessages'),
    hotMailboxes: sum('hotMailboxes'),
  };
}
