/** Plain-text tables for the bench's summaries: first column left-aligned, the rest right-aligned. */

/** A table row (label, cells...), or a string printed as is (section titles, blank lines). */
export type Row = [string, ...string[]] | string;

/** Render `rows` under `headers`, columns as wide as their widest cell. */
export function table(headers: string[], rows: Row[]): string {
  const width = headers.map((h) => h.length);
  for (const row of rows) if (typeof row !== 'string') row.forEach((cell, i) => (width[i] = Math.max(width[i] ?? 0, cell.length)));
  const line = (cells: string[]): string =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(width[0]!) : cell.padStart(width[i]!))).join('   ').trimEnd();
  const out = [line(headers), '-'.repeat(width.reduce((a, b) => a + b + 3, -3))];
  for (const row of rows) out.push(typeof row === 'string' ? row : line(row));
  return out.join('\n');
}
