/**
 * Clickable links in message text, built as DOM nodes (never parsed as HTML): only http(s) URLs
 * become `<a>`, opening in a new tab without the opener or a referrer; anything else (a
 * `javascript:` or `data:` "link") stays plain text.
 */
import { h } from './dom.ts';

/** http(s) URLs as people write them; trailing punctuation is trimmed below. */
const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+/giu;
/** Closing punctuation that ends a sentence rather than the URL ("see https://a.example/x."). */
const TRAILING = /[.,;:!?)\]}»”’]+$/u;

/** A URL in `text`: where it starts and the href it stands for (only http: and https:). */
interface Found {
  index: number;
  text: string;
  href: string;
}

function findLinks(text: string): Found[] {
  const found: Found[] = [];
  for (const match of text.matchAll(URL_PATTERN)) {
    let raw = match[0];
    // Keep a closing parenthesis that closes one opened inside the URL (Wikipedia links).
    const trimmed = raw.replace(TRAILING, '');
    raw = trimmed.includes('(') && raw.startsWith(`${trimmed})`) ? `${trimmed})` : trimmed;
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      continue;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') continue;
    found.push({ index: match.index, text: raw, href: url.href });
  }
  return found;
}

/**
 * `text` as Text nodes and `<a>` elements for its http(s) URLs.
 *
 * @example
 * el.replaceChildren(...linkify('see https://example.com/a.')) // "see ", <a>https://example.com/a</a>, "."
 */
export function linkify(text: string): Node[] {
  const nodes: Node[] = [];
  let at = 0;
  for (const link of findLinks(text)) {
    if (link.index > at) nodes.push(document.createTextNode(text.slice(at, link.index)));
    nodes.push(h('a', { href: link.href, target: '_blank', rel: 'noopener noreferrer', class: 'message-link', 'data-testid': 'message-link' }, link.text));
    at = link.index + link.text.length;
  }
  if (at < text.length) nodes.push(document.createTextNode(text.slice(at)));
  return nodes;
}

const shown = new WeakMap<Element, string>();

/** Replace an element's content with `text` and its links (only touching the DOM when the text changed). */
export function setLinkedText(el: Element, text: string): void {
  if (shown.get(el) === text) return;
  shown.set(el, text);
  el.replaceChildren(...linkify(text));
}
