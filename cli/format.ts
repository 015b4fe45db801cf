/**
 * Human-readable rendering of messages (with their replies, edits, reactions, forwards, stars and
 * tombstones), ticks and group system messages.
 */
import type { GroupChange, GroupMessage, GroupTally, Message, MessageBody, MessageStatus } from '../client/index.ts';
import { FORWARDED_MANY_TIMES } from '../protocol/index.ts';
import type { Action, DeletedBody, Quote, Reaction, StoredBody } from '../protocol/index.ts';
import type { Style } from './output.ts';
export { formatWait } from '../client/wait.ts';

/** A message's delivery state as a sender sees it; `pending` until the server stored it. */
export type Tick = MessageStatus | 'pending' | 'failed';

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/**
 * `14:05` for today, `2025-03-01 14:05` for other days (local time).
 *
 * @example
 * formatTime(Date.now()) // '14:05'
 */
export function formatTime(ms: number, now: number = Date.now()): string {
  const at = new Date(ms);
  const today = new Date(now);
  const time = `${pad(at.getHours())}:${pad(at.getMinutes())}`;
  const sameDay = at.getFullYear() === today.getFullYear() && at.getMonth() === today.getMonth() && at.getDate() === today.getDate();
  return sameDay ? time : `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} ${time}`;
}


/** What a media kind is called in a message line. */
const MEDIA_WORDS = { image: 'photo', video: 'video', voice: 'voice message', document: 'file', sticker: 'sticker' } as const;

/** "0:07", "1:02:03". */
export function formatDuration(ms: number): string {
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}

/**
 * A media body as one line: what it is, its size, the caption and the id to download it with.
 *
 * @example
 * mediaText({ kind: 'image', media: { id: '01H…', mime: 'image/png', size: 1_258_291 }, caption: 'hi' })
 * // '[photo 1.2 MB] hi (media 01H…)'
 */
function mediaText(body: Extract<MessageBody, { media: unknown }>): string {
  const parts: string[] = [MEDIA_WORDS[body.kind]];
  if (body.kind === 'document' && body.fileName !== undefined) parts.push(body.fileName);
  if ((body.kind === 'video' || body.kind === 'voice') && body.durationMs !== undefined) parts.push(formatDuration(body.durationMs));
  parts.push(formatBytes(body.media.size));
  const caption = body.caption === undefined || body.caption === '' ? '' : ` ${body.caption}`;
  return `[${parts.join(' ')}]${caption} (media ${body.media.id})`;
}

/** "This message was deleted", or "... by an admin" when someone else than the sender deleted it. */
export function deletedText(body: DeletedBody, from: string): string {
  return body.by === from ? 'This message was deleted' : 'This message was deleted by an admin';
}

/**
 * What a message is called and what it says, for sentences about it: `{ noun: 'photo', text:
 * 'the view' }`, `{ noun: 'message', text: 'hi' }` (text '' for media without a caption).
 */
export function describeBody(body: StoredBody | MessageBody): { noun: string; text: string } {
  if (body.kind === 'deleted') return { noun: 'deleted message', text: '' };
  if (body.kind === 'text') return { noun: 'message', text: body.text };
  if (body.kind in MEDIA_WORDS && 'media' in body) return { noun: MEDIA_WORDS[body.kind], text: body.caption ?? '' };
  return { noun: 'message', text: bodyText(body) };
}

/** A message body as one line of text (a tombstone as "This message was deleted"). */
export function bodyText(body: StoredBody | MessageBody): string {
  switch (body.kind) {
    case 'deleted':
      return 'This message was deleted';
    case 'text':
      return body.text;
    case 'location':
      return `[location ${body.latitude}, ${body.longitude}${body.name === undefined ? '' : ` ${body.name}`}]`;
    case 'contact':
      return `[contact ${body.name} ${body.phone}]`;
    case 'image':
    case 'video':
    case 'voice':
    case 'sticker':
    case 'document':
      return mediaText(body);
    case 'ciphertext':
      return '[encrypted message]';
  }
}

