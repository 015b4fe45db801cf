/**
 * The account's devices as the mailbox sees them: a device logging in (an `account_event` for
 * the other devices, and where the new one starts and what history it may read), account
 * events, a device removed, and the pages each device may read (history and the chat list,
 * above its history floor).
 */
import { directItem, groupItem, mergedPage, searchHistory } from './history-pages.ts';
import {
  CLOSE_CODES,
  type AccountEvent,
  type Conversation,
  type ConversationList,
  type GroupMessage,
  type GroupHistoryPage,
  type HistoryPage,
  type SearchHit,
  type SearchPage,
  type SearchQuery,
  type StarredItem,
  type StarredPage,
} from '../../protocol/index.ts';
import type { MailboxCore } from './core.ts';
import { FrameError } from './frame-error.ts';

/** What a group history page asks for (GET /v1/groups/:groupId/messages). */
export type GroupHistoryQuery = { before?: number; beforeGseq?: number; limit: number };

/** When a chat's newest entry was stored: large groups are placed among the others by it. */
function lastAt(chat: Conversation): number {
  if (chat.kind === 'direct') return chat.last.message.sentAt;
  const { entry } = chat.last;
  if (entry.type === 'message') return entry.message.sentAt;
  return entry.type === 'event' ? entry.event.at : entry.update.at;
}

export type DeviceAdded = { deviceId: string; name: string; platform: string; withPin: boolean; history: boolean; at: number };

export class AccountDevices {
  constructor(private readonly core: MailboxCore) {}

  /**
   * A device was created by a login. The account's devices get a `device_added` entry; the new
   * device starts right after it (it is owed every later entry, live or on its first connect,
   * whatever the other devices acknowledged: the start is no acknowledgement), and without
   * `history` it reads nothing at or below that point. A repeated call (a retried login step)
   * changes nothing.
   */
  deviceAdded(input: DeviceAdded): void {
    const { core } = this;
    if (core.starts.of(input.deviceId) !== null) return;
    const { deviceId, name, platform, withPin } = input;
    const entry = core.store.append({ type: 'account_event', event: { kind: 'device_added', deviceId, name, platform, withPin }, at: input.at }, Date.now());
    core.starts.record(deviceId, { start: entry.seq, floor: input.history ? 0 : entry.seq }, input.at);
    core.publish([entry]);
  }

  /** An event of the account (PIN set or changed, a reset requested) for every device. */
  accountEvent(event: AccountEvent): void {
    this.core.appendAndPublish({ type: 'account_event', event, at: Date.now() });
  }

  /**
   * A device logged out or was revoked: close its socket, forget its cursor, start and floor,
   * and tell the remaining devices (`device_removed`; the removed device is closed first, so it
   * is not sent the entry). Only for a device this mailbox knows (registered or connected): a
   * repeated call tells nobody twice, and a device from before registrations that never
   * connected was never announced either.
   */
  revokeDevice(deviceId: string): void {
    const { core } = this;
    const known = core.cursors.of(deviceId) !== null || core.starts.of(deviceId) !== null;
    core.connections.closeDevice(deviceId, CLOSE_CODES.device_revoked, 'device revoked', { forget: true });
    core.cursors.forget(deviceId);
    core.starts.forget(deviceId);
    if (known) core.appendAndPublish({ type: 'account_event', event: { kind: 'device_removed', deviceId }, at: Date.now() });
  }

  // ------------------------------------------------------------------ what a device may read

  /**
   * The chat list (1:1 and groups), most recent first; for `deviceId`, only chats with something
   * above its floor. Chats copied into the mailbox are paged by the seq of their newest entry;
   * large groups (read diffusion: their newest entries are not here) are all on the first page,
   * placed by the time of their newest entry.
   */
  async conversations(before: number | undefined, limit: number, deviceId?: string): Promise<ConversationList> {
    const { core } = this;
    const floor = core.starts.floorOf(deviceId);
    const direct = core.store.chats.conversations(before, limit, floor);
    const groups = core.groupInbox.chatList(before, limit, floor);
    const merged = [...direct.items, ...groups.items].sort((a, b) => b.last.seq - a.last.seq);
    const page: Conversation[] = merged.slice(0, limit);
    const more = merged.length > limit || direct.nextBefore !== null || groups.nextBefore !== null;
    const nextBefore = more && page.length > 0 ? page[page.length - 1]!.last.seq : null;
    const large = before === undefined ? core.groupInbox.largeChats(floor) : [];
    if (large.length === 0) return { conversations: page, nextBefore };
    const notBefore = deviceId === undefined ? 0 : core.starts.historySince(deviceId);
    for (const found of await core.largeGroups.conversations(large, notBefore)) {
      const chat = found.last.seq === null ? { ...found, last: core.largeMarks.overlay(found.group, [found.last], false)[0]! } : found;
      const at = lastAt(chat);
      const i = page.findIndex((c) => lastAt(c) < at);
      page.splice(i === -1 ? page.length : i, 0, chat);
    }
    return { conversations: page, nextBefore };
  }

