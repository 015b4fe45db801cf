/**
 * Notices about the account that stay until dismissed (a new device logged in, a PIN reset was
 * requested): security news the user must not miss because it vanished after a few seconds.
 * Sentences come as phrases, so a device name someone chose is shown isolated.
 */
import type { AccountEvent } from '../../../protocol/index.ts';
import type { Phrase } from '../describe.ts';
import { h, setPhrase } from '../dom.ts';
import { formatDateTime } from '../format.ts';

/** At most this many notices at once (the oldest goes). */
const MAX_TOASTS = 3;

export interface ToastAction {
  label: string;
  run(): void;
}

export class Toasts {
  readonly el: HTMLElement;

  constructor() {
    this.el = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite', 'data-testid': 'toasts' });
  }

  show(phrase: Phrase, kind: string, action?: ToastAction): void {
    const text = h('span', { class: 'toast-text', 'data-testid': 'toast-text' });
    setPhrase(text, phrase);
    const toast = h('div', { class: 'toast', 'data-testid': 'toast', 'data-kind': kind }, text);
    if (action !== undefined) {
      toast.append(
        h(
          'button',
          {
            type: 'button',
            class: 'link',
            'data-testid': 'toast-action',
            on: {
              click: () => {
                toast.remove();
                action.run();
              },
            },
          },
          action.label,
        ),
      );
    }
    toast.append(h('button', { type: 'button', class: 'icon-button toast-close', 'aria-label': 'Dismiss', title: 'Dismiss', 'data-testid': 'toast-close', on: { click: () => toast.remove() } }, '✕'));
    this.el.append(toast);
    while (this.el.children.length > MAX_TOASTS) this.el.firstElementChild?.remove();
  }
}

/**
 * What an account event tells the user on this device, or null when there is nothing to say
 * (its own login, or a device going away: the device list shows that).
 */
export function describeAccountEvent(event: AccountEvent, myDeviceId: string): Phrase | null {
  switch (event.kind) {
    case 'device_added':
      return event.deviceId === myDeviceId ? null : ['New device logged in: ', { isolate: event.name || 'Unnamed device' }];
    case 'device_removed':
      return null;
    case 'pin_reset_requested':
      return [`Someone asked to reset your two-step verification PIN. It is turned off on ${formatDateTime(event.resetAt)} unless you change it before then.`];
    case 'pin_changed':
      if (event.deviceId === myDeviceId) return null;
      return [event.enabled ? 'Your two-step verification PIN was set or changed on another device.' : 'Two-step verification was turned off on another device.'];
  }
}
