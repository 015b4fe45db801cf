/**
 * The pieces of a media upload that do not talk to the server's JSON API: the bytes as one
 * source whatever the app handed in (Blob, Uint8Array, ArrayBuffer), their SHA-256, the byte
 * ranges of multipart parts, and raw `fetch` calls to capability URLs (timeouts, abort, error
 * mapping to `MessengerError`). Standard APIs only (WebCrypto, Blob, fetch): runs in Node 20+,
 * browsers and web workers alike.
 */
import { ErrorResponseSchema, MEDIA_LIMITS, MediaKindSchema, MediaMimeSchema, errorCodeForStatus, mediaMimeAllowed } from '../protocol/index.ts';
import type { MediaKind } from '../protocol/index.ts';
import { MessengerError } from './transport.ts';
import type { FetchLike } from './transport.ts';

/** The bytes an upload takes: a Blob or File (browsers), or bytes in memory. */
export type MediaData = Blob | Uint8Array | ArrayBuffer;

/** Bytes being uploaded: their size, and any range of them as a fetch body. */
export interface MediaSource {
  readonly size: number;
  /** Bytes [start, end) as a request body (a Blob slice stays on disk until sent). */
  slice(start: number, end: number): Blob | Uint8Array<ArrayBuffer>;
  /** All the bytes, read once (a Blob is read into memory here). */
  bytes(): Promise<Uint8Array<ArrayBuffer>>;
}

/**
 * A {@link MediaSource} over `data`. A Blob is sliced lazily (a browser sends a slice of a File
 * straight from disk); bytes are viewed, not copied.
 *
 * @example
 * const source = mediaSource(file);
 * await fetch(url, { method: 'PUT', body: source.slice(0, 8 * 1024 * 1024) });
 */
export function mediaSource(data: MediaData): MediaSource {
  if (data instanceof Uint8Array || data instanceof ArrayBuffer) {
    // Bytes over a SharedArrayBuffer are not a valid fetch body or digest input; apps don't upload those.
    const view = (data instanceof Uint8Array ? data : new Uint8Array(data)) as Uint8Array<ArrayBuffer>;
    return { size: view.byteLength, slice: (start, end) => view.subarray(start, end), bytes: () => Promise.resolve(view) };
  }
  return {
    size: data.size,
    slice: (start, end) => data.slice(start, end),
    bytes: async () => new Uint8Array(await data.arrayBuffer()),
  };
}

/** The size in bytes of `data`, without reading it. */
export function mediaDataSize(data: MediaData): number {
  return data instanceof Blob ? data.size : data.byteLength;
}

/**
 * Check an upload against MEDIA_LIMITS before hashing or asking for a slot; returns the MIME
 * type as the server stores it (lowercase, no parameters). Throws `validation_failed`,
 * `media_type_not_allowed` or `media_too_large`, as the server would answer.
 *
 * @example
 * checkMediaUpload('voice', 'audio/webm;codecs=opus', 12_345) // 'audio/webm'
 */
export function checkMediaUpload(kind: MediaKind, mime: string, size: number): string {
  if (!MediaKindSchema.safeParse(kind).success) throw new MessengerError('validation_failed', `Unknown media kind ${JSON.stringify(kind)}`);
  const parsed = MediaMimeSchema.safeParse(mime);
  if (!parsed.success) throw new MessengerError('validation_failed', `Invalid MIME type ${JSON.stringify(mime)}`);
  if (!Number.isSafeInteger(size) || size <= 0) throw new MessengerError('validation_failed', 'Media must not be empty');
  if (!mediaMimeAllowed(kind, parsed.data)) throw new MessengerError('media_type_not_allowed', `${parsed.data} is not accepted as ${kind}`);
  const limit = MEDIA_LIMITS[kind].maxBytes;
  if (size > limit) throw new MessengerError('media_too_large', `${kind} uploads are limited to ${limit} bytes`);
  return parsed.data;
}

/** Lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  let hex = '';
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0');
  return hex;
}

/**
 * SHA-256 of the bytes, lowercase hex, with WebCrypto (`crypto.subtle.digest`: native, off the
 * main thread's JavaScript, available in Node 20+, browsers in secure contexts and web workers).
 *
 * Memory: WebCrypto has no incremental digest, so the whole file is in memory once while it is
 * hashed (a Blob is read with `arrayBuffer()`; up to the largest upload, 100 MB). The upload
 * itself then sends slices of the Blob, so the buffer can be collected right after hashing.
 * Apps that hash huge files on a phone may do this in a web worker (MediaApi runs there as is).
 *
 * @example
 * await sha256Hex(new TextEncoder().encode('abc')) // 'ba7816bf...15ad'
 */
