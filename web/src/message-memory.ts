/**
 * What the store remembers about messages it has not loaded (older than what is shown, or still
 * on their way): the furthest tick a receipt named, the newest copy an update brought, and the
 * rev at which a message was deleted for the user. Receipts and updates can arrive before the
 * message they name (a live frame before the history page that holds it), so they are kept for
 * when it comes. The first two are bounded: oldest touched first out.
 */
import type { GroupMessage, Message } from '../../client/index.ts';
import { furthest, type Tick } from './chat-items.ts';

/** Remembered ticks for messages not loaded yet. */
const MAX_REMEMBERED_TICKS = 5_000;
/** Updates kept for messages not loaded yet: applied if the message arrives with a lower rev. */
const MAX_EARLY_UPDATES = 2_000;

/** A map that forgets its least recently set entry past `max` (Map keeps insertion order). */
class BoundedMap<V> {
  private readonly map = new Map<string, V>();

  constructor(private readonly max: number) {}

  get(key: string): V | undefined {
    return this.map.get(key);
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  /** Set `key` as the most recently touched entry. */
  set(key: string, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.max) {
      const oldest = this.map.keys().next();
      if (oldest.done !== true) this.map.delete(oldest.value);
    }
  }
}

/** The furthest tick seen for each of one's messages, loaded or not. */
export class TickMemory {
  private readonly ticks = new BoundedMap<Tick>(MAX_REMEMBERED_TICKS);

  get(id: string): Tick | undefined {
    return this.ticks.get(id);
  }

  /** Remember `tick` for message `id` unless a further one is known. */
  raise(id: string, tick: Tick): void {
    const remembered = furthest(this.ticks.get(id) ?? null, tick);
    if (remembered !== null) this.ticks.set(id, remembered);
  }
}

/** Updates that came before their message, and messages deleted for the user. */
export class LateUpdates {
  /** The newest copy of messages an update named before the message itself was loaded, by id. */
  private readonly early = new BoundedMap<Message | GroupMessage>(MAX_EARLY_UPDATES);
  /** Messages deleted for the user, with the rev of that deletion: an older copy must not bring them back. */
  private readonly gone = new Map<string, number>();

  /** The kept copy of message `id`, if any; it is forgotten (the message is being loaded now). */
  take(id: string): Message | GroupMessage | undefined {
    const kept = this.early.get(id);
    if (kept !== undefined) this.early.delete(id);
    return kept;
  }

  /** Keep `message` for when it is loaded, unless a newer copy is kept or it was deleted for the user since. */
  keep(message: Message | GroupMessage): void {
    const rev = message.rev ?? 0;
    if (this.isGone(message.id, rev)) return;
    const kept = this.early.get(message.id);
    if (kept === undefined || (kept.rev ?? 0) < rev) this.early.set(message.id, message);
  }

  markGone(id: string, rev: number): void {
    this.gone.set(id, rev);
  }

  /** Whether a copy at `rev` is older than the user's deletion of message `id`. */
  isGone(id: string, rev: number): boolean {
    const goneRev = this.gone.get(id);
    return goneRev !== undefined && rev <= goneRev;
  }
}
