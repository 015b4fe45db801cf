/** Uploads for runtime tests that need real media (messages, photos, group pictures). */
import { SELF } from 'cloudflare:test';
import { expect } from 'vitest';
import { MediaSlotResponseSchema, PATHS, type MediaKind, type SessionResponse } from '../../protocol/index.ts';
import { api } from './support.ts';

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A complete upload of 700 random bytes by `session` (single PUT); its media id. */
export async function uploadedMedia(session: SessionResponse, kind: MediaKind = 'avatar', mime = 'image/jpeg'): Promise<string> {
  const bytes = crypto.getRandomValues(new Uint8Array(700));
  const res = await api(PATHS.media, {
    method: 'POST',
    token: session.token,
    body: JSON.stringify({ kind, mime, size: bytes.byteLength, sha256: await sha256Hex(bytes) }),
  });
  const answer = MediaSlotResponseSchema.parse(await res.json());
  if (answer.deduplicated || answer.upload.mode !== 'single') throw new Error('expected a single upload');
  expect((await SELF.fetch(answer.upload.url, { method: 'PUT', body: bytes })).status).toBe(200);
  return answer.mediaId;
}
