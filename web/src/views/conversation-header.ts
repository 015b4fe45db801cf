/**
 * The open chat's header: Back (phones), the picture, the name, and below it what the
 * conversation draws there (typing, else presence or the number for 1:1 chats, else the members
 * of a group), and the buttons: search in this chat, group info.
 */
import type { Chat } from '../chat-store.ts';
import type { Phrase } from '../describe.ts';
import type { Directory } from '../directory.ts';
import { h } from '../dom.ts';
import { formatPhone } from '../format.ts';
import { icon } from '../icons.ts';
import type { PresenceSource } from '../presence.ts';
import { avatar } from './chat-list.ts';

export interface ConversationHeader {
  el: HTMLElement;
  title: HTMLElement;
  subtitle: HTMLElement;
  avatar: HTMLElement;
  /** "Search in this chat" (focus returns here when the search closes). */
  searchButton: HTMLButtonElement;
}

export function conversationHeader(chat: Chat, actions: { onBack(): void; onGroupInfo(): void; onSearch(): void }): ConversationHeader {
  const isGroup = chat.kind === 'group';
  const title = h('h2', { class: 'conversation-title', 'data-testid': 'conversation-title', id: `title-${chat.id}` });
  // Presence hook: the subtitle shows typing, else PresenceSource.describe() (presence.ts), else members.
  const subtitle = h('p', { class: 'conversation-subtitle', 'data-testid': 'conversation-subtitle', 'aria-live': 'polite' });
  const picture = avatar(chat.id, '', 'small');
  const headerText = h('div', { class: 'conversation-heading' }, title, subtitle);
  if (isGroup) {
    // A mouse shortcut to the group info; keyboard users have the info button next to it.
    headerText.classList.add('clickable');
    headerText.addEventListener('click', () => actions.onGroupInfo());
  }
  const searchButton = h(
    'button',
    { type: 'button', class: 'icon-button', 'aria-label': 'Search in this chat', title: 'Search in this chat', 'data-testid': 'chat-search-button', on: { click: () => actions.onSearch() } },
    icon('search'),
  );
  const el = h(
    'header',
    { class: 'conversation-header' },
    h(
      'button',
      { type: 'button', class: 'icon-button back-button', 'aria-label': 'Back to chats', title: 'Back to chats', 'data-testid': 'back-button', on: { click: () => actions.onBack() } },
      icon('back'),
    ),
    picture,
    headerText,
    searchButton,
    isGroup
      ? h(
          'button',
          { type: 'button', class: 'icon-button', 'aria-label': 'Group info', title: 'Group info', 'data-testid': 'group-info-button', on: { click: () => actions.onGroupInfo() } },
          icon('info'),
        )
      : null,
  );
  return { el, title, subtitle, avatar: picture, searchButton };
}

/** Below the name when nobody is typing: presence (1:1), else the number; members (groups). */
export function headerSubtitle(chat: Chat, options: { presence: PresenceSource; directory: Directory; store: { me: string } }): Phrase {
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
