/**
 * Typed HTTP client for every `/v1` endpoint, plus `MessengerError`, the one error type the SDK
 * throws or emits.
 *
 * Every response is validated with the protocol's zod schemas: a server that drifts from the
 * contract fails loudly here instead of as `undefined` somewhere in the UI. Uses only the global
 * `fetch` (browsers, Node 18+, workers); pass `fetch` in the options to inject a fake.
 */
import type { z } from 'zod';
import {
  BlockListSchema,
  ContactListSchema,
  ContactSchema,
  ConversationRefSchema,
  DeviceListSchema,
  ERRORS,
  ErrorResponseSchema,
  errorCodeForStatus,
  GroupHistoryPageSchema,
  GroupListSchema,
  GroupSchema,
  HealthSchema,
  HistoryPageSchema,
  ConversationListSchema,
  ConnectTicketSchema,
  MessageInfoSchema,
  MetricsSchema,
  OtpResponseSchema,
  PATHS,
  PresenceSchema,
  ProfileSchema,
  PushRegistrationSchema,
  SessionResponseSchema,
  SettingsSchema,
  SinkPushListSchema,
} from '../protocol/index.ts';
import type {
  AddContact,
  BlockList,
  ConnectTicket,
  Contact,
  ContactList,
  ConversationRef,
  CreateGroup,
  DeviceList,
  ErrorCode,
  ErrorFrame,
  Group,
  GroupHistoryPage,
  GroupList,
  Health,
  HistoryPage,
  ConversationList,
  MessageInfo,
  Metrics,
  MuteRequest,
  OtpResponse,
  Presence,
  Profile,
  ProfileUpdate,
  PushPlatformName,
  PushRegistration,
  PushTokenRequest,
  SessionResponse,
  Settings,
  SettingsUpdate,
  SinkPushList,
  UpdateGroup,
  VerifyRequest,
} from '../protocol/index.ts';

export type {
  ConversationRef,
  DeviceList,
  Health,
  LastSeenVisibility,
  Metrics,
  Mute,
  NotificationSettings,
  Presence,
  PrivacySettings,
  PushPlatformName,
  PushRegistration,
  QuietHours,
  Settings,
  SettingsUpdate,
  SinkPush,
  SinkPushList,
} from '../protocol/index.ts';

/** Options for one history page. */
export interface HistoryOptions {
  /** Only entries with mailbox seq strictly below this (omit for the newest page). */
  before?: number;
  /** Page size, 1..HISTORY_MAX_LIMIT (server default HISTORY_DEFAULT_LIMIT). */
  limit?: number;
}

/**
 * The SDK's error: a protocol error code plus the HTTP status it travels with, whether the same
 * request may succeed when retried, and for rate limits how long to wait first.
 *
 * @example
 * try { await api.me(); } catch (e) {
 *   if (e instanceof MessengerError && e.code === 'token_expired') showLogin();
 *   if (e instanceof MessengerError && e.retryAfterMs !== undefined) retryIn(e.retryAfterMs);
 * }
 */
export class MessengerError extends Error {
  override readonly name = 'MessengerError';
  readonly code: ErrorCode;
  /** HTTP status (for WebSocket errors: the status the code maps to in the protocol's table). */
  readonly status: number;
  readonly retryable: boolean;
  /**
   * With `rate_limited` / `otp_rate_limited`: the wait, in ms, after which the same request can
   * pass (from the error body or frame, else the `Retry-After` header). Undefined otherwise.
   */
  readonly retryAfterMs: number | undefined;

