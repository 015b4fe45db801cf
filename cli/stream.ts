/**
 * The live event stream of `listen --json` and `chat --json`: the SDK's events as JSON lines in
 * the protocol's own shapes (docs/PROTOCOL.md), optionally limited to one conversation.
 */
import type { ActedFrame, ActionSummary, ChatMarkerFrame, ChatRef, GroupEntry } from '../protocol/index.ts';
import type {
  AccountEventFrame,
  GroupEventFrame,
  GroupInviteFrame,
  GroupReadMarkerFrame,
  GroupReceiptFrame,
  GroupSentFrame,
  Message,
  GroupMessage,
  MessengerClient,
  ReadMarkerFrame,
  ReceiptFrame,
  SentFrame,
  TypingNoticeFrame,
} from '../client/index.ts';

/** One line of the stream. */
export type StreamEvent =
  | { type: 'message'; seq: number; message: Message; own: boolean }
  | { type: 'group_message'; seq: number; message: GroupMessage; own: boolean }
  /** A 1:1 message changed (reaction, edit, deletion, star): `message` is the whole message now. */
  | { type: 'message_update'; seq: number; by: string; action: ActionSummary; at: number; message: Message; own: boolean }
  | { type: 'group_message_update'; seq: number; gseq: number | null; by: string; action: ActionSummary; at: number; message: GroupMessage; own: boolean }
  /**
   * An entry of a large group's log (read diffusion: after the group's switch its entries are not
   * mailbox entries, so they have no `seq`): a message, a system event or an update of a message,
   * in gseq order, each once.
   */
  | LogEntryEvent
  | ChatMarkerFrame
  | ActedFrame
  /** A message action the server refused for good. */
  | { type: 'action_failed'; clientId: string; chat: ChatRef; target: string; error: { code: string; message: string } }
  | ReceiptFrame
  | ReadMarkerFrame
  | GroupEventFrame
  | GroupReceiptFrame
  | GroupReadMarkerFrame
  | GroupInviteFrame
  | AccountEventFrame
  | TypingNoticeFrame
  | SentFrame
  | GroupSentFrame
  | { type: 'failed'; clientId: string; to: string | null; group: string | null; error: { code: string; message: string } }
  /** A send refused for now (rate limited): it stays queued; sending resumes at `retryAt`. */
  | {
      type: 'send_delayed';
      clientId: string;
      to: string | null;
      group: string | null;
      retryAt: number;
      error: { code: string; message: string; retryAfterMs: number | null };
    }
  | { type: 'cursor_expired'; message: string };

/** A `group_log_entry` line. */
export type LogEntryEvent = { type: 'group_log_entry'; group: string; gseq: number; entry: GroupEntry; own: boolean };

/** One conversation: a 1:1 chat with `peer`, or a group. */
export type ConversationRef = { kind: 'direct'; peer: string } | { kind: 'group'; group: string };

function sameChat(a: ChatRef, b: ConversationRef): boolean {
  return a.kind === 'direct' ? b.kind === 'direct' && a.peer === b.peer : b.kind === 'group' && a.group === b.group;
}

/** Whether `event` belongs to `conversation` (as seen by user `me`). */
export function inConversation(event: StreamEvent, conversation: ConversationRef, me: string): boolean {
  if (event.type === 'chat_marker' || event.type === 'acted' || event.type === 'action_failed') return sameChat(event.chat, conversation);
  if (conversation.kind === 'direct') {
    const peer = conversation.peer;
    switch (event.type) {
      case 'message':
      case 'message_update':
        return (event.message.from === peer && event.message.to === me) || (event.message.from === me && event.message.to === peer);
      case 'receipt':
        return event.by === peer;
      case 'read_marker':
        return event.peer === peer;
      case 'typing_notice':
        return event.group === null && event.from === peer;
      case 'sent':
      case 'failed':
      case 'send_delayed':
        return event.to === peer;
      case 'cursor_expired':
        return true;
      default:
        return false;
    }
  }
  const group = conversation.group;
  switch (event.type) {
    case 'group_message':
    case 'group_message_update':
      return event.message.group === group;
    case 'group_event':
      return event.event.group === group;
    case 'group_log_entry':
      return event.group === group;
    case 'group_receipt':
    case 'group_read_marker':
    case 'group_sent':
    case 'failed':
    case 'send_delayed':
    case 'typing_notice':
      return event.group === group;
    case 'cursor_expired':
      return true;
    default:
      return false;
  }
}

/**
 * Call `onEvent` for every event of the client, in order. Echoes of messages this process sent
 * are left out (their `sent` / `group_sent` line says the same). Returns an unsubscribe function.
 */
export function subscribeEvents(client: MessengerClient, onEvent: (event: StreamEvent) => void): () => void {
  const offs = [
    client.on('message', ({ message, seq, own, local }) => {
      if (!local) onEvent({ type: 'message', seq, message, own });
    }),
    client.on('group_message', ({ message, seq, own, local }) => {
      if (!local) onEvent({ type: 'group_message', seq, message, own });
    }),
    client.on('message_update', ({ frame, own }) => onEvent({ ...frame, own })),
    client.on('group_message_update', ({ frame, own }) => onEvent({ ...frame, own })),
    client.on('group_log_entry', ({ group, gseq, entry, own, local }) => {
      if (!local) onEvent({ type: 'group_log_entry', group, gseq, entry, own });
    }),
    client.on('chat_marker', onEvent),
    client.on('acted', onEvent),
    client.on('action_failed', (failed) =>
      onEvent({
        type: 'action_failed',
        clientId: failed.clientId,
        chat: failed.chat,
        target: failed.target,
        error: { code: failed.error.code, message: failed.error.message },
      }),
    ),
    client.on('receipt', onEvent),
    client.on('read_marker', onEvent),
    client.on('group_event', onEvent),
    client.on('group_receipt', onEvent),
    client.on('group_read_marker', onEvent),
    client.on('group_invite', onEvent),
    client.on('account_event', onEvent),
    client.on('typing_notice', onEvent),
    client.on('sent', onEvent),
    client.on('group_sent', onEvent),
    client.on('failed', (failed) =>
      onEvent({
        type: 'failed',
        clientId: failed.clientId,
        to: failed.to ?? null,
        group: failed.group ?? null,
        error: { code: failed.error.code, message: failed.error.message },
      }),
    ),
    client.on('send_delayed', (delayed) =>
      onEvent({
        type: 'send_delayed',
        clientId: delayed.clientId,
        to: delayed.to ?? null,
        group: delayed.group ?? null,
        retryAt: delayed.retryAt,
        error: { code: delayed.error.code, message: delayed.error.message, retryAfterMs: delayed.error.retryAfterMs ?? null },
      }),
    ),
    client.on('cursor_expired', ({ message }) => onEvent({ type: 'cursor_expired', message })),
  ];
  return () => {
    for (const off of offs) off();
  };
}

/** Runs async steps one after another, in call order (so output keeps the event order). */
export class Serial {
  private tail: Promise<void> = Promise.resolve();
  private readonly onError: (error: unknown) => void;

  constructor(onError: (error: unknown) => void) {
    this.onError = onError;
  }

  run(step: () => void | Promise<void>): void {
    this.tail = this.tail.then(step).catch(this.onError);
  }

  /** Resolves when every step queued so far has run. */
  idle(): Promise<void> {
    return this.tail;
  }
}
