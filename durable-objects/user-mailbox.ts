/**
 * UserMailbox: the Durable Object of one user. It holds the user's device WebSockets
 * (Hibernation API), the user's ordered mailbox and history, and delivery state. It only adapts
 * lifecycle hooks and RPC entry points; the mailbox logic lives in ./mailbox/.
 *
 * Path of a 1:1 message: device -> sender's object (`send` frame) -> recipient's object
 * (`deliver` RPC, stored) -> sender's object stores its copy -> `sent` to the device. The
 * recipient's devices ack, which becomes a `delivered` receipt back to the sender's object.
 */
import { DurableObject } from 'cloudflare:workers';
import { monotonicFactory } from 'ulid';
import {
  CLOSE_CODES,
  CONNECT_TICKET_TTL_MS,
  ERRORS,
  RECEIPT_MAX_IDS,
  type BucketName,
  HEARTBEAT_PING,
  HEARTBEAT_PONG,
  parseClientFrame,
  type AckFrame,
  type BlockList as BlockListBody,
  type ConversationList,
  type GroupEntry,
  type GroupHistoryPage,
  type GroupReadFrame,
  type GroupSendFrame,
  type GroupTypingFrame,
  type TypingFrame,
  type TypingNoticeFrame,
  type TypingState,
  TYPING_TTL_MS,
  type GroupTally,
  type HistoryPage,
  type Message,
  type ReadFrame,
  type ResumeFrame,
  type SendFrame,
  type SentFrame,
  type ConversationRef,
  type Presence,
  type Settings,
  type SettingsUpdate,
} from '../protocol/index.ts';
import { userExists } from '../worker/db/accounts.ts';
import { groupExists } from '../worker/db/groups.ts';
import { reportMailboxGauges } from '../worker/db/push.ts';
import type { PushJob } from '../worker/push/job.ts';
import { groupOf, mailboxOf } from './stubs.ts';
import { Connections, type ConnectionState } from './mailbox/connections.ts';
import { BlockList } from './mailbox/blocks.ts';
import type { Charge, Spent } from './mailbox/budgets.ts';
import { DeviceCursors } from './mailbox/cursors.ts';
import { FrameError, errorFrame } from './mailbox/frame-error.ts';
import { GroupInbox } from './mailbox/group-inbox.ts';
import { GroupSync } from './mailbox/group-sync.ts';
import { OutgoingMessages } from './mailbox/outgoing.ts';
import { ReceiptRelay, type Receipt, type ReceiptStatus } from './mailbox/receipts.ts';
import { migrate } from './mailbox/schema.ts';
import { FrameLimits } from './mailbox/frame-limits.ts';
import { UsedTickets } from './mailbox/tickets.ts';
import { MailboxStore, type StoredEntry, type StoredMessage } from './mailbox/store.ts';
import { Notifier, type Arrival } from './mailbox/notifications.ts';
import type { ViewerRelation } from './mailbox/presence.ts';
import { PresenceRelay } from './mailbox/presence-relay.ts';
import { UserSettings } from './mailbox/settings.ts';

/** Headers the Worker sets when it hands an authenticated WebSocket upgrade to the object. */
export const CONNECT_HEADERS = {
  user: 'X-Mailbox-User',
  device: 'X-Mailbox-Device',
  cursor: 'X-Mailbox-Cursor',
  /** The connect ticket's id (jti): a ticket opens one connection only. */
  ticket: 'X-Mailbox-Ticket',
  /** When that ticket expires, ms since the epoch (how long its id must be remembered). */
  ticketExpires: 'X-Mailbox-Ticket-Expires',
} as const;

const DAY_MS = 86_400_000;
/** Message ids: one generator per isolate (ulid() alone re-detects its random source per call, ~20 us). */
const ulid = monotonicFactory();
/** How soon the alarm retries receipts that could not be relayed. */
const RECEIPT_RETRY_MS = 5_000;
/** Delivered watermarks for groups are gathered this long (see GroupSync.acknowledged). */
const GROUP_DELIVERED_DELAY_MS = 500;

