/**
 * 1:1 messaging commands: send and chats (the chat list), and the sending machinery `groups send`
 * and the message actions share (`history` is in history.ts).
 */
import { join } from 'node:path';
import { generateClientId } from '../../client/index.ts';
import type { Conversation, MessengerApi, MessengerClient, MessengerError, OutboxRecord } from '../../client/index.ts';
import { ClientIdSchema, HISTORY_MAX_LIMIT, MAX_TEXT_LENGTH } from '../../protocol/index.ts';
import type { CommandContext, CommandSpec } from '../context.ts';
import { CliError, EXIT, isUnreachable, usageError } from '../errors.ts';
import { bodyText, changeMembers, describeChange, formatTime, formatWait, plural, tickText } from '../format.ts';
import { FILE_DETAILS, FILE_OPTIONS } from '../media.ts';
import { Directory, allGroups, looksLikeId, looksLikePhone, pastGroupTitle, peerHandle, resolvePeer } from '../resolve.ts';
import type { PeerCandidate } from '../resolve.ts';
import { assertNotSelf, connect, currentSession, keepConnected, sessionApi, whileConnected } from '../session.ts';
import type { Connected } from '../session.ts';
import { DirectoryOutboxStore } from '../stores.ts';
import { prepareFile, sendFile } from './media.ts';

export const SEND_TIMEOUT_MS = 15_000;
/** How long a send also waits for messages queued by earlier runs, once its own is confirmed. */
const EARLIER_WAIT_MS = 2_000;

/** Read all of stdin (for `send <peer> -`). */
async function readStdin(ctx: CommandContext): Promise<string> {
  const chunks: string[] = [];
  ctx.stdin.setEncoding('utf8');
  for await (const chunk of ctx.stdin) chunks.push(String(chunk));
  return chunks.join('').replace(/\r?\n$/, '');
}

/** The message text from the arguments after the recipient (`-` reads stdin). */
export async function messageText(ctx: CommandContext, words: readonly string[]): Promise<string> {
  const text = words.length === 1 && words[0] === '-' ? await readStdin(ctx) : words.join(' ');
  if (text.trim() === '') throw usageError('The message is empty');
  if (text.length > MAX_TEXT_LENGTH) throw usageError(`The message is too long (${text.length} characters; at most ${MAX_TEXT_LENGTH})`);
  return text;
}

/** "Missing arguments; usage: …" for a send without text or --file (as for too few arguments). */
export function missingText(command: string, args: string): CliError {
  return usageError(`Missing arguments; usage: messenger ${command} ${args} (see \`messenger ${command} --help\`)`);
}

/** The error for a send the server did not confirm in time (it stays queued). */
export function notConfirmed(timeoutMs: number, what = 'the message'): CliError {
  return new CliError(
    'not_confirmed',
    `Not confirmed by the server within ${Math.round(timeoutMs / 1000)} s; ${what} stays in the outbox and is sent the next time messenger connects (see \`messenger outbox\`)`,
    EXIT.unavailable,
  );
}

/**
 * The error for a send the server refused for now (`rate_limited`, or busy) for longer than the
 * command waits. The message stays in the outbox (the SDK never drops it).
 */
export function delayedTooLong(error: MessengerError, retryAt: number, what = 'the message'): CliError {
  const why = error.code === 'rate_limited' ? 'Rate limited: the server takes more messages' : 'The server is busy: it takes messages again';
  return new CliError(
    error.code === 'rate_limited' ? 'rate_limited' : 'unavailable',
    `${why} in ${formatWait(retryAt - Date.now())}; ${what} stays in the outbox and is sent the next time messenger connects (or run \`messenger outbox send\` then)`,
    EXIT.unavailable,
  );
}

/** The --id of a send, checked (the outbox keeps only valid ids). */
export function clientIdOption(ctx: CommandContext): string | undefined {
  const id = ctx.args.string('id');
  if (id !== undefined && !ClientIdSchema.safeParse(id).success) throw usageError('--id must be 1-64 letters, digits, _ or -');
  return id;
}

