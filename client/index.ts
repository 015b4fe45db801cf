/**
 * The messenger SDK: `MessengerClient` ties the HTTP API, the self-healing WebSocket connection
 * and the local outbox into one object an app (web client, CLI, tests) talks to.
 *
 * Runs anywhere with standard APIs only: global `fetch`, global `WebSocket`, `crypto`, timers.
 *
 * What the app gets:
 * - every mailbox entry exactly once, in order, acked for it: 1:1 ('message', 'receipt',
 *   'read_marker') and group ('group_message', 'group_event', 'group_receipt',
 *   'group_read_marker') entries share one ordered stream;
 * - sends that survive disconnects: queued while offline, resent with the same client id after
 *   every reconnect until the server confirms ('sent' / 'group_sent') or rejects them for good
 *   ('failed'); 1:1 and group sends keep their relative order;
 * - sends that survive rate limits: a send refused with `rate_limited` (or another retryable
 *   error) stays pending, every send waits out the server's `retryAfterMs` ('send_delayed'),
 *   then the outbox goes out again oldest first, one message at a time until it is empty;
 * - a WebSocket that never carries the token: every connection attempt fetches a single-use
 *   connect ticket first (`POST /v1/connect/ticket`);
 * - its own messages from its other devices as 'message' / 'group_message' with `own: true`;
 *   echoes of messages this client sent itself are flagged `local: true` so the UI can merge them
 *   with the bubble it already shows instead of drawing a second one;
 * - presence of the users it watches ('presence', `presenceOf`), re-subscribed after every
 *   reconnect, and `active` ("the user is here") after every hello unless `activeOnConnect` is
 *   false; `TypingIndicators` turns 'typing_notice' events into "who is typing where".
 *
 * @example
 * const client = new MessengerClient({ baseUrl: 'http://localhost:8787' });
 * await client.login('+15551234567');            // dev server: uses the returned devCode
 * // or, with a real SMS provider:
 * // const otp = await client.requestCode('+15551234567');
 * // await client.completeLogin({ phone: otp.phone, challenge: otp.challenge, code: typedCode });
 * client.on('message', ({ message, own }) => render(message, own));
 * client.on('group_message', ({ message, own }) => renderInGroup(message.group, message, own));
 * await client.connect();
 * const { sent } = client.sendText(peerId, 'hello');
 * await sent;                                     // one tick
 * const group = await client.api.createGroup({ title: 'Team', members: [peerId] });
 * await client.sendGroupText(group.groupId, 'hello all').sent;
 */
import { GroupIdSchema, MessageBodySchema, PRESENCE_WATCH_MAX, SeqSchema, UserIdSchema } from '../protocol/index.ts';
import type {
  GroupEventFrame,
  GroupHistoryPage,
  GroupMessage,
  GroupMessageFrame,
  GroupReadMarkerFrame,
  GroupReceiptFrame,
  GroupSentFrame,
  HelloFrame,
  HistoryPage,
  Message,
  MessageBody,
  MessageFrame,
  OtpResponse,
  Platform,
  Presence,
  PresenceFrame,
  ReadMarkerFrame,
  ReceiptFrame,
  SentFrame,
  SessionResponse,
  TypingNoticeFrame,
  TypingState,
} from '../protocol/index.ts';
import { fullJitterDelay } from './backoff.ts';
import type { BackoffOptions } from './backoff.ts';
import { Connection } from './connection.ts';
import type {
  ConnectionState,
  ConnectionTuning,
  CursorExpiredEvent,
  CursorStore,
  ReconnectScheduled,
  StateChange,
  WebSocketConstructor,
} from './connection.ts';
import { Emitter } from './events.ts';
import { MessengerApi, MessengerError } from './http.ts';
import type { FetchLike, HistoryOptions } from './http.ts';
import { Outbox, sendFrameFor } from './outbox.ts';
import type { OutboxEntry, OutboxStore, PendingSend, SendAck } from './outbox.ts';

export * from './backoff.ts';
export * from './connection.ts';
export * from './events.ts';
export * from './http.ts';
export * from './outbox.ts';
export * from './typing.ts';
export type {
  AddContact,
  BlockedUser,
  BlockList,
  Contact,
  ContactList,
  Conversation,
  ConversationList,
  CreateGroup,
  DirectConversation,
  ErrorCode,
  ErrorFrame,
  Group,
  GroupChange,
  GroupConversation,
  GroupEntry,
  GroupEvent,
  GroupEventFrame,
  GroupHistoryItem,
  GroupHistoryPage,
  GroupList,
  GroupMember,
  GroupMessage,
  GroupMessageFrame,
  GroupReadMarkerFrame,
  GroupReceiptFrame,
  GroupRole,
  GroupSentFrame,
  GroupSummary,
  GroupTally,
  HelloFrame,
  HistoryItem,
  HistoryPage,
  MailboxFrame,
  Message,
  MessageBody,
  MessageFrame,
  MessageInfo,
  MessageStatus,
  OtpResponse,
  Platform,
  PresenceFrame,
  Profile,
  ProfileUpdate,
  ReadMarkerFrame,
  ReceiptFrame,
  SentFrame,
  SessionResponse,
  TypingNoticeFrame,
  TypingState,
  UpdateGroup,
} from '../protocol/index.ts';

