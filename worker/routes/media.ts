/**
 * Media: upload slots, the upload itself, info and download (worker/media/ does the work).
 *
 * Registered in worker/index.ts BEFORE the global JSON body limit and JSON check: uploads stream
 * bodies far larger than MAX_HTTP_BODY_BYTES that are not JSON. The JSON route here applies the
 * same body limit itself.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import {
  MAX_HTTP_BODY_BYTES,
  MediaIdSchema,
  MediaSlotRequestSchema,
  PATHS,
  type MediaInfo,
  type MediaSlotResponse,
} from '../../protocol/index.ts';
import type { AppEnv } from '../app-env.ts';
import { requireAuth } from '../auth/middleware.ts';
import { spendBudget } from '../budgets.ts';
import type { MediaRow } from '../../db/schema.ts';
import { ApiError } from '../errors.ts';
import { downloadableMedia, visibleMedia } from '../media/access.ts';
import { mediaResponse } from '../media/download.ts';
import { checkMediaLimits, openSlot } from '../media/slot.ts';
import { receiveUpload } from '../media/upload.ts';
import { jsonBody, params, query } from '../validate.ts';

// Route patterns spelled out: PATHS' builders would percent-encode the `:id` placeholder.
const IdParam = z.object({ id: MediaIdSchema });
const CapabilityQuery = z.object({ cap: z.string().max(200) });

function infoOf(row: MediaRow): MediaInfo {
  return { id: row.id, kind: row.kind, mime: row.mime, size: row.size, sha256: row.sha256, createdAt: row.createdAt, status: row.status };
}

function contentLengthOf(header: string | undefined): number | null {
  if (header === undefined || !/^[0-9]{1,16}$/.test(header)) return null;
  return Number(header);
}

export const mediaRoutes = new Hono<AppEnv>()
  .post(
    PATHS.media,
    bodyLimit({
      maxSize: MAX_HTTP_BODY_BYTES,
      onError: () => {
        throw new ApiError('payload_too_large', `Body exceeds ${MAX_HTTP_BODY_BYTES} bytes`);
      },
    }),
    requireAuth,
    jsonBody(MediaSlotRequestSchema),
    async (c) => {
      const { userId } = c.get('auth');
      const request = c.req.valid('json');
      // A refused upload costs nothing; a slot costs one token whatever its answer.
      checkMediaLimits(request);
      await spendBudget(c.env, userId, 'media_upload_user', 1);
      const slot = await openSlot(c.env, userId, request, Date.now());
      if (slot.deduplicated) return c.json({ mediaId: slot.mediaId, deduplicated: true } satisfies MediaSlotResponse, 200);
      const url = new URL(`${PATHS.mediaContent(slot.mediaId)}?cap=${encodeURIComponent(slot.capability)}`, c.req.url);
      const answer: MediaSlotResponse = {
        mediaId: slot.mediaId,
        deduplicated: false,
        upload: { url: url.toString(), method: 'PUT', headers: { 'Content-Type': request.mime }, expiresAt: slot.expiresAt },
      };
      return c.json(answer, 201);
    },
  )
  // No bearer token: the capability in the URL names the media and is good for one upload.
  .put('/v1/media/:id/content', params(IdParam), query(CapabilityQuery), async (c) => {
    const { id } = c.req.valid('param');
    const row = await receiveUpload(c.env, {
      mediaId: id,
      capability: c.req.valid('query').cap,
      body: c.req.raw.body,
      contentLength: contentLengthOf(c.req.header('Content-Length')),
      now: Date.now(),
    });
    return c.json(infoOf(row), 200);
  })
  .get('/v1/media/:id/info', requireAuth, params(IdParam), async (c) => {
    const row = await visibleMedia(c.env, c.get('auth').userId, c.req.valid('param').id);
    return c.json(infoOf(row), 200);
  })
  .get('/v1/media/:id', requireAuth, params(IdParam), async (c) => {
    const row = await downloadableMedia(c.env, c.get('auth').userId, c.req.valid('param').id);
    return mediaResponse(c.env, row, c.req.header('Range') ?? null, c.req.header('If-None-Match') ?? null);
  });
