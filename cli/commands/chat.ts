/**
 * `chat <peer>` and `groups chat <group>`: an interactive conversation.
 */
import { createInterface } from 'node:readline';
import type { MessengerApi, MessengerClient } from '../../client/index.ts';
import { HISTORY_MAX_LIMIT } from '../../protocol/index.ts';
import { ChatController } from '../chat/controller.ts';
import type { ChatPresenter, ChatTarget } from '../chat/controller.ts';
import { HumanChatPresenter } from '../chat/human.ts';
import { JsonChatPresenter } from '../chat/json.ts';
import { PlainScreen, TerminalScreen } from '../chat/screen.ts';
import type { ChatScreen, InputHandlers } from '../chat/screen.ts';
import type { CommandContext, CommandSpec } from '../context.ts';
import { GroupTitles } from '../describe.ts';
import { friendlyError } from '../errors.ts';
import { plural } from '../format.ts';
import { resolveChat } from '../resolve-chat.ts';
import { Directory, resolveGroup } from '../resolve.ts';
import { assertNotSelf, connect, holdSessionLock, keepConnected, sessionApi } from '../session.ts';
import { waitUntil } from '../wait.ts';
import { SEND_TIMEOUT_MS, notConfirmed } from './messages.ts';

const HELP_LINES = [
  'Type a message and press Enter to send it. Your messages show ⏱ until the server has them,',
  'then ✓ (stored), ✓✓ (delivered) and ✓✓ read. Start a message with // to send a leading /.',
  '/quit, /exit or Ctrl-D: leave · /help: this text',
];

/** How long an interactive chat waits for unconfirmed messages when you leave. */
const LEAVE_GRACE_MS = 3_000;

const CHAT_OPTIONS = {
  limit: { type: 'string', valueName: 'N', description: `messages of history to show first (1-${HISTORY_MAX_LIMIT}, default 20)` },
  timeout: { type: 'string', valueName: 'SECONDS', description: 'with piped input: how long to wait for the last messages to be confirmed (default 15)' },
} as const;

/** What the user's line means: a message, a chat command, or nothing. */
function handleLine(controller: ChatController, presenter: ChatPresenter, raw: string): void {
  const line = raw.replace(/\s+$/, '');
  if (line.trim() === '') return;
  if (line.startsWith('//')) {
    controller.submit(line.slice(1));
    return;
  }
  if (!line.startsWith('/')) {
    controller.submit(line);
    return;
  }
  const command = line.slice(1).trim().toLowerCase();
  if (command === 'quit' || command === 'exit' || command === 'q') controller.quit();
  else if (command === 'help' || command === '?') for (const help of HELP_LINES) presenter.notice(help);
  else presenter.notice(`Unknown command ${line}; /help lists them (start with // to send a leading /)`);
}

/** JSON mode reads plain lines from stdin and sends each non-empty one. */
function startJsonInput(ctx: CommandContext, handlers: InputHandlers): () => void {
  const rl = createInterface({ input: ctx.stdin, terminal: false });
  rl.on('line', (line) => {
    if (line.trim() !== '') handlers.line(line);
  });
  rl.on('close', () => handlers.end());
  return () => rl.close();
}

/** Connection notes in the chat, and taking the connection back from other commands. */
function watchConnection(client: MessengerClient, controller: ChatController, presenter: ChatPresenter): () => void {
  let lost = false;
  client.on('state', ({ state }) => {
    if (state === 'reconnecting' && !lost) {
      lost = true;
      presenter.notice('Connection lost; reconnecting… (messages you send meanwhile are queued)');
    } else if (state === 'open' && lost) {
      lost = false;
      presenter.notice('Back online');
    }
  });
  return keepConnected(client, {
    delayMs: 2_000,
    maxDelayMs: 15_000,
    onTakenOver: (delay) => presenter.notice(`Another messenger command is using this login; back in ${Math.round(delay / 1000)} s`),
    onClosed: (error) => controller.finished.reject(error),
  });
}