/** Connect for a text send, keeping the message in the outbox when the server cannot be reached (see connectOrKeep). */
export function connectOrQueue(
  ctx: CommandContext,
  target: { to: string; group?: undefined } | { group: string; to?: undefined },
  text: string,
  clientId: string | undefined,
  name: string,
): Promise<Connected> {
  const body = { kind: 'text' as const, text };
  const id = clientId ?? generateClientId();
  const createdAt = Date.now();
  const record: OutboxRecord =
    target.group !== undefined ? { clientId: id, group: target.group, body, createdAt } : { clientId: id, to: target.to, body, createdAt };
  return connectOrKeep(ctx, record, `your message to ${name}`);
}

/**
 * Connect for a send or an action; when the server cannot be reached, keep `record` in the outbox
 * instead (the next command that connects sends it, with the same id so never twice) and fail with
 * exit code 6 saying so: "Cannot reach the server …; your message to Ann is kept in the outbox …".
 */
export async function connectOrKeep(ctx: CommandContext, record: OutboxRecord, what: string): Promise<Connected> {
  try {
    return await connect(ctx);
  } catch (error) {
    if (!isUnreachable(error)) throw error;
    const session = currentSession(ctx);
    const store = new DirectoryOutboxStore(join(ctx.config.deviceDir(session.deviceId), 'outbox'));
    const records = store.load();
    if (!records.some((entry) => entry.clientId === record.clientId)) store.save([...records, record]);
    throw new CliError(
      'queued',
      `Cannot reach the server at ${ctx.server}; ${what} is kept in the outbox and will be sent the next time messenger connects (see \`messenger outbox\`)`,
      EXIT.unavailable,
      { cause: error },
    );
  }
}

/**
 * Send through the outbox and wait for the server's ack. Messages left in the outbox by earlier
 * runs go first (same ids, so never twice); they are waited for briefly too and reported. A
 * rate limit pauses every send: a short pause is waited out, a longer one than --timeout ends
 * the command at once with the wait in words (the message stays queued).
 */
export async function sendAndConfirm<A>(
  ctx: CommandContext,
  client: MessengerClient,
  send: (client: MessengerClient) => { clientId: string; sent: Promise<A> },
  what = 'the message',
): Promise<A> {
  const promisesOf = (records: ReadonlyArray<{ clientId: string }>): Array<Promise<unknown>> => records.flatMap((r) => client.outbox.promise(r.clientId) ?? []);
  const earlier = promisesOf(client.pending());
  const earlierActions = promisesOf(client.pendingActions());
  const stopKeeping = keepConnected(client, { delayMs: 200, maxDelayMs: 1_000 });
  let offDelayed = (): void => undefined;
  try {
    const timeoutMs = ctx.args.seconds('timeout', SEND_TIMEOUT_MS)!;
    const deadline = Date.now() + timeoutMs;
    const delayedPastDeadline = new Promise<never>((_, reject) => {
      // Sends and message actions share the outbox: a pause of either holds both.
      const onDelayed = ({ retryAt, error }: { retryAt: number; error: MessengerError }): void => {
        if (retryAt >= deadline) reject(delayedTooLong(error, retryAt, what));
        else ctx.out.progress(`${error.code === 'rate_limited' ? 'Rate limited' : 'Server busy'}: sending again in ${formatWait(retryAt - Date.now())}…`);
      };
      const offs = [client.on('send_delayed', onDelayed), client.on('action_delayed', onDelayed)];
      offDelayed = () => offs.forEach((off) => off());
    });
    delayedPastDeadline.catch(() => undefined);
    const { sent } = send(client);
    const ack = await whileConnected(client, Promise.race([sent, delayedPastDeadline]), timeoutMs, () => notConfirmed(timeoutMs, what));
    const confirmed = async (promises: Array<Promise<unknown>>): Promise<number> => {
      const settled = await Promise.allSettled(promises.map((p) => whileConnected(client, p, EARLIER_WAIT_MS, () => new Error('not confirmed'))));
      return settled.filter((s) => s.status === 'fulfilled').length;
    };
    const [alsoSent, alsoDone] = await Promise.all([confirmed(earlier), confirmed(earlierActions)]);
    const also = [...(alsoSent > 0 ? [plural(alsoSent, 'queued message')] : []), ...(alsoDone > 0 ? [plural(alsoDone, 'queued action')] : [])];
    if (also.length > 0) ctx.out.note(`Also sent ${also.join(' and ')} from earlier`);
    return ack;
  } finally {
    offDelayed();
    stopKeeping();
  }
}