  constructor(
    code: ErrorCode,
    message?: string,
    options: { status?: number; retryable?: boolean; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message ?? ERRORS[code].message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status ?? ERRORS[code].status;
    this.retryable = options.retryable ?? ERRORS[code].retryable;
    const wait = options.retryAfterMs;
    this.retryAfterMs = wait === undefined || !Number.isFinite(wait) ? undefined : Math.max(0, Math.ceil(wait));
  }

  /** The error carried by a WebSocket `error` frame. */
  static fromFrame(frame: Pick<ErrorFrame, 'code' | 'message' | 'retryable' | 'retryAfterMs'>): MessengerError {
    return new MessengerError(frame.code, frame.message, {
      retryable: frame.retryable,
      ...(frame.retryAfterMs === undefined ? {} : { retryAfterMs: frame.retryAfterMs }),
    });
  }
}

/** Minimal `fetch` signature the API needs; the global `fetch` satisfies it. */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** Options for {@link MessengerApi}. */
export interface MessengerApiOptions {
  /** Server origin (plus optional path prefix), e.g. `https://chat.example.com`. */
  baseUrl: string;
  /** Bearer token, or a function returning the current one (so a client can swap tokens). */
  token?: string | (() => string | undefined);
  /** `fetch` implementation. Default: the global `fetch`. */
  fetch?: FetchLike;
  /** Abort a request after this many ms and report `unavailable`. Default 15 000. */
  timeoutMs?: number;
}

/** `?before=&limit=` for paged endpoints (empty when neither is set). */
function pageQuery(options: HistoryOptions): string {
  const query = new URLSearchParams();
  if (options.before !== undefined) query.set('before', String(options.before));
  if (options.limit !== undefined) query.set('limit', String(options.limit));
  const qs = query.toString();
  return qs === '' ? '' : `?${qs}`;
}

interface RequestSpec<T> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  body?: unknown;
  auth: boolean;
  /** Response schema, or null when the endpoint answers 204 No Content. */
  schema: z.ZodType<T> | null;
  signal?: AbortSignal;
}

/**
 * A typed method per HTTP endpoint. Throws {@link MessengerError} for every failure: non-2xx
 * responses carry the server's code; network failures and timeouts are `unavailable` (retryable);
 * a response that does not match the protocol is `internal` (not retryable).
 *
 * @example
 * const api = new MessengerApi({ baseUrl: 'http://localhost:8787' });
 * const otp = await api.requestOtp('+15551234567');
 * const session = await api.verifyOtp({ phone: otp.phone, code: '123456', challenge: otp.challenge });
 * api.setToken(session.token);
 * const me = await api.me();
 */
export class MessengerApi {
  readonly baseUrl: string;
  private token: string | (() => string | undefined) | undefined;
  private readonly transport: Transport;

  constructor(options: MessengerApiOptions) {
    this.token = options.token;
    this.transport = makeTransport(options, () => this.currentToken(), 'No token: log in first');
    this.baseUrl = this.transport.baseUrl;
  }

  /** Replace the bearer token (or token getter) used by later requests. */
  setToken(token: string | (() => string | undefined) | undefined): void {
    this.token = token;
  }

  /** The bearer token requests would use right now. */
  currentToken(): string | undefined {
    return typeof this.token === 'function' ? this.token() : this.token;
  }

  /**
   * POST /v1/auth/otp: text a one-time code to `phone`. The answer's `challenge` must accompany
   * the code in `verifyOtp`; `resendAt` is the earliest time another code can be requested.
   * Too many requests: `otp_rate_limited` / `rate_limited` with `retryAfterMs`.
   */
  requestOtp(phone: string, signal?: AbortSignal): Promise<OtpResponse> {
    return this.request({ method: 'POST', path: PATHS.requestOtp, body: { phone }, auth: false, schema: OtpResponseSchema, signal });
  }

  /**
   * POST /v1/auth/verify: exchange the code (with the `challenge` of the `requestOtp` answer that
   * sent it) for a session. Does not store the token; see `MessengerClient.completeLogin` for that.
   */
  verifyOtp(request: VerifyRequest, signal?: AbortSignal): Promise<SessionResponse> {
    return this.request({ method: 'POST', path: PATHS.verifyOtp, body: request, auth: false, schema: SessionResponseSchema, signal });
  }

  /**
   * POST /v1/connect/ticket: a single-use ticket, valid for CONNECT_TICKET_TTL_MS, to open the
   * WebSocket with (`/v1/connect?ticket=`), so the long-lived token never appears in a URL.
   * The Connection fetches one before every attempt; apps rarely call this themselves.
   */
  connectTicket(signal?: AbortSignal): Promise<ConnectTicket> {
    return this.request({ method: 'POST', path: PATHS.connectTicket, auth: true, schema: ConnectTicketSchema, signal });
  }

  /** POST /v1/auth/logout: revoke this device's token. */
  logout(signal?: AbortSignal): Promise<void> {
    return this.request({ method: 'POST', path: PATHS.logout, auth: true, schema: null, signal });
  }

