/**
 * `history <chat>` (a 1:1 chat or a group) and `groups history <group>`: a page of messages,
 * newest last, with replies, edits, reactions, stars, forwards and tombstones, and with `--ids`
 * the message ids the message actions take.
 */
import type { GroupHistoryItem, GroupHistoryOptions, GroupHistoryPage, HistoryItem, HistoryPage } from '../../client/index.ts';
import type { CommandContext, CommandSpec } from '../context.ts';
import { usageError } from '../errors.ts';
import { changeMembers, describeChange, formatTime, isDeleted, isDeletedForMe, messageLines, tallyText, tickText } from '../format.ts';
import type { AnyMessage } from '../format.ts';
import { groupPageMessages } from '../message-ref.ts';
import { resolveChat } from '../resolve-chat.ts';
import { Directory, resolveGroup } from '../resolve.ts';
import type { GroupRef, PeerRef } from '../resolve.ts';
import { sessionApi } from '../session.ts';
import { PAGE_OPTIONS, pageOptions } from './messages.ts';

const IDS_OPTION = {
  ids: { type: 'boolean', description: "show each message's id (for reply, react, edit, delete, forward, star)" },
} as const;

/** Groups: a large group's log part is paged by gseq before its mailbox part (by seq). */
const GROUP_PAGE_OPTIONS = {
  ...PAGE_OPTIONS,
  'before-gseq': { type: 'string', valueName: 'GSEQ', description: 'a large group: only older than this gseq (the "nextBeforeGseq" of the previous page)' },
} as const;

/** Group paging: --limit, and --before (a mailbox seq) or --before-gseq (a large group's log), not both. */
function groupPageOptions(ctx: CommandContext): GroupHistoryOptions {
  const paging = pageOptions(ctx);
  const beforeGseq = ctx.args.integer('before-gseq', { min: 1, max: Number.MAX_SAFE_INTEGER });
  if (beforeGseq === undefined) return paging;
  if (paging.before !== undefined) throw usageError('give --before or --before-gseq, not both');
  return { ...paging, beforeGseq };
}

const LARGE_GROUP_DETAILS = [
  'A large group (one that grew past the server\'s threshold) is read from the group\'s log first:',
  'page back with --before-gseq while the page names "nextBeforeGseq", then with --before.',
];

const DECORATION_DETAILS = [
  'A reply shows the message it answers on the line before ("↪ Ann: …"); messages show',
  '"(edited)", reactions ("👍 2 ❤️ 1"), ★ when you starred them, "Forwarded", and "This message was',
  'deleted" when deleted for everyone. Messages you deleted for yourself are not shown.',
];

/** One 1:1 history item as lines: the quote of a reply, then the message. */
function directLines(ctx: CommandContext, item: HistoryItem, me: string, peerName: string): string[] {
  const { style } = ctx.out;
  const { message } = item;
  const own = message.from === me;
  const quoteName = message.replyTo === undefined ? undefined : message.replyTo.from === me ? 'You' : peerName;
  return messageLines(message, {
    who: own ? style.green('You') : style.cyan(peerName),
    ...(quoteName === undefined ? {} : { quoteName }),
    ...(own && !isDeleted(message) ? { tick: tickText(item.status, style) } : {}),
    id: ctx.args.flag('ids'),
    style,
  });
}

/** Print a page of the 1:1 chat with `peer`. */
function printDirect(ctx: CommandContext, peer: PeerRef, page: HistoryPage, me: string, input: string): void {
  const messages = page.messages.filter((item) => !isDeletedForMe(item.message));
  ctx.out.result({ peer, messages, nextBefore: page.nextBefore }, () => {
    if (messages.length === 0 && page.nextBefore === null) return `No messages with ${peer.name} yet`;
    const lines = [...messages].reverse().flatMap((item) => directLines(ctx, item, me, peer.name));
    if (page.nextBefore !== null) lines.unshift(ctx.out.style.dim(`(older: messenger history ${input} --before ${page.nextBefore})`));
    return lines;
  });
}

/** One entry of a group's history as lines (`message` is the newest copy of a message entry's message). */
function groupLines(ctx: CommandContext, item: GroupHistoryItem, message: AnyMessage | undefined, me: string, directory: Directory): string[] {
  const { style } = ctx.out;
  const { entry } = item;
  if (entry.type === 'event') {
    const { event } = entry;
    return [style.dim(`[${formatTime(event.at)}] ${directory.cachedName(event.by)} ${describeChange(event.change, (id) => directory.cachedName(id))}`)];
  }
  // Updates change messages shown elsewhere on the page (already applied to `message`).
  if (entry.type !== 'message' || message === undefined || isDeletedForMe(message)) return [];
  const own = message.from === me;
  return messageLines(message, {
    who: own ? style.green('You') : style.cyan(directory.cachedName(message.from)),
    ...(message.replyTo === undefined ? {} : { quoteName: directory.cachedName(message.replyTo.from) }),
    ...(own && item.tally !== null && !isDeleted(message) ? { tick: tallyText(item.tally, style) } : {}),
    id: ctx.args.flag('ids'),
    style,
  });
}

