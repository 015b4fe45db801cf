/**
 * HTTP request and response bodies for every `/v1` endpoint. The server validates requests with
 * these schemas (hono's validator) and the SDK validates responses with them.
 */
import { z } from 'zod';
import { ERROR_CODES } from './errors.ts';
import { ABOUT_MAX, DISPLAY_NAME_MAX, HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT, OTP_LENGTH } from './limits.ts';
import { nameText, noteText } from './text.ts';
import { GroupHistoryItemSchema, GroupIdSchema, GroupMessageSchema, GroupSeqSchema } from './groups.ts';
import { DeviceIdSchema, MessageSchema, MessageStatusSchema, QuerySeqSchema, SeqSchema, UlidSchema, UserIdSchema } from './messages.ts';

/** Every non-2xx response. */
export const ErrorResponseSchema = z.strictObject({
  error: z.strictObject({
    code: z.enum(ERROR_CODES),
    message: z.string(),
    retryable: z.boolean(),
    /** With `rate_limited` / `otp_rate_limited`: wait this long, then the same request can pass. */
    retryAfterMs: z.number().int().nonnegative().optional(),
  }),
});
export type ErrorResponse = z.infer<typeof ErrorResponseSchema>;

const QuerySeq = QuerySeqSchema;

/** Phone numbers are accepted in any common notation and normalised to E.164 by the server. */
const PhoneInput = z.string().min(3).max(32);

export const PlatformSchema = z.enum(['ios', 'android', 'web', 'desktop', 'cli', 'other']);

// ---- POST /v1/auth/otp
/** An OTP challenge: 32 base64url characters (192 random bits). */
export const OtpChallengeSchema = z.string().regex(/^[A-Za-z0-9_-]{32}$/, 'expected the challenge from the code request');
export const OtpRequestSchema = z.strictObject({ phone: PhoneInput });
export const OtpResponseSchema = z.strictObject({
  /** The number in E.164 form; use it for the verify call. */
  phone: z.string(),
  /**
   * Binds the code to this client: the verify call must present it. Guesses without it touch no
   * code, so nobody who lacks it can burn the code or lock the owner out.
   */
  challenge: OtpChallengeSchema,
  /** When the code stops working, ms since the epoch. */
  expiresAt: z.number().int(),
  /** The earliest time another code for this number can be requested from this client, ms since the epoch. */
  resendAt: z.number().int(),
  /** Present only when the server runs the `dev` SMS provider (local development). */
  devCode: z.string().optional(),
});

// ---- POST /v1/auth/verify
export const VerifyRequestSchema = z.strictObject({
  phone: PhoneInput,
  code: z.string().regex(new RegExp(`^[0-9]{${OTP_LENGTH}}$`), `expected ${OTP_LENGTH} digits`),
  /** The `challenge` of the code request that sent this code. */
  challenge: OtpChallengeSchema,
  deviceName: nameText(64).optional(),
  platform: PlatformSchema.optional(),
});
// ---- profiles
export const ProfileSchema = z.strictObject({
  userId: UserIdSchema,
  displayName: z.string(),
  /**
   * Shown only to those the owner's `privacy.profile` allows (and never to someone the owner
   * blocked): '' otherwise, the same as an empty about, so hiding cannot be told from not having one.
   */
  about: z.string(),
  /**
   * The profile photo's media id (an `avatar` upload; fetch it with GET /v1/media/:id or a signed
   * URL), or null for none. Null as well for a viewer who may not see the about (same rule).
   */
  photo: z.string().nullable(),
  /**
   * E.164. Present on your own profile, and on the profile of someone who wrote to you in a 1:1
   * chat (they shared their number by writing); never otherwise.
   */
  phone: z.string().optional(),
});
export const ProfileUpdateSchema = z
  .strictObject({
    displayName: nameText(DISPLAY_NAME_MAX).optional(),
    about: noteText(ABOUT_MAX).optional(),
    /** A complete `avatar` upload of your own, or null to remove the photo. */
    photo: UlidSchema.nullable().optional(),
  })
  .refine((v) => v.displayName !== undefined || v.about !== undefined || v.photo !== undefined, 'nothing to update');