  /** GET /v1/me: your own profile (includes your phone number). */
  me(signal?: AbortSignal): Promise<Profile> {
    return this.request({ method: 'GET', path: PATHS.me, auth: true, schema: ProfileSchema, signal });
  }

  /** PATCH /v1/me: change display name and/or about text. */
  updateMe(update: ProfileUpdate, signal?: AbortSignal): Promise<Profile> {
    return this.request({ method: 'PATCH', path: PATHS.me, body: update, auth: true, schema: ProfileSchema, signal });
  }

  /** GET /v1/users/:id */
  user(userId: string, signal?: AbortSignal): Promise<Profile> {
    return this.request({ method: 'GET', path: PATHS.user(userId), auth: true, schema: ProfileSchema, signal });
  }

  /** GET /v1/users/by-phone/:phone: find a contact by phone number (any common notation). */
  userByPhone(phone: string, signal?: AbortSignal): Promise<Profile> {
    return this.request({ method: 'GET', path: PATHS.userByPhone(phone), auth: true, schema: ProfileSchema, signal });
  }

  /** GET /v1/devices: your logged-in devices. */
  devices(signal?: AbortSignal): Promise<DeviceList> {
    return this.request({ method: 'GET', path: PATHS.devices, auth: true, schema: DeviceListSchema, signal });
  }

  /** DELETE /v1/devices/:id: log one of your devices out. */
  revokeDevice(deviceId: string, signal?: AbortSignal): Promise<void> {
    return this.request({ method: 'DELETE', path: PATHS.device(deviceId), auth: true, schema: null, signal });
  }

  /**
   * GET /v1/conversations/:peerId/messages: one page of the conversation, newest first.
   *
   * @example
   * let page = await api.history(peerId, { limit: 50 });
   * while (page.nextBefore !== null) page = await api.history(peerId, { before: page.nextBefore });
   */
  history(peerId: string, options: HistoryOptions = {}, signal?: AbortSignal): Promise<HistoryPage> {
    const path = PATHS.history(peerId) + pageQuery(options);
    return this.request({ method: 'GET', path, auth: true, schema: HistoryPageSchema, signal });
  }

  /**
   * GET /v1/conversations: the chat list, most recent activity first, with unread counts. Each
   * entry is a 1:1 chat (`kind: 'direct'`, with `peer`) or a group (`kind: 'group'`, with `group`).
   *
   * @example
   * const { conversations } = await api.conversations({ limit: 20 });
   * for (const c of conversations) console.log(c.kind === 'direct' ? c.peer : c.group, c.unread);
   */
  conversations(options: HistoryOptions = {}, signal?: AbortSignal): Promise<ConversationList> {
    const path = PATHS.conversations + pageQuery(options);
    return this.request({ method: 'GET', path, auth: true, schema: ConversationListSchema, signal });
  }

  // ------------------------------------------------------------ groups

  /**
   * POST /v1/groups: create a group; you become its first admin.
   *
   * @example
   * const group = await api.createGroup({ title: 'Climbing', members: [annId, bobId] });
   */
  createGroup(body: CreateGroup, signal?: AbortSignal): Promise<Group> {
    return this.request({ method: 'POST', path: PATHS.groups, body, auth: true, schema: GroupSchema, signal });
  }

  /** GET /v1/groups: the groups you are a member of. */
  groups(signal?: AbortSignal): Promise<GroupList> {
    return this.request({ method: 'GET', path: PATHS.groups, auth: true, schema: GroupListSchema, signal });
  }

  /** GET /v1/groups/:groupId: settings and members (members only). */
  group(groupId: string, signal?: AbortSignal): Promise<Group> {
    return this.request({ method: 'GET', path: PATHS.group(groupId), auth: true, schema: GroupSchema, signal });
  }

  /** PATCH /v1/groups/:groupId: change title, description, picture or who may send (admins). */
  updateGroup(groupId: string, update: UpdateGroup, signal?: AbortSignal): Promise<Group> {
    return this.request({ method: 'PATCH', path: PATHS.group(groupId), body: update, auth: true, schema: GroupSchema, signal });
  }

