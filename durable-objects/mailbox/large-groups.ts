/**
 * The user's large groups (read diffusion, protocol/large-groups.ts) as their mailbox serves them.
 * Nothing here writes per message: entries of a large group live only in its log.
 *
 * - A device connects: the mailbox registers the user as online with each large group (one call
 *   per large group per connect) and tells the device how far each reaches (`group_heads`); the
 *   device pulls what it lacks.
 * - The group pushes new entries (`live`): forwarded to every connected device as `group_live`.
 *   The answer tells the group whether anyone was connected (if not, it stops pushing).
 * - A device pulls (`group_pull`): the group answers what this user may see, page by page.
 * - A group becomes large (its `delivery_changed` event arrives as the last copied entry), or the
 *   user joins a group that already is: remember it, register, and send the new head.
 */
import type { GroupConversation, GroupEntriesFrame, GroupHeadsFrame, GroupHistoryItem, GroupPullFrame, SearchHit, SearchQuery } from '../../protocol/index.ts';
import { GROUP_PULL_MAX } from '../../protocol/index.ts';
import type { GroupChat, LogItem } from '../group-chat.ts';
import type { LargeChat } from './group-inbox.ts';
import type { LivePush } from '../group/delivery.ts';
import type { Connections } from './connections.ts';
import { FrameError } from './frame-error.ts';

export type LargeGroupsDeps = {
  sql: SqlStorage;
  connections: Connections;
  self: () => string;
  group: (groupId: string) => DurableObjectStub<GroupChat>;
  /** Everything of `group` up to `gseq` is on one of the user's devices (a delivered watermark). */
  delivered: (group: string, gseq: number) => void;
  /** `group`'s log reaches at least `head` (what a device may read up to). */
  moved: (group: string, head: number) => void;
};

type Head = GroupHeadsFrame['groups'][number];
type Known = { group: string; seq: number | null };

/**
 * A registration the group object did not answer (it was restarting, evicted, overloaded) is
 * tried again this long after, doubling, this many times: until it succeeds the device gets
 * nothing live from that group and does not know to pull it.
 */
const REGISTER_RETRY_MS = 500;
const REGISTER_ATTEMPTS = 7;

export class LargeGroups {
  constructor(private readonly deps: LargeGroupsDeps) {}

  /** The large groups this user belongs or belonged to: where read diffusion began, and the mailbox seq of that event here. */
  list(): Array<{ group: string; from: number; seq: number | null }> {
    return this.deps.sql
      .exec<{ group_id: string; large_from: number; large_seq: number | null }>(
        'SELECT group_id, large_from, large_seq FROM group_chats WHERE large_from IS NOT NULL',
      )
      .toArray()
      .map((r) => ({ group: r.group_id, from: r.large_from, seq: r.large_seq }));
  }

