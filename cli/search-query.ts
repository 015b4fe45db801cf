/**
 * The parts of `messenger search` that are not about the server: dates and kinds as people type
 * them, highlighted snippets, and the last search of a device (what `--more` continues).
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { SearchKind, SearchRequest } from '../client/index.ts';
import { SEARCH_KINDS, SeqSchema } from '../protocol/index.ts';
import { usageError } from './errors.ts';
import type { Style } from './output.ts';

const DAY_MS = 86_400_000;
const UNIT_MS = { h: 3_600_000, d: DAY_MS, w: 7 * DAY_MS } as const;

/** Other words people use for a kind. */
const KIND_ALIASES: Readonly<Record<string, SearchKind>> = { photo: 'image', picture: 'image', file: 'document', audio: 'voice' };

/** What `--kind` accepts, for help and errors. */
export const KIND_WORDS = [...SEARCH_KINDS, ...Object.keys(KIND_ALIASES)].join(', ');

/**
 * A kind as typed: one of the protocol's kinds, or photo / file / audio.
 *
 * @example
 * parseKind('photo') // 'image'
 */
export function parseKind(input: string): SearchKind {
  const word = input.trim().toLowerCase();
  const kind = (SEARCH_KINDS as readonly string[]).includes(word) ? (word as SearchKind) : KIND_ALIASES[word];
  if (kind === undefined) throw usageError(`--kind must be one of ${KIND_WORDS}, not ${JSON.stringify(input)}`);
  return kind;
}

/**
 * A time as typed, in ms since the epoch: `2025-03-01` (local midnight; for `until` the midnight
 * after, so the day counts whole), `2025-03-01 14:05` (local), an ISO time with a zone, `today`,
 * `yesterday`, or a while ago: `12h`, `3d`, `2w`.
 *
 * @example
 * parseWhen('3d', 'since', Date.parse('2025-03-10T12:00:00Z')) === Date.parse('2025-03-07T12:00:00Z')
 */
export function parseWhen(input: string, option: 'since' | 'until', now: number = Date.now()): number {
  const text = input.trim().toLowerCase();
  const end = option === 'until';
  const midnight = (at: Date, days: number): number => new Date(at.getFullYear(), at.getMonth(), at.getDate() + days).getTime();
  if (text === 'today' || text === 'yesterday') return midnight(new Date(now), (text === 'yesterday' ? -1 : 0) + (end ? 1 : 0));
  const ago = /^([0-9]{1,4})([hdw])$/.exec(text);
  if (ago !== null) return now - Number(ago[1]) * UNIT_MS[ago[2] as keyof typeof UNIT_MS];
  const local = /^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[ t]([0-9]{2}):([0-9]{2}))?$/.exec(text);
  let at: number;
  if (local !== null) {
    const [y, mo, d, h = 0, mi = 0] = local.slice(1).map((part) => (part === undefined ? undefined : Number(part))) as [number, number, number, number?, number?];
    const day = new Date(y, mo - 1, d);
    // new Date rolls 2025-02-30 over into March: such a date is a typo, not a day.
    const real = day.getFullYear() === y && day.getMonth() === mo - 1 && day.getDate() === d && h < 24 && mi < 60;
    const wholeDay = local[4] === undefined && end;
    at = real ? new Date(y, mo - 1, d + (wholeDay ? 1 : 0), h, mi).getTime() : Number.NaN;
  } else {
    at = /[0-9]{4}-[0-9]{2}-[0-9]{2}t/.test(text) ? Date.parse(input.trim()) : Number.NaN;
  }
  if (!Number.isFinite(at) || at < 0) {
    throw usageError(`--${option} must be a date like 2025-03-01 or "2025-03-01 14:05", today, yesterday, or a while ago like 12h, 3d, 2w; not ${JSON.stringify(input)}`);
  }
  return at;
}

/**
 * A hit's snippet on one line with its matched words emphasized: bold when `style` colours,
 * else in [brackets] (so the words stand out in a pipe or a log too).
 *
 * @example
 * emphasize('we could meet at 8', [[9, 13]], plainStyle) // 'we could [meet] at 8'
 */
export function emphasize(snippet: string, highlights: ReadonlyArray<readonly [number, number]>, style: Style): string {
  const styled = style.bold('x') !== 'x';
  const mark = styled ? style.bold : (word: string): string => `[${word}]`;
  let out = '';
  let at = 0;
  for (const [start, end] of [...highlights].sort((a, b) => a[0] - b[0])) {
    // Offsets the server got wrong (overlapping, out of range) are skipped, never thrown on.
    if (start < at || end <= start || end > snippet.length) continue;
    out += snippet.slice(at, start) + mark(snippet.slice(start, end));
    at = end;
  }
  return (out + snippet.slice(at)).replace(/\s+/g, ' ').trim();
}

/** A search as `--more` continues it: the request without its cursor, and where the next page starts. */
const LastSearchSchema = z.object({
  request: z.object({
    q: z.string(),
    peer: z.string().optional(),
    group: z.string().optional(),
    from: z.string().optional(),
    kind: z.enum(SEARCH_KINDS).optional(),
    since: z.number().optional(),
    until: z.number().optional(),
  }),
  /** What the search was called in lines ("meet" in Climbing). */
  label: z.string(),
  nextBefore: SeqSchema.nullable(),
  /** A search of one large group whose log part goes on (searched before `nextBefore`). */
  nextBeforeGseq: SeqSchema.nullable().optional(),
});
export type LastSearch = z.infer<typeof LastSearchSchema>;
export type SearchFilters = LastSearch['request'];

/** The request's filters (no cursor, no page size), for remembering and comparing. */
export function filtersOf(request: SearchRequest): SearchFilters {
  const filters: SearchFilters = { q: request.q.trim().replace(/\s+/g, ' ') };
  for (const name of ['peer', 'group', 'from', 'kind', 'since', 'until'] as const) {
    const value = request[name];
    if (value !== undefined) Object.assign(filters, { [name]: value });
  }
  return filters;
}

/** Whether two searches ask the same (same words and filters). */
export function sameSearch(a: SearchFilters, b: SearchFilters): boolean {
  const keys = ['q', 'peer', 'group', 'from', 'kind', 'since', 'until'] as const;
  return keys.every((key) => a[key] === b[key]);
}

/** The last search of a device, in `<device dir>/last-search.json` (best effort: unreadable = none). */
export class LastSearchStore {
  private readonly file: string;

  constructor(deviceDir: string) {
    this.file = join(deviceDir, 'last-search.json');
  }

  get(): LastSearch | undefined {
    try {
      const parsed = LastSearchSchema.safeParse(JSON.parse(readFileSync(this.file, 'utf8')));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  set(search: LastSearch): void {
    try {
      const temp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(temp, `${JSON.stringify(search)}\n`, { mode: 0o600 });
      renameSync(temp, this.file);
    } catch {
      // `--more` is a convenience: never fail a search over it.
    }
  }
}
