/**
 * Media on R2, first slice: upload slots checked against MEDIA_LIMITS (nothing stored when
 * refused), the streamed upload under a single-use capability verified by size and SHA-256,
 * same-owner dedup without upload (and none across users), and the uploader's download with
 * ranges, ETag and safe types; everyone else gets the answer of a missing id.
 */
import { SELF } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import {
  MAX_HTTP_BODY_BYTES,
  MEDIA_KINDS,
  MEDIA_LIMITS,
  MEDIA_UPLOAD_TTL_MS,
  MediaInfoSchema,
  MediaSlotResponseSchema,
  PATHS,
  type MediaInfo,
  type MediaKind,
  type SessionResponse,
} from '../../protocol/index.ts';
import { issueCapability, verifyCapability } from '../../worker/media/capability.ts';
import { parseRange } from '../../worker/media/download.ts';
import { api, login, nextPhone } from './support.ts';

const MADE_UP_ID = '01J00000000000000000000000';

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** `size` bytes that differ per call (so uploads do not dedup unless a test wants them to). */
function bytesOf(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  // getRandomValues fills at most 64 KiB per call.
  for (let at = 0; at < size; at += 65_536) crypto.getRandomValues(bytes.subarray(at, Math.min(size, at + 65_536)));
  return bytes;
}

async function slot(session: SessionResponse, body: Record<string, unknown>): Promise<Response> {
  return api(PATHS.media, { method: 'POST', token: session.token, body: JSON.stringify(body) });
}

type Upload = { mediaId: string; url: string };

async function openSlot(session: SessionResponse, bytes: Uint8Array, kind: MediaKind = 'image', mime = 'image/png'): Promise<Upload> {
  const res = await slot(session, { kind, mime, size: bytes.byteLength, sha256: await sha256Hex(bytes) });
  expect(res.status).toBe(201);
  const answer = MediaSlotResponseSchema.parse(await res.json());
  if (answer.deduplicated) throw new Error('expected an upload slot');
  expect(answer.upload.method).toBe('PUT');
  if (answer.upload.mode !== 'single') throw new Error('expected a single-PUT upload');
  expect(answer.upload.url).not.toContain(session.token);
  return { mediaId: answer.mediaId, url: answer.upload.url };
}

function put(url: string, body: BodyInit): Promise<Response> {
  return SELF.fetch(url, { method: 'PUT', body });
}

/** A body with no Content-Length: the server only learns its size by reading it. */
function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (let at = 0; at < bytes.byteLength; at += 1000) controller.enqueue(bytes.slice(at, at + 1000));
      controller.close();
    },
  });
}

async function uploaded(session: SessionResponse, bytes: Uint8Array, kind: MediaKind = 'image', mime = 'image/png'): Promise<string> {
  const { mediaId, url } = await openSlot(session, bytes, kind, mime);
  const res = await put(url, bytes);
  expect(res.status).toBe(200);
  const info = MediaInfoSchema.parse(await res.json());
  expect(info).toMatchObject({ id: mediaId, status: 'complete', size: bytes.byteLength });
  return mediaId;
}

async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

async function rowsOf(userId: string): Promise<number> {
  const row = await env.DB.prepare('SELECT count(*) AS n FROM media WHERE owner_id = ?').bind(userId).first<{ n: number }>();
  return row?.n ?? 0;
}

async function statusOf(mediaId: string): Promise<string | null> {
  return (await env.DB.prepare('SELECT status FROM media WHERE id = ?').bind(mediaId).first<{ status: string }>())?.status ?? null;
}

async function objectCount(): Promise<number> {
  return (await env.MEDIA.list()).objects.length;
}

async function info(session: SessionResponse, mediaId: string): Promise<MediaInfo> {
  const res = await api(PATHS.mediaInfo(mediaId), { token: session.token });
  expect(res.status).toBe(200);
  return MediaInfoSchema.parse(await res.json());
}

function download(session: SessionResponse, mediaId: string, headers: Record<string, string> = {}): Promise<Response> {
  return api(PATHS.mediaItem(mediaId), { token: session.token, headers });
}

