/**
 * Direct uploads to R2 (the bytes never pass through the Worker): when the deployment has R2 S3
 * API credentials, upload slots answer R2 presigned URLs (AWS Signature V4 in the query string,
 * signed with aws4fetch) instead of the Worker's own capability URLs. The multipart upload is
 * still created through the binding; a presigned part URL names it. Completion always goes
 * through the Worker (the capability URL), which reads the object back and verifies it.
 *
 * R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY are optional secrets (an R2 API token with write
 * access to the bucket), R2_S3_ENDPOINT is `https://<account id>.r2.cloudflarestorage.com`,
 * R2_BUCKET the bucket's name (default messenger-media); wrangler.toml declares none of them, so
 * the generated `Env` type does not know them. The bucket needs a CORS rule allowing PUT from the
 * web client's origin and exposing `ETag` (README, Deploy).
 */
import { AwsClient } from 'aws4fetch';

export type DirectUploadConfig = { client: AwsClient; endpoint: string; bucket: string };

/** The direct-upload settings of this deployment, or null to upload through the Worker. */
export function directUploadConfig(env: Env): DirectUploadConfig | null {
  const vars = env as unknown as Record<string, string | undefined>;
  const accessKeyId = vars.R2_ACCESS_KEY_ID;
  const secretAccessKey = vars.R2_SECRET_ACCESS_KEY;
  const endpoint = vars.R2_S3_ENDPOINT;
  if (!accessKeyId || !secretAccessKey || !endpoint || !URL.canParse(endpoint)) return null;
  const client = new AwsClient({ accessKeyId, secretAccessKey, service: 's3', region: 'auto' });
  return { client, endpoint: endpoint.replace(/\/+$/, ''), bucket: vars.R2_BUCKET || 'messenger-media' };
}

/**
 * A presigned PUT of `key` valid until `expiresAt` (ms): the whole object, or with `part` one
 * part of the multipart upload `uploadId`. Only the host is signed, so any Content-Type works.
 *
 * @example
 * const url = await presignPut(config, 'blobs/01H…', Date.now(), slot.expiresAt);
 */
export async function presignPut(
  config: DirectUploadConfig,
  key: string,
  now: number,
  expiresAt: number,
  part?: { uploadId: string; partNumber: number },
): Promise<string> {
  const url = new URL(`${config.endpoint}/${config.bucket}/${key}`);
  url.searchParams.set('X-Amz-Expires', String(Math.max(1, Math.min(604_800, Math.floor((expiresAt - now) / 1000)))));
  if (part !== undefined) {
    url.searchParams.set('partNumber', String(part.partNumber));
    url.searchParams.set('uploadId', part.uploadId);
  }
  const signed = await config.client.sign(new Request(url, { method: 'PUT' }), { aws: { signQuery: true } });
  return signed.url;
}