  /** POST /v1/groups/:groupId/members: add members (admins). Resolves with the updated group. */
  addGroupMembers(groupId: string, members: string[], signal?: AbortSignal): Promise<Group> {
    const path = PATHS.groupMembers(groupId);
    return this.request({ method: 'POST', path, body: { members }, auth: true, schema: GroupSchema, signal });
  }

  /** DELETE /v1/groups/:groupId/members/:userId: remove a member (admins; use `leaveGroup` for yourself). */
  removeGroupMember(groupId: string, userId: string, signal?: AbortSignal): Promise<Group> {
    const path = PATHS.groupMember(groupId, userId);
    return this.request({ method: 'DELETE', path, auth: true, schema: GroupSchema, signal });
  }

  /** PUT /v1/groups/:groupId/admins/:userId: make a member an admin (admins). */
  promoteAdmin(groupId: string, userId: string, signal?: AbortSignal): Promise<Group> {
    const path = PATHS.groupAdmin(groupId, userId);
    return this.request({ method: 'PUT', path, auth: true, schema: GroupSchema, signal });
  }

  /** DELETE /v1/groups/:groupId/admins/:userId: make an admin a plain member again (admins). */
  demoteAdmin(groupId: string, userId: string, signal?: AbortSignal): Promise<Group> {
    const path = PATHS.groupAdmin(groupId, userId);
    return this.request({ method: 'DELETE', path, auth: true, schema: GroupSchema, signal });
  }

  /** POST /v1/groups/:groupId/leave: leave the group (204). */
  leaveGroup(groupId: string, signal?: AbortSignal): Promise<void> {
    return this.request({ method: 'POST', path: PATHS.groupLeave(groupId), auth: true, schema: null, signal });
  }

  /**
   * GET /v1/groups/:groupId/messages: one page of your mailbox's copy of the group (messages and
   * system events), newest first. `before` and `nextBefore` are mailbox seqs, as for 1:1 history.
   *
   * @example
   * let page = await api.groupHistory(groupId, { limit: 50 });
   * while (page.nextBefore !== null) page = await api.groupHistory(groupId, { before: page.nextBefore });
   */
  groupHistory(groupId: string, options: HistoryOptions = {}, signal?: AbortSignal): Promise<GroupHistoryPage> {
    const path = PATHS.groupHistory(groupId) + pageQuery(options);
    return this.request({ method: 'GET', path, auth: true, schema: GroupHistoryPageSchema, signal });
  }

  /** GET /v1/groups/:groupId/messages/:messageId/info: who received and read one of your messages (sender only). */
  messageInfo(groupId: string, messageId: string, signal?: AbortSignal): Promise<MessageInfo> {
    const path = PATHS.groupMessageInfo(groupId, messageId);
    return this.request({ method: 'GET', path, auth: true, schema: MessageInfoSchema, signal });
  }

  // ------------------------------------------------------------ contacts and blocking

  /** GET /v1/contacts: your contact list. */
  contacts(signal?: AbortSignal): Promise<ContactList> {
    return this.request({ method: 'GET', path: PATHS.contacts, auth: true, schema: ContactListSchema, signal });
  }

  /**
   * POST /v1/contacts: add the user with this phone number (any common notation) to your
   * contacts, optionally under your own label. Fails with `user_not_found` when nobody uses that
   * number, `invalid_phone`, or `self_reference` for your own number.
   *
   * @example
   * const contact = await api.addContact('+1 555 000 0002', 'Ann (climbing)');
   */
  addContact(phone: string, name?: string, signal?: AbortSignal): Promise<Contact> {
    const body: AddContact = name === undefined ? { phone } : { phone, name };
    return this.request({ method: 'POST', path: PATHS.contacts, body, auth: true, schema: ContactSchema, signal });
  }

  /** DELETE /v1/contacts/:userId: remove a contact (204; `user_not_found` if not in your contacts). */
  removeContact(userId: string, signal?: AbortSignal): Promise<void> {
    return this.request({ method: 'DELETE', path: PATHS.contact(userId), auth: true, schema: null, signal });
  }

  /** GET /v1/blocks: the users you blocked. */
  blockedUsers(signal?: AbortSignal): Promise<BlockList> {
    return this.request({ method: 'GET', path: PATHS.blocks, auth: true, schema: BlockListSchema, signal });
  }

