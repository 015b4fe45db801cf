/**
 * One open chat: header (picture, name, subtitle with typing / presence / members), the messages
 * with day dividers (each row: message-row.ts; its menu: message-menu.ts), infinite scroll back
 * through history, jumping to a quoted or starred message (loading older pages until it is
 * found) or to a search hit (shown in a window of older history when it is not loaded: the page
 * that ends at it, older pages as the user scrolls up, "Jump to latest" back), and the composer
 * (composer.ts; replies and edits; files dropped on the chat are offered for sending too).
 *
 * Scrolling never jumps: while the user is at the bottom new messages keep it there; otherwise
 * the first visible row stays where it is when history is added above or messages below.
 */
import type { TypingIndicators, TypingState } from '../../../client/index.ts';
import type { MessageActions } from '../actions.ts';
import type { Chat, ChatItem, ChatStore, EventItem, MessageItem } from '../chat-store.ts';
import { describeGroupEvent, typingText } from '../describe.ts';
import type { Directory } from '../directory.ts';
import { frameScheduler, h, reconcile, setPhrase, setIsolated, setText } from '../dom.ts';
import type { HistoryWindow } from '../history-window.ts';
import { icon } from '../icons.ts';
import { setChatPicture } from '../media/avatars.ts';
import type { MediaBlock, MediaContext } from '../media/bubble.ts';
import type { MediaDraft } from '../media/sdk.ts';
import type { PresenceSource } from '../presence.ts';
import type { Sync } from '../sync.ts';
import { chatTitle } from './chat-list.ts';
import { Composer } from './composer.ts';
import { conversationHeader, headerSubtitle } from './conversation-header.ts';
import { MessageFinder } from './message-finder.ts';
import { openMessageOptions } from './message-options.ts';
import { createMessageRow, mediaOfRow, updateMessageRow, type RowContext } from './message-row.ts';
import { StrangerBar } from './stranger-bar.ts';
import { UnreadTracker, updateDayDivider, updateUnreadDivider } from './unread.ts';

export interface ConversationOptions {
  chat: Chat;
  store: ChatStore;
  directory: Directory;
  sync: Sync;
  presence: PresenceSource;
  /** The SDK's "who is typing where". */
  typingIndicators: TypingIndicators;
  /** Unsent text per chat, kept while switching chats. */
  drafts: Map<string, string>;
  /** Send a text; throws a MessengerError for invalid input (shown under the composer). */
  send(text: string): void;
  /** Reply, react, edit, delete, star (the SDK's message actions). */
  actions: MessageActions;
  /** Choose chats to forward a message to. */
  forward(item: MessageItem): void;
  /** Who received and read one's own group message. */
  info(item: MessageItem): void;
  /** Upload and send a photo, video, voice message or file. */
  sendMedia(draft: MediaDraft): void;
  /** Signed URLs and uploads in progress, for media bubbles and pictures. */
  media: MediaContext;
  /** Tell the other side(s) that the user is typing or stopped. */
  typing(state: TypingState): void;
  onBack(): void;
  onGroupInfo(): void;
  /** Search this chat's messages. */
  onSearch(): void;
  /** A window into the chat's older history, ending just below mailbox seq `before` (search hits). */
  openWindow(before: number): HistoryWindow;
  /** Turns an error into a sentence for the user. */
  describeError(error: unknown): string;
}

/** "At the bottom" tolerance, px. */
const BOTTOM_SLACK = 80;
/** Load older history when the top is this close, px. */
const LOAD_OLDER_AT = 400;

export class ConversationView {
  readonly el: HTMLElement;
  readonly chat: Chat;
  private readonly options: ConversationOptions;
  private readonly title: HTMLElement;
  private readonly subtitleEl: HTMLElement;
  private readonly avatar: HTMLElement;
  private readonly scroller: HTMLElement;
  private readonly list: HTMLElement;
  private readonly historyTop: HTMLElement;
  private readonly jump: HTMLButtonElement;
  private readonly jumpCount: HTMLElement;
  /** "Jump to latest": shown while a window into older history is drawn. */
  private readonly latest: HTMLButtonElement;
  /** The window into older history drawn instead of the chat's newest messages (a search hit), if any. */
  private historyWindow: { view: HistoryWindow; finder: MessageFinder; off(): void } | null = null;
  /** 1:1 with someone not in the contacts: who this is, and "Add to contacts". */
  private readonly stranger: StrangerBar | null;
  /** The unread divider and the count on the ↓ button. */
  private readonly unread: UnreadTracker;
  private readonly composer: Composer;
  private readonly mediaBlocks = new Set<MediaBlock>();
  private readonly leftNote: HTMLElement;
  private readonly rows = new Map<string, HTMLElement>();
  private readonly rowContext: RowContext;
  /** A short notice over the messages ("Looking for the message…", why an action failed). */
  private readonly notice: HTMLElement;
  private noticeTimer: number | undefined;
  /** Looks for a quoted or starred message (loading older history). */
  private readonly finder: MessageFinder;
  private readonly offs: Array<() => void> = [];
  private readonly resize: ResizeObserver;
  /** Follow new messages at the bottom (the user has not scrolled up). */
  private pinned = true;
  private disposed = false;
  readonly render: () => void;
  /** The header's "Search in this chat". */
  readonly searchButton: HTMLButtonElement;

