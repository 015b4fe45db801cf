/**
 * `MediaApi`: photos, video, voice notes, documents, stickers and avatars over HTTP. Upload
 * (hash, slot, single PUT or resumable parts, with progress), download (streamed, with
 * progress), info, and short-lived signed URLs for `<img>`/`<video>`/`<audio>` tags.
 *
 * `MessengerClient` mounts one as `client.media`, sharing its session (the token renews
 * itself); it also works on its own with a token or a `TokenSource`, like `MessengerApi`.
 * Standard APIs only (fetch, WebCrypto, Blob, streams): Node 20+, browsers, web workers.
 * Protocol: protocol/media.ts.
 */
import { MediaInfoSchema, MediaSlotResponseSchema, MediaUrlSchema, PATHS } from '../protocol/index.ts';
import type { MediaInfo, MediaKind, MediaSlotRequest, MediaSlotResponse, MediaUrl } from '../protocol/index.ts';
import type { BackoffOptions } from './backoff.ts';
import { abortReason, canStreamUploads, checkMediaUpload, failure, mediaSource, rawFetch, responseError, sha256Hex } from './media-upload.ts';
import type { MediaData, RawResponse } from './media-upload.ts';
import { runUpload } from './media-uploader.ts';
import type { UploadContext, UploadedMedia, UploadProgress } from './media-uploader.ts';
import { MessengerError, SESSION_OVER_CODES, makeTransport, sendRequest } from './transport.ts';
import type { ApiOptions, TokenSource, Transport } from './transport.ts';

export type { MediaData } from './media-upload.ts';
export type { UploadedMedia, UploadProgress } from './media-uploader.ts';

/** A signed URL is reused until this long before it expires, then asked for again. */
export const MEDIA_URL_REFRESH_MARGIN_MS = 60_000;

/** Options of {@link MediaApi.upload}. */
export interface UploadOptions {
  kind: MediaKind;
  /** The bytes' MIME type (`audio/webm;codecs=opus` is fine: parameters are dropped). */
  mime: string;
  /** Bytes the server confirmed so far: 0, then after each part (multipart) or at the end (single PUT). */
  onProgress?: (progress: UploadProgress) => void;
  /** Stop the upload (rejects with the signal's reason). Parts already sent are kept: uploading the same bytes again resumes. */
  signal?: AbortSignal;
}

/** Bytes of a download received so far; `total` from Content-Length (undefined when not sent). */
export interface DownloadProgress {
  received: number;
  total: number | undefined;
}

/** Options of {@link MediaApi.download}. */
export interface DownloadOptions {
  onProgress?: (progress: DownloadProgress) => void;
  signal?: AbortSignal;
}

/** Options for {@link MediaApi}: those of `MessengerApi`, plus transfer tuning. */
export interface MediaApiOptions extends ApiOptions {
  /**
   * Timeout of one upload PUT (a part or a whole small file) where bodies are not streamed
   * (browsers), of the status and complete calls, and the idle timeout of a download, ms.
   * Default 120 000.
   */
  transferTimeoutMs?: number;
  /**
   * Where bodies are streamed (`streamUploads`): an upload PUT that makes no progress for this
   * long (fetch takes no chunk of its body, or no answer comes once every byte went) is abandoned
   * and sent again, however large the part; one that moves, however slowly, is never cut. ms,
   * default 30 000.
   */
  transferIdleTimeoutMs?: number;
  /**
   * Send upload bodies as streams (64 KiB chunks with an explicit Content-Length), so a stalled
   * PUT is seen by `transferIdleTimeoutMs`. Default: where the runtime can (Node, Bun, Deno); not
   * in browsers, which cannot stream a request body over HTTP/1.1.
   */
  streamUploads?: boolean;
  /** Parts uploaded at the same time. Default 2. */
  partConcurrency?: number;
  /** Retryable failures in a row (network, timeout, 5xx) before an upload gives up. Default 5. */
  uploadRetries?: number;
  /** Pauses between those retries. Default base 500 ms, cap 10 s (full jitter). */
  uploadBackoff?: BackoffOptions;
}

/**
 * Media over HTTP. Errors are `MessengerError`s with the server's codes (`media_too_large`,
 * `media_type_not_allowed`, `media_not_found`, `media_mismatch`, ...); network failures are
 * retryable `unavailable`.
 *
 * @example
 * const media = new MediaApi({ baseUrl, token });          // or `client.media`
 * const up = await media.upload(file, { kind: 'image', mime: file.type, onProgress: ({ sent, total }) => bar(sent / total) });
 * client.send(peerId, { kind: 'image', media: { id: up.mediaId, mime: up.mime, size: up.size } });
 * img.src = (await media.url(up.mediaId)).url;
 * const bytes = await media.download(up.mediaId);
 */
