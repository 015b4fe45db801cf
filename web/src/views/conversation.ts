/**
 * One open chat: header (picture, name, subtitle with typing / presence / members), the messages
 * with day dividers and ticks (media messages: media/bubble.ts above their caption), infinite
 * scroll back through history, and the composer (composer.ts; files dropped on the chat are
 * offered for sending too).
 *
 * Scrolling never jumps: while the user is at the bottom new messages keep it there; otherwise
 * the first visible row stays where it is when history is added above or messages below.
 */
import type { TypingIndicators, TypingState } from '../../../client/index.ts';
import { isMediaBody } from '../../../protocol/index.ts';
import type { Chat, ChatItem, ChatStore, EventItem, MessageItem } from '../chat-store.ts';
import { describeGroupEvent, typingText, type Phrase } from '../describe.ts';
import type { Directory } from '../directory.ts';
import { frameScheduler, h, reconcile, setAttr, setIsolated, setPhrase, setText } from '../dom.ts';
import { bodyText, colorFor, dayOf, formatDay, formatPhone, formatTime } from '../format.ts';
import { setLinkedText } from '../links.ts';
import { icon } from '../icons.ts';
import { setChatPicture } from '../media/avatars.ts';
import { MediaBlock, type MediaContext } from '../media/bubble.ts';
import type { MediaDraft } from '../media/sdk.ts';
import type { PresenceSource } from '../presence.ts';
import type { Sync } from '../sync.ts';
import { avatar, chatTitle } from './chat-list.ts';
import { Composer } from './composer.ts';
import { StrangerBar } from './stranger-bar.ts';
import { UnreadTracker, updateUnreadDivider } from './unread.ts';
import { setTick, tickElement } from './ticks.ts';

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
  /** Upload and send a photo, video, voice message or file. */
  sendMedia(draft: MediaDraft): void;
  /** Signed URLs and uploads in progress, for media bubbles and pictures. */
  media: MediaContext;
  /** Tell the other side(s) that the user is typing or stopped. */
  typing(state: TypingState): void;
  onBack(): void;
  onGroupInfo(): void;
  /** Turns an error into a sentence for the user. */
  describeError(error: unknown): string;
}

/** "At the bottom" tolerance, px. */
const BOTTOM_SLACK = 80;
/** Load older history when the top is this close, px. */
const LOAD_OLDER_AT = 400;

