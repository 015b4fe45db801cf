/**
 * Stream events as lines for people (`listen` without --json, and chat's notices about other
 * conversations).
 */
import type { AccountEvent, GroupEvent, GroupMessage, MessengerApi } from '../client/index.ts';
import type { ActionSummary } from '../protocol/index.ts';
import { changeMembers, describeBody, describeChange, formatTime, formatWait, messageText, plural, quoteText, snippet } from './format.ts';
import type { AnyMessage } from './format.ts';
import type { Style } from './output.ts';
import { allGroups, namesCacheOf, pastGroupTitle } from './resolve.ts';
import type { Directory } from './resolve.ts';
import type { StreamEvent } from './stream.ts';

/** Group titles by id, fetched again when an unknown group shows up (you were just added). */
export class GroupTitles {
  private readonly api: MessengerApi;
  private readonly titles = new Map<string, string>();
  /** Ids still unknown after a reload (e.g. groups you left): not fetched again. */
  private readonly missing = new Set<string>();
  private loaded: Promise<void> | undefined;

  constructor(api: MessengerApi) {
    this.api = api;
  }

  remember(groupId: string, title: string): void {
    this.titles.set(groupId, title);
    namesCacheOf(this.api)?.rememberGroup(groupId, title);
  }

  async title(groupId: string): Promise<string> {
    if (!this.titles.has(groupId) && !this.missing.has(groupId)) {
      this.loaded = undefined;
      await this.load();
      if (!this.titles.has(groupId)) {
        this.missing.add(groupId);
        // A group you left keeps the last title seen.
        const past = await pastGroupTitle(this.api, groupId);
        if (past !== undefined) this.titles.set(groupId, past);
      }
    }
    return this.titles.get(groupId) ?? `group ${groupId.slice(-6)}`;
  }

  private load(): Promise<void> {
    this.loaded ??= allGroups(this.api).then(
      (groups) => {
        for (const g of groups) this.titles.set(g.groupId, g.title);
      },
      () => undefined,
    );
    return this.loaded;
  }
}

/** One line about something that happened to your account. */
export function accountEventText(event: AccountEvent): string {
  switch (event.kind) {
    case 'device_added':
      return `New login on your account: "${event.name}" (${event.platform})${event.withPin ? ', with the PIN' : ''}; not you? messenger account revoke ${event.deviceId}`;
    case 'device_removed':
      return `A device was logged out of your account (${event.deviceId})`;
    case 'pin_reset_requested':
      return `Someone asked to reset your two-step PIN; it takes effect ${formatTime(event.resetAt)} unless you change the PIN (messenger pin set)`;
    case 'pin_changed':
      return event.enabled ? 'Your two-step verification PIN was set or changed' : 'Your two-step verification PIN was turned off';
  }
}

/** A change to a message: who made it, what it was, and the message as it is now. */
export interface MessageChange {
  by: string;
  action: ActionSummary;
  message: AnyMessage;
}

/**
 * What happened to a message, as one sentence: "Bob reacted 👍 to your message "hi"", "Ann
 * edited her message: now "…"", "Ann deleted Bob's message (as an admin)".
 */
export function changeText(change: MessageChange, name: (userId: string) => string, me: string): string {
  const { by, action, message } = change;
  const who = by === me ? 'You' : name(by);
  const { noun, text } = describeBody(message.body);
  const kind = noun === 'deleted message' ? 'message' : noun;
  const whose = message.from === me ? `your ${kind}` : message.from === by ? `their ${kind}` : `${name(message.from)}'s ${kind}`;
  const content = text === '' ? '' : ` "${snippet(text, 40)}"`;
  switch (action.kind) {
    case 'react':
      return action.emoji === null ? `${who} took back ${by === me ? 'your' : 'their'} reaction to ${whose}${content}` : `${who} reacted ${action.emoji} to ${whose}${content}`;
    case 'edit':
      return `${who} edited ${whose}: now${content}`;
    case 'delete':
      if (action.scope === 'me') return `${who} deleted ${whose} for yourself`;
      return message.from === by ? `${who} deleted ${whose}` : `${who} deleted ${whose} (as an admin)`;
    case 'star':
      return `${who} ${action.starred ? 'starred' : 'unstarred'} ${whose}${content}`;
  }
}

/** "Rate limited: your messages are sent in 12 seconds" (they stay queued meanwhile). */
export function delayedLine(code: string, retryAt: number, now = Date.now()): string {
  const why = code === 'rate_limited' ? 'Rate limited' : 'Server busy';
  return `${why}: your messages are sent in ${formatWait(retryAt - now)}`;
}

export class EventDescriber {
  private readonly directory: Directory;
  private readonly groups: GroupTitles;
  private readonly style: Style;
  /** The logged-in user ("You"). */
  private readonly me: string;