describe('upload slots', () => {
  it('refuses each size limit and a disallowed type with a typed error, storing nothing', async () => {
    const alice = await login(nextPhone());
    const objects = await objectCount();
    const allowed: Record<MediaKind, string> = {
      image: 'image/jpeg',
      video: 'video/mp4',
      voice: 'audio/ogg',
      document: 'application/pdf',
      sticker: 'image/webp',
      avatar: 'image/png',
    };
    const refused: Record<MediaKind, string> = {
      image: 'image/svg+xml',
      video: 'video/x-msvideo',
      voice: 'audio/wav',
      document: 'text/html',
      sticker: 'image/jpeg',
      avatar: 'image/gif',
    };
    const sha256 = await sha256Hex(bytesOf(8));
    for (const kind of MEDIA_KINDS) {
      const tooLarge = await slot(alice, { kind, mime: allowed[kind], size: MEDIA_LIMITS[kind].maxBytes + 1, sha256 });
      expect(tooLarge.status, kind).toBe(413);
      expect(await errorCode(tooLarge)).toBe('media_too_large');
      const badType = await slot(alice, { kind, mime: refused[kind], size: 100, sha256 });
      expect(badType.status, kind).toBe(415);
      expect(await errorCode(badType)).toBe('media_type_not_allowed');
    }
    const badHash = await slot(alice, { kind: 'image', mime: 'image/png', size: 100, sha256: 'abc' });
    expect(badHash.status).toBe(400);
    expect(await errorCode(badHash)).toBe('validation_failed');
    expect(await rowsOf(alice.userId)).toBe(0);
    expect(await objectCount()).toBe(objects);

    // At the limit, a listed type (with parameters, in any case) is accepted, reduced to its essence.
    const atLimit = await slot(alice, { kind: 'voice', mime: 'Audio/Ogg; codecs=opus', size: MEDIA_LIMITS.voice.maxBytes, sha256 });
    expect(atLimit.status).toBe(201);
    const { mediaId } = MediaSlotResponseSchema.parse(await atLimit.json());
    expect(await info(alice, mediaId)).toMatchObject({ kind: 'voice', mime: 'audio/ogg', status: 'pending', sha256 });
  });

  it('needs a bearer token', async () => {
    const res = await api(PATHS.media, { method: 'POST', body: JSON.stringify({ kind: 'image', mime: 'image/png', size: 1, sha256: '0'.repeat(64) }) });
    expect(res.status).toBe(401);
  });
});

describe('upload and download', () => {
  it('uploads, verifies, and serves the same bytes to the uploader', async () => {
    const alice = await login(nextPhone());
    const bytes = bytesOf(5000);
    const { mediaId, url } = await openSlot(alice, bytes);
    expect(await info(alice, mediaId)).toMatchObject({ status: 'pending' });
    const res = await put(url, streamOf(bytes));
    expect(res.status).toBe(200);
    expect(MediaInfoSchema.parse(await res.json())).toMatchObject({ id: mediaId, status: 'complete', kind: 'image', mime: 'image/png' });
    expect(await info(alice, mediaId)).toMatchObject({ status: 'complete', size: 5000, sha256: await sha256Hex(bytes) });

    const got = await download(alice, mediaId);
    expect(got.status).toBe(200);
    expect(got.headers.get('Content-Type')).toBe('image/png');
    expect(got.headers.get('X-Content-Type-Options')).toBe('nosniff');
    expect(got.headers.get('Cache-Control')).toBe('private');
    expect(got.headers.get('ETag')).toBe(`"${await sha256Hex(bytes)}"`);
    expect(got.headers.get('Content-Length')).toBe('5000');
    expect(await sha256Hex(new Uint8Array(await got.arrayBuffer()))).toBe(await sha256Hex(bytes));
  });

  it('streams bodies far beyond the JSON body limit', async () => {
    const alice = await login(nextPhone());
    const bytes = bytesOf(MAX_HTTP_BODY_BYTES * 64 + 7);
    const mediaId = await uploaded(alice, bytes, 'video', 'video/webm');
    const got = await download(alice, mediaId);
    expect(got.status).toBe(200);
    expect(await sha256Hex(new Uint8Array(await got.arrayBuffer()))).toBe(await sha256Hex(bytes));
  });

  it('serves documents as attachments of no particular type', async () => {
    const alice = await login(nextPhone());
    const bytes = new TextEncoder().encode('%PDF-1.7 <script>alert(1)</script>');
    const mediaId = await uploaded(alice, bytes, 'document', 'application/pdf');
    const got = await download(alice, mediaId);
    expect(got.status).toBe(200);
    expect(got.headers.get('Content-Type')).toBe('application/octet-stream');
    expect(got.headers.get('Content-Disposition')).toBe('attachment');
    expect(got.headers.get('X-Content-Type-Options')).toBe('nosniff');
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(bytes);
  });

  it('answers the same owner its existing copy without an upload', async () => {
    const alice = await login(nextPhone());
    const bytes = bytesOf(300);
    const mediaId = await uploaded(alice, bytes);
    const res = await slot(alice, { kind: 'image', mime: 'image/png', size: 300, sha256: (await sha256Hex(bytes)).toUpperCase() });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ mediaId, deduplicated: true });
    expect(await rowsOf(alice.userId)).toBe(1);
  });

  it('makes another user upload the same bytes, then shares only the stored object', async () => {
    const alice = await login(nextPhone());
    const bob = await login(nextPhone());
    const bytes = bytesOf(700);
    const aliceId = await uploaded(alice, bytes);
    // Knowing the hash gets Bob an upload slot, not Alice's id.
    const { mediaId: bobId, url } = await openSlot(bob, bytes);
    expect(bobId).not.toBe(aliceId);
    expect((await download(bob, aliceId)).status).toBe(404);
    const res = await put(url, bytes);
    expect(res.status).toBe(200);
    // One object for both, under Alice's upload; Bob's copy was dropped after verification.
    const keys = await env.DB.prepare('SELECT id, blob_key AS key FROM media WHERE id IN (?, ?)').bind(aliceId, bobId).all<{ id: string; key: string }>();
    expect(new Set(keys.results.map((r) => r.key))).toEqual(new Set([`blobs/${aliceId}`]));
    expect(await env.MEDIA.head(`blobs/${bobId}`)).toBeNull();
    const got = await download(bob, bobId);
    expect(got.status).toBe(200);
    expect(await sha256Hex(new Uint8Array(await got.arrayBuffer()))).toBe(await sha256Hex(bytes));
    // Still each their own: Bob cannot read Alice's id, nor she his.
    expect((await download(alice, bobId)).status).toBe(404);
  });
});

