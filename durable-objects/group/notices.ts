/**
 * Push notifications for a large group (read diffusion). Nothing of it reaches an offline
 * member's mailbox, so nothing would ever make their phone ring: after each round of live
 * pushes this sends a *notice* to the current members without a connected device, through the
 * fan-out queue, and each mailbox decides as for any message (mutes, quiet hours, a device that
 * connected meanwhile, previews).
 *
 * At most one notice round per burst: the first message after a quiet spell goes out at once;
 * what follows within `burstMs` is held and goes out as one notice ("N new messages", the newest
 * as its preview) when the window ends, which opens the next window.
 *
 * And per member, growing gaps while they stay away: after a notice, the next one reaches them
 * no sooner than `burstMs` later, then twice that, and so on up to `maxGapMs`; a device of theirs
 * connecting starts them over. A member who is away from a busy group gets the first message at
 * once, then summaries of what they missed at 30 s, 1, 2, 4 ... minutes, at most one every
 * `maxGapMs`, not one every 30 s for as long as the group talks. Each notice wakes the member's
 * mailbox; in a 100,000-member group a busy hour was 120 notices per away member, now about 10.
 *
 * Best effort, like every push: this state lives in memory, so an object restarted mid-window
 * drops that window's notice and forgets the gaps (the messages themselves are in the log and
 * reach the member at their next connect).
 */
import type { GroupMessage } from '../../protocol/index.ts';
import type { Notice } from './fanout-job.ts';
import type { LogRow } from './log.ts';

export type NoticesDeps = {
  /** Current members' ids. */
  members: () => string[];
  /** Members with a connected device (they got the entries live). */
  online: () => ReadonlySet<string>;
  /** Hand a notice for `members` to the queue. */
  send: (members: string[], notice: Notice) => Promise<void>;
  burstMs: number;
  /** The longest gap between two notices to one member who stays away. */
  maxGapMs: number;
  now: () => number;
  /** Run `task` in `ms` (a timer; tests drive it by hand). */
  schedule: (ms: number, task: () => void) => void;
};

/** A member who was sent a notice and has not connected since. */
type Away = {
  /** No notice before this time. */
  next: number;
  /** The gap that set `next` (the one after doubles it). */
  gap: number;
  /** Messages counted (`Notices.#total`) up to their last notice: the next one says how many came since. */
  seen: number;
};

export class Notices {
  /** Until when a new message is held rather than sent at once. */
  #quietUntil = 0;
  /** Messages that passed through here since the object started. */
  #total = 0;
  /** `#total` at the last notice round: where members with no `Away` record count from. */
  #roundTotal = 0;
  /** Messages came in since the last round (they wait for the next one). */
  #holding = false;
  /** The newest message (the preview of the next notice). */
  #newest: GroupMessage | null = null;
  readonly #away = new Map<string, Away>();
  /** When the pending timer fires (one at a time; an earlier need sets another). */
  #timerAt: number | null = null;
  /** Notices handed to the queue, and members they named (health figures). */
  readonly stats = { notices: 0, members: 0 };

  constructor(private readonly deps: NoticesDeps) {}

  /** Log rows were pushed live to the members who are connected: tell the others, once per burst. */
  after(rows: readonly LogRow[]): void {
    const messages = rows.flatMap((r) => (r.entry.type === 'message' ? [r.entry.message] : []));
    if (messages.length === 0) return;
    this.#total += messages.length;
    this.#newest = messages[messages.length - 1]!;
    const now = this.deps.now();
    if (!this.#holding && now >= this.#quietUntil) {
      this.#round(now);
      return;
    }
    this.#holding = true;
    this.#wake(this.#quietUntil);
  }

  /** A device of `member` connected: their next time away starts with a notice at once. */
  present(member: string): void {
    this.#away.delete(member);
  }

  /** Send the notices due now: to each member away who has something new and whose gap has passed. */
  #round(now: number): void {
    this.#holding = false;
    const newest = this.#newest;
    if (newest === null) return;
    const online = this.deps.online();
    const byCount = new Map<number, string[]>();
    let nextDue = Number.POSITIVE_INFINITY;
    for (const member of this.deps.members()) {
      const away = this.#away.get(member);
      if (online.has(member)) {
        if (away) this.#away.delete(member);
        continue;
      }
      // The newest message's sender has seen the chat up to it.
      if (member === newest.from) {
        if (away) away.seen = this.#total;
        continue;
      }
      const seen = away?.seen ?? this.#roundTotal;
      if (seen >= this.#total) continue;
      if (away && now < away.next) {
        nextDue = Math.min(nextDue, away.next);
        continue;
      }
      const count = this.#total - seen;
      const list = byCount.get(count);
      if (list) list.push(member);
      else byCount.set(count, [member]);
      const gap = away ? Math.min(away.gap * 2, this.deps.maxGapMs) : this.deps.burstMs;
      this.#away.set(member, { next: now + gap, gap, seen: this.#total });
    }
    this.#roundTotal = this.#total;
    if (byCount.size > 0) this.#quietUntil = now + this.deps.burstMs;
    for (const [count, members] of byCount) void this.#send(members, { message: newest, count });
    // Someone still has news but their gap had not passed: a round when it has.
    if (nextDue !== Number.POSITIVE_INFINITY) this.#wake(Math.max(nextDue, this.#quietUntil));
  }

  /** Run a round at `at` unless a timer already fires by then. */
  #wake(at: number): void {
    if (this.#timerAt !== null && this.#timerAt <= at) return;
    this.#timerAt = at;
    this.deps.schedule(Math.max(0, at - this.deps.now()), () => {
      if (this.#timerAt === at) this.#timerAt = null;
      const now = this.deps.now();
      if (now < this.#quietUntil) this.#wake(this.#quietUntil);
      else this.#round(now);
    });
  }

  async #send(members: string[], notice: Notice): Promise<void> {
    this.stats.notices++;
    this.stats.members += members.length;
    try {
      await this.deps.send(members, notice);
    } catch (error) {
      // A push is best effort: the messages are in the log and reach the member when they connect.
      console.error('large group notice failed', error);
    }
  }
}
