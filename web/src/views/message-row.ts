/**
 * One message row of a conversation: the bubble (sender in groups, "Forwarded", the quoted
 * message, media, text or a tombstone, then ★ / "edited" / time / tick in its corner), the
 * reactions under it, a send error, and the chevron beside it that opens the message menu. Created once per
 * message and updated in place as the message changes (ticks, edits, reactions, deletion).
 */
import { FORWARDED_MANY_TIMES, isMediaBody } from '../../../protocol/index.ts';
import { isDeleted, type Chat, type MessageItem } from '../chat-store.ts';
import type { Directory } from '../directory.ts';
import { h, setAttr, setIsolated, setText } from '../dom.ts';
import { bodyText, colorFor, formatDateTime, formatTime, tombstoneText } from '../format.ts';
import { icon } from '../icons.ts';
import { setLinkedText } from '../links.ts';
import { MediaBlock, type MediaContext } from '../media/bubble.ts';
import { drawQuote, quoteBlock, type QuoteParts } from './quote.ts';
import { drawReactions } from './reactions.ts';
import { setTick, tickElement } from './ticks.ts';

/** What rows need from their conversation. */
export interface RowContext {
  chat: Chat;
  directory: Directory;
  media: MediaContext;
  /** Open the message menu of the row's message at the chevron (`at` null) or at a point (right click, long press). */
  openMenu(item: MessageItem, opener: HTMLElement, at: { x: number; y: number } | null): void;
  /** Show the quoted message (scrolling back through history if needed). */
  showQuoted(id: string): void;
  /** Set (emoji) or remove (null) the user's reaction. */
  react(item: MessageItem, emoji: string | null): void;
}

interface MessageParts {
  item: MessageItem;
  bubble: HTMLElement;
  text: HTMLElement;
  /** 🚫 before a tombstone's words. */
  deletedIcon: HTMLElement;
  forwarded: HTMLElement;
  quote: QuoteParts;
  time: HTMLTimeElement;
  edited: HTMLElement;
  star: HTMLElement;
  /** An invisible copy of the corner (★, "edited", time) that keeps the last line of text clear of it (any clock format). */
  spacer: HTMLElement;
  tick: HTMLElement | null;
  sender: HTMLElement | null;
  error: HTMLElement | null;
  /** Photo, video, voice note or document (the text is then its caption). */
  media: MediaBlock | null;
  reactions: HTMLElement;
  menuButton: HTMLButtonElement;
  /** The text drawn last (links are built only when it changes). */
  shownText: string;
}

/** A touch held this long opens the menu (phones). */
const LONG_PRESS_MS = 500;
/** A touch that moves this far is a scroll, not a long press, px. */
const LONG_PRESS_SLOP = 10;

const rowParts = new WeakMap<HTMLElement, MessageParts>();

/** The message a row shows now. */
export function itemOfRow(row: Element): MessageItem | undefined {
  return rowParts.get(row as HTMLElement)?.item;
}

