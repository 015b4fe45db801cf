/** The status mark of one's own message: clock, ✓, ✓✓, blue ✓✓, or an alert. */
import type { Tick } from '../chat-store.ts';
import { h } from '../dom.ts';
import { icon } from '../icons.ts';

const LABELS: Record<Tick, string> = {
  pending: 'Pending',
  sent: 'Sent',
  delivered: 'Delivered',
  read: 'Read',
  failed: 'Not sent',
};

/** A `role="img"` element named after the status (screen readers say "Delivered"). */
export function tickElement(tick: Tick): HTMLElement {
  const el = h('span', { class: 'tick', role: 'img', 'data-testid': 'tick' });
  setTick(el, tick);
  return el;
}

/** Update a tick element in place (no-op when unchanged). */
export function setTick(el: HTMLElement, tick: Tick): void {
  if (el.dataset.tick === tick) return;
  el.dataset.tick = tick;
  el.setAttribute('aria-label', LABELS[tick]);
  el.title = LABELS[tick];
  const name = tick === 'pending' ? 'clock' : tick === 'sent' ? 'tick' : tick === 'failed' ? 'alert' : 'doubleTick';
  el.replaceChildren(icon(name));
}
