/**
 * One user's history across its three tiers (docs/CAPACITY.md, README "History"):
 * - hot: rows in this object (HotRows), searched through its `search_hot` index;
 * - warm: the user's history shard (D1), reached in batches through the `history-archive` queue;
 * - cold: gzip chunks in R2 with their index in the shard, written by this object.
 *
 * Moving is at least once and idempotent: a batch names its number, the shard keeps the newest
 * batch's copy of a row, and this object drops a row only when the shard confirmed it and the
 * row did not change since it left. Everything that changes the warm or cold tier for this user
 * (the cold move, bringing a message back) runs here one at a time, so the tiers of one user
 * never race each other. An action on an archived message first brings it back (`ensureHot`):
 * it is put back in this object and removed from the tier it was in, so every action works as
 * on a recent message and a recall leaves no content in D1 or R2.
 */
import { decodeTime } from 'ulid';
import {
  deleteWarm,
  findCold,
  findWarm,
  moveToCold,
  putWarm,
  removeFromCold,
  coldPage,
  warmPage,
  historyShards,
  type HistoryShard,
  type StoredRow,
} from '../../db/history/index.ts';
import { readMeta, writeMeta } from '../sqlite-schema.ts';
import { HotRows, type HotWindow, type OutgoingRow } from './hot-rows.ts';

/** The queue message of one batch (validated by the consumer: worker/queues/history.ts). */
export type ArchiveJob = { owner: string; batch: number; rows: OutgoingRow[] };

export type TierConfig = { hotMs: number; hotMessages: number; coldMs: number };

const DAY = 86_400_000;
/** Rows per batch, and bytes: queue messages take 128 KB. */
const BATCH_ROWS = 200;
const BATCH_BYTES = 96 * 1024;
/** A batch not confirmed this long is sent again (the queue gave up, or the consumer died). */
const UNCONFIRMED_MS = 10 * 60_000;
/** How often the cold move runs for one user at most. */
const COLD_EVERY_MS = DAY;
/** Earliest next archive check when nothing is due (an alarm wakes an evicted object: it is billed). */
const CHECK_FLOOR_MS = 60 * 60_000;

export function tierConfig(env: { HISTORY_HOT_DAYS?: string; HISTORY_HOT_MESSAGES?: string; HISTORY_COLD_DAYS?: string }): TierConfig {
  const number = (value: string | undefined, fallback: number): number => {
    const parsed = Number(value);
    return Number.isFinite(parsed) && parsed > 0 ? parsed : fallback;
  };
  return {
    hotMs: number(env.HISTORY_HOT_DAYS, 7) * DAY,
    hotMessages: Math.max(1, Math.floor(number(env.HISTORY_HOT_MESSAGES, 200))),
    coldMs: number(env.HISTORY_COLD_DAYS, 90) * DAY,
  };
}

export type HistoryTiersDeps = {
  sql: SqlStorage;
  env: Env;
  self: () => string;
  config: TierConfig;
  /** Rows kept here changed (for the operators' gauge). */
  counted?: (hot: number) => void;
  /** A row was brought back from a tier (under its old seq, below newer rows). */
  restored?: () => void;
};

export class HistoryTiers {
  readonly hot: HotRows;
  readonly #deps: HistoryTiersDeps;
  /** Warm and cold changes of this user, one at a time. */
  #chain: Promise<unknown> = Promise.resolve();

  constructor(deps: HistoryTiersDeps) {
    this.#deps = deps;
    this.hot = new HotRows(deps.sql);
  }

  get config(): TierConfig {
    return this.#deps.config;
  }

