/**
 * How `MessengerClient` turns each mailbox entry (exactly once, in seq order, from connection.ts)
 * into its app-facing event, with the flags an app needs: `own` (you did it, from any of your
 * devices) and, for messages, `local` (sent through this client's outbox). An echo of your own
 * message also confirms its send, in case the `sent` answer was lost with an old socket.
 */
import type {
  GroupMessageFrame,
  GroupMessageUpdateFrame,
  GroupSentFrame,
  MailboxFrame,
  MessageFrame,
  MessageUpdateFrame,
  SentFrame,
} from '../protocol/index.ts';
import type { MessengerEvents } from './client-types.ts';

/** What the router needs of the client. */
export interface MailboxEventsHost {
  /** The logged-in user, once known. */
  userId(): string | undefined;
  emit<K extends keyof MessengerEvents>(event: K, payload: MessengerEvents[K]): boolean;
  /** Whether this client id is pending in the outbox. */
  isPending(clientId: string): boolean;
  /** Whether this client id was sent through this client's outbox (pending or confirmed in this session). */
  isLocal(clientId: string): boolean;
  /** Confirm a pending send (its echo stands in for a lost answer). */
  settle(frame: SentFrame | GroupSentFrame): void;
}

/**
 * Emit the event for one mailbox entry.
 *
 * @example
 * connection.on('mailbox', (frame) => routeMailboxFrame(frame, host));
 */
export function routeMailboxFrame(frame: MailboxFrame, host: MailboxEventsHost): void {
  switch (frame.type) {
    case 'message':
      onMessage(frame, host);
      return;
    case 'group_message':
      onGroupMessage(frame, host);
      return;
    case 'message_update':
      onMessageUpdate(frame, host);
      return;
    case 'group_message_update':
      onGroupMessageUpdate(frame, host);
      return;
    case 'receipt':
      host.emit('receipt', frame);
      return;
    case 'read_marker':
      host.emit('read_marker', frame);
      return;
    case 'group_event':
      host.emit('group_event', frame);
      return;
    case 'group_receipt':
      host.emit('group_receipt', frame);
      return;
    case 'group_read_marker':
      host.emit('group_read_marker', frame);
      return;
    case 'group_invite':
      host.emit('group_invite', frame);
      return;
    case 'account_event':
      host.emit('account_event', frame);
      return;
    case 'chat_marker':
      host.emit('chat_marker', frame);
      return;
    default: {
      // Compile-time check: a new mailbox entry type must get its own event above.
      const unhandled: never = frame;
      return unhandled;
    }
  }
}

function isMe(host: MailboxEventsHost, userId: string): boolean {
  const me = host.userId();
  return me !== undefined && userId === me;
}

function onMessage(frame: MessageFrame, host: MailboxEventsHost): void {
  const message = frame.message;
  const own = isMe(host, message.from);
  const local = own && host.isLocal(message.clientId);
  if (own && host.isPending(message.clientId)) {
    // Our own message's echo proves it was stored even if its `sent` answer was lost with the
    // old socket: confirm it now rather than waiting for the resend's answer.
    host.settle({
      type: 'sent',
      id: message.clientId,
      messageId: message.id,
      to: message.to,
      sentAt: message.sentAt,
      duplicate: false,
    } satisfies SentFrame);
  }
  host.emit('message', { frame, message, seq: frame.seq, own, local });
}

function onGroupMessage(frame: GroupMessageFrame, host: MailboxEventsHost): void {
  const message = frame.message;
  const own = isMe(host, message.from);
  const local = own && host.isLocal(message.clientId);
  if (own && host.isPending(message.clientId)) {
    // As for 1:1: the echo proves the group's log stored it, even if `group_sent` was lost.
    host.settle({
      type: 'group_sent',
      id: message.clientId,
      group: message.group,
      messageId: message.id,
      gseq: message.gseq,
      sentAt: message.sentAt,
      duplicate: false,
    } satisfies GroupSentFrame);
  }
  host.emit('group_message', { frame, message, seq: frame.seq, group: message.group, own, local });
}

function onMessageUpdate(frame: MessageUpdateFrame, host: MailboxEventsHost): void {
  host.emit('message_update', { frame, message: frame.message, seq: frame.seq, by: frame.by, action: frame.action, own: isMe(host, frame.by) });
}

function onGroupMessageUpdate(frame: GroupMessageUpdateFrame, host: MailboxEventsHost): void {
  const message = frame.message;
  host.emit('group_message_update', {
    frame,
    message,
    seq: frame.seq,
    group: message.group,
    by: frame.by,
    action: frame.action,
    own: isMe(host, frame.by),
  });
}
