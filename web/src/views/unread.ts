/**
 * Dividers and unread messages in an open conversation: the day dividers, where the "Unread
 * messages" divider goes (above the message that was the oldest unread when the chat was opened,
 * found once enough history is loaded), and which messages from others are still below the view
 * (the count on the ↓ button).
 */
import type { ChatItem } from '../chat-store.ts';
import { h, setText } from '../dom.ts';
import { dayOf, formatDay } from '../format.ts';

export class UnreadTracker {
  /** The first unread message's key, once found in the loaded items. */
  firstKey: string | null = null;
  /** Whether the search for the first unread is over (found, or nothing was unread). */
  resolved: boolean;
  /** Messages from others not yet scrolled into view. */
  private readonly unseen = new Set<string>();

  /** `unreadAtOpen`: the chat's unread count when it was opened (it is marked read right after). */
  constructor(private readonly unreadAtOpen: number) {
    this.resolved = unreadAtOpen === 0;
  }

  get count(): number {
    return this.unseen.size;
  }

  /**
   * Look for the first unread message (the `unreadAtOpen`-th from others, counted from the
   * newest). True when it was found just now: the view then scrolls to it instead of to the
   * bottom. `more`: whether older history can still be loaded.
   */
  find(items: readonly ChatItem[], more: boolean): boolean {
    if (this.resolved) return false;
    let count = 0;
    let earliest: string | null = null;
    for (let i = items.length - 1; i >= 0; i--) {
      const item = items[i];
      if (item?.type !== 'message' || item.own) continue;
      count += 1;
      earliest = item.key;
      if (count === this.unreadAtOpen) break;
    }
    // Not enough loaded yet: wait for older pages (the view asks for them), unless this is the start.
    if (count < this.unreadAtOpen && more) return false;
    this.resolved = true;
    this.firstKey = earliest;
    if (earliest === null) return false;
    let from = false;
    for (const item of items) {
      if (item.key === earliest) from = true;
      if (from && item.type === 'message' && !item.own) this.unseen.add(item.key);
    }
    return true;
  }

  /** Messages from others that arrived below the newest row there was (`known`): unseen until scrolled to. */
  arrived(items: readonly ChatItem[], known: ReadonlySet<string>): void {
    if (known.size === 0) return;
    for (let i = items.length - 1; i >= 0; i--) {
      const item = items[i];
      if (item === undefined || known.has(item.key)) break;
      if (item.type === 'message' && !item.own) this.unseen.add(item.key);
    }
  }

  /** Forget those whose row's top is in view above `bottom` (or that are gone). */
  seen(rowOf: (key: string) => HTMLElement | undefined, bottom: number): void {
    for (const key of this.unseen) {
      const row = rowOf(key);
      if (row === undefined || row.getBoundingClientRect().top < bottom - 8) this.unseen.delete(key);
    }
  }

  clear(): void {
    this.unseen.clear();
  }
}

/** "Unread messages" above the first message that was unread when the chat was opened (after its day divider). */
export function updateUnreadDivider(row: HTMLElement, first: boolean): void {
  const existing = row.querySelector(':scope > .unread-divider');
  if (!first) {
    existing?.remove();
    return;
  }
  if (existing !== null) return;
  const divider = h('div', { class: 'unread-divider', role: 'separator', 'data-testid': 'unread-divider' }, h('span', {}, 'Unread messages'));
  const after = row.firstElementChild?.classList.contains('day-divider') ? row.firstElementChild.nextSibling : row.firstChild;
  row.insertBefore(divider, after);
}

/** A "Today" / "Yesterday" / date divider above the first item of each day. */
export function updateDayDivider(row: HTMLElement, at: number, previousAt: number | null): void {
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
