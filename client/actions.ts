/**
 * Message actions of `MessengerClient`: replies and forwards (sends through the outbox that
 * carry `replyTo` / `forward`), and reactions, edits, deletions and stars (`action` frames with
 * the outbox semantics of sends: persisted, resent with the same client id after every
 * reconnect, `done` resolves on `acted`, rejects on a non-retryable error). The client exposes
 * each as a method of its own; this module holds their validation and the frames they queue.
 *
 * The SDK keeps no messages: edits take the whole new body ({@link editedBody} builds it from
 * the message the app shows), and the resulting message arrives as a 'message_update' /
 * 'group_message_update' event on every device, this one included.
 */
import { ActionSchema, ChatRefSchema, MessageBodySchema, MessageIdSchema, isMediaBody } from '../protocol/index.ts';
import type { Action, ChatRef, GroupMessage, GroupSentFrame, Message, MessageBody, SentFrame, StoredBody } from '../protocol/index.ts';
import type { ActionOptions } from './client-types.ts';
import type { Outbox, PendingAction, PendingSend } from './outbox.ts';
import { MessengerError } from './transport.ts';

/** What the actions need of the client: its outbox, and the sender's queue-then-send. */
export interface MessageActionsHost {
  readonly outbox: Outbox;
  dispatch<P extends { clientId: string }>(pending: P): P;
}

function invalid(message: string): MessengerError {
  return new MessengerError('validation_failed', message);
}

function validChat(chat: ChatRef): ChatRef {
  const parsed = ChatRefSchema.safeParse(chat);
  if (!parsed.success) throw invalid(`Invalid chat ${JSON.stringify(chat)}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

function validTarget(target: string): string {
  if (!MessageIdSchema.safeParse(target).success) throw invalid(`Target ${JSON.stringify(target)} is not a message id`);
  return target;
}

function validBody(body: MessageBody): MessageBody {
  const parsed = MessageBodySchema.safeParse(body);
  if (!parsed.success) throw invalid(`Invalid message body: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

/**
 * The chat a message belongs to, as the logged-in user `me` sees it: its group, or for a 1:1
 * message the other user.
 *
 * @example
 * client.react(chatOf(message, client.userId!), message.id, '👍');
 */
export function chatOf(message: Message | GroupMessage, me: string): ChatRef {
  if ('group' in message) return { kind: 'group', group: message.group };
  return { kind: 'direct', peer: message.from === me ? message.to : message.from };
}

/**
 * The body of `body` edited to say `text`: a text message's new text, or a media message's new
 * caption (same kind and media; '' removes the caption). Throws `validation_failed` for a
 * deleted message and for kinds that cannot be edited (location, contact, ciphertext).
 *
 * @example
 * client.edit(chat, message.id, editedBody(message.body, 'fixed the typo'));
 */
export function editedBody(body: StoredBody, text: string): MessageBody {
  if (body.kind === 'text') return validBody({ kind: 'text', text });
  if (isMediaBody(body)) {
    const { caption: _old, ...rest } = body;
    return validBody(text === '' ? rest : { ...rest, caption: text });
  }
  throw invalid(`A ${body.kind} message cannot be edited: only a text or a caption can`);
}

/**
 * Replies, forwards and actions over one client's outbox (see `MessengerClient` for each
 * method's documentation; it delegates here).
 *
 * @example
 * const actions = new MessageActions({ outbox, dispatch: (p) => sender.dispatch(p) });
 * const { done } = actions.react({ kind: 'direct', peer }, messageId, '❤️');
 */
export class MessageActions {
  private readonly host: MessageActionsHost;

  constructor(host: MessageActionsHost) {
    this.host = host;
  }

  reply(chat: ChatRef, target: string, body: MessageBody, options: ActionOptions = {}): PendingSend<SentFrame | GroupSentFrame> {
    return this.sendTo(validChat(chat), validBody(body), { replyTo: validTarget(target) }, options.clientId);
  }

  forward(message: Message | GroupMessage, to: ChatRef, options: ActionOptions = {}): PendingSend<SentFrame | GroupSentFrame> {
    const chat = validChat(to);
    if (typeof message !== 'object' || message === null) throw invalid('forward() needs the message to forward');
    if (message.body.kind === 'deleted') throw invalid('A deleted message cannot be forwarded');
    return this.sendTo(chat, validBody(message.body), { forward: validTarget(message.id) }, options.clientId);
  }

  react(chat: ChatRef, target: string, emoji: string | null, options: ActionOptions = {}): PendingAction {
    return this.act(chat, target, { kind: 'react', emoji }, options);
  }

  edit(chat: ChatRef, target: string, body: MessageBody | string, options: ActionOptions = {}): PendingAction {
    const next = typeof body === 'string' ? { kind: 'text' as const, text: body } : body;
    return this.act(chat, target, { kind: 'edit', body: next }, options);
  }

  deleteForEveryone(chat: ChatRef, target: string, options: ActionOptions = {}): PendingAction {
    return this.act(chat, target, { kind: 'delete', scope: 'everyone' }, options);
  }

  deleteForMe(chat: ChatRef, target: string, options: ActionOptions = {}): PendingAction {
    return this.act(chat, target, { kind: 'delete', scope: 'me' }, options);
  }

  star(chat: ChatRef, target: string, starred: boolean, options: ActionOptions = {}): PendingAction {
    return this.act(chat, target, { kind: 'star', starred }, options);
  }

  private act(chat: ChatRef, target: string, action: Action, options: ActionOptions): PendingAction {
    const validChatRef = validChat(chat);
    const validTargetId = validTarget(target);
    const parsed = ActionSchema.safeParse(action);
    if (!parsed.success) throw invalid(`Invalid ${action.kind}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    return this.host.dispatch(this.host.outbox.addAction(validChatRef, validTargetId, parsed.data, options.clientId));
  }

  private sendTo(
    chat: ChatRef,
    body: MessageBody,
    refs: { replyTo?: string; forward?: string },
    clientId: string | undefined,
  ): PendingSend<SentFrame | GroupSentFrame> {
    const outbox = this.host.outbox;
    const pending = chat.kind === 'direct' ? outbox.add(chat.peer, body, clientId, refs) : outbox.addGroup(chat.group, body, clientId, refs);
    return this.host.dispatch<PendingSend<SentFrame | GroupSentFrame>>(pending);
  }
}
