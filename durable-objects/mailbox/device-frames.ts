/**
 * The user's device connections: the WebSocket upgrade (where a device starts), every frame a
 * device sends (messages, acks, reads, typing, presence watches) and closes. The mailbox
 * object hands its WebSocket hooks to this.
 */
import {
  CLOSE_CODES,
  CONNECT_TICKET_TTL_MS,
  ERRORS,
  parseClientFrame,
  type ActionFrame,
  type AckFrame,
  type GroupPullFrame,
  type GroupReadFrame,
  type GroupSendFrame,
  type GroupTypingFrame,
  type MarkUnreadFrame,
  type Message,
  type ReadFrame,
  type ResumeFrame,
  type SendFrame,
  type SentFrame,
  type TypingFrame,
} from '../../protocol/index.ts';
import { groupOf, mailboxOf } from '../stubs.ts';
import type { ConnectionState } from './connections.ts';
import type { MailboxCore } from './core.ts';
import { FrameError, errorFrame } from './frame-error.ts';
import { actOnGroup } from './group-actions.ts';
import { admitMedia } from './media-check.ts';
import type { StoredEntry, StoredMessage } from './store.ts';

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

export class DeviceFrames {
  constructor(private readonly core: MailboxCore) {}

  // ------------------------------------------------------------------ connection lifecycle

  connect(request: Request): Response {
    const { core } = this;
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
      if (!core.tickets.use(ticket, expiresAt, now)) return refused('ticket_invalid');
    }
    const { 0: client, 1: server } = new WebSocketPair();

    // A second connection of the same device replaces the first.
    core.connections.closeDevice(deviceId, CLOSE_CODES.replaced, 'replaced by a newer connection', { forget: false });

    const start = this.#startingPoint(deviceId, request.headers.get(CONNECT_HEADERS.cursor));
    let cursor = start.cursor;
    const expired = cursor < core.store.prunedThrough;
    if (expired) cursor = core.store.prunedThrough;