export class MediaApi {
  readonly baseUrl: string;
  private token: string | (() => string | undefined) | undefined;
  private readonly tokens: TokenSource | undefined;
  private readonly transport: Transport;
  /** For capability URLs: absolute URLs, no bearer token, the transfer timeout. */
  private readonly capabilities: Transport;
  private readonly uploadContext: UploadContext;
  private readonly transferTimeoutMs: number;
  private readonly urls = new Map<string, MediaUrl>();
  private readonly urlRequests = new Map<string, Promise<MediaUrl>>();

  constructor(options: MediaApiOptions) {
    this.token = options.token;
    this.tokens = options.tokens;
    const tokens = options.tokens;
    this.transport = makeTransport(options, () => (tokens === undefined ? this.staticToken() : tokens.current()), 'No token: log in first');
    this.baseUrl = this.transport.baseUrl;
    this.transferTimeoutMs = options.transferTimeoutMs ?? 120_000;
    this.capabilities = { ...this.transport, baseUrl: '', timeoutMs: this.transferTimeoutMs, tokens: undefined, token: () => undefined };
    this.uploadContext = {
      baseUrl: this.baseUrl,
      fetchImpl: this.transport.fetchImpl,
      slot: (request, signal) => this.slot(request, signal),
      capability: (method, url, body, schema, signal) => sendRequest(this.capabilities, { method, path: url, body, auth: false, schema, signal }),
      transferTimeoutMs: this.transferTimeoutMs,
      transferIdleTimeoutMs: options.transferIdleTimeoutMs ?? 30_000,
      streamUploads: options.streamUploads ?? canStreamUploads(),
      partConcurrency: Math.max(1, Math.floor(options.partConcurrency ?? 2)),
      retries: Math.max(0, Math.floor(options.uploadRetries ?? 5)),
      backoff: options.uploadBackoff ?? { baseMs: 500, capMs: 10_000 },
    };
  }

  /** Replace the bearer token (or getter) of a standalone MediaApi (ignored when `tokens` renew it). */
  setToken(token: string | (() => string | undefined) | undefined): void {
    this.token = token;
  }

  /**
   * Upload bytes and resolve once the server verified them (size and SHA-256): the id to name in
   * a message body, a profile photo or a group picture. Hashes first (WebCrypto; see
   * `sha256Hex` for the memory note), checks MEDIA_LIMITS locally, then asks for a slot: bytes you
   * uploaded before are not sent again (`deduplicated: true`). Files over MEDIA_PART_SIZE go in
   * parts, retried on their own; an upload cut short (network, `signal`) resumes where it
   * stopped when called again with the same bytes. Rejects with a MessengerError
   * (`media_too_large`, `media_type_not_allowed`, `media_mismatch`, `unavailable` after the
   * retries, ...) or the signal's reason.
   *
   * @example
   * const { mediaId, mime, size } = await client.media.upload(bytes, { kind: 'document', mime: 'application/pdf' });
   */
  async upload(data: MediaData, options: UploadOptions): Promise<UploadedMedia> {
    const source = mediaSource(data);
    const mime = checkMediaUpload(options.kind, options.mime, source.size);
    if (options.signal?.aborted) throw abortReason(options.signal);
    const sha256 = await sha256Hex(data);
    return runUpload(this.uploadContext, source, { kind: options.kind, mime, size: source.size, sha256 }, options);
  }

  /**
   * POST /v1/media: ask for an upload slot (what `upload` does first). Answers `{ mediaId,
   * deduplicated: true }` or a slot with the upload's URLs.
   */
  slot(request: MediaSlotRequest, signal?: AbortSignal): Promise<MediaSlotResponse> {
    return sendRequest(this.transport, { method: 'POST', path: PATHS.media, body: request, auth: true, schema: MediaSlotResponseSchema, signal });
  }

  /** GET /v1/media/:id/info: kind, type, size, hash and status of media you may see (`media_not_found` otherwise). */
  info(mediaId: string, signal?: AbortSignal): Promise<MediaInfo> {
    return sendRequest(this.transport, { method: 'GET', path: PATHS.mediaInfo(mediaId), auth: true, schema: MediaInfoSchema, signal });
  }

