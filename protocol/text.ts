/**
 * Text that names someone or something (display names, about texts, group titles and
 * descriptions, contact labels, device names): what it may contain. Other people read these
 * strings in their chat lists and headers, so a name must not be able to hide, reorder or
 * impersonate what is shown around it. Message text is not checked here: it keeps exactly what
 * the user wrote, and clients isolate its bidirectional runs when they show it.
 */
import { z } from 'zod';

/** C0 and C1 control characters and DEL; `allowNewlines` keeps LF (multi-line fields). */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001F\u007F-\u009F]/u;
// eslint-disable-next-line no-control-regex -- as above, without LF
const CONTROL_EXCEPT_LF = /[\u0000-\u0009\u000B-\u001F\u007F-\u009F]/u;
/** Bidirectional embeddings, overrides and isolates (LRE RLE PDF LRO RLO, LRI RLI FSI PDI). */
const BIDI_CONTROL = /[\u202A-\u202E\u2066-\u2069]/u;
/**
 * Code point ranges that show nothing: zero-width and joiner characters, invisible operators,
 * fillers, variation selectors, tag characters (white space is checked separately). A name made
 * only of these would look empty, or like someone else's name with an invisible suffix.
 */
const INVISIBLE_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x00ad, 0x00ad],
  [0x034f, 0x034f],
  [0x061c, 0x061c],
  [0x115f, 0x1160],
  [0x17b4, 0x17b5],
  [0x180b, 0x180f],
  [0x200b, 0x200f],
  [0x2028, 0x202f],
  [0x205f, 0x206f],
  [0x3164, 0x3164],
  [0xfe00, 0xfe0f],
  [0xfeff, 0xfeff],
  [0xffa0, 0xffa0],
  [0x1d173, 0x1d17a],
  [0xe0000, 0xe0fff],
];

function isInvisible(char: string): boolean {
  if (/\s/u.test(char)) return true;
  const cp = char.codePointAt(0) ?? 0;
  return INVISIBLE_RANGES.some(([from, to]) => cp >= from && cp <= to);
}

export type TextProblem = 'lone_surrogate' | 'control' | 'bidi_control' | 'invisible_only';

/**
 * What is wrong with a name-like string, or null when it is acceptable.
 *
 * @example
 * nameProblem('Bob\u202E (admin)') // 'bidi_control'
 * nameProblem('\u200B\u200B')       // 'invisible_only'
 * nameProblem('Zoë 🎉')             // null
 */
export function nameProblem(value: string, options: { allowNewlines?: boolean; allowEmpty?: boolean } = {}): TextProblem | null {
  if (!value.isWellFormed()) return 'lone_surrogate';
  if ((options.allowNewlines ? CONTROL_EXCEPT_LF : CONTROL).test(value)) return 'control';
  if (BIDI_CONTROL.test(value)) return 'bidi_control';
  if (!(options.allowEmpty && value.length === 0) && Array.from(value).every(isInvisible)) return 'invisible_only';
  return null;
}

const PROBLEM_MESSAGES: Record<TextProblem, string> = {
  lone_surrogate: 'contains a lone UTF-16 surrogate (not valid Unicode text)',
  control: 'contains a control character',
  bidi_control: 'contains a bidirectional override or isolate character',
  invisible_only: 'has no visible character',
};

/**
 * A name-like string of 1..max characters (after trimming white space at both ends): no control
 * characters, no bidi overrides or isolates, not only invisible characters, no lone surrogates.
 *
 * @example
 * const DisplayName = nameText(64);
 */
export function nameText(max: number) {
  return z
    .string()
    .trim()
    .min(1)
    .max(max)
    .superRefine((value, ctx) => {
      const problem = nameProblem(value);
      if (problem !== null) ctx.addIssue({ code: 'custom', message: PROBLEM_MESSAGES[problem] });
    });
}

/**
 * Free text shown beside a name (an about text, a group description): up to `max` characters,
 * may be empty and may contain line feeds; otherwise the same rules as `nameText`.
 */
export function noteText(max: number) {
  return z
    .string()
    .max(max)
    .superRefine((value, ctx) => {
      if (value.trim().length === 0) {
        if (!value.isWellFormed()) ctx.addIssue({ code: 'custom', message: PROBLEM_MESSAGES.lone_surrogate });
        return;
      }
      const problem = nameProblem(value, { allowNewlines: true });
      if (problem !== null) ctx.addIssue({ code: 'custom', message: PROBLEM_MESSAGES[problem] });
    });
}

/** An optional label you give someone (a contact name): '' clears it; otherwise a name. */
export function labelText(max: number) {
  return z.string().trim().pipe(z.union([z.literal(''), nameText(max)]));
}
