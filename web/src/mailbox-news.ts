/**
 * Mailbox entries that are news about the account rather than chat content: group invites (shown
 * at the top of the chat list until answered; one answered on another device goes with the
 * group's join event) and account events (new device, PIN changes and reset requests), shown as
 * notices that stay until dismissed.
 */
import type { GroupEvent, MessengerClient } from '../../client/index.ts';
import type { InvitesView } from './views/invites.ts';
import { describeAccountEvent, type Toasts } from './views/toasts.ts';

export interface MailboxNewsOptions {
  client: MessengerClient;
  userId: string;
  /** This browser's device: its own login is no news to it. */
  deviceId: string;
  invites: InvitesView;
  toasts: Toasts;
  /** The notice of a new device offers this ("Review devices"). */
  reviewDevices(): void;
}

export function followMailboxNews(options: MailboxNewsOptions): void {
  const { client, userId, deviceId, invites, toasts } = options;
  client.on('group_invite', (entry) => invites.add({ groupId: entry.group, title: entry.title, invitedBy: entry.invitedBy, at: entry.at }));
  const joinedBy = (event: GroupEvent): void => {
    const change = event.change;
    const joined = (change.kind === 'member_joined' && change.member === userId) || (change.kind === 'members_added' && change.members.includes(userId));
    if (joined) invites.remove(event.group);
  };
  client.on('group_event', ({ event }) => joinedBy(event));
  // A large group's events come from its log (read diffusion), not the mailbox.
  client.on('group_log_entry', ({ entry }) => {
    if (entry.type === 'event') joinedBy(entry.event);
  });
  client.on('account_event', ({ event }) => {
    const phrase = describeAccountEvent(event, deviceId);
    if (phrase === null) return;
    const review = { label: 'Review devices', run: () => options.reviewDevices() };
    toasts.show(phrase, event.kind, event.kind === 'device_added' ? review : undefined);
  });
}
