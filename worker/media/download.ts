/**
 * Serving media bytes (`GET /v1/media/:id`): a single HTTP byte range (206 / 416), the SHA-256 as
 * a strong ETag (If-None-Match → 304), and types set so nothing uploaded can act as a page: only
 * the passive image/video/audio types of MEDIA_LIMITS are served as themselves (inline), every
 * document as an `application/octet-stream` attachment; always `nosniff`.
 */
import type { MediaRow } from '../../db/schema.ts';
import { ApiError, errorBody } from '../errors.ts';

export type ByteRange = { offset: number; length: number };

/**
 * The single byte range a `Range` header asks of a file of `size` bytes: null to serve the whole
 * file (no header, another unit, several ranges, or syntax the spec says to ignore), or
 * 'unsatisfiable' (416).
 *
 * @example
 * parseRange('bytes=-10', 100) // { offset: 90, length: 10 }
 */
export function parseRange(header: string | null, size: number): ByteRange | 'unsatisfiable' | null {
  if (header === null) return null;
  const match = /^bytes=([0-9]*)-([0-9]*)$/.exec(header.trim());
  if (match === null) return null;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return null;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) return 'unsatisfiable';
    const length = Math.min(suffix, size);
    return { offset: size - length, length };
  }
  const offset = Number(first);
  if (offset >= size) return 'unsatisfiable';
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (end < offset) return null;
  return { offset, length: end - offset + 1 };
}

/** Whether an If-None-Match header names this ETag (or is `*`). */
function matchesEtag(header: string | null, etag: string): boolean {
  if (header === null) return false;
  return header.split(',').some((tag) => {
    const value = tag.trim();
    return value === '*' || value === etag || value === `W/${etag}`;
  });
}

/** Whether bytes of this media are served as themselves (inline) rather than as a download. */
function servedInline(row: MediaRow): boolean {
  return row.kind !== 'document' && /^(image|video|audio)\//.test(row.mime);
}

/**
 * The response for a complete media row the caller may read.
 *
 * @example
 * return mediaResponse(c.env, row, c.req.header('Range') ?? null, c.req.header('If-None-Match') ?? null);
 */
export async function mediaResponse(
  env: Env,
  row: MediaRow,
  range: string | null,
  ifNoneMatch: string | null,
  cacheControl = 'private',
): Promise<Response> {
  if (row.blobKey === null) throw new ApiError('media_not_found');
  const etag = `"${row.sha256}"`;
  const headers = new Headers({
    ETag: etag,
    'Cache-Control': cacheControl,
    'X-Content-Type-Options': 'nosniff',
    'Accept-Ranges': 'bytes',
  });
  if (servedInline(row)) {
    headers.set('Content-Type', row.mime);
    headers.set('Content-Disposition', 'inline');
  } else {
    headers.set('Content-Type', 'application/octet-stream');
    headers.set('Content-Disposition', 'attachment');
  }
  if (matchesEtag(ifNoneMatch, etag)) return new Response(null, { status: 304, headers });

  const wanted = parseRange(range, row.size);
  if (wanted === 'unsatisfiable') {
    return Response.json(errorBody('range_not_satisfiable'), {
      status: 416,
      headers: { 'Content-Range': `bytes */${row.size}`, 'X-Content-Type-Options': 'nosniff' },
    });
  }
  // Bytes uploaded straight to R2 are served only while they are the verified ones (migrations/0011).
  const object = await env.MEDIA.get(row.blobKey, {
    ...(wanted === null ? {} : { range: wanted }),
    ...(row.blobEtag === null ? {} : { onlyIf: { etagMatches: row.blobEtag } }),
  });
  if (object === null || !('body' in object)) {
    console.error(`media ${row.id}: object ${row.blobKey} is ${object === null ? 'missing' : 'not the verified one any more'}`);
    throw new ApiError('media_not_found');
  }
  if (wanted === null) {
    headers.set('Content-Length', String(row.size));
    return new Response(object.body, { status: 200, headers });
  }
  headers.set('Content-Length', String(wanted.length));
  headers.set('Content-Range', `bytes ${wanted.offset}-${wanted.offset + wanted.length - 1}/${row.size}`);
  return new Response(object.body, { status: 206, headers });
}