export function createMessageRow(item: MessageItem, context: RowContext): HTMLElement {
  const showSender = context.chat.kind === 'group' && !item.own;
  const media = isMediaBody(item.body) ? new MediaBlock(item.body, item.own ? item.clientId : null, context.media) : null;
  const quote = quoteBlock('bubble', () => {
    const id = parts.item.replyTo?.id;
    if (id !== undefined) context.showQuoted(id);
  });
  const menuButton = h(
    'button',
    { type: 'button', class: 'message-menu-button', 'aria-label': 'Message options', title: 'Message options', 'aria-haspopup': 'menu', 'data-testid': 'message-menu-button' },
    icon('down'),
  );
  const parts: MessageParts = {
    item,
    media,
    quote,
    menuButton,
    bubble: h('div', {}),
    text: h('span', { class: 'text', 'data-testid': 'message-text', dir: 'auto' }),
    deletedIcon: h('span', { class: 'deleted-icon', 'aria-hidden': 'true', hidden: true }, '🚫'),
    forwarded: h('span', { class: 'forwarded', 'data-testid': 'forwarded', hidden: true }),
    time: h('time', { class: 'time' }),
    edited: h('span', { class: 'edited', 'data-testid': 'edited', hidden: true }, 'edited'),
    star: h('span', { class: 'star', 'data-testid': 'star', role: 'img', 'aria-label': 'Starred', title: 'Starred', hidden: true }, '★'),
    spacer: h('span', { class: item.own ? 'meta-spacer own' : 'meta-spacer', 'aria-hidden': 'true' }),
    tick: item.own ? tickElement(item.tick ?? 'pending') : null,
    sender: showSender ? h('span', { class: 'sender', 'data-testid': 'message-sender' }) : null,
    error: item.own ? h('p', { class: 'send-error', role: 'alert', hidden: true }) : null,
    reactions: h('div', { class: 'reactions', 'data-testid': 'reactions', hidden: true }),
    shownText: messageText(item, context.directory.me),
  };
  if (parts.sender !== null) parts.sender.style.color = colorFor(item.from);
  quote.el.hidden = true;
  parts.bubble = h(
    'div',
    { class: media === null ? 'bubble' : `bubble bubble-media bubble-${item.body.kind}` },
    parts.sender,
    parts.forwarded,
    quote.el,
    media?.el,
    parts.deletedIcon,
    parts.text,
    // Reserves room for the corner on the last line (it sits in the bubble's corner).
    parts.spacer,
    h('span', { class: 'meta' }, parts.star, parts.edited, parts.time, parts.tick),
  );
  const row = h(
    'div',
    { class: item.own ? 'row row-own' : 'row row-other', 'data-testid': 'message', 'data-key': item.key, 'data-own': item.own ? 'true' : 'false' },
    // The chevron sits beside the bubble (not over its text or time).
    h('div', { class: 'bubble-line' }, parts.bubble, menuButton),
    parts.reactions,
    parts.error,
  );
  menuButton.addEventListener('click', (event) => {
    event.stopPropagation();
    context.openMenu(parts.item, menuButton, null);
  });
  parts.bubble.addEventListener('contextmenu', (event) => {
    // A link or a selection keeps the browser's own menu (open in a new tab, copy).
    if ((event.target as Element).closest('a') !== null || (getSelection()?.toString() ?? '') !== '') return;
    event.preventDefault();
    context.openMenu(parts.item, menuButton, { x: event.clientX, y: event.clientY });
  });
  longPress(parts.bubble, (x, y) => context.openMenu(parts.item, menuButton, { x, y }));
  rowParts.set(row, parts);
  setLinkedText(parts.text, parts.shownText);
  return row;
}

/** The media block of a row (the conversation disposes of them). */
export function mediaOfRow(row: HTMLElement): MediaBlock | null {
  return rowParts.get(row)?.media ?? null;
}

