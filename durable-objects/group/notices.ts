/**
 * Push notifications for a large group (read diffusion). Nothing of it reaches an offline
 * member's mailbox, so nothing would ever make their phone ring: after each round of live
 * pushes this sends a *notice* to the current members without a connected device, through the
 * fan-out queue, and each mailbox decides as for any message (mutes, quiet hours, a device that
 * connected meanwhile, previews).
 *
 * At most one notice per burst: the first message after a quiet spell goes out at once; what
 * follows within `burstMs` is held and goes out as one notice ("N new messages", the newest as
 * its preview) when the window ends, which opens the next window. Best effort, like every push:
 * held counts live in memory, so an object restarted mid-window drops that window's notice (the
 * messages themselves are in the log and reach the member at their next connect).
 */
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
  now: () => number;
  /** Run `task` in `ms` (a timer; tests drive it by hand). */
  schedule: (ms: number, task: () => void) => void;
};

export class Notices {
  /** Until when a new message is held rather than sent at once. */
  #quietUntil = 0;
  #held: Notice | null = null;
  #timerSet = false;
  /** Notices handed to the queue, and members they named (health figures). */
  readonly stats = { notices: 0, members: 0 };

  constructor(private readonly deps: NoticesDeps) {}

  /** Log rows were pushed live to the members who are connected: tell the others, once per burst. */
  after(rows: readonly LogRow[]): void {
    const messages = rows.flatMap((r) => (r.entry.type === 'message' ? [r.entry.message] : []));
    if (messages.length === 0) return;
    const count = (this.#held?.count ?? 0) + messages.length;
    const notice: Notice = { message: messages[messages.length - 1]!, count };
    const now = this.deps.now();
    if (this.#held === null && now >= this.#quietUntil) {
      this.#quietUntil = now + this.deps.burstMs;
      void this.#send(notice);
      return;
    }
    this.#held = notice;
    if (this.#timerSet) return;
    this.#timerSet = true;
    this.deps.schedule(Math.max(0, this.#quietUntil - now), () => {
      this.#timerSet = false;
      const held = this.#held;
      this.#held = null;
      if (held === null) return;
      this.#quietUntil = this.deps.now() + this.deps.burstMs;
      void this.#send(held);
    });
  }

  async #send(notice: Notice): Promise<void> {
    const online = this.deps.online();
    const sender = notice.message.from;
    const away = this.deps.members().filter((m) => m !== sender && !online.has(m));
    if (away.length === 0) return;
    this.stats.notices++;
    this.stats.members += away.length;
    try {
      await this.deps.send(away, notice);
    } catch (error) {
      // A push is best effort: the messages are in the log and reach the member when they connect.
      console.error('large group notice failed', error);
    }
  }
}
