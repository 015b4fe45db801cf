/**
 * One media upload from slot to verified media, as `MediaApi.upload` runs it:
 *
 * - the slot answers `deduplicated` (these bytes are already yours): done, nothing is sent;
 * - `single`: one PUT of the whole file to the slot's URL (no bearer token: the URL carries a
 *   single-use capability), then a POST to `completeUrl` when there is one (presigned R2 URLs);
 * - `multipart`: every part the server does not hold yet (`received`) is PUT to its own URL, two
 *   at a time; a failed part is retried after a backoff, first asking `statusUrl` what arrived
 *   (a part may have arrived even though its answer was lost); finally `completeUrl` assembles
 *   and verifies the parts.
 *
 * A capability that expired or was used up (`upload_capability_invalid`) is replaced by asking
 * for the slot again with the same request: the server resumes an unfinished multipart upload
 * (same media id, `received` lists the parts it kept) or answers `deduplicated` if the upload
 * did finish. Retryable failures (network, timeouts, 5xx, rate limits) are retried a bounded
 * number of times in a row; progress resets the count.
 *
 * Timeouts: where the runtime can stream a request body (Node, Bun, Deno) each PUT is streamed in
 * 64 KiB chunks and abandoned after `transferIdleTimeoutMs` without a chunk taken or, after the
 * last one, without the answer: a silent connection costs that long, not a whole-part deadline,
 * and a slow link that keeps moving is never cut. Browsers send the Blob whole, under
 * `transferTimeoutMs` per PUT.
 */
import { MediaInfoSchema, MediaPartReceiptSchema, MediaPartsStatusSchema } from '../protocol/index.ts';
import type { MediaInfo, MediaKind, MediaMultipartUpload, MediaSingleUpload, MediaSlotRequest, MediaSlotResponse } from '../protocol/index.ts';
import { Backoff } from './backoff.ts';
import type { BackoffOptions } from './backoff.ts';
import { abortReason, absoluteUrl, delay, fetchText, partRanges, progressBody, runLimited } from './media-upload.ts';
import type { RawRequest } from './media-upload.ts';
import type { MediaSource, PartRange } from './media-upload.ts';
import { MessengerError } from './transport.ts';
import type { FetchLike } from './transport.ts';
import type { z } from 'zod';

/** Bytes of an upload the server confirmed so far, of `total`. */
export interface UploadProgress {
  sent: number;
  total: number;
}

/** What `MediaApi.upload` resolves with: the media id to name in a message body, and what it is. */
export interface UploadedMedia {
  mediaId: string;
  kind: MediaKind;
  /** As the server stored it: lowercase, no parameters (use it in the message body). */
  mime: string;
  size: number;
  /** SHA-256 of the bytes, lowercase hex. */
  sha256: string;
  /** True when the server already had these bytes from you: nothing was uploaded. */
  deduplicated: boolean;
}

/** What an upload needs of the API object running it. */
export interface UploadContext {
  baseUrl: string;
  fetchImpl: FetchLike;
  /** POST /v1/media (bearer). */
  slot(request: MediaSlotRequest, signal: AbortSignal | undefined): Promise<MediaSlotResponse>;
  /** A JSON request to a capability URL (no bearer token). */
  capability<T>(method: 'GET' | 'POST', url: string, body: unknown, schema: z.ZodType<T>, signal: AbortSignal | undefined): Promise<T>;
  /** Timeout of one PUT (a whole part or file) whose body is not streamed, ms. */
  transferTimeoutMs: number;
  /**
   * With a streamed body: a PUT is abandoned after this long without fetch taking a chunk of it,
   * or, once every chunk went, without the answer, ms.
   */
  transferIdleTimeoutMs: number;
  /** Send bodies as streams, so progress is seen and a stalled PUT is told apart from a slow one. */
  streamUploads: boolean;
  partConcurrency: number;
  /** Retryable failures in a row (without any part confirmed in between) before giving up. */
  retries: number;
  backoff: BackoffOptions;
}

/** A validated upload request (normalized MIME type, SHA-256 known). */
export interface UploadRequest {
  kind: MediaKind;
  mime: string;
  size: number;
  sha256: string;
}

