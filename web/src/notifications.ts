/**
 * Browser notifications (Notification API) for incoming messages while the tab is hidden. The
 * permission is never asked on page load: the first incoming message offers "Turn on" (browsers
 * want a click for the prompt), once per page load until it is answered (nothing is stored: a
 * logout leaves no trace). None for one's own messages, muted chats, or messages delivered again
 * (after a reload or reconnect) or sent before the page started; clicking one brings the tab
 * forward with the chat.
 */
import type { GroupMessage, Message, MessengerApi, Mute } from '../../client/index.ts';
import { chatKey } from './chat-store.ts';
import type { Directory } from './directory.ts';
import { bodyText } from './format.ts';

export interface NotifierOptions {
  api: MessengerApi;
  directory: Directory;
  /** Offer to turn notifications on (a notice with a button that calls `accept`). */
  offer(accept: () => void): void;
  /** Show the chat (the notification was clicked). */
  open(key: string): void;
  /** Whether the message is already shown (delivered again after a reload or reconnect). */
  known(messageId: string): boolean;
}

/** Messages older than this when they arrive (a backlog after a reconnect) notify nobody. */
const FRESH_MS = 2 * 60_000;
/** Mutes are read again after this long (they change in settings or on other devices). */
const MUTES_TTL_MS = 5 * 60_000;

export class Notifier {
  private readonly options: NotifierOptions;
  private mutes: Mute[] = [];
  private mutesAt = 0;
  private offered = false;
  /** Messages sent before the page started are not news to this tab. */
  private readonly since: number;

  constructor(options: NotifierOptions, now = Date.now()) {
    this.options = options;
    this.since = now;
  }

  /** Whether this browser can show notifications at all. */
  static get supported(): boolean {
    return typeof Notification !== 'undefined';
  }

  /** Ask for the permission now (from a click). */
  async enable(): Promise<boolean> {
    if (!Notifier.supported) return false;
    return (await Notification.requestPermission()) === 'granted';
  }

  /** A message entry arrived live (the SDK's 'message' / 'group_message'). */
  incoming(message: Message | GroupMessage, now = Date.now()): void {
    const { directory } = this.options;
    const stale = now - message.sentAt > FRESH_MS || message.sentAt < this.since || this.options.known(message.id);
    if (!Notifier.supported || message.from === directory.me || message.body.kind === 'deleted' || stale) return;
    if (Notification.permission === 'default') {
      this.offer();
      return;
    }
    if (Notification.permission !== 'granted' || document.visibilityState !== 'hidden') return;
    const group = 'group' in message ? message.group : null;
    void this.muted(group === null ? { kind: 'direct', id: message.from } : { kind: 'group', id: group }, now).then((muted) => {
      if (!muted) this.show(message, group);
    });
  }

  private show(message: Message | GroupMessage, group: string | null): void {
    const { directory } = this.options;
    const sender = directory.userName(message.from);
    const key = group === null ? chatKey('direct', message.from) : chatKey('group', group);
    const title = group === null ? sender : directory.groupTitle(group);
    const text = bodyText(message.body);
    const notification = new Notification(title, { body: group === null ? text : `${sender}: ${text}`, tag: message.id, lang: document.documentElement.lang || undefined });
    notification.addEventListener('click', () => {
      window.focus();
      this.options.open(key);
      notification.close();
    });
  }

  private offer(): void {
    if (this.offered) return;
    this.offered = true;
    this.options.offer(() => void this.enable());
  }

  private async muted(conversation: Mute['conversation'], now: number): Promise<boolean> {
    if (now - this.mutesAt > MUTES_TTL_MS) {
      try {
        this.mutes = (await this.options.api.settings()).mutes;
        this.mutesAt = now;
      } catch {
        // Offline: the last known mutes decide.
      }
    }
    return this.mutes.some((m) => m.conversation.kind === conversation.kind && m.conversation.id === conversation.id && (m.until === null || m.until > now));
  }
}
