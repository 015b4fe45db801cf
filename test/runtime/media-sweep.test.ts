/**
 * Expiry of uploads: the sweep deletes expired slots, stuck uploads, old refused ones and complete
 * uploads nothing ever named, with their objects (as of an explicit `now`, never by waiting),
 * keeps complete uploads a message or profile names, objects other rows still name and uploads
 * in progress; the Cron Trigger's handler runs
 * it only in a safely configured deployment; the metrics count it all.
 */
import { createExecutionContext, createScheduledController, SELF, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { MEDIA_PENDING_TTL_MS, MEDIA_UPLOAD_TTL_MS, MediaSlotResponseSchema, MetricsSchema, PATHS, type Metrics, type SessionResponse } from '../../protocol/index.ts';
import worker from '../../worker/index.ts';
import { grantMedia } from '../../db/media.ts';
import { sweepExpiredMedia } from '../../worker/media/sweep.ts';
import { api, login, nextPhone } from './support.ts';

/** Past every expiry of a row created now: capability, slot and the failed rows' grace. */
function afterEveryExpiry(): number {
  return Date.now() + MEDIA_PENDING_TTL_MS + 1;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

function bytesOf(size: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(size));
}

type Upload = { mediaId: string; url: string };

async function openSlot(session: SessionResponse, bytes: Uint8Array): Promise<Upload> {
  const res = await api(PATHS.media, {
    method: 'POST',
    token: session.token,
    body: JSON.stringify({ kind: 'image', mime: 'image/png', size: bytes.byteLength, sha256: await sha256Hex(bytes) }),
  });
  expect(res.status).toBe(201);
  const answer = MediaSlotResponseSchema.parse(await res.json());
  if (answer.deduplicated) throw new Error('expected an upload slot');
  if (answer.upload.mode !== 'single') throw new Error('expected a single-PUT upload');
  return { mediaId: answer.mediaId, url: answer.upload.url };
}

function put(url: string, body: BodyInit): Promise<Response> {
  return SELF.fetch(url, { method: 'PUT', body });
}

async function uploaded(session: SessionResponse, bytes: Uint8Array): Promise<string> {
  const { mediaId, url } = await openSlot(session, bytes);
  expect((await put(url, bytes)).status).toBe(200);
  return mediaId;
}

/** What sending a message naming the media does to it (durable-objects/mailbox/media-check.ts). */
async function named(mediaId: string, recipient: SessionResponse): Promise<void> {
  await grantMedia(env.DB, mediaId, { kind: 'user', id: recipient.userId }, Date.now());
}

async function failedUpload(session: SessionResponse): Promise<string> {
  const { mediaId, url } = await openSlot(session, bytesOf(50));
  expect((await put(url, bytesOf(50))).status).toBe(422);
  return mediaId;
}

async function row(mediaId: string): Promise<{ status: string; blob_key: string | null } | null> {
  return env.DB.prepare('SELECT status, blob_key FROM media WHERE id = ?').bind(mediaId).first();
}

async function hasObject(key: string): Promise<boolean> {
  return (await env.MEDIA.head(key)) !== null;
}

async function metrics(): Promise<Metrics['media']> {
  const res = await api(PATHS.metrics, { token: env.METRICS_TOKEN });
  expect(res.status).toBe(200);
  return MetricsSchema.parse(await res.json()).media;
}

describe('the expiry sweep', () => {
  it('deletes expired slots, stuck and refused uploads with their objects, and nothing else', async () => {
    const alice = await login(nextPhone());
    const bob = await login(nextPhone());
    const pending = await openSlot(alice, bytesOf(40));
    const failed = await failedUpload(alice);
    // An upload stuck half-way: claimed, some bytes written, never finished.
    const stuck = await openSlot(alice, bytesOf(60));
    await env.DB.prepare("UPDATE media SET status = 'uploading', upload_nonce = NULL WHERE id = ?").bind(stuck.mediaId).run();
    await env.MEDIA.put(`blobs/${stuck.mediaId}`, bytesOf(30));
    const failedWithBytes = await failedUpload(alice);
    await env.MEDIA.put(`blobs/${failedWithBytes}`, bytesOf(30));
    // A complete upload, and Bob's verified duplicate of it stored in Alice's object.
    const bytes = bytesOf(80);
    const complete = await uploaded(alice, bytes);
    const duplicate = await uploaded(bob, bytes);
    expect((await row(duplicate))?.blob_key).toBe(`blobs/${complete}`);
    // Bob sent his in a message; Alice never sent hers, nor this one.
    await named(duplicate, alice);
    const lonely = await uploaded(alice, bytesOf(90));

    // Before any expiry: nothing goes.
    const early = await sweepExpiredMedia(env, Date.now());
    expect(early.swept).toBe(0);

    const now = afterEveryExpiry();
    await sweepExpiredMedia(env, now);
    for (const id of [pending.mediaId, failed, stuck.mediaId, failedWithBytes, lonely]) {
      expect(await row(id), id).toBeNull();
      expect(await hasObject(`blobs/${id}`), id).toBe(false);
    }
    // Alice's unsent upload goes, but its object stays: Bob's sent duplicate is stored in it.
    expect(await row(complete)).toBeNull();
    expect(await row(duplicate)).toMatchObject({ status: 'complete' });
    expect(await hasObject(`blobs/${complete}`)).toBe(true);
    const got = await api(PATHS.mediaItem(duplicate), { token: bob.token });
    expect(got.status).toBe(200);
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(bytes);
    // The swept slot's capability is dead with it.
    expect((await put(pending.url, bytesOf(40))).status).toBe(401);

    // Idempotent: a second run finds nothing.
    expect(await sweepExpiredMedia(env, now)).toEqual({ swept: 0, keysDeleted: 0 });
  });

  it("never deletes an object another row still names", async () => {
    const alice = await login(nextPhone());
    const expired = await openSlot(alice, bytesOf(20));
    const holder = await uploaded(alice, bytesOf(20));
    await named(holder, alice);
    // Content addressing: the complete row is stored in the expired row's key.
    await env.MEDIA.put(`blobs/${expired.mediaId}`, bytesOf(20));
    await env.DB.prepare('UPDATE media SET blob_key = ? WHERE id = ?').bind(`blobs/${expired.mediaId}`, holder).run();

    const result = await sweepExpiredMedia(env, afterEveryExpiry());
    expect(result.swept).toBeGreaterThanOrEqual(1);
    expect(await row(expired.mediaId)).toBeNull();
    expect(await hasObject(`blobs/${expired.mediaId}`)).toBe(true);
    expect(await row(holder)).toMatchObject({ status: 'complete', blob_key: `blobs/${expired.mediaId}` });
  });

  it('keeps an upload claimed just before its capability expired, while its bytes arrive', async () => {
    const alice = await login(nextPhone());
    const bytes = bytesOf(4000);
    const { mediaId, url } = await openSlot(alice, bytes);
    let finish!: () => void;
    const rest = new Promise<void>((resolve) => (finish = resolve));
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(bytes.slice(0, 1000));
        await rest;
        controller.enqueue(bytes.slice(1000));
        controller.close();
      },
    });
    const upload = put(url, body);
    // The claim happened once the row is uploading (D1 answers each look; no sleeping).
    for (let look = 0; look < 10_000 && (await row(mediaId))?.status !== 'uploading'; look++);
    expect((await row(mediaId))?.status).toBe('uploading');

    // The sweep runs past the capability's expiry (its slot is still within its 24 h).
    const result = await sweepExpiredMedia(env, Date.now() + MEDIA_UPLOAD_TTL_MS + 1);
    expect(result.swept).toBe(0);
    finish();
    const res = await upload;
    expect(res.status).toBe(200);
    expect(await row(mediaId)).toMatchObject({ status: 'complete', blob_key: `blobs/${mediaId}` });
    expect(await hasObject(`blobs/${mediaId}`)).toBe(true);
  });

  it('bounds each run', async () => {
    const alice = await login(nextPhone());
    const slots = [await openSlot(alice, bytesOf(10)), await openSlot(alice, bytesOf(10)), await openSlot(alice, bytesOf(10))];
    const now = afterEveryExpiry();
    expect((await sweepExpiredMedia(env, now, 2)).swept).toBe(2);
    await sweepExpiredMedia(env, now);
    for (const slot of slots) expect(await row(slot.mediaId)).toBeNull();
  });
});