async function runChat(ctx: CommandContext, resolveTarget: (api: MessengerApi, directory: Directory) => Promise<ChatTarget>): Promise<void> {
  const historyLimit = ctx.args.integer('limit', { min: 1, max: HISTORY_MAX_LIMIT }, 20)!;
  const timeoutMs = ctx.args.seconds('timeout', SEND_TIMEOUT_MS)!;
  const { api, session } = sessionApi(ctx);
  const directory = new Directory(api, session.userId);
  const groups = new GroupTitles(api);
  const target = await resolveTarget(api, directory);
  if (target.kind === 'direct') assertNotSelf(ctx, target.peer.userId, 'chat with');
  else groups.remember(target.group.groupId, target.group.title);
  holdSessionLock(ctx, session, 'chat');

  const interactive = !ctx.out.json && ctx.stdin.isTTY === true && process.stdout.isTTY === true;
  let screen: ChatScreen | undefined;
  let presenter: ChatPresenter;
  if (ctx.out.json) {
    presenter = new JsonChatPresenter(ctx.out, target);
  } else {
    screen = interactive ? new TerminalScreen(ctx.stdin, process.stdout, ctx.out.style) : new PlainScreen(ctx.stdin, process.stdout, ctx.out.style);
    presenter = new HumanChatPresenter({ screen, style: ctx.out.style, me: session.userId, target, directory, groups, interactive });
  }
  const controller = new ChatController({
    me: session.userId,
    target,
    presenter,
    historyLimit,
    describeError: (error) => friendlyError(error, { server: ctx.server }).message,
  });

  const { client } = await connect(ctx, { prepare: (c) => controller.attach(c) });
  const stopWatching = watchConnection(client, controller, presenter);
  ctx.defer(stopWatching);
  await controller.historyShown();

  const handlers: InputHandlers = {
    line: (line) => (ctx.out.json ? controller.submit(line) : handleLine(controller, presenter, line)),
    keypress: () => controller.typingKey(),
    end: () => controller.quit(),
  };
  let stopInput: () => void;
  if (screen !== undefined) {
    screen.start(handlers);
    stopInput = () => screen.close();
  } else {
    stopInput = startJsonInput(ctx, handlers);
  }

  try {
    await waitUntil(controller.finished.promise, { signal: ctx.signal });
  } finally {
    stopInput();
    controller.stopTyping();
  }
  await finishSends(ctx, controller, interactive, timeoutMs);
}

/** Wait for the messages sent in this chat; piped input fails like `send` when they did not make it. */
async function finishSends(ctx: CommandContext, controller: ChatController, interactive: boolean, timeoutMs: number): Promise<void> {
  const { unconfirmed, failures } = await controller.settleSends(interactive ? LEAVE_GRACE_MS : timeoutMs);
  if (interactive) {
    if (unconfirmed > 0) ctx.out.note(`${plural(unconfirmed, 'message')} not confirmed yet; kept in the outbox and sent the next time messenger connects`);
    return;
  }
  if (failures.length > 0) throw failures[0];
  if (unconfirmed > 0) throw notConfirmed(timeoutMs);
}

export const chat: CommandSpec = {
  name: 'chat',
  handlesInterrupt: true,
  args: '<chat>',
  summary: 'chat with someone (or in a group): history, live messages, ticks, typing',
  details: [
    '<chat> is a phone number, a user id, or a name as `messenger chats` shows it (a contact or',
    'someone you chat with), or a group (as `messenger groups chat`).',
    'Shows recent messages, then new ones as they arrive (and marks them read). Your messages',
    'get ticks: ⏱ queued, ✓ stored, ✓✓ delivered, ✓✓ read. Shows when the other side is typing',
    'and tells them when you are. With piped input every line is sent, and the command ends',
    'when the input ends and the messages are confirmed.',
  ],
  options: CHAT_OPTIONS,
  minArgs: 1,
  maxArgs: 1,
  examples: ['messenger chat Bob', 'messenger chat +4915112345678 --limit 50', 'printf "hi\\nhow are you?\\n" | messenger chat Bob'],
  json: 'JSON lines: {"type":"history","peer","messages","nextBefore"} first, then the events of listen --json for this chat (message, message_update, receipt, typing_notice, sent, failed, ...); a group as `groups chat`',
  run: (ctx) => runChat(ctx, (api, directory) => resolveChat(api, directory, ctx.args.positionals[0]!)),
};

export const groupChat: CommandSpec = {
  name: 'groups chat',
  handlesInterrupt: true,
  args: '<group>',
  summary: 'chat in a group: history, live messages, read counts, typing',
  details: ['<group> is the group\'s title (or a unique start of it) or its id. Works like `chat`.'],
  options: CHAT_OPTIONS,
  minArgs: 1,
  maxArgs: 1,
  examples: ['messenger groups chat Climbing'],
  json: 'JSON lines: {"type":"history","group","entries","nextBefore","nextBeforeGseq"} first (as `groups history`), then the group events of listen --json for this group (a large group\'s entries after its switch: group_log_entry)',
  run: (ctx) => runChat(ctx, async (api) => ({ kind: 'group', group: await resolveGroup(api, ctx.args.positionals[0]!) })),
};