  /** A page of the conversation with `peer`, newest first (above `deviceId`'s floor), from whichever tiers hold it. */
  async history(peer: string, before: number | undefined, limit: number, deviceId?: string): Promise<HistoryPage> {
    const { core } = this;
    const floor = core.starts.floorOf(deviceId);
    const hot = core.store.history(peer, before, limit, floor);
    const { items, nextBefore } = await mergedPage(core.history, `d:${peer}`, hot, { before, floor, limit }, directItem);
    return { messages: items, nextBefore };
  }

  /**
   * Starred messages (1:1 and groups), newest first, below `before`; above `deviceId`'s floor (a
   * device logged in without history does not see older messages through its stars either).
   */
  async starred(before: number | undefined, limit: number, deviceId?: string): Promise<StarredPage> {
    const { core } = this;
    const floor = core.starts.floorOf(deviceId);
    const direct: StarredItem[] = core.copies
      .starred(before, limit + 1)
      .map((r) => ({ seq: r.seq, chat: { kind: 'direct', peer: r.peer }, message: r.message }));
    const groups: StarredItem[] = core.groupInbox.copies.starred(before, limit + 1);
    const large = await this.#largeStarred(core.largeMarks.starred(before, limit + 1));
    const merged = [...direct, ...groups, ...large].filter((item) => item.seq > floor).sort((a, b) => b.seq - a.seq);
    const page = merged.slice(0, limit);
    return { messages: page, nextBefore: merged.length > limit ? page[page.length - 1]!.seq : null };
  }

