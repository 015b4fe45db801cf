/**
 * Profile photos and group pictures in the avatar circles (views/chat-list.ts `avatar()`): the
 * picture from a signed URL when there is one, the initials otherwise (also while it loads, and
 * for good when it cannot be loaded).
 */
import type { Chat } from '../chat-store.ts';
import type { Directory } from '../directory.ts';
import { h, setText } from '../dom.ts';
import { initials } from '../format.ts';
import type { SignedUrls } from './urls.ts';

interface Shown {
  mediaId: string | null;
  stop: () => void;
}

const shown = new WeakMap<HTMLElement, Shown>();

/** The session's signed URLs (set by the app at start, cleared at logout). */
let sessionUrls: SignedUrls | null = null;

/** Use `urls` for every picture from now on (null: initials only). */
export function usePictureUrls(urls: SignedUrls | null): void {
  sessionUrls = urls;
}

/**
 * Show `mediaId`'s picture in avatar `el`, or `name`'s initials when it is null (or fails).
 * Only touches the DOM when something changed.
 */
export function setPicture(el: HTMLElement, mediaId: string | null, name: string, urls: SignedUrls | null = sessionUrls): void {
  const current = shown.get(el);
  if (current !== undefined && current.mediaId === mediaId && mediaId !== null) return;
  if (current !== undefined && current.mediaId !== mediaId) current.stop();
  if (mediaId === null || urls === null) {
    shown.set(el, { mediaId: null, stop: () => undefined });
    el.classList.remove('has-photo');
    if (el.querySelector('img') !== null) el.replaceChildren();
    setText(el, initials(name));
    return;
  }
  const img = h('img', { class: 'avatar-img', alt: '', 'data-testid': 'avatar-img' });
  const label = initials(name);
  // Initials until the picture is there; back to them if it cannot be loaded.
  setText(el, label);
  img.addEventListener('load', () => {
    if (shown.get(el)?.mediaId !== mediaId) return; // replaced meanwhile
    el.replaceChildren(img);
    el.classList.add('has-photo');
  });
  const stop = urls.attach(img, mediaId, () => {
    if (shown.get(el)?.mediaId !== mediaId) return;
    el.classList.remove('has-photo');
    el.replaceChildren(label);
  });
  shown.set(el, { mediaId, stop });
}

/** A chat's avatar: the peer's profile photo or the group's picture. */
export function setChatPicture(el: HTMLElement, chat: Pick<Chat, 'kind' | 'id'>, name: string, directory: Directory, urls: SignedUrls | null = sessionUrls): void {
  const mediaId = chat.kind === 'direct' ? directory.userPhoto(chat.id) : directory.groupPicture(chat.id);
  setPicture(el, mediaId, name, urls);
}
