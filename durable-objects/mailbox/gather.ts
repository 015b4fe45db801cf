/**
 * Group commit for a busy object: calls that arrive close together are applied in one JavaScript
 * turn, so their writes share one storage commit, and each caller is answered after it (the
 * output gate holds every answer until the commit is durable, so nothing is acknowledged early).
 *
 * The first call schedules the round for the next turn (`setTimeout(0)`): every call the runtime
 * delivers before then (those already waiting) joins it. An idle object pays one timer tick of
 * latency; a busy one pays one commit per round instead of one per call.
 */
export type GatherDeps<I, O> = {
  /** Apply one input, synchronously; a round applies its inputs in arrival order in one turn. */
  apply: (input: I) => O;
  /** Run `task` in a later turn (tests pass their own). */
  later?: (task: () => void) => void;
};

type Waiting<I, O> = { input: I; resolve: (output: O) => void; reject: (error: unknown) => void };

export class Gather<I, O> {
  #waiting: Array<Waiting<I, O>> = [];
  #scheduled = false;
  readonly #later: (task: () => void) => void;
  /** Rounds applied and calls they carried (for tests and the bench's reading). */
  readonly stats = { rounds: 0, calls: 0 };

  constructor(private readonly deps: GatherDeps<I, O>) {
    this.#later = deps.later ?? ((task) => void setTimeout(task, 0));
  }

  submit(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#waiting.push({ input, resolve, reject });
      if (this.#scheduled) return;
      this.#scheduled = true;
      this.#later(() => this.#round());
    });
  }

  #round(): void {
    this.#scheduled = false;
    const round = this.#waiting;
    this.#waiting = [];
    if (round.length === 0) return;
    this.stats.rounds++;
    this.stats.calls += round.length;
    // One caller's failure is theirs alone: the others' writes stand and they are answered.
    for (const w of round) {
      try {
        w.resolve(this.deps.apply(w.input));
      } catch (error) {
        w.reject(error);
      }
    }
  }
}