export async function sha256Hex(data: MediaData): Promise<string> {
  const bytes = await mediaSource(data).bytes();
  // A view over a larger buffer must be digested as just its own bytes.
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return toHex(new Uint8Array(digest));
}

/** One multipart part: its number (1-based) and byte range [start, end). */
export interface PartRange {
  part: number;
  start: number;
  end: number;
}

/**
 * The parts `size` bytes are sent in, `partSize` each (the last one smaller).
 *
 * @example
 * partRanges(20, 8) // [{part:1,start:0,end:8},{part:2,start:8,end:16},{part:3,start:16,end:20}]
 */
export function partRanges(size: number, partSize: number): PartRange[] {
  if (!Number.isSafeInteger(size) || size <= 0 || !Number.isSafeInteger(partSize) || partSize <= 0) {
    throw new RangeError(`partRanges: size ${size} and partSize ${partSize} must be positive integers`);
  }
  const ranges: PartRange[] = [];
  for (let start = 0, part = 1; start < size; start += partSize, part += 1) {
    ranges.push({ part, start, end: Math.min(size, start + partSize) });
  }
  return ranges;
}

/**
 * Run `task` for each item, at most `limit` at a time, in order of the items. Rejects with the
 * first failure (tasks already running finish; no new ones start).
 */
export async function runLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const item = items[next] as T;
      next += 1;
      try {
        await task(item);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, () => worker());
  const results = await Promise.allSettled(workers);
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected !== undefined) throw rejected.reason;
}

