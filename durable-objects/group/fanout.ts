/**
 * Fan-out: after an entry is stored in the group log, get it into every member's mailbox.
 *
 * `fanned_through` (in meta) is the last gseq whose delivery is settled: handed to every
 * member's mailbox directly, or to the fan-out queue, which retries and dead-letters on its own.
 * Rounds run one at a time; entries stored while a round is in flight go together in the next
 * one, so a busy group delivers many messages per mailbox write. If the object dies mid-round,
 * the alarm starts again from `fanned_through`; mailboxes drop what they already have.
 *
 * An audience up to `directLimit` members is served by direct calls from this object. In larger
 * ones only the recently active members (up to `hotLimit`) are called directly, and everyone
 * else goes through the queue in jobs of `membersPerJob`: one object must not make a thousand
 * calls per message, and online members must not wait behind offline mailboxes.
 *
 * An update (an action on an earlier message) goes only to members who received that message:
 * its content must never reach someone who joined after it. When a membership change lies
 * between the two, the update is a run of its own with that narrower audience.
 */
import type { GroupEntry } from '../../protocol/index.ts';
import { planJobs, type FanoutJob } from './fanout-job.ts';
import type { GroupLog, LogRow } from './log.ts';
import type { Members } from './members.ts';
import { readMeta, writeMeta } from './schema.ts';

export type FanOutDeps = {
  sql: SqlStorage;
  log: GroupLog;
  members: Members;
  groupId: () => string;
  /** Store entries in one member's mailbox; rejects if it could not. */
  deliver: (member: string, entries: GroupEntry[]) => Promise<void>;
  /** Put jobs on the fan-out queue; rejects if the queue did not take them. */
  enqueue: (jobs: FanoutJob[]) => Promise<void>;
  directLimit: number;
  /** In larger audiences, at most this many recently active members are still called directly. */
  hotLimit: number;
  membersPerJob: number;
  /** Where read diffusion began, or null: entries after it are not copied into mailboxes. */
  logFrom: () => number | null;
  /** Push log rows after gseq `after` to the online members (read diffusion); never rejects. */
  live: (rows: LogRow[], after: number, logFrom: number) => Promise<void>;
};

/** Entries per round: bounds the memory and the size of one round's calls. */
const ROUND_ENTRIES = 256;
/** A member whose devices sent a receipt this recently counts as online for fan-out order. */
const HOT_WINDOW_MS = 5 * 60_000;

/** `busyMs`: wall time fan-out rounds were running (one at a time: the object's fan-out pipeline was occupied). */
export type FanOutStats = { direct: number; queued: number; directFailures: number; rounds: number; busyMs: number };

export class FanOut {
  #running: Promise<void> | null = null;
  #again = false;
  readonly stats: FanOutStats = { direct: 0, queued: 0, directFailures: 0, rounds: 0, busyMs: 0 };

  constructor(private readonly deps: FanOutDeps) {}

  /** Last gseq whose fan-out is settled. */
  get fannedThrough(): number {
    return readMeta(this.deps.sql, 'fanned_through');
  }

  /** Entries stored but not yet handed on. */
  get backlog(): number {
    return this.deps.log.head - this.fannedThrough;
  }

  /**
   * Start fanning out whatever is pending (or note that the running round must look again).
   * Resolves when nothing is pending or a round failed (the alarm retries then).
   */
  kick(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#loop().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #loop(): Promise<void> {
    const started = Date.now();
    try {
      do {
        this.#again = false;
        while (this.backlog > 0) await this.#round();
      } while (this.#again);
    } finally {
      this.stats.busyMs += Date.now() - started;
    }
  }

  async #round(): Promise<void> {
    this.stats.rounds++;
    const { log } = this.deps;
    const from = this.fannedThrough;
    const logFrom = this.deps.logFrom();
    if (logFrom !== null && from >= logFrom) {
      // A large group: stored once, here; online members get it live, everyone else pulls.
      const rows = log.range(from, log.head, ROUND_ENTRIES);
      await this.deps.live(rows, from, logFrom);
      writeMeta(this.deps.sql, 'fanned_through', rows[rows.length - 1]!.gseq);
      return;
    }
    // Copies end with the `delivery_changed` event (entries after it are never copied).
    const pending = log.range(from, logFrom === null ? log.head : Math.min(log.head, logFrom), ROUND_ENTRIES);
    for (const run of runsOf(pending, (from, to) => !log.membershipBetween(from, to))) {
      const audience = this.deps.members.audienceAt(run.first, run.target);
      const { direct, queued } = this.#split(audience);
      const entries = run.entries;
      const results = await Promise.allSettled(direct.map((member) => this.deps.deliver(member, entries)));
      const failed = direct.filter((_, i) => results[i]!.status === 'rejected');
      this.stats.direct += direct.length - failed.length;
      this.stats.directFailures += failed.length;
      // A mailbox that could not be reached now gets it through the queue's retries.
      if (queued.length + failed.length > 0) await this.#enqueue([...queued, ...failed], entries);
      writeMeta(this.deps.sql, 'fanned_through', run.last);
    }
  }

  /**
   * Who is called directly and who goes through the queue. A small audience is called
   * directly. In a large one, members active in the last HOT_WINDOW_MS (likely online: their
   * devices sent receipts), up to `hotLimit`, are called directly and first, and the rest go to
   * the queue: otherwise a message's online readers would wait in the queue behind the
   * previous message's offline mailboxes.
   */
  #split(audience: ReadonlyArray<{ userId: string; activeAt: number }>): { direct: string[]; queued: string[] } {
    const ids = audience.map((m) => m.userId);
    if (audience.length <= this.deps.directLimit) return { direct: ids, queued: [] };
    const since = Date.now() - HOT_WINDOW_MS;
    let hot = 0;
    while (hot < audience.length && hot < this.deps.hotLimit && audience[hot]!.activeAt >= since) hot++;
    return { direct: ids.slice(0, hot), queued: ids.slice(hot) };
  }

  async #enqueue(members: string[], entries: GroupEntry[]): Promise<void> {
    const jobs = planJobs(this.deps.groupId(), members, entries, this.deps.membersPerJob);
    await this.deps.enqueue(jobs);
    this.stats.queued += members.length;
  }
}

/** Consecutive entries with one audience; `target`: a lone update, for those who had that message too. */
type Run = { first: number; last: number; entries: GroupEntry[]; target?: number };

/**
 * Split pending entries into runs with one audience each: an entry that changes membership
 * stands alone (its audience differs from the entries around it). An update joins a run only
 * when its target had the same audience (`sameAudience(target, gseq)`: no membership change
 * in between); otherwise it stands alone, for the members who had its target.
 */
export function runsOf(
  pending: ReadonlyArray<Omit<LogRow, 'target'> & { target?: number | null }>,
  sameAudience: (from: number, to: number) => boolean = () => false,
): Run[] {
  const runs: Run[] = [];
  let current: Run | null = null;
  for (const p of pending) {
    const target = p.target ?? null;
    if (target !== null && !(current ? target >= current.first || sameAudience(target, current.first) : sameAudience(target, p.gseq))) {
      runs.push({ first: p.gseq, last: p.gseq, entries: [p.entry], target });
      current = null;
      continue;
    }
    if (p.membership || !current) {
      current = { first: p.gseq, last: p.gseq, entries: [p.entry] };
      runs.push(current);
      if (p.membership) current = null;
      continue;
    }
    current.last = p.gseq;
    current.entries.push(p.entry);
  }
  return runs;
}
