/**
 * Every rate limit of the service, in one table: what is counted, per whom, and how much.
 * Refusals are `rate_limited` (HTTP 429 with a `Retry-After` header, or an `error` frame) and
 * carry `retryAfterMs`, the wait after which the same request can pass. Clients wait that long
 * and retry; they never drop what the user wrote.
 *
 * Two kinds:
 * - `edge`: counted per client IP or per phone-number prefix by Cloudflare's Workers Rate
 *   Limiting binding at the location that serves the request (fixed windows of 10 or 60 s,
 *   declared in wrangler.toml under the same binding names; a test keeps both in step).
 *   Approximate by design: they stop floods of anonymous requests cheaply, before any storage.
 * - `bucket`: exact token buckets kept by the user's own Durable Object, per device or per user:
 *   `burst` tokens at most, refilled continuously at `refill` tokens per `everyMs`. An action
 *   costs one token (group member deliveries cost one per member; phone look-ups of numbers
 *   nobody uses cost two). Operators override buckets with the RATE_LIMITS variable, a JSON
 *   object such as `{"send_device":{"burst":1000}}`.
 */

export type EdgeLimit = {
  kind: 'edge';
  /** The Workers Rate Limiting binding that counts it (wrangler.toml `[[ratelimits]]` name). */
  binding: string;
  scope: 'ip' | 'phone_prefix' | 'device';
  limit: number;
  periodSeconds: 10 | 60;
  what: string;
};