/** Wait `ms` (or less when `signal` aborts: then reject with its reason). */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** What an aborted signal rejects with: its reason, else a DOMException 'AbortError'. */
export function abortReason(signal: AbortSignal | undefined): unknown {
  return signal?.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

/**
 * The `MessengerError` a non-2xx response carries: the server's code, message and
 * `retryAfterMs` from its JSON error body, else a code for the status.
 */
export async function responseError(response: Response, what: string): Promise<MessengerError> {
  let text = '';
  try {
    text = await response.text();
  } catch {
    // The body is lost with the connection: the status alone says enough.
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = ErrorResponseSchema.safeParse(json);
  if (parsed.success) {
    const { code, message, retryable, retryAfterMs } = parsed.data.error;
    return new MessengerError(code, message, { status: response.status, retryable, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
  }
  const retryAfter = response.headers.get('retry-after');
  const seconds = retryAfter !== null && /^[0-9]+$/.test(retryAfter.trim()) ? Number(retryAfter.trim()) * 1_000 : undefined;
  return new MessengerError(errorCodeForStatus(response.status), `${what}: HTTP ${response.status}`, {
    status: response.status,
    ...(seconds === undefined ? {} : { retryAfterMs: seconds }),
  });
}

/** Bytes a streamed upload body hands to fetch at a time; each one taken counts as progress. */
export const UPLOAD_CHUNK_BYTES = 64 * 1024;

/**
 * Whether this runtime can send a `ReadableStream` as a request body over HTTP/1.1 (with a
 * `Content-Length` the caller sets): Node (undici), Bun and Deno can; browsers cannot (Chrome
 * streams only over HTTP/2 and QUIC, Firefox and Safari not at all), so they send Blobs whole.
 */
export function canStreamUploads(): boolean {
  const scope = globalThis as { process?: { versions?: { node?: unknown } }; document?: unknown };
  return typeof scope.process?.versions?.node === 'string' && scope.document === undefined;
}

/**
 * `body` as a stream handed to fetch in chunks of UPLOAD_CHUNK_BYTES, calling `onChunk` for each
 * chunk fetch takes. fetch takes a chunk only when the connection accepted the previous ones
 * (backpressure), so the calls tell an upload that moves from one that stalled.
 *
 * @example
 * const body = progressBody(part, () => touch());
 * await fetch(url, { method: 'PUT', body, duplex: 'half', headers: { 'content-length': String(part.byteLength) } });
 */
export function progressBody(body: Blob | Uint8Array<ArrayBuffer>, onChunk: () => void): ReadableStream<Uint8Array<ArrayBuffer>> {
  const size = body instanceof Blob ? body.size : body.byteLength;
  let offset = 0;
  return new ReadableStream<Uint8Array<ArrayBuffer>>(
    {
      async pull(controller) {
        if (offset >= size) {
          controller.close();
          return;
        }
        const end = Math.min(size, offset + UPLOAD_CHUNK_BYTES);
        const chunk = body instanceof Blob ? new Uint8Array(await body.slice(offset, end).arrayBuffer()) : body.subarray(offset, end);
        offset = end;
        onChunk();
        controller.enqueue(chunk);
      },
    },
    // Nothing is read ahead: a chunk is produced only when fetch asks for one.
    { highWaterMark: 0 },
  );
}

/** One raw request: a fetch with a timeout and the caller's signal. */
export interface RawRequest {
  url: string;
  init: RequestInit;
  /**
   * Abort and report `unavailable` after this many ms without progress: without the response
   * (headers) arriving, and without `touch` (given to `onTouch`) being called meanwhile.
   */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Names the request in error messages. */
  what: string;
  /**
   * Called once, before the request starts, with the function that restarts its timeout: a
   * streamed body calls it for each chunk it hands to fetch, so the timeout measures idleness.
   */
  onTouch?: ((touch: () => void) => void) | undefined;
}

/** An answer of {@link rawFetch}, with the means to read its body under the same timeout. */
export interface RawResponse {
  response: Response;
  controller: AbortController;
  /** Clear the timeout and the abort listener (call once the body is read or abandoned). */
  done: () => void;
  /** Restart the timeout (call on each chunk read: it is then an idle timeout). */
  touch: () => void;
}

/**
 * `fetch` with a timeout and the caller's signal: resolves with the response whatever its
 * status; its body is read under the same timeout (restarted by `touch`) until `done()`.
 * A network failure or timeout rejects with a retryable `unavailable`; the caller's abort rejects
 * with the signal's reason.
 */
export async function rawFetch(fetchImpl: FetchLike, request: RawRequest): Promise<RawResponse> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let finished = false;
  const touch = (): void => {
    if (finished) return;
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(), request.timeoutMs);
  };
  touch();
  request.onTouch?.(touch);
  const onCallerAbort = (): void => controller.abort();
  request.signal?.addEventListener('abort', onCallerAbort, { once: true });
  if (request.signal?.aborted) controller.abort();
  const done = (): void => {
    finished = true;
    clearTimeout(timer);
    request.signal?.removeEventListener('abort', onCallerAbort);
  };
  try {
    const response = await fetchImpl(request.url, { ...request.init, signal: controller.signal });
    // Restart the clock for reading the body.
    touch();
    return { response, controller, done, touch };
  } catch (cause) {
    done();
    throw failure(request, controller, cause);
  }
}

/** The error for a request that failed mid-way: the caller's abort, a timeout or a network error. */
export function failure(request: Pick<RawRequest, 'signal' | 'what' | 'timeoutMs'>, controller: AbortController, cause: unknown): unknown {
  if (request.signal?.aborted) return abortReason(request.signal);
  if (cause instanceof MessengerError) return cause;
  const why = controller.signal.aborted ? `timed out (${request.timeoutMs} ms without progress)` : 'network error';
  return new MessengerError('unavailable', `${request.what}: ${why}`, { status: 0, cause });
}

/**
 * Run a raw request and read its answer as text: resolves with the text of a 2xx answer (and
 * its headers); rejects with {@link responseError} for any other status.
 */
export async function fetchText(fetchImpl: FetchLike, request: RawRequest): Promise<{ text: string; headers: Headers; status: number }> {
  const { response, controller, done } = await rawFetch(fetchImpl, request);
  try {
    if (!response.ok) throw await responseError(response, request.what);
    const text = await response.text();
    return { text, headers: response.headers, status: response.status };
  } catch (cause) {
    throw failure(request, controller, cause);
  } finally {
    done();
  }
}

/** `url` made absolute against `baseUrl` (capability URLs are absolute already). */
export function absoluteUrl(url: string, baseUrl: string): string {
  return new URL(url, `${baseUrl}/`).toString();
}
