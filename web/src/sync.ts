/**
 * Feeds the ChatStore: the SDK's events (live mailbox entries, a large group's log entries
 * (`group_log_entry`), send confirmations, receipts,
 * message updates: reactions, edits, deletions, stars; chat markers) and the HTTP endpoints for
 * what came before (the chat list, history pages).
 */
import type { GroupEvent, MessengerClient } from '../../client/index.ts';
import { chatKey, keyOfRef, type ChatStore } from './chat-store.ts';
import type { Directory } from './directory.ts';
import { friendlyError } from './errors.ts';

/** Messages per history page. */
export const HISTORY_PAGE = 40;
/** Chats per page of the chat list. */
const CHAT_LIST_PAGE = 50;

export class Sync {
  private readonly client: MessengerClient;
  private readonly store: ChatStore;
  private readonly directory: Directory;
  private readonly offs: Array<() => void> = [];
  /** The chat list's paging cursor: undefined before the first page, null when all are loaded. */
  private listNext: number | null | undefined;
  private listLoading = false;
  /** Called after the store was reset (cursor_expired), so the open chat reloads its history. */
  onReset: () => void = () => undefined;

  constructor(client: MessengerClient, store: ChatStore, directory: Directory) {
    this.client = client;
    this.store = store;
    this.directory = directory;
  }

  /** Show restored unsent messages and start following the SDK (call before `connect()`). */
  start(): void {
    const { client, store } = this;
    for (const entry of client.pending()) store.addPending(entry);
    this.offs.push(
      client.on('message', ({ message, seq }) => store.addMessage(message, seq)),
      client.on('group_message', ({ message, seq }) => store.addGroupMessage(message, seq)),
      client.on('group_event', ({ event, seq }) => {
        store.addGroupEvent(event, seq);
        this.groupChanged(event);
      }),
      // A large group's entries after its switch to read diffusion: in gseq order, each once.
      client.on('group_log_entry', ({ group, entry }) => {
        store.addLogEntry(group, entry);
        if (entry.type === 'event') this.groupChanged(entry.event);
      }),
      // The message as it is now: replaces the store's copy when newer (rev).
      client.on('message_update', ({ message }) => store.applyUpdate(message)),
      client.on('group_message_update', ({ message }) => store.applyUpdate(message)),
      client.on('chat_marker', (frame) => store.setMarkedUnread(keyOfRef(frame.chat), frame.unread)),
      client.on('sent', (ack) => store.confirm(ack)),
      client.on('group_sent', (ack) => store.confirm(ack)),
      client.on('failed', (failure) => store.fail(failure, friendlyError(failure.error))),
      client.on('receipt', (frame) => store.applyReceipt(frame)),
      client.on('group_receipt', (frame) => store.applyTallies(frame.tallies)),
      client.on('read_marker', (frame) => store.markRead(chatKey('direct', frame.peer), frame.upTo)),
      client.on('group_read_marker', (frame) => store.markGroupRead(frame.group, frame.upTo, frame.gseq)),
      client.on('cursor_expired', () => {
        // Entries this device never saw are gone from the mailbox: rebuild from history.
        store.reset(client.pending());
        this.listNext = undefined;
        void this.loadConversations();
        this.onReset();
      }),
      client.on('hello', () => {
        // The first load may have failed (offline at start): try again now that we are connected.
        if (this.listNext === undefined) void this.loadConversations();
      }),
    );
  }

  /** What a group event changes besides the chat: the group's title, picture and members. */
  private groupChanged(event: GroupEvent): void {
    const { directory } = this;
    const change = event.change;
    if (change.kind === 'created' || change.kind === 'title_changed') directory.rememberGroup({ groupId: event.group, title: change.title });
    if (change.kind === 'picture_changed') directory.rememberGroupPicture(event.group, change.picture);
    if (directory.groupMembers(event.group) !== undefined && change.kind !== 'description_changed' && change.kind !== 'picture_changed') {
      // Member list or roles changed: fetch the new list for the header and the info panel.
      void directory.refreshGroup(event.group);
    }
  }

  /** Load the first (or, with `more`, the next) page of the chat list. */
  async loadConversations(more = false): Promise<void> {
    if (this.listLoading || (more && (this.listNext === null || this.listNext === undefined))) return;
    this.listLoading = true;
    try {
      const before = more ? this.listNext : undefined;
      const page = await this.client.api.conversations(before === undefined || before === null ? { limit: CHAT_LIST_PAGE } : { before, limit: CHAT_LIST_PAGE });
      this.store.applyConversations(page.conversations);
      this.listNext = page.nextBefore;
    } catch {
      // Offline or server trouble: the next hello tries again; live entries keep arriving meanwhile.
    } finally {
      this.listLoading = false;
    }
  }

  /** Whether more chats can be loaded. */
  get moreChats(): boolean {
    return this.listNext !== null && this.listNext !== undefined;
  }

  /**
   * Load the newest history page of a chat (once), or with `older` the next older page.
   * Failures show in the chat (state 'error') and can be retried.
   */
  async loadHistory(key: string, older: boolean): Promise<void> {
    const chat = this.store.chat(key);
    if (chat.history === 'loading') return;
    if (older ? chat.older === null || chat.older === undefined : chat.older !== undefined) return;
    // The cursor is a mailbox seq (`before`), or a gseq in a large group's log part (`beforeGseq`).
    const options = older && chat.older !== null && chat.older !== undefined ? { ...chat.older, limit: HISTORY_PAGE } : { limit: HISTORY_PAGE };
    this.store.setHistoryState(key, 'loading');
    try {
      if (chat.kind === 'direct') {
        if ('beforeGseq' in options) throw new Error('a 1:1 chat has no gseq');
        const page = await this.client.history(chat.id, options);
        this.store.addDirectHistory(chat.id, page.messages, page.nextBefore);
      } else {
        const page = await this.client.groupHistory(chat.id, options);
        this.store.addGroupHistory(chat.id, page);
      }
    } catch {
      this.store.setHistoryState(key, 'error');
    }
  }

  dispose(): void {
    for (const off of this.offs) off();
    this.offs.length = 0;
  }
}