  shard(): HistoryShard {
    return historyShards(this.#deps.env).of(this.#deps.self());
  }

  // ------------------------------------------------------------------ hot -> warm

  /**
   * Send the next batch of rows past the hot window, unless one is still unconfirmed. Returns
   * how many rows left (0: nothing due, or waiting for a confirmation).
   */
  async archive(now: number): Promise<number> {
    const { sql } = this.#deps;
    const inFlight = readMeta(sql, 'archive_in_flight');
    if (inFlight > 0 && now - readMeta(sql, 'archive_sent_at') < UNCONFIRMED_MS) return 0;
    const rows = this.#batch(this.hot.due(this.#window(now), BATCH_ROWS));
    if (rows.length === 0) {
      if (inFlight > 0) writeMeta(sql, 'archive_in_flight', 0);
      return 0;
    }
    const batch = readMeta(sql, 'archive_batch') + 1;
    writeMeta(sql, 'archive_batch', batch);
    writeMeta(sql, 'archive_in_flight', batch);
    writeMeta(sql, 'archive_sent_at', now);
    const job: ArchiveJob = { owner: this.#deps.self(), batch, rows };
    if (rows.length === 1 && sizeOf(rows[0]!) > BATCH_BYTES) {
      // Too big for a queue message (a long text with many edits): written to the shard from
      // here, the same two steps the consumer takes.
      await putWarm(this.shard().db, job.owner, batch, rows);
      this.archived(batch, rows);
      return 1;
    }
    await this.#deps.env.HISTORY_ARCHIVE.send(job, { contentType: 'json' });
    return rows.length;
  }

  /**
   * The shard stored batch `batch` (the consumer calls this after the D1 write): drop the rows
   * that did not change since. Returns how many were dropped.
   */
  archived(batch: number, rows: ReadonlyArray<{ seq: number; digest: string }>): number {
    const { sql } = this.#deps;
    const { moved, dropped } = this.hot.drop(rows);
    for (const [chat, range] of moved) {
      sql.exec(
        `INSERT INTO archived_chats (chat, min_seq, max_seq) VALUES (?, ?, ?)
         ON CONFLICT (chat) DO UPDATE SET min_seq = min(min_seq, excluded.min_seq), max_seq = max(max_seq, excluded.max_seq)`,
        chat,
        range.min,
        range.max,
      );
    }
    if (readMeta(sql, 'archive_in_flight') === batch) writeMeta(sql, 'archive_in_flight', 0);
    if (dropped > 0) this.#deps.counted?.(this.hot.count());
    return dropped;
  }

  /** When the archive should look again: soon while a batch is due or unconfirmed, else when the oldest row ages out. */
  nextCheckAt(now: number): number {
    const { sql } = this.#deps;
    if (readMeta(sql, 'archive_in_flight') > 0) return readMeta(sql, 'archive_sent_at') + UNCONFIRMED_MS;
    const oldest = sql
      .exec<{ at: number | null }>(
        `SELECT min(at) AS at FROM (
           SELECT min(json_extract(message, '$.sentAt')) AS at FROM messages WHERE starred_at IS NULL
           UNION ALL SELECT min(coalesce(json_extract(entry, '$.message.sentAt'), json_extract(entry, '$.event.at'))) FROM group_entries WHERE starred_at IS NULL)`,
      )
      .one().at;
    const due = oldest === null ? now + this.config.hotMs : oldest + this.config.hotMs;
    const cold = readMeta(sql, 'cold_checked_at') + COLD_EVERY_MS;
    return Math.max(now + CHECK_FLOOR_MS, Math.min(due, this.#hasArchive() ? cold : Number.POSITIVE_INFINITY));
  }

  // ------------------------------------------------------------------ warm -> cold

  /** Move this user's warm rows past the cold threshold into R2 (at most once a day unless `force`). */
  cold(now: number, force = false): Promise<{ chunks: number; rows: number }> {
    return this.#serial(async () => {
      const { sql, env } = this.#deps;
      if (!force && now - readMeta(sql, 'cold_checked_at') < COLD_EVERY_MS) return { chunks: 0, rows: 0 };
      const total = { chunks: 0, rows: 0 };
      if (this.#hasArchive()) {
        for (;;) {
          const moved = await moveToCold(this.shard().db, env.MEDIA, this.#deps.self(), now - this.config.coldMs);
          total.chunks += moved.chunks;
          total.rows += moved.rows;
          if (moved.rows === 0) break;
        }
      }
      writeMeta(sql, 'cold_checked_at', now);
      return total;
    });
  }

  // ------------------------------------------------------------------ reading

  /**
   * Archived rows of `chat` strictly below `before` and above `floor`, newest first, at most
   * `limit` (warm and cold merged; the caller merges them with the hot rows). Empty without a
   * shard call when nothing of the chat at or below `before` ever left this object.
   */
  async archivedRows(chat: string, before: number | undefined, floor: number, limit: number): Promise<StoredRow[]> {
    const max = this.#archivedMax(chat);
    if (max === null || max <= floor) return [];
    const owner = this.#deps.self();
    const { db } = this.shard();
    const options = { ...(before === undefined ? {} : { before }), floor, limit };
    const warm = await warmPage(db, owner, chat, options);
    const cold = warm.length >= limit ? [] : await coldPage(db, this.#deps.env.MEDIA, owner, chat, options);
    return mergeNewestFirst([warm, cold], limit);
  }

  /** Whether rows of `chat` between `floor` and `seq` (exclusive) may have left this object. */
  hasArchiveBelow(chat: string, seq: number, floor: number): boolean {
    const range = this.#deps.sql
      .exec<{ min_seq: number; max_seq: number }>('SELECT min_seq, max_seq FROM archived_chats WHERE chat = ?', chat)
      .toArray()[0];
    return range !== undefined && range.min_seq < seq && range.max_seq > floor;
  }

  /** Whether any row ever left this object (search asks the shard only then). */
  hasArchive(chat?: string): boolean {
    return chat === undefined ? this.#hasArchive() : this.#archivedMax(chat) !== null;
  }

  // ------------------------------------------------------------------ bringing a message back

  /**
   * Make sure message `id` of `chat` is in this object if it exists anywhere: an action, a
   * reply or a forward naming an archived message brings it back first. Returns whether it was
   * brought back. Cheap when the message is here or the chat never left. `chat` null (a
   * forward, which names only the message): looked for in the warm tier only.
   */
  async ensureHot(chat: string | null, id: string): Promise<boolean> {
    // Nothing of the chat ever left (most calls: one small lookup), or the message is here.
    if ((chat === null ? !this.#hasArchive() : this.#archivedMax(chat) === null) || this.hot.hasMessage(id)) return false;
    return this.#serial(async () => {
      if (this.hot.hasMessage(id)) return false;
      const owner = this.#deps.self();
      const { db } = this.shard();
      const warm = await findWarm(db, owner, id);
      if (warm && (chat === null || warm.chat === chat)) {
        // Here first (the output gate holds the shard call until this write is durable), then gone there.
        this.hot.restore(warm.seq, warm.row);
        this.#deps.restored?.();
        await deleteWarm(db, owner, [warm.seq]);
        return true;
      }
      // A cold message is found by its chat and time (a forward names neither: warm only).
      if (chat === null) return false;
      let at: number;
      try {
        at = decodeTime(id);
      } catch {
        return false;
      }
      const cold = await findCold(db, this.#deps.env.MEDIA, owner, chat, id, at);
      if (!cold) return false;
      this.hot.restore(cold.seq, cold.row);
      this.#deps.restored?.();
      await removeFromCold(db, this.#deps.env.MEDIA, owner, cold.chunk, cold.seq);
      return true;
    });
  }

  // ------------------------------------------------------------------ internals

  #window(now: number): HotWindow {
    return { cutoff: now - this.config.hotMs, keep: this.config.hotMessages };
  }

  /** The first rows that fit one queue message. */
  #batch(rows: OutgoingRow[]): OutgoingRow[] {
    let bytes = 0;
    const batch: OutgoingRow[] = [];
    for (const row of rows) {
      const size = sizeOf(row);
      if (batch.length > 0 && bytes + size > BATCH_BYTES) break;
      batch.push(row);
      bytes += size;
    }
    return batch;
  }

  #archivedMax(chat: string): number | null {
    return this.#deps.sql.exec<{ max_seq: number }>('SELECT max_seq FROM archived_chats WHERE chat = ?', chat).toArray()[0]?.max_seq ?? null;
  }

  #hasArchive(): boolean {
    return this.#deps.sql.exec('SELECT 1 FROM archived_chats LIMIT 1').toArray().length > 0;
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(work, work);
    this.#chain = run.catch(() => undefined);
    return run;
  }
}

/** A row's size in a queue message, over-estimated (two bytes per character, and the fields around it). */
function sizeOf(row: OutgoingRow): number {
  return row.row.length * 2 + (row.text?.length ?? 0) * 2 + 200;
}

/** Merge lists that are each newest first; one row per seq (the first list wins), at most `limit`. */
export function mergeNewestFirst<T extends { seq: number }>(lists: T[][], limit: number): T[] {
  const seen = new Set<number>();
  const merged: T[] = [];
  for (const row of lists.flat().sort((a, b) => b.seq - a.seq)) {
    if (seen.has(row.seq)) continue;
    seen.add(row.seq);
    merged.push(row);
    if (merged.length === limit) break;
  }
  return merged;
}
