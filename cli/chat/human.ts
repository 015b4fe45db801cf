/**
 * The chat for people: messages as lines, your messages with ticks that change as the other side
 * receives and reads them, "typing…" in the prompt, and notices about other conversations.
 */
import type { GroupEvent, GroupHistoryItem, GroupTally, HistoryItem, MessageStatus, TypingNoticeFrame } from '../../client/index.ts';
import { STATUS_RANK } from '../../protocol/index.ts';
import { accountEventText, changeText, delayedLine, type GroupTitles, type MessageChange } from '../describe.ts';
import { bodyText, changeMembers, describeChange, formatTime, isDeleted, isDeletedForMe, listNames, messageAfter, messageLine, messageText, quoteLine, tallyText, tickText } from '../format.ts';
import type { AnyMessage, Tick } from '../format.ts';
import { groupPageMessages } from '../message-ref.ts';
import type { Style } from '../output.ts';
import type { Directory } from '../resolve.ts';
import type { StreamEvent } from '../stream.ts';
import type { ChatHistory, ChatPresenter, ChatTarget } from './controller.ts';
import type { ChatScreen, LineHandle } from './screen.ts';

/** One of your messages on screen, whose ticks (and text, reactions, …) may still change. */
interface OwnLine {
  handle: LineHandle;
  at: number;
  text: string;
  /** What follows the tick: reactions, ★. */
  after: string;
  /** Deleted: no tick any more. */
  deleted: boolean;
  tick: Tick;
  /** Group messages: the latest delivered / read tally. */
  tally: GroupTally | null;
}

const SNIPPET = 40;

function rank(tick: Tick): number {
  return tick === 'pending' || tick === 'failed' ? 0 : STATUS_RANK[tick];
}

export interface HumanChatOptions {
  screen: ChatScreen;
  style: Style;
  me: string;
  target: ChatTarget;
  directory: Directory;
  groups: GroupTitles;
  /** A terminal: show the help line. */
  interactive: boolean;
}

export class HumanChatPresenter implements ChatPresenter {
  private readonly options: HumanChatOptions;
  private readonly byClientId = new Map<string, OwnLine>();
  private readonly byMessageId = new Map<string, OwnLine>();
  /** Receipts that arrived before the `sent` answer told us the message id. */
  private readonly earlyStatus = new Map<string, MessageStatus>();
  private readonly typers = new Map<string, { state: TypingNoticeFrame['state']; timer: ReturnType<typeof setTimeout> }>();

  constructor(options: HumanChatOptions) {
    this.options = options;
  }

  private get style(): Style {
    return this.options.style;
  }

  async history(history: ChatHistory): Promise<void> {
    const { screen, target, interactive } = this.options;
    const title = target.kind === 'direct' ? target.peer.name : `${target.group.title} (group)`;
    screen.print(this.style.bold(`── ${title} ──`));
    if (history.kind === 'direct') {
      const items = [...history.page.messages].reverse();
      if (history.page.nextBefore !== null && target.kind === 'direct') {
        screen.print(this.style.dim(`(older messages: messenger history ${target.peer.userId} --before ${history.page.nextBefore})`));
      }
      await this.options.directory.names(items.flatMap((item) => (item.message.replyTo === undefined ? [] : [item.message.replyTo.from])));
      const shown = items.filter((item) => !isDeletedForMe(item.message));
      if (shown.length === 0) screen.print(this.style.dim('No messages yet'));
      for (const item of shown) this.showDirect(item);
    } else {
      const items = [...history.page.entries].reverse();
      const latest = new Map(groupPageMessages(history.page.entries).map((message) => [message.id, message]));
      await this.options.directory.names(items.flatMap((item) => this.mentioned(item)));
      const { nextBefore, nextBeforeGseq } = history.page;
      // A large group: its log part goes on (by gseq) before the mailbox part (by seq).
      const older = nextBeforeGseq != null ? `--before-gseq ${nextBeforeGseq}` : nextBefore !== null ? `--before ${nextBefore}` : null;
      if (older !== null && target.kind === 'group') {
        screen.print(this.style.dim(`(older messages: messenger groups history ${target.group.groupId} ${older})`));
      }
      for (const item of items) this.showGroupItem(item, item.entry.type === 'message' ? latest.get(item.entry.message.id) : undefined);
    }
    if (interactive) screen.print(this.style.dim('Type a message and press Enter · /help · /quit or Ctrl-D to leave'));
  }