/**
 * "1.2 MB", "512 KB", "37 bytes" (binary multiples, as the limits are written).
 *
 * @example
 * formatBytes(16 * 1024 * 1024) // '16 MB'
 */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} byte${bytes === 1 ? '' : 's'}`;
  const units = ['KB', 'MB', 'GB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const text = value >= 10 || Number.isInteger(value) ? Math.round(value).toString() : value.toFixed(1);
  return `${text} ${units[unit]}`;
}

/** ⏱ pending, ✓ sent, ✓✓ delivered, ✓✓ read (blue when colours are on). */
export function tickText(tick: Tick, style: Style): string {
  switch (tick) {
    case 'pending':
      return style.dim('⏱');
    case 'failed':
      return style.red('✗ not sent');
    case 'sent':
      return style.dim('✓');
    case 'delivered':
      return style.dim('✓✓');
    case 'read':
      return style.blue('✓✓ read');
  }
}

/** The ticks of one of your group messages: ✓✓ when every member has it, "read" when all read it. */
export function tallyText(tally: GroupTally, style: Style): string {
  const { of, delivered, read } = tally;
  if (of === 0 || read >= of) return of === 0 ? style.dim('✓') : style.blue('✓✓ read');
  const readPart = read > 0 ? ` read ${read}/${of}` : '';
  if (delivered >= of) return style.dim(`✓✓${readPart}`);
  return style.dim(`✓${delivered > 0 ? ` delivered ${delivered}/${of}` : ''}${readPart}`);
}

/** The part of a group system message after "<who> ": "added Ann and Bob". */
export function describeChange(change: GroupChange, member: (userId: string) => string): string {
  switch (change.kind) {
    case 'created':
      return `created the group "${change.title}"`;
    case 'members_added':
      return `added ${listNames(change.members.map(member))}`;
    case 'member_removed':
      return `removed ${member(change.member)}`;
    case 'member_left':
      return 'left';
    case 'member_joined':
      // The joiner made the event for an invite or a link; the approving admin for a request.
      if (change.via === 'invite') return 'joined (accepted the invite)';
      if (change.via === 'link') return 'joined through the invite link';
      return `let ${member(change.member)} in (asked to join through the invite link)`;
    case 'admin_promoted':
      return `made ${member(change.member)} an admin`;
    case 'admin_demoted':
      return `made ${member(change.member)} a plain member`;
    case 'title_changed':
      return `changed the title to "${change.title}"`;
    case 'description_changed':
      return 'changed the description';
    case 'picture_changed':
      return change.picture === null ? 'removed the picture' : 'changed the picture';
    case 'settings_changed':
      return change.onlyAdminsSend ? 'allowed only admins to send messages' : 'allowed everyone to send messages';
    case 'delivery_changed':
      return 'grew large: messages are now fetched from the group';
  }
}

/** The user ids a change mentions (to look their names up first). */
export function changeMembers(change: GroupChange): string[] {
  if (change.kind === 'members_added') return change.members;
  if ('member' in change) return [change.member];
  return [];
}

/** "Ann", "Ann and Bob", "Ann, Bob and Cy". */
export function listNames(names: readonly string[]): string {
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

/** "[14:05] Ann: hello ✓✓ 👍 2" — `who` already styled; `after` follows the tick. */
export function messageLine(options: { at: number; who: string; text: string; tick?: string; after?: string; style: Style }): string {
  const { at, who, text, tick, after, style } = options;
  return `${style.dim(`[${formatTime(at)}]`)} ${who}: ${text}${tick === undefined ? '' : ` ${tick}`}${after === undefined || after === '' ? '' : ` ${after}`}`;
}

/** A 1:1 or group message as stored (both carry the same extras). */
export type AnyMessage = Message | GroupMessage;

/** A copy the user deleted for themselves: never listed. */
export function isDeletedForMe(message: AnyMessage): boolean {
  return message.body.kind === 'deleted' && message.body.scope === 'me';
}

/** Whether the message is a tombstone (deleted for everyone or for you). */
export function isDeleted(message: AnyMessage): boolean {
  return message.body.kind === 'deleted';
}

/**
 * Reactions as counts per emoji, in the order each emoji first appeared.
 *
 * @example
 * reactionsText([{ by: a, emoji: '👍', at: 1 }, { by: b, emoji: '❤️', at: 2 }, { by: c, emoji: '👍', at: 3 }]) // '👍 2 ❤️ 1'
 */
export function reactionsText(reactions: readonly Reaction[] | undefined): string {
  const counts = new Map<string, number>();
  for (const { emoji } of reactions ?? []) counts.set(emoji, (counts.get(emoji) ?? 0) + 1);
  return [...counts].map(([emoji, count]) => `${emoji} ${count}`).join(' ');
}

/** "Forwarded", "Forwarded many times", or '' for a message that was not forwarded. */
export function forwardedText(hops: number | undefined): string {
  if (hops === undefined || hops < 1) return '';
  return hops >= FORWARDED_MANY_TIMES ? 'Forwarded many times' : 'Forwarded';
}

/** What a reply shows of the message it quotes: its snippet, or the kind of a media message without caption. */
export function quoteText(quote: Quote): string {
  if (quote.snippet !== '') return quote.snippet.replace(/\s+/g, ' ');
  return `[${quote.kind in MEDIA_WORDS ? MEDIA_WORDS[quote.kind as keyof typeof MEDIA_WORDS] : quote.kind}]`;
}

/** How a message's content reads in a line: forwarded mark, text (or tombstone) and "(edited)". */
export function messageText(message: AnyMessage, style: Style): string {
  if (message.body.kind === 'deleted') return style.dim(deletedText(message.body, message.from));
  const forwarded = forwardedText(message.forwarded);
  const edited = message.editedAt === undefined ? '' : ` ${style.dim('(edited)')}`;
  return `${forwarded === '' ? '' : `${style.dim(`${forwarded}:`)} `}${bodyText(message.body)}${edited}`;
}

/** What follows a message's tick: its reactions, ★ when you starred it, and with `id` its id. */
export function messageAfter(message: AnyMessage, style: Style, options: { id?: boolean } = {}): string {
  const parts: string[] = [];
  const reactions = reactionsText(message.reactions);
  if (reactions !== '') parts.push(reactions);
  if (message.starred === true) parts.push(style.yellow('★'));
  if (options.id === true) parts.push(style.dim(`(id ${message.id})`));
  return parts.join(' ');
}

/**
 * The line quoting the message a reply answers, indented under the time of the reply's line:
 * "        ↪ Ann: see you at 8". `name` is who wrote the quoted message.
 */
export function quoteLine(message: AnyMessage, name: string, style: Style): string | null {
  if (message.replyTo === undefined || message.body.kind === 'deleted') return null;
  const indent = ' '.repeat(formatTime(message.sentAt).length + 3);
  return `${indent}${style.dim(`↪ ${name}: ${snippet(quoteText(message.replyTo), 60)}`)}`;
}

/** `text` on one line, cut to `max` characters with "…". */
export function snippet(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** "1 message", "3 messages". */
export function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/**
 * A message as the lines `history`, `groups history` and `chat` print: the quoted message of a
 * reply (when `quoteName` names its author), then the message with its decorations.
 */
export function messageLines(
  message: AnyMessage,
  options: { who: string; quoteName?: string; tick?: string; id?: boolean; style: Style },
): string[] {
  const { who, quoteName, tick, style } = options;
  const quote = quoteName === undefined ? null : quoteLine(message, quoteName, style);
  const line = messageLine({
    at: message.sentAt,
    who,
    text: messageText(message, style),
    ...(tick === undefined ? {} : { tick }),
    after: messageAfter(message, style, { id: options.id === true }),
    style,
  });
  return quote === null ? [line] : [quote, line];
}

/** What a message action does, for `outbox list`: "react 👍", "edit to "…"", "delete for everyone". */
export function actionText(action: Action): string {
  switch (action.kind) {
    case 'react':
      return action.emoji === null ? 'remove your reaction' : `react ${action.emoji}`;
    case 'edit':
      return `edit to "${snippet(bodyText(action.body), 60)}"`;
    case 'delete':
      return action.scope === 'everyone' ? 'delete for everyone' : 'delete for you';
    case 'star':
      return action.starred ? 'star' : 'unstar';
  }
}
