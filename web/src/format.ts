/** Display formatting: times, waits, message bodies as text, avatar initials and colours. */
import type { DeletedBody, StoredBody } from '../../protocol/index.ts';
export { formatWait } from '../../client/wait.ts';

// 12-hour clocks without a leading zero ("5:53 PM", not "05:53 PM"); 24-hour ones with it ("09:05").
const hourCycle = new Intl.DateTimeFormat(undefined, { hour: 'numeric' }).resolvedOptions().hourCycle;
const hour = hourCycle === 'h11' || hourCycle === 'h12' ? 'numeric' : '2-digit';
const timeFormat = new Intl.DateTimeFormat(undefined, { hour, minute: '2-digit' });
const weekdayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long' });
const dateFormat = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour, minute: '2-digit' });

const DAY_MS = 86_400_000;

function startOfDay(ms: number): number {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/** "14:05": the time of a message. */
export function formatTime(ms: number): string {
  return timeFormat.format(ms);
}

/** A local calendar day, for grouping messages under day dividers. */
export function dayOf(ms: number): number {
  return startOfDay(ms);
}

/** "Today", "Yesterday", "Monday", or "3 Jan 2026": a day divider. */
export function formatDay(ms: number, now = Date.now()): string {
  const days = Math.round((startOfDay(now) - startOfDay(ms)) / DAY_MS);
  if (days <= 0) return 'Today';
  if (days === 1) return 'Yesterday';
  if (days < 7) return weekdayFormat.format(ms);
  return dateFormat.format(ms);
}

/** The chat list's time column: the time today, "Yesterday", a weekday, or a date. */
export function formatListTime(ms: number, now = Date.now()): string {
  return startOfDay(ms) === startOfDay(now) ? formatTime(ms) : formatDay(ms, now);
}

/** "Tue, 9 Dec 2026, 14:05" (in the reader's locale and clock): a moment further away than today. */
export function formatDateTime(ms: number): string {
  return dateTimeFormat.format(ms);
}

/**
 * `text` wrapped in Unicode's first-strong isolate (U+2068 … U+2069), for plain-text places that
 * cannot hold a <bdi> (window.confirm, aria-label, a name inside a sentence built as one string):
 * a right-to-left name then cannot reorder what surrounds it.
 *
 * @example
 * `Remove ${isolate(name)} from the group?`
 */
export function isolate(text: string): string {
  return `\u2068${text}\u2069`;
}

/**
 * A countdown as a clock: "0:30", "4:05", "1:00:00" (rounded up to whole seconds).
 *
 * @example
 * formatCountdown(30_000) // '0:30'
 */
export function formatCountdown(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1_000));
  const hours = Math.floor(total / 3_600);
  const minutes = Math.floor((total % 3_600) / 60);
  const seconds = String(total % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
}

const UNITS = ['KB', 'MB', 'GB'] as const;

/**
 * A size for people: "820 B", "1.4 KB", "12 MB" (1024-based, one decimal below 10).
 *
 * @example
 * formatBytes(16 * 1024 * 1024) // '16 MB'
 */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes;
  let unit: string = 'B';
  for (const next of UNITS) {
    if (value < 1024) break;
    value /= 1024;
    unit = next;
  }
  const shown = value < 10 ? Math.round(value * 10) / 10 : Math.round(value);
  return `${shown} ${unit}`;
}

/**
 * A duration as a clock: "0:07", "1:32", "1:02:03" (rounded down to whole seconds).
 *
 * @example
 * formatDuration(12_400) // '0:12'
 */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1_000));
  const hours = Math.floor(total / 3_600);
  const minutes = Math.floor((total % 3_600) / 60);
  const seconds = String(total % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
}

/**
 * What a deleted message says instead of its content: "You deleted this message", "This message
 * was deleted by an admin" (groups: deleted by someone other than its sender), or "This message
 * was deleted".
 */
export function tombstoneText(body: DeletedBody, from: string, me: string): string {
  if (body.by === me) return 'You deleted this message';
  if (body.by !== from) return 'This message was deleted by an admin';
  return 'This message was deleted';
}

