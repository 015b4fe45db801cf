/**
 * Receipt tallies for senders: "delivered to 812 of 1,023, read by 40". Members' receipts only
 * move watermarks; the messages whose counts may have changed are remembered as a dirty gseq
 * range, and a short timer later each affected sender gets one `group_receipt` with the counts
 * that changed. A thousand members acking one message thus cost the sender a few frames, not
 * a thousand. Counts are recomputed from the watermarks each time, so a lost push is repaired
 * by the next one and "message info" is always exact.
 */
import { GROUP_TALLY_MAX, type GroupTally } from '../../protocol/index.ts';
import type { GroupLog } from './log.ts';
import type { Members } from './members.ts';

export type TallyDeps = {
  log: GroupLog;
  members: Members;
  /** Hand a sender its changed tallies; rejects if it could not. */
  push: (sender: string, tallies: GroupTally[]) => Promise<void>;
  flushAfterMs: number;
};

/** How many recent counts are remembered, so unchanged ones are not sent again. */
const REMEMBERED = 4_096;
const RETRY_MS = 5_000;

export class Tallies {
  #dirtyFrom = Number.POSITIVE_INFINITY;
  #dirtyTo = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  /** gseq -> "delivered/read/of" last pushed. */
  readonly #pushed = new Map<number, string>();

  constructor(private readonly deps: TallyDeps) {}

  /** Messages with from < gseq <= to may have new counts. */
  touch(from: number, to: number): void {
    if (to <= from) return;
    this.#dirtyFrom = Math.min(this.#dirtyFrom, from + 1);
    this.#dirtyTo = Math.max(this.#dirtyTo, to);
    this.#schedule(this.deps.flushAfterMs);
  }

  /** Compute and push now (tests and shutdown paths call this; the timer does otherwise). */
  async flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#dirtyTo === 0) return;
    const from = this.#dirtyFrom;
    const to = this.#dirtyTo;
    this.#dirtyFrom = Number.POSITIVE_INFINITY;
    this.#dirtyTo = 0;

    const messages = this.deps.log.messagesBetween(from, to, GROUP_TALLY_MAX);
    // At most one frame's worth at a time, newest first; what is older stays dirty for the next round.
    const oldest = messages[0]?.gseq;
    if (messages.length === GROUP_TALLY_MAX && oldest !== undefined && oldest > from) {
      this.#dirtyFrom = from;
      this.#dirtyTo = oldest - 1;
      this.#schedule(0);
    }
    const tallies = this.deps.members.tallies(messages);
    const bySender = new Map<string, GroupTally[]>();
    messages.forEach((m, i) => {
      const tally = tallies[i]!;
      const key = `${tally.delivered}/${tally.read}/${tally.of}`;
      if (this.#pushed.get(m.gseq) === key) return;
      this.#pushed.set(m.gseq, key);
      const list = bySender.get(m.sender) ?? [];
      list.push(tally);
      bySender.set(m.sender, list);
    });
    this.#forgetOld();

    const results = await Promise.allSettled([...bySender].map(([sender, list]) => this.deps.push(sender, list)));
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') return;
      // Forget what failed so the retry sends it again.
      for (const t of [...bySender.values()][i]!) this.#pushed.delete(t.gseq);
      this.#dirtyFrom = Math.min(this.#dirtyFrom, from);
      this.#dirtyTo = Math.max(this.#dirtyTo, to);
      this.#schedule(RETRY_MS);
    });
  }

  #schedule(ms: number): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.flush();
    }, ms);
  }

  #forgetOld(): void {
    if (this.#pushed.size <= REMEMBERED) return;
    const excess = this.#pushed.size - REMEMBERED;
    let i = 0;
    for (const key of this.#pushed.keys()) {
      if (i++ >= excess) break;
      this.#pushed.delete(key);
    }
  }
}
