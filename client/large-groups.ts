/**
 * Large groups (read diffusion, docs/PROTOCOL.md "Large groups"): their entries after the switch
 * are not mailbox entries. This keeps one gseq cursor per large group and turns `group_heads`,
 * `group_live` and `group_entries` frames into one ordered, duplicate-free stream per group:
 *
 * - `group_heads` (after every hello, and when a group becomes large): the groups and how far
 *   each reaches. A group is pulled from the cursor (or from the switch) up to its head, page by
 *   page, but only once the mailbox stream is processed up to the switch's own entry, so a chat
 *   never shows an entry after the switch before the entries before it.
 * - `group_live`: emitted at once when it continues the cursor; otherwise (something was missed,
 *   or a pull is under way) the head moves and the pull covers it.
 * - A lost connection loses the pull in flight; the next `group_heads` starts it again.
 *
 * Cursors live in memory: a new client object pulls a group again from the switch unless the
 * app gives a `LargeGroupCursorStore`.
 */
import type { ClientFrame, GroupEntriesFrame, GroupEntry, GroupHeadsFrame, GroupLiveFrame } from '../protocol/index.ts';
import { GROUP_PULL_MAX, gseqOf } from '../protocol/index.ts';

/** Where a device's gseq cursor per large group is kept between runs (like `CursorStore`). */
export interface LargeGroupCursorStore {
  get(group: string): number | undefined;
  set(group: string, gseq: number): void;
}

export type LargeGroupsDeps = {
  /** Send a frame on the current connection; false when there is none. */
  send: (frame: ClientFrame) => boolean;
  /** Entries of `group` in gseq order, each exactly once. */
  emit: (group: string, entries: GroupEntry[]) => void;
  /** The highest mailbox seq processed so far. */
  mailboxCursor: () => number | undefined;
  store?: LargeGroupCursorStore;
  /** Client ids of pulls. */
  newId: () => string;
};

type Group = {
  cursor: number;
  head: number;
  /** The mailbox must be processed up to here first (null: nothing of the group is in it). */
  after: number | null;
  /** The id of the pull in flight. */
  pulling: string | null;
};

export class LargeGroups {
  readonly #groups = new Map<string, Group>();
  readonly #deps: LargeGroupsDeps;
  /** Highest mailbox seq processed, as reported by `onMailboxProgress`. */
  #mailboxSeq = 0;

  constructor(deps: LargeGroupsDeps) {
    this.#deps = deps;
  }

  /** The device's gseq cursor for a large group (undefined: not a large group here). */
  cursor(group: string): number | undefined {
    return this.#groups.get(group)?.cursor;
  }

  /** Every frame of a large group, from the connection. */
  onFrame(frame: GroupHeadsFrame | GroupLiveFrame | GroupEntriesFrame): void {
    switch (frame.type) {
      case 'group_heads':
        for (const g of frame.groups) {
          const known = this.#groups.get(g.group);
          if (known) {
            known.head = Math.max(known.head, g.head);
            known.pulling = null; // a new connection: any pull in flight went with the old one
          } else {
            const stored = this.#deps.store?.get(g.group);
            const cursor = stored !== undefined && stored >= g.from ? stored : g.from;
            this.#groups.set(g.group, { cursor, head: g.head, after: g.seq, pulling: null });
          }
          this.#pull(g.group);
        }
        return;
      case 'group_live': {
        const g = this.#groups.get(frame.group);
        if (!g) return; // not told of this group yet: its group_heads follows and pulls
        g.head = Math.max(g.head, frame.through);
        if (g.pulling === null && this.#ready(g) && frame.after <= g.cursor) this.#take(frame.group, g, frame.entries, frame.through);
        this.#pull(frame.group);
        return;
      }
      case 'group_entries': {
        const g = this.#groups.get(frame.group);
        if (!g || g.pulling !== frame.id) return;
        g.pulling = null;
        g.head = Math.max(g.head, frame.head);
        this.#take(frame.group, g, frame.entries, frame.through);
        this.#pull(frame.group);
        return;
      }
    }
  }

  /** The mailbox stream processed entry `seq`: groups waiting for their switch entry may start. */
  onMailboxProgress(seq: number): void {
    this.#mailboxSeq = Math.max(this.#mailboxSeq, seq);
    for (const [group, g] of this.#groups) if (g.after !== null && g.after <= seq && g.cursor < g.head) this.#pull(group);
  }

  /** The connection closed: pulls in flight are lost (the next `group_heads` pulls again). */
  onDisconnect(): void {
    for (const g of this.#groups.values()) g.pulling = null;
  }

  /**
   * An error frame answered the pull `id` (e.g. rate limited): pull again after `retryAfterMs`
   * (or on the next heads or live frame). False when `id` is not one of our pulls.
   */
  onPullRefused(id: string, retryAfterMs: number | undefined): boolean {
    for (const [group, g] of this.#groups) {
      if (g.pulling !== id) continue;
      g.pulling = null;
      if (retryAfterMs !== undefined) setTimeout(() => this.#pull(group), retryAfterMs);
      return true;
    }
    return false;
  }

  #ready(g: Group): boolean {
    return g.after === null || Math.max(this.#deps.mailboxCursor() ?? 0, this.#mailboxSeq) >= g.after;
  }

  #take(group: string, g: Group, entries: readonly GroupEntry[], through: number): void {
    const fresh = entries.filter((e) => gseqOf(e) > g.cursor);
    g.cursor = Math.max(g.cursor, through);
    this.#deps.store?.set(group, g.cursor);
    if (fresh.length > 0) this.#deps.emit(group, fresh);
  }

  #pull(group: string): void {
    const g = this.#groups.get(group);
    if (!g || g.pulling !== null || g.cursor >= g.head || !this.#ready(g)) return;
    const id = this.#deps.newId();
    if (this.#deps.send({ type: 'group_pull', id, group, after: g.cursor, limit: GROUP_PULL_MAX })) g.pulling = id;
  }
}
