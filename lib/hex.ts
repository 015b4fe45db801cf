/** Lowercase hex of bytes (digests, MACs), for the Worker and the Durable Objects alike. */

/**
 * @example
 * toHex(await crypto.subtle.digest('SHA-256', bytes)) // '9f86d0…' (64 characters)
 */
export function toHex(data: ArrayBuffer | Uint8Array): string {
  return Array.from(data instanceof Uint8Array ? data : new Uint8Array(data), (byte) => byte.toString(16).padStart(2, '0')).join('');
}