  /**
   * PUT /v1/blocks/:userId: block a user (204). Silent: they are not told, and their 1:1 messages
   * are accepted from them but never delivered to you. `self_reference` for yourself.
   */
  block(userId: string, signal?: AbortSignal): Promise<void> {
    return this.request({ method: 'PUT', path: PATHS.block(userId), auth: true, schema: null, signal });
  }

  /** DELETE /v1/blocks/:userId: unblock a user (204). */
  unblock(userId: string, signal?: AbortSignal): Promise<void> {
    return this.request({ method: 'DELETE', path: PATHS.block(userId), auth: true, schema: null, signal });
  }

  // ------------------------------------------------------------ presence and settings

  /**
   * GET /v1/users/:userId/presence: the user's presence as you may see it (their privacy
   * settings and yours decide; hidden reads `online: false, lastSeen: null`). For a chat that is
   * open on screen, prefer `MessengerClient.watchPresence`, which keeps it current.
   * `user_not_found` for an unknown user, `self_reference` for yourself.
   *
   * @example
   * const { online, lastSeen } = await api.presence(peerId);
   */
  presence(userId: string, signal?: AbortSignal): Promise<Presence> {
    return this.request({ method: 'GET', path: PATHS.presence(userId), auth: true, schema: PresenceSchema, signal });
  }

  /** GET /v1/me/settings: your privacy and notification settings and muted chats. */
  settings(signal?: AbortSignal): Promise<Settings> {
    return this.request({ method: 'GET', path: PATHS.settings, auth: true, schema: SettingsSchema, signal });
  }

  /**
   * PATCH /v1/me/settings: change some settings (fields left out keep their value). Resolves with
   * all settings as they are now.
   *
   * @example
   * await api.updateSettings({ privacy: { lastSeen: 'contacts' } });
   * await api.updateSettings({ notifications: { quietHours: { start: '22:00', end: '07:00', timeZone: 'Europe/Berlin' } } });
   */
  updateSettings(update: SettingsUpdate, signal?: AbortSignal): Promise<Settings> {
    return this.request({ method: 'PATCH', path: PATHS.settings, body: update, auth: true, schema: SettingsSchema, signal });
  }

  /**
   * PUT /v1/me/mutes/:kind/:id: mute a chat until `until` (ms since the epoch, in the future) or
   * for good (`null`). Muted chats push nothing; what arrives meanwhile is summarised when the
   * mute ends (never for "always"). Resolves with all settings.
   *
   * @example
   * await api.mute({ kind: 'group', id: groupId }, Date.now() + 8 * 3_600_000); // 8 hours
   * await api.mute({ kind: 'direct', id: peerId }, null);                       // always
   */
  mute(conversation: ConversationRef, until: number | null, signal?: AbortSignal): Promise<Settings> {
    return this.withConversation(conversation, (ref) => {
      const body: MuteRequest = { until };
      return this.request({ method: 'PUT', path: PATHS.mute(ref.kind, ref.id), body, auth: true, schema: SettingsSchema, signal });
    });
  }

  /** DELETE /v1/me/mutes/:kind/:id: unmute a chat (a no-op if it was not muted). Resolves with all settings. */
  unmute(conversation: ConversationRef, signal?: AbortSignal): Promise<Settings> {
    return this.withConversation(conversation, (ref) =>
      this.request({ method: 'DELETE', path: PATHS.mute(ref.kind, ref.id), auth: true, schema: SettingsSchema, signal }),
    );
  }

  // ------------------------------------------------------------ push notifications

  /**
   * PUT /v1/devices/current/push: register (or replace) this device's push token, so messages
   * that arrive while it is not connected reach it as pushes.
   *
   * @example
   * await api.registerPushToken('fcm', registrationToken);
   */
  registerPushToken(platform: PushPlatformName, token: string, signal?: AbortSignal): Promise<PushRegistration> {
    const body: PushTokenRequest = { platform, token };
    return this.request({ method: 'PUT', path: PATHS.pushToken, body, auth: true, schema: PushRegistrationSchema, signal });
  }

