/**
 * Short-lived signed URLs for `<img>`, `<video>` and `<audio>` (GET /v1/media/:id/url): asked for
 * once per media id and reused until shortly before they expire. An element whose load fails
 * (the URL expired while the page sat open, or the network blinked) asks for a fresh URL once
 * and tries again; a second failure is final and left to the caller's `onFail`.
 */
import type { MediaUrl } from '../../../protocol/index.ts';

/** A cached URL is not handed out when it has less than this left, ms. */
const EXPIRY_MARGIN_MS = 60_000;

export type UrlSource = (mediaId: string) => Promise<MediaUrl>;

export class SignedUrls {
  private readonly cache = new Map<string, MediaUrl>();
  private readonly inFlight = new Map<string, Promise<MediaUrl>>();
  private readonly source: UrlSource;
  private readonly now: () => number;

  constructor(source: UrlSource, now: () => number = Date.now) {
    this.source = source;
    this.now = now;
  }

  /** A usable URL for `mediaId` (cached, or asked for; `fresh` skips the cache). */
  async get(mediaId: string, fresh = false): Promise<string> {
    const cached = this.cache.get(mediaId);
    if (!fresh && cached !== undefined && cached.expiresAt - this.now() > EXPIRY_MARGIN_MS) return cached.url;
    let pending = this.inFlight.get(mediaId);
    if (pending === undefined) {
      pending = this.source(mediaId).finally(() => this.inFlight.delete(mediaId));
      this.inFlight.set(mediaId, pending);
    }
    const answer = await pending;
    this.cache.set(mediaId, answer);
    return answer.url;
  }

  /**
   * Point `el.src` at `mediaId`'s signed URL; on the first `error` fetch a fresh URL and retry
   * once, on the second call `onFail`. Returns a function that stops watching.
   */
  attach(el: HTMLImageElement | HTMLMediaElement, mediaId: string, onFail: () => void = () => undefined): () => void {
    let retried = false;
    let stopped = false;
    const load = (fresh: boolean): void => {
      this.get(mediaId, fresh).then(
        (url) => {
          if (!stopped) el.src = url;
        },
        () => {
          if (!stopped) onFail();
        },
      );
    };
    const onError = (): void => {
      // An element without a src yet (or cleared) reports errors too: only a failed URL counts.
      if (stopped || el.getAttribute('src') === null) return;
      if (retried) {
        onFail();
        return;
      }
      retried = true;
      load(true);
    };
    el.addEventListener('error', onError);
    load(false);
    return () => {
      stopped = true;
      el.removeEventListener('error', onError);
    };
  }

  /** Forget everything (logout). */
  clear(): void {
    this.cache.clear();
  }
}
