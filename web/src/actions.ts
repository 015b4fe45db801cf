/**
 * What the user does to messages, on the SDK: reply, react, edit, delete (for me / for everyone),
 * forward, star, mark a chat unread. Sends and forwards show their bubble at once (pending, with
 * its quote or "Forwarded"); the other actions show when the server's update comes back (every
 * device of the chat gets the same one). A refused action says why (`notify`).
 */
import type { MessengerClient } from '../../client/index.ts';
import { EDIT_WINDOW_DEFAULT_MS, RECALL_WINDOW_DEFAULT_MS, isMediaBody } from '../../protocol/index.ts';
import { chatRef, isDeleted, type Chat, type ChatStore, type MessageItem } from './chat-store.ts';
import type { Directory } from './directory.ts';

export interface ActionsOptions {
  client: MessengerClient;
  store: ChatStore;
  directory: Directory;
  /** Say why an action failed (a sentence for the user). */
  notify(text: string): void;
  describeError(error: unknown): string;
}

/** What can be done to one message now (the server still has the final word). */
export interface Allowed {
  reply: boolean;
  react: boolean;
  edit: boolean;
  forward: boolean;
  star: boolean;
  deleteForEveryone: boolean;
  info: boolean;
  copy: boolean;
}

export class MessageActions {
  private readonly options: ActionsOptions;

  constructor(options: ActionsOptions) {
    this.options = options;
  }

  /** What the menu offers for `item` in `chat` at time `now`. */
  allowed(chat: Chat, item: MessageItem, now = Date.now()): Allowed {
    const stored = item.id !== null;
    const deleted = isDeleted(item.body);
    const live = stored && !deleted;
    const member = !chat.left;
    const editable = item.body.kind === 'text' || isMediaBody(item.body);
    return {
      reply: live && member,
      react: live && member,
      edit: live && member && item.own && editable && now - item.at < EDIT_WINDOW_DEFAULT_MS,
      forward: live,
      star: live,
      deleteForEveryone: live && member && ((item.own && now - item.at < RECALL_WINDOW_DEFAULT_MS) || (chat.kind === 'group' && this.isAdmin(chat))),
      info: stored && item.own && chat.kind === 'group',
      copy: live && copyText(item) !== '',
    };
  }

  /** Send `text` as a reply to `target` (pending at once, with its quote). */
  reply(chat: Chat, target: MessageItem, text: string): void {
    const { client, store } = this.options;
    if (target.id === null) return;
    const pending = client.reply(chatRef(chat), target.id, { kind: 'text', text });
    const entry = client.outbox.get(pending.clientId);
    if (entry !== undefined) store.addPending(entry);
  }

  react(chat: Chat, item: MessageItem, emoji: string | null): void {
    if (item.id === null) return;
    this.watch(this.options.client.react(chatRef(chat), item.id, emoji).done);
  }

  /** Change a text, or a media message's caption. Resolves once stored; rejects with the server's refusal. */
  async edit(chat: Chat, item: MessageItem, text: string): Promise<void> {
    if (item.id === null) return;
    // With the message itself the SDK keeps a media message's media and changes only its caption.
    await this.options.client.edit(chatRef(chat), item.source ?? item.id, text).done;
  }

  delete(chat: Chat, item: MessageItem, scope: 'me' | 'everyone'): void {
    if (item.id === null) return;
    const { client } = this.options;
    const pending = scope === 'me' ? client.deleteForMe(chatRef(chat), item.id) : client.deleteForEveryone(chatRef(chat), item.id);
    this.watch(pending.done);
  }

  star(chat: Chat, item: MessageItem, starred: boolean): void {
    if (item.id === null) return;
    this.watch(this.options.client.star(chatRef(chat), item.id, starred).done);
  }

  /** Forward `item` to each of `targets` (pending bubbles marked "Forwarded" at once). */
  forward(item: MessageItem, targets: readonly Chat[]): void {
    const { client, store } = this.options;
    if (item.source === null) return;
    for (const target of targets) {
      try {
        const pending = client.forward(item.source, chatRef(target));
        const entry = client.outbox.get(pending.clientId);
        if (entry !== undefined) store.addPending(entry);
      } catch (error) {
        this.options.notify(this.options.describeError(error));
      }
    }
  }

  markUnread(chat: Chat, unread: boolean): void {
    this.options.client.markUnread(chatRef(chat), unread);
    this.options.store.setMarkedUnread(chat.key, unread);
  }

  /** Whether the user is an admin of the group (as far as the member list loaded says). */
  isAdmin(chat: Pick<Chat, 'kind' | 'id'>): boolean {
    if (chat.kind !== 'group') return false;
    const me = this.options.directory.me;
    return this.options.directory.groupMembers(chat.id)?.some((m) => m.userId === me && m.role === 'admin') === true;
  }

  private watch(done: Promise<unknown>): void {
    done.catch((error: unknown) => this.options.notify(this.options.describeError(error)));
  }
}

/** The text "Copy" puts on the clipboard: a text, a caption, or what the body says as text. */
export function copyText(item: MessageItem): string {
  const body = item.body;
  if (body.kind === 'deleted') return '';
  if (body.kind === 'text') return body.text;
  if (isMediaBody(body)) return body.caption ?? '';
  return '';
}
