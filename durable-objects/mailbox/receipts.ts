/**
 * The receipt relay: the durable path for receipts on their way from a recipient's object to
 * the sender's. Read receipts always take it (written to `receipt_outbox` in the same commit as
 * the read mark); delivered receipts only when the direct call failed. A row is deleted once
 * the sender's object has applied it and retried from the alarm otherwise. Applying is
 * idempotent, so a retry never double-ticks.
 */

export type ReceiptStatus = 'delivered' | 'read';

/** Receipts name messages by the sender's client ids: the sender's object finds them by its idempotency index. */
export type Receipt = { peer: string; status: ReceiptStatus; clientIds: string[]; at: number };

/** Applies receipts at the sender's object; throws if it could not. */
export type ApplyReceipt = (receipt: Receipt) => Promise<void>;

export class ReceiptRelay {
  #flushing: Promise<boolean> | null = null;
  #again = false;

  constructor(
    private readonly sql: SqlStorage,
    private readonly apply: ApplyReceipt,
  ) {}

  /** Record receipts to send; synchronous so it commits with the caller's status change. */
  enqueue(receipts: Iterable<Receipt>): void {
    for (const r of receipts) {
      if (r.clientIds.length === 0) continue;
      this.sql.exec(
        'INSERT INTO receipt_outbox (peer, status, client_ids, at) VALUES (?, ?, ?, ?)',
        r.peer,
        r.status,
        JSON.stringify(r.clientIds),
        r.at,
      );
    }
  }

  pending(): number {
    return this.sql.exec<{ n: number }>('SELECT count(*) AS n FROM receipt_outbox').one().n;
  }

  /**
   * Send everything pending. Concurrent calls share one run (which loops while new receipts
   * arrive). Resolves true when the outbox is empty, false if some receipt must be retried.
   */
  flush(): Promise<boolean> {
    if (this.#flushing) {
      this.#again = true;
      return this.#flushing;
    }
    this.#flushing = this.#run().finally(() => {
      this.#flushing = null;
    });
    return this.#flushing;
  }

  async #run(): Promise<boolean> {
    let allSent = true;
    do {
      this.#again = false;
      const rows = this.sql
        .exec<{ id: number; peer: string; status: string; client_ids: string; at: number }>(
          'SELECT id, peer, status, client_ids, at FROM receipt_outbox ORDER BY id LIMIT 500',
        )
        .toArray();
      if (rows.length === 0) break;
      // One call per (peer, status), in outbox order: many acks coalesce into one receipt.
      const groups = new Map<string, { receipt: Receipt; ids: number[] }>();
      for (const row of rows) {
        const key = `${row.peer}\u0000${row.status}`;
        const ids = JSON.parse(row.client_ids) as string[];
        const group = groups.get(key);
        if (group) {
          group.receipt.clientIds.push(...ids);
          group.receipt.at = Math.max(group.receipt.at, row.at);
          group.ids.push(row.id);
        } else {
          groups.set(key, {
            receipt: { peer: row.peer, status: row.status as ReceiptStatus, clientIds: ids, at: row.at },
            ids: [row.id],
          });
        }
      }
      const results = await Promise.allSettled(
        [...groups.values()].map(async ({ receipt, ids }) => {
          await this.apply(receipt);
          this.sql.exec('DELETE FROM receipt_outbox WHERE id IN (SELECT value FROM json_each(?))', JSON.stringify(ids));
        }),
      );
      if (results.some((r) => r.status === 'rejected')) {
        allSent = false;
        break;
      }
    } while (this.#again || this.pending() > 0);
    return allSent;
  }
}
