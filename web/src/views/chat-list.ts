/**
 * The chat list: every 1:1 chat and group, most recent activity first, with the newest message
 * (or "typing…"), its time, the tick of one's own last message and the unread count (or a dot for
 * a chat marked unread). Arrow keys move between chats; Enter opens one. Each chat has a menu
 * (its chevron, a right click, a long press, or the context-menu key): mark as unread / read.
 */
import type { TypingIndicators } from '../../../client/index.ts';
import type { Chat, ChatStore } from '../chat-store.ts';
import { describeGroupEvent, typingText, type Phrase } from '../describe.ts';
import type { Directory } from '../directory.ts';
import { frameScheduler, h, reconcile, setAttr, setIsolated, setPhrase, setText } from '../dom.ts';
import { bodyText, colorFor, formatListTime, tombstoneText } from '../format.ts';
import { setChatPicture, setPicture } from '../media/avatars.ts';
import type { Sync } from '../sync.ts';
import { icon } from '../icons.ts';
import { openMessageMenu } from './message-menu.ts';
import { setTick, tickElement } from './ticks.ts';

export interface ChatListOptions {
  store: ChatStore;
  directory: Directory;
  sync: Sync;
  /** The SDK's "who is typing where". */
  typing: TypingIndicators;
  onOpen(key: string): void;
  /** Mark a chat unread (the dot) or clear the mark. */
  markUnread(chat: Chat, unread: boolean): void;
}

/** Title of a chat: the peer's name or the group's title. */
export function chatTitle(chat: Pick<Chat, 'kind' | 'id'>, directory: Directory): string {
  return chat.kind === 'direct' ? directory.userName(chat.id) : directory.groupTitle(chat.id);
}

/**
 * An avatar circle with the profile photo or group picture (media id `photo`) or else initials
 * (decorative: the name is next to it).
 */
export function avatar(id: string, name: string, size: 'small' | 'large' = 'small', photo: string | null = null): HTMLElement {
  const el = h('span', { class: `avatar avatar-${size}`, 'aria-hidden': 'true' });
  el.style.backgroundColor = colorFor(id);
  setPicture(el, photo, name);
  return el;
}

interface RowParts {
  button: HTMLButtonElement;
  avatar: HTMLElement;
  title: HTMLElement;
  time: HTMLTimeElement;
  tick: HTMLElement;
  preview: HTMLElement;
  badge: HTMLElement;
  menu: HTMLButtonElement;
}

export class ChatListView {
  readonly el: HTMLElement;
  private readonly list: HTMLUListElement;
  private readonly empty: HTMLElement;
  private readonly rows = new Map<string, HTMLElement>();
  private readonly parts = new WeakMap<HTMLElement, RowParts>();
  private readonly options: ChatListOptions;
  private active: string | null = null;
  readonly render: () => void;

  constructor(options: ChatListOptions) {
    this.options = options;
    this.list = h('ul', { class: 'chat-list', role: 'list', 'data-testid': 'chat-list', 'aria-label': 'Chats' });
    this.empty = h(
      'p',
      { class: 'chat-list-empty', 'data-testid': 'chat-list-empty' },
      'No chats yet. Start one with the + button, or create a group.',
    );
    this.el = h('nav', { class: 'chat-list-scroller', 'aria-label': 'Chat list' }, this.list, this.empty);
    this.render = frameScheduler(() => this.draw());
    this.list.addEventListener('keydown', (event) => this.onKey(event));
    this.el.addEventListener('scroll', () => {
      if (this.el.scrollTop + this.el.clientHeight > this.el.scrollHeight - 200 && options.sync.moreChats) {
        void options.sync.loadConversations(true);
      }
    });
    options.store.on('changed', this.render);
    options.directory.on('changed', this.render);
    options.typing.on('change', this.render);
    this.draw();
  }

  /** Highlight the open chat. */
  setActive(key: string | null): void {
    this.active = key;
    this.render();
  }

  /** Move keyboard focus to a chat's row (e.g. after closing it). */
  focus(key: string | null): void {
    const row = key === null ? undefined : this.rows.get(key);
    const target = row ?? this.list.querySelector('li');
    this.parts.get(target as HTMLElement)?.button.focus();
  }

  dispose(): void {
    this.options.store.off('changed', this.render);
    this.options.directory.off('changed', this.render);
    this.options.typing.off('change', this.render);
  }

  private draw(): void {
    const chats = this.options.store.list();
    this.empty.hidden = chats.length > 0;
    reconcile(
      this.list,
      chats,
      this.rows,
      (chat) => chat.key,
      (chat) => this.createRow(chat),
      (el, chat) => this.updateRow(el, chat),
    );
  }

