/**
 * Large groups by read diffusion (protocol/large-groups.ts).
 *
 * A group starts by copying every entry into every member's mailbox (./fanout.ts). When its
 * members exceed the deployment's threshold it switches, once: a `delivery_changed` event is
 * appended and fanned out the old way (the last entry mailboxes store), and `log_from` records its
 * gseq. From there on an entry is stored once, in this log, and:
 *
 * - members with a connected device get it live: this object calls their mailboxes, which
 *   forward it to their sockets without writing anything (`groupLive`); a push their mailbox
 *   handed to a connected device counts as delivered to them (gathered into one watermark
 *   write per member every DELIVERED_GATHER_MS, not one per message);
 * - everyone else (and anyone a live push missed) pulls it from the log when a device connects
 *   or sees a gap (`pull`, through their mailbox), paged and limited to what they may see.
 *
 * The online list: a mailbox registers its user when a device connects (`register`, which also
 * answers how far the log reaches, so the device knows what to pull); a live push that finds no
 * connected device drops the row, unless the user registered again after that push began. Rows
 * for members who left are dropped at the first push after their last visible entry.
 *
 * A group that shrinks stays in log mode: one switch, no second migration path.
 */
import type { GroupEntry } from '../../protocol/index.ts';
import type { GroupLog, LogRow } from './log.ts';
import { visibleRows, type Members } from './members.ts';

/**
 * A live push: the `group_live` frame (entries already filtered for this member) as JSON text,
 * and how far in the log it reaches. Text, not objects: members whose membership covers the same
 * rows share one encoding, and the mailbox sends it to its sockets as it is (no copy of the
 * entries decoded and encoded again per member).
 */
export type LivePush = { frame: string; through: number };

export type DeliveryDeps = {
  sql: SqlStorage;
  log: GroupLog;
  members: Members;
  /** Push entries to one member's connected devices; resolves whether one was connected. */
  live: (member: string, push: LivePush) => Promise<boolean>;
  /** Tell the mailbox of someone who joined after the switch that this group is large from `from`; rejects if it could not. */
  joined: (member: string, from: number) => Promise<void>;
  /** The `group_live` frame of these entries, as JSON text. */
  encode: (entries: GroupEntry[], after: number, through: number) => string;
  /** Live calls in flight at once (the object must not open thousands of calls per round). */
  concurrency: number;
  /**
   * Members whose connected device a live push reached, each with the gseq it reached: their
   * delivered watermarks (gathered for DELIVERED_GATHER_MS, then handed over at once).
   */
  delivered: (reached: ReadonlyMap<string, number>) => void;
};

/** Live pushes that reached a device are counted as delivered in rounds this far apart (one write per member per round, not per message). */
const DELIVERED_GATHER_MS = 2_000;

/** A live call that failed is tried again after this long, doubling, up to this many calls in all. */
const LIVE_RETRY_MS = 500;
const LIVE_ATTEMPTS = 4;

export type LiveStats = { rounds: number; pushed: number; offline: number; failures: number };

export class Delivery {
  /** Online members and when they registered; loaded once per object start. */
  #online: Map<string, number> | null = null;
  /** Members a live push reached since the last delivered round, and how far. */
  readonly #reached = new Map<string, number>();
  #reachedTimer: ReturnType<typeof setTimeout> | null = null;
  readonly stats: LiveStats = { rounds: 0, pushed: 0, offline: 0, failures: 0 };

  constructor(private readonly deps: DeliveryDeps) {}

  /**
   * Whether the group should switch now: still copying into mailboxes and more members than
   * `threshold` (0 or less: never).
   */
  shouldSwitch(logFrom: number | null, threshold: number): boolean {
    return logFrom === null && threshold > 0 && this.deps.members.count() > threshold;
  }

  /**
   * `member` has a connected device: push them live entries from now on. Returns how far the log
   * reaches now (pull up to it), or null for someone who is not a member.
   */
  register(member: string, now: number): { head: number } | null {
    if (!this.deps.members.get(member)) return null;
    this.deps.sql.exec(
      'INSERT INTO online (user_id, since) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET since = excluded.since',
      member,
      now,
    );
    this.#onlineMap().set(member, now);
    return { head: this.deps.log.head };
  }

