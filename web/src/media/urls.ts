/**
 * Short-lived signed URLs for `<img>`, `<video>` and `<audio>` (GET /v1/media/:id/url), from the
 * SDK (which asks once per media id and reuses a URL until shortly before it expires). An element
 * whose load fails (the URL expired while the page sat open, or the network blinked) asks for a
 * fresh URL once and tries again; a second failure is final and left to the caller's `onFail`.
 */
import type { MediaUrl } from '../../../protocol/index.ts';

/** A signed URL for `mediaId`; `fresh` skips any cached one. */
export type UrlSource = (mediaId: string, fresh: boolean) => Promise<MediaUrl>;

export class SignedUrls {
  constructor(private readonly source: UrlSource) {}

  /** A usable URL for `mediaId` (`fresh`: not the cached one). */
  async get(mediaId: string, fresh = false): Promise<string> {
    return (await this.source(mediaId, fresh)).url;
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
}