// ---- devices
export const DeviceSchema = z.strictObject({
  deviceId: DeviceIdSchema,
  name: z.string(),
  platform: PlatformSchema,
  createdAt: z.number().int(),
  lastSeenAt: z.number().int().nullable(),
  /** True for the device whose token made this request. */
  current: z.boolean(),
});
export const DeviceListSchema = z.strictObject({ devices: z.array(DeviceSchema) });

// ---- GET /v1/health
export const HealthSchema = z.strictObject({ ok: z.literal(true) });

// ---- POST /v1/connect/ticket (bearer token in the Authorization header)
export const ConnectTicketSchema = z.strictObject({
  /** Single use, valid until `expiresAt`: open `/v1/connect?ticket=<ticket>` with it. */
  ticket: z.string().min(1).max(512),
  expiresAt: z.number().int(),
});
export type ConnectTicket = z.infer<typeof ConnectTicketSchema>;

// ---- GET /v1/connect?ticket=&cursor= (WebSocket upgrade)
export const ConnectQuerySchema = z.object({
  /**
   * A connect ticket from `POST /v1/connect/ticket` (browsers cannot set headers on a WebSocket,
   * and a URL ends up in logs, so the long-lived token never travels here).
   */
  ticket: z.string().min(1).max(512),
  /** The highest mailbox seq this device has processed; omit to continue from the server's record. */
  cursor: QuerySeq.optional(),
});
export type ConnectQuery = z.infer<typeof ConnectQuerySchema>;

// ---- GET /v1/conversations/:peerId/messages?before=&limit=
export const HistoryQuerySchema = z.object({
  /** Return entries with mailbox seq strictly below this (omit for the newest page). */
  before: QuerySeq.optional(),
  limit: QuerySeq.pipe(z.number().min(1).max(HISTORY_MAX_LIMIT)).default(HISTORY_DEFAULT_LIMIT),
});
export const HistoryItemSchema = z.strictObject({
  /** Position in *your* mailbox; pagination cursor. */
  seq: SeqSchema,
  message: MessageSchema,
  /** For messages you sent: the recipient's furthest tick. For received ones: `delivered` or `read` (by you). */
  status: MessageStatusSchema,
});
export const HistoryPageSchema = z.strictObject({
  /** Newest first. */
  messages: z.array(HistoryItemSchema),
  /** Pass as `before` for the next (older) page; null when there is nothing older. */
  nextBefore: SeqSchema.nullable(),
});

// ---- GET /v1/conversations?before=&limit=
export const ConversationQuerySchema = z.object({
  /** Return conversations whose newest message has a mailbox seq strictly below this. */
  before: QuerySeq.optional(),
  limit: QuerySeq.pipe(z.number().min(1).max(HISTORY_MAX_LIMIT)).default(HISTORY_DEFAULT_LIMIT),
});
export const DirectConversationSchema = z.strictObject({
  kind: z.literal('direct'),
  peer: UserIdSchema,
  /** The newest message, either direction (its `seq` orders the list). */
  last: HistoryItemSchema,
  /** Messages from `peer` you have not marked read. */
  unread: z.number().int().min(0),
  /** You marked the chat unread (`mark_unread`) and have not read it since. */
  markedUnread: z.boolean(),
});
export const GroupConversationSchema = z.strictObject({
  kind: z.literal('group'),
  group: GroupIdSchema,
  /**
   * The newest entry: a message or a system event (its `seq` orders the list). For a large group
   * it comes from the group's log (`seq` null): see `log`.
   */
  last: GroupHistoryItemSchema,
  /** Others' messages in the group you have not marked read. */
  unread: z.number().int().min(0),
  /** You marked the chat unread (`mark_unread`) and have not read it since. */
  markedUnread: z.boolean(),
  /**
   * Large groups only (read diffusion): where the log part begins (`from`: entries above it are
   * not in your mailbox), how far you have read it (`readGseq`, what `group_read` `gseq` moves)
   * and the log's head when the list was made. Large groups are all listed on the first page
   * (no `before`), placed among the other chats by the time of their newest entry.
   */
  log: z.strictObject({ from: GroupSeqSchema, readGseq: GroupSeqSchema, head: GroupSeqSchema }).optional(),
});
/** One chat in the chat list: a 1:1 conversation or a group. */
export const ConversationSchema = z.discriminatedUnion('kind', [DirectConversationSchema, GroupConversationSchema]);
export const ConversationListSchema = z.strictObject({
  /** Most recent activity first. */
  conversations: z.array(ConversationSchema),
  /** Pass as `before` for the next page; null when there are no more. */
  nextBefore: SeqSchema.nullable(),
});