  /** A device connected on `ws`: register with every large group, then tell the device their heads. */
  async connected(ws: WebSocket): Promise<void> {
    const groups = this.list();
    if (groups.length === 0) return;
    const { connections } = this.deps;
    await this.#register(groups, {
      // Still open (a closed socket's cached state outlives it; the runtime's list does not).
      alive: () => connections.all().includes(ws),
      send: (heads) => connections.sendDirect(ws, { type: 'group_heads', groups: heads } satisfies GroupHeadsFrame),
    });
  }

  /**
   * `group` is large from gseq `from` on for this user: its `delivery_changed` event was just
   * stored here, or they joined it after the switch (then nothing of it is stored here).
   */
  async became(group: string, from: number): Promise<void> {
    this.deps.sql.exec(
      `INSERT INTO group_chats (group_id, through, read_gseq, last_seq, unread, large_from) VALUES (?, 0, 0, 0, 0, ?)
       ON CONFLICT (group_id) DO UPDATE SET large_from = coalesce(large_from, excluded.large_from)`,
      group,
      from,
    );
    const { connections } = this.deps;
    if (connections.all().length === 0) return;
    await this.#register(
      this.list().filter((g) => g.group === group),
      {
        alive: () => connections.all().length > 0,
        send: (heads) => connections.broadcast({ type: 'group_heads', groups: heads } satisfies GroupHeadsFrame),
      },
    );
  }

  /** New entries of a large group: to every connected device. Whether one was connected. */
  live(group: string, push: LivePush): boolean {
    this.deps.moved(group, push.through);
    return this.deps.connections.broadcastText(push.frame) > 0;
  }

  /**
   * A device's `group_pull`: one page of what this user may see, and nothing older than
   * `notBefore` (ms; a device registered without history sees large groups from its login on).
   * Refusals throw a FrameError.
   */
  async pull(frame: GroupPullFrame, notBefore: number): Promise<GroupEntriesFrame> {
    const result = await this.deps.group(frame.group).pull(this.deps.self(), frame.after, frame.limit ?? GROUP_PULL_MAX, notBefore);
    if (!result.ok) throw new FrameError(result.code, result.message ?? undefined);
    this.deps.moved(frame.group, result.value.through);
    // The device asks for what follows `after`: it holds everything up to there.
    if (frame.after > 0) this.deps.delivered(frame.group, frame.after);
    return { type: 'group_entries', id: frame.id, group: frame.group, ...result.value };
  }

  /**
   * A page of a large group's log part (above `chat.from`), newest first, strictly below gseq
   * `before`, as this user may see it. Refusals throw a FrameError.
   */
  async history(
    chat: { group: string; from: number; readGseq: number },
    before: number,
    limit: number,
    notBefore: number,
  ): Promise<{ items: GroupHistoryItem[]; nextBefore: number | null }> {
    const self = this.deps.self();
    const result = await this.deps.group(chat.group).logPage(self, { before, after: chat.from, limit, notBefore });
    if (!result.ok) throw new FrameError(result.code, result.message ?? undefined);
    return { items: result.value.items.map((item) => logItem(item, self, chat.readGseq)), nextBefore: result.value.nextBefore };
  }

  /**
   * The chat list's items for the user's large groups: the log's newest entry (or, when the
   * log part holds nothing this user may see yet, the last entry copied here) and unread counts
   * of both parts. A group object that does not answer leaves its group out of this list.
   */
  async conversations(chats: readonly LargeChat[], notBefore: number): Promise<GroupConversation[]> {
    const self = this.deps.self();
    const answers = await Promise.allSettled(
      chats.map((chat) => this.deps.group(chat.group).chatSummary(self, { after: chat.from, readGseq: chat.readGseq, notBefore })),
    );
    const items: GroupConversation[] = [];
    answers.forEach((answer, i) => {
      const chat = chats[i]!;
      if (answer.status === 'rejected') {
        console.error('large group chat summary failed', answer.reason);
        return;
      }
      if (!answer.value.ok) return;
      const summary = answer.value.value;
      const last = summary.last ? logItem(summary.last, self, chat.readGseq) : chat.last;
      if (!last) return;
      items.push({
        kind: 'group',
        group: chat.group,
        last,
        unread: chat.unread + summary.unread,
        markedUnread: chat.markedUnread,
        log: { from: chat.from, readGseq: chat.readGseq, head: summary.head },
      });
    });
    return items;
  }

  /**
   * Search one large group's log (the part after its switch) as this user may see it, newest
   * first, strictly below gseq `before`. Hits carry `seq: null` and their gseq. Refusals throw a
   * FrameError.
   */
  async search(group: string, query: SearchQuery, before: number, notBefore: number): Promise<{ hits: SearchHit[]; nextBefore: number | null }> {
    const result = await this.deps.group(group).search(this.deps.self(), {
      q: query.q,
      ...(query.from === undefined ? {} : { from: query.from }),
      ...(query.kind === undefined ? {} : { kind: query.kind }),
      ...(query.since === undefined ? {} : { since: query.since }),
      ...(query.until === undefined ? {} : { until: query.until }),
      before,
      limit: query.limit,
      notBefore,
    });
    if (!result.ok) throw new FrameError(result.code, result.message ?? undefined);
    // The RPC's declared type widens the [start, end] tuples to number[]; the values are the pairs.
    const hits = result.value.hits.map(({ gseq, highlights, ...hit }): SearchHit => ({
      seq: null,
      gseq,
      chat: { kind: 'group', group },
      ...hit,
      highlights: highlights as Array<[number, number]>,
    }));
    return { hits, nextBefore: result.value.nextBefore };
  }

  /**
   * Register with each group and `send` their heads (leaving out groups that no longer know this
   * user). Groups that did not answer are tried again later, while `alive`.
   */
  async #register(groups: readonly Known[], to: { alive: () => boolean; send: (heads: Head[]) => void }, attempt = 0): Promise<void> {
    const self = this.deps.self();
    const answers = await Promise.allSettled(groups.map(({ group }) => this.deps.group(group).online(self)));
    const heads: Head[] = [];
    const again: Known[] = [];
    answers.forEach((answer, i) => {
      const known = groups[i]!;
      if (answer.status === 'rejected') again.push(known);
      else if (answer.value.ok && answer.value.value) {
        heads.push({ group: known.group, ...answer.value.value, seq: known.seq });
        this.deps.moved(known.group, answer.value.value.head);
      }
    });
    if (heads.length > 0) to.send(heads);
    if (again.length === 0) return;
    if (attempt + 1 >= REGISTER_ATTEMPTS) {
      console.error(`large group registration failed ${REGISTER_ATTEMPTS} times; the device pulls on its next connect`);
      return;
    }
    setTimeout(() => {
      if (to.alive()) void this.#register(again, to, attempt + 1);
    }, REGISTER_RETRY_MS * 2 ** attempt);
  }
}

/** A history item of an entry read from a group's log (no mailbox seq). */
function logItem(item: LogItem, self: string, readGseq: number): GroupHistoryItem {
  const { entry } = item;
  const read = entry.type !== 'message' || entry.message.from === self || entry.message.gseq <= readGseq;
  return { seq: null, entry, tally: item.tally, read };
}