  /**
   * GET /v1/media/:id/url: a short-lived signed URL (no token in it) for `<img>`, `<video>` and
   * `<audio>` `src`. Cached per id and reused until a minute before it expires; concurrent calls
   * share one request.
   *
   * @example
   * video.src = (await client.media.url(mediaId)).url;
   */
  url(mediaId: string, signal?: AbortSignal): Promise<MediaUrl> {
    const cached = this.urls.get(mediaId);
    if (cached !== undefined && cached.expiresAt - MEDIA_URL_REFRESH_MARGIN_MS > Date.now()) return Promise.resolve(cached);
    const inFlight = this.urlRequests.get(mediaId);
    if (inFlight !== undefined) return inFlight;
    const request = sendRequest(this.transport, { method: 'GET', path: PATHS.mediaUrl(mediaId), auth: true, schema: MediaUrlSchema, signal })
      .then((answer) => {
        const absolute = { url: new URL(answer.url, `${this.baseUrl}/`).toString(), expiresAt: answer.expiresAt };
        this.urls.set(mediaId, absolute);
        return absolute;
      })
      .finally(() => this.urlRequests.delete(mediaId));
    this.urlRequests.set(mediaId, request);
    return request;
  }

  /**
   * Forget the cached URL of `mediaId`, so the next `url()` asks the server again (e.g. after an
   * element failed to load from it).
   */
  forgetUrl(mediaId: string): void {
    this.urls.delete(mediaId);
  }

  /**
   * GET /v1/media/:id: the bytes (bearer auth), streamed with progress. `media_not_found` for
   * media you may not download (indistinguishable from a missing id). The whole file ends up in
   * memory; for playback prefer {@link url}, which streams and seeks.
   *
   * @example
   * const bytes = await client.media.download(mediaId, { onProgress: ({ received, total }) => bar(received, total) });
   */
  async download(mediaId: string, options: DownloadOptions = {}): Promise<Uint8Array> {
    const what = `GET ${PATHS.mediaItem(mediaId)}`;
    const raw = await this.authorizedGet(PATHS.mediaItem(mediaId), what, options.signal);
    const request = { signal: options.signal, what, timeoutMs: this.transferTimeoutMs };
    try {
      const length = raw.response.headers.get('content-length');
      const total = length !== null && /^[0-9]+$/.test(length) ? Number(length) : undefined;
      const chunks: Uint8Array[] = [];
      let received = 0;
      options.onProgress?.({ received, total });
      const reader = raw.response.body?.getReader();
      for (;;) {
        if (reader === undefined) break;
        const { done, value } = await reader.read();
        if (done) break;
        raw.touch();
        chunks.push(value);
        received += value.byteLength;
        options.onProgress?.({ received, total });
      }
      if (total !== undefined && received !== total) throw new MessengerError('unavailable', `${what}: got ${received} of ${total} bytes`, { status: 0 });
      const bytes = new Uint8Array(received);
      let offset = 0;
      for (const chunk of chunks) {
        bytes.set(chunk, offset);
        offset += chunk.byteLength;
      }
      return bytes;
    } catch (cause) {
      throw failure(request, raw.controller, cause);
    } finally {
      raw.done();
    }
  }

  /** A GET with the bearer token; an expired token is renewed and the request sent once more. */
  private async authorizedGet(path: string, what: string, signal: AbortSignal | undefined): Promise<RawResponse> {
    const tokens = this.tokens;
    const token = tokens === undefined ? this.transport.token() : await tokens.fresh();
    if (token === undefined || token === '') throw new MessengerError('unauthorized', this.transport.noToken);
    const get = (bearer: string): Promise<RawResponse> =>
      rawFetch(this.transport.fetchImpl, {
        url: this.baseUrl + path,
        init: { method: 'GET', headers: { authorization: `Bearer ${bearer}` } },
        timeoutMs: this.transferTimeoutMs,
        signal,
        what,
      });
    let raw = await get(token);
    if (!raw.response.ok) {
      const error = await this.errorOf(raw, what);
      if (tokens !== undefined && SESSION_OVER_CODES.has(error.code)) tokens.ended(token, error);
      const renewed = tokens !== undefined && error.code === 'token_expired' ? await tokens.renew(token) : undefined;
      if (renewed === undefined || renewed === token) throw error;
      raw = await get(renewed);
      if (!raw.response.ok) throw await this.errorOf(raw, what);
    }
    return raw;
  }

  private async errorOf(raw: RawResponse, what: string): Promise<MessengerError> {
    try {
      return await responseError(raw.response, what);
    } finally {
      raw.done();
    }
  }

  private staticToken(): string | undefined {
    return typeof this.token === 'function' ? this.token() : this.token;
  }
}