export class UserMailbox extends DurableObject<Env> {
  readonly #store: MailboxStore;
  readonly #connections: Connections;
  readonly #outgoing: OutgoingMessages;
  readonly #receipts: ReceiptRelay;
  readonly #cursors: DeviceCursors;
  readonly #groupInbox: GroupInbox;
  readonly #groups: GroupSync;
  readonly #blocks: BlockList;
  readonly #limits: FrameLimits;
  readonly #tickets: UsedTickets;
  readonly #settings: UserSettings;
  readonly #presence: PresenceRelay;
  readonly #notifier: Notifier;
  /** Recipients known to exist (users are never deleted), so D1 is asked once per peer. */
  readonly #knownUsers = new Set<string>();
  /** Groups known to exist, for the same reason. */
  readonly #knownGroups = new Set<string>();
  readonly #retentionMs: number;
  /** Gauges last reported to D1 for the metrics endpoint ("connections/depth"). */
  #reported = '';
  /** Whether an alarm is known to be scheduled, so publishing does not read storage each time. */
  #alarmSet = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    migrate(ctx.storage.sql);
    this.#store = new MailboxStore(ctx.storage.sql);
    this.#limits = new FrameLimits((env as { RATE_LIMITS?: unknown }).RATE_LIMITS, ctx.storage.sql);
    this.#tickets = new UsedTickets(ctx.storage.sql);
    this.#connections = new Connections(ctx);
    this.#outgoing = new OutgoingMessages({
      store: this.#store,
      deliver: (to, messages) => this.#deliverTo(to, messages),
      publish: (entries) => this.#publish(entries),
      applyReceipt: (r) => void this.applyReceipts(r.peer, r.status, r.clientIds, r.at),
      newId: ulid,
    });
    this.#receipts = new ReceiptRelay(ctx.storage.sql, (r) => this.#applyAtSender(r));
    this.#cursors = new DeviceCursors(this.#store);
    this.#blocks = new BlockList(ctx.storage.sql);
    this.#settings = new UserSettings(ctx.storage.sql);
    this.#presence = new PresenceRelay({
      ctx,
      db: env.DB,
      connections: this.#connections,
      settings: this.#settings,
      blocks: this.#blocks,
      self: () => this.#self(),
      mailbox: (userId) => mailboxOf(env, userId),
      closingGhost: (state) => this.#cursors.record(state.deviceId, state.acked),
      changed: (now) => this.#cursors.persist(now),
      counted: (now, live) => this.#reportGauges(now, live),
      wakeBy: (at) => this.#wakeBy(at),
    });
    this.#notifier = new Notifier(ctx.storage.sql, this.#settings);
    this.#groupInbox = new GroupInbox(ctx.storage.sql, this.#store);
    this.#groups = new GroupSync({
      inbox: this.#groupInbox,
      self: () => this.#self(),
      publish: (entries) => this.#publish(entries),
      arrived: (group, entries) => this.#groupArrived(group, entries),
      group: (groupId) => groupOf(env, groupId),
      retryLater: () => void this.#scheduleAlarm(Date.now() + RECEIPT_RETRY_MS),
      deliveredDelayMs: GROUP_DELIVERED_DELAY_MS,
    });
    this.#retentionMs = Math.max(1, Number(env.MAILBOX_RETENTION_DAYS) || 30) * DAY_MS;
    // Answered by the runtime itself: heartbeats never wake a hibernated object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(HEARTBEAT_PING, HEARTBEAT_PONG));
  }

  // ------------------------------------------------------------------ connection lifecycle

  override async fetch(request: Request): Promise<Response> {
    const userId = request.headers.get(CONNECT_HEADERS.user);
    const deviceId = request.headers.get(CONNECT_HEADERS.device);
    if (request.headers.get('Upgrade') !== 'websocket' || !userId || !deviceId) {
      return new Response('expected an authenticated WebSocket upgrade from the Worker', { status: 400 });
    }
    const now = Date.now();
    // Checked and recorded before anything else, with no await until the connection is
    // accepted: two uses of one ticket cannot both get past this line.
    const ticket = request.headers.get(CONNECT_HEADERS.ticket);
    if (ticket !== null) {
      const expires = Number(request.headers.get(CONNECT_HEADERS.ticketExpires));
      const expiresAt = Number.isSafeInteger(expires) && expires > 0 ? expires : now + CONNECT_TICKET_TTL_MS;
      if (!this.#tickets.use(ticket, expiresAt, now)) return ticketRefused();
    }
    const requested = request.headers.get(CONNECT_HEADERS.cursor);
    const { 0: client, 1: server } = new WebSocketPair();

    // A second connection of the same device replaces the first.
    this.#connections.closeDevice(deviceId, CLOSE_CODES.replaced, 'replaced by a newer connection', { forget: false });

    const asked = requested === null ? NaN : Number(requested);
    let cursor = Number.isSafeInteger(asked) && asked >= 0 ? Math.min(asked, this.#store.head) : this.#startingCursor(deviceId);
    const expired = cursor < this.#store.prunedThrough;
    if (expired) cursor = this.#store.prunedThrough;

    const state: ConnectionState = { userId, deviceId, acked: cursor, sent: cursor, connectedAt: now };
    this.#connections.accept(server, state);
    this.#connections.sendDirect(server, {
      type: 'hello',
      userId,
      deviceId,
      cursor,
      head: this.#store.head,
      serverTime: now,
    });
    if (expired) this.#connections.sendDirect(server, errorFrame(null, new FrameError('cursor_expired')));
    // Reconnecting with a cursor is an acknowledgement of everything up to it.
    this.#acknowledge(deviceId, cursor);
    this.#cursors.persist(now);
    this.#connections.refill(server, this.#store);
    void this.#flushReceipts();
    // A device is back: held pushes are being seen now; watchers may learn "online".
    this.#notifier.clear();
    void this.#presence.update(now);
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    const state = this.#connections.state(ws);
    if (!state) return;
    this.#presence.tracker.heard(ws, Date.now());
    const parsed = parseClientFrame(raw);
    if (!parsed.ok) {
      const { code, message, id } = parsed.error;
      this.#connections.sendDirect(ws, errorFrame(id, new FrameError(code, message)));
      return;
    }
    const frame = parsed.frame;
    try {
      switch (frame.type) {
        case 'send':
          return await this.#onSend(ws, state, frame);
        case 'ack':
          return this.#onAck(ws, state, frame);
        case 'read':
          return this.#onRead(frame);
        case 'resume':
          // What it would send again: the entries between `after` and what this connection was sent.
          this.#limits.resume(state.deviceId, Math.max(0, state.sent - frame.after));
          return this.#onResume(ws, state, frame);
        case 'group_send':
          return await this.#onGroupSend(ws, state, frame);
        case 'group_read':
          return this.#onGroupRead(frame);
        case 'typing':
          return await this.#onTyping(state, frame);
        case 'group_typing':
          return this.#onGroupTyping(state, frame);
        case 'presence_watch':
          // Each watch asks every watched user's object; closing the chat (an empty list) is
          // free, so a device can always stop watching.
          if (frame.users.length > 0) this.#limits.presenceWatch(state.deviceId);
          return await this.#presence.watch(ws, state, frame.users);
        case 'active':
          return this.#presence.tracker.recordActivity(Date.now());
        case 'ping':
          // Only a byte-exact ping is auto-answered; answer variants here.
          return this.#connections.sendDirect(ws, { type: 'pong' });
      }
    } catch (error) {
      if (!(error instanceof FrameError)) console.error('frame handling failed', error);
      const id = frame.type === 'send' || frame.type === 'group_send' ? frame.id : null;
      this.#connections.sendDirect(ws, errorFrame(id, error));
    }
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    const state = this.#connections.state(ws);
    if (state) {
      // After an eviction the in-memory cursors are gone, but the socket still knows its own.
      this.#cursors.record(state.deviceId, state.acked);
      this.#cursors.persist(Date.now());
    }
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, 'closing');
    } catch {
      // The runtime may already have completed the close handshake.
    }
    await this.#presence.update(Date.now(), ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.webSocketClose(ws, 1006);
  }

  // ------------------------------------------------------------------ frames

  async #onSend(ws: WebSocket, state: ConnectionState, frame: SendFrame): Promise<void> {
    // Memory only (see FrameLimits): no write and no call is added to a message.
    this.#limits.send(state.deviceId, frame.id);
    this.#presence.tracker.recordActivity(Date.now());
    const stored = await this.#outgoing.send(state, frame);
    const sent: SentFrame = {
      type: 'sent',
      id: frame.id,
      messageId: stored.id,
      to: frame.to,
      sentAt: stored.sentAt,
      duplicate: stored.duplicate,
    };
    this.#connections.sendDirect(ws, sent);
  }

  #onAck(ws: WebSocket, state: ConnectionState, frame: AckFrame): void {
    if (frame.upTo > state.sent) {
      throw new FrameError('invalid_ack', `Acked ${frame.upTo} but only ${state.sent} was sent on this connection`);
    }
    if (frame.upTo <= state.acked) return;
    this.#connections.save(ws, { ...state, acked: frame.upTo });
    this.#acknowledge(state.deviceId, frame.upTo);
    this.#connections.refill(ws, this.#store);
  }

  /** Gap repair: rewind this connection to `after` and send from there again. */
  #onResume(ws: WebSocket, state: ConnectionState, frame: ResumeFrame): void {
    if (frame.after > state.sent) {
      throw new FrameError('invalid_ack', `Cannot resume after ${frame.after}: only ${state.sent} was sent`);
    }
    let after = frame.after;
    if (after < this.#store.prunedThrough) {
      this.#connections.sendDirect(ws, errorFrame(null, new FrameError('cursor_expired')));
      after = this.#store.prunedThrough;
    }
    this.#connections.save(ws, { ...state, acked: Math.min(state.acked, after), sent: after });
    this.#connections.refill(ws, this.#store);
  }

  #onRead(frame: ReadFrame): void {
    const now = Date.now();
    this.#presence.tracker.recordActivity(now);
    const upTo = Math.min(frame.upTo, this.#store.head);
    const clientIds = this.#store.markRead(frame.peer, upTo);
    if (clientIds.length === 0) return;
    this.#receipts.enqueue([{ peer: frame.peer, status: 'read', clientIds, at: now }]);
    // The user's other devices learn the conversation was read (multi-device).
    this.#publish([this.#store.append({ type: 'read_marker', peer: frame.peer, upTo, at: now }, now)]);
    void this.#flushReceipts();
  }

  /**
   * A group message goes to the group's object, which stores it in the log before we answer.
   *
   * It costs a send like a 1:1 message, and the sender's `group_deliveries_user` budget one
   * token per member it reaches: the group answers with that audience, so the deliveries are
   * charged after it stored the message, and the budget may go below zero (a 1,000-member group
   * on an almost empty budget). What it admits is a budget not empty (at least one token), checked
   * in the group's posting turn, after the previous post to that group was charged; a debt then
   * delays the next group messages until it is refilled.
   */
  async #onGroupSend(ws: WebSocket, state: ConnectionState, frame: GroupSendFrame): Promise<void> {
    this.#limits.groupSend(state.deviceId, frame.id);
    this.#presence.tracker.recordActivity(Date.now());
    const input = { sender: state.userId, device: state.deviceId, clientId: frame.id, body: frame.body };
    const result = await this.#groups.post(frame.group, input, {
      admit: async () => {
        // A made-up group id reaches no object (each would be one more object).
        if (!(await this.#groupExists(frame.group))) throw new FrameError('group_not_found');
        this.#limits.groupAdmit(state.deviceId, frame.id);
      },
      posted: (audience) => this.#limits.groupPosted(audience),
    });
    if (!result.ok) throw new FrameError(result.code, result.message ?? undefined);
    const { messageId, gseq, sentAt, duplicate } = result.value;
    this.#connections.sendDirect(ws, { type: 'group_sent', id: frame.id, group: frame.group, messageId, gseq, sentAt, duplicate });
  }

  #onGroupRead(frame: GroupReadFrame): void {
    const now = Date.now();
    this.#presence.tracker.recordActivity(now);
    const upTo = Math.min(frame.upTo, this.#store.head);
    if (this.#groups.read(frame.group, upTo) === null) return;
    this.#publish([this.#store.append({ type: 'group_read_marker', group: frame.group, upTo, at: now }, now)]);
    void this.#flushReceipts();
  }

  /**
   * Relay "typing" to the peer's connected devices (fire and forget: it is ephemeral). Each
   * relayed frame costs the device's typing budgets; over them the frame is dropped without an
   * answer: an indicator that is late is worthless, so there is nothing to retry. A peer that
   * does not exist is refused (`user_not_found`), so no object is ever created for a made-up id;
   * that check is a D1 read once per peer, after the budget, so unknown ids cannot flood D1.
   */
  async #onTyping(state: ConnectionState, frame: TypingFrame): Promise<void> {
    if (frame.to === state.userId) throw new FrameError('self_message');
    if (!this.#limits.typing(state.deviceId, `user:${frame.to}`, frame.state)) return;
    if (!(await this.#userExists(frame.to))) throw new FrameError('user_not_found');
    mailboxOf(this.env, frame.to)
      .typingNotice(state.userId, null, frame.state)
      .catch(() => undefined);
  }

  /** Typing in a group: only in groups this mailbox knows (others are refused without asking any object). */
  #onGroupTyping(state: ConnectionState, frame: GroupTypingFrame): void {
    if (!this.#groupInbox.knows(frame.group)) throw new FrameError('group_not_found');
    if (!this.#limits.typing(state.deviceId, `group:${frame.group}`, frame.state)) return;
    groupOf(this.env, frame.group)
      .typing(state.userId, frame.state)
      .catch(() => undefined);
  }

  /**
   * Record a device's progress. Incoming messages it takes past the delivered watermark have
   * reached their first device: their senders get a delivered receipt straight away. Nothing
   * is written here (see DeviceCursors); a receipt that cannot be relayed goes to the durable
   * outbox, and one lost to an eviction is re-derived when the device reconnects with its cursor.
   */
  #acknowledge(deviceId: string, upTo: number): void {
    const before = this.#cursors.record(deviceId, upTo);
    if (upTo <= before) return;
    this.#groups.acknowledged(before, upTo);
    const at = Date.now();
    for (const [peer, clientIds] of this.#store.incomingBetween(before, upTo)) {
      const receipt: Receipt = { peer, status: 'delivered', clientIds, at };
      this.#applyAtSender(receipt).catch(() => {
        this.#receipts.enqueue([receipt]);
        void this.#scheduleAlarm(Date.now() + RECEIPT_RETRY_MS);
      });
    }
  }

  /** Where a device starts: its saved cursor, or for a new device whatever no device has yet. */
  #startingCursor(deviceId: string): number {
    return this.#cursors.of(deviceId) ?? this.#cursors.watermark;
  }

  /** Send new entries to live connections and make sure retention will expire them. */
  #publish(entries: StoredEntry[]): void {
    // Nothing new (a duplicate delivery, a receipt that moved nothing): no write to ride along.
    if (entries.length === 0) return;
    // This event writes anyway: recorded acks ride along in the same commit.
    this.#cursors.persistIfDue(Date.now());
    this.#connections.pushLive(entries);
    void this.#ensureAlarm();
  }

  // ------------------------------------------------------------------ RPC (called by other objects and the Worker)

  /**
   * Store messages sent to this user (in order) and push them to connected devices.
   * Idempotent per (sender, client id). Resolves after the write is durable.
   *
   * Messages from someone this user blocked are answered as if stored (the sender sees "sent",
   * never "delivered", as in WhatsApp) and dropped: blocking stays silent.
   */
  async deliver(messages: Message[]): Promise<StoredMessage[]> {
    const now = Date.now();
    const entries: StoredEntry[] = [];
    const arrivals: Arrival[] = [];
    const results = messages.map((message) => {
      if (this.#blocks.has(message.from)) return { id: message.id, sentAt: message.sentAt, duplicate: false };
      const { stored, entry } = this.#store.recordMessage(message, false, now);
      if (entry) {
        entries.push(entry);
        arrivals.push({ conversation: { kind: 'direct', id: message.from }, messageId: message.id, from: message.from, body: message.body });
      }
      return stored;
    });
    this.#publish(entries);
    this.#pushIfAway(arrivals, now);
    return results;
  }

  /** Apply a delivered/read receipt from `by` to messages this user sent (named by client id). Idempotent. */
  async applyReceipts(by: string, status: ReceiptStatus, clientIds: string[], at: number): Promise<void> {
    const advanced = this.#store.advanceOutgoing(this.#self(), by, clientIds, status);
    if (advanced.length < clientIds.length) {
      this.#outgoing.holdEarly({ peer: by, status, clientIds, at }, new Set(advanced.map((m) => m.clientId)));
    }
    const now = Date.now();
    const entries: StoredEntry[] = [];
    // Many coalesced acks can name thousands of messages; keep each receipt frame small.
    for (let i = 0; i < advanced.length; i += RECEIPT_MAX_IDS) {
      const messageIds = advanced.slice(i, i + RECEIPT_MAX_IDS).map((m) => m.id);
      entries.push(this.#store.append({ type: 'receipt', status, by, messageIds, at }, now));
    }
    this.#publish(entries);
  }

  /** This user's chat list (1:1 and groups), most recent first. */
  async conversations(before: number | undefined, limit: number): Promise<ConversationList> {
    const direct = this.#store.conversations(before, limit);
    const groups = this.#groupInbox.chatList(before, limit);
    const merged = [...direct.items, ...groups.items].sort((a, b) => b.last.seq - a.last.seq);
    const page = merged.slice(0, limit);
    const more = merged.length > limit || direct.nextBefore !== null || groups.nextBefore !== null;
    return { conversations: page, nextBefore: more && page.length > 0 ? page[page.length - 1]!.last.seq : null };
  }

  /**
   * Store a fan-out delivery of a group's entries (at least once, any order: duplicates are
   * dropped, gaps repaired from the group first). Resolves once they are durable here.
   */
  async deliverGroup(group: string, entries: GroupEntry[]): Promise<number> {
    return this.#groups.deliver(group, entries);
  }

  /** New delivered / read counts of this user's messages in `group`. */
  async groupTallies(group: string, tallies: GroupTally[]): Promise<void> {
    this.#publish(this.#groupInbox.recordTallies(group, tallies, Date.now()));
  }

  /** A page of `group` as this user received it, newest first. */
  async groupHistory(group: string, before: number | undefined, limit: number): Promise<GroupHistoryPage | null> {
    if (!this.#groupInbox.knows(group)) return null;
    const { items, nextBefore } = this.#groupInbox.history(group, before, limit);
    return { entries: items, nextBefore };
  }

  /** A page of this user's conversation with `peer`, newest first. */
  async history(peer: string, before: number | undefined, limit: number): Promise<HistoryPage> {
    const { items, nextBefore } = this.#store.history(peer, before, limit);
    return { messages: items, nextBefore };
  }

  /**
   * Someone is typing to this user (`group` null) or in one of their groups: tell the connected
   * devices, if any. Nothing is stored; a blocked user's notices are dropped.
   */
  async typingNotice(from: string, group: string | null, state: TypingState): Promise<void> {
    if (group === null && this.#blocks.has(from)) return;
    const notice: TypingNoticeFrame = { type: 'typing_notice', from, group, state, expiresInMs: TYPING_TTL_MS };
    for (const ws of this.#connections.all()) this.#connections.sendDirect(ws, notice);
  }

  /**
   * Block `userId`: their 1:1 messages stop reaching this user (silently), and neither sees the
   * other's presence any more (both sides' open views are told at once).
   */
  async block(userId: string): Promise<void> {
    this.#blocks.block(userId, Date.now());
    this.#presence.blocked(userId);
  }

  async unblock(userId: string): Promise<void> {
    this.#blocks.unblock(userId);
    await this.#presence.unblocked(userId);
  }

  async blocked(): Promise<BlockListBody> {
    return { blocked: this.#blocks.list() };
  }

  // ---------------------------------------------------------------- presence and settings

  /**
   * This user's presence as `viewer` may see it (`relation`: the viewer's side, decided by the
   * viewer's object). With `watch`, the viewer is also told of every change from now on.
   */
  async presenceFor(viewer: string, relation: ViewerRelation, watch: boolean): Promise<Presence> {
    return this.#presence.answer(viewer, relation, watch);
  }

  /**
   * Evaluate presence as of `at` (default now): ghost connections are closed and watchers told.
   * What the alarm does; callable directly so tests can move the clock. Returns whether online.
   */
  async checkPresence(at: number = Date.now()): Promise<boolean> {
    await this.#presence.update(at);
    return this.#presence.online;
  }

  /** A watched user's presence changed: tell the connections that watch them. False when none does (stop telling us). */
  async presenceNotice(presence: Presence): Promise<boolean> {
    return this.#presence.notice(presence);
  }

  /** `target`'s presence as this user may see it (GET /v1/users/:id/presence); null for an unknown user. */
  async presenceOf(target: string): Promise<Presence | null> {
    return this.#presence.presenceOfOne(target);
  }

  async settings(): Promise<Settings> {
    return this.#settings.view(Date.now());
  }

  async updateSettings(update: SettingsUpdate): Promise<Settings> {
    const { privacyChanged } = this.#settings.update(update);
    if (privacyChanged) await this.#presence.privacyChanged();
    return this.#notificationsChanged();
  }

  async mute(conversation: ConversationRef, until: number | null): Promise<Settings> {
    this.#settings.mute(conversation, until);
    return this.#notificationsChanged();
  }

  async unmute(conversation: ConversationRef): Promise<Settings> {
    this.#settings.unmute(conversation);
    return this.#notificationsChanged();
  }

  /** Quiet hours or mutes may have changed: what is held may be due at another time. Answers the settings. */
  async #notificationsChanged(): Promise<Settings> {
    const now = Date.now();
    await this.#wakeBy(this.#notifier.summaryDueAt(now));
    return this.#settings.view(now);
  }

  // ------------------------------------------------------------------ budgets (for the Worker's routes)

  /**
   * Take `cost` tokens from one of this user's buckets (`deviceId` for per-device ones), or
   * none when it has too few; the refusal says how long until it has.
   *
   * @example
   * await mailboxOf(env, userId).spend('group_create_user', 1) // { ok: true }
   */
  async spend(name: BucketName, cost: number, deviceId?: string): Promise<Spent> {
    return this.#limits.spend([{ name, cost }], deviceId);
  }

  /** Take from several buckets at once, all or nothing (one action with several costs). */
  async spendAll(charges: Charge[], deviceId?: string): Promise<Spent> {
    return this.#limits.spend(charges, deviceId);
  }

  /** Take `cost` tokens whatever the bucket holds (a cost only known after the work; may leave a debt). */
  async charge(name: BucketName, cost: number, deviceId?: string): Promise<void> {
    this.#limits.charge(name, cost, deviceId);
  }

  /** Whether this user is in `group` (as far as their mailbox knows). */
  async knowsGroup(group: string): Promise<boolean> {
    return this.#groupInbox.knows(group);
  }

  /** A device logged out or was revoked: close its socket, forget its cursor. */
  async revokeDevice(deviceId: string): Promise<void> {
    this.#connections.closeDevice(deviceId, CLOSE_CODES.device_revoked, 'device revoked', { forget: true });
    this.#cursors.forget(deviceId);
  }

  /** Health figures for this mailbox. */
  async stats(): Promise<{ head: number; depth: number; connections: number; pendingReceipts: number }> {
    return {
      head: this.#store.head,
      depth: this.#store.depth(),
      connections: this.#connections.all().length,
      pendingReceipts: this.#receipts.pending(),
    };
  }

  // ------------------------------------------------------------------ alarm: retention, retries, presence, summaries

  override async alarm(): Promise<void> {
    const now = Date.now();
    this.#cursors.persist(now);
    this.#store.pruneBefore(now - this.#retentionMs);
    await this.#presence.update(now);
    const summary = this.#presence.liveSockets(now).length === 0 ? this.#notifier.takeSummary(this.#self(), now) : null;
    if (summary) await this.#enqueuePushes([summary]);
    const [allSent, allGroupSent] = await Promise.all([this.#receipts.flush(), this.#groups.flushReceipts()]);
    await this.#scheduleAlarm(allSent && allGroupSent ? null : now + RECEIPT_RETRY_MS);
  }

  async #ensureAlarm(): Promise<void> {
    if (this.#alarmSet) return;
    this.#alarmSet = true;
    if ((await this.ctx.storage.getAlarm()) === null) await this.#scheduleAlarm(null);
  }

  /**
   * Next alarm: the earliest of the oldest entry's expiry, a requested retry, the next ghost
   * check (only while someone watches this user's presence) and a due push summary.
   */
  async #scheduleAlarm(retryAt: number | null): Promise<void> {
    const now = Date.now();
    const oldest = this.#store.oldestCreatedAt();
    const expiry = oldest === null ? null : oldest + this.#retentionMs;
    const next = [expiry, retryAt, this.#presence.checkAt(now), this.#notifier.summaryDueAt(now)].filter((t): t is number => t !== null);
    this.#alarmSet = next.length > 0;
    if (next.length > 0) await this.ctx.storage.setAlarm(Math.min(...next));
  }

  /** Make sure the alarm fires by `at` (never postpones one that is due earlier). */
  async #wakeBy(at: number | null): Promise<void> {
    if (at === null) return;
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) {
      await this.ctx.storage.setAlarm(at);
      this.#alarmSet = true;
    }
  }

  // ------------------------------------------------------------------ metrics

  /** Connected devices and mailbox depth for GET /v1/metrics: written when they changed since the last report. */
  #reportGauges(now: number, connections: number): void {
    const depth = this.#store.depth();
    const key = `${connections}/${depth}`;
    if (key === this.#reported) return;
    this.#reported = key;
    this.ctx.waitUntil(reportMailboxGauges(this.env.DB, this.#self(), { connections, depth }, now).catch(() => undefined));
  }

  // ------------------------------------------------------------------ push notifications

  /** Messages arrived: if no device is connected, push (or hold for a summary). Never delays the delivery. */
  #pushIfAway(arrivals: readonly Arrival[], now: number): void {
    if (arrivals.length === 0 || this.#presence.liveSockets(now).length > 0) return;
    const { jobs, held } = this.#notifier.arrived(this.#self(), arrivals, now);
    if (jobs.length > 0) void this.#enqueuePushes(jobs);
    // What was held instead (muted chat, quiet hours) needs the alarm for its summary.
    if (held) void this.#wakeBy(this.#notifier.summaryDueAt(now)).catch(() => undefined);
  }

  #groupArrived(group: string, entries: readonly GroupEntry[]): void {
    const self = this.#self();
    const arrivals: Arrival[] = [];
    for (const entry of entries) {
      if (entry.type !== 'message' || entry.message.from === self) continue;
      const { id, from, body } = entry.message;
      arrivals.push({ conversation: { kind: 'group', id: group }, messageId: id, from, body });
    }
    this.#pushIfAway(arrivals, Date.now());
  }

  async #enqueuePushes(jobs: PushJob[]): Promise<void> {
    try {
      await this.env.PUSH.sendBatch(jobs.map((body) => ({ body })));
    } catch (error) {
      // A push is best effort: the message itself is stored and waits in the mailbox.
      console.error('push enqueue failed', error);
    }
  }

  // ------------------------------------------------------------------ outgoing calls

  async #deliverTo(recipient: string, messages: Message[]): Promise<StoredMessage[]> {
    if (!(await this.#userExists(recipient))) throw new FrameError('recipient_not_found');
    return mailboxOf(this.env, recipient).deliver(messages);
  }

  /**
   * Whether a group exists: one this mailbox received, or one the D1 mirror knows (a group just
   * created reaches its creator's mailbox after its creator may already post). Remembered once
   * known (groups are never deleted), so posting to a group costs no look-up after the first.
   */
  async #groupExists(groupId: string): Promise<boolean> {
    if (this.#knownGroups.has(groupId)) return true;
    if (!this.#groupInbox.knows(groupId) && !(await groupExists(this.env.DB, groupId))) return false;
    this.#knownGroups.add(groupId);
    return true;
  }

  /** Whether an account exists: asked of D1 once per user (accounts are never deleted), then remembered. */
  async #userExists(userId: string): Promise<boolean> {
    if (this.#knownUsers.has(userId)) return true;
    if (!(await userExists(this.env.DB, userId))) return false;
    this.#knownUsers.add(userId);
    return true;
  }

  async #applyAtSender(receipt: Receipt): Promise<void> {
    await mailboxOf(this.env, receipt.peer).applyReceipts(this.#self(), receipt.status, receipt.clientIds, receipt.at);
  }

  /** This object's user id (objects are addressed by `idFromName(userId)`). */
  #self(): string {
    const self = this.ctx.id.name;
    if (!self) throw new Error('mailbox object was not addressed by user id');
    return self;
  }

  async #flushReceipts(): Promise<void> {
    const [allSent, allGroupSent] = await Promise.all([this.#receipts.flush(), this.#groups.flushReceipts()]);
    if (!allSent || !allGroupSent) await this.#scheduleAlarm(Date.now() + RECEIPT_RETRY_MS);
  }
}

/** The answer to a connect with a ticket that was used before (the Worker passes it on as is). */
function ticketRefused(): Response {
  const body = { error: { code: 'ticket_invalid', message: ERRORS.ticket_invalid.message, retryable: false } };
  return new Response(JSON.stringify(body), { status: 401, headers: { 'content-type': 'application/json' } });
}
