/**
 * The app's places in the URL hash: a chat (`#/d/<userId>`, `#/g/<groupId>`), the settings
 * (`#/settings`) and an invite link (`#join/<code>`). Chats and settings live in the URL so the
 * browser's Back works (on phones it is the way back to the list) and a reload reopens them.
 */
import { parseChatKey } from './chat-store.ts';

export const SETTINGS_HASH = '#/settings';
const CHAT_HASH = /^#\/([dg])\/([0-9A-Za-z]+)$/;
const JOIN_HASH = /^#join\/([A-Za-z0-9_-]{22})$/;

/** The chat key in `hash`, or null (the list, settings, or a hand-edited URL that names no chat). */
export function chatKeyFromHash(hash: string): string | null {
  const match = CHAT_HASH.exec(hash);
  if (match === null) return null;
  const key = `${match[1]}:${match[2]}`;
  return parseChatKey(key) === null ? null : key;
}

/** The hash that opens chat `key` (null: the chat list). */
export function hashOfChat(key: string | null): string {
  return key === null ? '#/' : `#/${key.replace(':', '/')}`;
}

/** The invite link code in `hash`, or null. */
export function joinCodeFromHash(hash: string): string | null {
  const match = JOIN_HASH.exec(hash);
  return match === null ? null : (match[1] ?? '');
}
