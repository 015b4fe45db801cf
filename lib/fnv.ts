/** FNV-1a, 32-bit, over a string's UTF-8 bytes: a stable, cheap hash for placing ids (not a security check). */

/**
 * @example
 * fnv1a32('01JDQ3ZK8Y6W2V9T7R5P3N1M0A') % 1024 // the same bucket on every machine, forever
 */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
