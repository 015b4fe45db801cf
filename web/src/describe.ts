/** Sentences about chats that need names: group system messages and typing indicators. */
import type { GroupEvent, TypingEntry } from '../../client/index.ts';
import type { Chat } from './chat-store.ts';
import type { Directory } from './directory.ts';

/** "Ann added Bob and Carl": a group system message, with "You" for the user. */
export function describeGroupEvent(event: GroupEvent, directory: Directory): string {
  const name = (id: string): string => directory.userName(id, { you: 'You' });
  const lower = (id: string): string => directory.userName(id, { you: 'you' });
  const by = name(event.by);
  const change = event.change;
  switch (change.kind) {
    case 'created':
      return `${by} created the group “${change.title}”`;
    case 'members_added':
      return `${by} added ${listOf(change.members.map(lower))}`;
    case 'member_removed':
      return `${by} removed ${lower(change.member)}`;
    case 'member_left':
      return `${name(change.member)} left`;
    case 'admin_promoted':
      return `${by} made ${lower(change.member)} an admin`;
    case 'admin_demoted':
      return `${by} dismissed ${lower(change.member)} as admin`;
    case 'title_changed':
      return `${by} changed the group name to “${change.title}”`;
    case 'description_changed':
      return `${by} changed the group description`;
    case 'picture_changed':
      return change.picture === null ? `${by} removed the group picture` : `${by} changed the group picture`;
    case 'settings_changed':
      return change.onlyAdminsSend ? `${by} allowed only admins to send messages` : `${by} allowed all members to send messages`;
  }
}

/**
 * "typing…", "Ann is typing…", "Ann and Bob are typing…", or '' when nobody is: from the SDK's
 * TypingIndicators entries of the chat.
 */
export function typingText(chat: Pick<Chat, 'kind'>, who: readonly TypingEntry[], directory: Directory): string {
  if (who.length === 0) return '';
  const recording = who.every((entry) => entry.state === 'recording');
  const verb = recording ? 'recording audio' : 'typing';
  if (chat.kind === 'direct') return `${verb}…`;
  const names = who.map((entry) => directory.userName(entry.userId).split(' ')[0] ?? '');
  return `${listOf(names)} ${names.length === 1 ? 'is' : 'are'} ${verb}…`;
}

function listOf(names: string[]): string {
  if (names.length <= 1) return names[0] ?? '';
  if (names.length > 3) return `${names.slice(0, 2).join(', ')} and ${names.length - 2} others`;
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}