describe('the Cron Trigger', () => {
  async function scheduled(vars: Record<string, string>, scheduledTime: number): Promise<void> {
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime, cron: '*/15 * * * *' }), { ...env, ...vars } as Env, ctx);
    await waitOnExecutionContext(ctx);
  }

  it('runs the sweep as of its scheduled time, and not in a misconfigured deployment', async () => {
    const alice = await login(nextPhone());
    const { mediaId } = await openSlot(alice, bytesOf(30));
    const time = afterEveryExpiry();

    await scheduled({ LOCAL_DEVELOPMENT: 'false' }, time);
    expect(await row(mediaId)).toMatchObject({ status: 'pending' });

    await scheduled({}, Date.now());
    expect(await row(mediaId)).toMatchObject({ status: 'pending' });

    await scheduled({}, time);
    expect(await row(mediaId)).toBeNull();
  });
});

describe('media metrics', () => {
  it('count stored bytes, pending, failed, dedup hits and sweeps', async () => {
    const alice = await login(nextPhone());
    const bob = await login(nextPhone());
    const before = await metrics();

    const bytes = bytesOf(500);
    for (const id of [await uploaded(alice, bytes), await uploaded(bob, bytes), await uploaded(alice, bytesOf(300))]) await named(id, bob);
    await openSlot(alice, bytesOf(10));
    await failedUpload(bob);
    const after = await metrics();
    expect(after.stored.count - before.stored.count).toBe(3);
    // The duplicate adds an upload, not bytes.
    expect(after.stored.bytes - before.stored.bytes).toBe(800);
    expect(after.dedupHits - before.dedupHits).toBe(1);
    expect(after.pending - before.pending).toBe(1);
    expect(after.failed - before.failed).toBe(1);
    expect(after.swept).toBe(before.swept);

    const { swept } = await sweepExpiredMedia(env, afterEveryExpiry());
    expect(swept).toBeGreaterThanOrEqual(2);
    const swepted = await metrics();
    expect(swepted.swept - after.swept).toBe(swept);
    expect(swepted.pending).toBe(0);
    expect(swepted.failed).toBe(0);
    expect(swepted.stored).toEqual(after.stored);
    expect(swepted.dedupHits).toBe(after.dedupHits);

    expect((await api(PATHS.metrics, { token: alice.token })).status).toBe(401);
  });
});
