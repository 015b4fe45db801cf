/**
 * Message actions: `react`, `edit`, `delete`, `star`. Each waits for the server's answer like
 * `send`, and is kept in the outbox when the server cannot be reached. (`reply` and `forward`
 * are sends: reply-forward.ts; `starred` and `unread`: starred.ts.)
 */
import type { MessengerClient } from '../../client/index.ts';
import { isMediaBody, MAX_CAPTION_LENGTH, REACTION_MAX_LENGTH } from '../../protocol/index.ts';
import type { Action, ChatRef, MessageBody } from '../../protocol/index.ts';
import type { CommandContext, CommandSpec } from '../context.ts';
import { CliError, EXIT, usageError } from '../errors.ts';
import { snippet } from '../format.ts';
import { MESSAGE_ARG_DETAILS } from '../message-ref.ts';
import { chatRefOf } from '../resolve-chat.ts';
import type { ChatMessage, PendingAction } from './action-support.ts';
import { actionClientId, confirmAction, connectOrKeep, duplicateNote, messageLabel, resolveChatMessage } from './action-support.ts';
import { clientIdOption, messageText } from './messages.ts';

/** How `<chat>` is explained in every action's help. */
export const CHAT_ARG_DETAILS = [
  '<chat> is a chat as `messenger chats` shows it: a person (name, phone number or user id) or a',
  'group (title, a unique start of it, or its id).',
];

/** The options every action takes. */
export const ACTION_OPTIONS = {
  timeout: { type: 'string', valueName: 'SECONDS', description: 'how long to wait for the server (default 15)' },
  id: { type: 'string', valueName: 'ID', description: 'client id of the action, so a retried one is applied only once' },
} as const;

/** What an action command prints with --json. */
interface ActedJson {
  chat: ChatRef;
  messageId: string;
  clientId: string;
  duplicate: boolean;
}

/**
 * Send `action` on `found` and wait for the server: kept in the outbox (exit 6) when the server
 * cannot be reached. `what` names it in messages ("your reaction to Bob's message "hi"").
 */
async function act(
  ctx: CommandContext,
  found: ChatMessage,
  action: Action,
  what: { kept: string; pending: string },
  start: (client: MessengerClient, chat: ChatRef, clientId: string) => PendingAction,
): Promise<ActedJson> {
  const chat = chatRefOf(found.target);
  const clientId = actionClientId(clientIdOption(ctx));
  const { client } = await connectOrKeep(ctx, { clientId, chat, target: found.id, action, createdAt: Date.now() }, what.kept);
  const acted = await confirmAction(ctx, client, (c) => start(c, chat, clientId), what.pending);
  return { chat, messageId: found.id, clientId: acted.id, duplicate: acted.duplicate };
}

/** A reaction as typed: one emoji (with its modifiers), or '' to remove. */
function checkEmoji(input: string): string {
  const emoji = input.trim();
  if (emoji.length > REACTION_MAX_LENGTH || /\s/u.test(emoji)) {
    throw usageError(`A reaction is one emoji (at most ${REACTION_MAX_LENGTH} characters), not ${JSON.stringify(input)}`);
  }
  return emoji;
}

export const react: CommandSpec = {
  name: 'react',
  args: '<chat> <message> [emoji]',
  summary: 'react to a message with an emoji, or remove your reaction',
  details: [
    ...CHAT_ARG_DETAILS,
    ...MESSAGE_ARG_DETAILS,
    'Everyone has one reaction per message: a new one replaces yours. --remove (or an empty',
    'emoji, "") takes yours back. Kept in the outbox when the server cannot be reached.',
  ],
  options: { remove: { type: 'boolean', description: 'remove your reaction' }, ...ACTION_OPTIONS },
  minArgs: 2,
  maxArgs: 3,
  examples: ['messenger react Bob last 👍', 'messenger react Climbing last-2 ❤️', 'messenger react Bob 01JF8Q3Z5N6P7R8S9T0V1W2X3Y --remove'],
  json: '{"chat": {"kind","peer"|"group"}, "messageId", "emoji" (null: removed), "clientId", "duplicate"}',
  async run(ctx) {
    const [chatInput, messageInput, emojiInput] = ctx.args.positionals;
    const typed = emojiInput === undefined ? undefined : checkEmoji(emojiInput);
    if (ctx.args.flag('remove') && typed !== undefined && typed !== '') throw usageError('Give an emoji or --remove, not both');
    if (!ctx.args.flag('remove') && typed === undefined) {
      throw usageError('Missing the emoji; usage: messenger react <chat> <message> <emoji> (or --remove to take your reaction back)');
    }
    const emoji = typed === undefined || typed === '' ? null : typed;
    const found = await resolveChatMessage(ctx, chatInput!, messageInput!);
    const label = await messageLabel(found);
    const result = await act(
      ctx,
      found,
      { kind: 'react', emoji },
      { kept: emoji === null ? `taking back your reaction to ${label}` : `your reaction to ${label}`, pending: 'the reaction' },
      (c, chat, clientId) => c.react(chat, found.id, emoji, { clientId }),
    );
    ctx.out.result({ ...result, emoji }, () =>
      `${emoji === null ? `Removed your reaction to ${label}` : `Reacted ${emoji} to ${label}`}${duplicateNote(result.duplicate)}`,
    );
  },
};

