/**
 * The message-action surface of `MessengerClient` (replies, forwards, reactions, edits,
 * deletions, stars, the starred list, "mark unread"), as the base class it extends: kept apart
 * so the client's own file stays about connecting, sessions and sending. The work is done by
 * actions.ts (`MessageActions`) and chat-markers.ts (`ChatMarkers`), which the client builds.
 */
import type {
  ChatRef,
  GroupMessage,
  GroupSentFrame,
  Message,
  MessageBody,
  SentFrame,
  StarredPage,
} from '../protocol/index.ts';
import { editedBody } from './actions.ts';
import type { MessageActions } from './actions.ts';
import type { ChatMarkers } from './chat-markers.ts';
import type { ActionOptions, MessengerEvents } from './client-types.ts';
import { Emitter } from './events.ts';
import type { HistoryOptions, MessengerApi } from './http.ts';
import type { PendingAction, PendingSend } from './outbox.ts';

/**
 * The actions every `MessengerClient` has (see there for the whole client).
 *
 * @example
 * const chat = { kind: 'direct', peer: peerId } as const;
 * const { done } = client.react(chat, message.id, '❤️');
 * client.on('message_update', ({ message }) => view.replace(message));   // every device, this one too
 */
export abstract class MessageActionsClient extends Emitter<MessengerEvents> {
  abstract readonly api: MessengerApi;
  protected abstract readonly actions: MessageActions;
  protected abstract readonly markers: ChatMarkers;

  /**
   * Reply to message `target` of `chat`: a send (outbox, `sent` / `group_sent`) that quotes it;
   * the server stores `replyTo: {id, from, kind, snippet}` on the new message. Same as
   * `send(peer, body, { replyTo })` / `sendGroup(group, body, { replyTo })`.
   *
   * @example
   * const { sent } = client.reply({ kind: 'group', group: groupId }, message.id, { kind: 'text', text: 'agreed' });
   */
  reply(chat: ChatRef, target: string, body: MessageBody, options: ActionOptions = {}): PendingSend<SentFrame | GroupSentFrame> {
    return this.actions.reply(chat, target, body, options);
  }

  /**
   * Forward `message` (its current body; media is reused, no upload) to `to`. The copy is marked
   * `forwarded` (one hop more than the original). A deleted message throws `validation_failed`.
   *
   * @example
   * await client.forward(message, { kind: 'direct', peer: carolId }).sent;
   */
  forward(message: Message | GroupMessage, to: ChatRef, options: ActionOptions = {}): PendingSend<SentFrame | GroupSentFrame> {
    return this.actions.forward(message, to, options);
  }

  /**
   * React to message `target` of `chat` with one emoji, replacing your earlier reaction; `null`
   * removes it. Like every action: returns at once; `done` resolves with the `acted` answer
   * (after reconnects if need be) and rejects on a non-retryable error (`message_not_found`,
   * `message_deleted`, ...); invalid input throws `validation_failed`. Every device of the chat
   * then gets the changed message ('message_update' / 'group_message_update').
   *
   * @example
   * client.react({ kind: 'direct', peer: peerId }, message.id, '👍');
   */
  react(chat: ChatRef, target: string, emoji: string | null, options: ActionOptions = {}): PendingAction {
    return this.actions.react(chat, target, emoji, options);
  }

  /**
   * Edit your message within the edit window: `body` is the whole new body (a text's new text, or
   * the media body with only its caption changed: see `editedBody`). A string is a text
   * message's new text; with the message itself as `target`, a string is its new text or caption.
   * Refusals: `not_your_message`, `edit_window_passed`, `not_editable`.
   *
   * @example
   * await client.edit(chat, message.id, 'see you at 9').done;
   * await client.edit(chat, photoMessage, 'new caption').done;
   */
  edit(chat: ChatRef, target: string | Message | GroupMessage, body: MessageBody | string, options: ActionOptions = {}): PendingAction {
    if (typeof target === 'string') return this.actions.edit(chat, target, body, options);
    return this.actions.edit(chat, target.id, typeof body === 'string' ? editedBody(target.body, body) : body, options);
  }

  /** Edit a text message's text (`edit` with a text body). */
  editText(chat: ChatRef, target: string, text: string, options: ActionOptions = {}): PendingAction {
    return this.actions.edit(chat, target, { kind: 'text', text }, options);
  }

  /**
   * Delete a message for everyone (recall): your own within the recall window, any in a group
   * you administer. Every copy becomes a `deleted` tombstone. Refusals: `not_your_message`,
   * `recall_window_passed`.
   *
   * @example
   * await client.deleteForEveryone(chat, message.id).done;
   */
  deleteForEveryone(chat: ChatRef, target: string, options: ActionOptions = {}): PendingAction {
    return this.actions.deleteForEveryone(chat, target, options);
  }

  /** Delete a message on your devices only (their copy becomes a tombstone with scope `me`). */
  deleteForMe(chat: ChatRef, target: string, options: ActionOptions = {}): PendingAction {
    return this.actions.deleteForMe(chat, target, options);
  }

  /**
   * Star (or with `false` unstar) a message, on all your devices; {@link starred} lists them.
   *
   * @example
   * client.star({ kind: 'group', group: groupId }, message.id);
   */
  star(chat: ChatRef, target: string, starred = true, options: ActionOptions = {}): PendingAction {
    return this.actions.star(chat, target, starred, options);
  }

  /**
   * One page of your starred messages, newest first (see `MessengerApi.starred`).
   *
   * @example
   * const { messages, nextBefore } = await client.starred({ limit: 20 });
   */
  starred(options: HistoryOptions = {}): Promise<StarredPage> {
    return this.api.starred(options);
  }

  /**
   * Mark a chat unread (the dot in the chat list) or clear that mark, on all your devices (they
   * get a 'chat_marker' event). Reading the chat clears it too. Offline, the latest wish per chat
   * is sent after the next hello. Returns whether it was sent now.
   *
   * @example
   * client.markUnread({ kind: 'direct', peer: peerId });
   * client.on('chat_marker', ({ chat, unread }) => chatList.setMarked(chat, unread));
   */
  markUnread(chat: ChatRef, unread = true): boolean {
    return this.markers.markUnread(chat, unread);
  }
}
