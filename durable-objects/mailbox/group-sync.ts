/**
 * How a user's mailbox takes part in groups: it receives fan-out deliveries (at least once, in
 * any order) and turns them into an in-order, duplicate-free sequence of mailbox entries, and it
 * reports the user's progress (delivered / read watermarks) back to each group object.
 *
 * Deliveries for one group are handled one at a time. An entry at or below the group's
 * `through` is a duplicate and dropped; an entry beyond `through + 1` means something is still
 * on its way (a queued batch, a retry), so the missing range is fetched from the group object
 * first. Entries a user may not see (before joining, after removal) are simply not in that
 * answer, so `through` can jump over them.
 */
import type { GroupEntry } from '../../protocol/index.ts';
import type { ActInput, GroupChat, GroupResult, Posted, PostInput } from '../group-chat.ts';
import { FrameError } from './frame-error.ts';
import { gseqOf, startsMembership, type GroupInbox } from './group-inbox.ts';
import type { StoredEntry } from './store.ts';

export type GroupSyncDeps = {
  inbox: GroupInbox;
  self: () => string;
  /** Push new mailbox entries to the user's devices. */
  publish: (entries: StoredEntry[]) => void;
  /** Entries of `group` newly stored in this mailbox (after publish), for push notifications. */
  arrived: (group: string, entries: readonly GroupEntry[]) => void;
  group: (groupId: string) => DurableObjectStub<GroupChat>;
  /** Something could not be sent now: make sure the alarm retries. */
  retryLater: () => void;
  /** How long delivered watermarks are gathered before they are sent to the group. */
  deliveredDelayMs: number;
  /** `group` switched to read diffusion at gseq `from` (its `delivery_changed` event was just stored). */
  becameLarge: (group: string, from: number) => void;
};

/** What a group message must pass before it is forwarded, and what it costs once stored. */
export type PostGate = {
  /** Throws (a FrameError) when the sender may not post now. */
  admit: () => void | Promise<void>;
  /** The group stored the message; it reaches `audience` members. */
  posted: (audience: number) => void;
};

export class GroupSync {
  readonly #locks = new Map<string, Promise<unknown>>();
  /** Delivered watermarks per group not yet sent. */
  readonly #delivered = new Map<string, number>();
  /** Per large group, the gseq its object capped a read to (its head, or the end of this user's membership), until the log moves past it. */
  readonly #logCaps = new Map<string, number>();
  #deliveredTimer: ReturnType<typeof setTimeout> | null = null;
  #flushing: Promise<boolean> | null = null;

  constructor(private readonly deps: GroupSyncDeps) {}

  /** Take a fan-out delivery of `group`'s entries (any order, possibly repeated). */
  deliver(group: string, entries: readonly GroupEntry[]): Promise<number> {
    return this.#serial(group, () => this.#deliver(group, entries));
  }