// ---- GET /v1/starred?before=&limit= (your starred messages by mailbox seq, newest first)
export const StarredQuerySchema = HistoryQuerySchema;
export const StarredItemSchema = z.union([
  z.strictObject({ seq: SeqSchema, chat: z.strictObject({ kind: z.literal('direct'), peer: UserIdSchema }), message: MessageSchema }),
  z.strictObject({ seq: SeqSchema, chat: z.strictObject({ kind: z.literal('group'), group: GroupIdSchema }), message: GroupMessageSchema }),
]);
export const StarredPageSchema = z.strictObject({
  /** Newest message first; `seq` is the message's position in your mailbox (the cursor). */
  messages: z.array(StarredItemSchema),
  nextBefore: SeqSchema.nullable(),
});
export type StarredItem = z.infer<typeof StarredItemSchema>;
export type StarredPage = z.infer<typeof StarredPageSchema>;

// ---- POST /v1/dev/faults/evict (local fault injection only: `npm run dev -- --faults`; bearer METRICS_TOKEN)
/** One object to reset, as an eviction or crash would: a user's mailbox or a group's object. */
export const FaultEvictRequestSchema = z.union([z.strictObject({ userId: UserIdSchema }), z.strictObject({ groupId: GroupIdSchema })]);
export const FaultEvictResultSchema = z.strictObject({ evicted: z.literal(true) });
export type FaultEvictRequest = z.infer<typeof FaultEvictRequestSchema>;
export type FaultEvictResult = z.infer<typeof FaultEvictResultSchema>;

// ---- GET /v1/dev/cost (local cost counters only: LOCAL_COST_COUNTERS=on, set by the bench; bearer METRICS_TOKEN)
/** What Durable Objects did (lib/cost-counters.ts defines each count). */
export const CostTallySchema = z.strictObject({
  commits: z.number().int().nonnegative(),
  commitsLow: z.number().int().nonnegative(),
  statements: z.number().int().nonnegative(),
  writeStatements: z.number().int().nonnegative(),
  storageWrites: z.number().int().nonnegative(),
  rpcs: z.number().int().nonnegative(),
  framesIn: z.number().int().nonnegative(),
  alarms: z.number().int().nonnegative(),
});
export const CostKindSchema = z.enum(['mailbox', 'group']);
export const CostSnapshotSchema = z.strictObject({
  /** Sums over every object of each kind since the runtime started. */
  kinds: z.strictObject({
    mailbox: CostTallySchema.extend({ objects: z.number().int().nonnegative() }),
    group: CostTallySchema.extend({ objects: z.number().int().nonnegative() }),
  }),
  /** WebSocket frames sent by the server. */
  framesOut: z.number().int().nonnegative(),
  /** With `?object=NAME` (a user or group id): that object's tally, null if it counted nothing. */
  object: CostTallySchema.extend({ kind: CostKindSchema }).nullable().optional(),
});
export type CostKind = z.infer<typeof CostKindSchema>;
export type CostTally = z.infer<typeof CostTallySchema>;
export type CostSnapshot = z.infer<typeof CostSnapshotSchema>;