/** Payload of the 'message' event. */
export interface MessageReceived {
  frame: MessageFrame;
  /** Shortcuts for `frame.message` and `frame.seq`. */
  message: Message;
  seq: number;
  /** Sent by the logged-in user (from this or another of their devices). */
  own: boolean;
  /**
   * Sent through this client's outbox (pending or confirmed in this session): the app already
   * shows it, so merge by `message.clientId` instead of adding it again.
   */
  local: boolean;
}

/** Payload of the 'group_message' event. */
export interface GroupMessageReceived {
  frame: GroupMessageFrame;
  /** Shortcuts for `frame.message`, `frame.seq` and `frame.message.group`. */
  message: GroupMessage;
  seq: number;
  group: string;
  /** Sent by the logged-in user (from this or another of their devices). */
  own: boolean;
  /** Sent through this client's outbox: merge by `message.clientId` (see MessageReceived.local). */
  local: boolean;
}

/**
 * Payload of the 'failed' event: the server rejected a send for good. The entry's `to` or
 * `group` tells which kind of send it was.
 */
export type SendFailed = OutboxEntry & { error: MessengerError };

/**
 * Payload of the 'send_delayed' event: the server refused a send for now (`rate_limited`, or
 * another retryable error such as `unavailable`). The entry stays pending (never dropped, never
 * failed); nothing is sent before `retryAt`, then the outbox goes out again oldest first.
 */
export type SendDelayed = OutboxEntry & {
  error: MessengerError;
  /** When sending resumes, ms since the epoch (`error.retryAfterMs` from when it was refused). */
  retryAt: number;
};

/** What {@link MessengerClient.completeLogin} needs: the `requestCode` answer's phone and challenge, and the code. */
export interface CompleteLogin {
  /** The number as `requestCode` answered it (E.164). */
  phone: string;
  /** The `challenge` of the `requestCode` answer that sent this code. */
  challenge: string;
  /** The code the user received. */
  code: string;
}

/** Options for a send. */
export interface SendOptions {
  /** Use this client id instead of a fresh one (e.g. to retry a send made in an earlier session). */
  clientId?: string;
}

/** Every event a {@link MessengerClient} emits, with its payload. */
export interface MessengerEvents {
  /** Connection state changed ('idle' | 'connecting' | 'open' | 'reconnecting' | 'closed'). */
  state: StateChange;
  /** A reconnect attempt is scheduled after `delayMs`. */
  reconnect: ReconnectScheduled;
  /** The server greeted a new connection (you are now 'open'). */
  hello: HelloFrame;
  /** A message entry of your mailbox, exactly once, in seq order. */
  message: MessageReceived;
  /** Your messages were delivered to / read by their recipient. */
  receipt: ReceiptFrame;
  /** Another of your devices read a conversation up to `upTo`. */
  read_marker: ReadMarkerFrame;
  /** A group message entry of your mailbox (others' and your own), exactly once, in seq order. */
  group_message: GroupMessageReceived;
  /** A group system message ("Ann added Bob"), in order with the group's messages. */
  group_event: GroupEventFrame;
  /** How many members have received / read some of your group messages (running totals). */
  group_receipt: GroupReceiptFrame;
  /** Another of your devices read a group up to mailbox seq `upTo`. */
  group_read_marker: GroupReadMarkerFrame;
  /** A 1:1 send was stored by the server (once per client id). */
  sent: SentFrame;
  /** A group send was stored in the group's log (once per client id). */
  group_sent: GroupSentFrame;
  /** Someone is typing to you (`group` null) or in a group; hide it after `expiresInMs` or on `stopped` (see {@link TypingIndicators}). */
  typing_notice: TypingNoticeFrame;
  /**
   * A user you watch (see `watchPresence`) as you may see them: once when watching starts (and
   * after every reconnect), then whenever they come online or go offline.
   */
  presence: PresenceFrame;
  /** A 1:1 or group send was rejected for good (its promise rejects with the same error). */
  failed: SendFailed;
  /**
   * A send was refused for now (e.g. `rate_limited`): it stays pending and all sending pauses
   * until `retryAt` (show "sending in 12 s"); then it goes out again with the same client id.
   */
  send_delayed: SendDelayed;
  /** Mailbox entries you never saw were discarded by the server: refetch history. */
  cursor_expired: CursorExpiredEvent;
  /** Something went wrong that did not stop the client (malformed frame, store failure, ...). */
  error: MessengerError;
}

