/**
 * The SDK's media helpers without a server: hashing, part ranges, local limit checks, bounded
 * concurrency, and the upload state machine (runUpload) against an in-memory fake of the slot,
 * part, status and complete endpoints: retry of one failed part after asking what arrived, a new
 * slot when the capability expired, dedup; with streamed bodies, a stalled part abandoned after the
 * idle timeout while a slow one that moves is never cut.
 */
import { describe, expect, it } from 'vitest';
import { MessengerError, checkMediaUpload, partRanges, sha256Hex } from '../../client/index.ts';
import { runLimited } from '../../client/media-upload.ts';
import { runUpload, type UploadContext } from '../../client/media-uploader.ts';
import type { MediaInfo, MediaSlotResponse } from '../../protocol/index.ts';
import { mediaSource } from '../../client/media-upload.ts';

const ABC_SHA256 = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';

describe('sha256Hex', () => {
  it('hashes bytes, buffers, blobs and views of larger buffers alike', async () => {
    const abc = new TextEncoder().encode('abc');
    expect(await sha256Hex(abc)).toBe(ABC_SHA256);
    expect(await sha256Hex(abc.buffer)).toBe(ABC_SHA256);
    expect(await sha256Hex(new Blob([abc]))).toBe(ABC_SHA256);
    const larger = new TextEncoder().encode('xxabcyy');
    expect(await sha256Hex(larger.subarray(2, 5))).toBe(ABC_SHA256);
  });
});

describe('partRanges', () => {
  it('cuts parts of partSize, the last one smaller', () => {
    expect(partRanges(20, 8)).toEqual([
      { part: 1, start: 0, end: 8 },
      { part: 2, start: 8, end: 16 },
      { part: 3, start: 16, end: 20 },
    ]);
    expect(partRanges(16, 8)).toHaveLength(2);
    expect(partRanges(1, 8)).toEqual([{ part: 1, start: 0, end: 1 }]);
    expect(() => partRanges(0, 8)).toThrow(RangeError);
  });
});

describe('checkMediaUpload', () => {
  it('normalizes the type and refuses what MEDIA_LIMITS refuses, with the server codes', () => {
    expect(checkMediaUpload('voice', 'Audio/WebM; codecs=opus', 10)).toBe('audio/webm');
    expect(() => checkMediaUpload('sticker', 'image/jpeg', 10)).toThrow(expect.objectContaining({ code: 'media_type_not_allowed' }));
    expect(() => checkMediaUpload('document', 'text/html', 10)).toThrow(expect.objectContaining({ code: 'media_type_not_allowed' }));
    expect(() => checkMediaUpload('sticker', 'image/webp', 600 * 1024)).toThrow(expect.objectContaining({ code: 'media_too_large' }));
    expect(() => checkMediaUpload('image', 'not a type', 10)).toThrow(expect.objectContaining({ code: 'validation_failed' }));
    expect(() => checkMediaUpload('image', 'image/png', 0)).toThrow(expect.objectContaining({ code: 'validation_failed' }));
  });
});

describe('runLimited', () => {
  it('runs at most `limit` tasks at once and stops starting new ones after a failure', async () => {
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    const run = runLimited([1, 2, 3, 4, 5], 2, async (n) => {
      started.push(n);
      running += 1;
      peak = Math.max(peak, running);
      await new Promise<void>((resolve) => setTimeout(resolve, n));
      running -= 1;
      if (n === 2) throw new Error('boom');
    });
    await expect(run).rejects.toThrow('boom');
    expect(peak).toBe(2);
    expect(started).not.toContain(5);
  });
});