// ---- GET /v1/metrics (operators; bearer METRICS_TOKEN)
export const QueueMetricsSchema = z.strictObject({
  /** Messages waiting for the consumer. */
  backlog: z.number().int().min(0),
  backlogBytes: z.number().int().min(0),
  /** Enqueue time of the oldest waiting message, ms since the epoch; null when empty. */
  oldestAt: z.number().int().nullable(),
});
export const MetricsSchema = z.strictObject({
  /** Per queue binding; null when the queue did not answer. */
  queues: z.record(z.string(), QueueMetricsSchema.nullable()),
  /** Jobs that exhausted their retries, per queue they came from (recorded from the dead-letter queue). */
  deadLetters: z.record(z.string(), z.number().int().min(0)),
  /** Push consumer outcomes since the database was created. */
  push: z.strictObject({
    sent: z.number().int().min(0),
    failed: z.number().int().min(0),
    /** Transient failures that were retried (5xx, 429, network). */
    retried: z.number().int().min(0),
    /** Dead tokens removed (unregistered, bad device token). */
    invalidTokens: z.number().int().min(0),
    /** Jobs for users without any registered push token. */
    noDevice: z.number().int().min(0),
  }),
  /** Live connections, as last reported by the mailboxes (on connect, disconnect and alarms). */
  connections: z.strictObject({
    devices: z.number().int().min(0),
    onlineUsers: z.number().int().min(0),
  }),
  /** Mailbox depth (entries kept for devices to sync), as last reported by the mailboxes. */
  mailboxes: z.strictObject({
    reporting: z.number().int().min(0),
    depthTotal: z.number().int().min(0),
    depthMax: z.number().int().min(0),
  }),
  /** Media uploads (D1 `media`), and what the expiry sweep removed. */
  media: z.strictObject({
    /** Complete uploads, and the bytes of the objects holding them (an object shared by duplicates counted once). */
    stored: z.strictObject({ count: z.number().int().min(0), bytes: z.number().int().min(0) }),
    /** Uploads not finished: slots not used yet and uploads in progress. */
    pending: z.number().int().min(0),
    /** Uploads refused (size or hash mismatch), until swept. */
    failed: z.number().int().min(0),
    /** Complete uploads stored in another upload's object (verified duplicates across uploads). */
    dedupHits: z.number().int().min(0),
    /** Expired uploads deleted by sweeps since the database was created. */
    swept: z.number().int().min(0),
  }),
  /**
   * History tiers. Hot: messages kept in the users' objects, as last reported by them. Warm and
   * cold: per history shard (D1 binding), rows and bytes of messages in the database, chunks and
   * gzip bytes in the archive (R2), search documents; `coldLagMs`: how far the oldest warm message
   * is past the cold threshold (0 when on time). Queue backlog and dead letters: `queues` and
   * `deadLetters` under `history-archive`.
   */
  history: z.strictObject({
    hot: z.strictObject({ messages: z.number().int().min(0), mailboxes: z.number().int().min(0) }),
    shards: z.record(
      z.string(),
      z
        .strictObject({
          warmRows: z.number().int().min(0),
          warmBytes: z.number().int().min(0),
          coldChunks: z.number().int().min(0),
          coldMessages: z.number().int().min(0),
          coldBytes: z.number().int().min(0),
          searchDocs: z.number().int().min(0),
          coldLagMs: z.number().int().min(0),
        })
        .nullable(),
    ),
  }),
  at: z.number().int(),
});
export type Metrics = z.infer<typeof MetricsSchema>;

export type OtpRequest = z.infer<typeof OtpRequestSchema>;
export type OtpResponse = z.infer<typeof OtpResponseSchema>;
export type VerifyRequest = z.infer<typeof VerifyRequestSchema>;
export type Profile = z.infer<typeof ProfileSchema>;
export type ProfileUpdate = z.infer<typeof ProfileUpdateSchema>;
export type Device = z.infer<typeof DeviceSchema>;
export type DeviceList = z.infer<typeof DeviceListSchema>;
export type Health = z.infer<typeof HealthSchema>;
export type Platform = z.infer<typeof PlatformSchema>;
export type HistoryQuery = z.infer<typeof HistoryQuerySchema>;
export type HistoryItem = z.infer<typeof HistoryItemSchema>;
export type HistoryPage = z.infer<typeof HistoryPageSchema>;
export type ConversationQuery = z.infer<typeof ConversationQuerySchema>;
export type Conversation = z.infer<typeof ConversationSchema>;
export type DirectConversation = z.infer<typeof DirectConversationSchema>;
export type GroupConversation = z.infer<typeof GroupConversationSchema>;
export type ConversationList = z.infer<typeof ConversationListSchema>;

