/** Where media bytes live in the MEDIA bucket. */

/** The R2 key an upload's own bytes are written to (single PUT or assembled parts). */
export function uploadKey(mediaId: string): string {
  return `blobs/${mediaId}`;
}