/** A message body as one line of text (names and places inside it isolated, see {@link isolate}). */
export function bodyText(body: StoredBody): string {
  switch (body.kind) {
    case 'deleted':
      return '🚫 This message was deleted';
    case 'text':
      return body.text;
    case 'location':
      return `📍 ${isolate(body.name ?? 'Location')} (${body.latitude.toFixed(4)}, ${body.longitude.toFixed(4)})`;
    case 'contact':
      return `👤 ${isolate(body.name)}, ${body.phone}`;
    case 'image':
      return body.caption ? `📷 ${body.caption}` : '📷 Photo';
    case 'video':
      return body.caption ? `🎥 ${body.caption}` : '🎥 Video';
    case 'voice':
      return body.durationMs === undefined ? '🎤 Voice message' : `🎤 Voice message (${formatDuration(body.durationMs)})`;
    case 'document':
      return `📄 ${isolate(body.fileName ?? 'Document')}`;
    case 'sticker':
      return 'Sticker';
    case 'ciphertext':
      return '🔒 Encrypted message';
  }
}

/** Up to two initials for an avatar ("#" for a name without letters, such as a phone number). */
export function initials(name: string): string {
  const words = name
    .replace(/[^\p{L}\p{N} ]/gu, ' ')
    // A name made of digits (a phone number shown in place of a name) has no initials: "4" means nothing.
    .replace(/\p{N}/gu, ' ')
    .trim()
    .split(/\s+/)
    .filter((w) => w !== '');
  if (words.length === 0) return '#';
  const first = words[0]?.[0] ?? '';
  const second = words.length > 1 ? (words[words.length - 1]?.[0] ?? '') : '';
  return (first + second).toUpperCase();
}

const AVATAR_HUES = [170, 200, 230, 260, 290, 330, 10, 30, 90, 140];

/** A stable avatar colour for an id. */
export function colorFor(id: string): string {
  let hash = 0;
  for (let i = 0; i < id.length; i++) hash = (hash * 31 + id.charCodeAt(i)) | 0;
  const hue = AVATAR_HUES[Math.abs(hash) % AVATAR_HUES.length] ?? 170;
  return `hsl(${hue} 45% 45%)`;
}

/**
 * E.164 country calling codes of one digit (1: North America, 7: Russia/Kazakhstan) and of two;
 * every other code has three digits (ITU-T E.164 assignment list).
 */
const ONE_DIGIT_CODES = new Set(['1', '7']);
const TWO_DIGIT_CODES = new Set(
  '20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98'.split(' '),
);

/**
 * A phone number for display: an E.164 number grouped as country code, a prefix, and the rest
 * ("+49 151 12345678"; North American numbers 3-3-4: "+1 415 555 0134"). Not a full numbering
 * plan (that would take libphonenumber's metadata): the groups only help reading. Anything that
 * is not E.164 comes back unchanged.
 *
 * @example
 * formatPhone('+4915112345678') // '+49 151 12345678'
 */
export function formatPhone(phone: string): string {
  const match = /^\+(\d{7,15})$/.exec(phone.replace(/[\s()-]/g, ''));
  const digits = match?.[1];
  if (digits === undefined) return phone;
  const ccLength = ONE_DIGIT_CODES.has(digits.slice(0, 1)) ? 1 : TWO_DIGIT_CODES.has(digits.slice(0, 2)) ? 2 : 3;
  const cc = digits.slice(0, ccLength);
  const national = digits.slice(ccLength);
  if (cc === '1' && national.length === 10) return `+1 ${national.slice(0, 3)} ${national.slice(3, 6)} ${national.slice(6)}`;
  if (national.length <= 4) return `+${cc} ${national}`;
  const rest = national.slice(3);
  // A long remainder in fours from the end ("+49 151 1234 5678 9") would mislead; halves read well.
  const groups = rest.length > 8 ? [rest.slice(0, Math.ceil(rest.length / 2)), rest.slice(Math.ceil(rest.length / 2))] : [rest];
  return `+${cc} ${national.slice(0, 3)} ${groups.join(' ')}`;
}