  constructor(options: ConversationOptions) {
    this.options = options;
    this.chat = options.chat;
    const chat = this.chat;
    const isGroup = chat.kind === 'group';
    this.unread = new UnreadTracker(chat.unread);

    const header = conversationHeader(chat, { onBack: () => options.onBack(), onGroupInfo: () => options.onGroupInfo(), onSearch: () => options.onSearch() });
    this.searchButton = header.searchButton;
    this.title = header.title;
    this.subtitleEl = header.subtitle;
    this.avatar = header.avatar;

    this.historyTop = h('div', { class: 'history-top', 'data-testid': 'history-top' });
    this.list = h('div', { class: 'message-list' });
    this.scroller = h(
      'div',
      { class: 'messages', role: 'log', 'aria-label': 'Messages', 'data-testid': 'messages', tabindex: 0 },
      this.historyTop,
      this.list,
    );
    this.jump = h(
      'button',
      { type: 'button', class: 'jump-latest', 'aria-label': 'Scroll to the newest message', title: 'Newest messages', 'data-testid': 'jump-latest', hidden: true, on: { click: () => this.scrollToBottom(true) } },
      icon('down'),
    );
    this.jumpCount = h('span', { class: 'jump-count', 'data-testid': 'jump-count', hidden: true });
    this.jump.append(this.jumpCount);
    this.latest = h(
      'button',
      { type: 'button', class: 'jump-window', 'data-testid': 'jump-to-latest', hidden: true, on: { click: () => this.scrollToBottom(false) } },
      icon('down'),
      'Jump to latest',
    );

    this.stranger = isGroup
      ? null
      : new StrangerBar({
          peer: chat.id,
          me: () => options.store.me,
          directory: options.directory,
          describeError: (error) => options.describeError(error),
          changed: () => this.render(),
        });

    this.composer = new Composer({
      draft: options.drafts.get(chat.key) ?? '',
      directory: options.directory,
      send: (text, context) => {
        if (context?.kind === 'edit') return options.actions.edit(chat, context.item, text);
        if (context?.kind === 'reply') options.actions.reply(chat, context.item, text);
        else options.send(text);
        options.drafts.delete(chat.key);
      },
      sendMedia: (draft) => options.sendMedia(draft),
      typing: (state) => options.typing(state),
      describeError: (error) => options.describeError(error),
      onSent: () => this.scrollToBottom(false),
    });
    this.notice = h('p', { class: 'conversation-notice', role: 'status', 'data-testid': 'conversation-notice', hidden: true });
    this.rowContext = {
      chat,
      directory: options.directory,
      media: options.media,
      openMenu: (item, opener, at) =>
        openMessageOptions({ chat, item, opener, at, actions: options.actions, composer: this.composer, me: options.store.me, forward: options.forward, info: options.info, say: (text) => this.say(text) }),
      showQuoted: (id) => void this.showMessage(id),
      react: (item, emoji) => options.actions.react(chat, item, emoji),
    };
    this.finder = this.finderOf(chat, options.store, options.sync);
    this.leftNote = h('p', { class: 'composer-note', 'data-testid': 'left-note', hidden: true }, 'You can’t send messages to this group because you’re no longer a member.');

    this.el = h(
      'section',
      { class: 'conversation', 'data-testid': 'conversation', 'data-chat': chat.key, 'aria-labelledby': this.title.id },
      header.el,
      this.stranger?.el ?? null,
      h('div', { class: 'messages-wrap' }, this.scroller, this.jump, this.latest, this.notice),
      h('div', { class: 'composer-wrap' }, this.composer.error, this.composer.bar, this.composer.form, this.leftNote),
    );

    this.offs.push(this.composer.acceptFiles(this.el, () => !chat.left));
    this.scroller.addEventListener('scroll', () => this.onScroll(), { passive: true });
    // The composer growing or the window resizing must not push the newest message out of view.
    this.resize = new ResizeObserver(() => {
      if (this.pinned) this.scrollToBottom(false);
      // A view drawn while hidden (the phone layout shows it a moment later) measured nothing:
      // draw again now that it has a size, so "not enough history to scroll" is decided on it.
      this.render();
    });
    this.resize.observe(this.scroller);

    this.render = frameScheduler(() => this.draw());
    const onStore = ({ key }: { key: string | null }): void => {
      if (key === null || key === chat.key) this.render();
    };
    options.store.on('changed', onStore);
    options.directory.on('changed', this.render);
    this.offs.push(
      () => options.store.off('changed', onStore),
      () => options.directory.off('changed', this.render),
      options.typingIndicators.on('change', this.render),
      options.media.uploads.on('changed', this.render),
    );
    if (chat.kind === 'direct') this.offs.push(options.presence.subscribe(chat.id, this.render));
    else void options.directory.refreshGroup(chat.id);

    void options.sync.loadHistory(chat.key, false);
    this.draw();
    // Sized once it is in the document (a saved draft may span several lines).
    requestAnimationFrame(() => {
      this.composer.autoGrow();
      // Drawn again in place: now it can tell whether it needs more history to fill the view.
      this.render();
    });
  }

