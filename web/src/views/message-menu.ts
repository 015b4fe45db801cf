/**
 * The message menu (the chevron on a bubble, a right click, or a long press on phones): a row of
 * quick reactions with "+" for a small picker, then the actions (reply, copy, forward, star,
 * edit, info, delete). A `role="menu"` popup: arrow keys move, Enter / Space choose, Escape or
 * Tab or a click elsewhere close it, and focus returns to where it was.
 */
import { h } from '../dom.ts';
import { MORE_REACTIONS, QUICK_REACTIONS } from './reactions.ts';

export interface MenuEntry {
  label: string;
  /** data-testid of the item (`menu-reply`, …). */
  testId: string;
  run(): void;
  /** Shown in red (delete). */
  danger?: boolean;
}

export interface MessageMenuOptions {
  /** Focus returns here; the menu is placed below it when `at` is null. */
  opener: HTMLElement;
  /** Where the pointer was (right click, long press). */
  at: { x: number; y: number } | null;
  /** The reaction row, or null when the message cannot get one (pending, deleted). */
  reactions: { current: string | null; choose(emoji: string | null): void } | null;
  entries: readonly MenuEntry[];
  /** The menu's accessible name and test id (default: a message's). */
  label?: string;
  testId?: string;
}

/** Distance kept from the window's edges, px. */
const EDGE = 8;

let closeOpen: (() => void) | null = null;

/** Close the open message menu, if any. */
export function closeMessageMenu(): void {
  closeOpen?.();
}

/** Whether a message menu is open. */
export function messageMenuOpen(): boolean {
  return closeOpen !== null;
}

export function openMessageMenu(options: MessageMenuOptions): void {
  closeMessageMenu();
  const { opener } = options;
  const lifetime = new AbortController();
  const menu = h('div', { class: 'message-menu', role: 'menu', 'aria-label': options.label ?? 'Message options', 'data-testid': options.testId ?? 'message-menu', tabindex: -1 });

  const close = (refocus = true): void => {
    if (closeOpen !== close) return;
    closeOpen = null;
    lifetime.abort();
    menu.remove();
    if (opener.hasAttribute('aria-haspopup')) opener.setAttribute('aria-expanded', 'false');
    if (refocus && opener.isConnected) opener.focus({ preventScroll: true });
  };
  const choose = (run: () => void) => () => {
    close();
    run();
  };

  if (options.reactions !== null) {
    const { current, choose: react } = options.reactions;
    const bar = h('div', { class: 'reaction-bar', role: 'group', 'aria-label': 'React' });
    const emojiButton = (emoji: string, testId: string): HTMLButtonElement =>
      h(
        'button',
        {
          type: 'button',
          class: emoji === current ? 'reaction-choice chosen' : 'reaction-choice',
          role: 'menuitemradio',
          'aria-checked': emoji === current ? 'true' : 'false',
          'aria-label': emoji === current ? `${emoji} (your reaction: choose again to remove)` : `React ${emoji}`,
          'data-testid': testId,
          'data-emoji': emoji,
          tabindex: -1,
          // Choosing one's current reaction again takes it back (as WhatsApp does).
          on: { click: choose(() => react(emoji === current ? null : emoji)) },
        },
        emoji,
      );
    const more = h('button', { type: 'button', class: 'reaction-choice more', role: 'menuitem', 'aria-label': 'More reactions', title: 'More reactions', 'aria-expanded': 'false', 'data-testid': 'react-more', tabindex: -1 }, '+');
    bar.append(...QUICK_REACTIONS.map((emoji) => emojiButton(emoji, 'react-quick')), more);
    const picker = h('div', { class: 'reaction-picker', role: 'group', 'aria-label': 'More reactions', 'data-testid': 'reaction-picker', hidden: true });
    picker.append(...MORE_REACTIONS.map((emoji) => emojiButton(emoji, 'react-pick')));
    more.addEventListener('click', () => {
      picker.hidden = !picker.hidden;
      more.setAttribute('aria-expanded', picker.hidden ? 'false' : 'true');
      place();
      if (!picker.hidden) picker.querySelector<HTMLElement>('button')?.focus();
    });
    menu.append(bar, picker);
  }
  const list = h('div', { class: 'menu-items' });
  for (const entry of options.entries) {
    list.append(
      h(
        'button',
        { type: 'button', class: entry.danger === true ? 'menu-item menu-danger' : 'menu-item', role: 'menuitem', 'data-testid': entry.testId, tabindex: -1, on: { click: choose(entry.run) } },
        entry.label,
      ),
    );
  }
  menu.append(list);
  document.body.append(menu);

  function place(): void {
    const box = menu.getBoundingClientRect();
    const anchor = options.at ?? (() => {
      const r = opener.getBoundingClientRect();
      return { x: r.right - box.width, y: r.bottom + 4 };
    })();
    let left = anchor.x;
    let top = anchor.y;
    if (top + box.height > window.innerHeight - EDGE) top = Math.max(EDGE, (options.at?.y ?? opener.getBoundingClientRect().top) - box.height - 4);
    left = Math.min(Math.max(EDGE, left), window.innerWidth - box.width - EDGE);
    top = Math.min(Math.max(EDGE, top), window.innerHeight - box.height - EDGE);
    menu.style.left = `${Math.round(left)}px`;
    menu.style.top = `${Math.round(top)}px`;
  }
  place();

  const items = (): HTMLElement[] => [...menu.querySelectorAll<HTMLElement>('[role^="menuitem"]')].filter((el) => el.offsetParent !== null);
  menu.addEventListener('keydown', (event) => {
    const all = items();
    const index = all.indexOf(document.activeElement as HTMLElement);
    const inRow = (document.activeElement as Element | null)?.closest('.reaction-bar, .reaction-picker') !== null;
    let next: number | null = null;
    if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      close();
      return;
    }
    if (event.key === 'Tab') {
      event.preventDefault();
      close();
      return;
    }
    if (event.key === 'ArrowDown') next = inRow ? firstAfterRow(all, index) : index + 1;
    else if (event.key === 'ArrowUp') next = index - 1;
    else if (event.key === 'ArrowRight' && inRow) next = index + 1;
    else if (event.key === 'ArrowLeft' && inRow) next = index - 1;
    else if (event.key === 'Home') next = 0;
    else if (event.key === 'End') next = all.length - 1;
    if (next === null) return;
    event.preventDefault();
    all[(next + all.length) % all.length]?.focus();
  });
  // A click or touch elsewhere, the user scrolling (not the view following a new message), or a
  // resized window closes it.
  const outside = (event: Event): void => {
    if (!menu.contains(event.target as Node)) close(false);
  };
  for (const type of ['pointerdown', 'wheel', 'touchmove'] as const) document.addEventListener(type, outside, { capture: true, passive: true, signal: lifetime.signal });
  window.addEventListener('resize', () => close(false), { signal: lifetime.signal });
  closeOpen = close;
  if (opener.hasAttribute('aria-haspopup')) opener.setAttribute('aria-expanded', 'true');
  // The first action (Reply) has focus; the reactions are one ArrowUp away.
  const first = menu.querySelector<HTMLElement>('.menu-item') ?? items()[0];
  first?.focus({ preventScroll: true });
}

/** ArrowDown from the reaction row goes to the first action below it. */
function firstAfterRow(all: HTMLElement[], index: number): number {
  for (let i = index + 1; i < all.length; i++) if (all[i]?.classList.contains('menu-item')) return i;
  return index + 1;
}
