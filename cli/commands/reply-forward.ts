/**
 * `reply` (a message quoting another of the same chat) and `forward` (a message you have, sent
 * on to other chats, media without a new upload). Both are sends: through the outbox, confirmed
 * with one tick, a reply kept in the outbox when the server cannot be reached.
 */
import type { GroupSentFrame, SentFrame } from '../../client/index.ts';
import type { ChatRef, MessageBody } from '../../protocol/index.ts';
import type { CommandSpec } from '../context.ts';
import { CliError, EXIT } from '../errors.ts';
import { listNames, tickText } from '../format.ts';
import { MESSAGE_ARG_DETAILS } from '../message-ref.ts';
import { chatName, chatRefOf, inChat, resolveChat } from '../resolve-chat.ts';
import type { ChatTarget } from '../resolve-chat.ts';
import { connect } from '../session.ts';
import { actionClientId, connectOrKeep, messageLabel, resolveChatMessage } from './action-support.ts';
import { CHAT_ARG_DETAILS } from './actions.ts';
import { clientIdOption, messageText, sendAndConfirm } from './messages.ts';

const SEND_OPTIONS = {
  timeout: { type: 'string', valueName: 'SECONDS', description: 'how long to wait for the server (default 15)' },
  id: { type: 'string', valueName: 'ID', description: 'client message id, so a retried send is stored only once' },
} as const;

/** What `--json` prints for one stored send. */
function sentJson(chat: ChatRef, ack: SentFrame | GroupSentFrame): Record<string, unknown> {
  return { chat, messageId: ack.messageId, clientId: ack.id, sentAt: ack.sentAt, duplicate: ack.duplicate, ...(ack.type === 'group_sent' ? { gseq: ack.gseq } : {}) };
}

export const reply: CommandSpec = {
  name: 'reply',
  args: '<chat> <message> <text...>',
  summary: 'answer a message, quoting it (waits until the server stored it)',
  details: [
    ...CHAT_ARG_DETAILS,
    ...MESSAGE_ARG_DETAILS,
    'The words after it are the answer; `-` reads it from stdin. Like `send`: exits 0 once the',
    'server has it, and keeps it in the outbox when the server cannot be reached (exit code 6).',
  ],
  options: SEND_OPTIONS,
  minArgs: 3,
  maxArgs: Infinity,
  examples: ['messenger reply Bob last "yes, 8 is fine"', 'messenger reply Climbing last-1 "count me in"'],
  json: '{"chat": {"kind","peer"|"group"}, "messageId", "clientId", "replyTo", "sentAt", "duplicate"} (and "gseq" in a group)',
  async run(ctx) {
    const [chatInput, messageInput, ...words] = ctx.args.positionals;
    const text = await messageText(ctx, words);
    const found = await resolveChatMessage(ctx, chatInput!, messageInput!);
    const label = await messageLabel(found);
    const chat = chatRefOf(found.target);
    const body: MessageBody = { kind: 'text', text };
    const clientId = actionClientId(clientIdOption(ctx));
    const createdAt = Date.now();
    const record = chat.kind === 'direct' ? { clientId, to: chat.peer, body, createdAt, replyTo: found.id } : { clientId, group: chat.group, body, createdAt, replyTo: found.id };
    const { client } = await connectOrKeep(ctx, record, `your reply to ${label}`);
    const ack = await sendAndConfirm(ctx, client, (c) => c.reply(chat, found.id, body, { clientId }));
    ctx.out.result({ ...sentJson(chat, ack), replyTo: found.id }, () =>
      `Replied to ${label} ${tickText('sent', ctx.out.style)}${ack.duplicate ? ' (it had been sent before)' : ''}`,
    );
  },
};

export const forward: CommandSpec = {
  name: 'forward',
  args: '<chat> <message> <to-chat...>',
  summary: 'forward a message to other chats (media without a new upload)',
  details: [
    ...CHAT_ARG_DETAILS,
    ...MESSAGE_ARG_DETAILS,
    'Each <to-chat> is a chat given the same way. The copies are marked "Forwarded" ("Forwarded',
    'many times" once a message has been passed on 5 times). Needs the server (exit code 6 without).',
  ],
  options: { timeout: SEND_OPTIONS.timeout },
  minArgs: 3,
  maxArgs: Infinity,
  examples: ['messenger forward Bob last Carol', 'messenger forward Climbing 01JF8Q3Z5N6P7R8S9T0V1W2X3Y Bob "Hiking club"'],
  json: '{"messageId" (the original), "forwards": [{"chat","messageId","clientId","sentAt","duplicate"}]}',
  async run(ctx) {
    const [chatInput, messageInput, ...toInputs] = ctx.args.positionals;
    const found = await resolveChatMessage(ctx, chatInput!, messageInput!, { needsServer: true });
    const { message } = found;
    if (message === null) {
      throw new CliError(
        'message_not_found',
        `Message ${found.id} is not among the newest messages ${inChat(found.target)}; check the id (\`messenger history <chat> --ids\`)`,
        EXIT.notFound,
      );
    }
    if (message.body.kind === 'deleted') throw new CliError('message_deleted', 'That message was deleted; there is nothing to forward', EXIT.refused);
    const targets: ChatTarget[] = [];
    for (const input of toInputs) targets.push(await resolveChat(found.api, found.directory, input));
    const label = await messageLabel(found);
    const { client } = await connect(ctx);
    const forwards: Array<Record<string, unknown>> = [];
    for (const target of targets) {
      const chat = chatRefOf(target);
      const ack = await sendAndConfirm(ctx, client, (c) => c.forward(message, chat));
      forwards.push(sentJson(chat, ack));
    }
    ctx.out.result({ messageId: found.id, forwards }, () => `Forwarded ${label} to ${listNames(targets.map(chatName))} ${tickText('sent', ctx.out.style)}`);
  },
};