export const send: CommandSpec = {
  name: 'send',
  args: '<peer> <text...>',
  summary: 'send a message and wait until the server stored it (one tick)',
  details: [
    '<peer> is a phone number, a user id, or a name as `messenger chats` shows it (a contact or',
    'someone you chat with).',
    'The words after it are the message; `-` reads the message from stdin.',
    'Exits 0 once the server has stored the message. If it cannot confirm in time, or cannot be',
    'reached at all, the message stays in the outbox and is sent the next time messenger connects',
    '(exit code 6). Offline, <peer> is looked up among the names this device has seen.',
    ...FILE_DETAILS,
  ],
  options: {
    timeout: { type: 'string', valueName: 'SECONDS', description: 'how long to wait for the server (default 15)' },
    id: { type: 'string', valueName: 'ID', description: 'client message id, so a retried send is stored only once' },
    ...FILE_OPTIONS,
  },
  // One with --file; checked in run so the usage line stays that of a text message.
  minArgs: 1,
  maxArgs: Infinity,
  examples: [
    'messenger send +4915112345678 hello there',
    'messenger send Bob "see you at 8"',
    'echo "build done" | messenger send Bob -',
    'messenger send Bob --file holiday.jpg --caption "the view from the hut"',
  ],
  json: '{"messageId","clientId","to","sentAt","duplicate"} and with --file also {"mediaId","kind","mime","size","deduplicated"}',
  async run(ctx) {
    const [who, ...words] = ctx.args.positionals;
    const file = await prepareFile(ctx, words);
    if (file === null && words.length === 0) throw missingText('send', '<peer> <text...>');
    const text = file === null ? await messageText(ctx, words) : '';
    const { api, session } = sessionApi(ctx);
    const peer = await resolvePeer(api, new Directory(api, session.userId), who!);
    assertNotSelf(ctx, peer.userId, 'send messages to');
    if (file !== null) {
      const { ack, sentFile, text: what } = await sendFile(ctx, file, (c, body, clientId) => c.send(peer.userId, body, clientId === undefined ? {} : { clientId }));
      ctx.out.result({ messageId: ack.messageId, clientId: ack.id, to: ack.to, sentAt: ack.sentAt, duplicate: ack.duplicate, ...sentFile }, () =>
        `Sent ${what} to ${peer.name} ${tickText('sent', ctx.out.style)}${ack.duplicate ? ' (it had been sent before)' : ''} ${ctx.out.style.dim(`(media ${sentFile.mediaId})`)}`,
      );
      return;
    }
    const clientId = clientIdOption(ctx);
    const { client } = await connectOrQueue(ctx, { to: peer.userId }, text, clientId, peer.name);
    const ack = await sendAndConfirm(ctx, client, (c) => c.sendText(peer.userId, text, clientId === undefined ? {} : { clientId }));
    ctx.out.result({ messageId: ack.messageId, clientId: ack.id, to: ack.to, sentAt: ack.sentAt, duplicate: ack.duplicate }, () =>
      `Sent to ${peer.name} ${tickText('sent', ctx.out.style)}${ack.duplicate ? ' (it had been sent before)' : ''}`,
    );
  },
};

export const PAGE_OPTIONS = {
  limit: { type: 'string', valueName: 'N', description: `how many (1-${HISTORY_MAX_LIMIT}, default 20)` },
  before: { type: 'string', valueName: 'SEQ', description: 'only older than this mailbox seq (the "nextBefore" of the previous page)' },
} as const;

/** `{limit, before}` from --limit and --before. */
export function pageOptions(ctx: CommandContext): { limit: number; before?: number } {
  const limit = ctx.args.integer('limit', { min: 1, max: HISTORY_MAX_LIMIT }, 20)!;
  const before = ctx.args.integer('before', { min: 1, max: Number.MAX_SAFE_INTEGER });
  return before === undefined ? { limit } : { limit, before };
}

/** The title of a chat list entry: the peer's name or the group's title (the last one seen for a group you left). */
async function conversationTitle(api: MessengerApi, conversation: Conversation, directory: Directory, groupTitles: Map<string, string>): Promise<string> {
  if (conversation.kind === 'direct') return directory.name(conversation.peer);
  return groupTitles.get(conversation.group) ?? (await pastGroupTitle(api, conversation.group)) ?? `group ${conversation.group.slice(-6)}`;
}