  private createRow(chat: Chat): HTMLElement {
    const name = chatTitle(chat, this.options.directory);
    const parts: RowParts = {
      button: h('button', {
        type: 'button',
        class: 'chat-item',
        'data-testid': 'chat-item',
        'data-chat': chat.key,
        'data-kind': chat.kind,
        on: { click: () => this.options.onOpen(chat.key) },
      }),
      avatar: avatar(chat.id, name),
      title: h('span', { class: 'chat-title', 'data-testid': 'chat-title' }),
      time: h('time', { class: 'chat-time', 'data-testid': 'chat-time' }),
      tick: tickElement('sent'),
      preview: h('span', { class: 'chat-preview-text', 'data-testid': 'chat-preview' }),
      badge: h('span', { class: 'badge', 'data-testid': 'unread-badge' }),
      menu: h('button', { type: 'button', class: 'chat-menu-button', 'aria-label': 'Chat options', title: 'Chat options', 'aria-haspopup': 'menu', 'data-testid': 'chat-menu-button' }, icon('down')),
    };
    parts.button.append(
      parts.avatar,
      h(
        'span',
        { class: 'chat-main' },
        h('span', { class: 'chat-line' }, parts.title, parts.time),
        h('span', { class: 'chat-line' }, h('span', { class: 'chat-preview' }, parts.tick, parts.preview), parts.badge),
      ),
    );
    const row = h('li', { class: 'chat-row' }, parts.button, parts.menu);
    this.parts.set(row, parts);
    parts.menu.addEventListener('click', () => this.openMenu(chat.key, parts.menu, null));
    parts.button.addEventListener('contextmenu', (event) => {
      event.preventDefault();
      // The context-menu key (no pointer position) opens it at the chevron.
      this.openMenu(chat.key, parts.menu, event.button === 2 || event.clientX !== 0 ? { x: event.clientX, y: event.clientY } : null);
    });
    return row;
  }

  private updateRow(row: HTMLElement, chat: Chat): void {
    const parts = this.parts.get(row);
    if (parts === undefined) return;
    const { directory, store } = this.options;
    const name = chatTitle(chat, directory);
    setIsolated(parts.title, name);
    setChatPicture(parts.avatar, chat, name, directory);
    setAttr(parts.button, 'aria-current', chat.key === this.active ? 'true' : null);

    const last = store.last(chat);
    const typing = typingText(chat, this.options.typing.typingIn({ kind: chat.kind, id: chat.id }), directory);
    let preview: Phrase = [];
    let own = false;
    if (last?.type === 'message') {
      own = last.own;
      const text = { isolate: last.body.kind === 'deleted' ? `🚫 ${tombstoneText(last.body, last.from, store.me)}` : bodyText(last.body) };
      preview = chat.kind === 'group' && !last.own ? [{ isolate: directory.userName(last.from).split(' ')[0] ?? '' }, ': ', text] : [text];
      if (last.own && last.tick !== null) setTick(parts.tick, last.tick);
    } else if (last?.type === 'event') {
      preview = describeGroupEvent(last.event, directory);
    }
    const typingNow = typing.length > 0;
    parts.tick.hidden = typingNow || !own;
    setPhrase(parts.preview, typingNow ? typing : preview);
    parts.preview.classList.toggle('typing', typingNow);

    const at = last === null ? null : last.type === 'message' ? last.at : last.event.at;
    setText(parts.time, at === null ? '' : formatListTime(at));
    if (at !== null) parts.time.dateTime = new Date(at).toISOString();
    const marked = chat.unread === 0 && chat.markedUnread;
    parts.time.classList.toggle('unread', chat.unread > 0 || marked);

    parts.badge.hidden = chat.unread === 0 && !marked;
    parts.badge.classList.toggle('dot', marked);
    setAttr(parts.badge, 'data-marked', marked ? 'true' : null);
    setText(parts.badge, marked ? '' : chat.unread > 99 ? '99+' : String(chat.unread));
    setAttr(parts.badge, 'aria-label', marked ? 'Marked as unread' : chat.unread === 1 ? '1 unread message' : `${chat.unread} unread messages`);
  }

  private openMenu(key: string, opener: HTMLElement, at: { x: number; y: number } | null): void {
    const chat = this.options.store.chat(key);
    const unread = chat.unread > 0 || chat.markedUnread;
    openMessageMenu({
      opener,
      at,
      label: 'Chat options',
      testId: 'chat-menu',
      reactions: null,
      entries: [
        unread
          ? { label: 'Mark as read', testId: 'menu-mark-read', run: () => this.options.markUnread(chat, false) }
          : { label: 'Mark as unread', testId: 'menu-mark-unread', run: () => this.options.markUnread(chat, true) },
      ],
    });
  }

  private onKey(event: KeyboardEvent): void {
    if (!['ArrowDown', 'ArrowUp', 'Home', 'End'].includes(event.key)) return;
    const buttons = [...this.list.querySelectorAll<HTMLButtonElement>('.chat-item')];
    if (buttons.length === 0) return;
    const index = buttons.indexOf(document.activeElement as HTMLButtonElement);
    const next =
      event.key === 'Home' ? 0 : event.key === 'End' ? buttons.length - 1 : event.key === 'ArrowDown' ? Math.min(index + 1, buttons.length - 1) : Math.max(index - 1, 0);
    buttons[next]?.focus();
    event.preventDefault();
  }
}
