/**
 * The `bucket` rate limits of protocol/rate-limits.ts, kept exactly by the user's own object.
 *
 * Each bucket holds at most `burst` tokens and refills continuously at `refill` per `everyMs`.
 * It is stored as one number, the time at which it will be full again (`fullAt`, the "theoretical
 * arrival time" of GCRA): tokens(now) = burst - max(0, fullAt - now) / interval, where interval
 * = everyMs / refill is the time one token takes to come back. A missing bucket is a full one,
 * so only buckets that were spent take memory or rows.
 *
 * `stored: false` buckets live in memory. They need no write per message, and a flood keeps the
 * object awake (every frame wakes it), so they hold while it matters. An object that sat idle
 * long enough to be evicted or to hibernate (seconds without a frame) comes back with full
 * buckets even if they had not refilled yet: per-second buckets lose nothing by it, and the
 * per-minute ones (presence watches, resumes, tickets) still cap each burst, which is what they
 * are for. `stored: true` buckets (hourly and daily budgets) are written to the mailbox's SQLite,
 * only when spent, so restarts do not reset them.
 *
 * Spending is all or nothing across the buckets of one action. `charge` deducts without
 * checking and may drive a bucket below zero (a debt that delays the next actions): used where
 * the cost is only known after the work, e.g. a group message's member deliveries.
 */
import { z } from 'zod';
import { RATE_LIMITS, type BucketLimit, type BucketName } from '../../protocol/index.ts';

export type BucketSettings = Pick<BucketLimit, 'scope' | 'burst' | 'refill' | 'everyMs' | 'stored' | 'what'>;
export type BucketTable = Record<BucketName, BucketSettings>;

/** One bucket and how many tokens an action takes from it. */
export type Charge = { name: BucketName; cost: number };
/** Whom a bucket is kept for: the device (scope `device`) and conversation (scope `device_conversation`). */
export type Subject = { device?: string | undefined; conversation?: string | undefined };
/** A refusal names the bucket that had too few tokens (the one with the longest wait). */
export type Spent = { ok: true } | { ok: false; retryAfterMs: number; limit: BucketName };

const BUCKET_NAMES = Object.entries(RATE_LIMITS).flatMap(([name, limit]) => (limit.kind === 'bucket' ? [name as BucketName] : []));

const OverridesSchema = z.record(
  z.string(),
  z.strictObject({
    burst: z.number().int().positive().optional(),
    refill: z.number().positive().optional(),
    everyMs: z.number().int().positive().optional(),
  }),
);

/** Problems with RATE_LIMITS already reported by this isolate (each is logged once). */
const reported = new Set<string>();

function reportOnce(problem: string, log: (message: string) => void): void {
  if (reported.has(problem)) return;
  reported.add(problem);
  log(problem);
}

/**
 * The bucket limits in force: the table's defaults, with the operator's RATE_LIMITS overrides
 * (a JSON object, as a string or already parsed) applied per name. An invalid value is logged
 * once and ignored entirely; an unknown or non-bucket name is logged once and skipped.
 *
 * @example
 * bucketLimits('{"send_device":{"burst":1000,"refill":50}}').send_device.burst // 1000
 */
export function bucketLimits(raw: unknown, log: (message: string) => void = console.error): BucketTable {
  const table = {} as BucketTable;
  for (const name of BUCKET_NAMES) {
    const { scope, burst, refill, everyMs, stored, what } = RATE_LIMITS[name];
    table[name] = { scope, burst, refill, everyMs, stored, what };
  }
  if (raw === undefined || raw === null || raw === '') return table;
  let value: unknown = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      reportOnce('RATE_LIMITS is not valid JSON; the default limits apply', log);
      return table;
    }
  }
  const parsed = OverridesSchema.safeParse(value);
  if (!parsed.success) {
    reportOnce(`RATE_LIMITS is invalid (${parsed.error.issues[0]?.message ?? 'bad value'}); the default limits apply`, log);
    return table;
  }
  for (const [name, override] of Object.entries(parsed.data)) {
    if (!(BUCKET_NAMES as string[]).includes(name)) {
      reportOnce(`RATE_LIMITS names ${name}, which is no bucket limit; ignored`, log);
      continue;
    }
    const entry = table[name as BucketName];
    table[name as BucketName] = {
      ...entry,
      burst: override.burst ?? entry.burst,
      refill: override.refill ?? entry.refill,
      everyMs: override.everyMs ?? entry.everyMs,
    };
  }
  return table;
}

export type TokenBucketsOptions = {
  limits: BucketTable;
  /** Where `stored: true` buckets persist (the mailbox's database, schema v5 `budgets`); memory when absent. */
  sql?: SqlStorage;
  now?: () => number;
};