/** The user ids a group history entry mentions (to look their names up first). */
function mentioned(item: GroupHistoryItem): string[] {
  const { entry } = item;
  if (entry.type === 'event') return [entry.event.by, ...changeMembers(entry.event.change)];
  const message = entry.type === 'message' ? entry.message : entry.update.message;
  return message.replyTo === undefined ? [message.from] : [message.from, message.replyTo.from];
}

/** Print a page of `group`'s history. */
async function printGroup(ctx: CommandContext, group: GroupRef, page: GroupHistoryPage, me: string, directory: Directory): Promise<void> {
  const latest = new Map(groupPageMessages(page.entries).map((message) => [message.id, message]));
  const entries = page.entries.filter((item) => item.entry.type !== 'message' || !isDeletedForMe(latest.get(item.entry.message.id) ?? item.entry.message));
  const items = [...entries].reverse();
  if (!ctx.out.json) await directory.names(items.flatMap(mentioned));
  const nextBeforeGseq = page.nextBeforeGseq ?? null;
  ctx.out.result({ group, entries, nextBefore: page.nextBefore, nextBeforeGseq }, () => {
    const lines = items.flatMap((item) => groupLines(ctx, item, item.entry.type === 'message' ? latest.get(item.entry.message.id) : undefined, me, directory));
    // A large group: the log part goes on (by gseq) before the mailbox part (by seq).
    if (nextBeforeGseq !== null) lines.unshift(ctx.out.style.dim(`(older: messenger groups history ${group.groupId} --before-gseq ${nextBeforeGseq})`));
    else if (page.nextBefore !== null) lines.unshift(ctx.out.style.dim(`(older: messenger groups history ${group.groupId} --before ${page.nextBefore})`));
    return lines.length === 0 ? `No messages in "${group.title}"` : lines;
  });
}

export const history: CommandSpec = {
  name: 'history',
  args: '<chat>',
  summary: 'show a conversation or a group (newest last)',
  details: [
    '<chat> is a chat as `messenger chats` shows it: a person (name, phone number or user id) or a',
    'group (title, a unique start of it, or its id; the same as `messenger groups history`).',
    ...DECORATION_DETAILS,
    ...LARGE_GROUP_DETAILS,
  ],
  options: { ...GROUP_PAGE_OPTIONS, ...IDS_OPTION },
  minArgs: 1,
  maxArgs: 1,
  examples: ['messenger history Bob', 'messenger history Bob --ids', 'messenger history +4915112345678 --limit 50', 'messenger history Bob --before 120'],
  json: '{"peer": {"userId","name"}, "messages": [HistoryItem, newest first], "nextBefore": seq|null} (a group: as `groups history`); every message has its "id"',
  async run(ctx) {
    const paging = groupPageOptions(ctx);
    const { api, session } = sessionApi(ctx);
    const directory = new Directory(api, session.userId);
    const input = ctx.args.positionals[0]!;
    const target = await resolveChat(api, directory, input);
    if (target.kind === 'group') {
      await printGroup(ctx, target.group, await api.groupHistory(target.group.groupId, paging), session.userId, directory);
      return;
    }
    if (paging.beforeGseq !== undefined) throw usageError('--before-gseq pages a large group, not a 1:1 chat');
    printDirect(ctx, target.peer, await api.history(target.peer.userId, paging), session.userId, input);
  },
};

export const groupsHistory: CommandSpec = {
  name: 'groups history',
  args: '<group>',
  summary: "a group's messages and system messages (newest last)",
  details: [...DECORATION_DETAILS, ...LARGE_GROUP_DETAILS],
  options: { ...GROUP_PAGE_OPTIONS, ...IDS_OPTION },
  minArgs: 1,
  maxArgs: 1,
  examples: ['messenger groups history Climbing --limit 50', 'messenger groups history Climbing --ids', 'messenger groups history Townhall --before-gseq 812'],
  json:
    '{"group": {"groupId","title"}, "entries": [GroupHistoryItem, newest first; "seq": null for an entry of a large group\'s log, named by its gseq], "nextBefore": seq|null, "nextBeforeGseq": gseq|null (a large group\'s log part goes on: pass it as --before-gseq; then follow "nextBefore")}',
  async run(ctx) {
    const { api, session } = sessionApi(ctx);
    const paging = groupPageOptions(ctx);
    const group = await resolveGroup(api, ctx.args.positionals[0]!);
    await printGroup(ctx, group, await api.groupHistory(group.groupId, paging), session.userId, new Directory(api, session.userId));
  },
};
