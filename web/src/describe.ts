/**
 * Sentences about chats that need names: group system messages and typing indicators. They come
 * as a {@link Phrase}, so the names and titles people chose can be shown isolated (dom.ts,
 * `setPhrase`): a right-to-left name must not reorder the words around it.
 */
import type { GroupEvent, TypingEntry } from '../../client/index.ts';
import type { Chat } from './chat-store.ts';
import type { Directory } from './directory.ts';

/** Text people chose (a name, a group title, a message), shown isolated from the words around it. */
export interface Isolated {
  isolate: string;
}

/** A sentence in pieces: the app's own words as strings, user-supplied text as {@link Isolated}. */
export type Phrase = ReadonlyArray<string | Isolated>;

/** The phrase as plain text (what a screen reader or `textContent` reads). */
export function phraseText(phrase: Phrase): string {
  return phrase.map((part) => (typeof part === 'string' ? part : part.isolate)).join('');
}

/** "Ann added Bob and Carl": a group system message, with "You" for the user. */
export function describeGroupEvent(event: GroupEvent, directory: Directory): Phrase {
  const name = (id: string): string | Isolated => (id === directory.me ? 'You' : { isolate: directory.userName(id) });
  const lower = (id: string): string | Isolated => (id === directory.me ? 'you' : { isolate: directory.userName(id) });
  const by = name(event.by);
  const change = event.change;
  switch (change.kind) {
    case 'created':
      return [by, ' created the group “', { isolate: change.title }, '”'];
    case 'members_added':
      return [by, ' added ', ...listOf(change.members.map(lower))];
    case 'member_removed':
      return [by, ' removed ', lower(change.member)];
    case 'member_left':
      return [name(change.member), ' left'];
    case 'member_joined':
      if (change.via === 'link') return [name(change.member), ' joined using this group’s invite link'];
      if (change.via === 'request') return [name(change.member), ' joined, approved by ', lower(event.by)];
      return [name(change.member), ' joined'];
    case 'admin_promoted':
      return [by, ' made ', lower(change.member), ' an admin'];
    case 'admin_demoted':
      return [by, ' dismissed ', lower(change.member), ' as admin'];
    case 'title_changed':
      return [by, ' changed the group name to “', { isolate: change.title }, '”'];
    case 'description_changed':
      return [by, ' changed the group description'];
    case 'picture_changed':
      return change.picture === null ? [by, ' removed the group picture'] : [by, ' changed the group picture'];
    case 'settings_changed':
      return change.onlyAdminsSend ? [by, ' allowed only admins to send messages'] : [by, ' allowed all members to send messages'];
    case 'delivery_changed':
      return ['This group is now large: new messages are fetched from the group'];
  }
}

/**
 * "typing…", "Ann is typing…", "Ann and Bob are typing…", or [] when nobody is: from the SDK's
 * TypingIndicators entries of the chat.
 */
export function typingText(chat: Pick<Chat, 'kind'>, who: readonly TypingEntry[], directory: Directory): Phrase {
  if (who.length === 0) return [];
  const recording = who.every((entry) => entry.state === 'recording');
  const verb = recording ? 'recording audio' : 'typing';
  if (chat.kind === 'direct') return [`${verb}…`];
  const names = who.map((entry): Isolated => ({ isolate: directory.userName(entry.userId).split(' ')[0] ?? '' }));
  return [...listOf(names), ` ${names.length === 1 ? 'is' : 'are'} ${verb}…`];
}

/** "Ann", "Ann and Bob", "Ann, Bob and Carl", "Ann, Bob and 2 others". */
function listOf(names: ReadonlyArray<string | Isolated>): Phrase {
  if (names.length <= 1) return names.slice(0, 1);
  if (names.length > 3) return [...joined(names.slice(0, 2), ', '), ` and ${names.length - 2} others`];
  return [...joined(names.slice(0, -1), ', '), ' and ', names[names.length - 1] ?? ''];
}

function joined(parts: ReadonlyArray<string | Isolated>, separator: string): Phrase {
  return parts.flatMap((part, i) => (i === 0 ? [part] : [separator, part]));
}