/** Paths, so server routes and SDK calls cannot drift apart. */
export const PATHS = {
  requestOtp: '/v1/auth/otp',
  verifyOtp: '/v1/auth/verify',
  logout: '/v1/auth/logout',
  me: '/v1/me',
  user: (userId: string) => `/v1/users/${encodeURIComponent(userId)}`,
  userByPhone: (phone: string) => `/v1/users/by-phone/${encodeURIComponent(phone)}`,
  devices: '/v1/devices',
  device: (deviceId: string) => `/v1/devices/${encodeURIComponent(deviceId)}`,
  conversations: '/v1/conversations',
  history: (peerId: string) => `/v1/conversations/${encodeURIComponent(peerId)}/messages`,
  starred: '/v1/starred',
  search: '/v1/search',
  groups: '/v1/groups',
  group: (groupId: string) => `/v1/groups/${encodeURIComponent(groupId)}`,
  groupMembers: (groupId: string) => `/v1/groups/${encodeURIComponent(groupId)}/members`,
  groupMember: (groupId: string, userId: string) =>
    `/v1/groups/${encodeURIComponent(groupId)}/members/${encodeURIComponent(userId)}`,
  groupAdmin: (groupId: string, userId: string) =>
    `/v1/groups/${encodeURIComponent(groupId)}/admins/${encodeURIComponent(userId)}`,
  groupLeave: (groupId: string) => `/v1/groups/${encodeURIComponent(groupId)}/leave`,
  groupHistory: (groupId: string) => `/v1/groups/${encodeURIComponent(groupId)}/messages`,
  groupMessageInfo: (groupId: string, messageId: string) =>
    `/v1/groups/${encodeURIComponent(groupId)}/messages/${encodeURIComponent(messageId)}/info`,
  connect: '/v1/connect',
  connectTicket: '/v1/connect/ticket',
  health: '/v1/health',
  metrics: '/v1/metrics',
  contacts: '/v1/contacts',
  contact: (userId: string) => `/v1/contacts/${encodeURIComponent(userId)}`,
  blocks: '/v1/blocks',
  block: (userId: string) => `/v1/blocks/${encodeURIComponent(userId)}`,
  presence: (userId: string) => `/v1/users/${encodeURIComponent(userId)}/presence`,
  settings: '/v1/me/settings',
  mute: (kind: 'direct' | 'group', id: string) => `/v1/me/mutes/${kind}/${encodeURIComponent(id)}`,
  pushToken: '/v1/devices/current/push',
  pushSink: '/v1/push/sink',
  faultsEvict: '/v1/dev/faults/evict',
  devCost: '/v1/dev/cost',
  // ---- sessions and account ownership (protocol/account.ts)
  refresh: '/v1/auth/refresh',
  pinLogin: '/v1/auth/pin',
  pinReset: '/v1/auth/pin/reset',
  pin: '/v1/me/pin',
  // ---- group consent: invites, invite links, join requests (protocol/groups.ts)
  invites: '/v1/invites',
  inviteAccept: (groupId: string) => `/v1/invites/${encodeURIComponent(groupId)}/accept`,
  inviteDecline: (groupId: string) => `/v1/invites/${encodeURIComponent(groupId)}/decline`,
  groupInvite: (groupId: string, userId: string) =>
    `/v1/groups/${encodeURIComponent(groupId)}/invites/${encodeURIComponent(userId)}`,
  groupLink: (groupId: string) => `/v1/groups/${encodeURIComponent(groupId)}/link`,
  groupRequests: (groupId: string) => `/v1/groups/${encodeURIComponent(groupId)}/requests`,
  groupRequest: (groupId: string, userId: string) =>
    `/v1/groups/${encodeURIComponent(groupId)}/requests/${encodeURIComponent(userId)}`,
  groupRequestApprove: (groupId: string, userId: string) =>
    `/v1/groups/${encodeURIComponent(groupId)}/requests/${encodeURIComponent(userId)}/approve`,
  link: (code: string) => `/v1/links/${encodeURIComponent(code)}`,
  linkJoin: (code: string) => `/v1/links/${encodeURIComponent(code)}/join`,
  // ---- media (protocol/media.ts)
  media: '/v1/media',
  mediaItem: (mediaId: string) => `/v1/media/${encodeURIComponent(mediaId)}`,
  mediaInfo: (mediaId: string) => `/v1/media/${encodeURIComponent(mediaId)}/info`,
  mediaContent: (mediaId: string) => `/v1/media/${encodeURIComponent(mediaId)}/content`,
  mediaPart: (mediaId: string, part: number) => `/v1/media/${encodeURIComponent(mediaId)}/parts/${part}`,
  mediaParts: (mediaId: string) => `/v1/media/${encodeURIComponent(mediaId)}/parts`,
  mediaComplete: (mediaId: string) => `/v1/media/${encodeURIComponent(mediaId)}/complete`,
  mediaUrl: (mediaId: string) => `/v1/media/${encodeURIComponent(mediaId)}/url`,
  mediaBlob: (mediaId: string) => `/v1/media/${encodeURIComponent(mediaId)}/blob`,
} as const;
