/**
 * The typed HTTP API: `MessengerApi`, a method per `/v1` endpoint, plus the SDK's error type
 * and request options.
 *
 * The endpoints are split over three files along their seams: the account (login, sessions,
 * PIN, profile, devices, push) in account-api.ts, groups (members, invites, links) in
 * groups-api.ts, and conversations, contacts, presence and settings here; `MessengerApi` is the
 * one class apps use. Every response is validated with the protocol's zod schemas: a server that
 * drifts from the contract fails loudly here instead of as `undefined` somewhere in the UI.
 */
import {
  BlockListSchema,
  ContactListSchema,
  ContactSchema,
  ConversationListSchema,
  ConversationRefSchema,
  HistoryPageSchema,
  PATHS,
  PresenceSchema,
  SearchPageSchema,
  SearchQuerySchema,
  SettingsSchema,
  StarredPageSchema,
} from '../protocol/index.ts';
import type {
  AddContact,
  BlockList,
  Contact,
  ContactList,
  ConversationList,
  ConversationRef,
  HistoryPage,
  MuteRequest,
  Presence,
  SEARCH_KINDS,
  SearchPage,
  Settings,
  SettingsUpdate,
  StarredPage,
} from '../protocol/index.ts';
import { GroupsApi } from './groups-api.ts';
import type { HistoryOptions } from './groups-api.ts';
import { MessengerError, pageQuery } from './transport.ts';
import type { ApiOptions } from './transport.ts';

export { isPinRequired } from './account-api.ts';
export type { GroupHistoryOptions, GroupPageOptions, HistoryOptions } from './groups-api.ts';
export { OperatorApi } from './operator.ts';
export type { OperatorApiOptions, SinkPushQuery } from './operator.ts';
export { MessengerError, SESSION_OVER_CODES } from './transport.ts';
export type { FetchLike, PageOptions, TokenSource } from './transport.ts';

export type {
  Audience,
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
  SearchHit,
  SearchPage,
  Settings,
  SettingsUpdate,
  SinkPush,
  SinkPushList,
  StarredItem,
  StarredPage,
} from '../protocol/index.ts';

/** A body kind a search can be narrowed to (`SEARCH_KINDS`). */
export type SearchKind = (typeof SEARCH_KINDS)[number];

/**
 * What to search for (`GET /v1/search`): `q` and optional filters, times in ms since the epoch.
 * At most one of `peer` and `group`.
 */
export interface SearchRequest {
  /** Words to find; each matches words starting with it, ignoring case and accents (1-200 characters, at most 8 words). */
  q: string;
  /** Only the 1:1 chat with this user. */
  peer?: string | undefined;
  /** Only this group. */
  group?: string | undefined;
  /** Only messages this user sent (you included). */
  from?: string | undefined;
  /** Only messages of this body kind (captions and file names count). */
  kind?: SearchKind | undefined;
  /** Only messages sent at or after this time. */
  since?: number | undefined;
  /** Only messages sent before this time. */
  until?: number | undefined;
  /** Cursor: the previous page's `nextBefore`. */
  before?: number | undefined;
  /** Cursor in a large group's log (a search with `group`): the previous page's `nextBeforeGseq`. */
  beforeGseq?: number | undefined;
  /** Page size, 1..SEARCH_MAX_LIMIT (server default SEARCH_DEFAULT_LIMIT). */
  limit?: number | undefined;
}

/** The query parameters of `GET /v1/search`, in a fixed order. */
const SEARCH_PARAMS = ['q', 'peer', 'group', 'from', 'kind', 'since', 'until', 'before', 'beforeGseq', 'limit'] as const;

/**
 * `?q=…&…` for a search, checked against the protocol's rules first (the server's own schema),
 * so a query the server would refuse fails here as `validation_failed` without a request.
 */
export function searchQueryString(query: SearchRequest): string {
  const wire: Record<string, string> = {};
  for (const name of SEARCH_PARAMS) {
    const value = query[name];
    if (value !== undefined) wire[name] = String(value);
  }
  const parsed = SearchQuerySchema.safeParse(wire);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? '' : `${issue.path.join('.')}: `;
    throw new MessengerError('validation_failed', `Invalid search: ${where}${issue?.message ?? 'invalid'}`);
  }
  // The server trims `q` too; sending it trimmed keeps URLs (and logs) tidy.
  wire.q = parsed.data.q;
  return `?${new URLSearchParams(wire).toString()}`;
}

/** Options for {@link MessengerApi}. */
export type MessengerApiOptions = ApiOptions;

/**
 * A typed method per HTTP endpoint. Throws {@link MessengerError} for every failure: non-2xx
 * responses carry the server's code; network failures and timeouts are `unavailable` (retryable);
 * a response that does not match the protocol is `internal` (not retryable).
 *
 * @example
 * const api = new MessengerApi({ baseUrl: 'http://localhost:8787' });
 * const otp = await api.requestOtp('+15551234567');
 * const answer = await api.verifyOtp({ phone: otp.phone, code: '123456', challenge: otp.challenge });
 * if (isPinRequired(answer)) throw new Error('this account has a PIN: use api.pinLogin');
 * api.setToken(answer.token);
 * const me = await api.me();
 */
export class MessengerApi extends GroupsApi {
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

  /**
   * GET /v1/starred: one page of the messages you starred (on any of your devices), 1:1 and
   * group alike, newest first by mailbox seq; page on with `before: page.nextBefore`.
   *
   * @example
   * const { messages, nextBefore } = await api.starred({ limit: 50 });
   * for (const { chat, message } of messages) console.log(chat.kind, message.id);
   */
  starred(options: HistoryOptions = {}, signal?: AbortSignal): Promise<StarredPage> {
    const path = PATHS.starred + pageQuery(options);
    return this.request({ method: 'GET', path, auth: true, schema: StarredPageSchema, signal });
  }

  /**
   * GET /v1/search: one page of the messages in your own history (1:1 chats, and the part of each
   * group you were a member for) that contain every word of `query.q`, newest first; page on
   * with `before: page.nextBefore`. Each hit has a `snippet` and the `highlights` ([start, end)
   * offsets into it) of the matched words. An invalid query rejects with `validation_failed`
   * before any request; 30 searches a minute per user, then `rate_limited` with `retryAfterMs`.
   *
   * @example
   * const page = await api.search({ q: 'meet', group: groupId, limit: 10 });
   * for (const hit of page.hits) console.log(hit.chat, hit.from, hit.snippet, hit.highlights);
   * if (page.nextBefore !== null) await api.search({ q: 'meet', group: groupId, before: page.nextBefore });
   */
  search(query: SearchRequest, signal?: AbortSignal): Promise<SearchPage> {
    let path: string;
    try {
      path = PATHS.search + searchQueryString(query);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.request({ method: 'GET', path, auth: true, schema: SearchPageSchema, signal });
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