export function updateMessageRow(row: HTMLElement, item: MessageItem, context: RowContext): void {
  const parts = rowParts.get(row);
  if (parts === undefined) return;
  parts.item = item;
  const { directory } = context;
  const deleted = isDeleted(item.body);
  setAttr(row, 'data-status', item.tick);
  setAttr(row, 'data-seq', item.seq);
  setAttr(row, 'data-id', item.id);
  setAttr(row, 'data-deleted', deleted ? 'true' : null);
  setAttr(row, 'data-starred', item.starred ? 'true' : null);
  setText(parts.time, formatTime(item.at));
  parts.time.dateTime = new Date(item.at).toISOString();
  parts.time.title = formatDateTime(item.at);
  if (parts.tick !== null) {
    parts.tick.hidden = deleted;
    if (item.tick !== null) setTick(parts.tick, item.tick);
  }
  if (parts.sender !== null) setIsolated(parts.sender, directory.userName(item.from));
  parts.star.hidden = !item.starred;
  parts.edited.hidden = item.editedAt === null || deleted;
  if (item.editedAt !== null) parts.edited.title = `Edited ${formatDateTime(item.editedAt)}`;
  drawSpacer(parts);

  // "Forwarded" / "Forwarded many times".
  parts.forwarded.hidden = item.forwarded === 0 || deleted;
  setText(parts.forwarded, item.forwarded >= FORWARDED_MANY_TIMES ? '↪↪ Forwarded many times' : '↪ Forwarded');
  parts.quote.el.hidden = item.replyTo === null || deleted;
  if (item.replyTo !== null) drawQuote(parts.quote, item.replyTo, directory);

  parts.bubble.classList.toggle('deleted', deleted);
  parts.deletedIcon.hidden = !deleted;
  if (deleted && parts.media !== null) {
    // Its media is gone everywhere (the grant revoked): drop the player or picture.
    parts.media.dispose();
    parts.media.el.remove();
    parts.bubble.className = 'bubble deleted';
    parts.media = null;
  }
  if (parts.media !== null && isMediaBody(item.body)) parts.media.update(item.body);
  // Items change in place (an edit, a deletion): compare with what is shown.
  const text = messageText(item, directory.me);
  if (parts.shownText !== text) {
    parts.shownText = text;
    setLinkedText(parts.text, text);
  }
  parts.text.classList.toggle('tombstone', deleted);
  if (parts.media !== null) {
    parts.text.hidden = parts.text.textContent === '';
    parts.bubble.classList.toggle('media-only', parts.text.hidden);
  } else parts.text.hidden = false;

  drawReactions(parts.reactions, deleted ? [] : item.reactions, directory, (emoji) => context.react(parts.item, emoji));
  parts.menuButton.hidden = item.id === null && item.tick !== 'failed';
  if (parts.error !== null) {
    parts.error.hidden = item.error === null;
    setText(parts.error, item.error === null ? '' : `Not sent: ${item.error}`);
  }
}

/** The spacer copies the corner's visible parts (same font, same gaps), so it is exactly as wide. */
function drawSpacer(parts: MessageParts): void {
  const shown = [parts.star.hidden ? '' : '★', parts.edited.hidden ? '' : 'edited', parts.time.textContent ?? ''].filter((t) => t !== '');
  const key = shown.join('|');
  if (parts.spacer.dataset.shown === key) return;
  parts.spacer.dataset.shown = key;
  parts.spacer.replaceChildren(...shown.map((t) => h('span', {}, t)));
}

/** The bubble's text: a text message, a media message's caption (its media shows above), or a tombstone's words. */
export function messageText(item: MessageItem, me: string): string {
  if (isDeleted(item.body)) return tombstoneText(item.body, item.from, me);
  if (isMediaBody(item.body)) return item.body.caption ?? '';
  return bodyText(item.body);
}

/** Call `open` when a touch rests on `el` for LONG_PRESS_MS without moving (phones' context menu). */
function longPress(el: HTMLElement, open: (x: number, y: number) => void): void {
  let timer: number | undefined;
  let start: { x: number; y: number } | null = null;
  const cancel = (): void => {
    if (timer !== undefined) window.clearTimeout(timer);
    timer = undefined;
    start = null;
  };
  el.addEventListener('pointerdown', (event) => {
    if (event.pointerType !== 'touch') return;
    start = { x: event.clientX, y: event.clientY };
    const at = start;
    timer = window.setTimeout(() => {
      timer = undefined;
      open(at.x, at.y);
    }, LONG_PRESS_MS);
  });
  el.addEventListener('pointermove', (event) => {
    if (start !== null && Math.hypot(event.clientX - start.x, event.clientY - start.y) > LONG_PRESS_SLOP) cancel();
  });
  for (const type of ['pointerup', 'pointercancel', 'pointerleave'] as const) el.addEventListener(type, cancel);
}