describe('refused uploads', () => {
  it('deletes bytes whose hash differs and marks nothing complete', async () => {
    const alice = await login(nextPhone());
    const bytes = bytesOf(2000);
    const { mediaId, url } = await openSlot(alice, bytes);
    const other = bytesOf(2000);
    const res = await put(url, other);
    expect(res.status).toBe(422);
    expect(await errorCode(res)).toBe('media_mismatch');
    expect(await env.MEDIA.head(`blobs/${mediaId}`)).toBeNull();
    expect(await statusOf(mediaId)).toBe('failed');
    expect((await download(alice, mediaId)).status).toBe(404);
    // The refused bytes were not kept as Alice's either.
    const again = await slot(alice, { kind: 'image', mime: 'image/png', size: 2000, sha256: await sha256Hex(other) });
    expect(again.status).toBe(201);
  });

  it('refuses a body longer or shorter than declared, with or without a Content-Length', async () => {
    const alice = await login(nextPhone());
    const bytes = bytesOf(3000);
    const cases: [string, (b: Uint8Array) => BodyInit][] = [
      ['longer, declared', () => bytesOf(3001)],
      ['longer, streamed', () => streamOf(new Uint8Array([...bytes, 1, 2, 3]))],
      ['shorter, streamed', () => streamOf(bytes.slice(0, 2999))],
      ['shorter, declared', () => bytes.slice(0, 10)],
    ];
    for (const [name, body] of cases) {
      const { mediaId, url } = await openSlot(alice, bytes);
      const res = await put(url, body(bytes));
      expect(res.status, name).toBe(422);
      expect(await errorCode(res)).toBe('media_mismatch');
      expect(await env.MEDIA.head(`blobs/${mediaId}`), name).toBeNull();
      expect(await statusOf(mediaId), name).toBe('failed');
    }
  });

  it('takes a capability once, refuses a forged, foreign or expired one', async () => {
    const alice = await login(nextPhone());
    const bytes = bytesOf(100);
    const first = await openSlot(alice, bytes);
    const second = await openSlot(alice, bytesOf(100));

    const forged = new URL(first.url);
    const cap = forged.searchParams.get('cap') ?? '';
    forged.searchParams.set('cap', cap.slice(0, -1) + (cap.endsWith('0') ? '1' : '0'));
    const foreign = new URL(first.url);
    foreign.pathname = PATHS.mediaContent(second.mediaId);
    for (const url of [forged.toString(), foreign.toString(), first.url.replace(/cap=[^&]*/, 'cap=nothing')]) {
      const res = await put(url, bytes);
      expect(res.status, url).toBe(401);
      expect(await errorCode(res)).toBe('upload_capability_invalid');
    }
    // None of those used it up.
    expect(await statusOf(first.mediaId)).toBe('pending');
    expect((await put(first.url, bytes)).status).toBe(200);
    const reused = await put(first.url, bytes);
    expect(reused.status).toBe(401);
    expect(await errorCode(reused)).toBe('upload_capability_invalid');

    // Expired: the row's upload deadline has passed (moved in D1, no waiting).
    await env.DB.prepare('UPDATE media SET upload_expires_at = ? WHERE id = ?').bind(Date.now() - 1, second.mediaId).run();
    const late = await put(second.url, bytes);
    expect(late.status).toBe(401);
    expect(await statusOf(second.mediaId)).toBe('pending');
  });

  it('signs capabilities that stop verifying at their expiry', async () => {
    const now = 1_700_000_000_000;
    const { capability, nonce, expiresAt } = await issueCapability(env.TOKEN_SECRET, MADE_UP_ID, now);
    expect(expiresAt).toBe(now + MEDIA_UPLOAD_TTL_MS);
    expect(await verifyCapability(env.TOKEN_SECRET, MADE_UP_ID, capability, expiresAt - 1)).toBe(nonce);
    expect(await verifyCapability(env.TOKEN_SECRET, MADE_UP_ID, capability, expiresAt)).toBeNull();
    expect(await verifyCapability(env.TOKEN_SECRET, '01J00000000000000000000001', capability, now)).toBeNull();
    expect(await verifyCapability('another secret', MADE_UP_ID, capability, now)).toBeNull();
  });
});

