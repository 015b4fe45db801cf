/**
 * `search <words...>`: find messages in your own chats (every tier of your history) by words,
 * newest first, with the matched words emphasized; `--more` pages on through the last search.
 */
import { MessengerError } from '../../client/index.ts';
import type { MessengerApi, SearchHit, SearchKind } from '../../client/index.ts';
import { RATE_LIMITS, SEARCH_DEFAULT_LIMIT, SEARCH_MAX_LIMIT, SEARCH_MAX_TERMS, SEARCH_QUERY_MAX } from '../../protocol/index.ts';
import type { CommandContext, CommandSpec } from '../context.ts';
import { GroupTitles } from '../describe.ts';
import { CliError, EXIT, usageError } from '../errors.ts';
import { formatTime, formatWait } from '../format.ts';
import { chatName, resolveChat } from '../resolve-chat.ts';
import type { ChatTarget } from '../resolve-chat.ts';
import { Directory, resolvePeer } from '../resolve.ts';
import { KIND_WORDS, LastSearchStore, emphasize, filtersOf, parseKind, parseWhen, sameSearch } from '../search-query.ts';
import type { SearchFilters } from '../search-query.ts';
import { sessionApi } from '../session.ts';

/** The options that narrow a search (all but --limit and --more). */
const FILTER_OPTIONS = ['chat', 'from', 'kind', 'since', 'until'] as const;

/** How a hit's kind is shown before its snippet (text needs nothing). */
const KIND_LABELS: Readonly<Record<Exclude<SearchKind, 'text'>, string>> = {
  image: 'photo',
  video: 'video',
  voice: 'voice message',
  document: 'file',
  sticker: 'sticker',
  location: 'location',
  contact: 'contact',
};

/** Searches a user may make per minute (the `search_user` bucket). */
const SEARCHES_PER_MINUTE = RATE_LIMITS.search_user.burst;

/** Words people type for themselves in `--from`. */
const ME = new Set(['me', 'you', 'myself']);

/** The words of the command line as one query, checked as the server would (with friendlier lines). */
function queryText(words: readonly string[]): string {
  const q = words.join(' ').trim().replace(/\s+/g, ' ');
  if (q === '') throw usageError('Type something to search for, e.g. `messenger search dinner` (see `messenger search --help`)');
  if (q.length > SEARCH_QUERY_MAX) throw usageError(`A search is at most ${SEARCH_QUERY_MAX} characters (this one has ${q.length})`);
  const count = q.split(' ').length;
  if (count > SEARCH_MAX_TERMS) throw usageError(`A search is at most ${SEARCH_MAX_TERMS} words (this one has ${count}); leave out the common ones`);
  return q;
}

/** `--chat`: a chat as `messenger chats` names it; `@name` means the person, never a group. */
async function chatOption(api: MessengerApi, directory: Directory, input: string): Promise<ChatTarget> {
  const text = input.trim();
  if (text.startsWith('@')) return { kind: 'direct', peer: await resolvePeer(api, directory, text.slice(1)) };
  return resolveChat(api, directory, text);
}

/** The search the command line asks for, and how to call it in lines (`"meet" in Climbing from Ann`). */
async function askedSearch(ctx: CommandContext, api: MessengerApi, directory: Directory, me: string): Promise<{ filters: SearchFilters; label: string }> {
  const q = queryText(ctx.args.positionals);
  const parts = [JSON.stringify(q)];
  const request: SearchFilters = { q };
  const chat = ctx.args.string('chat');
  if (chat !== undefined) {
    const target = await chatOption(api, directory, chat);
    if (target.kind === 'direct') request.peer = target.peer.userId;
    else request.group = target.group.groupId;
    parts.push(`in ${chatName(target)}`);
  }
  const from = ctx.args.string('from');
  if (from !== undefined) {
    const self = ME.has(from.trim().toLowerCase());
    request.from = self ? me : (await resolvePeer(api, directory, from)).userId;
    parts.push(`from ${self ? 'you' : await directory.name(request.from)}`);
  }
  const kind = ctx.args.string('kind');
  if (kind !== undefined) {
    const only = parseKind(kind);
    request.kind = only;
    parts.push(`(${only === 'text' ? 'text' : KIND_LABELS[only]}s only)`);
  }
  const now = Date.now();
  const since = ctx.args.string('since');
  if (since !== undefined) request.since = parseWhen(since, 'since', now);
  const until = ctx.args.string('until');
  if (until !== undefined) request.until = parseWhen(until, 'until', now);
  if (request.since !== undefined && request.until !== undefined && request.since >= request.until) {
    throw usageError('--since must be before --until');
  }
  return { filters: filtersOf(request), label: parts.join(' ') };
}

/** A hit with the names it is shown with (what --json prints). */
type NamedHit = SearchHit & { chatName: string; fromName: string };

async function named(hits: readonly SearchHit[], directory: Directory, groups: GroupTitles, me: string): Promise<NamedHit[]> {
  return Promise.all(
    hits.map(async (hit) => {
      const [chat, from] = await Promise.all([
        hit.chat.kind === 'direct' ? directory.name(hit.chat.peer) : groups.title(hit.chat.group),
        hit.from === me ? Promise.resolve('You') : directory.name(hit.from),
      ]);
      return { ...hit, chatName: chat, fromName: from };
    }),
  );
}