  /**
   * Post a message to `group` for one of this user's devices. Posts to one group go one at a
   * time, so a device's messages enter the log in the order it sent them (calls to another
   * object are not otherwise guaranteed to arrive in order).
   *
   * `gate` is consulted in that same turn: `admit` (which throws to refuse) right before the
   * call, `posted` with the audience once the group stored a new message. So a post sees the
   * deliveries of the post before it to the same group already charged, and a check that has
   * to wait (is there such a group?) does not let a later message overtake.
   */
  post(group: string, input: PostInput, gate?: PostGate): Promise<GroupResult<Posted>> {
    return this.#serial(`post:${group}`, async (): Promise<GroupResult<Posted>> => {
      await gate?.admit();
      const result = await this.deps.group(group).post(input);
      if (result.ok && !result.value.duplicate) gate?.posted(result.value.audience);
      return result;
    });
  }

  /**
   * React to, edit or delete for everyone a message of `group` for one of this user's devices.
   * In the same queue as posts: a device's messages and actions enter the log in the order it
   * sent them (two edits of one message must not swap).
   */
  act(group: string, input: ActInput): Promise<GroupResult<{ gseq: number; duplicate: boolean }>> {
    return this.#serial(`post:${group}`, async (): Promise<GroupResult<{ gseq: number; duplicate: boolean }>> => {
      const result = await this.deps.group(group).act(input);
      return result;
    });
  }

  /**
   * A device acknowledged mailbox entries after < seq <= upTo: their groups will hear they were
   * delivered. Delivered watermarks are gathered for `deliveredDelayMs` and sent as one call
   * per group: in a busy group every member's object would otherwise call the group object
   * once per message, and those calls compete with the fan-out itself. (Nothing is written
   * here; a watermark lost to an eviction is carried by the next ack, and reads are durable.)
   */
  acknowledged(after: number, upTo: number): void {
    for (const [group, gseq] of this.deps.inbox.deliveredBetween(after, upTo)) this.deliveredUpTo(group, gseq);
  }

  /** A device holds `group`'s log up to `gseq` (gathered like acknowledgements). */
  deliveredUpTo(group: string, gseq: number): void {
    this.#delivered.set(group, Math.max(gseq, this.#delivered.get(group) ?? 0));
    if (!this.#deliveredTimer) {
      this.#deliveredTimer = setTimeout(() => this.#sendDelivered(), this.deps.deliveredDelayMs);
    }
  }

  #sendDelivered(): void {
    this.#deliveredTimer = null;
    const pending = [...this.#delivered];
    this.#delivered.clear();
    for (const [group, gseq] of pending) {
      this.deps
        .group(group)
        .receipt(this.deps.self(), 'delivered', gseq)
        .catch(() => {
          this.deps.inbox.queueReceipt(group, 'delivered', gseq);
          this.deps.retryLater();
        });
    }
  }

  /**
   * The user read `group` up to mailbox seq `upTo`; returns the gseq read through, or null if
   * nothing moved. With `relay` false (read receipts off) it is marked read here only: the group
   * never counts this user as having read it. Any read clears the chat's "marked unread" flag.
   */
  read(group: string, upTo: number, relay = true): number | null {
    const gseq = this.deps.inbox.markRead(group, upTo);
    if (gseq === null) return null;
    if (relay) this.deps.inbox.queueReceipt(group, 'read', gseq);
    return gseq;
  }

  /**
   * The user read `group` through gseq `gseq`. A group copied here: clamped to what reached this
   * mailbox, then as `read`. A large group: its object clamps it to the head and to what this
   * user may see, and takes the read receipt itself (with `relay`). Returns the gseq read
   * through, or null if nothing moved; a group object that does not answer throws (retryable).
   */
  async readThrough(group: string, gseq: number, relay = true): Promise<number | null> {
    const { inbox } = this.deps;
    // As for reads by mailbox seq: a group never received moves nothing and is no error.
    if (!inbox.knows(group)) return null;
    if (inbox.largeFrom(group) === null) {
      const upTo = inbox.markReadThrough(group, Math.min(gseq, inbox.through(group)));
      if (upTo !== null && relay) inbox.queueReceipt(group, 'read', upTo);
      return upTo;
    }
    // Past the highest gseq the group ever answered is past its head: no call for that (a device
    // repeating a read beyond the head would otherwise cost the group one call per frame).
    const capped = Math.min(gseq, this.#logCaps.get(group) ?? Number.MAX_SAFE_INTEGER);
    if (capped <= inbox.readGseq(group)) return null;
    const result = await this.deps.group(group).readUpTo(this.deps.self(), capped, relay);
    if (!result.ok) throw new FrameError(result.code, result.message ?? undefined);
    if (result.value < capped) this.#logCaps.set(group, result.value);
    else this.#logCaps.delete(group);
    return inbox.markReadThrough(group, result.value);
  }

  /**
   * A large group's log reaches at least `head` (a live push, a pull or a registration passed
   * through here): a device may now read that far, so a cap below it goes.
   */
  logMoved(group: string, head: number): void {
    const cap = this.#logCaps.get(group);
    if (cap !== undefined && head > cap) this.#logCaps.delete(group);
  }

  /** Stop: delivered watermarks still gathered are dropped (the mailbox is being wiped). */
  close(): void {
    if (this.#deliveredTimer) clearTimeout(this.#deliveredTimer);
    this.#deliveredTimer = null;
    this.#delivered.clear();
  }

  /**
   * Send every pending group receipt; concurrent calls share one run. Resolves true when the
   * outbox is empty, false when something must be retried.
   */
  flushReceipts(): Promise<boolean> {
    this.#flushing ??= this.#flushOnce().finally(() => {
      this.#flushing = null;
    });
    return this.#flushing;
  }

  async #flushOnce(): Promise<boolean> {
    const pending = this.deps.inbox.pendingReceipts();
    const results = await Promise.allSettled(
      pending.map(async (r) => {
        await this.deps.group(r.group).receipt(this.deps.self(), r.status, r.upTo);
        this.deps.inbox.receiptSent(r.group, r.status, r.upTo);
      }),
    );
    return results.every((r) => r.status === 'fulfilled');
  }

  async #deliver(group: string, entries: readonly GroupEntry[]): Promise<number> {
    const self = this.deps.self();
    const through = this.deps.inbox.through(group);
    let fresh = [...entries].sort((a, b) => gseqOf(a) - gseqOf(b)).filter((e) => gseqOf(e) > through);
    if (fresh.length === 0) return 0;
    const upTo = gseqOf(fresh[fresh.length - 1]!);
    const continues = gseqOf(fresh[0]!) === through + 1 || (through === 0 && startsMembership(fresh[0]!, self));
    if (!continues || !isContiguous(fresh)) fresh = await this.#fetch(group, through, upTo);
    const stored = this.deps.inbox.record(group, fresh, upTo, self, Date.now());
    this.deps.publish(stored);
    if (stored.length > 0) this.deps.arrived(group, fresh);
    const switched = fresh.find((e) => e.type === 'event' && e.event.change.kind === 'delivery_changed');
    if (switched) this.deps.becameLarge(group, gseqOf(switched));
    return stored.length;
  }

  /** The entries of (after, upTo] this user may see, from the group object. */
  async #fetch(group: string, after: number, upTo: number): Promise<GroupEntry[]> {
    const entries: GroupEntry[] = [];
    let from = after;
    while (from < upTo) {
      const result = await this.deps.group(group).entriesFor(this.deps.self(), from, upTo);
      if (!result.ok) throw new FrameError(result.code, result.message ?? undefined);
      entries.push(...result.value.entries);
      if (result.value.through <= from) break;
      from = result.value.through;
    }
    return entries;
  }

  /** Run `task` after every earlier task with the same key. */
  #serial<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(key) ?? Promise.resolve();
    const run = previous.then(task, task);
    const tail = run.catch(() => undefined);
    this.#locks.set(key, tail);
    void tail.then(() => {
      if (this.#locks.get(key) === tail) this.#locks.delete(key);
    });
    return run;
  }
}

/** Whether entries (sorted) have consecutive gseqs with no repeats. */
function isContiguous(entries: readonly GroupEntry[]): boolean {
  for (let i = 1; i < entries.length; i++) if (gseqOf(entries[i]!) !== gseqOf(entries[i - 1]!) + 1) return false;
  return true;
}