/** The edited body: a text's new text, or a media message with the new caption. */
function editedBody(found: ChatMessage, text: string): MessageBody {
  const body = found.message?.body;
  if (body?.kind === 'deleted') throw new CliError('message_deleted', 'That message was deleted; there is nothing to edit', EXIT.refused);
  if (body !== undefined && isMediaBody(body)) {
    if (text.length > MAX_CAPTION_LENGTH) throw usageError(`The caption is too long (${text.length} characters; at most ${MAX_CAPTION_LENGTH})`);
    return { ...body, caption: text };
  }
  return { kind: 'text', text };
}

export const edit: CommandSpec = {
  name: 'edit',
  args: '<chat> <message> <text...>',
  summary: 'change the text, or the caption of a photo, video or file, of a message you sent',
  details: [
    ...CHAT_ARG_DETAILS,
    ...MESSAGE_ARG_DETAILS.map((line) => line.replace('newest message of the chat', 'newest message you sent there')),
    'Only your own messages, and only for a while after sending them (15 minutes unless the',
    'server is set up otherwise). Everyone sees "(edited)"; `-` reads the new text from stdin.',
  ],
  options: ACTION_OPTIONS,
  minArgs: 3,
  maxArgs: Infinity,
  examples: ['messenger edit Bob last "see you at 9"', 'messenger edit Climbing 01JF8Q3Z5N6P7R8S9T0V1W2X3Y "route map (new)"'],
  json: '{"chat", "messageId", "body" (the new body), "clientId", "duplicate"}',
  async run(ctx) {
    const [chatInput, messageInput, ...words] = ctx.args.positionals;
    const text = await messageText(ctx, words);
    const found = await resolveChatMessage(ctx, chatInput!, messageInput!, { own: true });
    const body = editedBody(found, text);
    const label = await messageLabel(found);
    const result = await act(ctx, found, { kind: 'edit', body }, { kept: `your edit of ${label}`, pending: 'the edit' }, (c, chat, clientId) =>
      c.edit(chat, found.id, body, { clientId }),
    );
    const what = isMediaBody(body) ? 'the caption of ' : '';
    ctx.out.result({ ...result, body }, () => `Edited ${what}${label}: now "${snippet(text, 60)}"${duplicateNote(result.duplicate)}`);
  },
};

export const deleteMessage: CommandSpec = {
  name: 'delete',
  args: '<chat> <message>',
  summary: 'delete a message for everyone (recent ones of yours; admins: any), or --for-me',
  details: [
    ...CHAT_ARG_DETAILS,
    ...MESSAGE_ARG_DETAILS,
    'Without --for-me the message is deleted for everyone: everyone sees "This message was',
    'deleted". That works for your own messages for a while after sending (2 days unless the',
    'server is set up otherwise), and for group admins on any message ("deleted by an admin");',
    '`last` then means the newest message you sent. --for-me removes it from your devices only.',
  ],
  options: { 'for-me': { type: 'boolean', description: 'delete it only on your own devices' }, ...ACTION_OPTIONS },
  minArgs: 2,
  maxArgs: 2,
  examples: ['messenger delete Bob last', 'messenger delete Climbing last-1 --for-me', 'messenger delete Climbing 01JF8Q3Z5N6P7R8S9T0V1W2X3Y'],
  json: '{"chat", "messageId", "scope": "everyone"|"me", "clientId", "duplicate"}',
  async run(ctx) {
    const [chatInput, messageInput] = ctx.args.positionals;
    const scope = ctx.args.flag('for-me') ? 'me' : 'everyone';
    const found = await resolveChatMessage(ctx, chatInput!, messageInput!, { own: scope === 'everyone' });
    const label = await messageLabel(found);
    const result = await act(
      ctx,
      found,
      { kind: 'delete', scope },
      { kept: `deleting ${label}`, pending: 'the deletion' },
      (c, chat, clientId) => (scope === 'me' ? c.deleteForMe(chat, found.id, { clientId }) : c.deleteForEveryone(chat, found.id, { clientId })),
    );
    ctx.out.result({ ...result, scope }, () => `Deleted ${label} ${scope === 'me' ? 'for you' : 'for everyone'}${duplicateNote(result.duplicate)}`);
  },
};

export const star: CommandSpec = {
  name: 'star',
  args: '<chat> <message>',
  summary: 'star a message (only you see it), or --remove the star',
  details: [...CHAT_ARG_DETAILS, ...MESSAGE_ARG_DETAILS, 'Stars are yours alone and show on all your devices.'],
  options: { remove: { type: 'boolean', description: 'unstar it' }, ...ACTION_OPTIONS },
  minArgs: 2,
  maxArgs: 2,
  examples: ['messenger star Bob last', 'messenger star Climbing 01JF8Q3Z5N6P7R8S9T0V1W2X3Y --remove'],
  json: '{"chat", "messageId", "starred", "clientId", "duplicate"}',
  async run(ctx) {
    const [chatInput, messageInput] = ctx.args.positionals;
    const starred = !ctx.args.flag('remove');
    const found = await resolveChatMessage(ctx, chatInput!, messageInput!);
    const label = await messageLabel(found);
    const result = await act(
      ctx,
      found,
      { kind: 'star', starred },
      { kept: `${starred ? 'starring' : 'unstarring'} ${label}`, pending: starred ? 'the star' : 'the unstar' },
      (c, chat, clientId) => c.star(chat, found.id, starred, { clientId }),
    );
    ctx.out.result({ ...result, starred }, () => `${starred ? 'Starred' : 'Unstarred'} ${label}${duplicateNote(result.duplicate)}`);
  },
};
