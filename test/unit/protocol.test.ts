/**
 * The protocol's frame parsers: one entry point per direction, typed errors, and the size limit
 * applying to what clients send only.
 */
import { describe, expect, it } from 'vitest';
import { MAX_FRAME_BYTES, parseClientFrame, parseServerFrame } from '../../protocol/index.ts';

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
  it('accepts server frames larger than the client limit (a receipt naming thousands of ids)', () => {
    const receipt = {
      type: 'receipt',
      seq: 1,
      status: 'delivered',
      by: USER,
      messageIds: Array.from({ length: 3_000 }, () => USER),
      at: 1,
    };
    const raw = JSON.stringify(receipt);
    expect(raw.length).toBeGreaterThan(MAX_FRAME_BYTES);
    expect(parseServerFrame(raw)).toEqual({ ok: true, frame: receipt });
  });

  it('reports unknown types and bad JSON as typed errors', () => {
    expect(parseServerFrame('{"type":"telepathy"}')).toMatchObject({ ok: false, error: { code: 'unknown_frame_type' } });
    expect(parseServerFrame('nope')).toMatchObject({ ok: false, error: { code: 'invalid_json' } });
  });
});
