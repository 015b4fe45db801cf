/**
 * Typing indicators are ephemeral: relayed to devices that are connected right now, never
 * stored, never acked. This gate keeps a chatty client from turning every keystroke into calls
 * between objects. Per key (a device and conversation in the sender's object, a member in the
 * group's object):
 * - the same state again within TYPING_MIN_INTERVAL_MS is a repeat and is dropped for free;
 * - a `stopped` for something never shown is noise and is dropped for free;
 * - anything else is relayed if `spend` allows it. A change of state costs like any other frame
 *   (it used to pass always, which let alternating typing/recording frames through unlimited).
 */
import { TYPING_MIN_INTERVAL_MS, type TypingState } from '../protocol/index.ts';

/** Entries older than this are forgotten when the map is swept. */
const FORGET_AFTER_MS = 60_000;
const SWEEP_EVERY = 256;

export class TypingGate {
  readonly #last = new Map<string, { state: TypingState; at: number }>();
  #calls = 0;

  /**
   * Whether a typing frame from `key` should be relayed now. `spend` is asked only for frames
   * that would be relayed, and answers whether the sender's budget allows it.
   */
  allow(key: string, state: TypingState, now: number, spend: () => boolean = () => true): boolean {
    if (++this.#calls % SWEEP_EVERY === 0) this.#sweep(now);
    const last = this.#last.get(key);
    const shown = last !== undefined && last.state !== 'stopped' && now - last.at <= FORGET_AFTER_MS;
    if (state === 'stopped' && !shown) return false;
    if (last && last.state === state && now - last.at < TYPING_MIN_INTERVAL_MS) return false;
    if (!spend()) return false;
    this.#last.set(key, { state, at: now });
    return true;
  }

  #sweep(now: number): void {
    for (const [key, last] of this.#last) if (now - last.at > FORGET_AFTER_MS) this.#last.delete(key);
  }
}