  /**
   * GET /v1/devices/current/push: this device's push registration, or null when it has none
   * (the server's 404 `not_found`).
   *
   * @example
   * if ((await api.pushRegistration()) === null) await api.registerPushToken('apns', deviceToken);
   */
  async pushRegistration(signal?: AbortSignal): Promise<PushRegistration | null> {
    try {
      return await this.request({ method: 'GET', path: PATHS.pushToken, auth: true, schema: PushRegistrationSchema, signal });
    } catch (error) {
      if (error instanceof MessengerError && error.code === 'not_found') return null;
      throw error;
    }
  }

  /** DELETE /v1/devices/current/push: stop pushes to this device (204; a no-op when none is registered). */
  unregisterPushToken(signal?: AbortSignal): Promise<void> {
    return this.request({ method: 'DELETE', path: PATHS.pushToken, auth: true, schema: null, signal });
  }

  /** GET /v1/health (no auth). */
  health(signal?: AbortSignal): Promise<Health> {
    return this.request({ method: 'GET', path: PATHS.health, auth: false, schema: HealthSchema, signal });
  }

  private request<T>(spec: RequestSpec<T>): Promise<T> {
    return sendRequest(this.transport, spec);
  }

  /** Run `call` with a validated conversation (its kind and id become path segments), else reject with `validation_failed`. */
  private withConversation<T>(conversation: ConversationRef, call: (ref: ConversationRef) => Promise<T>): Promise<T> {
    const parsed = ConversationRefSchema.safeParse(conversation);
    if (!parsed.success) {
      return Promise.reject(
        new MessengerError('validation_failed', `Invalid conversation ${JSON.stringify(conversation)}: ${parsed.error.issues[0]?.message ?? 'invalid'}`),
      );
    }
    return call(parsed.data);
  }
}

/** Query of {@link OperatorApi.sinkPushes}. */
export interface SinkPushQuery {
  /** Only pushes to this user. */
  userId?: string;
  /** Only pushes with an id above this (for polling: the last id seen). */
  after?: number;
  /** Most pushes to return, 1..500 (server default 100). */
  limit?: number;
}

/** Options for {@link OperatorApi}. */
export interface OperatorApiOptions {
  /** Server origin (plus optional path prefix). */
  baseUrl: string;
  /** The operators' token (the server's METRICS_TOKEN), or a function returning it. Not a user's token. */
  token: string | (() => string | undefined);
  fetch?: FetchLike;
  /** Abort a request after this many ms and report `unavailable`. Default 15 000. */
  timeoutMs?: number;
}

/**
 * The operators' endpoints, authenticated with the server's METRICS_TOKEN instead of a user's
 * token: delivery metrics, and what the local push sink recorded (PUSH_MODE=sink only; meant for
 * development and tests). Errors are {@link MessengerError}s, as for {@link MessengerApi}.
 *
 * @example
 * const ops = new OperatorApi({ baseUrl: 'http://127.0.0.1:8787', token: 'dev-only-metrics-token' });
 * const { push, connections } = await ops.metrics();
 * const { pushes } = await ops.sinkPushes({ userId: bobId });
 */
export class OperatorApi {
  readonly baseUrl: string;
  private readonly transport: Transport;

  constructor(options: OperatorApiOptions) {
    const token = options.token;
    this.transport = makeTransport(options, typeof token === 'function' ? token : () => token, 'No operator token (METRICS_TOKEN) given');
    this.baseUrl = this.transport.baseUrl;
  }

  /** GET /v1/metrics: queue backlogs, dead letters, push outcomes, connected devices, mailbox depth. */
  metrics(signal?: AbortSignal): Promise<Metrics> {
    return sendRequest(this.transport, { method: 'GET', path: PATHS.metrics, auth: true, schema: MetricsSchema, signal });
  }

  /**
   * GET /v1/push/sink: pushes the local sink recorded, oldest first (`not_found` unless the server
   * runs with PUSH_MODE=sink).
   *
   * @example
   * let after = 0;
   * const { pushes } = await ops.sinkPushes({ userId, after, limit: 50 });
   * after = pushes.at(-1)?.id ?? after;
   */
  sinkPushes(query: SinkPushQuery = {}, signal?: AbortSignal): Promise<SinkPushList> {
    const params = new URLSearchParams();
    if (query.userId !== undefined) params.set('userId', query.userId);
    if (query.after !== undefined) params.set('after', String(query.after));
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    const qs = params.toString();
    const path = PATHS.pushSink + (qs === '' ? '' : `?${qs}`);
    return sendRequest(this.transport, { method: 'GET', path, auth: true, schema: SinkPushListSchema, signal });
  }
}

