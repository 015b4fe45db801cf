/**
 * Waits in words, for clients that tell people how long a rate limit holds them back (the CLI's
 * one-line errors, the web client's notices). One wording everywhere.
 */

/**
 * A wait in plain words, rounded up: "a few seconds", "45 seconds", "2 minutes", "1 hour".
 *
 * @example
 * formatWait(90_000) // '2 minutes'
 */
export function formatWait(ms: number): string {
  const seconds = Math.max(1, Math.ceil(ms / 1_000));
  if (seconds <= 5) return 'a few seconds';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 60) return minutes === 1 ? '1 minute' : `${minutes} minutes`;
  const hours = Math.ceil(minutes / 60);
  return hours === 1 ? '1 hour' : `${hours} hours`;
}
