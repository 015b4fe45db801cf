/**
 * What the message-action commands (reply, react, edit, delete, forward, star) share: finding
 * `<chat> <message>`, naming the message in a confirmation, keeping the action in the outbox when
 * the server cannot be reached (as `send` does), and waiting for the server's answer.
 */
import { generateClientId } from '../../client/index.ts';
import type { MessengerApi, MessengerClient } from '../../client/index.ts';
import type { ActedFrame } from '../../protocol/index.ts';
import type { CommandContext } from '../context.ts';
import { CliError, EXIT, isUnreachable } from '../errors.ts';
import { describeBody, snippet } from '../format.ts';
import type { AnyMessage } from '../format.ts';
import { parseMessageSpec, resolveMessage } from '../message-ref.ts';
import { Directory } from '../resolve.ts';
import { resolveChat } from '../resolve-chat.ts';
import type { ChatTarget } from '../resolve-chat.ts';
import { sessionApi } from '../session.ts';
import type { Session } from '../config.ts';
import { connectOrKeep, sendAndConfirm } from './messages.ts';

export { connectOrKeep };

/** A message action the SDK is sending: settled by the server's `acted` answer. */
export interface PendingAction {
  clientId: string;
  done: Promise<ActedFrame>;
}

/** The chat and message a command is about. */
export interface ChatMessage {
  api: MessengerApi;
  session: Session;
  directory: Directory;
  target: ChatTarget;
  /** The message's server id. */
  id: string;
  /** The message as this device sees it, when it was found in the chat's newest pages. */
  message: AnyMessage | null;
}

/**
 * Resolve `<chat> <message>`. With `own`, `last` means your own newest message. While the server
 * cannot be reached a message id still works (the action is kept in the outbox) unless
 * `needsServer`; `last` does not.
 */
export async function resolveChatMessage(
  ctx: CommandContext,
  chatInput: string,
  messageInput: string,
  options: { own?: boolean; needsServer?: boolean } = {},
): Promise<ChatMessage> {
  const spec = parseMessageSpec(messageInput);
  const { api, session } = sessionApi(ctx);
  const directory = new Directory(api, session.userId);
  const target = await resolveChat(api, directory, chatInput);
  try {
    const { id, message } = await resolveMessage(api, target, spec, { me: session.userId, ...(options.own === undefined ? {} : { own: options.own }) });
    return { api, session, directory, target, id, message };
  } catch (error) {
    if (!isUnreachable(error) || options.needsServer === true) throw error;
    if (spec.kind === 'id') return { api, session, directory, target, id: spec.id, message: null };
    throw new CliError(
      'unavailable',
      `Cannot reach the server at ${ctx.server}, which \`${messageInput}\` needs to find the message; name it by its id to keep the action in the outbox until the server is back`,
      EXIT.unavailable,
      { cause: error },
    );
  }
}

/** `Bob's message "see you at 8"`, `your photo "the view"`, or `message 01J…` when this device does not have it. */
export async function messageLabel(found: Pick<ChatMessage, 'directory' | 'session' | 'id' | 'message'>): Promise<string> {
  const { message } = found;
  if (message === null) return `message ${found.id}`;
  const whose = message.from === found.session.userId ? 'your' : `${await found.directory.name(message.from)}'s`;
  const { noun, text } = describeBody(message.body);
  return `${whose} ${noun}${text === '' ? '' : ` "${snippet(text, 40)}"`}`;
}

/** The client id of an action: --id, else a fresh one (the same one is kept in the outbox). */
export function actionClientId(id: string | undefined): string {
  return id ?? generateClientId();
}

/** Start an action through the outbox and wait for the server's `acted` (like `send` waits for `sent`). */
export function confirmAction(ctx: CommandContext, client: MessengerClient, start: (client: MessengerClient) => PendingAction, what: string): Promise<ActedFrame> {
  return sendAndConfirm(
    ctx,
    client,
    (c) => {
      const pending = start(c);
      return { clientId: pending.clientId, sent: pending.done };
    },
    what,
  );
}

/** " (it had been done before)" for a repeated action id, else ''. */
export function duplicateNote(duplicate: boolean): string {
  return duplicate ? ' (it had been done before)' : '';
}
