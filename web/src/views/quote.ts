/**
 * A quoted message: the block above a reply's text in its bubble (who wrote the original and a
 * snippet, with an icon for media; clicking it jumps to the original), and the same block in the
 * "Replying to" bar above the composer.
 */
import type { Quote } from '../../../protocol/index.ts';
import type { Directory } from '../directory.ts';
import { h, setIsolated, setText } from '../dom.ts';
import { colorFor } from '../format.ts';

/** What a quote of each kind says when it has no text of its own. */
const KIND_LABELS: Record<Quote['kind'], { icon: string; label: string }> = {
  text: { icon: '', label: '' },
  image: { icon: '📷', label: 'Photo' },
  video: { icon: '🎥', label: 'Video' },
  voice: { icon: '🎤', label: 'Voice message' },
  document: { icon: '📄', label: 'Document' },
  sticker: { icon: '🏷️', label: 'Sticker' },
  location: { icon: '📍', label: 'Location' },
  contact: { icon: '👤', label: 'Contact' },
  ciphertext: { icon: '🔒', label: 'Encrypted message' },
};

/** The quote block's parts, filled by {@link drawQuote}. */
export interface QuoteParts {
  el: HTMLElement;
  name: HTMLElement;
  text: HTMLElement;
}

/** A quote block: a button in a bubble (jumps to the original), a plain block in the composer's bar. */
export function quoteBlock(kind: 'bubble' | 'composer', onOpen?: () => void): QuoteParts {
  const name = h('span', { class: 'quote-name', 'data-testid': 'quote-name' });
  const text = h('span', { class: 'quote-text', 'data-testid': 'quote-text', dir: 'auto' });
  const el =
    kind === 'bubble'
      ? h('button', { type: 'button', class: 'quote', 'data-testid': 'quote', on: { click: () => onOpen?.() } }, name, text)
      : h('div', { class: 'quote quote-composer', 'data-testid': 'composer-quote' }, name, text);
  return { el, name, text };
}

/** Show `quote` in a block ("You" for the user's own messages). */
export function drawQuote(parts: QuoteParts, quote: Quote, directory: Directory): void {
  const mine = quote.from === directory.me;
  const name = mine ? 'You' : directory.userName(quote.from);
  setIsolated(parts.name, name);
  // The bar takes the sender's colour; the name stays in a colour with enough contrast.
  parts.el.style.borderLeftColor = mine ? '' : colorFor(quote.from);
  const { icon, label } = KIND_LABELS[quote.kind];
  const words = quote.snippet !== '' ? quote.snippet : label;
  setText(parts.text, icon === '' ? words : `${icon} ${words}`);
  parts.el.setAttribute('data-quote', quote.id);
  if (parts.el instanceof HTMLButtonElement) parts.el.setAttribute('aria-label', `Quoted message from ${name}: ${words}. Show it`);
}