/** Options for {@link MessengerClient}. Timing knobs are those of the connection. */
export interface MessengerClientOptions extends ConnectionTuning {
  /** Server origin, e.g. `https://chat.example.com` (WebSocket URL is derived from it). */
  baseUrl: string;
  /** Bearer token of an existing session (else call `login`). */
  token?: string;
  fetch?: FetchLike;
  WebSocket?: WebSocketConstructor;
  /** Persist the mailbox cursor (scope it to the device!). Default: memory. */
  cursorStore?: CursorStore;
  /** Persist unsent messages. Default: memory. */
  outboxStore?: OutboxStore;
  /** Client message id generator. Default: `generateClientId`. */
  generateId?: () => string;
  /** HTTP timeout, ms. Default 15 000. */
  requestTimeoutMs?: number;
  /** Pauses after a send the server refused with a retryable error that names no `retryAfterMs`. */
  sendRetry?: BackoffOptions;
  /** Device name and platform sent by `login` / `completeLogin`. */
  device?: { deviceName?: string; platform?: Platform };
  /**
   * Where the single-use connect ticket of each connection attempt comes from, given the current
   * token. Default: `POST /v1/connect/ticket` with that token. Errors follow
   * `ConnectionOptions.ticket` (a dead token closes the connection; anything else is retried).
   */
  connectTicket?: (token: string) => string | PromiseLike<string>;
  /**
   * Send `active` ("the user is using the app", which updates their last seen) after every
   * hello (not needed, so not sent, when the outbox flush already sent a message or read marker
   * on that connection: the server counts those as activity). Default true, right for
   * interactive apps; background syncs, daemons and bots pass false so they never make the user
   * look active (then call `markActive` when the user acts).
   */
  activeOnConnect?: boolean;
}

