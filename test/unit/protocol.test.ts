/**
 * The protocol's frame parsers: one entry point per direction, typed errors, and the size limit
 * applying to what clients send only.
 */
import { describe, expect, it } from 'vitest';
import { MAX_FRAME_BYTES, RECEIPT_MAX_IDS, parseClientFrame, parseServerFrame } from '../../protocol/index.ts';

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

  it('reports unknown types and bad JSON as typed errors', () => {
    expect(parseServerFrame('{"type":"telepathy"}')).toMatchObject({ ok: false, error: { code: 'unknown_frame_type' } });
    expect(parseServerFrame('nope')).toMatchObject({ ok: false, error: { code: 'invalid_json' } });
  });
});