  /**
   * Starred messages of large groups (marks here, content in the groups' logs): as they are now,
   * left out when deleted for everyone or no longer visible. A group that does not answer leaves
   * its stars out of this page.
   */
  async #largeStarred(marks: ReadonlyArray<{ seq: number; group: string; messageId: string }>): Promise<StarredItem[]> {
    if (marks.length === 0) return [];
    const { core } = this;
    const byGroup = new Map<string, string[]>();
    for (const m of marks) byGroup.set(m.group, [...(byGroup.get(m.group) ?? []), m.messageId]);
    const found = new Map<string, GroupMessage>();
    await Promise.all(
      [...byGroup].map(async ([group, ids]) => {
        try {
          for (const message of await core.group(group).visibleMessages(core.self(), ids)) found.set(message.id, message);
        } catch (error) {
          console.error('large group starred messages failed', error);
        }
      }),
    );
    return marks.flatMap((m) => {
      const message = found.get(m.messageId);
      if (!message || message.body.kind === 'deleted') return [];
      return [{ seq: m.seq, chat: { kind: 'group' as const, group: m.group }, message: { ...message, starred: true as const } }];
    });
  }

  /**
   * A page of `group` as this user may read it, newest first (above `deviceId`'s floor); null
   * for a group they never received. A large group is read from its log above the switch (its
   * items have no mailbox seq; `beforeGseq` and `nextBeforeGseq` page it), then from this
   * mailbox below (`before`, `nextBefore`); one page may hold the end of one and the start of the other.
   */
  async groupHistory(group: string, query: GroupHistoryQuery, deviceId?: string): Promise<GroupHistoryPage | null> {
    const { core } = this;
    if (!core.groupInbox.knows(group)) return null;
    const floor = core.starts.floorOf(deviceId);
    const copied = async (before: number | undefined, limit: number) => {
      const hot = core.groupInbox.history(group, before, limit, floor);
      return mergedPage(core.history, `g:${group}`, hot, { before, floor, limit }, groupItem);
    };
    const from = core.groupInbox.largeFrom(group);
    if (from === null || query.before !== undefined) {
      const { items, nextBefore } = await copied(query.before, query.limit);
      return { entries: items, nextBefore };
    }
    const readGseq = core.groupInbox.readGseq(group);
    const notBefore = deviceId === undefined ? 0 : core.starts.historySince(deviceId);
    let log: Awaited<ReturnType<typeof core.largeGroups.history>>;
    try {
      log = await core.largeGroups.history({ group, from, readGseq }, query.beforeGseq ?? Number.MAX_SAFE_INTEGER, query.limit, notBefore);
    } catch (error) {
      if (error instanceof FrameError && error.code === 'not_group_member') return null;
      throw error;
    }
    // Messages this user deleted for themselves are left out, as for copies; starred ones say so.
    const shown = core.largeMarks.overlay(group, log.items, true);
    const page = await logThenCopies({ shown, read: log.items.length, nextBefore: log.nextBefore }, query.limit, core.store.head, (rest) => copied(undefined, rest));
    return { entries: page.items, nextBefore: page.nextBefore, nextBeforeGseq: page.nextBeforeGseq };
  }

  /** Search this user's history as `deviceId` may see it (every tier; see history-pages.ts). */
  async search(query: SearchQuery, deviceId?: string): Promise<SearchPage> {
    const { core } = this;
    core.store.indexForSearch();
    const copies = (q: SearchQuery) => searchHistory(core.ctx.storage.sql, core.history, core.self(), q, core.starts.floorOf(deviceId));
    const notBefore = deviceId === undefined ? 0 : core.starts.historySince(deviceId);
    const large = core.largeGroups.list().filter((g) => query.peer === undefined && (query.group === undefined || g.group === query.group));
    if (query.before !== undefined || large.length === 0) return copies(query);
    // Hits in a large group's log that this user deleted for themselves are left out.
    const visible = (group: string, hits: SearchHit[]) => hits.filter((h) => !core.largeMarks.hidden(group, h.messageId));
    if (query.group !== undefined) {
      // One large group: its log part, paged by gseq, then the part copied here (as history is).
      const log = await core.largeGroups.search(query.group, query, query.beforeGseq ?? Number.MAX_SAFE_INTEGER, notBefore);
      const shown = visible(query.group, log.hits);
      const page = await logThenCopies({ shown, read: log.hits.length, nextBefore: log.nextBefore }, query.limit, core.store.head, async (rest) => {
        const copied = await copies({ ...query, limit: rest });
        return { items: copied.hits, nextBefore: copied.nextBefore };
      });
      return { hits: page.items, nextBefore: page.nextBefore, nextBeforeGseq: page.nextBeforeGseq };
    }
    // Everything: the first page also holds each large group's newest hits, placed by time.
    const [page, ...logs] = await Promise.all([
      copies(query),
      ...large.map(({ group }) =>
        core.largeGroups.search(group, query, Number.MAX_SAFE_INTEGER, notBefore).then(
          (found) => visible(group, found.hits),
          (error: unknown) => {
            console.error('large group search failed', error);
            return [];
          },
        ),
      ),
    ]);
    const hits = [...page.hits, ...logs.flat()].sort((a, b) => b.at - a.at);
    return { hits, nextBefore: page.nextBefore };
  }
}

/**
 * One page of a large group, newest first: its log part (`shown` of the `read` items the group
 * answered; `nextBefore` a gseq while the log part goes on), then, once that ends, the part copied
 * into this mailbox before the switch (paged by mailbox seq). A page may hold the end of one and
 * the start of the other; a full page that ends the log part points the next one at the top of
 * the copied part (`head + 1`; it may be empty).
 */
async function logThenCopies<T>(
  log: { shown: T[]; read: number; nextBefore: number | null },
  limit: number,
  head: number,
  copied: (limit: number) => Promise<{ items: T[]; nextBefore: number | null }>,
): Promise<{ items: T[]; nextBefore: number | null; nextBeforeGseq: number | null }> {
  if (log.nextBefore !== null) return { items: log.shown, nextBefore: null, nextBeforeGseq: log.nextBefore };
  const rest = limit - log.read;
  if (rest === 0) return { items: log.shown, nextBefore: head + 1, nextBeforeGseq: null };
  const more = await copied(rest);
  return { items: [...log.shown, ...more.items], nextBefore: more.nextBefore, nextBeforeGseq: null };
}