/** A valid message body, or a validation error naming the first problem. */
function validBody(body: MessageBody): MessageBody {
  const parsed = MessageBodySchema.safeParse(body);
  if (!parsed.success) {
    throw new MessengerError('validation_failed', `Invalid message body: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

function assertSeq(upTo: number): void {
  if (!SeqSchema.safeParse(upTo).success) {
    throw new MessengerError('validation_failed', `upTo ${upTo} is not a mailbox seq`);
  }
}

/** How many confirmed client ids to remember for flagging echoes as `local`. */
const RECENT_LOCAL_LIMIT = 1_024;

/**
 * The SDK entry point.
 *
 * @example
 * const client = new MessengerClient({ baseUrl, token });
 * client.on('state', ({ state }) => console.log('connection', state));
 * await client.connect();
 * const peer = await client.api.userByPhone('+15557654321');
 * const { clientId, sent } = client.sendText(peer.userId, 'hi!');
 * const ack = await sent;                                      // { messageId, sentAt, ... }
 * const reply = await client.once('message', (m) => m.message.from === peer.userId, { timeoutMs: 10_000 });
 * client.markRead(peer.userId, reply.seq);
 */
export class MessengerClient extends Emitter<MessengerEvents> {
  /** Typed HTTP API, sharing this client's token. */
  readonly api: MessengerApi;
  /** The underlying connection (for advanced use; prefer the client's methods and events). */
  readonly connection: Connection;
  /** The local outbox of unconfirmed sends. */
  readonly outbox: Outbox;

  private token: string | undefined;
  private userIdValue: string | undefined;
  private deviceIdValue: string | undefined;
  private readonly device: { deviceName?: string; platform?: Platform };
  private readonly sendRetry: BackoffOptions;
  private readonly connectTicket: (token: string) => string | PromiseLike<string>;
  /** Retryable send errors since the last confirmation (backoff when the server names no wait). */
  private sendRetryAttempt = 0;
  /**
   * No send goes out before this time (ms since the epoch; 0: no pause). Set by a retryable send
   * error such as `rate_limited`; it outlives a reconnect. One timer serves the whole outbox.
   */
  private holdUntil = 0;
  private holdTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * After a pause the outbox goes out one entry at a time (the next once the previous is
   * answered), so a full outbox does not run into the limit again at once; normal sending
   * resumes when the outbox is empty.
   */
  private paced = false;
  /** The entry the pacer sent and is waiting for an answer to. */
  private pacedInFlight: string | undefined;
  /** Read markers that could not be sent yet (offline): highest upTo per peer. */
  private readonly pendingReads = new Map<string, number>();
  /** Group read markers that could not be sent yet (offline): highest upTo per group. */
  private readonly pendingGroupReads = new Map<string, number>();
  /** Client ids confirmed in this session, oldest first (Set keeps insertion order). */
  private readonly recentLocal = new Set<string>();
  /**
   * True once the outbox has been flushed on the current connection. Until then new sends only
   * queue: a send made from a 'state: open' listener must not overtake older unsent messages.
   */
  private live = false;
  private helloCount = 0;
  private readonly activeOnConnect: boolean;
  /** Users whose presence this client watches (sent as `presence_watch` after every hello). */
  private watchedUsers: readonly string[] = [];
  /** The hello (by count) on whose connection the watch list was last sent. */
  private watchSentFor = -1;
  /**
   * The hello on whose connection a frame that updates last seen (`active`, a send, a read
   * marker) was last sent: the server records activity for all of them, so no `active` is
   * needed on top.
   */
  private activitySentFor = -1;
  /** `markActive` was called while offline: send `active` after the next hello. */
  private activePending = false;
  /** Latest presence per user, from `presence` frames. */
  private readonly presences = new Map<string, Presence>();

  constructor(options: MessengerClientOptions) {
    super();
    this.token = options.token;
    this.device = options.device ?? {};
    this.sendRetry = options.sendRetry ?? {};
    this.connectTicket = options.connectTicket ?? (() => this.api.connectTicket().then((answer) => answer.ticket));
    this.activeOnConnect = options.activeOnConnect ?? true;
    this.api = new MessengerApi({
      baseUrl: options.baseUrl,
      token: () => this.token,
      fetch: options.fetch,
      timeoutMs: options.requestTimeoutMs,
    });
    this.outbox = new Outbox({
      store: options.outboxStore,
      generateId: options.generateId,
      onStoreError: (cause) => this.emit('error', new MessengerError('internal', 'Outbox store failed', { retryable: false, cause })),
    });
    this.connection = new Connection({ ...options, ticket: () => this.nextTicket() });
    this.wireConnection();
  }

  // ------------------------------------------------------------ accessors

  get state(): ConnectionState {
    return this.connection.state;
  }

  /** Highest mailbox seq processed by this client. */
  get cursor(): number | undefined {
    return this.connection.cursor;
  }

  /** The logged-in user (known after `login` or the first hello). */
  get userId(): string | undefined {
    return this.userIdValue;
  }

  get deviceId(): string | undefined {
    return this.deviceIdValue;
  }

  /** Current bearer token. */
  get currentToken(): string | undefined {
    return this.token;
  }

  /** Use another token for HTTP calls and the next connection attempt. */
  setToken(token: string | undefined): void {
    this.token = token;
  }

  // ------------------------------------------------------------ session

  /**
   * Logging in, step 1: text a one-time code to `phone`. Keep the answer: step 2
   * ({@link completeLogin}) needs its `phone` (E.164) and `challenge`. Its `resendAt` is the
   * earliest time another code can be requested; asking sooner fails with `otp_rate_limited`
   * (or `rate_limited`) and `retryAfterMs`.
   *
   * @example
   * const otp = await client.requestCode('+1 555 123 4567');
   * showCodeForm({ resendInMs: otp.resendAt - Date.now() });
   */
  requestCode(phone: string): Promise<OtpResponse> {
    return this.api.requestOtp(phone);
  }

  /**
   * Logging in, step 2: exchange the code the user received (with the challenge of the
   * `requestCode` answer that sent it) for a session, and keep its token.
   *
   * @example
   * const otp = await client.requestCode('+15551234567');
   * await client.completeLogin({ phone: otp.phone, challenge: otp.challenge, code: '123456' });
   */
  async completeLogin(input: CompleteLogin): Promise<SessionResponse> {
    const session = await this.api.verifyOtp({
      phone: input.phone,
      code: input.code,
      challenge: input.challenge,
      ...(this.device.deviceName === undefined ? {} : { deviceName: this.device.deviceName }),
      ...(this.device.platform === undefined ? {} : { platform: this.device.platform }),
    });
    this.token = session.token;
    this.userIdValue = session.userId;
    this.deviceIdValue = session.deviceId;
    return session;
  }

  /**
   * Both login steps at once against a development server: requests a code and uses the
   * `devCode` (and challenge) it returns. Handy for tests and local CLIs; fails with
   * `validation_failed` against a real SMS provider (use requestCode + completeLogin there).
   *
   * @example
   * await client.login('+15551234567');
   */
  async login(phone: string): Promise<SessionResponse> {
    const otp = await this.api.requestOtp(phone);
    if (otp.devCode === undefined) {
      throw new MessengerError('validation_failed', 'The server returned no devCode (only the dev SMS provider does): use requestCode and completeLogin');
    }
    return this.completeLogin({ phone: otp.phone, challenge: otp.challenge, code: otp.devCode });
  }

  /** Revoke this device's token on the server, then close the connection and forget the token. */
  async logout(): Promise<void> {
    await this.api.logout();
    this.close();
    this.token = undefined;
  }

  // ------------------------------------------------------------ connection

  /**
   * Connect (and keep reconnecting after losses). Resolves on the server's hello; rejects if the
   * client is closed first (by `close()`, a fatal close code, or a dead token).
   */
  connect(): Promise<HelloFrame> {
    return this.connection.connect();
  }

  /** Disconnect and stop reconnecting. Unconfirmed sends stay in the outbox for the next connect(). */
  close(): void {
    this.stopHoldTimer();
    this.connection.close();
  }

  // ------------------------------------------------------------ messaging

  /**
   * Send a message. Returns at once with the client id; `sent` resolves when the server stored
   * it (even if that takes reconnects) and rejects on a non-retryable error. Invalid input throws.
   *
   * @example
   * const { clientId, sent } = client.send(peerId, { kind: 'location', latitude: 52.5, longitude: 13.4 });
   */
  send(to: string, body: MessageBody, options: SendOptions = {}): PendingSend<SentFrame> {
    if (!UserIdSchema.safeParse(to).success) {
      throw new MessengerError('validation_failed', `Recipient ${JSON.stringify(to)} is not a user id`);
    }
    return this.dispatch(this.outbox.add(to, validBody(body), options.clientId));
  }

  /** Send a text message. */
  sendText(to: string, text: string, options: SendOptions = {}): PendingSend<SentFrame> {
    return this.send(to, { kind: 'text', text }, options);
  }

  /**
   * Send a message to a group. Works like `send`: `sent` resolves with the `group_sent` frame
   * (its `gseq` is the message's place in the group) and rejects on a non-retryable error such
   * as `not_group_member`, `admins_only` or `group_not_found`. Invalid input throws.
   *
   * @example
   * const { sent } = client.sendGroup(groupId, { kind: 'contact', name: 'Ann', phone: '+15550000002' });
   * const { gseq } = await sent;
   */
  sendGroup(groupId: string, body: MessageBody, options: SendOptions = {}): PendingSend<GroupSentFrame> {
    if (!GroupIdSchema.safeParse(groupId).success) {
      throw new MessengerError('validation_failed', `Group ${JSON.stringify(groupId)} is not a group id`);
    }
    return this.dispatch(this.outbox.addGroup(groupId, validBody(body), options.clientId));
  }

  /** Send a text message to a group. */
  sendGroupText(groupId: string, text: string, options: SendOptions = {}): PendingSend<GroupSentFrame> {
    return this.sendGroup(groupId, { kind: 'text', text }, options);
  }

  /**
   * Tell the server (and so the peer and your other devices) that you read `peer`'s messages up
   * to mailbox seq `upTo`. Offline, the latest marker per peer is sent on the next connection.
   */
  markRead(peer: string, upTo: number): void {
    if (!UserIdSchema.safeParse(peer).success) {
      throw new MessengerError('validation_failed', `Peer ${JSON.stringify(peer)} is not a user id`);
    }
    assertSeq(upTo);
    if (this.connection.send({ type: 'read', peer, upTo })) {
      this.pendingReads.delete(peer);
      this.activitySentFor = this.helloCount;
      return;
    }
    this.pendingReads.set(peer, Math.max(this.pendingReads.get(peer) ?? 0, upTo));
  }

  /**
   * Tell the server (and so the senders' read tallies and your other devices) that you read the
   * group up to mailbox seq `upTo` (a `seq` of a group entry, not a `gseq`). Offline, the latest
   * marker per group is sent on the next connection.
   */
  markGroupRead(groupId: string, upTo: number): void {
    if (!GroupIdSchema.safeParse(groupId).success) {
      throw new MessengerError('validation_failed', `Group ${JSON.stringify(groupId)} is not a group id`);
    }
    assertSeq(upTo);
    if (this.connection.send({ type: 'group_read', group: groupId, upTo })) {
      this.pendingGroupReads.delete(groupId);
      this.activitySentFor = this.helloCount;
      return;
    }
    this.pendingGroupReads.set(groupId, Math.max(this.pendingGroupReads.get(groupId) ?? 0, upTo));
  }

  /**
   * Tell `peer` (1:1) that you are typing, recording or have stopped. Ephemeral: sent only
   * while connected (dropped otherwise), never stored. Call it again about every
   * TYPING_REPEAT_MS while the user keeps typing; the server drops repeats within a second.
   */
  typing(peer: string, state: TypingState): boolean {
    if (!UserIdSchema.safeParse(peer).success) throw new MessengerError('validation_failed', `Peer ${JSON.stringify(peer)} is not a user id`);
    return this.connection.send({ type: 'typing', to: peer, state });
  }

  /** Like {@link typing}, in a group (it reaches the members who are online). */
  groupTyping(groupId: string, state: TypingState): boolean {
    if (!GroupIdSchema.safeParse(groupId).success) {
      throw new MessengerError('validation_failed', `Group ${JSON.stringify(groupId)} is not a group id`);
    }
    return this.connection.send({ type: 'group_typing', group: groupId, state });
  }

  // ------------------------------------------------------------ presence

  /**
   * Watch these users' presence (typically the chats open on screen), replacing the previous
   * list; `[]` stops watching. Sent at once when connected and again after every reconnect
   * (watch lists live per connection on the server). Each watched user then arrives as a
   * `presence` event, when watching starts and whenever they come online or go offline; read
   * the latest with `presenceOf`. At most PRESENCE_WATCH_MAX (32) distinct users; duplicates
   * are dropped; invalid input throws `validation_failed`. Returns whether it was sent now.
   *
   * @example
   * client.on('presence', ({ userId, online, lastSeen }) => renderHeader(userId, online, lastSeen));
   * client.watchPresence([peerId]);   // chat with peerId opened
   * client.watchPresence([]);         // chat closed
   */
  watchPresence(userIds: readonly string[]): boolean {
    if (!Array.isArray(userIds)) throw new MessengerError('validation_failed', 'watchPresence takes an array of user ids');
    for (const userId of userIds) {
      if (!UserIdSchema.safeParse(userId).success) {
        throw new MessengerError('validation_failed', `${JSON.stringify(userId)} is not a user id`);
      }
    }
    const users = [...new Set(userIds)];
    if (users.length > PRESENCE_WATCH_MAX) {
      throw new MessengerError('validation_failed', `At most ${PRESENCE_WATCH_MAX} users can be watched at once (got ${users.length})`);
    }
    this.watchedUsers = users;
    // What is no longer watched is no longer kept current: forget it rather than show it stale.
    for (const userId of [...this.presences.keys()]) if (!users.includes(userId)) this.presences.delete(userId);
    return this.sendWatchList();
  }

  /** The users `watchPresence` watches now. */
  get watching(): readonly string[] {
    return this.watchedUsers;
  }

  /**
   * The latest presence of `userId` from `presence` events (undefined until one arrived, and
   * after it was dropped from the watch list). It is the last known state: while disconnected
   * it is not updated (check `state`).
   *
   * @example
   * const p = client.presenceOf(peerId);
   * const label = p === undefined ? '' : p.online ? 'online' : p.lastSeen !== null ? `last seen ${new Date(p.lastSeen).toLocaleTimeString()}` : '';
   */
  presenceOf(userId: string): Presence | undefined {
    return this.presences.get(userId);
  }

  /**
   * Tell the server the user is using the app now (opened it, brought it to the foreground):
   * updates their last seen. Sending and reading do that too. Offline, it is sent after the next
   * hello. Never call it from background work. Returns whether it was sent now.
   *
   * @example
   * document.addEventListener('visibilitychange', () => { if (!document.hidden) client.markActive(); });
   */
  markActive(): boolean {
    if (this.connection.send({ type: 'active' })) {
      this.activePending = false;
      this.activitySentFor = this.helloCount;
      return true;
    }
    this.activePending = true;
    return false;
  }

  /** One page of the conversation with `peer`, newest first (see `MessengerApi.history`). */
  history(peer: string, options: HistoryOptions = {}): Promise<HistoryPage> {
    return this.api.history(peer, options);
  }

  /** One page of a group's messages and events, newest first (see `MessengerApi.groupHistory`). */
  groupHistory(groupId: string, options: HistoryOptions = {}): Promise<GroupHistoryPage> {
    return this.api.groupHistory(groupId, options);
  }

  /** Unconfirmed sends, oldest first. */
  pending(): OutboxEntry[] {
    return this.outbox.pending();
  }

  /**
   * When sending resumes after a retryable refusal such as `rate_limited` (ms since the epoch),
   * or undefined when sends are not paused.
   */
  get sendsDelayedUntil(): number | undefined {
    return this.holdUntil > Date.now() ? this.holdUntil : undefined;
  }

  // ------------------------------------------------------------ internals

  private wireConnection(): void {
    const c = this.connection;
    c.on('state', (change) => {
      this.live = false; // set again by onHello once the outbox is flushed on the new connection
      if (change.state !== 'open') {
        // The next hello resends (or, while paused, re-arms the pause); answers to this socket are lost.
        this.stopHoldTimer();
        this.pacedInFlight = undefined;
      }
      this.emit('state', change);
    });
    c.on('reconnect', (info) => this.emit('reconnect', info));
    c.on('cursor_expired', (info) => this.emit('cursor_expired', info));
    c.on('error', (error) => this.emit('error', error));
    c.on('hello', (hello) => this.onHello(hello));
    c.on('sent', (frame) => this.onSent(frame));
    c.on('group_sent', (frame) => this.onSent(frame));
    c.on('typing_notice', (frame) => this.emit('typing_notice', frame));
    c.on('presence', (frame) => this.onPresence(frame));
    c.on('send_error', (frame) => this.onSendError(frame.id, MessengerError.fromFrame(frame)));
    c.on('mailbox', (frame) => {
      switch (frame.type) {
        case 'message':
          this.onMessage(frame);
          return;
        case 'receipt':
          this.emit('receipt', frame);
          return;
        case 'read_marker':
          this.emit('read_marker', frame);
          return;
        case 'group_message':
          this.onGroupMessage(frame);
          return;
        case 'group_event':
          this.emit('group_event', frame);
          return;
        case 'group_receipt':
          this.emit('group_receipt', frame);
          return;
        case 'group_read_marker':
          this.emit('group_read_marker', frame);
          return;
      }
    });
  }

  private onHello(hello: HelloFrame): void {
    this.helloCount += 1;
    this.userIdValue = hello.userId;
    this.deviceIdValue = hello.deviceId;
    // Emit first so listeners see 'hello' before the resends' 'sent' answers can arrive.
    this.emit('hello', hello);
    this.stopHoldTimer();
    this.pacedInFlight = undefined;
    this.live = false;
    if (this.outbox.isRestored) {
      this.flushOutbox();
    } else {
      const connection = this.connection;
      const generation = this.helloCount;
      void this.outbox.ready.then(() => {
        if (connection.state === 'open' && generation === this.helloCount) this.flushOutbox();
      });
    }
    for (const [peer, upTo] of [...this.pendingReads]) this.markRead(peer, upTo);
    for (const [group, upTo] of [...this.pendingGroupReads]) this.markGroupRead(group, upTo);
    // A 'hello' listener may already have sent these on this connection; don't repeat them. Nor
    // `active` when a resent message or read marker already told the server the user is active.
    if (this.watchSentFor !== this.helloCount && this.watchedUsers.length > 0) this.sendWatchList();
    if (this.activeOnConnect || this.activePending) {
      if (this.activitySentFor === this.helloCount) this.activePending = false;
      else this.markActive();
    }
  }

  private sendWatchList(): boolean {
    if (!this.connection.send({ type: 'presence_watch', users: [...this.watchedUsers] })) return false;
    this.watchSentFor = this.helloCount;
    return true;
  }

  private onPresence(frame: PresenceFrame): void {
    // Only users still watched are kept (a late answer to a replaced list is still emitted).
    if (this.watchedUsers.includes(frame.userId)) {
      this.presences.set(frame.userId, { userId: frame.userId, online: frame.online, lastSeen: frame.lastSeen });
    }
    this.emit('presence', frame);
  }

  private canSendNow(): boolean {
    // `live` is only set after the outbox (including entries restored from the store) was flushed
    // on this connection; sending earlier would let a new message overtake older unsent ones.
    // Paused or paced (after a rate limit), the pacer sends, in order.
    return this.live && this.connection.state === 'open' && !this.paced;
  }

  /** Resend every pending entry, in original order, with its original client id. */
  private flushOutbox(): void {
    if (this.paced) {
      // A pause outlives a reconnect: a new socket does not refill the server's bucket.
      this.live = this.connection.state === 'open';
      if (this.holdUntil > Date.now()) this.armHoldTimer();
      else this.endHold();
      return;
    }
    for (const entry of this.outbox.pending()) {
      if (!this.sendEntry(entry)) return; // socket went away; the next hello resends
    }
    this.live = this.connection.state === 'open';
  }

  /** Queue-then-send: a new entry goes out at once only when it cannot overtake older ones. */
  private dispatch<A extends SendAck>(pending: PendingSend<A>): PendingSend<A> {
    if (this.canSendNow()) {
      const entry = this.outbox.get(pending.clientId);
      if (entry !== undefined) this.sendEntry(entry);
    } else if (this.paced) {
      this.pump();
    }
    return pending;
  }

  /**
   * A retryable refusal (`rate_limited`, `unavailable`, ...): keep the entry, pause every send
   * until the server's `retryAfterMs` (else a jittered backoff), then pace. One timer in all:
   * refusals of several in-flight entries only move its deadline.
   */
  private delaySends(clientId: string, error: MessengerError): void {
    const entry = this.outbox.get(clientId);
    if (entry === undefined) return;
    if (this.pacedInFlight === clientId) this.pacedInFlight = undefined;
    const wait = error.retryAfterMs ?? fullJitterDelay(this.sendRetryAttempt, this.sendRetry);
    this.sendRetryAttempt += 1;
    this.holdUntil = Math.max(this.holdUntil, Date.now() + wait);
    this.paced = true;
    this.armHoldTimer();
    this.emit('send_delayed', { ...entry, error, retryAt: this.holdUntil });
  }

  private armHoldTimer(): void {
    this.stopHoldTimer();
    this.holdTimer = setTimeout(() => {
      this.holdTimer = undefined;
      this.endHold();
    }, Math.max(0, this.holdUntil - Date.now()));
  }

  private stopHoldTimer(): void {
    if (this.holdTimer !== undefined) clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
  }

  private endHold(): void {
    this.holdUntil = 0;
    this.pump();
  }

  /**
   * Paced sending: the oldest pending entry goes out when nothing the pacer sent is unanswered;
   * an empty outbox ends pacing. Does nothing while paused or not connected (the hello resumes it).
   */
  private pump(): void {
    if (!this.paced || this.holdUntil !== 0 || !this.live || this.connection.state !== 'open') return;
    if (this.pacedInFlight !== undefined && this.outbox.has(this.pacedInFlight)) return;
    this.pacedInFlight = undefined;
    const next = this.outbox.pending()[0];
    if (next === undefined) {
      this.paced = false;
      return;
    }
    if (this.sendEntry(next)) this.pacedInFlight = next.clientId;
  }

  private sendEntry(entry: OutboxEntry): boolean {
    const sent = this.connection.send(sendFrameFor(entry));
    if (sent) this.activitySentFor = this.helloCount; // the server counts a send as activity
    return sent;
  }

  /** A `sent` or `group_sent` answer (or an echo standing in for one). */
  private onSent(frame: SendAck): void {
    const entry = this.outbox.settle(frame);
    if (entry === undefined) return; // a repeated answer (retry) or an id we never had: already reported
    this.sendRetryAttempt = 0;
    this.rememberLocal(frame.id);
    if (frame.type === 'group_sent') this.emit('group_sent', frame);
    else this.emit('sent', frame);
    this.pump();
  }

  private onSendError(clientId: string, error: MessengerError): void {
    if (!this.outbox.has(clientId)) return;
    // A rate limit is never a reason to drop what the user wrote, whatever its flag says.
    if (error.retryable || error.code === 'rate_limited') {
      this.delaySends(clientId, error);
      return;
    }
    const entry = this.outbox.fail(clientId, error);
    if (entry !== undefined) this.emit('failed', { ...entry, error });
    this.pump();
  }

  private onMessage(frame: MessageFrame): void {
    const message = frame.message;
    const own = this.userIdValue !== undefined && message.from === this.userIdValue;
    const local = own && (this.outbox.has(message.clientId) || this.recentLocal.has(message.clientId));
    if (own && this.outbox.has(message.clientId)) {
      // Our own message's echo proves it was stored even if its `sent` answer was lost with the
      // old socket: confirm it now rather than waiting for the resend's answer.
      this.onSent({
        type: 'sent',
        id: message.clientId,
        messageId: message.id,
        to: message.to,
        sentAt: message.sentAt,
        duplicate: false,
      });
    }
    this.emit('message', { frame, message, seq: frame.seq, own, local });
  }

  private onGroupMessage(frame: GroupMessageFrame): void {
    const message = frame.message;
    const own = this.userIdValue !== undefined && message.from === this.userIdValue;
    const local = own && (this.outbox.has(message.clientId) || this.recentLocal.has(message.clientId));
    if (own && this.outbox.has(message.clientId)) {
      // As for 1:1: the echo proves the group's log stored it, even if `group_sent` was lost.
      this.onSent({
        type: 'group_sent',
        id: message.clientId,
        group: message.group,
        messageId: message.id,
        gseq: message.gseq,
        sentAt: message.sentAt,
        duplicate: false,
      });
    }
    this.emit('group_message', { frame, message, seq: frame.seq, group: message.group, own, local });
  }

  private rememberLocal(clientId: string): void {
    this.recentLocal.add(clientId);
    if (this.recentLocal.size > RECENT_LOCAL_LIMIT) {
      const oldest = this.recentLocal.values().next();
      if (oldest.done !== true) this.recentLocal.delete(oldest.value);
    }
  }

  /** The connect ticket for the next attempt (throws `unauthorized` without a token: nothing to retry). */
  private nextTicket(): string | PromiseLike<string> {
    const token = this.token;
    if (token === undefined || token === '') throw new MessengerError('unauthorized', 'No token: log in first');
    return this.connectTicket(token);
  }
}