/** An in-memory server for runUpload: parts held, and hooks to fail requests. */
function fakeServer(size: number, partSize: number) {
  const held = new Set<number>();
  const puts: number[] = [];
  const calls: string[] = [];
  const partCount = Math.ceil(size / partSize);
  let capability = 1;
  let complete = false;
  const hooks: { failPut?: (part: number) => Error | undefined; failSlot?: () => Error | undefined } = {};
  const info = (): MediaInfo => ({ id: 'M'.repeat(26), kind: 'document', mime: 'application/pdf', size, sha256: 'a'.repeat(64), createdAt: 1, status: 'complete' });
  const ctx: UploadContext = {
    baseUrl: 'https://api.test',
    partConcurrency: 2,
    retries: 3,
    backoff: { baseMs: 1, capMs: 2 },
    transferTimeoutMs: 5_000,
    transferIdleTimeoutMs: 5_000,
    streamUploads: false,
    slot: async () => {
      calls.push('slot');
      const failure = hooks.failSlot?.();
      if (failure !== undefined) throw failure;
      if (complete) return { mediaId: 'M'.repeat(26), deduplicated: true } satisfies MediaSlotResponse;
      capability += 1;
      const cap = `?cap=${capability}`;
      return {
        mediaId: 'M'.repeat(26),
        deduplicated: false,
        upload: {
          mode: 'multipart',
          partSize,
          partCount,
          partUrls: Array.from({ length: partCount }, (_, i) => `/parts/${i + 1}${cap}`),
          method: 'PUT',
          headers: {},
          statusUrl: `/parts${cap}`,
          completeUrl: `/complete${cap}`,
          expiresAt: 0,
          received: [...held].sort((a, b) => a - b),
        },
      } satisfies MediaSlotResponse;
    },
    capability: async (method, url, _body, schema) => {
      calls.push(`${method} ${new URL(url).pathname}`);
      if (!url.endsWith(`cap=${capability}`)) throw new MessengerError('upload_capability_invalid');
      if (method === 'GET') return schema.parse({ mediaId: 'M'.repeat(26), partCount, received: [...held].sort((a, b) => a - b), expiresAt: 0 });
      if (held.size !== partCount) throw new MessengerError('upload_incomplete');
      complete = true;
      return schema.parse(info());
    },
    fetchImpl: async (input, init) => {
      const url = new URL(input);
      const part = Number(/\/parts\/([0-9]+)/.exec(url.pathname)?.[1]);
      puts.push(part);
      const failure = hooks.failPut?.(part);
      if (failure !== undefined) throw failure;
      if (url.searchParams.get('cap') !== String(capability)) {
        return new Response(JSON.stringify({ error: { code: 'upload_capability_invalid', message: 'expired', retryable: false } }), { status: 401 });
      }
      const body = new Uint8Array(await new Response(init?.body as BodyInit).arrayBuffer());
      held.add(part);
      return new Response(JSON.stringify({ part, etag: `e${part}`, size: body.byteLength }), { status: 200 });
    },
  };
  return { ctx, held, puts, calls, hooks, expire: () => (capability += 1) };
}

const request = (size: number) => ({ kind: 'document' as const, mime: 'application/pdf', size, sha256: 'a'.repeat(64) });