  focusComposer(): void {
    if (!this.composer.form.hidden) this.composer.input.focus();
    else this.scroller.focus();
  }

  /** Say something over the messages for a few seconds (an action that failed). */
  say(text: string): void {
    setText(this.notice, text);
    this.notice.hidden = false;
    if (this.noticeTimer !== undefined) window.clearTimeout(this.noticeTimer);
    this.noticeTimer = window.setTimeout(() => {
      this.notice.hidden = true;
    }, 5_000);
  }

  dispose(): void {
    this.disposed = true;
    this.finder.stop();
    this.closeWindow();
    if (this.noticeTimer !== undefined) window.clearTimeout(this.noticeTimer);
    this.composer.dispose();
    this.options.drafts.set(this.chat.key, this.composer.draft);
    for (const off of this.offs) off();
    for (const block of this.mediaBlocks) block.dispose();
    this.resize.disconnect();
  }

  /**
   * Scroll to message `id` and highlight it, loading older history pages until it is found (a
   * quote's original, a starred message).
   */
  showMessage(id: string): Promise<void> {
    return (this.historyWindow?.finder ?? this.finder).show(id);
  }

  /**
   * Show a search hit (message `id` at mailbox seq `seq`) in context, highlighted. Loaded
   * already (among the newest messages, or in the window shown): scrolled to. Else a window into
   * older history opens at it: the page with `before = seq + 1` (the hit is its newest message),
   * older pages as the user scrolls up, and "Jump to latest" back to the newest messages.
   */
  showHit(id: string, seq: number): Promise<void> {
    const loaded = this.options.store.message(id);
    if (loaded !== undefined && loaded.chat.key === this.chat.key) {
      this.closeWindow();
      // Its row now (not on the next frame), so the finder needs no page.
      this.draw();
      return this.finder.show(id);
    }
    if (this.historyWindow?.view.store.message(id) !== undefined) return this.historyWindow.finder.show(id);
    this.closeWindow();
    const view = this.options.openWindow(seq + 1);
    const onStore = (): void => this.render();
    view.store.on('changed', onStore);
    this.historyWindow = { view, finder: this.finderOf(view.chat, view.store, view.sync), off: () => view.store.off('changed', onStore) };
    // The unread divider belongs to the newest messages; the user went elsewhere.
    this.unread.resolved = true;
    this.unread.clear();
    this.pinned = false;
    this.draw();
    return this.historyWindow.finder.show(id, 1, 'This message is no longer available.');
  }

  /** Whether a window into older history is shown (not the newest messages). */
  get inWindow(): boolean {
    return this.historyWindow !== null;
  }

  /** Finds messages among `chat`'s items (the chat's own, or a window's). */
  private finderOf(chat: Chat, store: ChatStore, sync: Sync): MessageFinder {
    return new MessageFinder({
      chat,
      store,
      sync,
      rows: this.rows,
      draw: () => this.draw(),
      say: (text) => this.say(text),
      hideNotice: () => {
        this.notice.hidden = true;
      },
      shown: () => {
        this.pinned = this.historyWindow === null && this.distanceFromBottom() < BOTTOM_SLACK;
        this.updateJump();
      },
    });
  }