/** Counts retryable failures in a row and waits out each one. */
class RetryBudget {
  private failures = 0;
  private readonly backoff: Backoff;

  constructor(
    private readonly limit: number,
    options: BackoffOptions,
  ) {
    this.backoff = new Backoff(options);
  }

  progress(): void {
    this.failures = 0;
    this.backoff.reset();
  }

  /** `error` happened: rethrow it when it is not worth retrying or the budget is spent, else wait. */
  async absorb(error: unknown, signal: AbortSignal | undefined, retryableCodes: readonly string[] = []): Promise<void> {
    if (signal?.aborted) throw abortReason(signal);
    if (!(error instanceof MessengerError)) throw error;
    if (!error.retryable && !retryableCodes.includes(error.code)) throw error;
    this.failures += 1;
    if (this.failures > this.limit) throw error;
    await delay(Math.max(this.backoff.next(), error.retryAfterMs ?? 0), signal);
  }
}

function parseJson<T>(text: string, schema: z.ZodType<T>, what: string): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new MessengerError('internal', `${what}: response is not JSON`, { retryable: false, cause });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new MessengerError('internal', `${what}: response does not match the protocol`, { retryable: false, cause: parsed.error });
  return parsed.data;
}

/**
 * Upload `source` (already hashed into `request`) and resolve when the server verified it.
 * Rejects with a MessengerError (the server's code) or, when `signal` aborts, its reason.
 */
export async function runUpload(
  ctx: UploadContext,
  source: MediaSource,
  request: UploadRequest,
  options: { onProgress?: ((progress: UploadProgress) => void) | undefined; signal?: AbortSignal | undefined },
): Promise<UploadedMedia> {
  const { signal } = options;
  const budget = new RetryBudget(ctx.retries, ctx.backoff);
  let reported = -1;
  const report = (sent: number): void => {
    if (sent === reported) return;
    reported = sent;
    options.onProgress?.({ sent, total: request.size });
  };
  report(0);
  for (;;) {
    try {
      if (signal?.aborted) throw abortReason(signal);
      const slot = await ctx.slot(request, signal);
      let info: MediaInfo;
      if (slot.deduplicated) {
        report(request.size);
        return { mediaId: slot.mediaId, ...request, deduplicated: true };
      }
      if (slot.upload.mode === 'single') info = await putSingle(ctx, source, slot.upload, signal);
      else info = await putParts(ctx, source, slot.upload, { budget, report, signal });
      if (info.id !== slot.mediaId) throw new MessengerError('internal', 'The upload answered another media id', { retryable: false });
      report(request.size);
      return { mediaId: slot.mediaId, ...request, deduplicated: false };
    } catch (error) {
      // An expired or spent capability: a new slot resumes (or finds the finished upload).
      await budget.absorb(error, signal, ['upload_capability_invalid']);
    }
  }
}

async function putSingle(ctx: UploadContext, source: MediaSource, upload: MediaSingleUpload, signal: AbortSignal | undefined): Promise<MediaInfo> {
  const what = 'PUT media';
  const answer = await fetchText(ctx.fetchImpl, transfer(ctx, { url: absoluteUrl(upload.url, ctx.baseUrl), method: upload.method, headers: upload.headers }, source.slice(0, source.size), signal, what));
  if (upload.completeUrl !== undefined) return ctx.capability('POST', absoluteUrl(upload.completeUrl, ctx.baseUrl), {}, MediaInfoSchema, signal);
  return parseJson(answer.text, MediaInfoSchema, what);
}

interface PartsRun {
  budget: RetryBudget;
  report: (sent: number) => void;
  signal: AbortSignal | undefined;
}

