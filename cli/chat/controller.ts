/**
 * The logic of `chat` whatever it looks like: the newest page of history first, then live events
 * of the conversation (without repeating what history showed), read receipts for what is shown,
 * sends through the outbox, typing indicators while the user types, and a clean end.
 */
import { MessengerError } from '../../client/index.ts';
import type { GroupHistoryPage, HistoryPage, MessengerClient, SendAck, TypingState } from '../../client/index.ts';
import { MAX_TEXT_LENGTH, TYPING_REPEAT_MS, gseqOf } from '../../protocol/index.ts';
import type { ChatTarget } from '../resolve-chat.ts';
import { Serial, inConversation, subscribeEvents } from '../stream.ts';
import type { ConversationRef, LogEntryEvent, StreamEvent } from '../stream.ts';
import { deferred } from '../wait.ts';

/** Who the chat is with. */
export type { ChatTarget };

export type ChatHistory = { kind: 'direct'; page: HistoryPage } | { kind: 'group'; page: GroupHistoryPage };

/** How a chat looks: on a terminal, as plain lines, or as JSON lines. */
export interface ChatPresenter {
  /** The newest page of the conversation, shown before any live event. */
  history(history: ChatHistory): Promise<void>;
  /** A live event of this conversation (history duplicates and echoes of our sends are left out). */
  event(event: StreamEvent): Promise<void>;
  /** A live event of another conversation. */
  elsewhere(event: StreamEvent): Promise<void>;
  /** The user sent `text`; it is queued in the outbox as `clientId`. */
  sending(clientId: string, text: string): void;
  /** Something the user should know (connection, errors). */
  notice(text: string): void;
}

/** Stop sending "typing" after this long without a keypress. */
const TYPING_IDLE_MS = 5_000;

export interface ChatControllerOptions {
  me: string;
  target: ChatTarget;
  presenter: ChatPresenter;
  historyLimit: number;
  /** One line for an error (the CLI's friendly wording). */
  describeError: (error: unknown) => string;
}

/** How the user's sends of this chat ended up. */
export interface SendSummary {
  unconfirmed: number;
  failures: MessengerError[];
}

