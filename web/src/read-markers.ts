/**
 * Read markers: the open chat, while the page is visible, is read up to its newest entry (by
 * mailbox seq; a large group by gseq, which covers its log and the copied part below it; the SDK
 * queues the marker while offline; other devices follow it). Checks are batched per microtask, so
 * a history page or a burst of messages costs one marker, not one per message.
 */
import type { MessengerClient } from '../../client/index.ts';
import type { MessageActions } from './actions.ts';
import type { Chat, ChatStore } from './chat-store.ts';
import { newestIncomingPlace, newestPlace, newestSeq } from './chat-timeline.ts';

export interface ReadMarkersOptions {
  client: MessengerClient;
  store: ChatStore;
  actions: MessageActions;
  /** The chat on screen, if any. */
  openChat(): Chat | null;
}

export class ReadMarkers {
  private scheduled = false;

  constructor(private readonly options: ReadMarkersOptions) {}

  /** Check the open chat once the current task's changes are in the store. */
  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.markOpenChatRead();
    });
  }

  private markOpenChatRead(): void {
    const { client, store, actions } = this.options;
    const chat = this.options.openChat();
    if (chat === null || document.visibilityState !== 'visible') return;
    // Opening a chat marked unread reads it: the mark goes (on every device).
    if (chat.markedUnread) actions.markUnread(chat, false);
    const upTo = newestPlace(chat);
    if (upTo === 0 || (chat.unread === 0 && newestIncomingPlace(chat) <= chat.readUpTo)) return;
    if (chat.kind === 'direct') client.markRead(chat.id, upTo);
    else if (chat.large) client.markGroupLogRead(chat.id, upTo);
    else {
      const seq = newestSeq(chat);
      if (seq > 0) client.markGroupRead(chat.id, seq);
    }
    store.markRead(chat.key, upTo);
  }
}
