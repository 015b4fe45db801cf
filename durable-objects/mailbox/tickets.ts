/**
 * Connect tickets are single use: the user's object remembers the ids of the tickets that opened
 * a connection until they expire (after that the Worker refuses them anyway), so a ticket copied
 * from a log or a proxy cannot open a second one. Synchronous SQL, so the check and the record
 * happen in the same step as the rest of the connect, with no await in between.
 */
/** Kept this long past expiry: the Worker that checks expiry runs on another machine's clock. */
const CLOCK_SKEW_MS = 60_000;

export class UsedTickets {
  constructor(private readonly sql: SqlStorage) {}

  /**
   * Record `id` as used (valid until `expiresAt`) unless it already was: false means refuse.
   * Expired records are pruned on the way (the table holds at most a few tickets' lifetime).
   *
   * @example
   * if (!tickets.use(ticketId, expiresAt, Date.now())) return refuse();
   */
  use(id: string, expiresAt: number, now: number): boolean {
    this.sql.exec('DELETE FROM used_tickets WHERE expires_at < ?', now - CLOCK_SKEW_MS);
    const seen = this.sql.exec('SELECT 1 FROM used_tickets WHERE id = ?', id).toArray().length > 0;
    if (seen) return false;
    this.sql.exec('INSERT INTO used_tickets (id, expires_at) VALUES (?, ?)', id, expiresAt);
    return true;
  }
}
