/**
 * Random URL-safe identifiers from the platform CSPRNG, for the Worker and the Durable Objects
 * alike (challenges, tickets, refresh tokens, invite link codes).
 */

/**
 * `bytes` random bytes as base64url without padding (a multiple of 3 bytes gives exactly 4/3 as
 * many characters).
 *
 * @example
 * randomBase64Url(24) // 32 characters of [A-Za-z0-9_-]
 */
export function randomBase64Url(bytes: number): string {
  const random = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...random)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
