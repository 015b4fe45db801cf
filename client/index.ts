/**
 * The messenger SDK: `MessengerClient` ties the session, the HTTP API, the self-healing
 * WebSocket connection and the local outbox into one object an app (web client, CLI, tests)
 * talks to. This module is the SDK's public surface; the parts live in:
 * - messenger-client.ts: `MessengerClient` (client-types.ts: its options and events);
 * - session.ts: the session (access token + single-use refresh token), renewed one at a time;
 * - http.ts (+ account-api.ts, groups-api.ts, transport.ts): `MessengerApi`, a typed method per endpoint;
 * - connection.ts: the WebSocket state machine (tickets, reconnects, exactly-once mailbox), driving
 *   socket-transport.ts (socket, heartbeats), frame-codec.ts, mailbox-sequencer.ts and cursor-store.ts
 *   (connection-types.ts: its options and events);
 * - sender.ts and outbox.ts (+ outbox-entries.ts, outbox-store.ts): what is sent when, and what
 *   survives until the server confirms it (sends and message actions alike);
 * - actions.ts, actions-client.ts: replies, forwards, reactions, edits, deletions, stars;
 *   chat-markers.ts: read markers and "mark unread"; mailbox-events.ts: mailbox entries → events;
 * - media-api.ts (+ media-uploader.ts, media-upload.ts): `MediaApi` (`client.media`): upload with
 *   progress, dedup and resume, download, signed URLs; media-sender.ts: `sendMedia`, uploads
 *   retried until done, then the message through the outbox.
 *
 * Runs anywhere with standard APIs only: global `fetch`, global `WebSocket`, `crypto`, timers.
 *
 * What the app gets:
 * - a session that stays logged in: the short-lived access token is renewed with the refresh
 *   token before it expires (or when a request finds it expired, then the request is retried
 *   once), one renewal at a time; every change goes to `onSession` to persist, and an end the
 *   app did not ask for (refresh refused, device logged out, account deleted) is 'session_ended';
 * - every mailbox entry exactly once, in order, acked for it: 1:1 ('message', 'receipt',
 *   'read_marker'), group ('group_message', 'group_event', 'group_receipt',
 *   'group_read_marker'), invites ('group_invite') and account events ('account_event': a new
 *   device logged in, ...) share one ordered stream;
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
 * - message actions with the outbox semantics of sends (`react`, `edit`, `deleteForEveryone`,
 *   `deleteForMe`, `star`: `done` resolves on 'acted'), replies and forwards as sends, and every
 *   change to a message as 'message_update' / 'group_message_update' carrying the whole message;
 * - presence of the users it watches ('presence', `presenceOf`), re-subscribed after every
 *   reconnect, and `active` ("the user is here") after every hello unless `activeOnConnect` is
 *   false; `TypingIndicators` turns 'typing_notice' events into "who is typing where".
 *
 * @example
 * const client = new MessengerClient({ baseUrl: 'http://localhost:8787', session: load(), onSession: save });
 * if (client.session === null) {
 *   await client.login('+15551234567');          // dev server: uses the returned devCode
 *   // or, with a real SMS provider:
 *   // const otp = await client.requestCode('+15551234567');
 *   // const answer = await client.completeLogin({ phone: otp.phone, challenge: otp.challenge, code: typedCode });
 *   // if ('pinRequired' in answer) await client.enterPin(answer.pinChallenge, typedPin);
 * }
 * client.on('message', ({ message, own }) => render(message, own));
 * client.on('group_message', ({ message, own }) => renderInGroup(message.group, message, own));
 * client.on('session_ended', () => showLogin());
 * await client.connect();
 * const { sent } = client.sendText(peerId, 'hello');
 * await sent;                                     // one tick
 * const group = await client.api.createGroup({ title: 'Team', members: [peerId] });
 * await client.sendGroupText(group.groupId, 'hello all').sent;
 */
export * from './actions.ts';
export * from './actions-client.ts';
export * from './backoff.ts';
export * from './client-types.ts';
export * from './connection.ts';
export * from './connection-types.ts';
// Only the app-facing parts of these; the rest are the connection's internals.
export { MemoryCursorStore } from './cursor-store.ts';
export type { CursorStore } from './cursor-store.ts';
export type { LargeGroupCursorStore } from './large-groups.ts';
export { connectUrl } from './socket-transport.ts';
export type { SocketCloseEvent, SocketMessageEvent, WebSocketConstructor, WebSocketLike } from './socket-transport.ts';
export * from './events.ts';
export * from './http.ts';
export * from './media-api.ts';
export { MediaSender, mediaMessageBody } from './media-sender.ts';
export type {
  MediaMessageKind,
  MediaSendHost,
  MediaSenderOptions,
  MediaSendInput,
  MediaTarget,
  PendingMediaSend,
  PendingUpload,
  UploadFailed,
  UploadProgressEvent,
} from './media-sender.ts';
export { checkMediaUpload, partRanges, sha256Hex } from './media-upload.ts';
export type { PartRange } from './media-upload.ts';
export * from './messenger-client.ts';
export * from './outbox.ts';
export * from './session.ts';
export * from './typing.ts';
export type {
  AccountEvent,
  AccountEventFrame,
  ActedFrame,
  Action,
  ActionFrame,
  ActionSummary,
  ChatMarkerFrame,
  ChatRef,
  DeletedBody,
  EditRecord,
  GroupMessageUpdateFrame,
  GroupUpdate,
  MarkUnreadFrame,
  MessageUpdateFrame,
  Quote,
  Reaction,
  StoredBody,
  AddContact,
  BlockedUser,
  BlockList,
  Contact,
  ContactList,
  Conversation,
  ConversationList,
  CreateGroup,
  CreateLink,
  Device,
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
  GroupInvite,
  GroupInviteFrame,
  GroupLink,
  GroupList,
  GroupListQuery,
  GroupMember,
  GroupMemberPage,
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
  InviteList,
  JoinRequest,
  JoinRequestList,
  JoinResult,
  LinkPreview,
  MailboxFrame,
  MediaBody,
  MediaInfo,
  MediaKind,
  MediaRef,
  MediaUrl,
  Message,
  MessageBody,
  MessageFrame,
  MessageInfo,
  MessageStatus,
  OtpResponse,
  PendingInvite,
  PinLogin,
  PinRequiredResponse,
  PinResetResponse,
  PinStatus,
  Platform,
  PresenceFrame,
  Profile,
  ProfileUpdate,
  ReadMarkerFrame,
  ReceiptFrame,
  RemovePin,
  SentFrame,
  SessionResponse,
  SetPin,
  TypingNoticeFrame,
  TypingState,
  UpdateGroup,
  VerifyResponse,
} from '../protocol/index.ts';
