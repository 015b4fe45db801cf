/**
 * The protocol's frame parsers: one entry point per direction, typed errors, and the size limit
 * applying to what clients send only.
 */
import { describe, expect, it } from 'vitest';
import {
  MAX_CAPTION_LENGTH,
  MAX_FRAME_BYTES,
  MAX_THUMBNAIL_BASE64,
  MEDIA_BODY_KINDS,
  MessageBodySchema,
  RECEIPT_MAX_IDS,
  isMediaBody,
  parseClientFrame,
  parseServerFrame,
} from '../../protocol/index.ts';

const USER = '01JDQ3ZK8Y6W2V9T7R5P3N1M0A';

describe('parseClientFrame', () => {
  it('accepts a valid send and names the id of an invalid one', () => {
    expect(parseClientFrame(JSON.stringify({ type: 'send', id: 'a1', to: USER, body: { kind: 'text', text: 'hi' } }))).toMatchObject({
      ok: true,
    });
    expect(parseClientFrame(JSON.stringify({ type: 'send', id: 'a2', to: USER }))).toMatchObject({
      ok: false,
      error: { code: 'validation_failed', id: 'a2' },
    });
  });

  it('refuses frames over the limit before parsing them', () => {
    const big = JSON.stringify({ type: 'send', id: 'a3', to: USER, body: { kind: 'text', text: 'é'.repeat(MAX_FRAME_BYTES / 2) } });
    expect(parseClientFrame(big)).toMatchObject({ ok: false, error: { code: 'payload_too_large' } });
  });
});

describe('parseServerFrame', () => {
  it('accepts server frames larger than the client limit (a message wrapping a maximal body)', () => {
    const frame = {
      type: 'message',
      seq: 1,
      message: {
        id: USER,
        clientId: 'c1',
        from: USER,
        fromDevice: USER,
        to: USER,
        sentAt: 1,
        body: { kind: 'text', text: 'é'.repeat(16_384) },
      },
    };
    const raw = JSON.stringify(frame);
    expect(new TextEncoder().encode(raw).byteLength).toBeGreaterThan(MAX_FRAME_BYTES / 2);
    expect(parseServerFrame(raw)).toEqual({ ok: true, frame });
    // ...while a client may not send one that large.
    const send = JSON.stringify({ type: 'send', id: 'c1', to: USER, body: { kind: 'text', text: 'x'.repeat(MAX_FRAME_BYTES) } });
    expect(parseClientFrame(send)).toMatchObject({ ok: false, error: { code: 'payload_too_large' } });
  });

  it('holds receipts to RECEIPT_MAX_IDS ids', () => {
    const receipt = (n: number) =>
      JSON.stringify({ type: 'receipt', seq: 1, status: 'delivered', by: USER, messageIds: Array.from({ length: n }, () => USER), at: 1 });
    expect(parseServerFrame(receipt(RECEIPT_MAX_IDS)).ok).toBe(true);
    expect(parseServerFrame(receipt(RECEIPT_MAX_IDS + 1))).toMatchObject({ ok: false, error: { code: 'validation_failed' } });
  });

  it('takes a sent answer with its copy (seq and message) or with neither, never one without the other', () => {
    const message = { id: USER, clientId: 'c1', from: USER, fromDevice: USER, to: USER, sentAt: 1, body: { kind: 'text', text: 'hi' } };
    const answer = { type: 'sent', id: 'c1', messageId: USER, to: USER, sentAt: 1, duplicate: false };
    expect(parseServerFrame(JSON.stringify(answer))).toEqual({ ok: true, frame: answer });
    expect(parseServerFrame(JSON.stringify({ ...answer, seq: 7, message }))).toEqual({ ok: true, frame: { ...answer, seq: 7, message } });
    expect(parseServerFrame(JSON.stringify({ ...answer, seq: 7 }))).toMatchObject({ ok: false, error: { code: 'validation_failed' } });
    expect(parseServerFrame(JSON.stringify({ ...answer, message }))).toMatchObject({ ok: false, error: { code: 'validation_failed' } });
  });

  it('reports unknown types and bad JSON as typed errors', () => {
    expect(parseServerFrame('{"type":"telepathy"}')).toMatchObject({ ok: false, error: { code: 'unknown_frame_type' } });
    expect(parseServerFrame('nope')).toMatchObject({ ok: false, error: { code: 'invalid_json' } });
  });
});

describe('media message bodies', () => {
  const media = { id: USER, mime: 'image/jpeg', size: 1234 };

  it('accepts each media kind naming an upload, and tells media bodies from others', () => {
    for (const kind of MEDIA_BODY_KINDS) {
      const parsed = MessageBodySchema.parse({ kind, media, caption: 'hi', thumbnail: 'AAAA' });
      expect(isMediaBody(parsed)).toBe(true);
    }
    expect(MessageBodySchema.parse({ kind: 'video', media, width: 1920, height: 1080, durationMs: 12_000 })).toMatchObject({ durationMs: 12_000 });
    expect(MessageBodySchema.parse({ kind: 'document', media, fileName: '  report.pdf ' })).toMatchObject({ fileName: 'report.pdf' });
    expect(isMediaBody({ kind: 'text', text: 'hi' })).toBe(false);
  });

  it('refuses fields a kind does not have, bad sizes, captions, names and thumbnails', () => {
    const bad: unknown[] = [
      { kind: 'voice', media, width: 10 },
      { kind: 'image', media, fileName: 'x.png' },
      { kind: 'image', media, durationMs: 10 },
      { kind: 'image', media, width: 0 },
      { kind: 'image', media, height: 20_001 },
      { kind: 'image', media: { ...media, mime: 'Image/JPEG' } },
      { kind: 'image', media: { ...media, size: 0 } },
      { kind: 'image', media: { ...media, extra: 1 } },
      { kind: 'image', media: { ...media, id: 'nope' } },
      { kind: 'image', media, caption: 'x'.repeat(MAX_CAPTION_LENGTH + 1) },
      { kind: 'image', media, caption: 'evil\u202Etxt' },
      { kind: 'document', media, fileName: 'a\u0000b' },
      { kind: 'document', media, fileName: 'x'.repeat(256) },
      { kind: 'image', media, thumbnail: 'A'.repeat(MAX_THUMBNAIL_BASE64 + 4) },
      { kind: 'image', media, thumbnail: 'AA AA' },
      { kind: 'image', media, thumbnail: 'AAA' },
      { kind: 'image', media, thumbnail: '' },
      { kind: 'image' },
    ];
    for (const body of bad) expect(MessageBodySchema.safeParse(body).success, JSON.stringify(body)).toBe(false);
    expect(MessageBodySchema.safeParse({ kind: 'image', media, thumbnail: 'A'.repeat(MAX_THUMBNAIL_BASE64) }).success).toBe(true);
  });
});
