/**
 * Signed download URLs for `<img>`, `<video>` and `<audio>` tags (`GET /v1/media/:id/url`): no
 * bearer token in a URL that ends up in logs, history and caches, but a signature over the media
 * id and an expiry (capability.ts). Expiries are rounded up to a whole window so a viewer asking
 * again within it gets the very same URL, and the browser's cache of the bytes keeps working.
 */
import { MEDIA_URL_TTL_MS, PATHS, type MediaUrl } from '../../protocol/index.ts';
import { signDownload } from './capability.ts';

/** URLs issued within one window share their expiry: between MEDIA_URL_TTL_MS and that plus this. */
const WINDOW_MS = 5 * 60_000;

/**
 * A URL for the bytes of `mediaId` (the caller checked the viewer may download them) on the
 * Worker serving `requestUrl`.
 *
 * @example
 * const { url, expiresAt } = await downloadUrl(env, row.id, c.req.url, Date.now());
 */
export async function downloadUrl(env: Env, mediaId: string, requestUrl: string, now: number): Promise<MediaUrl> {
  const expiresAt = Math.ceil((now + MEDIA_URL_TTL_MS) / WINDOW_MS) * WINDOW_MS;
  const sig = await signDownload(env.TOKEN_SECRET, mediaId, expiresAt);
  const url = new URL(`${PATHS.mediaBlob(mediaId)}?exp=${expiresAt}&sig=${sig}`, requestUrl);
  return { url: url.toString(), expiresAt };
}