  async event(event: StreamEvent): Promise<void> {
    const { screen } = this.options;
    switch (event.type) {
      case 'message':
      case 'group_message':
        return this.showMessage(event.message, event.own);
      case 'message_update':
      case 'group_message_update':
        return this.showUpdate(event);
      case 'action_failed':
        screen.print(this.style.red(`Not done: ${event.error.message}`));
        return;
      case 'group_event':
        return this.showEvent(event.event);
      case 'group_log_entry': {
        // A large group's log entry: shown as the same entry from the mailbox would be.
        const { entry } = event;
        if (entry.type === 'message') return this.showMessage(entry.message, event.own);
        if (entry.type === 'event') return this.showEvent(entry.event);
        return this.showUpdate(entry.update);
      }
      case 'sent':
      case 'group_sent':
        this.confirmed(event.id, event.messageId);
        return;
      case 'failed': {
        const line = this.byClientId.get(event.clientId);
        if (line !== undefined) this.setTick(line, 'failed');
        screen.print(this.style.red(`Not sent: ${event.error.message}`));
        return;
      }
      case 'send_delayed':
        // The line keeps its pending tick; it goes out by itself after the wait.
        screen.print(this.style.yellow(delayedLine(event.error.code, event.retryAt)));
        return;
      case 'receipt':
        for (const id of event.messageIds) this.advance(id, event.status);
        return;
      case 'group_receipt':
        for (const tally of event.tallies) this.updateTally(tally);
        return;
      case 'typing_notice':
        this.typingNotice(event);
        return;
      case 'cursor_expired':
        screen.print(this.style.yellow('Some older events were discarded by the server; see `messenger history`'));
        return;
      default:
        return;
    }
  }

  private async showMessage(message: AnyMessage, own: boolean): Promise<void> {
    const { directory } = this.options;
    if (message.replyTo !== undefined) await directory.name(message.replyTo.from);
    if (own) {
      this.trackOwn(message, 'sent', null);
      return;
    }
    this.clearTyper(message.from);
    this.printOther(message, await directory.name(message.from));
  }

  private async showUpdate(change: MessageChange & { at: number }): Promise<void> {
    const { directory, screen } = this.options;
    await directory.names([change.by, change.message.from]);
    const own = this.byMessageId.get(change.message.id);
    if (own !== undefined) this.restyle(own, change.message);
    screen.print(this.style.dim(`[${formatTime(change.at)}] ${changeText(change, (id) => directory.cachedName(id), this.options.me)}`));
  }

  private async showEvent(event: GroupEvent): Promise<void> {
    await this.options.directory.names([event.by, ...changeMembers(event.change)]);
    this.options.screen.print(this.eventLine(event.at, event.by, event.change));
  }

  async elsewhere(event: StreamEvent): Promise<void> {
    const { screen, directory, groups } = this.options;
    const groupMessage = event.type === 'group_message' ? event.message : event.type === 'group_log_entry' && event.entry.type === 'message' ? event.entry.message : null;
    if (event.type === 'message' && !event.own) {
      const who = await directory.name(event.message.from);
      screen.print(this.style.dim(`↪ New message from ${who}: ${this.snippet(bodyText(event.message.body))}`));
    } else if (groupMessage !== null && (event.type === 'group_message' || event.type === 'group_log_entry') && !event.own) {
      const [who, title] = await Promise.all([directory.name(groupMessage.from), groups.title(groupMessage.group)]);
      screen.print(this.style.dim(`↪ New message in ${title} from ${who}: ${this.snippet(bodyText(groupMessage.body))}`));
    } else if (event.type === 'group_invite') {
      const who = await directory.name(event.invitedBy);
      screen.print(this.style.dim(`↪ ${who} invited you to "${event.title}" (messenger invites)`));
    } else if (event.type === 'account_event' && event.event.kind !== 'device_removed') {
      screen.print(this.style.yellow(`↪ ${accountEventText(event.event)}`));
    }
  }

  sending(clientId: string, text: string): void {
    const line = this.printOwn(Date.now(), text, 'pending', null);
    this.byClientId.set(clientId, line);
  }

  notice(text: string): void {
    this.options.screen.print(this.style.yellow(text));
  }

  // ------------------------------------------------------------ history

  private mentioned(item: GroupHistoryItem): string[] {
    const { entry } = item;
    if (entry.type === 'event') return [entry.event.by, ...changeMembers(entry.event.change)];
    const message = entry.type === 'message' ? entry.message : entry.update.message;
    return message.replyTo === undefined ? [message.from] : [message.from, message.replyTo.from];
  }

  private showDirect(item: HistoryItem): void {
    const { message } = item;
    if (message.from === this.options.me) {
      this.trackOwn(message, item.status, null);
      return;
    }
    this.printOther(message, this.options.directory.cachedName(message.from));
  }

  /** `message` is the newest copy of a message entry's message (updates on the page applied). */
  private showGroupItem(item: GroupHistoryItem, message: AnyMessage | undefined): void {
    const { entry } = item;
    if (entry.type === 'event') {
      this.options.screen.print(this.eventLine(entry.event.at, entry.event.by, entry.event.change));
      return;
    }
    // Update entries changed messages shown elsewhere on the page.
    if (entry.type !== 'message' || message === undefined || isDeletedForMe(message)) return;
    if (message.from === this.options.me) {
      this.trackOwn(message, 'sent', item.tally);
      return;
    }
    this.printOther(message, this.options.directory.cachedName(message.from));
  }

  /** The quote of a reply (its author's name already looked up), on the line before. */
  private printQuote(message: AnyMessage): void {
    if (message.replyTo === undefined) return;
    const line = quoteLine(message, this.options.directory.cachedName(message.replyTo.from), this.style);
    if (line !== null) this.options.screen.print(line);
  }

