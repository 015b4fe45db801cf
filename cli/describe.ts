/**
 * Stream events as lines for people (`listen` without --json, and chat's notices about other
 * conversations).
 */
import type { AccountEvent, MessengerApi } from '../client/index.ts';
import { bodyText, changeMembers, describeChange, formatTime, formatWait, plural } from './format.ts';
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

/** "Rate limited: your messages are sent in 12 seconds" (they stay queued meanwhile). */
export function delayedLine(code: string, retryAt: number, now = Date.now()): string {
  const why = code === 'rate_limited' ? 'Rate limited' : 'Server busy';
  return `${why}: your messages are sent in ${formatWait(retryAt - now)}`;
}

export class EventDescriber {
  private readonly directory: Directory;
  private readonly groups: GroupTitles;
  private readonly style: Style;

  constructor(directory: Directory, groups: GroupTitles, style: Style) {
    this.directory = directory;
    this.groups = groups;
    this.style = style;
  }

  /** The line for `event`, or null for events people do not need to see (typing, acks, markers). */
  async line(event: StreamEvent): Promise<string | null> {
    const { style } = this;
    const time = (at: number): string => style.dim(`[${formatTime(at)}]`);
    switch (event.type) {
      case 'message': {
        const { message } = event;
        if (event.own) return `${time(message.sentAt)} ${style.green('You')} → ${style.cyan(await this.directory.name(message.to))}: ${bodyText(message.body)}`;
        return `${time(message.sentAt)} ${style.cyan(await this.directory.name(message.from))}: ${bodyText(message.body)}`;
      }
      case 'group_message': {
        const { message } = event;
        const who = event.own ? style.green('You') : style.cyan(await this.directory.name(message.from));
        return `${time(message.sentAt)} ${style.bold(await this.groups.title(message.group))} › ${who}: ${bodyText(message.body)}`;
      }
      case 'group_event': {
        const { event: change } = event;
        await this.directory.names(changeMembers(change.change));
        const text = `${await this.directory.name(change.by)} ${describeChange(change.change, (id) => this.directory.cachedName(id))}`;
        return `${time(change.at)} ${style.bold(await this.groups.title(change.group))} › ${style.dim(text)}`;
      }
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
