/**
 * `MessengerClient`, the SDK entry point: ties the session (session.ts), the HTTP API
 * (http.ts), the self-healing connection (connection.ts) and the sending state machine over the
 * outbox (sender.ts) into one object an app talks to. Module overview: index.ts.
 */
import { CLOSE_CODES, GroupIdSchema, gseqOf, MessageBodySchema, MessageIdSchema, UserIdSchema } from '../protocol/index.ts';
import type {
  GroupEntry,
  GroupHistoryPage,
  GroupSentFrame,
  HelloFrame,
  HistoryPage,
  MessageBody,
  OtpResponse,
  PinResetResponse,
  Platform,
  Presence,
  SearchPage,
  SentFrame,
  SessionResponse,
  TypingState,
  VerifyResponse,
} from '../protocol/index.ts';
import { MessageActions } from './actions.ts';
import { MessageActionsClient } from './actions-client.ts';
import { ChatMarkers } from './chat-markers.ts';
import type { CompleteLogin, MessengerClientOptions, SendOptions } from './client-types.ts';
import { Connection } from './connection.ts';
import type { ConnectionState, StateChange } from './connection-types.ts';
import { MessengerApi, isPinRequired } from './http.ts';
import { MediaApi } from './media-api.ts';
import { MediaSender } from './media-sender.ts';
import type { MediaSendInput, PendingMediaSend, PendingUpload } from './media-sender.ts';
import type { GroupHistoryOptions, HistoryOptions, SearchRequest } from './http.ts';
import { LargeGroups } from './large-groups.ts';
import { routeMailboxFrame } from './mailbox-events.ts';
import type { MailboxEventsHost } from './mailbox-events.ts';
import { Outbox, generateClientId } from './outbox.ts';
import type { ActionOutboxEntry, OutboxEntry, PendingSend } from './outbox.ts';
import { Sender } from './sender.ts';
import { PresenceWatch } from './presence-watch.ts';
import { SessionKeeper, renewingTicket, toStoredSession } from './session.ts';
import type { StoredSession } from './session.ts';
import { MessengerError, SESSION_OVER_CODES } from './transport.ts';

