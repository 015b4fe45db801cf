/**
 * The types of `MessengerClient`'s surface: its options, the events it emits and their payloads.
 */
import type {
  AccountEventFrame,
  ActedFrame,
  ActionSummary,
  ChatMarkerFrame,
  GroupEventFrame,
  GroupInviteFrame,
  GroupMessage,
  GroupMessageFrame,
  GroupMessageUpdateFrame,
  GroupReadMarkerFrame,
  GroupReceiptFrame,
  GroupSentFrame,
  HelloFrame,
  Message,
  MessageFrame,
  MessageUpdateFrame,
  Platform,
  PresenceFrame,
  ReadMarkerFrame,
  ReceiptFrame,
  SentFrame,
  TypingNoticeFrame,
  GroupEntry,
} from '../protocol/index.ts';
import type { BackoffOptions } from './backoff.ts';
import type { ConnectionTuning, CursorExpiredEvent, ReconnectScheduled, StateChange } from './connection-types.ts';
import type { CursorStore } from './cursor-store.ts';
import type { LargeGroupCursorStore } from './large-groups.ts';
import type { MediaApiOptions } from './media-api.ts';
import type { UploadFailed, UploadProgressEvent } from './media-sender.ts';
import type { ActionOutboxEntry, OutboxEntry, OutboxStore } from './outbox.ts';
import type { SessionEnded, StoredSession } from './session.ts';
import type { WebSocketConstructor } from './socket-transport.ts';
import type { FetchLike, MessengerError } from './transport.ts';

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

/** Payload of the 'group_log_entry' event. */
export interface GroupLogEntry {
  group: string;
  /** The entry's position in the group's log. */
  gseq: number;
  entry: GroupEntry;
  /** You sent the message, made the change or acted (from any of your devices). */
  own: boolean;
  /**
   * A message sent through this client's outbox (its `group_sent` came first): the app already
   * shows it, so merge by `message.clientId` (see MessageReceived.local).
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

/** Payload of the 'message_update' event: a 1:1 message changed (reaction, edit, deletion, star). */
export interface MessageUpdated {
  frame: MessageUpdateFrame;
  /**
   * The whole message as it is now on your copy: replace yours when its `rev` is higher (absent
   * = 0). It may be one this device does not have (not loaded, or before its login).
   */
  message: Message;
  seq: number;
  /** Who acted (the sender for edits and recalls; you for stars and deletions for you). */
  by: string;
  action: ActionSummary;
  /** You acted (from this or another of your devices). */
  own: boolean;
}

/** Payload of the 'group_message_update' event (see {@link MessageUpdated}). */
export interface GroupMessageUpdated {
  frame: GroupMessageUpdateFrame;
  message: GroupMessage;
  seq: number;
  /** Shortcut for `message.group`. */
  group: string;
  /** Who acted: the sender, a reacting member, an admin deleting for everyone, or you. */
  by: string;
  action: ActionSummary;
  own: boolean;
}

/** Payload of the 'action_failed' event: the server refused a message action for good (its `done` rejects with the same error). */
export type ActionFailed = ActionOutboxEntry & { error: MessengerError };

/** Payload of the 'action_delayed' event: an action was refused for now; it stays pending like a delayed send. */
export type ActionDelayed = ActionOutboxEntry & { error: MessengerError; retryAt: number };

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
  /** Reply: the server id of a message of the same chat to quote (the server stores its snippet as `replyTo`). */
  replyTo?: string;
}

