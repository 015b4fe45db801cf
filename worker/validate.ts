/**
 * Request validation: hono's `validator` driven by the protocol's zod schemas, so a bad body or
 * query becomes a typed `validation_failed` / `invalid_json` error and never reaches a handler.
 */
import { validator } from 'hono/validator';
import type { z } from 'zod';
import { ApiError } from './errors.ts';

function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(body)'}: ${issue.message}`)
    .join('; ');
}

/**
 * Validate the JSON body against a schema.
 *
 * @example
 * app.post('/v1/auth/otp', jsonBody(OtpRequestSchema), (c) => c.req.valid('json'))
 */
export function jsonBody<S extends z.ZodType>(schema: S) {
  return validator('json', async (_value, c) => {
    // hono's own JSON parsing answers malformed bodies with a bare 400; parse here for a typed error.
    let raw: unknown;
    try {
      raw = await c.req.raw.clone().json();
    } catch {
      throw new ApiError('invalid_json');
    }
    const result = schema.safeParse(raw);
    if (!result.success) throw new ApiError('validation_failed', describe(result.error));
    return result.data as z.output<S>;
  });
}

/** Validate the query string against a schema. */
export function query<S extends z.ZodType>(schema: S) {
  return validator('query', (value) => {
    const result = schema.safeParse(value);
    if (!result.success) throw new ApiError('validation_failed', describe(result.error));
    return result.data as z.output<S>;
  });
}

/** Validate route parameters against a schema. */
export function params<S extends z.ZodType>(schema: S) {
  return validator('param', (value) => {
    const result = schema.safeParse(value);
    if (!result.success) throw new ApiError('validation_failed', describe(result.error));
    return result.data as z.output<S>;
  });
}