    const state: ConnectionState = { userId, deviceId, acked: cursor, sent: cursor, connectedAt: now };
    if (!start.acknowledges) state.unacknowledged = true;
    core.connections.accept(server, state);
    core.connections.sendDirect(server, { type: 'hello', userId, deviceId, cursor, head: core.store.head, serverTime: now });
    if (expired) core.connections.sendDirect(server, errorFrame(null, new FrameError('cursor_expired')));
    // Reconnecting with a cursor is an acknowledgement of everything up to it.
    if (start.acknowledges) core.acknowledge(deviceId, cursor);
    core.persistCursors(now);
    core.connections.refill(server, core.store);
    void core.flushReceipts();
    // A device is back: held pushes are being seen now; watchers may learn "online".
    core.notifier.clear();
    void core.presence.update(now);
    core.mirrorBlocksOnce();
    // Large groups: register as online with each, then tell the device how far each reaches.
    void core.largeGroups.connected(server);
    return new Response(null, { status: 101, webSocket: client });
  }

  /**
   * Where a device starts, and whether that point counts as its acknowledgement: the cursor it
   * asked for, else its saved cursor, else the start recorded when it was registered (owed
   * every entry since its login; no acknowledgement), else (a device registered before starts
   * were recorded) what no device has yet. Never below its history floor: a device registered
   * without history is never sent what came before its login, whatever cursor it names.
   */
  #startingPoint(deviceId: string, requested: string | null): { cursor: number; acknowledges: boolean } {
    const { core } = this;
    const saved = core.cursors.of(deviceId);
    const registered = saved === null ? core.starts.of(deviceId) : null;
    const floor = core.starts.floorOf(deviceId);
    const asked = requested === null ? NaN : Number(requested);
    let point: { cursor: number; acknowledges: boolean };
    if (Number.isSafeInteger(asked) && asked >= 0) {
      const cursor = Math.min(asked, core.store.head);
      // A device that never acked names at most its start: no acknowledgement of anything.
      point = { cursor, acknowledges: registered === null || cursor > registered.start };
    } else if (saved !== null) {
      point = { cursor: saved, acknowledges: true };
    } else if (registered !== null) {
      point = { cursor: registered.start, acknowledges: false };
    } else {
      // Registered before starts were recorded: it begins where no device is yet, and that is
      // recorded as its start (with all history, as such devices always had).
      const start = core.cursors.watermark;
      core.starts.record(deviceId, { start, floor: 0 }, Date.now());
      point = { cursor: start, acknowledges: false };
    }
    return point.cursor < floor ? { cursor: floor, acknowledges: point.acknowledges } : point;
  }

  async message(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    const { core } = this;
    const state = core.connections.state(ws);
    if (!state) return;
    core.presence.tracker.heard(ws, Date.now());
    const parsed = parseClientFrame(raw);
    if (!parsed.ok) {
      const { code, message, id } = parsed.error;
      core.connections.sendDirect(ws, errorFrame(id, new FrameError(code, message)));
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
          core.limits.resume(state.deviceId, Math.max(0, state.sent - frame.after));
          return this.#onResume(ws, state, frame);
        case 'group_send':
          return await this.#onGroupSend(ws, state, frame);
        case 'group_read':
          return await this.#onGroupRead(frame);
        case 'typing':
          return await this.#onTyping(state, frame);
        case 'group_typing':
          return this.#onGroupTyping(state, frame);
        case 'presence_watch':
          // Each watch asks every watched user's object; closing the chat (an empty list) is
          // free, so a device can always stop watching.
          if (frame.users.length > 0) core.limits.presenceWatch(state.deviceId);
          return await core.presence.watch(ws, state, frame.users);
        case 'active':
          return core.presence.tracker.recordActivity(Date.now());
        case 'action':
          return await this.#onAction(ws, state, frame);
        case 'mark_unread':
          return this.#onMarkUnread(state, frame);
        case 'group_pull':
          core.limits.groupPull(state.deviceId);
          return await this.#onGroupPull(ws, state, frame);
        case 'ping':
          // Only a byte-exact ping is auto-answered; answer variants here.
          return core.connections.sendDirect(ws, { type: 'pong' });
      }
    } catch (error) {
      if (!(error instanceof FrameError)) console.error('frame handling failed', error);
      const id = frame.type === 'send' || frame.type === 'group_send' || frame.type === 'action' || frame.type === 'group_pull' ? frame.id : null;
      core.connections.sendDirect(ws, errorFrame(id, error, frame.type));
    }
  }

  async closed(ws: WebSocket, code: number): Promise<void> {
    const { core } = this;
    const state = core.connections.state(ws);
    if (state) {
      // After an eviction the in-memory cursors are gone, but the socket still knows its own.
      core.recordCursor(state);
      core.persistCursors(Date.now());
    }
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, 'closing');
    } catch {
      // The runtime may already have completed the close handshake.
    }
    await core.presence.update(Date.now(), ws);
  }

  // ------------------------------------------------------------------ frames

  async #onGroupPull(ws: WebSocket, state: ConnectionState, frame: GroupPullFrame): Promise<void> {
    const { core } = this;
    core.connections.sendDirect(ws, await core.largeGroups.pull(frame, core.starts.historySince(state.deviceId)));
  }

  async #onSend(ws: WebSocket, state: ConnectionState, frame: SendFrame): Promise<void> {
    const { core } = this;
    // Memory only (see FrameLimits): no write and no call is added to a message.
    core.limits.send(state.deviceId, frame.id);
    // A reply quotes this user's copy of the original: an archived one comes back first.
    if (frame.replyTo !== undefined) await core.history.ensureHot(`d:${frame.to}`, frame.replyTo);
    if (frame.forward !== undefined) {
      await core.history.ensureHot(null, frame.forward);
      await core.originals.find(frame.forward);
    }
    // The answer is merged with the sender's copy when this connection is caught up: one frame
    // (`sent` with `seq` and `message`) instead of the copy's `message` entry and then `sent`.
    // It goes out where the entry would have been pushed, so nothing later overtakes it, and
    // after the copy was written in this event (the output gate holds it until that commit).
    let answered = false;
    const answerWithCopy = (entry: StoredEntry, copy: Message, atRecipient: StoredMessage): void => {
      const merged: SentFrame = { ...sentFrame(frame, atRecipient), seq: entry.seq, message: copy };
      answered = core.connections.sendInPlaceOf(ws, entry.seq, JSON.stringify(merged));
    };
    let stored: StoredMessage;
    try {
      stored = await core.outgoing.send({ userId: state.userId, deviceId: state.deviceId, answerWithCopy }, frame);
    } finally {
      // After the send, not before: written before the call to the recipient, the activity time
      // was a commit of its own; here it rides in the commit of the sender's copy.
      core.presence.tracker.recordActivity(Date.now());
    }
    if (!answered) core.connections.sendDirect(ws, sentFrame(frame, stored));
  }

  #onAck(ws: WebSocket, state: ConnectionState, frame: AckFrame): void {
    const { core } = this;
    if (frame.upTo > state.sent) {
      throw new FrameError('invalid_ack', `Acked ${frame.upTo} but only ${state.sent} was sent on this connection`);
    }
    if (frame.upTo <= state.acked) return;
    const { unacknowledged: _start, ...acked } = state;
    core.connections.save(ws, { ...acked, acked: frame.upTo });
    core.acknowledge(state.deviceId, frame.upTo);
    core.connections.refill(ws, core.store);
  }

  /** Gap repair: rewind this connection to `after` (never below the device's history floor) and send from there again. */
  #onResume(ws: WebSocket, state: ConnectionState, frame: ResumeFrame): void {
    const { core } = this;
    if (frame.after > state.sent) {
      throw new FrameError('invalid_ack', `Cannot resume after ${frame.after}: only ${state.sent} was sent`);
    }
    let after = Math.max(frame.after, core.starts.floorOf(state.deviceId));
    if (after < core.store.prunedThrough) {
      core.connections.sendDirect(ws, errorFrame(null, new FrameError('cursor_expired')));
      after = core.store.prunedThrough;
    }
    core.connections.save(ws, { ...state, acked: Math.min(state.acked, after), sent: after });
    core.connections.refill(ws, core.store);
  }

  /**
   * The user read a 1:1 chat: marked read here and on the user's other devices; the sender gets
   * read receipts only while this user's read receipts are on (reads made while off are never
   * announced, also not after turning them back on).
   */
  #onRead(frame: ReadFrame): void {
    const { core } = this;
    const now = Date.now();
    core.presence.tracker.recordActivity(now);
    const upTo = Math.min(frame.upTo, core.store.head);
    // A chat marked unread is read now: the user's devices drop the mark (one cheap statement when it was not marked).
    if (core.store.chats.clearMarkedUnread(frame.peer)) {
      core.appendAndPublish({ type: 'chat_marker', chat: { kind: 'direct', peer: frame.peer }, unread: false, at: now });
    }
    const clientIds = core.store.markRead(frame.peer, upTo);
    if (clientIds.length === 0) return;
    const announce = core.settings.privacy.readReceipts;
    if (announce) core.receipts.enqueue([{ peer: frame.peer, status: 'read', clientIds, at: now }]);
    // The user's other devices learn the conversation was read (multi-device).
    core.publish([core.store.append({ type: 'read_marker', peer: frame.peer, upTo, at: now }, now)]);
    if (announce) void core.flushReceipts();
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
    const { core } = this;
    core.limits.groupSend(state.deviceId, frame.id);
    core.presence.tracker.recordActivity(Date.now());
    // A forward's hops come from this user's copy of the original (an archived one comes back
    // first); a reply's quote from the group's log.
    if (frame.forward !== undefined) {
      await core.history.ensureHot(null, frame.forward);
      await core.originals.find(frame.forward);
    }
    const forwarded = frame.forward === undefined ? undefined : core.originals.forwardHops(frame.forward, frame.body);
    const input = {
      sender: state.userId,
      device: state.deviceId,
      clientId: frame.id,
      body: frame.body,
      ...(frame.replyTo === undefined ? {} : { replyTo: frame.replyTo }),
      ...(forwarded === undefined ? {} : { forwarded }),
    };
    const result = await core.groups.post(frame.group, input, {
      admit: async () => {
        // A made-up group id reaches no object (each would be one more object).
        if (!(await core.peers.groupExists(frame.group))) throw new FrameError('group_not_found');
        core.limits.groupAdmit(state.deviceId, frame.id);
        // A body naming media: checked, and the group granted, before the group stores it.
        await admitMedia(core.env.DB, state.userId, frame.body, { kind: 'group', id: frame.group }, Date.now());
      },
      posted: (audience) => core.limits.groupPosted(audience),
    });
    if (!result.ok) throw new FrameError(result.code, result.message ?? undefined);
    const { messageId, gseq, sentAt, duplicate } = result.value;
    core.connections.sendDirect(ws, { type: 'group_sent', id: frame.id, group: frame.group, messageId, gseq, sentAt, duplicate });
  }

  /**
   * An action on a message (react, edit, delete, star). It costs a send: reactions, edits and
   * deletions for everyone are stored and delivered like messages (star and delete-for-me only
   * here, but they are entries for every device too). Answered once every copy it applies to has it.
   */
  async #onAction(ws: WebSocket, state: ConnectionState, frame: ActionFrame): Promise<void> {
    const { core } = this;
    const { chat } = frame;
    const local = frame.action.kind === 'star' || (frame.action.kind === 'delete' && frame.action.scope === 'me');
    if (chat.kind === 'group' && !local) core.limits.groupSend(state.deviceId, frame.id);
    else core.limits.send(state.deviceId, frame.id);
    core.presence.tracker.recordActivity(Date.now());
    // An action on an archived message brings this user's copy back first (history-tiers.ts).
    await core.history.ensureHot(chat.kind === 'direct' ? `d:${chat.peer}` : `g:${chat.group}`, frame.target);
    let done: { duplicate: boolean };
    if (chat.kind === 'direct') {
      if (chat.peer === state.userId) throw new FrameError('self_message');
      done = await core.actions.act({ ...frame, chat });
    } else {
      done = await actOnGroup(core, state, { ...frame, chat });
    }
    core.connections.sendDirect(ws, { type: 'acted', id: frame.id, chat, target: frame.target, duplicate: done.duplicate });
  }

  /** Mark a chat unread (or clear the mark): a `chat_marker` entry for every device. Reading the chat clears it too. */
  #onMarkUnread(state: ConnectionState, frame: MarkUnreadFrame): void {
    const { core } = this;
    core.limits.chatMarker(state.deviceId);
    const { chat, unread } = frame;
    const now = Date.now();
    if (chat.kind === 'direct') {
      const changed = core.store.chats.markUnread(chat.peer, unread);
      if (changed === null) throw new FrameError('not_found', 'No chat with that user');
      if (changed) core.appendAndPublish({ type: 'chat_marker', chat, unread, at: now });
      return;
    }
    if (!core.groupInbox.knows(chat.group)) throw new FrameError('group_not_found');
    const entry = core.groupInbox.markUnread(chat.group, unread, now);
    if (entry) core.publish([entry]);
  }

  /**
   * The user read a group: marked here and on the other devices; the group counts it only while
   * read receipts are on. By mailbox seq (`upTo`), or by gseq (`gseq`): a large group's log has
   * no mailbox seq, so its group object clamps the read to what this user may see.
   */
  async #onGroupRead(frame: GroupReadFrame): Promise<void> {
    const { core } = this;
    if ((frame.upTo === undefined) === (frame.gseq === undefined)) throw new FrameError('validation_failed', 'group_read needs exactly one of upTo and gseq');
    const now = Date.now();
    core.presence.tracker.recordActivity(now);
    const relay = core.settings.privacy.readReceipts;
    // Any read clears "marked unread", whether or not it moves the watermark; the devices are told.
    const unmarkedBefore = core.groupInbox.markUnread(frame.group, false, now);
    if (unmarkedBefore) core.publish([unmarkedBefore]);
    if (frame.upTo !== undefined) {
      const upTo = Math.min(frame.upTo, core.store.head);
      if (core.groups.read(frame.group, upTo, relay) === null) return;
      core.publish([core.store.append({ type: 'group_read_marker', group: frame.group, upTo, at: now }, now)]);
      void core.flushReceipts();
      return;
    }
    const gseq = await core.groups.readThrough(frame.group, frame.gseq!, relay);
    if (gseq === null) return;
    const upTo = core.groupInbox.seqThrough(frame.group, gseq);
    core.publish([core.store.append({ type: 'group_read_marker', group: frame.group, upTo, gseq, at: now }, now)]);
    void core.flushReceipts();
  }

  /**
   * Relay "typing" to the peer's connected devices (fire and forget: it is ephemeral). Each
   * relayed frame costs the device's typing budgets; over them the frame is dropped without an
   * answer: an indicator that is late is worthless, so there is nothing to retry. A peer that
   * does not exist is refused (`user_not_found`), so no object is ever created for a made-up id;
   * that check is a D1 read once per peer, after the budget, so unknown ids cannot flood D1.
   */
  async #onTyping(state: ConnectionState, frame: TypingFrame): Promise<void> {
    const { core } = this;
    if (frame.to === state.userId) throw new FrameError('self_message');
    if (!core.limits.typing(state.deviceId, `user:${frame.to}`, frame.state)) return;
    if (!(await core.peers.userExists(frame.to))) throw new FrameError('user_not_found');
    // Ephemeral: a relay that fails is not retried, but it is logged (a lost notice was seen
    // under two test suites at once and never explained).
    mailboxOf(core.env, frame.to)
      .typingNotice(state.userId, null, frame.state)
      .catch((error: unknown) => console.warn('typing relay failed', error));
  }

  /** Typing in a group: only in groups this mailbox knows (others are refused without asking any object). */
  #onGroupTyping(state: ConnectionState, frame: GroupTypingFrame): void {
    const { core } = this;
    if (!core.groupInbox.knows(frame.group)) throw new FrameError('group_not_found');
    if (!core.limits.typing(state.deviceId, `group:${frame.group}`, frame.state)) return;
    groupOf(core.env, frame.group)
      .typing(state.userId, frame.state)
      .catch(() => undefined);
  }
}

/** The plain answer to `frame` (no `seq`, no `message`). */
function sentFrame(frame: SendFrame, stored: StoredMessage): SentFrame {
  return { type: 'sent', id: frame.id, messageId: stored.id, to: frame.to, sentAt: stored.sentAt, duplicate: stored.duplicate };
}

/** A refused connect, as an error body the Worker passes on as is. */
export function refused(code: 'ticket_invalid' | 'device_revoked'): Response {
  const { status, message, retryable } = ERRORS[code];
  return new Response(JSON.stringify({ error: { code, message, retryable } }), { status, headers: { 'content-type': 'application/json' } });
}
