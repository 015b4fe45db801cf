/**
 * The top of the sidebar: the user's own picture and name (the phone number until the profile is
 * known) and the toolbar (search, new chat, new group, starred messages, settings, log out). What the
 * buttons open is the app's business (app.ts): this view only says which was clicked.
 */
import type { Directory } from '../directory.ts';
import { h, setIsolated } from '../dom.ts';
import { formatPhone } from '../format.ts';
import { icon } from '../icons.ts';
import { setPicture } from '../media/avatars.ts';
import { avatar } from './chat-list.ts';

export interface SidebarHeaderOptions {
  directory: Directory;
  userId: string;
  phone: string;
  onSearch(): void;
  onNewChat(): void;
  onNewGroup(): void;
  onStarred(): void;
  onSettings(): void;
  onLogout(): void;
}

export class SidebarHeader {
  readonly el: HTMLElement;
  /** Focus goes back here when the settings close. */
  readonly settingsButton: HTMLButtonElement;
  /** Focus goes back here when the search closes. */
  readonly searchButton: HTMLButtonElement;

  constructor(options: SidebarHeaderOptions) {
    const { directory, userId, phone } = options;
    const meName = h('span', { class: 'me-name', 'data-testid': 'me-name' });
    setIsolated(meName, formatPhone(phone));
    const meAvatar = avatar(userId, phone);
    const iconButton = (label: string, testId: string, name: Parameters<typeof icon>[0], onClick: () => void): HTMLButtonElement =>
      h('button', { type: 'button', class: 'icon-button', 'aria-label': label, title: label, 'data-testid': testId, on: { click: onClick } }, icon(name));
    this.searchButton = iconButton('Search messages', 'search-button', 'search', () => options.onSearch());
    this.settingsButton = iconButton('Settings', 'settings-button', 'settings', () => options.onSettings());
    this.el = h(
      'header',
      { class: 'sidebar-header' },
      meAvatar,
      meName,
      h(
        'div',
        { class: 'toolbar' },
        this.searchButton,
        iconButton('New chat', 'new-chat-button', 'newChat', () => options.onNewChat()),
        iconButton('New group', 'new-group-button', 'group', () => options.onNewGroup()),
        iconButton('Starred messages', 'starred-button', 'star', () => options.onStarred()),
        this.settingsButton,
        iconButton('Log out', 'logout-button', 'logout', () => options.onLogout()),
      ),
    );
    // Drawn now from the cached profile too: after a reload GET /v1/me usually brings nothing new,
    // so no 'changed' follows, and the header must not stay at the raw number.
    const drawMe = (): void => {
      const name = directory.userName(userId);
      const shown = name === 'Unknown user' ? formatPhone(phone) : name;
      setIsolated(meName, shown);
      setPicture(meAvatar, directory.userPhoto(userId), shown);
    };
    directory.on('changed', drawMe);
    drawMe();
  }
}
