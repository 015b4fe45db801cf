/**
 * Messages naming media (issue 12): a media body is checked in the sender's object when it is
 * sent (complete upload, same type and size, the sender may use it) and grants its audience
 * download access; recipients, forwardees and current group members download, everyone else
 * gets the answer of a made-up id.
 */
import { SELF } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import {
  MAX_THUMBNAIL_BASE64,
  MediaInfoSchema,
  MediaSlotResponseSchema,
  PATHS,
  type ImageBody,
  type MediaBody,
  type SessionResponse,
} from '../../protocol/index.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';
import { call, createGroup, settled, users } from './group-support.ts';
import { api, connect, isType } from './support.ts';

const MADE_UP_ID = '01J00000000000000000000000';
const THUMBNAIL = btoa('tiny jpeg preview');

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  crypto.getRandomValues(bytes);
  return bytes;
}

/** Open a slot for `bytes` as a PNG image; answers its id and upload URL (nothing uploaded yet). */
async function openSlot(session: SessionResponse, bytes: Uint8Array): Promise<{ mediaId: string; url: string }> {
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

/** Upload `bytes` as a PNG image; answers the complete media's id. */
async function uploaded(session: SessionResponse, bytes: Uint8Array): Promise<string> {
  const { mediaId, url } = await openSlot(session, bytes);
  const res = await SELF.fetch(url, { method: 'PUT', body: bytes });
  expect(res.status).toBe(200);
  expect(MediaInfoSchema.parse(await res.json()).status).toBe('complete');
  return mediaId;
}

function imageBody(mediaId: string, bytes: Uint8Array, extra: Partial<ImageBody> = {}): ImageBody {
  return { kind: 'image', media: { id: mediaId, mime: 'image/png', size: bytes.byteLength }, caption: 'look', width: 640, height: 480, thumbnail: THUMBNAIL, ...extra };
}

function download(session: SessionResponse, mediaId: string): Promise<Response> {
  return api(PATHS.mediaItem(mediaId), { token: session.token });
}

/** Downloads the media and answers the SHA-256 of what came back. */
async function downloadedHash(session: SessionResponse, mediaId: string): Promise<string> {
  const res = await download(session, mediaId);
  expect(res.status).toBe(200);
  return sha256Hex(new Uint8Array(await res.arrayBuffer()));
}

/** Status and body of a refused download, to compare with the answer for a made-up id. */
async function refusal(res: Response): Promise<{ status: number; body: string }> {
  return { status: res.status, body: await res.text() };
}

async function expectHidden(session: SessionResponse, mediaId: string): Promise<void> {
  const madeUp = await refusal(await download(session, MADE_UP_ID));
  expect(madeUp.status).toBe(404);
  expect(madeUp.body).toContain('media_not_found');
  expect(await refusal(await download(session, mediaId))).toEqual(madeUp);
  const madeUpInfo = await refusal(await api(PATHS.mediaInfo(MADE_UP_ID), { token: session.token }));
  expect(await refusal(await api(PATHS.mediaInfo(mediaId), { token: session.token }))).toEqual(madeUpInfo);
}

async function grants(mediaId: string): Promise<Array<{ grantee_kind: string; grantee_id: string }>> {
  const { results } = await env.DB.prepare('SELECT grantee_kind, grantee_id FROM media_access WHERE media_id = ? ORDER BY grantee_kind, grantee_id')
    .bind(mediaId)
    .all<{ grantee_kind: string; grantee_id: string }>();
  return results;
}

async function historyLength(owner: SessionResponse, peer: SessionResponse): Promise<number> {
  return (await mailboxOf(env, owner.userId).history(peer.userId, undefined, 50)).messages.length;
}

describe('1:1 media messages', () => {
  it('deliver the body, let the recipient download the same bytes and hide them from strangers', async () => {
    const [alice, bob, stranger] = await users(3);
    const bytes = randomBytes(4_000);
    const mediaId = await uploaded(alice!, bytes);
    const a = await connect(alice!);
    const b = await connect(bob!);
    const body = imageBody(mediaId, bytes);
    a.send({ type: 'send', id: 'img-1', to: bob!.userId, body });
    const [sent] = await a.waitFor(isType('sent'));
    expect(sent).toMatchObject({ id: 'img-1', duplicate: false });
    const [incoming] = await b.waitFor(isType('message'));
    expect(incoming!.message.body).toEqual(body);
    expect(await grants(mediaId)).toEqual([{ grantee_kind: 'user', grantee_id: bob!.userId }]);

    expect(await downloadedHash(bob!, mediaId)).toBe(await sha256Hex(bytes));
    await expectHidden(stranger!, mediaId);

    // A retry of the same send is answered as a duplicate and grants nothing new.
    a.send({ type: 'send', id: 'img-1', to: bob!.userId, body });
    const [, again] = await a.waitFor(isType('sent'), 2);
    expect(again).toMatchObject({ id: 'img-1', duplicate: true, messageId: sent!.messageId });
    expect(await grants(mediaId)).toHaveLength(1);
    a.close();
    b.close();
  });

  it('refuse media the sender may not use, incomplete media and a type or size that differs, storing nothing', async () => {
    const [alice, bob, carol] = await users(3);
    const bytes = randomBytes(3_000);
    const mediaId = await uploaded(alice!, bytes);
    const pending = randomBytes(2_000);
    const { mediaId: pendingId } = await openSlot(carol!, pending);
    const c = await connect(carol!);
    const a = await connect(alice!);

    // Carol never saw Alice's media: knowing its id is not enough.
    c.send({ type: 'send', id: 'stolen', to: bob!.userId, body: imageBody(mediaId, bytes) });
    // A slot Carol opened but never uploaded.
    c.send({ type: 'send', id: 'pending', to: bob!.userId, body: imageBody(pendingId, pending) });
    // Alice's own media, described as something else.
    a.send({ type: 'send', id: 'mime', to: bob!.userId, body: imageBody(mediaId, bytes, { media: { id: mediaId, mime: 'image/jpeg', size: bytes.byteLength } }) });
    a.send({ type: 'send', id: 'size', to: bob!.userId, body: imageBody(mediaId, bytes, { media: { id: mediaId, mime: 'image/png', size: bytes.byteLength + 1 } }) });
    a.send({ type: 'send', id: 'made-up', to: bob!.userId, body: imageBody(MADE_UP_ID, bytes) });

    const carolErrors = await c.waitFor(isType('error'), 2);
    const aliceErrors = await a.waitFor(isType('error'), 3);
    for (const error of [...carolErrors, ...aliceErrors]) expect(error).toMatchObject({ code: 'media_not_found', retryable: false });
    expect(carolErrors.map((e) => e.id).sort()).toEqual(['pending', 'stolen']);
    expect(aliceErrors.map((e) => e.id).sort()).toEqual(['made-up', 'mime', 'size']);
    expect(c.of('sent')).toEqual([]);
    expect(a.of('sent')).toEqual([]);

    expect(await historyLength(bob!, alice!)).toBe(0);
    expect(await historyLength(bob!, carol!)).toBe(0);
    expect(await historyLength(carol!, bob!)).toBe(0);
    expect(await historyLength(alice!, bob!)).toBe(0);
    expect(await grants(mediaId)).toEqual([]);
    expect(await grants(pendingId)).toEqual([]);
    await expectHidden(bob!, mediaId);
    a.close();
    c.close();
  });

  it('lets a recipient forward the media without uploading it, and the forwardee download it', async () => {
    const [alice, bob, carol, dan] = await users(4);
    const bytes = randomBytes(5_000);
    const mediaId = await uploaded(alice!, bytes);
    const a = await connect(alice!);
    a.send({ type: 'send', id: 'orig', to: bob!.userId, body: imageBody(mediaId, bytes) });
    await a.waitFor(isType('sent'));
    const uploads = await env.DB.prepare('SELECT count(*) AS n FROM media').first<{ n: number }>();

    const b = await connect(bob!);
    const forwarded: MediaBody = { kind: 'document', media: { id: mediaId, mime: 'image/png', size: bytes.byteLength }, fileName: 'photo.png' };
    b.send({ type: 'send', id: 'fwd', to: carol!.userId, body: forwarded });
    expect((await b.waitFor(isType('sent')))[0]).toMatchObject({ id: 'fwd', duplicate: false });
    expect(await env.DB.prepare('SELECT count(*) AS n FROM media').first<{ n: number }>()).toEqual(uploads);

    expect(await downloadedHash(carol!, mediaId)).toBe(await sha256Hex(bytes));
    await expectHidden(dan!, mediaId);
    expect(await grants(mediaId)).toEqual(
      [bob!.userId, carol!.userId].sort().map((id) => ({ grantee_kind: 'user', grantee_id: id })),
    );
    a.close();
    b.close();
  });

  it('refuses a thumbnail over the limit or not strict base64 as validation_failed', async () => {
    const [alice, bob] = await users(2);
    const bytes = randomBytes(1_000);
    const mediaId = await uploaded(alice!, bytes);
    const a = await connect(alice!);
    a.send({ type: 'send', id: 'big-thumb', to: bob!.userId, body: imageBody(mediaId, bytes, { thumbnail: 'A'.repeat(MAX_THUMBNAIL_BASE64 + 4) }) });
    a.send({ type: 'send', id: 'bad-thumb', to: bob!.userId, body: imageBody(mediaId, bytes, { thumbnail: 'abc$def=' }) });
    a.send({ type: 'send', id: 'spaced-thumb', to: bob!.userId, body: imageBody(mediaId, bytes, { thumbnail: 'YWJj ZGVm' }) });
    const errors = await a.waitFor(isType('error'), 3);
    expect(errors.map((e) => [e.id, e.code])).toEqual([
      ['big-thumb', 'validation_failed'],
      ['bad-thumb', 'validation_failed'],
      ['spaced-thumb', 'validation_failed'],
    ]);
    expect(await grants(mediaId)).toEqual([]);
    expect(await historyLength(bob!, alice!)).toBe(0);
    a.close();
  });
});

describe('group media messages', () => {
  it('let current members download; a removed member and a non-member get the answer of a made-up id', async () => {
    const [ann, bob, cat, outsider] = await users(4);
    const group = await createGroup(ann!, [bob!, cat!]);
    const bytes = randomBytes(6_000);
    const mediaId = await uploaded(ann!, bytes);
    const a = await connect(ann!);
    a.send({ type: 'group_send', id: 'g-img', group: group.groupId, body: imageBody(mediaId, bytes) });
    expect((await a.waitFor(isType('group_sent')))[0]).toMatchObject({ id: 'g-img', duplicate: false });
    await settled(group.groupId);
    expect(await grants(mediaId)).toEqual([{ grantee_kind: 'group', grantee_id: group.groupId }]);

    const hash = await sha256Hex(bytes);
    expect(await downloadedHash(bob!, mediaId)).toBe(hash);
    expect(await downloadedHash(cat!, mediaId)).toBe(hash);
    await expectHidden(outsider!, mediaId);

    expect((await call('DELETE', PATHS.groupMember(group.groupId, cat!.userId), ann!)).status).toBe(200);
    await expectHidden(cat!, mediaId);
    expect(await downloadedHash(bob!, mediaId)).toBe(hash);
    a.close();
  });

  it('refuses media the sender may not use before the group stores anything', async () => {
    const [ann, bob] = await users(2);
    const group = await createGroup(ann!, [bob!]);
    const bytes = randomBytes(2_500);
    const mediaId = await uploaded(ann!, bytes);
    const b = await connect(bob!);
    b.send({ type: 'group_send', id: 'g-stolen', group: group.groupId, body: imageBody(mediaId, bytes) });
    expect((await b.waitFor(isType('error')))[0]).toMatchObject({ id: 'g-stolen', code: 'media_not_found' });
    expect(b.of('group_sent')).toEqual([]);
    expect(await grants(mediaId)).toEqual([]);
    const page = await call('GET', PATHS.groupHistory(group.groupId), ann!);
    expect(page.status).toBe(200);
    expect(JSON.stringify(page.body)).not.toContain(mediaId);
    b.close();
  });
});
