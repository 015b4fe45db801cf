/**
 * `starred` (the messages you starred, all chats) and `unread` (mark a chat unread, or clear the
 * mark, on all your devices).
 */
import type { MessengerApi, MessengerClient } from '../../client/index.ts';
import type { ChatRef, StarredItem } from '../../protocol/index.ts';
import type { CommandSpec } from '../context.ts';
import { GroupTitles } from '../describe.ts';
import { CliError, EXIT } from '../errors.ts';
import { formatTime, messageAfter, messageText } from '../format.ts';
import { chatPhrase, chatRefOf, resolveChat } from '../resolve-chat.ts';
import { Directory } from '../resolve.ts';
import { connect, sessionApi, whileConnected } from '../session.ts';
import { sleep } from '../wait.ts';
import { CHAT_ARG_DETAILS } from './actions.ts';
import { SEND_TIMEOUT_MS, pageOptions } from './messages.ts';

/** "Bob", `Climbing` for the chat a starred message is in. */
async function chatTitle(item: StarredItem, directory: Directory, groups: GroupTitles): Promise<string> {
  return item.chat.kind === 'direct' ? directory.name(item.chat.peer) : groups.title(item.chat.group);
}

export const starred: CommandSpec = {
  name: 'starred',
  args: '',
  summary: 'the messages you starred, in every chat, newest first',
  details: ['Each line ends with the message id, for `messenger star <chat> <id> --remove`.'],
  options: {
    limit: { type: 'string', valueName: 'N', description: 'how many (1-200, default 20)' },
    before: { type: 'string', valueName: 'SEQ', description: 'only older than this ("nextBefore" of the previous page)' },
  },
  minArgs: 0,
  maxArgs: 0,
  examples: ['messenger starred', 'messenger starred --json'],
  json: '{"messages": [{"seq", "chat": {"kind","peer"|"group"}, "message"}], "nextBefore": seq|null}',
  async run(ctx) {
    const { api, session } = sessionApi(ctx);
    const page = await api.starred(pageOptions(ctx));
    const directory = new Directory(api, session.userId);
    const groups = new GroupTitles(api);
    const { style } = ctx.out;
    const lines: string[] = [];
    if (!ctx.out.json) {
      for (const item of page.messages) {
        const [title, who] = await Promise.all([chatTitle(item, directory, groups), directory.name(item.message.from)]);
        const whoText = item.message.from === session.userId ? style.green(who) : style.cyan(who);
        const after = messageAfter(item.message, style, { id: true });
        lines.push(`${style.dim(`[${formatTime(item.message.sentAt)}]`)} ${style.bold(title)} › ${whoText}: ${messageText(item.message, style)}${after === '' ? '' : ` ${after}`}`);
      }
      if (page.nextBefore !== null) lines.push(style.dim(`(older: messenger starred --before ${page.nextBefore})`));
    }
    ctx.out.result(page, () => (page.messages.length === 0 ? 'No starred messages (star one: messenger star <chat> <message>)' : lines));
  },
};

/** Whether the chat list has `chat` with the mark `unread` (the server's state, in its newest 200 chats). */
async function marked(api: MessengerApi, chat: ChatRef, unread: boolean): Promise<boolean> {
  const { conversations } = await api.conversations({ limit: 200 });
  const row = conversations.find((c) => (c.kind === 'direct' ? chat.kind === 'direct' && c.peer === chat.peer : chat.kind === 'group' && c.group === chat.group));
  return row !== undefined && row.markedUnread === unread;
}

/**
 * Resolves once the server has the mark: its `chat_marker` entry reached this device, or the chat
 * list shows it (`mark_unread` has no answer of its own).
 */
function markStored(client: MessengerClient, chat: ChatRef, unread: boolean, stop: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = false;
    stop.addEventListener('abort', () => {
      done = true;
      off();
    });
    const finish = (): void => {
      done = true;
      off();
      resolve();
    };
    const off = client.on('chat_marker', (frame) => {
      const same = frame.chat.kind === 'direct' ? chat.kind === 'direct' && frame.chat.peer === chat.peer : chat.kind === 'group' && frame.chat.group === chat.group;
      if (same && frame.unread === unread) finish();
    });
    void (async () => {
      try {
        while (!done) {
          await sleep(250);
          if (!done && (await marked(client.api, chat, unread))) finish();
        }
      } catch (error) {
        off();
        reject(error);
      }
    })();
  });
}

export const unread: CommandSpec = {
  name: 'unread',
  args: '<chat>',
  summary: 'mark a chat unread on all your devices until you read it (--clear: unmark)',
  details: [...CHAT_ARG_DETAILS, '`messenger chats` shows the mark as "marked unread".'],
  options: {
    clear: { type: 'boolean', description: 'remove the mark without reading the chat' },
    timeout: { type: 'string', valueName: 'SECONDS', description: 'how long to wait for the server (default 15)' },
  },
  minArgs: 1,
  maxArgs: 1,
  examples: ['messenger unread Bob', 'messenger unread Climbing --clear'],
  json: '{"chat": {"kind","peer"|"group"}, "unread": true|false}',
  async run(ctx) {
    const timeoutMs = ctx.args.seconds('timeout', SEND_TIMEOUT_MS)!;
    const { api, session } = sessionApi(ctx);
    const target = await resolveChat(api, new Directory(api, session.userId), ctx.args.positionals[0]!);
    const chat = chatRefOf(target);
    const flag = !ctx.args.flag('clear');
    const { client } = await connect(ctx);
    const stop = new AbortController();
    ctx.defer(() => stop.abort());
    const stored = markStored(client, chat, flag, stop.signal);
    client.markUnread(chat, flag);
    await whileConnected(
      client,
      stored,
      timeoutMs,
      () => new CliError('not_confirmed', `Not confirmed by the server within ${Math.round(timeoutMs / 1000)} s; try again`, EXIT.unavailable),
    );
    ctx.out.result({ chat, unread: flag }, () => (flag ? `Marked ${chatPhrase(target)} as unread` : `Cleared the unread mark of ${chatPhrase(target)}`));
  },
};
