/**
 * Typing indicators are ephemeral: relayed to devices that are connected right now, never
 * stored, never acked. This limiter keeps a chatty client from turning every keystroke into
 * calls between objects: per (sender, conversation) at most one relay per
 * TYPING_MIN_INTERVAL_MS, except that a change of state (typing -> stopped) always passes.
 */
import { TYPING_MIN_INTERVAL_MS, type TypingState } from '../protocol/index.ts';

/** Entries older than this are forgotten when the map is swept. */
const FORGET_AFTER_MS = 60_000;
const SWEEP_EVERY = 256;

export class TypingLimiter {
  readonly #last = new Map<string, { state: TypingState; at: number }>();
  #calls = 0;

  /** Whether a typing frame from `key` (sender and conversation) should be relayed now. */
  allow(key: string, state: TypingState, now: number): boolean {
    if (++this.#calls % SWEEP_EVERY === 0) this.#sweep(now);
    const last = this.#last.get(key);
    if (last && last.state === state && now - last.at < TYPING_MIN_INTERVAL_MS) return false;
    // A `stopped` for something that was never shown is noise.
    if (!last && state === 'stopped') return false;
    this.#last.set(key, { state, at: now });
    return true;
  }

  #sweep(now: number): void {
    for (const [key, last] of this.#last) if (now - last.at > FORGET_AFTER_MS) this.#last.delete(key);
  }
}