  /** Back from a window into older history to the chat's own items (drawn on the next draw). */
  private closeWindow(): void {
    const open = this.historyWindow;
    if (open === null) return;
    this.historyWindow = null;
    open.finder.stop();
    open.off();
    open.view.dispose();
    // Rows are per item object: the window's copies go, the chat's own are drawn anew.
    for (const block of this.mediaBlocks) block.dispose();
    this.mediaBlocks.clear();
    this.rows.clear();
    this.list.replaceChildren();
    delete this.historyTop.dataset.state;
  }

  /** The chat whose items are drawn (the window's copy while one is open) and what loads its pages. */
  private get shown(): { chat: Chat; sync: Sync } {
    return this.historyWindow === null ? { chat: this.chat, sync: this.options.sync } : { chat: this.historyWindow.view.chat, sync: this.historyWindow.view.sync };
  }

  // ------------------------------------------------------------ drawing

  private draw(): void {
    if (this.disposed) return;
    const { chat, options } = this;
    const name = chatTitle(chat, options.directory);
    setIsolated(this.title, name);
    setChatPicture(this.avatar, chat, name, options.directory);
    const typing = typingText(chat, options.typingIndicators.typingIn({ kind: chat.kind, id: chat.id }), options.directory);
    setPhrase(this.subtitleEl, typing.length > 0 ? typing : headerSubtitle(chat, options));
    this.subtitleEl.classList.toggle('typing', typing.length > 0);
    this.stranger?.draw();

    const shown = this.shown;
    const items = shown.chat.items;
    this.drawHistoryTop();

    const justResolved = this.historyWindow === null && this.unread.find(chat.items, chat.older !== null);
    const anchor = this.pinned ? null : this.anchorRow();
    const anchorTop = anchor?.getBoundingClientRect().top ?? 0;
    const known = new Set(this.rows.keys());
    reconcile(
      this.list,
      items,
      this.rows,
      (item) => item.key,
      (item) => this.createRow(item),
      (el, item, index) => this.updateRow(el, item, items[index - 1]),
    );
    // Messages from others that arrive while the user reads further up count on the ↓ button
    // (only below the newest row there was: older history pages arrive above it).
    if (!this.pinned && this.historyWindow === null) this.unread.arrived(chat.items, known);
    if (justResolved) this.scrollToFirstUnread();
    else if (this.pinned) this.scrollToBottom(false);
    else if (anchor?.isConnected) this.scroller.scrollTop += anchor.getBoundingClientRect().top - anchorTop;
    this.updateJump();

    this.composer.form.hidden = chat.left;
    this.leftNote.hidden = !chat.left;
    const context = this.composer.current;
    if (context !== null) {
      const now = items.find((item) => item.key === context.item.key) ?? chat.items.find((item) => item.key === context.item.key);
      this.composer.refreshContext(now?.type === 'message' && !chat.left ? now : undefined);
    }

    // Not enough history to scroll yet: fetch more so infinite scroll can start. (Only when idle:
    // after a failure the user retries, or the app does on reconnect; no retry loop while offline.)
    // Or still at the top when a page arrived (a scroll to the top while it was loading was
    // ignored, and no further scroll event may come): the next page, as a scroll would ask.
    // Not before the view is in the page: a detached one has no height (and would always ask).
    if (
      this.el.isConnected &&
      // Hidden (display: none) views have no height: nothing to decide on yet (see the ResizeObserver).
      this.scroller.clientHeight > 0 &&
      shown.chat.history === 'idle' &&
      shown.chat.older !== null &&
      // Still looking for the first unread message: it is further back.
      ((!this.unread.resolved && shown.chat.older !== undefined) || this.scroller.scrollHeight <= this.scroller.clientHeight + BOTTOM_SLACK || this.scroller.scrollTop < LOAD_OLDER_AT)
    ) {
      void shown.sync.loadHistory(chat.key, true);
    }
  }

  /** The "Unread messages" divider near the top of the view (the first unread visible), not the bottom. */
  private scrollToFirstUnread(): void {
    const row = this.unread.firstKey === null ? undefined : this.rows.get(this.unread.firstKey);
    const divider = row?.querySelector('.unread-divider');
    if (divider === null || divider === undefined) return;
    const offset = divider.getBoundingClientRect().top - this.scroller.getBoundingClientRect().top - 12;
    this.scroller.scrollTo({ top: this.scroller.scrollTop + offset, behavior: 'instant' });
    this.pinned = this.distanceFromBottom() < BOTTOM_SLACK;
  }