/** Options for a message action (react, edit, delete, star). */
export interface ActionOptions {
  /** Use this client id instead of a fresh one (e.g. to retry an action made in an earlier session). */
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
  /**
   * Someone invited you to a group (they may not add you directly: your `privacy.groups`).
   * Nothing from the group arrives unless you accept (`api.acceptInvite`); `api.invites()`
   * lists the invites still open. In seq order with every other mailbox entry.
   */
  group_invite: GroupInviteFrame;
  /**
   * Something happened to your account, for all your devices: a device logged in
   * (`device_added`: show "new login on <name>"), one was removed, the PIN changed or a PIN
   * reset was requested. In seq order with every other mailbox entry.
   */
  account_event: AccountEventFrame;
  /**
   * A 1:1 message changed: a reaction, an edit, a deletion (for everyone, or for you on another
   * device), a star on another device. Carries the whole message as it is now: replace your copy
   * when its `rev` is higher. In seq order with every other mailbox entry.
   */
  message_update: MessageUpdated;
  /** A group message changed (as `message_update`; admins may delete anyone's message). */
  group_message_update: GroupMessageUpdated;
  /** A chat was marked unread (or the mark cleared) on one of your devices (`markUnread`). */
  chat_marker: ChatMarkerFrame;
  /**
   * An entry of a large group after its switch to read diffusion (the switch itself is a
   * `group_event` with change `delivery_changed`): not a mailbox entry, so no `seq`; exactly once
   * per client object and in gseq order per group. The SDK pulls and resumes these itself.
   */
  group_log_entry: GroupLogEntry;
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
  /** A message action (react, edit, delete, star) was stored by the server (once per client id). */
  acted: ActedFrame;
  /** A message action was rejected for good, e.g. `edit_window_passed` (its `done` rejects with the same error). */
  action_failed: ActionFailed;
  /** A message action was refused for now (e.g. `rate_limited`): it stays pending, like a delayed send. */
  action_delayed: ActionDelayed;
  /** A 1:1 or group send was rejected for good (its promise rejects with the same error). */
  failed: SendFailed;
  /**
   * A send was refused for now (e.g. `rate_limited`): it stays pending and all sending pauses
   * until `retryAt` (show "sending in 12 s"); then it goes out again with the same client id.
   */
  send_delayed: SendDelayed;
  /** A media send's upload progressed (`sendMedia` / `sendGroupMedia`): bytes confirmed of `total`. */
  upload_progress: UploadProgressEvent;
  /** A media send's upload failed for good or was cancelled: no message is sent (its promises reject). */
  upload_failed: UploadFailed;
  /** Mailbox entries you never saw were discarded by the server: refetch history. */
  cursor_expired: CursorExpiredEvent;
  /**
   * The session ended without the app asking: renewing it was refused (`refresh_invalid`,
   * `session_expired`), the device was logged out elsewhere (`device_revoked`) or the account was
   * deleted. The client is closed and `session` is null (`onSession(null)` was called): show
   * the login screen. Never emitted for `logout()` or `deleteAccount()`.
   */
  session_ended: SessionEnded;
  /** Something went wrong that did not stop the client (malformed frame, store failure, ...). */
  error: MessengerError;
}

/** Options for {@link MessengerClient}. Timing knobs are those of the connection. */
export interface MessengerClientOptions extends ConnectionTuning {
  /** Server origin, e.g. `https://chat.example.com` (WebSocket URL is derived from it). */
  baseUrl: string;
  /**
   * The session persisted from an earlier run (what `onSession` handed out). Its token is
   * renewed automatically with its refresh token: before it expires, or when a request or
   * connect ticket is refused with `token_expired` (once, then that request is retried once).
   */
  session?: StoredSession | null;
  /**
   * Called whenever the session changes: after a login, after every renewal (the refresh token
   * rotates: persist the new one, the old one is spent), and with null when it ends (logout,
   * account deletion, or `session_ended`). Persist what it gives to stay logged in.
   *
   * @example
   * onSession: (s) => (s === null ? localStorage.removeItem('session') : localStorage.setItem('session', JSON.stringify(s)))
   */
  onSession?: (session: StoredSession | null) => void;
  /**
   * How a session is renewed. Default `POST /v1/auth/refresh` with its refresh token. Apps whose
   * several processes share one persisted session (a CLI) supply their own, to renew it once
   * for all of them (re-reading what another process renewed, under a lock).
   */
  refreshSession?: (session: StoredSession) => Promise<StoredSession>;
  /** A bare bearer token, which cannot be renewed (tests, scripts); prefer `session`. */
  token?: string;
  fetch?: FetchLike;
  WebSocket?: WebSocketConstructor;
  /** Persist the mailbox cursor (scope it to the device!). Default: memory. */
  cursorStore?: CursorStore;
  /** Persist unsent messages and message actions. Default: memory. */
  outboxStore?: OutboxStore;
  /**
   * Persist this device's gseq cursor per large group (scope it to the device, like `cursorStore`).
   * Default: memory (a new client object pulls each large group again from its switch).
   */
  largeGroupCursorStore?: LargeGroupCursorStore;
  /** Client message id generator. Default: `generateClientId`. */
  generateId?: () => string;
  /** HTTP timeout, ms. Default 15 000. */
  requestTimeoutMs?: number;
  /** Pauses after a send the server refused with a retryable error that names no `retryAfterMs`. */
  sendRetry?: BackoffOptions;
  /** Tuning of `client.media` (transfer timeout, parts at a time, upload retries and their backoff). */
  media?: Pick<MediaApiOptions, 'transferTimeoutMs' | 'partConcurrency' | 'uploadRetries' | 'uploadBackoff'>;
  /** Pauses between attempts of a `sendMedia` upload that failed with a retryable error. Default base 1 s, cap 30 s. */
  uploadRetry?: BackoffOptions;
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
