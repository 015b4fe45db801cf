/**
 * Presence under a 1:1 chat's name: "online", or "last seen today at 14:05".
 *
 * The conversation header asks a PresenceSource for its subtitle (views/conversation.ts,
 * `subtitle()`; a typing indicator takes precedence). `sdkPresence` implements it on the SDK:
 * the chats on screen are watched (`watchPresence`, which the SDK re-sends after every
 * reconnect) and each `presence` event re-renders the headers that show that user.
 *
 * What the server lets one see depends on who is in whose contacts, and it decides when the list
 * is sent: so the list is sent again when a watched user becomes a contact (added here, from the
 * chat's "Add to contacts" or on another device) and when a watched user whose presence is still
 * unknown writes (they may have added the user meanwhile). No reload needed.
 */
import type { MessengerClient } from '../../client/index.ts';
import type { Directory } from './directory.ts';
import { formatDay, formatTime } from './format.ts';

export interface PresenceSource {
  /** The subtitle for a 1:1 chat with `userId`, e.g. "online"; '' when unknown or hidden. */
  describe(userId: string): string;
  /** Call `onChange` whenever `describe(userId)` may have changed; returns an unsubscribe function. */
  subscribe(userId: string, onChange: () => void): () => void;
}

/** "last seen today at 14:05", "last seen yesterday at 09:10", "last seen 3 Jan 2026 at 18:00". */
export function describeLastSeen(lastSeen: number, now = Date.now()): string {
  const day = formatDay(lastSeen, now);
  const when = day === 'Today' || day === 'Yesterday' ? day.toLowerCase() : day;
  return `last seen ${when} at ${formatTime(lastSeen)}`;
}

export function sdkPresence(client: MessengerClient, directory: Directory): PresenceSource {
  const listeners = new Map<string, Set<() => void>>();
  client.on('presence', (frame) => {
    for (const listener of listeners.get(frame.userId) ?? []) listener();
  });
  /** Which watched users were contacts when the list was last sent. */
  let contactsSent = '';
  const watchedContacts = (): string =>
    [...listeners.keys()]
      .filter((id) => directory.isContact(id) === true)
      .sort()
      .join(',');
  const watchOnScreen = () => {
    contactsSent = watchedContacts();
    try {
      client.watchPresence([...listeners.keys()].slice(-32));
    } catch {
      // An id the SDK refuses shows no presence; nothing else depends on it.
    }
  };
  directory.on('changed', () => {
    if (listeners.size > 0 && watchedContacts() !== contactsSent) watchOnScreen();
  });
  /** When the list was last sent again because someone with hidden presence wrote (at most once a minute each). */
  const askedAt = new Map<string, number>();
  const wrote = ({ message }: { message: { from: string } }): void => {
    const presence = client.presenceOf(message.from);
    const hidden = presence === undefined || (!presence.online && presence.lastSeen === null);
    const now = Date.now();
    if (!listeners.has(message.from) || !hidden || now - (askedAt.get(message.from) ?? 0) < 60_000) return;
    askedAt.set(message.from, now);
    watchOnScreen();
  };
  client.on('message', wrote);
  return {
    describe(userId) {
      const presence = client.presenceOf(userId);
      if (!presence) return '';
      if (presence.online) return 'online';
      return presence.lastSeen === null ? '' : describeLastSeen(presence.lastSeen);
    },
    subscribe(userId, onChange) {
      const set = listeners.get(userId) ?? new Set();
      set.add(onChange);
      listeners.set(userId, set);
      watchOnScreen();
      return () => {
        set.delete(onChange);
        if (set.size === 0) listeners.delete(userId);
        watchOnScreen();
      };
    },
  };
}