interface MessageParts {
  text: HTMLElement;
  time: HTMLTimeElement;
  /** An invisible copy of the time that keeps the last line of text clear of it (any clock format). */
  spacer: HTMLElement;
  tick: HTMLElement | null;
  sender: HTMLElement | null;
  error: HTMLElement | null;
  /** Photo, video, voice note or document (the text is then its caption). */
  media: MediaBlock | null;
}

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
  /** 1:1 with someone not in the contacts: who this is, and "Add to contacts". */
  private readonly stranger: StrangerBar | null;
  /** The unread divider and the count on the ↓ button. */
  private readonly unread: UnreadTracker;
  private readonly composer: Composer;
  private readonly mediaBlocks = new Set<MediaBlock>();
  private readonly leftNote: HTMLElement;
  private readonly rows = new Map<string, HTMLElement>();
  private readonly parts = new WeakMap<HTMLElement, MessageParts>();
  private readonly offs: Array<() => void> = [];
  private readonly resize: ResizeObserver;
  /** Follow new messages at the bottom (the user has not scrolled up). */
  private pinned = true;
  private disposed = false;
  readonly render: () => void;

  constructor(options: ConversationOptions) {
    this.options = options;
    this.chat = options.chat;
    const chat = this.chat;
    const isGroup = chat.kind === 'group';
    this.unread = new UnreadTracker(chat.unread);

    this.title = h('h2', { class: 'conversation-title', 'data-testid': 'conversation-title', id: `title-${chat.id}` });
    // Presence hook: the subtitle shows typing, else PresenceSource.describe() (presence.ts), else members.
    this.subtitleEl = h('p', { class: 'conversation-subtitle', 'data-testid': 'conversation-subtitle', 'aria-live': 'polite' });
    this.avatar = avatar(chat.id, '', 'small');
    const headerText = h('div', { class: 'conversation-heading' }, this.title, this.subtitleEl);
    if (isGroup) {
      // A mouse shortcut to the group info; keyboard users have the info button next to it.
      headerText.classList.add('clickable');
      headerText.addEventListener('click', () => options.onGroupInfo());
    }
    const header = h(
      'header',
      { class: 'conversation-header' },
      h(
        'button',
        { type: 'button', class: 'icon-button back-button', 'aria-label': 'Back to chats', title: 'Back to chats', 'data-testid': 'back-button', on: { click: () => options.onBack() } },
        icon('back'),
      ),
      this.avatar,
      headerText,
      isGroup
        ? h(
            'button',
            { type: 'button', class: 'icon-button', 'aria-label': 'Group info', title: 'Group info', 'data-testid': 'group-info-button', on: { click: () => options.onGroupInfo() } },
            icon('info'),
          )
        : null,
    );

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
      send: (text) => {
        options.send(text);
        options.drafts.delete(chat.key);
      },
      sendMedia: (draft) => options.sendMedia(draft),
      typing: (state) => options.typing(state),
      describeError: (error) => options.describeError(error),
      onSent: () => this.scrollToBottom(false),
    });
    this.leftNote = h('p', { class: 'composer-note', 'data-testid': 'left-note', hidden: true }, 'You can’t send messages to this group because you’re no longer a member.');

    this.el = h(
      'section',
      { class: 'conversation', 'data-testid': 'conversation', 'data-chat': chat.key, 'aria-labelledby': this.title.id },
      header,
      this.stranger?.el ?? null,
      h('div', { class: 'messages-wrap' }, this.scroller, this.jump),
      h('div', { class: 'composer-wrap' }, this.composer.error, this.composer.form, this.leftNote),
    );

    this.offs.push(this.composer.acceptFiles(this.el, () => !chat.left));
    this.scroller.addEventListener('scroll', () => this.onScroll(), { passive: true });
    // The composer growing or the window resizing must not push the newest message out of view.
    this.resize = new ResizeObserver(() => {
      if (this.pinned) this.scrollToBottom(false);
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
    requestAnimationFrame(() => this.composer.autoGrow());
  }

  focusComposer(): void {
    if (!this.composer.form.hidden) this.composer.input.focus();
    else this.scroller.focus();
  }

  dispose(): void {
    this.disposed = true;
    this.composer.dispose();
    this.options.drafts.set(this.chat.key, this.composer.draft);
    for (const off of this.offs) off();
    for (const block of this.mediaBlocks) block.dispose();
    this.resize.disconnect();
  }

  // ------------------------------------------------------------ drawing

  private draw(): void {
    if (this.disposed) return;
    const { chat, options } = this;
    const name = chatTitle(chat, options.directory);
    setIsolated(this.title, name);
    setChatPicture(this.avatar, chat, name, options.directory);
    const typing = typingText(chat, options.typingIndicators.typingIn({ kind: chat.kind, id: chat.id }), options.directory);
    setPhrase(this.subtitleEl, typing.length > 0 ? typing : this.subtitle());
    this.subtitleEl.classList.toggle('typing', typing.length > 0);
    this.stranger?.draw();

    this.drawHistoryTop();

    const justResolved = this.unread.find(chat.items, chat.older !== null);
    const anchor = this.pinned ? null : this.anchorRow();
    const anchorTop = anchor?.getBoundingClientRect().top ?? 0;
    const known = new Set(this.rows.keys());
    reconcile(
      this.list,
      chat.items,
      this.rows,
      (item) => item.key,
      (item) => this.createRow(item),
      (el, item, index) => this.updateRow(el, item, chat.items[index - 1]),
    );
    // Messages from others that arrive while the user reads further up count on the ↓ button
    // (only below the newest row there was: older history pages arrive above it).
    if (!this.pinned) this.unread.arrived(chat.items, known);
    if (justResolved) this.scrollToFirstUnread();
    else if (this.pinned) this.scrollToBottom(false);
    else if (anchor?.isConnected) this.scroller.scrollTop += anchor.getBoundingClientRect().top - anchorTop;
    this.updateJump();

    this.composer.form.hidden = chat.left;
    this.leftNote.hidden = !chat.left;

    // Not enough history to scroll yet: fetch more so infinite scroll can start. (Only when idle:
    // after a failure the user retries, or the app does on reconnect; no retry loop while offline.)
    // Or still at the top when a page arrived (a scroll to the top while it was loading was
    // ignored, and no further scroll event may come): the next page, as a scroll would ask.
    if (
      chat.history === 'idle' &&
      chat.older !== null &&
      // Still looking for the first unread message: it is further back.
      ((!this.unread.resolved && chat.older !== undefined) || this.scroller.scrollHeight <= this.scroller.clientHeight + BOTTOM_SLACK || this.scroller.scrollTop < LOAD_OLDER_AT)
    ) {
      void options.sync.loadHistory(chat.key, true);
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

  /** Below the name when nobody is typing: presence (1:1), else the number; members (groups). */
  private subtitle(): Phrase {
    const { chat, options } = this;
    if (chat.kind === 'direct') {
      const presence = options.presence.describe(chat.id);
      if (presence !== '') return [presence];
      const phone = options.directory.userPhone(chat.id);
      return phone === undefined ? [] : [formatPhone(phone)];
    }
    const members = options.directory.groupMembers(chat.id);
    if (members === undefined) return [];
    const names = members.filter((m) => m.userId !== options.store.me).map((m) => ({ isolate: options.directory.userName(m.userId) }));
    return [...names, 'You'].flatMap((part, i) => (i === 0 ? [part] : [', ', part]));
  }

  private drawHistoryTop(): void {
    const { chat } = this;
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
    return this.options.sync.loadHistory(this.chat.key, this.chat.older !== undefined);
  }

  private createRow(item: ChatItem): HTMLElement {
    return item.type === 'event' ? this.createEventRow(item) : this.createMessageRow(item);
  }

  private createEventRow(item: EventItem): HTMLElement {
    const chip = h('p', { class: 'event-chip', 'data-testid': 'event-text' });
    setPhrase(chip, describeGroupEvent(item.event, this.options.directory));
    return h('div', { class: 'row row-event', 'data-testid': 'event', 'data-key': item.key }, chip);
  }

  private createMessageRow(item: MessageItem): HTMLElement {
    const showSender = this.chat.kind === 'group' && !item.own;
    const media = isMediaBody(item.body) ? new MediaBlock(item.body, item.own ? item.clientId : null, this.options.media) : null;
    if (media !== null) this.mediaBlocks.add(media);
    const parts: MessageParts = {
      media,
      text: h('span', { class: 'text', 'data-testid': 'message-text', dir: 'auto' }),
      time: h('time', { class: 'time' }),
      spacer: h('span', { class: item.own ? 'meta-spacer own' : 'meta-spacer', 'aria-hidden': 'true' }),
      tick: item.own ? tickElement(item.tick ?? 'pending') : null,
      sender: showSender ? h('span', { class: 'sender', 'data-testid': 'message-sender' }) : null,
      error: item.own ? h('p', { class: 'send-error', role: 'alert', hidden: true }) : null,
    };
    if (parts.sender !== null) parts.sender.style.color = colorFor(item.from);
    const bubble = h(
      'div',
      { class: media === null ? 'bubble' : `bubble bubble-media bubble-${item.body.kind}` },
      parts.sender,
      media?.el,
      parts.text,
      // Reserves room for the time and tick on the last line (they sit in the bubble's corner).
      parts.spacer,
      h('span', { class: 'meta' }, parts.time, parts.tick),
    );
    const row = h(
      'div',
      { class: item.own ? 'row row-own' : 'row row-other', 'data-testid': 'message', 'data-key': item.key, 'data-own': item.own ? 'true' : 'false' },
      bubble,
      parts.error,
    );
    setLinkedText(parts.text, messageText(item));
    this.parts.set(row, parts);
    return row;
  }

  private updateRow(row: HTMLElement, item: ChatItem, previous: ChatItem | undefined): void {
    this.updateDivider(row, itemTime(item), previous === undefined ? null : itemTime(previous));
    updateUnreadDivider(row, item.key === this.unread.firstKey);
    if (item.type === 'event') {
      const chip = row.querySelector('.event-chip');
      if (chip !== null) setPhrase(chip, describeGroupEvent(item.event, this.options.directory));
      return;
    }
    const parts = this.parts.get(row);
    if (parts === undefined) return;
    setAttr(row, 'data-status', item.tick);
    setAttr(row, 'data-seq', item.seq);
    setText(parts.time, formatTime(item.at));
    setText(parts.spacer, parts.time.textContent ?? '');
    parts.time.dateTime = new Date(item.at).toISOString();
    if (parts.tick !== null && item.tick !== null) setTick(parts.tick, item.tick);
    if (parts.sender !== null) setIsolated(parts.sender, this.options.directory.userName(item.from));
    if (parts.media !== null && isMediaBody(item.body)) {
      parts.media.update(item.body);
      setLinkedText(parts.text, messageText(item));
      parts.text.hidden = parts.text.textContent === '';
      parts.text.parentElement?.classList.toggle('media-only', parts.text.hidden);
    }
    if (parts.error !== null) {
      parts.error.hidden = item.error === null;
      setText(parts.error, item.error === null ? '' : `Not sent: ${item.error}`);
    }
  }

  /** A "Today" / "Yesterday" / date divider above the first item of each day. */
  private updateDivider(row: HTMLElement, at: number, previousAt: number | null): void {
    const first = previousAt === null || dayOf(previousAt) !== dayOf(at);
    let divider = row.firstElementChild?.classList.contains('day-divider') ? (row.firstElementChild as HTMLElement) : null;
    if (!first) {
      divider?.remove();
      return;
    }
    if (divider === null) {
      divider = h('div', { class: 'day-divider', role: 'separator' }, h('span', {}));
      row.prepend(divider);
    }
    const label = divider.firstElementChild;
    if (label !== null) setText(label, formatDay(at));
  }

  // ------------------------------------------------------------ scrolling

  private distanceFromBottom(): number {
    return this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight;
  }

  private scrollToBottom(smooth: boolean): void {
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
    this.jump.hidden = this.pinned || (distance < 300 && count === 0);
    this.jumpCount.hidden = count === 0;
    setText(this.jumpCount, count > 99 ? '99+' : String(count));
    this.jump.setAttribute('aria-label', count === 0 ? 'Scroll to the newest message' : `Scroll to the newest message, ${count} unread`);
  }

  private onScroll(): void {
    const distance = this.distanceFromBottom();
    this.pinned = distance < BOTTOM_SLACK;
    this.updateJump();
    if (this.scroller.scrollTop < LOAD_OLDER_AT && this.chat.history === 'idle') void this.options.sync.loadHistory(this.chat.key, true);
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

/** The bubble's text: a text message, or a media message's caption (its media shows above). */
function messageText(item: MessageItem): string {
  if (isMediaBody(item.body)) return item.body.caption ?? '';
  return bodyText(item.body);
}

function itemTime(item: ChatItem): number {
  return item.type === 'message' ? item.at : item.event.at;
}