export class ChatController {
  /** Resolves when the user leaves; rejects when the session ends for good. */
  readonly finished = deferred<void>();
  private readonly options: ChatControllerOptions;
  private readonly conversation: ConversationRef;
  private readonly serial: Serial;
  /** Ids of messages and events history showed: not shown again when the stream repeats them. */
  private readonly shown = new Set<string>();
  /**
   * The newest gseq the group's history page showed: a large group's log entries up to it were
   * shown or are older than the page (pulled from this device's cursor), so they are not news.
   */
  private historyTop = 0;
  private readonly sends = new Map<string, 'pending' | 'sent' | 'failed'>();
  private readonly failures: MessengerError[] = [];
  private readonly historyDone = deferred<void>();
  private client: MessengerClient | undefined;
  private lastTypingAt = 0;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: ChatControllerOptions) {
    this.options = options;
    const { target } = options;
    this.conversation = target.kind === 'direct' ? { kind: 'direct', peer: target.peer.userId } : { kind: 'group', group: target.group.groupId };
    this.serial = new Serial((error) => options.presenter.notice(options.describeError(error)));
  }

  /** Subscribe (before connecting) and load history; live events wait until it is shown. */
  attach(client: MessengerClient): void {
    this.client = client;
    this.serial.run(async () => {
      try {
        await this.showHistory(client);
        this.historyDone.resolve();
      } catch (error) {
        this.historyDone.reject(error);
      }
    });
    subscribeEvents(client, (event) => this.serial.run(() => this.route(event)));
  }

  /** Resolves once history is on screen (rejects if it could not be loaded). */
  historyShown(): Promise<void> {
    return this.historyDone.promise;
  }

  /** Send a line the user typed. */
  submit(text: string): void {
    const client = this.requireClient();
    if (text.length > MAX_TEXT_LENGTH) {
      this.options.presenter.notice(`Not sent: the message is too long (${text.length} characters; at most ${MAX_TEXT_LENGTH})`);
      return;
    }
    const { target } = this.options;
    let pending: { clientId: string; sent: Promise<SendAck> };
    try {
      pending = target.kind === 'direct' ? client.sendText(target.peer.userId, text) : client.sendGroupText(target.group.groupId, text);
    } catch (error) {
      this.options.presenter.notice(`Not sent: ${this.options.describeError(error)}`);
      return;
    }
    const { clientId, sent } = pending;
    this.sends.set(clientId, 'pending');
    sent.then(
      () => this.sends.set(clientId, 'sent'),
      (error: unknown) => {
        this.sends.set(clientId, 'failed');
        if (error instanceof MessengerError) this.failures.push(error);
      },
    );
    this.options.presenter.sending(clientId, text);
    this.stopTyping();
  }

  /** The user pressed a key in the input line: tell the other side, about every few seconds. */
  typingKey(): void {
    const now = Date.now();
    if (now - this.lastTypingAt >= TYPING_REPEAT_MS) {
      this.lastTypingAt = now;
      this.sendTyping('typing');
    }
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.lastTypingAt === 0) return;
    this.lastTypingAt = 0;
    this.sendTyping('stopped');
  }

  /** The user wants to leave. */
  quit(): void {
    this.finished.resolve();
  }

  /** Wait up to `timeoutMs` for this chat's sends to be confirmed, then say how they ended. */
  async settleSends(timeoutMs: number): Promise<SendSummary> {
    const deadline = Date.now() + timeoutMs;
    while ([...this.sends.values()].includes('pending') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await this.serial.idle();
    const unconfirmed = [...this.sends.values()].filter((state) => state === 'pending').length;
    return { unconfirmed, failures: [...this.failures] };
  }

  private requireClient(): MessengerClient {
    if (this.client === undefined) throw new Error('chat is not attached to a client');
    return this.client;
  }

  private sendTyping(state: TypingState): void {
    const client = this.requireClient();
    const { target } = this.options;
    try {
      if (target.kind === 'direct') client.typing(target.peer.userId, state);
      else client.groupTyping(target.group.groupId, state);
    } catch {
      // Typing is best effort.
    }
  }

  private async showHistory(client: MessengerClient): Promise<void> {
    const { target, historyLimit, me } = this.options;
    if (target.kind === 'direct') {
      const peer = target.peer.userId;
      const page = await client.history(peer, { limit: historyLimit });
      for (const item of page.messages) this.shown.add(item.message.id);
      await this.options.presenter.history({ kind: 'direct', page });
      const unread = page.messages.filter((item) => item.message.from === peer && item.status !== 'read');
      if (unread.length > 0) client.markRead(peer, Math.max(...unread.map((item) => item.seq)));
      return;
    }
    const group = target.group.groupId;
    const page = await client.groupHistory(group, { limit: historyLimit });
    for (const { entry, seq } of page.entries) {
      // Updates are named by their mailbox seq, or (a large group's log) by their gseq.
      this.shown.add(entry.type === 'message' ? entry.message.id : entry.type === 'event' ? entry.event.id : seq === null ? `gseq:${gseqOf(entry)}` : `seq:${seq}`);
    }
    this.historyTop = Math.max(0, ...page.entries.map((item) => gseqOf(item.entry)));
    await this.options.presenter.history({ kind: 'group', page });
    const unread = page.entries.filter((item) => item.entry.type === 'message' && item.entry.message.from !== me && !item.read);
    // Entries copied into the mailbox are read by mailbox seq; a large group's log (seq null) by gseq.
    const copied = unread.flatMap((item) => (item.seq === null ? [] : [item.seq]));
    if (copied.length > 0) client.markGroupRead(group, Math.max(...copied));
    const logged = unread.flatMap((item) => (item.seq === null ? [gseqOf(item.entry)] : []));
    if (logged.length > 0) client.markGroupLogRead(group, Math.max(...logged));
  }

  private async route(event: StreamEvent): Promise<void> {
    const { presenter, me } = this.options;
    if (!inConversation(event, this.conversation, me)) {
      await presenter.elsewhere(event);
      return;
    }
    const id =
      event.type === 'message' || event.type === 'group_message'
        ? event.message.id
        : event.type === 'group_event'
          ? event.event.id
          : event.type === 'message_update' || event.type === 'group_message_update'
            ? `seq:${event.seq}`
            : event.type === 'group_log_entry'
              ? logEntryId(event)
              : null;
    if (event.type === 'group_log_entry' && event.gseq <= this.historyTop) return;
    if (id === null || !this.shown.has(id)) await presenter.event(event);
    this.markShownAsRead(event);
  }

  /** Whatever the user can see of the other side's messages counts as read. */
  private markShownAsRead(event: StreamEvent): void {
    const client = this.requireClient();
    if (event.type === 'message' && !event.own) client.markRead(event.message.from, event.seq);
    if (event.type === 'group_message' && !event.own) client.markGroupRead(event.message.group, event.seq);
    // A large group's log has no mailbox seqs: it is read by gseq.
    if (event.type === 'group_log_entry' && !event.own && event.entry.type === 'message') client.markGroupLogRead(event.group, event.gseq);
  }
}

/** What history named a log entry by (see `showHistory`). */
function logEntryId(event: LogEntryEvent): string {
  const { entry } = event;
  return entry.type === 'message' ? entry.message.id : entry.type === 'event' ? entry.event.id : `gseq:${event.gseq}`;
}
