/**
 * A window into older history, apart from the chat's own (a search hit far back): the history
 * page that ends at a given message (`before = seq + 1`, so the message itself is its newest
 * entry) and, as the user scrolls up, the pages before it. The chat's own items in the store stay
 * a single run from the newest message down, so a window never leaves a gap in them: it has a
 * store and a loader of its own (the same ChatStore and Sync, not started: no live entries), and
 * takes only what changes messages already shown (updates: reactions, edits, deletions, stars;
 * receipts). Leaving the window ("Jump to latest") drops it.
 */
import type { MessengerClient } from '../../client/index.ts';
import { ChatStore, type Chat } from './chat-store.ts';
import type { Directory } from './directory.ts';
import { Sync } from './sync.ts';

export interface HistoryWindow {
  /** The window's own copy of the chat: `older` starts at the `before` it was opened with. */
  readonly chat: Chat;
  readonly store: ChatStore;
  /** Loads the window's pages (`loadHistory(chat.key, true)`: the next older one). */
  readonly sync: Sync;
  dispose(): void;
}

/** Open a window of chat `key` ending just below mailbox seq `before` (nothing is loaded yet). */
export function openHistoryWindow(client: MessengerClient, directory: Directory, me: string, key: string, before: number): HistoryWindow {
  const store = new ChatStore(me);
  const sync = new Sync(client, store, directory);
  const chat = store.chat(key);
  // As if a newer page had been read already: the first load asks for `before`.
  chat.older = { before };
  const offs = [
    client.on('message_update', ({ message }) => store.applyUpdate(message)),
    client.on('group_message_update', ({ message }) => store.applyUpdate(message)),
    client.on('group_log_entry', ({ entry }) => {
      if (entry.type === 'update') store.applyUpdate(entry.update.message);
    }),
    client.on('receipt', (frame) => store.applyReceipt(frame)),
    client.on('group_receipt', (frame) => store.applyTallies(frame.tallies)),
  ];
  return {
    chat,
    store,
    sync,
    dispose: () => {
      for (const off of offs) off();
      store.removeAllListeners();
    },
  };
}