/**
 * What to type to open a chat list entry: for a 1:1 chat what `chat`, `send` and `history`
 * accept (the name when it means this person alone, else the number or user id); for a group
 * what `groups chat` accepts (the title when unique among your groups, else the id).
 */
function conversationHandle(conversation: Conversation, title: string, people: readonly PeerCandidate[], groupTitles: Map<string, string>): string {
  if (conversation.kind === 'direct') return peerHandle(people, conversation.peer, title);
  const mine = groupTitles.get(conversation.group);
  if (mine === undefined || looksLikeId(mine) || looksLikePhone(mine)) return conversation.group;
  const same = [...groupTitles.values()].filter((t) => t.trim().toLocaleLowerCase() === mine.trim().toLocaleLowerCase());
  return same.length === 1 ? mine : conversation.group;
}

/** "Ann: hi", or "Ann added Bob" for a group system message. */
async function conversationPreview(conversation: Conversation, directory: Directory): Promise<{ at: number; text: string }> {
  if (conversation.kind === 'direct') {
    const { message } = conversation.last;
    return { at: message.sentAt, text: `${await directory.name(message.from)}: ${bodyText(message.body)}` };
  }
  const { entry } = conversation.last;
  if (entry.type === 'message') {
    return { at: entry.message.sentAt, text: `${await directory.name(entry.message.from)}: ${bodyText(entry.message.body)}` };
  }
  if (entry.type === 'update') {
    const { message } = entry.update;
    return { at: entry.update.at, text: `${await directory.name(message.from)}: ${bodyText(message.body)}` };
  }
  const { event } = entry;
  await directory.names(changeMembers(event.change));
  const who = await directory.name(event.by);
  return { at: event.at, text: `${who} ${describeChange(event.change, (id) => directory.cachedName(id))}` };
}

async function groupTitles(api: MessengerApi): Promise<Map<string, string>> {
  const groups = await allGroups(api);
  return new Map(groups.map((g) => [g.groupId, g.title]));
}

export const chats: CommandSpec = {
  name: 'chats',
  args: '',
  summary: 'list your conversations and groups, most recent first, with unread counts',
  options: PAGE_OPTIONS,
  minArgs: 0,
  maxArgs: 0,
  examples: ['messenger chats', 'messenger chats --json'],
  details: [
    'Each chat shows its name; when the name alone does not say who (two people of that name, no',
    'name known, a group you left), what to type for `chat`, `send`, `history` or `groups chat`',
    'follows in parentheses: a phone number, a user id or a group id.',
  ],
  json: '{"conversations": [Conversation & {"title","handle"}], "nextBefore": seq|null} ("handle": what `chat`/`send`/`history` or `groups chat` accept for it; "markedUnread": see `messenger unread`)',
  async run(ctx) {
    const { api, session } = sessionApi(ctx);
    const directory = new Directory(api, session.userId);
    const paging = pageOptions(ctx);
    const [page, titles, people] = await Promise.all([api.conversations(paging), groupTitles(api), directory.candidates()]);
    const rows = await Promise.all(
      page.conversations.map(async (conversation) => {
        const title = await conversationTitle(api, conversation, directory, titles);
        return { conversation, title, handle: conversationHandle(conversation, title, people, titles), preview: await conversationPreview(conversation, directory) };
      }),
    );
    ctx.out.result({ conversations: rows.map((row) => ({ ...row.conversation, title: row.title, handle: row.handle })), nextBefore: page.nextBefore }, () => {
      if (rows.length === 0) return 'No conversations yet';
      const { style } = ctx.out;
      return rows.map(({ conversation, title, handle, preview }) => {
        const left = conversation.kind === 'group' && !titles.has(conversation.group);
        const kind = conversation.kind === 'group' ? style.dim(left ? ' (group, no longer a member)' : ' (group)') : '';
        // The name alone does not say who: show what to type instead.
        const how = handle === title ? '' : ` ${style.dim(`(${handle})`)}`;
        const unread =
          conversation.unread > 0 ? ` ${style.green(`${conversation.unread} unread`)}` : conversation.markedUnread ? ` ${style.green('marked unread')}` : '';
        return `${style.bold(title)}${how}${kind}${unread}  ${style.dim(`[${formatTime(preview.at)}]`)} ${preview.text}`;
      });
    });
  },
};
