/**
 * What the open chat's view is wired to: sending text through the SDK's outbox, media, typing
 * notices, the message actions and the dialogs they open (forward, message info), group info,
 * search in the chat and the windows into older history that search hits open. Kept apart from app.ts, which decides only which chat is open.
 */
import type { MessengerClient } from '../../client/index.ts';
import type { Chat, ChatStore } from './chat-store.ts';
import { openHistoryWindow } from './history-window.ts';
import type { MediaDraft } from './media/sdk.ts';
import { ConversationView, type ConversationOptions } from './views/conversation.ts';
import { openForwardDialog } from './views/forward-dialog.ts';
import { openGroupInfo } from './views/groups.ts';
import { openMessageInfo } from './views/message-dialogs.ts';

/** The app's parts a conversation uses, the same for every chat. */
export type ChatServices = Pick<ConversationOptions, 'store' | 'directory' | 'sync' | 'presence' | 'typingIndicators' | 'drafts' | 'actions' | 'media' | 'describeError'> & {
  client: MessengerClient;
  sendMedia(chat: Chat, draft: MediaDraft): void;
  uploadAvatar(file: Blob, onProgress: (fraction: number) => void): Promise<string>;
  /** Open a chat (null: the list) through the URL. */
  navigate(key: string | null): void;
  /** Open the search, limited to chat `key`. */
  search(key: string): void;
};

export function openConversation(chat: Chat, services: ChatServices): ConversationView {
  const { client, store, directory, actions } = services;
  return new ConversationView({
    chat,
    store,
    directory,
    sync: services.sync,
    presence: services.presence,
    typingIndicators: services.typingIndicators,
    drafts: services.drafts,
    send: (text) => sendText(client, store, chat, text),
    actions,
    forward: (item) => openForwardDialog({ store, directory, forward: (targets) => actions.forward(item, targets) }),
    info: (item) => {
      if (item.id !== null && chat.kind === 'group') openMessageInfo({ api: client.api, directory, groupId: chat.id, messageId: item.id });
    },
    sendMedia: (draft) => services.sendMedia(chat, draft),
    media: services.media,
    typing: (state) => {
      if (chat.kind === 'direct') client.typing(chat.id, state);
      else client.groupTyping(chat.id, state);
    },
    onBack: () => services.navigate(null),
    onSearch: () => services.search(chat.key),
    openWindow: (before) => openHistoryWindow(client, directory, store.me, chat.key, before),
    onGroupInfo: () => openGroupInfo({ api: client.api, directory, groupId: chat.id, onLeft: () => undefined, uploadPicture: services.uploadAvatar }),
    describeError: services.describeError,
  });

}

/** Hand the text to the SDK's outbox (it survives reloads and goes out on reconnect) and show it at once. */
function sendText(client: MessengerClient, store: ChatStore, chat: Chat, text: string): void {
  const pending = chat.kind === 'direct' ? client.sendText(chat.id, text) : client.sendGroupText(chat.id, text);
  const entry = client.outbox.get(pending.clientId);
  if (entry !== undefined) store.addPending(entry);
}
