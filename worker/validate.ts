/**
 * Request validation: hono's `validator` driven by the protocol's zod schemas, so a bad body or
 * query becomes a typed `validation_failed` / `invalid_json` error and never reaches a handler.
 */
import { createMiddleware } from 'hono/factory';
import { validator } from 'hono/validator';
import type { z } from 'zod';
import { ApiError } from './errors.ts';

function describe(error: z.ZodError, where: 'body' | 'query' | 'path'): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.length > 0 ? `${where}.${issue.path.join('.')}` : `(${where})`}: ${issue.message}`)
    .join('; ');
}

/**
 * Validate the JSON body against a schema.
 *
 * @example
 * app.post('/v1/auth/otp', jsonBody(OtpRequestSchema), (c) => c.req.valid('json'))
 */
export function jsonBody<S extends z.ZodType>(schema: S) {
  return validator('json', async (value, c) => {
    // hono only parses bodies labelled JSON; parse unlabelled ones too rather than see `{}`.
    // (Malformed JSON never gets here: `rejectMalformedJson` or hono's own parse, mapped to
    // `invalid_json` by onError, answers it first.)
    const raw: unknown = isJsonContentType(c.req.header('Content-Type')) ? value : parseOrThrow(await c.req.text());
    const result = schema.safeParse(raw);
    if (!result.success) throw new ApiError('validation_failed', describe(result.error, 'body'));
    return result.data as z.output<S>;
  });
}

function isJsonContentType(header: string | undefined): boolean {
  return header !== undefined && /^application\/([\w.-]+\+)?json\s*(;|$)/i.test(header);
}

function parseOrThrow(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError('invalid_json');
  }
}

/**
 * Middleware: a request with a body must carry valid JSON, answered with a typed `invalid_json`
 * error otherwise. hono caches the text it reads, so validators later parse it again for free.
 */
export const rejectMalformedJson = createMiddleware(async (c, next) => {
  if (c.req.method === 'POST' || c.req.method === 'PUT' || c.req.method === 'PATCH') {
    // Empty bodies pass: body-less calls (logout) may still carry a JSON content type.
    const text = await c.req.text();
    if (text.length > 0) parseOrThrow(text);
  }
  await next();
});

/** Validate the query string against a schema. */
export function query<S extends z.ZodType>(schema: S) {
  return validator('query', (value) => {
    const result = schema.safeParse(value);
    if (!result.success) throw new ApiError('validation_failed', describe(result.error, 'query'));
    return result.data as z.output<S>;
  });
}

/** Validate route parameters against a schema. */
export function params<S extends z.ZodType>(schema: S) {
  return validator('param', (value) => {
    const result = schema.safeParse(value);
    if (!result.success) throw new ApiError('validation_failed', describe(result.error, 'path'));
    return result.data as z.output<S>;
  });
}
