/** Rows of the history shards (warm and cold tiers), as the mailbox object and the queue consumer see them. */

/** One message copy leaving an owner's object for the warm tier. */
export type ArchivedRow = {
  /** The owner's mailbox seq (the history cursor). */
  seq: number;
  /** 'd:<peer>' | 'g:<group>' */
  chat: string;
  /** Server message id (null for group system events). */
  id: string | null;
  sender: string | null;
  /** When the message was sent (ms). */
  at: number;
  /** Body kind ('text', 'image', ... 'deleted', 'ciphertext') or 'event'. */
  kind: string;
  /** Searchable text; null = not indexed (ciphertext, deleted, hidden, events). */
  text: string | null;
  /** The hot row's columns as JSON (opaque here). */
  row: string;
};

/** What the warm and cold tiers give back: enough to page and to restore the hot row. */
export type StoredRow = { seq: number; chat: string; id: string | null; at: number; row: string };
