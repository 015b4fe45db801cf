/**
 * What of a message is searchable, as SQL over its stored JSON, so the object's triggers (hot
 * tier) and the archiver (warm and cold tiers) index exactly the same text: a text's text, a
 * media caption, a document's file name and caption, a place's name, a contact's name. Deleted
 * messages and end-to-end encrypted bodies have none (they are never indexed).
 */

/** The searchable text of the body at JSON path `body` of column `column` (NULL when none). */
export function searchTextSql(column: string, body: string): string {
  const at = (field: string): string => `json_extract(${column}, '${body}.${field}')`;
  return `(CASE ${at('kind')}
    WHEN 'text' THEN ${at('text')}
    WHEN 'document' THEN nullif(trim(coalesce(${at('fileName')}, '') || ' ' || coalesce(${at('caption')}, '')), '')
    WHEN 'location' THEN ${at('name')}
    WHEN 'contact' THEN ${at('name')}
    WHEN 'ciphertext' THEN NULL
    WHEN 'deleted' THEN NULL
    ELSE nullif(${at('caption')}, '') END)`;
}