describe('downloads', () => {
  it('answers single ranges, 416 outside the file, and 304 for a known ETag', async () => {
    const alice = await login(nextPhone());
    const bytes = bytesOf(100);
    const mediaId = await uploaded(alice, bytes, 'video', 'video/mp4');
    const ranges: [string, number, number][] = [
      ['bytes=0-9', 0, 10],
      ['bytes=40-59', 40, 60],
      ['bytes=-10', 90, 100],
      ['bytes=95-', 95, 100],
      ['bytes=98-1000', 98, 100],
    ];
    for (const [range, from, to] of ranges) {
      const res = await download(alice, mediaId, { Range: range });
      expect(res.status, range).toBe(206);
      expect(res.headers.get('Content-Range')).toBe(`bytes ${from}-${to - 1}/100`);
      expect(res.headers.get('Content-Length')).toBe(String(to - from));
      expect(res.headers.get('Content-Type')).toBe('video/mp4');
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes.slice(from, to));
    }
    for (const range of ['bytes=100-', 'bytes=-0']) {
      const res = await download(alice, mediaId, { Range: range });
      expect(res.status, range).toBe(416);
      expect(res.headers.get('Content-Range')).toBe('bytes */100');
      expect(await errorCode(res)).toBe('range_not_satisfiable');
    }
    // Several ranges or another unit: the whole file.
    const whole = await download(alice, mediaId, { Range: 'bytes=0-1,5-6' });
    expect(whole.status).toBe(200);
    expect((await whole.arrayBuffer()).byteLength).toBe(100);

    const etag = (await download(alice, mediaId)).headers.get('ETag') ?? '';
    const cached = await download(alice, mediaId, { 'If-None-Match': etag });
    expect(cached.status).toBe(304);
    expect(cached.headers.get('ETag')).toBe(etag);
    expect((await download(alice, mediaId, { 'If-None-Match': '"other"' })).status).toBe(200);
  });

  it('parses ranges as the spec says', () => {
    expect(parseRange(null, 10)).toBeNull();
    expect(parseRange('items=0-1', 10)).toBeNull();
    expect(parseRange('bytes=5-2', 10)).toBeNull();
    expect(parseRange('bytes=-', 10)).toBeNull();
    expect(parseRange('bytes=-50', 10)).toEqual({ offset: 0, length: 10 });
    expect(parseRange('bytes=10-', 10)).toBe('unsatisfiable');
  });

  it("answers a stranger exactly as for a made-up id", async () => {
    const alice = await login(nextPhone());
    const stranger = await login(nextPhone());
    const mediaId = await uploaded(alice, bytesOf(64));
    const answers = [];
    for (const id of [mediaId, MADE_UP_ID]) {
      for (const path of [PATHS.mediaItem(id), PATHS.mediaInfo(id)]) {
        const res = await api(path, { token: stranger.token });
        answers.push({ status: res.status, body: await res.text(), type: res.headers.get('Content-Type') });
      }
    }
    expect(answers[0]).toEqual(answers[2]);
    expect(answers[1]).toEqual(answers[3]);
    expect(answers[0]).toMatchObject({ status: 404 });
    expect(JSON.parse(answers[0]?.body ?? '{}')).toMatchObject({ error: { code: 'media_not_found' } });
    expect((await api(PATHS.mediaItem(mediaId))).status).toBe(401);
  });
});