/** What {@link sendRequest} needs of an API object. */
interface Transport {
  baseUrl: string;
  fetchImpl: FetchLike;
  timeoutMs: number;
  /** The bearer token for requests with `auth: true`. */
  token: () => string | undefined;
  /** The `unauthorized` error's message when there is no token. */
  noToken: string;
}

function makeTransport(
  options: { baseUrl: string; fetch?: FetchLike; timeoutMs?: number },
  token: () => string | undefined,
  noToken: string,
): Transport {
  return {
    // Trailing slashes would double up with PATHS, which all start with '/'.
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    // Bind: browsers throw "Illegal invocation" when fetch is called with another `this`.
    fetchImpl: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    timeoutMs: options.timeoutMs ?? 15_000,
    token,
    noToken,
  };
}

/** One request: auth header, timeout, caller's signal, error mapping and response validation. */
async function sendRequest<T>(transport: Transport, spec: RequestSpec<T>): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (spec.body !== undefined) headers['content-type'] = 'application/json';
  if (spec.auth) {
    const token = transport.token();
    if (token === undefined || token === '') {
      throw new MessengerError('unauthorized', transport.noToken);
    }
    headers.authorization = `Bearer ${token}`;
  }

  // Our own controller (rather than AbortSignal.timeout) so fake timers in tests control it.
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), transport.timeoutMs);
  const onCallerAbort = (): void => controller.abort();
  spec.signal?.addEventListener('abort', onCallerAbort, { once: true });
  if (spec.signal?.aborted) controller.abort();

  let response: Response;
  let text: string;
  try {
    response = await transport.fetchImpl(transport.baseUrl + spec.path, {
      method: spec.method,
      headers,
      body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
      signal: controller.signal,
    });
    text = await response.text();
  } catch (cause) {
    if (spec.signal?.aborted) throw spec.signal.reason ?? cause;
    const why = controller.signal.aborted ? `timed out after ${transport.timeoutMs} ms` : 'network error';
    throw new MessengerError('unavailable', `${spec.method} ${spec.path}: ${why}`, { status: 0, cause });
  } finally {
    clearTimeout(timer);
    spec.signal?.removeEventListener('abort', onCallerAbort);
  }

  if (!response.ok) throw errorFromResponse(response.status, text, response.headers.get('retry-after'));
  if (spec.schema === null) {
    // 204 endpoints: nothing to read.
    return undefined as T;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new MessengerError('internal', `${spec.method} ${spec.path}: response is not JSON`, {
      status: response.status,
      retryable: false,
      cause,
    });
  }
  const parsed = spec.schema.safeParse(json);
  if (!parsed.success) {
    throw new MessengerError('internal', `${spec.method} ${spec.path}: response does not match the protocol`, {
      status: response.status,
      retryable: false,
      cause: parsed.error,
    });
  }
  return parsed.data;
}

/** `Retry-After` in ms: delta seconds or an HTTP date (undefined when absent or unreadable). */
function retryAfterHeaderMs(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^[0-9]+$/.test(trimmed)) return Number(trimmed) * 1_000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function errorFromResponse(status: number, text: string, retryAfter: string | null): MessengerError {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  // The body's exact milliseconds win over the header's whole seconds.
  const headerWait = retryAfterHeaderMs(retryAfter);
  const parsed = ErrorResponseSchema.safeParse(json);
  if (parsed.success) {
    const { code, message, retryable, retryAfterMs } = parsed.data.error;
    const wait = retryAfterMs ?? headerWait;
    return new MessengerError(code, message, { status, retryable, ...(wait === undefined ? {} : { retryAfterMs: wait }) });
  }
  const code = errorCodeForStatus(status);
  return new MessengerError(code, `HTTP ${status}${text === '' ? '' : `: ${text.slice(0, 200)}`}`, {
    status,
    ...(headerWait === undefined ? {} : { retryAfterMs: headerWait }),
  });
}