/** Full buckets are dropped from memory every this many operations. */
const SWEEP_EVERY = 1_024;

export class TokenBuckets {
  readonly #limits: BucketTable;
  readonly #sql: SqlStorage | undefined;
  readonly #now: () => number;
  /** fullAt per bucket (`name|key`); stored buckets are cached here once read. */
  readonly #fullAt = new Map<string, number>();
  #operations = 0;

  constructor(options: TokenBucketsOptions) {
    this.#limits = options.limits;
    this.#sql = options.sql;
    // Looked up at each call (not captured), so a clock substituted later is followed.
    this.#now = options.now ?? (() => Date.now());
  }

  /** The limits in force (defaults with overrides). */
  get limits(): BucketTable {
    return this.#limits;
  }

  /**
   * Take `cost` tokens from every bucket named, or none if any of them has too few; a refusal
   * says how long until all of them have enough. An action costing more than a bucket's burst
   * passes only when that bucket is full (and leaves it in debt).
   *
   * @example
   * buckets.spend([{ name: 'send_device', cost: 1 }, { name: 'send_user', cost: 1 }], { device })
   */
  spend(charges: readonly Charge[], subject: Subject = {}): Spent {
    const refused = this.check(charges, subject);
    if (refused.ok) this.charge(charges, subject);
    return refused;
  }

  /** Whether every bucket named has `cost` tokens now (nothing is taken). */
  check(charges: readonly Charge[], subject: Subject = {}): Spent {
    const now = this.#now();
    let refused: Spent = { ok: true };
    let longest = 0;
    for (const { name, cost } of charges) {
      if (cost <= 0) continue;
      const limit = this.#limits[name];
      const interval = limit.everyMs / limit.refill;
      const start = Math.max(this.#read(name, this.#key(name, subject)), now);
      // Enough tokens when taking `need` leaves the bucket no emptier than zero.
      const need = Math.min(cost, limit.burst);
      const wait = start + need * interval - limit.burst * interval - now;
      if (wait > longest) {
        longest = wait;
        refused = { ok: false, retryAfterMs: Math.ceil(wait), limit: name };
      }
    }
    return refused;
  }

  /** Take `cost` tokens from each bucket named, whatever they hold (a bucket may go below zero). */
  charge(charges: readonly Charge[], subject: Subject = {}): void {
    const now = this.#now();
    for (const { name, cost } of charges) {
      if (cost <= 0) continue;
      const limit = this.#limits[name];
      const key = this.#key(name, subject);
      const fullAt = Math.max(this.#read(name, key), now) + (cost * limit.everyMs) / limit.refill;
      this.#write(name, key, fullAt, now);
    }
    if (++this.#operations % SWEEP_EVERY === 0) this.#sweep(now);
  }

  /** Tokens in a bucket now (negative: in debt). */
  tokens(name: BucketName, subject: Subject = {}): number {
    const limit = this.#limits[name];
    const behind = Math.max(0, this.#read(name, this.#key(name, subject)) - this.#now());
    return limit.burst - (behind * limit.refill) / limit.everyMs;
  }

  #key(name: BucketName, subject: Subject): string {
    const { scope } = this.#limits[name];
    if (scope === 'user') return 'user';
    if (!subject.device) throw new Error(`bucket ${name} is kept per device: name the device`);
    if (scope === 'device') return subject.device;
    if (!subject.conversation) throw new Error(`bucket ${name} is kept per conversation: name it`);
    return `${subject.device}:${subject.conversation}`;
  }

  /** When the bucket is full again (0: it is full). */
  #read(name: BucketName, key: string): number {
    const id = `${name}|${key}`;
    const cached = this.#fullAt.get(id);
    if (cached !== undefined) return cached;
    if (!this.#limits[name].stored || !this.#sql) return 0;
    const row = this.#sql.exec<{ full_at: number }>('SELECT full_at FROM budgets WHERE name = ? AND key = ?', name, key).toArray()[0];
    const fullAt = row?.full_at ?? 0;
    this.#fullAt.set(id, fullAt);
    return fullAt;
  }

  #write(name: BucketName, key: string, fullAt: number, now: number): void {
    this.#fullAt.set(`${name}|${key}`, fullAt);
    if (!this.#limits[name].stored || !this.#sql) return;
    this.#sql.exec('INSERT OR REPLACE INTO budgets (name, key, full_at) VALUES (?, ?, ?)', name, key, fullAt);
    // Rows of buckets that refilled are the same as no row: keep the table to what is spent.
    this.#sql.exec('DELETE FROM budgets WHERE full_at <= ?', now);
  }

  /** Forget buckets that are full again (a missing bucket is a full one). */
  #sweep(now: number): void {
    for (const [id, fullAt] of this.#fullAt) if (fullAt <= now) this.#fullAt.delete(id);
  }
}
