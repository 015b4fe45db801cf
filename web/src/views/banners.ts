/**
 * The floating status lines of the app: the connection banner ("Connecting…" only if it takes
 * over a second, "Reconnecting…", "You are offline…", "Messenger is open in another window" with
 * Use here) and the notice of a rate limit ("Your messages are sent in 12 seconds"), counting
 * down to the SDK's `retryAt`. Also the chat list's offer to turn browser notifications on (shown
 * when the first message arrives; the browser asks for the permission on its button's click).
 */
import type { ConnectionState, ErrorCode, MessengerError } from '../../../client/index.ts';
import { h, setText } from '../dom.ts';
import { formatWait } from '../format.ts';

/** Show "Connecting…" only if connecting takes longer than this, ms. */
const CONNECTING_BANNER_DELAY_MS = 1_000;

export class ConnectionBanner {
  readonly el: HTMLElement;
  private readonly text: HTMLElement;
  private readonly action: HTMLButtonElement;
  private connectingTimer: number | undefined;
  private readonly reconnect: () => void;

  /** `reconnect`: what Use here / Reconnect do. */
  constructor(reconnect: () => void) {
    this.reconnect = reconnect;
    this.text = h('span', { class: 'banner-text' });
    this.action = h('button', { type: 'button', class: 'link', hidden: true, 'data-testid': 'banner-action' });
    this.el = h('div', { class: 'banner', role: 'status', 'data-testid': 'connection-banner', hidden: true }, this.text, this.action);
  }

  /** Show what `state` means (`closedError`: why a closed connection closed). */
  update(state: ConnectionState, closedError: MessengerError | undefined): void {
    window.clearTimeout(this.connectingTimer);
    if (state === 'open' || state === 'idle') {
      this.el.hidden = true;
    } else if (!navigator.onLine) {
      this.show('You are offline. Messages you write are sent when you are back online.');
    } else if (state === 'reconnecting') {
      this.show('Reconnecting… Messages you write are sent when the connection is back.');
    } else if (state === 'connecting') {
      this.connectingTimer = window.setTimeout(() => this.show('Connecting…'), CONNECTING_BANNER_DELAY_MS);
    } else if (closedError?.code === 'replaced') {
      this.show('Messenger is open in another window.', 'Use here');
    } else {
      this.show('Disconnected.', 'Reconnect');
    }
  }

  dispose(): void {
    window.clearTimeout(this.connectingTimer);
  }

  private show(text: string, action?: string): void {
    setText(this.text, text);
    this.action.hidden = action === undefined;
    if (action !== undefined) {
      setText(this.action, action);
      this.action.onclick = this.reconnect;
    }
    this.el.hidden = false;
  }
}

/**
 * A send the server refused for now stays pending (its clock tick) and goes out by itself after
 * the wait; this notice says how long, in words, until then.
 */
export class DelayNotice {
  readonly el: HTMLElement;
  private until = 0;
  private reason: ErrorCode = 'rate_limited';
  private timer: number | undefined;

  constructor() {
    this.el = h('div', { class: 'banner banner-delay', role: 'status', 'data-testid': 'send-delay', hidden: true });
  }

  /** Sends are held until `retryAt` because of `reason`. */
  delay(retryAt: number, reason: ErrorCode): void {
    this.until = Math.max(this.until, retryAt);
    this.reason = reason;
    this.update();
    if (this.timer === undefined) this.timer = window.setInterval(() => this.update(), 1_000);
  }

  dispose(): void {
    window.clearInterval(this.timer);
  }

  private update(): void {
    const left = this.until - Date.now();
    if (left <= 0) {
      this.el.hidden = true;
      window.clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    const why = this.reason === 'rate_limited' ? 'You sent a lot of messages at once.' : 'The server is busy.';
    setText(this.el, `${why} Your messages are sent in ${formatWait(left)}.`);
    this.el.hidden = false;
  }
}

/** "Get notified of new messages" above the chat list, with Turn on and ✕. */
export class NotificationsBanner {
  readonly el: HTMLElement;
  private accept: (() => void) | null = null;

  constructor() {
    const turnOn = h('button', { type: 'button', class: 'link', 'data-testid': 'notifications-turn-on' }, 'Turn on');
    turnOn.addEventListener('click', () => {
      this.el.hidden = true;
      this.accept?.();
    });
    const close = h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Not now', title: 'Not now', 'data-testid': 'notifications-dismiss' }, '✕');
    close.addEventListener('click', () => {
      this.el.hidden = true;
    });
    this.el = h(
      'div',
      { class: 'notifications-banner', role: 'region', 'aria-label': 'Notifications', 'data-testid': 'notifications-banner', hidden: true },
      h('span', { class: 'notifications-banner-text' }, 'Get notified of new messages while Messenger is in the background.'),
      turnOn,
      close,
    );
  }

  /** Offer it; `accept` asks the browser for the permission. */
  show(accept: () => void): void {
    this.accept = accept;
    this.el.hidden = false;
  }
}