  private drawHistoryTop(): void {
    const { chat } = this.shown;
    const state =
      chat.history === 'loading'
        ? 'loading'
        : chat.history === 'error'
          ? 'error'
          : chat.older === undefined
            ? 'unloaded'
            : chat.older === null
              ? 'start'
              : 'more';
    if (this.historyTop.dataset.state === state) return;
    this.historyTop.dataset.state = state;
    if (state === 'loading') this.historyTop.replaceChildren(h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Loading messages…');
    else if (state === 'error') {
      this.historyTop.replaceChildren(
        'Couldn’t load messages. ',
        h('button', { type: 'button', class: 'link', on: { click: () => void this.retryHistory() } }, 'Try again'),
      );
    } else if (state === 'start') {
      this.historyTop.replaceChildren(h('span', { class: 'history-start', 'data-testid': 'history-start' }, 'This is the beginning of your chat history.'));
    } else this.historyTop.replaceChildren(); // 'more' (scroll up for older) or 'unloaded'
  }

  private retryHistory(): Promise<void> {
    const { chat, sync } = this.shown;
    return sync.loadHistory(chat.key, chat.older !== undefined);
  }

  private createRow(item: ChatItem): HTMLElement {
    if (item.type === 'event') return this.createEventRow(item);
    const row = createMessageRow(item, this.rowContext);
    const media = mediaOfRow(row);
    if (media !== null) this.mediaBlocks.add(media);
    return row;
  }

  private createEventRow(item: EventItem): HTMLElement {
    const chip = h('p', { class: 'event-chip', 'data-testid': 'event-text' });
    setPhrase(chip, describeGroupEvent(item.event, this.options.directory));
    return h('div', { class: 'row row-event', 'data-testid': 'event', 'data-key': item.key }, chip);
  }

  private updateRow(row: HTMLElement, item: ChatItem, previous: ChatItem | undefined): void {
    updateDayDivider(row, itemTime(item), previous === undefined ? null : itemTime(previous));
    updateUnreadDivider(row, item.key === this.unread.firstKey);
    if (item.type === 'event') {
      const chip = row.querySelector('.event-chip');
      if (chip !== null) setPhrase(chip, describeGroupEvent(item.event, this.options.directory));
      return;
    }
    updateMessageRow(row, item, this.rowContext);
  }

  // ------------------------------------------------------------ scrolling

  private distanceFromBottom(): number {
    return this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight;
  }

  private scrollToBottom(smooth: boolean): void {
    if (this.historyWindow !== null) {
      // "Jump to latest" (or a message sent): back to the newest messages, at the bottom.
      this.closeWindow();
      this.pinned = true;
      this.draw();
      this.scroller.focus({ preventScroll: true });
      return;
    }
    this.pinned = true;
    this.scroller.scrollTo({ top: this.scroller.scrollHeight, behavior: smooth ? 'smooth' : 'instant' });
    this.unread.clear();
    this.updateJump();
  }

  /** The ↓ button: shown when scrolled well up or when messages below are unseen, with their count. */
  private updateJump(): void {
    const distance = this.distanceFromBottom();
    if (this.pinned) this.unread.clear();
    // Seen once its top is in view (or it is gone).
    else this.unread.seen((key) => this.rows.get(key), this.scroller.getBoundingClientRect().bottom);
    const count = this.unread.count;
    this.latest.hidden = this.historyWindow === null;
    this.jump.hidden = this.historyWindow !== null || this.pinned || (distance < 300 && count === 0);
    this.jumpCount.hidden = count === 0;
    setText(this.jumpCount, count > 99 ? '99+' : String(count));
    this.jump.setAttribute('aria-label', count === 0 ? 'Scroll to the newest message' : `Scroll to the newest message, ${count} unread`);
  }

  private onScroll(): void {
    const distance = this.distanceFromBottom();
    // In a window into older history the newest messages are not below: never "at the bottom".
    this.pinned = this.historyWindow === null && distance < BOTTOM_SLACK;
    this.updateJump();
    const { chat, sync } = this.shown;
    if (this.scroller.scrollTop < LOAD_OLDER_AT && chat.history === 'idle') void sync.loadHistory(chat.key, true);
  }

  /** The first row at least partly visible: it stays put while rows are added around it. */
  private anchorRow(): HTMLElement | null {
    const top = this.scroller.getBoundingClientRect().top;
    for (const row of this.list.children) {
      if (row.getBoundingClientRect().bottom > top) return row as HTMLElement;
    }
    return null;
  }
}

function itemTime(item: ChatItem): number {
  return item.type === 'message' ? item.at : item.event.at;
}
