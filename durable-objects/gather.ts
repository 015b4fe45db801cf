/**
 * Group commit for a busy object: calls that arrive while the previous round's commit is in
 * flight are applied together in one JavaScript turn, so their writes share one storage commit,
 * and each caller is answered once that commit is durable.
 *
 * - An idle object applies a call at once (no waiting added), then waits for its commit
 *   (`settle`: the storage's `sync()`), as the output gate would have made the answer wait anyway.
 * - Calls arriving meanwhile wait for that commit and then form the next round: a busy object
 *   pays one commit per round instead of one per call.
 *
 * No timer is involved: a timer can be starved by a steady stream of incoming calls (seen in a
 * test where a round scheduled with `setTimeout(0)` waited five seconds), a commit cannot.
 */
export type GatherDeps<I, O> = {
  /** Apply one input, synchronously; a round applies its inputs in arrival order in one turn. */
  apply: (input: I) => O;
  /** Resolves once everything written so far is durable (`ctx.storage.sync()`). */
  settle: () => Promise<void>;
};

type Waiting<I, O> = { input: I; resolve: (output: O) => void; reject: (error: unknown) => void };

export class Gather<I, O> {
  #waiting: Array<Waiting<I, O>> = [];
  #running = false;
  /** Rounds applied and calls they carried (for tests). */
  readonly stats = { rounds: 0, calls: 0 };

  constructor(private readonly deps: GatherDeps<I, O>) {}

  submit(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#waiting.push({ input, resolve, reject });
      if (!this.#running) void this.#run();
    });
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      while (this.#waiting.length > 0) {
        const round = this.#waiting;
        this.#waiting = [];
        this.stats.rounds++;
        this.stats.calls += round.length;
        // One caller's failure is theirs alone: the others' writes stand.
        const outcomes = round.map((w): { ok: true; output: O } | { ok: false; error: unknown } => {
          try {
            return { ok: true, output: this.deps.apply(w.input) };
          } catch (error) {
            return { ok: false, error };
          }
        });
        try {
          await this.deps.settle();
        } catch (error) {
          for (const w of round) w.reject(error);
          continue;
        }
        round.forEach((w, i) => {
          const outcome = outcomes[i]!;
          if (outcome.ok) w.resolve(outcome.output);
          else w.reject(outcome.error);
        });
      }
    } finally {
      this.#running = false;
    }
  }
}