/** `[14:05] Climbing › Ann: we could [meet] at 8 (id 01J…)`, `… › Cy: (photo) [meeting] point (id 01J…)`. */
function hitLine(ctx: CommandContext, hit: NamedHit, me: string): string {
  const { style } = ctx.out;
  const who = hit.from === me ? style.green(hit.fromName) : style.cyan(hit.fromName);
  // In parentheses: [brackets] mark the matched words when there are no colours.
  const kind = hit.kind === 'text' ? '' : `${style.dim(`(${KIND_LABELS[hit.kind]})`)} `;
  const text = emphasize(hit.snippet, hit.highlights, style);
  return `${style.dim(`[${formatTime(hit.at)}]`)} ${style.bold(hit.chatName)} › ${who}: ${kind}${text} ${style.dim(`(id ${hit.messageId})`)}`;
}

export const search: CommandSpec = {
  name: 'search',
  args: '<words...>',
  summary: 'find messages in your chats by words, newest first',
  details: [
    'Finds messages that contain every word, each as the start of a word ("meet" finds',
    '"meeting"), ignoring case and accents; captions, file names, places and contact names count.',
    'Only your own history: your 1:1 chats and the part of each group you were a member for;',
    'deleted messages and end-to-end encrypted ones are never found.',
    'Each line shows the time, the chat, who wrote it, the matching part (the words in [brackets],',
    'or bold on a terminal) and the message id, which `reply`, `react`, `star`, `forward`, `edit`',
    'and `delete` take with the chat: `messenger react <chat> <id> 👍`.',
    '--since and --until take 2025-03-01 (a whole day for --until), "2025-03-01 14:05", today,',
    `yesterday, or a while ago: 12h, 3d, 2w. At most ${SEARCHES_PER_MINUTE} searches a minute.`,
  ],
  options: {
    chat: { type: 'string', valueName: 'CHAT', description: 'only this chat: a person (name, phone number, user id; @name: the person, not a group) or a group' },
    from: { type: 'string', valueName: 'WHO', description: 'only messages this person sent ("me" for yours)' },
    kind: { type: 'string', valueName: 'KIND', description: `only this kind of message: ${KIND_WORDS}` },
    since: { type: 'string', valueName: 'WHEN', description: 'only messages sent at or after this time' },
    until: { type: 'string', valueName: 'WHEN', description: 'only messages sent before this time' },
    limit: { type: 'string', valueName: 'N', description: `how many (1-${SEARCH_MAX_LIMIT}, default ${SEARCH_DEFAULT_LIMIT})` },
    more: { type: 'boolean', description: 'the next (older) results of your last search' },
  },
  minArgs: 0,
  maxArgs: Number.POSITIVE_INFINITY,
  examples: [
    'messenger search dinner',
    'messenger search meet friday --chat Climbing',
    'messenger search invoice --kind file --from Ann --since 2025-01-01',
    'messenger search --more',
  ],
  json: '{"hits": [{"seq" (null in a large group\'s log, with "gseq"), "chat": {"kind","peer"|"group"}, "messageId", "from", "at", "kind", "snippet", "highlights": [[start, end]], "chatName", "fromName"}], "nextBefore": seq|null, "nextBeforeGseq"?: gseq}',
  async run(ctx) {
    const limit = ctx.args.integer('limit', { min: 1, max: SEARCH_MAX_LIMIT }, SEARCH_DEFAULT_LIMIT)!;
    const { api, session } = sessionApi(ctx);
    const me = session.userId;
    const directory = new Directory(api, me);
    const store = new LastSearchStore(ctx.config.deviceDir(session.deviceId));
    let asked: { filters: SearchFilters; label: string };
    let cursor: { before: number } | { beforeGseq: number } | undefined;
    if (ctx.args.flag('more')) {
      const last = store.get();
      if (last === undefined) throw usageError('There is no search to continue: run `messenger search <words...>` first');
      const restated = ctx.args.positionals.length > 0 || FILTER_OPTIONS.some((name) => ctx.args.string(name) !== undefined);
      if (restated && !sameSearch((await askedSearch(ctx, api, directory, me)).filters, last.request)) {
        throw usageError(`--more continues your last search (${last.label}); run this one without --more first`);
      }
      if (last.nextBefore === null && last.nextBeforeGseq == null) {
        ctx.out.result({ hits: [], nextBefore: null }, () => `No more messages found for ${last.label}`);
        return;
      }
      asked = { filters: last.request, label: last.label };
      cursor = last.nextBeforeGseq != null ? { beforeGseq: last.nextBeforeGseq } : { before: last.nextBefore! };
    } else {
      asked = await askedSearch(ctx, api, directory, me);
    }
    let page;
    try {
      page = await api.search({ ...asked.filters, limit, ...cursor }, ctx.signal);
    } catch (error) {
      if (error instanceof MessengerError && error.code === 'rate_limited') {
        const wait = error.retryAfterMs === undefined ? 'wait a moment and try again' : `try again in ${formatWait(error.retryAfterMs)}`;
        throw new CliError('rate_limited', `Too many searches (at most ${SEARCHES_PER_MINUTE} a minute); ${wait}`, EXIT.unavailable, { cause: error });
      }
      throw error;
    }
    const nextBeforeGseq = page.nextBeforeGseq ?? null;
    store.set({ request: asked.filters, label: asked.label, nextBefore: page.nextBefore, nextBeforeGseq });
    const hits = await named(page.hits, directory, new GroupTitles(api), me);
    ctx.out.result({ hits, nextBefore: page.nextBefore, ...(nextBeforeGseq === null ? {} : { nextBeforeGseq }) }, () => {
      if (hits.length === 0) return cursor === undefined ? `No messages found for ${asked.label}` : `No more messages found for ${asked.label}`;
      const lines = hits.map((hit) => hitLine(ctx, hit, me));
      if (page.nextBefore !== null || nextBeforeGseq !== null) lines.push(ctx.out.style.dim('(older: messenger search --more)'));
      return lines;
    });
  },
};
