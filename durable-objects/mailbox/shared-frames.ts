/**
 * Mailbox entries stored as '' (schema v14, v15). A 1:1 message's own entry and a group
 * message's copy carry the same message as the history row at their seq (`messages`,
 * `group_entries`), so the entry is built from that row when read instead of being stored twice.
 * The builders here, in JavaScript and in SQL side by side, make the text JSON.stringify of the
 * frame makes; the triggers that write an entry out before its row changes use the SQL ones.
 */

/** How this user's object writes a group message's copy (`group_entries.entry`): JSON.stringify({ type: 'message', message }). */
const GROUP_ENTRY_PREFIX = '{"type":"message","message":';

/** A 1:1 message's entry from the message's JSON. */
export function directFrame(seq: number, messageJson: string): string {
  return `{"type":"message","seq":${seq},"message":${messageJson}}`;
}

/** A group message's entry from its copy's JSON; null when that JSON is not a message entry as written here. */
export function groupFrame(seq: number, entryJson: string): string | null {
  if (!entryJson.startsWith(GROUP_ENTRY_PREFIX) || !entryJson.endsWith('}')) return null;
  return `{"type":"group_message","seq":${seq},"message":${entryJson.slice(GROUP_ENTRY_PREFIX.length, -1)}}`;
}

/** directFrame in SQL, over the `messages` row `row`. */
export function directFrameSql(row: string): string {
  return `'{"type":"message","seq":' || ${row}.seq || ',"message":' || ${row}.message || '}'`;
}

/** groupFrame in SQL, over the `group_entries` row `row` (only rows whose entry groupFrame accepted are ever built). */
export function groupFrameSql(row: string): string {
  const from = GROUP_ENTRY_PREFIX.length + 1;
  return `'{"type":"group_message","seq":' || ${row}.seq || ',"message":' || substr(${row}.entry, ${from}, length(${row}.entry) - ${from}) || '}'`;
}
