/**
 * Search over your own history: `GET /v1/search`. Every tier (recent messages in your object,
 * older ones in the history database, the oldest in the archive) answers the same query, newest
 * first, paged by your mailbox seq like history pages. You only ever find what your own history
 * pages show you: your 1:1 chats, the range of a group you were a member for, never a message
 * deleted (for everyone, or for you), never an end-to-end encrypted body.
 */
import { z } from 'zod';
import { ChatRefSchema, QuerySeqSchema, SeqSchema, UlidSchema, UserIdSchema } from './messages.ts';

/** Longest query, in UTF-16 code units. */
export const SEARCH_QUERY_MAX = 200;
/** Most words of a query (the rest are refused, not ignored). */
export const SEARCH_MAX_TERMS = 8;
export const SEARCH_DEFAULT_LIMIT = 20;
export const SEARCH_MAX_LIMIT = 50;

/** What a hit can be: the body kinds that carry searchable text (captions and file names count). */
export const SEARCH_KINDS = ['text', 'image', 'video', 'voice', 'document', 'sticker', 'location', 'contact'] as const;
export const SearchKindSchema = z.enum(SEARCH_KINDS);

const QueryTime = z.string().regex(/^[0-9]{1,16}$/, 'expected ms since the epoch').transform(Number);

/**
 * `GET /v1/search?q=&peer=|group=&from=&kind=&since=&until=&before=&limit=`
 *
 * `q`: words to find (each word matches words that start with it: "meet" finds "meeting";
 * accents and case are ignored). Quotes, operators and punctuation have no special meaning.
 */
export const SearchQuerySchema = z
  .object({
    q: z
      .string()
      .trim()
      .min(1, 'type something to search for')
      .max(SEARCH_QUERY_MAX)
      .refine((q) => q.split(/\s+/u).length <= SEARCH_MAX_TERMS, `at most ${SEARCH_MAX_TERMS} words`),
    /** Only the 1:1 chat with this user. */
    peer: UserIdSchema.optional(),
    /** Only this group. */
    group: UlidSchema.optional(),
    /** Only messages this user sent (yourself included). */
    from: UserIdSchema.optional(),
    /** Only messages of this body kind. */
    kind: SearchKindSchema.optional(),
    /** Only messages sent at or after this time (ms since the epoch). */
    since: QueryTime.optional(),
    /** Only messages sent before this time (ms since the epoch). */
    until: QueryTime.optional(),
    /** Cursor: only hits with a mailbox seq strictly below this (the previous page's `nextBefore`). */
    before: QuerySeqSchema.optional(),
    /** Cursor in a large group's log (with `group`): only hits strictly below this gseq (the previous page's `nextBeforeGseq`). */
    beforeGseq: QuerySeqSchema.optional(),
    limit: QuerySeqSchema.pipe(z.number().min(1).max(SEARCH_MAX_LIMIT)).default(SEARCH_DEFAULT_LIMIT),
  })
  .refine((q) => !(q.peer && q.group), { message: 'name a peer or a group, not both', path: ['group'] });
export type SearchQuery = z.infer<typeof SearchQuerySchema>;

/** One message that matched. */
export const SearchHitSchema = z.strictObject({
  /**
   * Position in your mailbox: open the chat's history with `before = seq + 1` to see it in
   * context. Null for a hit in a large group's log (no copy in your mailbox): see `gseq`.
   */
  seq: SeqSchema.nullable(),
  /** A hit in a large group's log: its gseq (open the group's history with `beforeGseq = gseq + 1`). */
  gseq: SeqSchema.optional(),
  chat: ChatRefSchema,
  /** The message's server id. */
  messageId: UlidSchema,
  from: UserIdSchema,
  /** When it was sent, ms since the epoch. */
  at: z.number().int(),
  kind: SearchKindSchema,
  /** The matching part of its text (text, caption, file, place or contact name), cut around the match. */
  snippet: z.string(),
  /** Matched words in `snippet`, as [start, end) offsets in UTF-16 code units, in order. */
  highlights: z.array(z.tuple([z.number().int().min(0), z.number().int().min(0)])),
});
export type SearchHit = z.infer<typeof SearchHitSchema>;

export const SearchPageSchema = z.strictObject({
  /** Newest first. */
  hits: z.array(SearchHitSchema),
  /** Pass as `before` for the next (older) page (once `nextBeforeGseq` is null); null when there is nothing older. */
  nextBefore: SeqSchema.nullable(),
  /** A search of one large group (`group`): pass as `beforeGseq` while not null (its log part goes on). */
  nextBeforeGseq: SeqSchema.nullable().optional(),
});
export type SearchPage = z.infer<typeof SearchPageSchema>;