describe('runUpload (multipart)', () => {
  it('retries a part whose PUT failed after asking what arrived, and sends no part twice otherwise', async () => {
    const server = fakeServer(50, 8);
    let failed = false;
    server.hooks.failPut = (part) => {
      if (part !== 3 || failed) return undefined;
      failed = true;
      return new TypeError('fetch failed');
    };
    const progress: number[] = [];
    const result = await runUpload(server.ctx, mediaSource(new Uint8Array(50)), request(50), { onProgress: (p) => progress.push(p.sent) });
    expect(result).toMatchObject({ mediaId: 'M'.repeat(26), deduplicated: false, size: 50 });
    expect([...server.puts].sort((a, b) => a - b)).toEqual([1, 2, 3, 3, 4, 5, 6, 7]);
    expect(server.calls).toContain('GET /parts');
    expect(progress[0]).toBe(0);
    expect(progress.at(-1)).toBe(50);
  });

  it('asks for a new slot when the capability expired, and sends only the parts the server lacks', async () => {
    const server = fakeServer(40, 8);
    let expired = false;
    server.hooks.failPut = (part) => {
      if (part === 3 && !expired) {
        expired = true;
        server.expire();
      }
      return undefined;
    };
    await runUpload({ ...server.ctx, partConcurrency: 1 }, mediaSource(new Uint8Array(40)), request(40), {});
    expect(server.calls.filter((c) => c === 'slot')).toHaveLength(2);
    expect(server.puts).toEqual([1, 2, 3, 3, 4, 5]);
  });

  it('gives up after the retries in a row, with the last error', async () => {
    const server = fakeServer(40, 8);
    server.hooks.failPut = () => new TypeError('fetch failed');
    await expect(runUpload(server.ctx, mediaSource(new Uint8Array(40)), request(40), {})).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('answers a finished upload as deduplicated without sending bytes, and stops on abort', async () => {
    const server = fakeServer(16, 8);
    await runUpload(server.ctx, mediaSource(new Uint8Array(16)), request(16), {});
    const before = server.puts.length;
    expect(await runUpload(server.ctx, mediaSource(new Uint8Array(16)), request(16), {})).toMatchObject({ deduplicated: true });
    expect(server.puts).toHaveLength(before);

    const aborted = new AbortController();
    aborted.abort(new Error('stop'));
    await expect(runUpload(fakeServer(16, 8).ctx, mediaSource(new Uint8Array(16)), request(16), { signal: aborted.signal })).rejects.toThrow();
  });
});

/** Reject when `signal` aborts, as fetch does. */
function onAbort(signal: AbortSignal | null | undefined): Promise<never> {
  return new Promise((_, reject) => signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')), { once: true }));
}

describe('runUpload (streamed bodies: idle timeout)', () => {
  const KIB = 1024;

  it('abandons a part whose body stops moving after the idle timeout, sends it again, and no other part twice', async () => {
    const server = fakeServer(3 * 256 * KIB, 256 * KIB);
    const serve = server.ctx.fetchImpl;
    let stalled = false;
    const fetchImpl: typeof serve = async (input, init) => {
      const part = Number(/\/parts\/([0-9]+)/.exec(new URL(input).pathname)?.[1]);
      expect(init?.body).toBeInstanceOf(ReadableStream);
      expect(new Headers(init?.headers).get('content-length')).toBe(String(256 * KIB));
      if (part === 2 && !stalled) {
        stalled = true;
        server.puts.push(part);
        // Take one chunk, then nothing more and no answer: a connection that went silent.
        await (init!.body as ReadableStream<Uint8Array>).getReader().read();
        return onAbort(init?.signal);
      }
      return serve(input, init);
    };
    const started = Date.now();
    await runUpload({ ...server.ctx, fetchImpl, streamUploads: true, transferIdleTimeoutMs: 200 }, mediaSource(new Uint8Array(3 * 256 * KIB)), request(3 * 256 * KIB), {});
    // Told by the idle timeout, well before the whole-PUT timeout (transferTimeoutMs, 5 s) would have.
    expect(Date.now() - started).toBeLessThan(4_000);
    expect([...server.puts].sort((a, b) => a - b)).toEqual([1, 2, 2, 3]);
    expect(server.calls).toContain('GET /parts');
  });

  it('never cuts a part that keeps moving, however long it takes in all', async () => {
    const server = fakeServer(2 * 256 * KIB, 256 * KIB);
    const serve = server.ctx.fetchImpl;
    const fetchImpl: typeof serve = async (input, init) => {
      // Read the body slowly: 4 chunks of 64 KiB, 100 ms apart (400+ ms per part, idle timeout 400 ms).
      const reader = (init!.body as ReadableStream<Uint8Array<ArrayBuffer>>).getReader();
      const chunks: Uint8Array<ArrayBuffer>[] = [];
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        if (init?.signal?.aborted) throw new DOMException('aborted', 'AbortError');
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
      }
      return serve(input, { ...init, body: new Blob(chunks) });
    };
    await runUpload({ ...server.ctx, fetchImpl, streamUploads: true, transferIdleTimeoutMs: 400, partConcurrency: 1 }, mediaSource(new Blob([new Uint8Array(2 * 256 * KIB)])), request(2 * 256 * KIB), {});
    expect(server.puts).toEqual([1, 2]);
  });

  it('without streaming (browsers), a PUT that gets no answer is abandoned after transferTimeoutMs', async () => {
    const server = fakeServer(16, 8);
    const fetchImpl: typeof server.ctx.fetchImpl = (_input, init) => {
      expect(init?.body).not.toBeInstanceOf(ReadableStream);
      return onAbort(init?.signal);
    };
    await expect(runUpload({ ...server.ctx, fetchImpl, transferTimeoutMs: 50, retries: 1 }, mediaSource(new Uint8Array(16)), request(16), {})).rejects.toMatchObject({
      code: 'unavailable',
      message: expect.stringContaining('50 ms'),
    });
  });
});
