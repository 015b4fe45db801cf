/**
 * Turns what arrives on the socket into typed server frames and routes each to the handler for
 * its kind, so the connection never switches on frame types itself.
 */
import { parseServerFrame } from '../protocol/index.ts';
import type {
  ActedFrame,
  ErrorFrame,
  GroupEntriesFrame,
  GroupHeadsFrame,
  GroupLiveFrame,
  GroupSentFrame,
  HelloFrame,
  MailboxFrame,
  PresenceFrame,
  SentFrame,
  ServerFrame,
  TypingNoticeFrame,
} from '../protocol/index.ts';
import { MessengerError } from './transport.ts';

/**
 * Every frame type that is a mailbox entry (carries `seq`). They all go through the same
 * contiguity, duplicate and ack handling, whatever they hold. `satisfies` makes the compiler
 * insist that every member of the protocol's MailboxFrame union is listed, and nothing else.
 */
const MAILBOX_FRAME_TYPES: ReadonlySet<ServerFrame['type']> = new Set(
  Object.keys({
    message: true,
    receipt: true,
    read_marker: true,
    group_message: true,
    group_event: true,
    group_receipt: true,
    group_read_marker: true,
    group_invite: true,
    account_event: true,
    message_update: true,
    group_message_update: true,
    chat_marker: true,
  } satisfies Record<MailboxFrame['type'], true>) as Array<MailboxFrame['type']>,
);

export function isMailboxFrame(frame: ServerFrame): frame is MailboxFrame {
  return MAILBOX_FRAME_TYPES.has(frame.type);
}

/** A decoded frame, or why the data was not one (reported, never fatal to the connection). */
export type DecodedFrame = { ok: true; frame: ServerFrame } | { ok: false; error: MessengerError };

/** Parses one socket message against the protocol's schemas. */
export function decodeServerFrame(data: unknown): DecodedFrame {
  if (typeof data !== 'string' && !(data instanceof ArrayBuffer)) {
    return { ok: false, error: new MessengerError('validation_failed', 'Received a non-text frame') };
  }
  const result = parseServerFrame(data);
  if (!result.ok) {
    return { ok: false, error: new MessengerError(result.error.code, `Malformed server frame: ${result.error.message}`) };
  }
  return { ok: true, frame: result.frame };
}

/** One handler per kind of frame the connection acts on (`pong` needs none: any frame resets liveness). */
export interface FrameHandlers {
  hello(frame: HelloFrame): void;
  /** Every mailbox entry, whatever it holds (see {@link isMailboxFrame}). */
  mailbox(frame: MailboxFrame): void;
  error(frame: ErrorFrame): void;
  sent(frame: SentFrame): void;
  group_sent(frame: GroupSentFrame): void;
  /** The answer to an `action` frame (like `sent`: no seq, may repeat for retries). */
  acted(frame: ActedFrame): void;
  typing_notice(frame: TypingNoticeFrame): void;
  presence(frame: PresenceFrame): void;
  /** Large groups (read diffusion): heads after hello, live entries, answers to pulls. */
  large_group(frame: GroupHeadsFrame | GroupLiveFrame | GroupEntriesFrame): void;
}

export function dispatchServerFrame(frame: ServerFrame, handlers: FrameHandlers): void {
  if (isMailboxFrame(frame)) {
    handlers.mailbox(frame);
    return;
  }
  switch (frame.type) {
    case 'hello':
      handlers.hello(frame);
      return;
    case 'sent':
      handlers.sent(frame);
      return;
    case 'group_sent':
      handlers.group_sent(frame);
      return;
    case 'acted':
      handlers.acted(frame);
      return;
    case 'typing_notice':
      handlers.typing_notice(frame);
      return;
    case 'presence':
      handlers.presence(frame);
      return;
    case 'error':
      handlers.error(frame);
      return;
    case 'group_heads':
    case 'group_live':
    case 'group_entries':
      handlers.large_group(frame);
      return;
    case 'pong':
      return;
    default: {
      // Compile-time check: a new server frame type must be handled above or be a mailbox frame.
      const unhandled: never = frame;
      return unhandled;
    }
  }
}