  /** Members with a connected device, as far as this object knows (live pushes go to them). */
  onlineMembers(): ReadonlySet<string> {
    return new Set(this.#onlineMap().keys());
  }

  /**
   * Push log rows `rows` (consecutive, after gseq `after`) to every online member, each getting
   * only the entries their membership covers. Best effort: a member a push misses pulls the gap
   * (their device sees the next push does not continue its cursor, or pulls on reconnect).
   */
  async push(rows: readonly LogRow[], after: number, logFrom: number): Promise<void> {
    if (rows.length === 0) return;
    this.stats.rounds++;
    // Whoever joined in these rows has nothing of this group in their mailbox: tell it first
    // (this must succeed: the fan-out round fails and is retried by the alarm otherwise).
    // At most `concurrency` calls at once: a round of adds to a large group may name thousands.
    const joiners = rows.flatMap((r) => joinersOf(r.entry));
    await forEachLimited(joiners, this.deps.concurrency, (member) => this.deps.joined(member, logFrom));
    const through = rows[rows.length - 1]!.gseq;
    const started = Date.now();
    const targets: Array<{ member: string; push: LivePush }> = [];
    // One encoding per distinct set of visible rows (all of them, for nearly everyone).
    const pushes = new Map<string, LivePush>();
    for (const [member, intervals] of this.#onlineIntervals()) {
      // Left before this round and nothing of it is theirs: stop pushing to them.
      if (!intervals.some(([, to]) => to > after)) {
        this.#drop(member, Number.POSITIVE_INFINITY);
        continue;
      }
      const visible = visibleRows(rows, intervals);
      if (visible.length === 0) continue;
      const key = visible.length === rows.length ? '' : visible.map((r) => r.gseq).join(',');
      let push = pushes.get(key);
      if (!push) {
        push = { frame: this.deps.encode(visible.map((r) => r.entry), after, through), through };
        pushes.set(key, push);
      }
      targets.push({ member, push });
    }
    await this.#send(targets, started, 0);
  }

  /**
   * The calls of one push; those that failed (their mailbox could not be reached) are tried
   * again a little later, a few times: a device learns of a missed entry only from the next push
   * or its next connect, which in a quiet group may be long.
   */
  async #send(targets: ReadonlyArray<{ member: string; push: LivePush }>, started: number, attempt: number): Promise<void> {
    const failed: Array<{ member: string; push: LivePush }> = [];
    await forEachLimited(targets, this.deps.concurrency, async (target) => {
      try {
        if (await this.deps.live(target.member, target.push)) {
          this.stats.pushed++;
          this.#delivered(target.member, target.push.through);
        } else {
          this.stats.offline++;
          this.#drop(target.member, started);
        }
      } catch {
        this.stats.failures++;
        failed.push(target);
      }
    });
    if (failed.length === 0 || attempt + 1 >= LIVE_ATTEMPTS) return;
    setTimeout(() => void this.#send(failed, started, attempt + 1), LIVE_RETRY_MS * 2 ** attempt);
  }

  /** A live push reached one of `member`'s devices up to `through`: count it in the next delivered round. */
  #delivered(member: string, through: number): void {
    this.#reached.set(member, Math.max(this.#reached.get(member) ?? 0, through));
    if (this.#reachedTimer !== null) return;
    this.#reachedTimer = setTimeout(() => {
      this.#reachedTimer = null;
      const reached = new Map(this.#reached);
      this.#reached.clear();
      this.deps.delivered(reached);
    }, DELIVERED_GATHER_MS);
  }

  /**
   * Forget `member` as online unless they registered at or after `before` (a newer connection;
   * in the same millisecond it is kept: a stale row costs one call, a lost one a device's stream).
   */
  #drop(member: string, before: number): void {
    const since = this.#onlineMap().get(member);
    if (since === undefined || since >= before) return;
    this.deps.sql.exec('DELETE FROM online WHERE user_id = ? AND since < ?', member, before === Number.POSITIVE_INFINITY ? Number.MAX_SAFE_INTEGER : before);
    this.#onlineMap().delete(member);
  }

  /**
   * Each online user's membership intervals (two queries, however many are online). CROSS JOIN
   * keeps `online` the outer loop: SQLite otherwise may scan every member (no table statistics
   * here), which made each push of a 100,000-member group read all of them.
   */
  #onlineIntervals(): Map<string, Array<[number, number]>> {
    const { sql } = this.deps;
    const result = new Map<string, Array<[number, number]>>();
    for (const member of this.#onlineMap().keys()) result.set(member, []);
    const current = sql
      .exec<{ user_id: string; joined_gseq: number }>('SELECT m.user_id, m.joined_gseq FROM online o CROSS JOIN members m ON m.user_id = o.user_id')
      .toArray();
    for (const r of current) result.get(r.user_id)?.push([r.joined_gseq, Number.POSITIVE_INFINITY]);
    const past = sql
      .exec<{ user_id: string; joined_gseq: number; left_gseq: number }>(
        'SELECT p.user_id, p.joined_gseq, p.left_gseq FROM online o CROSS JOIN past_members p ON p.user_id = o.user_id',
      )
      .toArray();
    for (const r of past) result.get(r.user_id)?.push([r.joined_gseq, r.left_gseq]);
    return result;
  }

  #onlineMap(): Map<string, number> {
    this.#online ??= new Map(
      this.deps.sql
        .exec<{ user_id: string; since: number }>('SELECT user_id, since FROM online')
        .toArray()
        .map((r) => [r.user_id, r.since]),
    );
    return this.#online;
  }
}

/** Who an entry makes a member (they start receiving with it). */
function joinersOf(entry: GroupEntry): string[] {
  if (entry.type !== 'event') return [];
  const { change } = entry.event;
  if (change.kind === 'members_added') return change.members;
  if (change.kind === 'member_joined') return [change.member];
  return [];
}

/** Run `task` for every item with at most `limit` in flight. */
async function forEachLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
