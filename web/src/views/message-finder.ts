/**
 * Jumping to a message of the open chat (a quote's original, a starred message, a search hit):
 * scrolled into the middle of the view and flashed, after loading older history pages until it is
 * found; says so when it is not there (deleted for the user, or before this device's history).
 */
import type { Chat, ChatStore } from '../chat-store.ts';
import type { Sync } from '../sync.ts';
import { itemOfRow } from './message-row.ts';

/** Pages of older history read while looking for a message before giving up. */
const FIND_PAGES_MAX = 25;

export interface FinderOptions {
  chat: Chat;
  store: ChatStore;
  sync: Sync;
  /** The conversation's rows by item key. */
  rows: ReadonlyMap<string, HTMLElement>;
  /** Draw the rows of what is loaded now. */
  draw(): void;
  say(text: string): void;
  hideNotice(): void;
  /** The view scrolled to a message. */
  shown(): void;
}

export class MessageFinder {
  private readonly options: FinderOptions;
  /** The search running now (a second one replaces it). */
  private search: symbol | null = null;

  constructor(options: FinderOptions) {
    this.options = options;
  }

  /**
   * Find message `id` (reading at most `pages` older pages) and show it; `missing` is said when it
   * is not found.
   */
  async show(id: string, pages = FIND_PAGES_MAX, missing = 'The original message is no longer available.'): Promise<void> {
    const search = Symbol('find');
    this.search = search;
    const { chat } = this.options;
    for (let page = 0; ; page++) {
      if (this.search !== search) return;
      const row = this.rowOf(id);
      if (row !== undefined) {
        this.search = null;
        this.options.hideNotice();
        this.highlight(row);
        return;
      }
      if (chat.older === null || page >= pages || chat.history === 'error') break;
      if (page === 0) this.options.say('Looking for the message…');
      await this.nextPage();
      // Draw the page's rows now (not on the next frame) to look among them.
      if (this.search === search) this.options.draw();
    }
    this.search = null;
    this.options.say(missing);
  }

  /** The view closed: a running search ends. */
  stop(): void {
    this.search = null;
  }

  private rowOf(id: string): HTMLElement | undefined {
    for (const row of this.options.rows.values()) if (itemOfRow(row)?.id === id) return row;
    return undefined;
  }

  private highlight(row: HTMLElement): void {
    row.scrollIntoView({ block: 'center', behavior: 'instant' });
    this.options.shown();
    row.classList.remove('highlight');
    // Restart the animation when the same row is shown twice.
    void row.offsetWidth;
    row.classList.add('highlight');
    row.addEventListener('animationend', () => row.classList.remove('highlight'), { once: true });
  }

  /** The next older history page (or the one loading now) has arrived or failed. */
  private async nextPage(): Promise<void> {
    const { chat, store, sync } = this.options;
    if (chat.history !== 'loading') {
      await sync.loadHistory(chat.key, chat.older !== undefined);
      return;
    }
    await new Promise<void>((resolve) => {
      const onStore = ({ key }: { key: string | null }): void => {
        if ((key !== null && key !== chat.key) || chat.history === 'loading') return;
        store.off('changed', onStore);
        resolve();
      };
      store.on('changed', onStore);
    });
  }
}
