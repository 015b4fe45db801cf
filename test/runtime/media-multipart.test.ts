/**
 * Uploads in parts (files over MEDIA_PART_SIZE): any order, a part sent again replaces the earlier
 * one, completing with a part missing changes nothing, a new slot for the same bytes resumes the
 * upload (and kills the old URLs), the assembled bytes are verified, and the sweep aborts what is
 * never finished. Then signed download URLs: no token, Range, and nothing for a bad signature.
 */
import { createExecutionContext, SELF, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import {
  MEDIA_PART_SIZE,
  MEDIA_PENDING_TTL_MS,
  MediaInfoSchema,
  MediaPartReceiptSchema,
  MediaPartsStatusSchema,
  MediaSlotResponseSchema,
  MediaUrlSchema,
  PATHS,
  type MediaMultipartUpload,
  type SessionResponse,
} from '../../protocol/index.ts';
import { signDownload, verifyDownload } from '../../worker/media/capability.ts';
import worker from '../../worker/index.ts';
import { sweepExpiredMedia } from '../../worker/media/sweep.ts';
import { api, login, nextPhone } from './support.ts';

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** `size` bytes that differ from any other call's (a seed per call), without 64 KiB random limits. */
let seeds = 0;
function bytesOf(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = (++seeds * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

async function multipartSlot(session: SessionResponse, bytes: Uint8Array, sha256?: string): Promise<{ mediaId: string; upload: MediaMultipartUpload }> {
  const res = await api(PATHS.media, {
    method: 'POST',
    token: session.token,
    body: JSON.stringify({ kind: 'video', mime: 'video/mp4', size: bytes.byteLength, sha256: sha256 ?? (await sha256Hex(bytes)) }),
  });
  expect(res.status, await res.clone().text()).toBe(201);
  const answer = MediaSlotResponseSchema.parse(await res.json());
  if (answer.deduplicated || answer.upload.mode !== 'multipart') throw new Error('expected a multipart upload');
  expect(answer.upload.partUrls.join()).not.toContain(session.token);
  return { mediaId: answer.mediaId, upload: answer.upload };
}

function partOf(bytes: Uint8Array, part: number): Uint8Array {
  return bytes.subarray((part - 1) * MEDIA_PART_SIZE, Math.min(bytes.byteLength, part * MEDIA_PART_SIZE));
}

function putPart(upload: MediaMultipartUpload, part: number, body: Uint8Array): Promise<Response> {
  return SELF.fetch(upload.partUrls[part - 1]!, { method: 'PUT', body, headers: upload.headers });
}

function complete(upload: MediaMultipartUpload): Promise<Response> {
  return SELF.fetch(upload.completeUrl, { method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json' } });
}

async function received(upload: MediaMultipartUpload): Promise<number[]> {
  const res = await SELF.fetch(upload.statusUrl);
  expect(res.status).toBe(200);
  return MediaPartsStatusSchema.parse(await res.json()).received;
}

async function row(mediaId: string): Promise<{ status: string; upload_id: string | null } | null> {
  return env.DB.prepare('SELECT status, upload_id FROM media WHERE id = ?').bind(mediaId).first();
}

async function partRows(mediaId: string): Promise<number> {
  return (await env.DB.prepare('SELECT count(*) AS n FROM media_parts WHERE media_id = ?').bind(mediaId).first<{ n: number }>())?.n ?? -1;
}

// Two full parts and a short last one.
const SIZE = 2 * MEDIA_PART_SIZE + 1000;

describe('multipart uploads', () => {
  it('take parts in any order, refuse to complete with one missing, and verify the assembled bytes', async () => {
    const alice = await login(nextPhone());
    const bytes = bytesOf(SIZE);
    const { mediaId, upload } = await multipartSlot(alice, bytes);
    expect(upload).toMatchObject({ partSize: MEDIA_PART_SIZE, partCount: 3, received: [] });

    const second = await putPart(upload, 2, partOf(bytes, 2));
    expect(second.status).toBe(200);
    expect(MediaPartReceiptSchema.parse(await second.json())).toMatchObject({ part: 2, size: MEDIA_PART_SIZE });
    expect((await putPart(upload, 1, partOf(bytes, 1))).status).toBe(200);
    expect(await received(upload)).toEqual([1, 2]);

    const early = await complete(upload);
    expect(early.status).toBe(409);
    expect(await errorCode(early)).toBe('upload_incomplete');
    expect(await row(mediaId)).toMatchObject({ status: 'pending' });

    // Sending a part again replaces it.
    expect((await putPart(upload, 3, partOf(bytes, 3))).status).toBe(200);
    expect((await putPart(upload, 3, partOf(bytes, 3))).status).toBe(200);
    const done = await complete(upload);
    expect(done.status, await done.clone().text()).toBe(200);
    expect(MediaInfoSchema.parse(await done.json())).toMatchObject({ id: mediaId, status: 'complete', size: SIZE });
    expect(await row(mediaId)).toMatchObject({ status: 'complete', upload_id: null });
    expect(await partRows(mediaId)).toBe(0);

    const got = await api(PATHS.mediaItem(mediaId), { token: alice.token });
    expect(got.status).toBe(200);
    expect(await sha256Hex(new Uint8Array(await got.arrayBuffer()))).toBe(await sha256Hex(bytes));
    // The URLs are dead once the upload is complete.
    expect((await putPart(upload, 1, partOf(bytes, 1))).status).toBe(401);
    expect((await complete(upload)).status).toBe(401);
  });

  it('refuses parts of the wrong size or number, and bytes that do not match the declaration', async () => {
    const alice = await login(nextPhone());
    const bytes = bytesOf(SIZE);
    const { upload } = await multipartSlot(alice, bytes);
    const short = await putPart(upload, 1, partOf(bytes, 1).subarray(1));
    expect(short.status).toBe(400);
    expect(await errorCode(short)).toBe('media_part_invalid');
    const beyond = await SELF.fetch(upload.partUrls[0]!.replace('/parts/1?', '/parts/4?'), { method: 'PUT', body: partOf(bytes, 3) });
    expect(await errorCode(beyond)).toBe('media_part_invalid');
    expect(await received(upload)).toEqual([]);

    // Declared hash of other bytes: every part fits, the whole does not.
    const other = bytesOf(SIZE);
    const lie = await multipartSlot(alice, other, await sha256Hex(bytesOf(SIZE)));
    for (const part of [1, 2, 3]) expect((await putPart(lie.upload, part, partOf(other, part))).status).toBe(200);
    const refused = await complete(lie.upload);
    expect(refused.status).toBe(422);
    expect(await errorCode(refused)).toBe('media_mismatch');
    expect(await row(lie.mediaId)).toMatchObject({ status: 'failed' });
    expect(await env.MEDIA.head(`blobs/${lie.mediaId}`)).toBeNull();
  });

  it('resume: asking again for the same bytes continues the same upload with a fresh URL', async () => {
    const alice = await login(nextPhone());
    const bytes = bytesOf(SIZE);
    const first = await multipartSlot(alice, bytes);
    expect((await putPart(first.upload, 1, partOf(bytes, 1))).status).toBe(200);

    const again = await multipartSlot(alice, bytes);
    expect(again.mediaId).toBe(first.mediaId);
    expect(again.upload.received).toEqual([1]);
    // The earlier URLs stopped working.
    expect((await putPart(first.upload, 2, partOf(bytes, 2))).status).toBe(401);
    // Someone else's slot for the same bytes is theirs alone.
    const bob = await login(nextPhone());
    expect((await multipartSlot(bob, bytes)).mediaId).not.toBe(first.mediaId);

    for (const part of [2, 3]) expect((await putPart(again.upload, part, partOf(bytes, part))).status).toBe(200);
    expect((await complete(again.upload)).status).toBe(200);
  });

  it('the sweep aborts an upload never finished, with its parts', async () => {
    const alice = await login(nextPhone());
    const bytes = bytesOf(SIZE);
    const { mediaId, upload } = await multipartSlot(alice, bytes);
    expect((await putPart(upload, 1, partOf(bytes, 1))).status).toBe(200);
    expect(await partRows(mediaId)).toBe(1);
    await sweepExpiredMedia(env, Date.now() + MEDIA_PENDING_TTL_MS + 1);
    expect(await row(mediaId)).toBeNull();
    expect(await partRows(mediaId)).toBe(0);
    expect((await putPart(upload, 2, partOf(bytes, 2))).status).toBe(401);
  });
});

describe('signed download URLs', () => {
  async function uploaded(session: SessionResponse, bytes: Uint8Array): Promise<string> {
    const res = await api(PATHS.media, {
      method: 'POST',
      token: session.token,
      body: JSON.stringify({ kind: 'image', mime: 'image/png', size: bytes.byteLength, sha256: await sha256Hex(bytes) }),
    });
    const answer = MediaSlotResponseSchema.parse(await res.json());
    if (answer.deduplicated || answer.upload.mode !== 'single') throw new Error('expected a single upload');
    expect((await SELF.fetch(answer.upload.url, { method: 'PUT', body: bytes })).status).toBe(200);
    return answer.mediaId;
  }

  it('serve the bytes without a token, with Range, to whoever may download them', async () => {
    const alice = await login(nextPhone());
    const bytes = bytesOf(5000);
    const mediaId = await uploaded(alice, bytes);
    const res = await api(PATHS.mediaUrl(mediaId), { token: alice.token });
    expect(res.status).toBe(200);
    const { url, expiresAt } = MediaUrlSchema.parse(await res.json());
    expect(url).not.toContain(alice.token);
    expect(expiresAt).toBeGreaterThan(Date.now());
    // Asked again soon: the very same URL (browser caches keep working), unless the second ask
    // fell into the next expiry window (URLs are minted per window), seen once on a busy machine.
    const again = MediaUrlSchema.parse(await (await api(PATHS.mediaUrl(mediaId), { token: alice.token })).json());
    if (again.expiresAt === expiresAt) expect(again.url).toBe(url);
    else expect(again.expiresAt).toBeGreaterThan(expiresAt);

    const whole = await SELF.fetch(url);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('Content-Type')).toBe('image/png');
    expect(whole.headers.get('Cache-Control')).toMatch(/^private, max-age=\d+$/);
    expect(new Uint8Array(await whole.arrayBuffer())).toEqual(bytes);
    const part = await SELF.fetch(url, { headers: { Range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(bytes.subarray(100, 200));

    // A stranger gets no URL; a tampered or moved signature serves nothing.
    const stranger = await login(nextPhone());
    const refused = await api(PATHS.mediaUrl(mediaId), { token: stranger.token });
    expect(refused.status).toBe(404);
    expect(await errorCode(refused)).toBe('media_not_found');
    const parsed = new URL(url);
    const sig = parsed.searchParams.get('sig')!;
    parsed.searchParams.set('sig', `${sig.slice(0, -1)}${sig.endsWith('0') ? '1' : '0'}`);
    expect((await SELF.fetch(parsed.toString())).status).toBe(404);
    const other = await uploaded(alice, bytesOf(100));
    expect((await SELF.fetch(url.replace(mediaId, other))).status).toBe(404);
    parsed.searchParams.set('sig', sig);
    parsed.searchParams.set('exp', String(expiresAt + 1));
    expect((await SELF.fetch(parsed.toString())).status).toBe(404);
  });

  it('stop working at their expiry', async () => {
    const sig = await signDownload(env.TOKEN_SECRET, 'some-id', 1000);
    expect(await verifyDownload(env.TOKEN_SECRET, 'some-id', 1000, sig, 999)).toBe(true);
    expect(await verifyDownload(env.TOKEN_SECRET, 'some-id', 1000, sig, 1000)).toBe(false);
    expect(await verifyDownload(env.TOKEN_SECRET, 'other-id', 1000, sig, 999)).toBe(false);
  });
});

describe('direct uploads (R2 presigned URLs, with S3 credentials configured)', () => {
  const direct = {
    R2_ACCESS_KEY_ID: 'test-access-key',
    R2_SECRET_ACCESS_KEY: 'test-secret-access-key',
    R2_S3_ENDPOINT: 'https://account.r2.cloudflarestorage.com',
    R2_BUCKET: 'media-bucket',
  };

  /** The Worker with the direct-upload settings (SELF cannot be given other variables). */
  async function directFetch(path: string, init: RequestInit & { token?: string } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (init.token !== undefined) headers.set('Authorization', `Bearer ${init.token}`);
    if (init.body !== undefined && !headers.has('Content-Type')) headers.set('Content-Type', 'application/json');
    const ctx = createExecutionContext();
    const res = await worker.fetch(new Request(new URL(path, 'http://messenger.test'), { ...init, headers }), { ...env, ...direct } as Env, ctx);
    await waitOnExecutionContext(ctx);
    return res;
  }

  async function directSlot(session: SessionResponse, bytes: Uint8Array, kind = 'image', mime = 'image/png') {
    const res = await directFetch(PATHS.media, {
      method: 'POST',
      token: session.token,
      body: JSON.stringify({ kind, mime, size: bytes.byteLength, sha256: await sha256Hex(bytes) }),
    });
    expect(res.status, await res.clone().text()).toBe(201);
    const answer = MediaSlotResponseSchema.parse(await res.json());
    if (answer.deduplicated) throw new Error('expected an upload');
    return { mediaId: answer.mediaId, upload: answer.upload };
  }

  function completeAt(url: string, body: unknown = {}): Promise<Response> {
    return directFetch(new URL(url).pathname + new URL(url).search, { method: 'POST', body: JSON.stringify(body) });
  }

  it('a single file: a presigned PUT to R2, then the Worker verifies it and keeps its entity tag', async () => {
    const alice = await login(nextPhone());
    const bytes = bytesOf(3000);
    const { mediaId, upload } = await directSlot(alice, bytes);
    if (upload.mode !== 'single' || upload.completeUrl === undefined) throw new Error('expected a single presigned upload');
    const url = new URL(upload.url);
    expect(url.origin).toBe('https://account.r2.cloudflarestorage.com');
    expect(url.pathname).toBe(`/media-bucket/blobs/${mediaId}`);
    expect(url.searchParams.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(url.searchParams.get('X-Amz-Credential')).toMatch(/^test-access-key\/\d{8}\/auto\/s3\/aws4_request$/);
    expect(Number(url.searchParams.get('X-Amz-Expires'))).toBeGreaterThan(0);
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    expect(upload.url).not.toContain(alice.token);

    // Completing before the bytes are there refuses (and uses up the slot).
    const early = await directSlot(alice, bytesOf(10));
    if (early.upload.mode !== 'single' || early.upload.completeUrl === undefined) throw new Error('expected a single presigned upload');
    expect(await errorCode(await completeAt(early.upload.completeUrl))).toBe('media_mismatch');

    // What the client's PUT to R2 does.
    await env.MEDIA.put(`blobs/${mediaId}`, bytes);
    const done = await completeAt(upload.completeUrl);
    expect(done.status, await done.clone().text()).toBe(200);
    expect(MediaInfoSchema.parse(await done.json()).status).toBe('complete');
    const stored = await env.DB.prepare('SELECT blob_etag FROM media WHERE id = ?').bind(mediaId).first<{ blob_etag: string | null }>();
    expect(stored?.blob_etag).toBe((await env.MEDIA.head(`blobs/${mediaId}`))?.etag);
    expect(new Uint8Array(await (await api(PATHS.mediaItem(mediaId), { token: alice.token })).arrayBuffer())).toEqual(bytes);

    // The presigned URL still works until it expires: replaced bytes are never served.
    await env.MEDIA.put(`blobs/${mediaId}`, bytesOf(3000));
    expect((await api(PATHS.mediaItem(mediaId), { token: alice.token })).status).toBe(404);
  });

  it('a large file: presigned part URLs of the multipart upload, completed with the entity tags the client got', async () => {
    const alice = await login(nextPhone());
    const bytes = bytesOf(SIZE);
    const { mediaId, upload } = await directSlot(alice, bytes, 'video', 'video/mp4');
    if (upload.mode !== 'multipart') throw new Error('expected a multipart upload');
    const uploadId = new URL(upload.partUrls[0]!).searchParams.get('uploadId');
    expect(uploadId).toBeTruthy();
    expect(upload.partUrls.map((u) => new URL(u).searchParams.get('partNumber'))).toEqual(['1', '2', '3']);
    expect(new URL(upload.completeUrl).origin).toBe('http://messenger.test');

    // What the client's PUTs to R2 do: each answers an ETag.
    const multipart = env.MEDIA.resumeMultipartUpload(`blobs/${mediaId}`, uploadId!);
    const parts = [];
    for (const part of [1, 2]) parts.push({ part, etag: (await multipart.uploadPart(part, partOf(bytes, part))).etag });
    const missing = await completeAt(upload.completeUrl, { parts });
    expect(await errorCode(missing)).toBe('upload_incomplete');
    parts.push({ part: 3, etag: (await multipart.uploadPart(3, partOf(bytes, 3))).etag });
    const done = await completeAt(upload.completeUrl, { parts });
    expect(done.status, await done.clone().text()).toBe(200);
    const got = await api(PATHS.mediaItem(mediaId), { token: alice.token });
    expect(await sha256Hex(new Uint8Array(await got.arrayBuffer()))).toBe(await sha256Hex(bytes));
  });
});

describe('the MiB budget', () => {
  it('refuses a slot past 2 GiB a day before anything is stored', async () => {
    const alice = await login(nextPhone());
    const slotFor = (i: number) =>
      api(PATHS.media, {
        method: 'POST',
        token: alice.token,
        body: JSON.stringify({ kind: 'document', mime: 'application/pdf', size: 100 * 1024 * 1024, sha256: i.toString(16).padStart(64, '0') }),
      });
    // 20 × 100 MiB = 2,000 of the 2,048 MiB a day.
    for (let i = 1; i <= 20; i++) expect((await slotFor(i)).status, `slot ${i}`).toBe(201);
    const rows = async () =>
      (await env.DB.prepare('SELECT count(*) AS n FROM media WHERE owner_id = ?').bind(alice.userId).first<{ n: number }>())?.n;
    expect(await rows()).toBe(20);
    const refused = await slotFor(21);
    expect(refused.status).toBe(429);
    expect(await errorCode(refused)).toBe('rate_limited');
    expect(await rows()).toBe(20);
  });
});