export type BucketLimit = {
  kind: 'bucket';
  scope: 'device' | 'device_conversation' | 'user';
  burst: number;
  refill: number;
  everyMs: number;
  /** Whether the bucket survives the object's restarts (stored) or lives in memory only. */
  stored: boolean;
  what: string;
};

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const RATE_LIMITS = {
  // ---- anonymous, at the edge
  otp_request_ip: {
    kind: 'edge', binding: 'RL_OTP_REQUEST_IP', scope: 'ip', limit: 5, periodSeconds: 60,
    what: 'one-time code requests from one IP address',
  },
  otp_request_prefix: {
    kind: 'edge', binding: 'RL_OTP_REQUEST_PREFIX', scope: 'phone_prefix', limit: 10, periodSeconds: 60,
    what: 'one-time code requests to one block of 1,000 numbers (the number without its last 3 digits)',
  },
  otp_verify_ip: {
    kind: 'edge', binding: 'RL_OTP_VERIFY_IP', scope: 'ip', limit: 20, periodSeconds: 60,
    what: 'code verifications from one IP address',
  },
  refresh_ip: {
    kind: 'edge', binding: 'RL_REFRESH_IP', scope: 'ip', limit: 300, periodSeconds: 60,
    what: 'session refreshes from one IP address (every device refreshes about every 15 minutes: room for thousands of devices behind one carrier NAT address)',
  },
  signup_ip: {
    kind: 'edge', binding: 'RL_SIGNUP_IP', scope: 'ip', limit: 3, periodSeconds: 60,
    what: 'accounts created from one IP address',
  },
  // ---- every authenticated HTTP request, at the edge, per device (a blanket under the exact budgets below)
  api_device: {
    kind: 'edge', binding: 'RL_API_DEVICE', scope: 'device', limit: 300, periodSeconds: 10,
    what: 'authenticated HTTP requests from one device',
  },

  // ---- per device, in the user's object (memory: a flood keeps the object awake)
  send_device: {
    kind: 'bucket', scope: 'device', burst: 500, refill: 5, everyMs: SECOND, stored: false,
    what: '1:1 and group messages sent by one device (the burst lets an offline outbox of ~500 flush)',
  },
  typing_conversation: {
    kind: 'bucket', scope: 'device_conversation', burst: 4, refill: 1, everyMs: SECOND, stored: false,
    what: 'typing and recording frames relayed per device and conversation (a change of state costs the same; over the limit they are dropped, not answered)',
  },
  typing_device: {
    kind: 'bucket', scope: 'device', burst: 20, refill: 2, everyMs: SECOND, stored: false,
    what: 'typing and recording frames relayed per device, all conversations together',
  },
  presence_watch_device: {
    kind: 'bucket', scope: 'device', burst: 10, refill: 10, everyMs: MINUTE, stored: false,
    what: '`presence_watch` frames per device',
  },
  resume_device: {
    kind: 'bucket', scope: 'device', burst: 5, refill: 5, everyMs: MINUTE, stored: false,
    what: '`resume` frames per device, one token per RESUME_ENTRIES_PER_TOKEN entries sent again (at least one)',
  },
  group_pull_device: {
    kind: 'bucket', scope: 'device', burst: 120, refill: 120, everyMs: MINUTE, stored: false,
    what: '`group_pull` frames per device (a catch-up of 10,000 entries is 20 of them)',
  },
  chat_marker_device: {
    kind: 'bucket', scope: 'device', burst: 30, refill: 30, everyMs: MINUTE, stored: false,
    what: '`mark_unread` frames per device',
  },
  connect_ticket_device: {
    kind: 'bucket', scope: 'device', burst: 20, refill: 20, everyMs: MINUTE, stored: false,
    what: 'WebSocket connect tickets per device',
  },

  // ---- per user, in the user's object
  send_user: {
    kind: 'bucket', scope: 'user', burst: 1_000, refill: 10, everyMs: SECOND, stored: false,
    what: '1:1 and group messages sent by all of one user\'s devices',
  },
  search_user: {
    kind: 'bucket', scope: 'user', burst: 30, refill: 30, everyMs: MINUTE, stored: false,
    what: 'searches (`GET /v1/search` pages) per user',
  },
  group_deliveries_user: {
    kind: 'bucket', scope: 'user', burst: 20_000, refill: 200, everyMs: SECOND, stored: false,
    what: 'group member deliveries caused by one user\'s group messages (one per member other than the sender)',
  },
  group_create_user: {
    kind: 'bucket', scope: 'user', burst: 10, refill: 10, everyMs: HOUR, stored: true,
    what: 'groups created per user',
  },
  group_add_user: {
    kind: 'bucket', scope: 'user', burst: 1_024, refill: 1_024, everyMs: HOUR, stored: true,
    what: 'members added or invited to groups (at creation or later) per user',
  },
  group_join_user: {
    kind: 'bucket', scope: 'user', burst: 30, refill: 30, everyMs: HOUR, stored: true,
    what: 'groups joined or asked to join through invite links per user',
  },
  contact_add_user: {
    kind: 'bucket', scope: 'user', burst: 200, refill: 200, everyMs: DAY, stored: true,
    what: 'contacts added per user',
  },
  phone_lookup_user: {
    kind: 'bucket', scope: 'user', burst: 200, refill: 200, everyMs: DAY, stored: true,
    what: 'phone-number look-ups per user (a number nobody uses counts double)',
  },
  media_upload_user: {
    kind: 'bucket', scope: 'user', burst: 200, refill: 200, everyMs: HOUR, stored: true,
    what: 'media upload slots requested per user (a deduplicated answer counts too)',
  },
  media_mib_user: {
    kind: 'bucket', scope: 'user', burst: 2048, refill: 2048, everyMs: DAY, stored: true,
    what: 'MiB of media uploads started per user (each slot that is not deduplicated costs its size, rounded up)',
  },
  media_part_user: {
    kind: 'bucket', scope: 'user', burst: 400, refill: 400, everyMs: HOUR, stored: true,
    what: 'parts of multipart uploads received per user (a part sent again counts again)',
  },
} as const satisfies Record<string, EdgeLimit | BucketLimit>;

export type RateLimitName = keyof typeof RATE_LIMITS;
export type BucketName = { [K in RateLimitName]: (typeof RATE_LIMITS)[K] extends { kind: 'bucket' } ? K : never }[RateLimitName];
export type EdgeLimitName = Exclude<RateLimitName, BucketName>;

/**
 * One-time codes: the waits between code requests for one number from one client (IP address)
 * grow with each request: the first is free, then 30 s, 1 min, 2 min, 5 min, 10 min, then an hour
 * each. The count starts again a day after the first request.
 */
export const OTP_RESEND_WAITS_MS = [0, 30 * SECOND, MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, HOUR] as const;
export const OTP_RESEND_RESET_MS = DAY;

/**
 * A `resume` costs one `resume_device` token per this many entries it sends again (those between
 * its `after` and what the connection was already sent), at least one. A gap repair costs one; a
 * full replay of the 1,000-entry delivery window costs the whole burst of 5.
 */
export const RESUME_ENTRIES_PER_TOKEN = 200;

/**
 * Connect tickets: `POST /v1/connect/ticket` answers a single-use ticket valid this long, which
 * the client puts in the WebSocket URL (`/v1/connect?ticket=`) instead of its long-lived token.
 */
export const CONNECT_TICKET_TTL_MS = 30 * SECOND;