async function putParts(ctx: UploadContext, source: MediaSource, upload: MediaMultipartUpload, run: PartsRun): Promise<MediaInfo> {
  const ranges = partRanges(source.size, upload.partSize);
  if (ranges.length !== upload.partCount || upload.partUrls.length !== upload.partCount) {
    throw new MessengerError('internal', `The slot announced ${upload.partCount} parts for ${source.size} bytes in parts of ${upload.partSize}`, { retryable: false });
  }
  const held = new Set(upload.received);
  /** Entity tags of parts this run sent (parts kept from an earlier run are recorded by the server). */
  const etags = new Map<number, string>();
  const confirmed = (): number => ranges.reduce((sum, r) => sum + (held.has(r.part) ? r.end - r.start : 0), 0);
  const complete = (): Promise<MediaInfo> => {
    const parts = [...etags].sort(([a], [b]) => a - b).map(([part, etag]) => ({ part, etag }));
    return ctx.capability('POST', absoluteUrl(upload.completeUrl, ctx.baseUrl), { parts }, MediaInfoSchema, run.signal);
  };
  run.report(confirmed());
  for (;;) {
    try {
      const missing = ranges.filter((r) => !held.has(r.part));
      await runLimited(missing, ctx.partConcurrency, async (range) => {
        etags.set(range.part, await putPart(ctx, source, upload, range, run.signal));
        held.add(range.part);
        run.budget.progress();
        run.report(confirmed());
      });
      return await complete();
    } catch (error) {
      // Parts missing at completion (a receipt lost?): ask what arrived, like after a cut.
      await run.budget.absorb(error, run.signal, ['upload_incomplete']);
    }
    // A part failed or its answer was lost: learn what arrived before sending anything again.
    try {
      const status = await ctx.capability('GET', absoluteUrl(upload.statusUrl, ctx.baseUrl), undefined, MediaPartsStatusSchema, run.signal);
      held.clear();
      for (const part of status.received) held.add(part);
      run.report(confirmed());
    } catch (error) {
      await run.budget.absorb(error, run.signal);
    }
  }
}

async function putPart(ctx: UploadContext, source: MediaSource, upload: MediaMultipartUpload, range: PartRange, signal: AbortSignal | undefined): Promise<string> {
  if (signal?.aborted) throw abortReason(signal);
  const what = `PUT media part ${range.part}`;
  const url = upload.partUrls[range.part - 1] as string;
  const answer = await fetchText(ctx.fetchImpl, transfer(ctx, { url: absoluteUrl(url, ctx.baseUrl), method: upload.method, headers: upload.headers }, source.slice(range.start, range.end), signal, what));
  // The Worker answers a receipt; a presigned R2 URL answers an empty body with an ETag header.
  if (answer.text.trim() !== '') {
    const receipt = parseJson(answer.text, MediaPartReceiptSchema, what);
    if (receipt.part !== range.part) throw new MessengerError('internal', `${what}: the receipt names part ${receipt.part}`, { retryable: false });
    return receipt.etag;
  }
  const etag = answer.headers.get('etag');
  if (etag === null) throw new MessengerError('internal', `${what}: no receipt and no ETag`, { retryable: false });
  return etag;
}

/**
 * The request that PUTs `body`. Streamed (where the runtime can): the body goes in chunks and the
 * timeout is an idle one, restarted by every chunk fetch takes, so a stalled PUT is abandoned
 * after `transferIdleTimeoutMs` however large the part, and a slow one that moves is never cut.
 * Otherwise (browsers) the whole PUT has `transferTimeoutMs`.
 */
function transfer(
  ctx: UploadContext,
  target: { url: string; method: string; headers: Record<string, string> },
  body: Blob | Uint8Array<ArrayBuffer>,
  signal: AbortSignal | undefined,
  what: string,
): RawRequest {
  if (!ctx.streamUploads) {
    return { url: target.url, init: { method: target.method, headers: target.headers, body }, timeoutMs: ctx.transferTimeoutMs, signal, what };
  }
  let touch = (): void => undefined;
  const size = body instanceof Blob ? body.size : body.byteLength;
  // A stream has no length of its own: declare it, as a Blob body would (the server and R2 check it).
  const headers = new Headers(target.headers);
  headers.set('content-length', String(size));
  const init: RequestInit & { duplex: 'half' } = {
    method: target.method,
    headers,
    body: progressBody(body, () => touch()),
    duplex: 'half',
  };
  return { url: target.url, init, timeoutMs: ctx.transferIdleTimeoutMs, signal, what, onTouch: (restart) => (touch = restart) };
}