/** A valid message body, or a validation error naming the first problem. */
function validBody(body: MessageBody): MessageBody {
  const parsed = MessageBodySchema.safeParse(body);
  if (!parsed.success) {
    throw new MessengerError('validation_failed', `Invalid message body: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/** A send's reply reference, validated (undefined: not a reply). */
function validReplyTo(replyTo: string | undefined): { replyTo?: string } {
  if (replyTo === undefined) return {};
  if (!MessageIdSchema.safeParse(replyTo).success) {
    throw new MessengerError('validation_failed', `replyTo ${JSON.stringify(replyTo)} is not a message id`);
  }
  return { replyTo };
}

/** Options of {@link MessengerClient.login}. */
export interface LoginOptions {
  /** The account's two-step verification PIN, entered when the server asks for it. */
  pin?: string;
}

/**
 * The SDK entry point.
 *
 * @example
 * const client = new MessengerClient({ baseUrl, session: loadSession(), onSession: saveSession });
 * client.on('state', ({ state }) => console.log('connection', state));
 * client.on('session_ended', () => showLogin());
 * await client.connect();
 * const peer = await client.api.userByPhone('+15557654321');
 * const { clientId, sent } = client.sendText(peer.userId, 'hi!');
 * const ack = await sent;                                      // { messageId, sentAt, ... }
 * const reply = await client.once('message', (m) => m.message.from === peer.userId, { timeoutMs: 10_000 });
 * client.markRead(peer.userId, reply.seq);
 */
export class MessengerClient extends MessageActionsClient {
  /** Typed HTTP API, sharing this client's session (its token renews itself). */
  readonly api: MessengerApi;
  /** The underlying connection (for advanced use; prefer the client's methods and events). */
  readonly connection: Connection;
  /** The local outbox of unconfirmed sends. */
  readonly outbox: Outbox;
  /** Media upload, download and signed URLs, sharing this client's session (media-api.ts). */
  readonly media: MediaApi;

  private readonly sessions: SessionKeeper;
  private readonly sender: Sender;
  private readonly mediaSender: MediaSender;
  private userIdValue: string | undefined;
  private deviceIdValue: string | undefined;
  private readonly device: { deviceName?: string; platform?: Platform };
  /** The app's own ticket source (`options.connectTicket`), else undefined: the API's. */
  private readonly customTicket: ((token: string) => string | PromiseLike<string>) | undefined;
  /** Read markers and unread flags, kept while offline (chat-markers.ts). */
  protected readonly markers: ChatMarkers;
  /** Replies, forwards, reactions, edits, deletions, stars (actions.ts; their methods: actions-client.ts). */
  protected readonly actions: MessageActions;
  private helloCount = 0;
  private readonly activeOnConnect: boolean;
  /** Users whose presence this client watches, and their latest presence. */
  private readonly presence: PresenceWatch;
  /** Large groups (read diffusion): gseq cursors, pulls, live entries. */
  private readonly largeGroups: LargeGroups;
  /**
   * The hello on whose connection a frame that updates last seen (`active`, a send, a read
   * marker) was last sent: the server records activity for all of them, so no `active` is
   * needed on top.
   */
  private activitySentFor = -1;
  /** `markActive` was called while offline: send `active` after the next hello. */
  private activePending = false;

  constructor(options: MessengerClientOptions) {
    super();
    this.device = options.device ?? {};
    this.customTicket = options.connectTicket;
    this.activeOnConnect = options.activeOnConnect ?? true;
    const refresh = options.refreshSession ?? ((session: StoredSession) => this.api.refresh(session.refreshToken).then(toStoredSession));
    this.sessions = new SessionKeeper({
      session: options.session,
      token: options.token,
      refresh,
      onSession: (session) => {
        if (session !== null) {
          this.userIdValue = session.userId;
          this.deviceIdValue = session.deviceId;
        }
        options.onSession?.(session);
      },
      onEnded: (ended) => {
        this.sender.stop();
        this.connection.close(CLOSE_CODES.normal, ended.error.message, ended.error);
        this.emit('session_ended', ended);
      },
    });
    this.userIdValue = options.session?.userId;
    this.deviceIdValue = options.session?.deviceId;
    this.api = new MessengerApi({ baseUrl: options.baseUrl, tokens: this.sessions, fetch: options.fetch, timeoutMs: options.requestTimeoutMs });
    this.media = new MediaApi({ ...options.media, baseUrl: options.baseUrl, tokens: this.sessions, fetch: options.fetch, timeoutMs: options.requestTimeoutMs });
    this.outbox = new Outbox({
      store: options.outboxStore,
      generateId: options.generateId,
      onStoreError: (cause) => this.emit('error', new MessengerError('internal', 'Outbox store failed', { retryable: false, cause })),
    });
    this.connection = new Connection({
      ...options,
      ticket: () => (this.customTicket === undefined ? this.apiTicket() : renewingTicket(this.sessions, this.customTicket)),
    });
    this.largeGroups = new LargeGroups({
      send: (frame) => this.connection.send(frame),
      emit: (group, entries) => {
        for (const entry of entries) {
          const own = this.isOwnEntry(entry);
          // As for mailbox echoes: our own message in the log proves it was stored.
          if (own && entry.type === 'message' && this.outbox.has(entry.message.clientId)) {
            const { clientId, id, gseq, sentAt } = entry.message;
            this.sender.settle({ type: 'group_sent', id: clientId, group, messageId: id, gseq, sentAt, duplicate: false });
          }
          const local = own && entry.type === 'message' && this.sender.isLocal(entry.message.clientId);
          this.emit('group_log_entry', { group, gseq: gseqOf(entry), entry, own, local });
        }
      },
      mailboxCursor: () => this.connection.cursor,
      ...(options.largeGroupCursorStore ? { store: options.largeGroupCursorStore } : {}),
      newId: options.generateId ?? generateClientId,
    });
    this.presence = new PresenceWatch((users) => this.connection.send({ type: 'presence_watch', users }), () => this.helloCount);
    this.sender = new Sender({ connection: this.connection, outbox: this.outbox, retry: options.sendRetry ?? {} });
    this.markers = new ChatMarkers({
      send: (frame) => this.connection.send(frame),
      onActivity: () => {
        this.activitySentFor = this.helloCount;
      },
    });
    this.actions = new MessageActions({ outbox: this.outbox, dispatch: (pending) => this.sender.dispatch(pending) });
    this.mediaSender = new MediaSender({ host: this, media: this.media, generateId: options.generateId, retry: options.uploadRetry });
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

  /** The logged-in user (known after `login`, from the session, or from the first hello). */
  get userId(): string | undefined {
    return this.userIdValue;
  }

  get deviceId(): string | undefined {
    return this.deviceIdValue;
  }

  /** The current session (what `onSession` last handed out), or null when logged out or using a bare token. */
  get session(): StoredSession | null {
    return this.sessions.session;
  }

  /** Current bearer token. */
  get currentToken(): string | undefined {
    return this.sessions.current();
  }

  /** Use a bare token (which cannot be renewed) for HTTP calls and the next connection attempt. */
  setToken(token: string | undefined): void {
    this.sessions.setBareToken(token);
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
   * `requestCode` answer that sent it) for a session, and keep it (`onSession` is called). When
   * the account has a two-step PIN the answer is `{ pinRequired: true, pinChallenge, ... }`
   * instead: ask for the PIN and call {@link enterPin} (or {@link requestPinReset}).
   *
   * @example
   * const answer = await client.completeLogin({ phone: otp.phone, challenge: otp.challenge, code: '123456' });
   * if ('pinRequired' in answer) await client.enterPin(answer.pinChallenge, await askForPin(answer.attemptsLeft));
   */
  async completeLogin(input: CompleteLogin): Promise<VerifyResponse> {
    const answer = await this.api.verifyOtp({
      phone: input.phone,
      code: input.code,
      challenge: input.challenge,
      ...(this.device.deviceName === undefined ? {} : { deviceName: this.device.deviceName }),
      ...(this.device.platform === undefined ? {} : { platform: this.device.platform }),
    });
    if (!isPinRequired(answer)) this.startSession(answer);
    return answer;
  }

  /**
   * Logging in, step 3 for an account with a two-step PIN: the `pinChallenge` of the
   * `completeLogin` answer and the PIN. A wrong PIN rejects with `pin_invalid` (try again with
   * the same challenge), too many with `pin_locked` and `retryAfterMs`.
   */
  async enterPin(pinChallenge: string, pin: string): Promise<SessionResponse> {
    const session = await this.api.pinLogin({ pinChallenge, pin });
    this.startSession(session);
    return session;
  }

  /**
   * Forgot the PIN: ask for a reset with the `pinChallenge` of the `completeLogin` answer. It
   * takes effect at `resetAt` (days later; the account's devices are told at once); logging in
   * after that needs no PIN.
   */
  requestPinReset(pinChallenge: string): Promise<PinResetResponse> {
    return this.api.requestPinReset(pinChallenge);
  }

  /**
   * All login steps at once against a development server: requests a code and uses the
   * `devCode` (and challenge) it returns, then the PIN if the account has one and `options.pin`
   * is given. Handy for tests and local CLIs; fails with `validation_failed` against a real SMS
   * provider (use requestCode + completeLogin there) and with `pin_invalid` when the account has
   * a PIN and none was given.
   *
   * @example
   * await client.login('+15551234567');
   * await client.login('+15551234567', { pin: '246810' });
   */
  async login(phone: string, options: LoginOptions = {}): Promise<SessionResponse> {
    const otp = await this.api.requestOtp(phone);
    if (otp.devCode === undefined) {
      throw new MessengerError('validation_failed', 'The server returned no devCode (only the dev SMS provider does): use requestCode and completeLogin');
    }
    const answer = await this.completeLogin({ phone: otp.phone, challenge: otp.challenge, code: otp.devCode });
    if (!isPinRequired(answer)) return answer;
    if (options.pin === undefined) {
      throw new MessengerError('pin_invalid', 'This account has a two-step verification PIN: pass it as login(phone, { pin })');
    }
    return this.enterPin(answer.pinChallenge, options.pin);
  }

  /** Log this device out on the server, then close the connection and forget the session (`onSession(null)`). */
  async logout(): Promise<void> {
    await this.api.logout();
    this.close();
    this.sessions.set(null);
  }

  /**
   * Delete the account for good (`phone` is the confirmation: the account's number, any
   * notation), then close and forget the session (`onSession(null)`). Rejects with
   * `confirmation_mismatch` for another number, `device_too_new` from a device logged in less
   * than a day ago without the PIN; the session stays then.
   */
  async deleteAccount(phone: string): Promise<void> {
    await this.api.deleteAccount(phone);
    this.close();
    this.sessions.set(null);
  }

  // ------------------------------------------------------------ connection

  /**
   * Connect (and keep reconnecting after losses). Resolves on the server's hello; rejects if the
   * client is closed first (by `close()`, a fatal close code, a dead token or an ended session).
   */
  connect(): Promise<HelloFrame> {
    return this.connection.connect();
  }

  /** Disconnect and stop reconnecting. Unconfirmed sends stay in the outbox for the next connect(). */
  close(): void {
    this.sender.stop();
    this.presence.stop();
    this.connection.close();
  }

  // ------------------------------------------------------------ messaging

  /**
   * Send a message. Returns at once with the client id; `sent` resolves when the server stored
   * it (even if that takes reconnects) and rejects on a non-retryable error. Invalid input throws.
   * With `options.replyTo` (a message id of this chat) it is a reply that quotes that message.
   *
   * @example
   * const { clientId, sent } = client.send(peerId, { kind: 'location', latitude: 52.5, longitude: 13.4 });
   */
  send(to: string, body: MessageBody, options: SendOptions = {}): PendingSend<SentFrame> {
    if (!UserIdSchema.safeParse(to).success) {
      throw new MessengerError('validation_failed', `Recipient ${JSON.stringify(to)} is not a user id`);
    }
    return this.sender.dispatch(this.outbox.add(to, validBody(body), options.clientId, validReplyTo(options.replyTo)));
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
    return this.sender.dispatch(this.outbox.addGroup(groupId, validBody(body), options.clientId, validReplyTo(options.replyTo)));
  }

  /** Send a text message to a group. */
  sendGroupText(groupId: string, text: string, options: SendOptions = {}): PendingSend<GroupSentFrame> {
    return this.sendGroup(groupId, { kind: 'text', text }, options);
  }

  /**
   * Send media: returns at once with the client id; the bytes upload (retried until they are up
   * or fail for good; 'upload_progress' events), then the message goes through the outbox like
   * `send`. Invalid input throws. See media-sender.ts.
   */
  sendMedia(to: string, input: MediaSendInput, options: SendOptions = {}): PendingMediaSend<SentFrame> {
    return this.mediaSender.send({ to }, input, options);
  }

  /** Like {@link sendMedia}, to a group (`sent` resolves with the `group_sent` frame). */
  sendGroupMedia(groupId: string, input: MediaSendInput, options: SendOptions = {}): PendingMediaSend<GroupSentFrame> {
    return this.mediaSender.send({ group: groupId }, input, options);
  }

  /** Media sends still uploading, oldest first. In memory only: a reload loses them (bytes are not persisted). */
  pendingUploads(): PendingUpload[] {
    return this.mediaSender.pending();
  }

  /**
   * Tell the server (and so the peer and your other devices) that you read `peer`'s messages up
   * to mailbox seq `upTo`. Offline, the latest marker per peer is sent on the next connection.
   */
  markRead(peer: string, upTo: number): void {
    this.markers.markRead(peer, upTo);
  }

  /**
   * Tell the server (and so the senders' read tallies and your other devices) that you read the
   * group up to mailbox seq `upTo` (a `seq` of a group entry, not a `gseq`). Offline, the latest
   * marker per group is sent on the next connection.
   */
  markGroupRead(groupId: string, upTo: number): void {
    this.markers.markGroupRead(groupId, upTo);
  }

  /**
   * Tell the server that you read a large group's log (read diffusion: its entries reach you as
   * `group_log_entry` events and history items with `seq: null`) up to gseq `gseq`. Offline, the
   * latest per group is sent on the next connection.
   */
  markGroupLogRead(groupId: string, gseq: number): void {
    this.markers.markGroupLogRead(groupId, gseq);
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
    return this.presence.watch(userIds);
  }

  /** The users `watchPresence` watches now. */
  get watching(): readonly string[] {
    return this.presence.watching;
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
    return this.presence.presenceOf(userId);
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
  groupHistory(groupId: string, options: GroupHistoryOptions = {}): Promise<GroupHistoryPage> {
    return this.api.groupHistory(groupId, options);
  }

  /** One page of search hits in your own history, newest first (see `MessengerApi.search`). */
  search(query: SearchRequest, signal?: AbortSignal): Promise<SearchPage> {
    return this.api.search(query, signal);
  }

  /** Unconfirmed sends, oldest first (actions: {@link pendingActions}). */
  pending(): OutboxEntry[] {
    return this.outbox.pending();
  }

  /** Unconfirmed message actions (react, edit, delete, star), oldest first. */
  pendingActions(): ActionOutboxEntry[] {
    return this.outbox.pendingActions();
  }

  /**
   * When sending resumes after a retryable refusal such as `rate_limited` (ms since the epoch),
   * or undefined when sends are not paused.
   */
  get sendsDelayedUntil(): number | undefined {
    return this.sender.delayedUntil;
  }

  // ------------------------------------------------------------ internals

  private startSession(response: SessionResponse): void {
    this.userIdValue = response.userId;
    this.deviceIdValue = response.deviceId;
    this.sessions.set(toStoredSession(response));
  }

  private wireConnection(): void {
    const c = this.connection;
    const s = this.sender;
    const mailboxHost: MailboxEventsHost = {
      userId: () => this.userIdValue,
      emit: (event, payload) => this.emit(event, payload),
      isPending: (clientId: string) => this.outbox.has(clientId),
      isLocal: (clientId: string) => s.isLocal(clientId),
      settle: (frame: SentFrame | GroupSentFrame) => s.settle(frame),
    };
    s.on('sent', (frame) => this.emit('sent', frame));
    s.on('group_sent', (frame) => this.emit('group_sent', frame));
    s.on('acted', (frame) => this.emit('acted', frame));
    s.on('failed', (failed) => this.emit('failed', failed));
    s.on('send_delayed', (delayed) => this.emit('send_delayed', delayed));
    s.on('action_failed', (failed) => this.emit('action_failed', failed));
    s.on('action_delayed', (delayed) => this.emit('action_delayed', delayed));
    s.on('activity', () => {
      this.activitySentFor = this.helloCount;
    });
    c.on('state', (change) => {
      s.onState(change.state === 'open');
      if (change.state !== 'open') this.largeGroups.onDisconnect();
      this.emit('state', change);
      if (change.state === 'closed') this.endSessionIfOver(change);
    });
    c.on('reconnect', (info) => this.emit('reconnect', info));
    c.on('cursor_expired', (info) => this.emit('cursor_expired', info));
    c.on('error', (error) => this.emit('error', error));
    c.on('hello', (hello) => this.onHello(hello));
    c.on('sent', (frame) => s.settle(frame));
    c.on('group_sent', (frame) => s.settle(frame));
    c.on('acted', (frame) => s.settle(frame));
    c.on('typing_notice', (frame) => this.emit('typing_notice', frame));
    c.on('presence_watch_refused', (frame) => this.presence.refused(frame.retryAfterMs ?? 1_000));
    c.on('presence', (frame) => {
      this.presence.record(frame);
      this.emit('presence', frame);
    });
    c.on('send_error', (frame) => {
      if (!this.largeGroups.onPullRefused(frame.id, frame.retryAfterMs)) s.refuse(frame.id, MessengerError.fromFrame(frame));
    });
    c.on('mailbox', (frame) => {
      routeMailboxFrame(frame, mailboxHost);
      this.largeGroups.onMailboxProgress(frame.seq);
    });
    c.on('large_group', (frame) => this.largeGroups.onFrame(frame));
  }

  /** The server closed the connection because the session is over: end it here too. */
  private endSessionIfOver(change: StateChange): void {
    const error = change.error;
    if (error === undefined) return;
    if (change.code === CLOSE_CODES.account_deleted) this.sessions.end('account_deleted', error);
    else if (SESSION_OVER_CODES.has(error.code)) this.sessions.end(error.code, error);
  }

  /** Whether the logged-in user sent, changed or acted in a large group's entry. */
  private isOwnEntry(entry: GroupEntry): boolean {
    const me = this.userIdValue;
    if (me === undefined) return false;
    if (entry.type === 'message') return entry.message.from === me;
    if (entry.type === 'event') return entry.event.by === me;
    return entry.update.by === me;
  }

  private onHello(hello: HelloFrame): void {
    this.helloCount += 1;
    this.userIdValue = hello.userId;
    this.deviceIdValue = hello.deviceId;
    // Emit first so listeners see 'hello' before the resends' 'sent' answers can arrive.
    this.emit('hello', hello);
    this.sender.onHello();
    this.markers.onHello();
    // A 'hello' listener may already have sent these on this connection; don't repeat them. Nor
    // `active` when a resent message or read marker already told the server the user is active.
    this.presence.onHello();
    if (this.activeOnConnect || this.activePending) {
      if (this.activitySentFor === this.helloCount) this.activePending = false;
      else this.markActive();
    }
  }

  /** The API's connect ticket (it renews an expired token itself); throws `unauthorized` without a token. */
  private apiTicket(): PromiseLike<string> {
    const token = this.sessions.current();
    if (token === undefined || token === '') throw new MessengerError('unauthorized', 'No token: log in first');
    return this.api.connectTicket().then((answer) => answer.ticket);
  }
}
