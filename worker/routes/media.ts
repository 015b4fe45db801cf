/**
 * Media: upload slots, the uploads themselves (one PUT, or parts), info, download and signed
 * download URLs (worker/media/ does the work).
 *
 * Registered in worker/index.ts BEFORE the global JSON body limit and JSON check: uploads stream
 * bodies far larger than MAX_HTTP_BODY_BYTES that are not JSON. The JSON routes here apply the
 * same body limit themselves.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import {
  MAX_HTTP_BODY_BYTES,
  MediaCompleteRequestSchema,
  MediaIdSchema,
  MediaSlotRequestSchema,
  PATHS,
  type MediaSlotResponse,
  type MediaUrl,
} from '../../protocol/index.ts';
import type { AppEnv } from '../app-env.ts';
import { requireAuth } from '../auth/middleware.ts';
import { spendBudget } from '../budgets.ts';
import { ApiError } from '../errors.ts';
import { downloadableMedia, signedMedia, visibleMedia } from '../media/access.ts';
import { mediaResponse } from '../media/download.ts';
import { directUploadConfig } from '../media/direct.ts';
import { completeUpload, infoOf, partsStatus, receivePart } from '../media/multipart.ts';
import { checkMediaLimits, openSlot, ownCopy } from '../media/slot.ts';
import { uploadOf } from '../media/slot-answer.ts';
import { downloadUrl } from '../media/signed-url.ts';
import { receiveUpload } from '../media/upload.ts';
import { jsonBody, params, query } from '../validate.ts';

// Route patterns spelled out: PATHS' builders would percent-encode the `:id` placeholder.
const IdParam = z.object({ id: MediaIdSchema });
const PartParam = z.object({ id: MediaIdSchema, part: z.coerce.number().int().min(1).max(10_000) });
const CapabilityQuery = z.object({ cap: z.string().max(200) });
const SignatureQuery = z.object({ exp: z.coerce.number().int().positive(), sig: z.string().max(128) });

const jsonLimit = bodyLimit({
  maxSize: MAX_HTTP_BODY_BYTES,
  onError: () => {
    throw new ApiError('payload_too_large', `Body exceeds ${MAX_HTTP_BODY_BYTES} bytes`);
  },
});

function contentLengthOf(header: string | undefined): number | null {
  if (header === undefined || !/^[0-9]{1,16}$/.test(header)) return null;
  return Number(header);
}

export const mediaRoutes = new Hono<AppEnv>()
  .post(PATHS.media, jsonLimit, requireAuth, jsonBody(MediaSlotRequestSchema), async (c) => {
    const { userId } = c.get('auth');
    const request = c.req.valid('json');
    // A refused upload costs nothing; a slot costs one token whatever its answer.
    checkMediaLimits(request);
    await spendBudget(c.env, userId, 'media_upload_user', 1);
    const existing = await ownCopy(c.env, userId, request);
    if (existing !== null) return c.json({ mediaId: existing, deduplicated: true } satisfies MediaSlotResponse, 200);
    // Bytes cost only when they may be sent, and before anything is stored (a resumed upload is
    // charged again: rare, and bounded).
    await spendBudget(c.env, userId, 'media_mib_user', Math.ceil(request.size / (1024 * 1024)));
    const now = Date.now();
    const slot = await openSlot(c.env, userId, request, now);
    const upload = await uploadOf(slot, request.mime, c.req.url, directUploadConfig(c.env), now);
    const answer: MediaSlotResponse = { mediaId: slot.mediaId, deduplicated: false, upload };
    return c.json(answer, 201);
  })
  // No bearer token on the capability routes: the capability in the URL names the media.
  .put('/v1/media/:id/content', params(IdParam), query(CapabilityQuery), async (c) => {
    const row = await receiveUpload(c.env, {
      mediaId: c.req.valid('param').id,
      capability: c.req.valid('query').cap,
      body: c.req.raw.body,
      contentLength: contentLengthOf(c.req.header('Content-Length')),
      now: Date.now(),
    });
    return c.json(infoOf(row), 200);
  })
  .put('/v1/media/:id/parts/:part', params(PartParam), query(CapabilityQuery), async (c) => {
    const { id, part } = c.req.valid('param');
    const receipt = await receivePart(c.env, {
      mediaId: id,
      capability: c.req.valid('query').cap,
      part,
      body: c.req.raw.body,
      contentLength: contentLengthOf(c.req.header('Content-Length')),
      now: Date.now(),
      charge: (owner) => spendBudget(c.env, owner, 'media_part_user', 1),
    });
    return c.json(receipt, 200);
  })
  .get('/v1/media/:id/parts', params(IdParam), query(CapabilityQuery), async (c) => {
    return c.json(await partsStatus(c.env, c.req.valid('param').id, c.req.valid('query').cap, Date.now()), 200);
  })
  .post('/v1/media/:id/complete', jsonLimit, params(IdParam), query(CapabilityQuery), jsonBody(MediaCompleteRequestSchema), async (c) => {
    const row = await completeUpload(c.env, {
      mediaId: c.req.valid('param').id,
      capability: c.req.valid('query').cap,
      clientParts: c.req.valid('json').parts,
      direct: directUploadConfig(c.env) !== null,
      now: Date.now(),
    });
    return c.json(infoOf(row), 200);
  })
  .get('/v1/media/:id/info', requireAuth, params(IdParam), async (c) => {
    const row = await visibleMedia(c.env, c.get('auth').userId, c.req.valid('param').id);
    return c.json(infoOf(row), 200);
  })
  .get('/v1/media/:id/url', requireAuth, params(IdParam), async (c) => {
    const row = await downloadableMedia(c.env, c.get('auth').userId, c.req.valid('param').id);
    const answer: MediaUrl = await downloadUrl(c.env, row.id, c.req.url, Date.now());
    return c.json(answer, 200);
  })
  // No bearer token: the signature in the URL (GET /v1/media/:id/url) is the permission.
  .get('/v1/media/:id/blob', params(IdParam), query(SignatureQuery), async (c) => {
    const { exp, sig } = c.req.valid('query');
    const row = await signedMedia(c.env, c.req.valid('param').id, exp, sig, Date.now());
    const maxAge = Math.max(0, Math.floor((exp - Date.now()) / 1000));
    return mediaResponse(c.env, row, c.req.header('Range') ?? null, c.req.header('If-None-Match') ?? null, `private, max-age=${maxAge}`);
  })
  .get('/v1/media/:id', requireAuth, params(IdParam), async (c) => {
    const row = await downloadableMedia(c.env, c.get('auth').userId, c.req.valid('param').id);
    return mediaResponse(c.env, row, c.req.header('Range') ?? null, c.req.header('If-None-Match') ?? null);
  });