  /** Someone else's message, with its quote, decorations and reactions. */
  private printOther(message: AnyMessage, name: string): void {
    this.printQuote(message);
    const after = messageAfter(message, this.style);
    this.options.screen.print(messageLine({ at: message.sentAt, who: this.style.cyan(name), text: messageText(message, this.style), after, style: this.style }));
  }

  private eventLine(at: number, by: string, change: Parameters<typeof describeChange>[0]): string {
    const { directory } = this.options;
    const text = `${directory.cachedName(by)} ${describeChange(change, (id) => directory.cachedName(id))}`;
    return this.style.dim(`[${formatTime(at)}] ${text}`);
  }

  // ------------------------------------------------------------ your messages and their ticks

  private tickOf(line: OwnLine): string | undefined {
    if (line.deleted) return undefined;
    return line.tally !== null && line.tick !== 'failed' ? tallyText(line.tally, this.style) : tickText(line.tick, this.style);
  }

  private render(line: OwnLine): string {
    const tick = this.tickOf(line);
    return messageLine({ at: line.at, who: this.style.green('You'), text: line.text, ...(tick === undefined ? {} : { tick }), after: line.after, style: this.style });
  }

  private printOwn(at: number, text: string, tick: Tick, tally: GroupTally | null): OwnLine {
    const line: OwnLine = { handle: { id: 0 }, at, text, after: '', deleted: false, tick, tally };
    line.handle = this.options.screen.print(this.render(line));
    return line;
  }

  /** One of your messages from history or another device, with its quote and decorations. */
  private trackOwn(message: AnyMessage, tick: Tick, tally: GroupTally | null): void {
    this.printQuote(message);
    const line: OwnLine = {
      handle: { id: 0 },
      at: message.sentAt,
      text: messageText(message, this.style),
      after: messageAfter(message, this.style),
      deleted: isDeleted(message),
      tick,
      tally,
    };
    line.handle = this.options.screen.print(this.render(line));
    this.byMessageId.set(message.id, line);
  }

  /** One of your messages changed (edited, deleted, reacted to, starred): redraw its line. */
  private restyle(line: OwnLine, message: AnyMessage): void {
    line.text = messageText(message, this.style);
    line.after = messageAfter(message, this.style);
    line.deleted = isDeleted(message);
    this.refresh(line);
  }

  private refresh(line: OwnLine): void {
    const tick = this.tickOf(line) ?? '';
    this.options.screen.update(line.handle, this.render(line), `  ${tick} ${this.style.dim(`«${this.snippet(line.text)}»`)}`);
  }

  private setTick(line: OwnLine, tick: Tick): void {
    if (line.tick === tick) return;
    line.tick = tick;
    this.refresh(line);
  }

  private confirmed(clientId: string, messageId: string): void {
    const line = this.byClientId.get(clientId);
    if (line === undefined) return;
    this.byClientId.delete(clientId);
    this.byMessageId.set(messageId, line);
    const early = this.earlyStatus.get(messageId);
    this.earlyStatus.delete(messageId);
    this.setTick(line, early !== undefined && rank(early) > rank('sent') ? early : 'sent');
  }

  private advance(messageId: string, status: MessageStatus): void {
    const line = this.byMessageId.get(messageId);
    if (line === undefined) {
      if (rank(status) > rank(this.earlyStatus.get(messageId) ?? 'pending')) this.earlyStatus.set(messageId, status);
      return;
    }
    if (rank(status) > rank(line.tick)) this.setTick(line, status);
  }

  private updateTally(tally: GroupTally): void {
    const line = this.byMessageId.get(tally.messageId);
    if (line === undefined) return;
    const before = line.tally === null ? '' : tallyText(line.tally, this.style);
    line.tally = tally;
    if (line.tick === 'pending') line.tick = 'sent';
    if (tallyText(tally, this.style) !== before) this.refresh(line);
  }

  // ------------------------------------------------------------ typing

  private typingNotice(notice: TypingNoticeFrame): void {
    this.clearTyper(notice.from, false);
    if (notice.state !== 'stopped') {
      const timer = setTimeout(() => this.clearTyper(notice.from), notice.expiresInMs);
      timer.unref?.();
      this.typers.set(notice.from, { state: notice.state, timer });
    }
    this.showTypers();
  }

  private clearTyper(userId: string, show = true): void {
    const typer = this.typers.get(userId);
    if (typer === undefined) return;
    clearTimeout(typer.timer);
    this.typers.delete(userId);
    if (show) this.showTypers();
  }

  private showTypers(): void {
    const { directory, screen } = this.options;
    if (this.typers.size === 0) {
      screen.setTyping(null);
      return;
    }
    const names = [...this.typers.keys()].map((id) => directory.cachedName(id));
    const recording = [...this.typers.values()].every((t) => t.state === 'recording');
    const verb = recording ? 'recording' : 'typing';
    screen.setTyping(`${listNames(names)} ${names.length === 1 ? 'is' : 'are'} ${verb}…`);
  }

  private snippet(text: string): string {
    const flat = text.replace(/\s+/g, ' ');
    return flat.length > SNIPPET ? `${flat.slice(0, SNIPPET - 1)}…` : flat;
  }
}