  constructor(directory: Directory, groups: GroupTitles, style: Style, me: string) {
    this.directory = directory;
    this.groups = groups;
    this.style = style;
    this.me = me;
  }

  /** A new message's content on one line: "Forwarded:", the text, and what a reply answers: "(↪ Ann: …)". */
  private async content(message: AnyMessage): Promise<string> {
    const text = messageText(message, this.style);
    if (message.replyTo === undefined) return text;
    const quoted = await this.directory.name(message.replyTo.from);
    return `${text} ${this.style.dim(`(↪ ${quoted}: ${snippet(quoteText(message.replyTo), 40)})`)}`;
  }

  private async groupMessageLine(message: GroupMessage, own: boolean): Promise<string> {
    const { style } = this;
    const who = own ? style.green('You') : style.cyan(await this.directory.name(message.from));
    return `${style.dim(`[${formatTime(message.sentAt)}]`)} ${style.bold(await this.groups.title(message.group))} › ${who}: ${await this.content(message)}`;
  }

  private async groupEventLine(event: GroupEvent): Promise<string> {
    const { style } = this;
    await this.directory.names(changeMembers(event.change));
    const text = `${await this.directory.name(event.by)} ${describeChange(event.change, (id) => this.directory.cachedName(id))}`;
    return `${style.dim(`[${formatTime(event.at)}]`)} ${style.bold(await this.groups.title(event.group))} › ${style.dim(text)}`;
  }

  private async groupUpdateLine(change: MessageChange & { at: number; message: GroupMessage }): Promise<string> {
    const { style } = this;
    await this.directory.names([change.by, change.message.from]);
    const text = changeText(change, (id) => this.directory.cachedName(id), this.me);
    return `${style.dim(`[${formatTime(change.at)}]`)} ${style.bold(await this.groups.title(change.message.group))} › ${style.dim(text)}`;
  }

  /** The line for `event`, or null for events people do not need to see (typing, acks, markers). */
  async line(event: StreamEvent): Promise<string | null> {
    const { style } = this;
    const time = (at: number): string => style.dim(`[${formatTime(at)}]`);
    switch (event.type) {
      case 'message': {
        const { message } = event;
        const text = await this.content(message);
        if (event.own) return `${time(message.sentAt)} ${style.green('You')} → ${style.cyan(await this.directory.name(message.to))}: ${text}`;
        return `${time(message.sentAt)} ${style.cyan(await this.directory.name(message.from))}: ${text}`;
      }
      case 'group_message':
        return this.groupMessageLine(event.message, event.own);
      case 'group_event':
        return this.groupEventLine(event.event);
      case 'group_log_entry': {
        // A large group's log entry: the same line as the entry from the mailbox.
        const { entry } = event;
        if (entry.type === 'message') return this.groupMessageLine(entry.message, event.own);
        if (entry.type === 'event') return this.groupEventLine(entry.event);
        return this.groupUpdateLine(entry.update);
      }
      case 'message_update': {
        await this.directory.names([event.by, event.message.from]);
        return `${time(event.at)} ${style.dim(changeText(event, (id) => this.directory.cachedName(id), this.me))}`;
      }
      case 'group_message_update':
        return this.groupUpdateLine(event);
      case 'chat_marker': {
        const chat = event.chat.kind === 'direct' ? `the chat with ${await this.directory.name(event.chat.peer)}` : `"${await this.groups.title(event.chat.group)}"`;
        return `${time(event.at)} ${style.dim(event.unread ? `You marked ${chat} as unread` : `You cleared the unread mark of ${chat}`)}`;
      }
      case 'action_failed':
        return style.red(`Not done (${event.error.code}): ${event.error.message}`);
      case 'receipt': {
        const verb = event.status === 'read' ? 'read' : 'received';
        const count = plural(event.messageIds.length, 'message');
        return `${time(event.at)} ${style.dim(`${await this.directory.name(event.by)} ${verb} ${count} of yours ${event.status === 'read' ? '✓✓ read' : '✓✓'}`)}`;
      }
      case 'group_invite': {
        this.groups.remember(event.group, event.title);
        const by = await this.directory.name(event.invitedBy);
        return `${time(event.at)} ${style.yellow(`${by} invited you to "${event.title}"`)} ${style.dim(`(messenger invites accept ${event.group})`)}`;
      }
      case 'account_event':
        return `${time(event.at)} ${style.yellow(accountEventText(event.event))}`;
      case 'failed':
        return style.red(`Not sent (${event.error.code}): ${event.error.message}`);
      case 'send_delayed':
        return style.yellow(delayedLine(event.error.code, event.retryAt));
      case 'cursor_expired':
        return style.yellow('Some older events were discarded by the server; see `messenger chats` and `history`');
      default:
        return null;
    }
  }
}
