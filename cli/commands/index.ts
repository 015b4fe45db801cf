/**
 * Every command, the command groups that have subcommands (`groups`, `groups link`, `contacts`,
 * `invites`, `pin`, `settings`, `account`, `outbox`), and the singular spellings accepted for
 * some of them (`group link create`, `invite accept`).
 */
import type { CommandSpec } from '../context.ts';
import { logout, profile, whoami } from './account.ts';
import { chat, groupChat } from './chat.ts';
import { block, blocked, contactsAdd, contactsList, contactsRemove, unblock } from './contacts.ts';
import { deleteMessage, edit, react, star } from './actions.ts';
import { accountDelete, accountDevices, accountRevoke } from './devices.ts';
import {
  groupsApprove,
  groupsDeclineRequest,
  groupsLinkCreate,
  groupsLinkRevoke,
  groupsLinkShow,
  groupsRequests,
  groupsWithdraw,
} from './group-links.ts';
import {
  groupsAdd,
  groupsCreate,
  groupsDemote,
  groupsInfo,
  groupsLeave,
  groupsList,
  groupsPromote,
  groupsRemove,
  groupsRename,
  groupsSend,
} from './groups.ts';
import { groupsHistory, history } from './history.ts';
import { invitesAccept, invitesDecline, invitesList, join } from './invites.ts';
import { listen } from './listen.ts';
import { login } from './login.ts';
import { download } from './media.ts';
import { chats, send } from './messages.ts';
import { outboxClear, outboxList, outboxSend } from './outbox.ts';
import { pinRemove, pinReset, pinSet, pinStatus } from './pin.ts';
import { forward, reply } from './reply-forward.ts';
import { search } from './search.ts';
import { settingsPrivacy, settingsShow } from './settings.ts';
import { starred, unread } from './starred.ts';

/** Sections of the main help, in order. */
export const SECTIONS: ReadonlyArray<{ title: string; commands: readonly CommandSpec[] }> = [
  { title: 'Account', commands: [login, logout, whoami, profile, accountDevices, accountRevoke, accountDelete] },
  { title: 'Privacy and security', commands: [settingsShow, settingsPrivacy, pinStatus, pinSet, pinRemove, pinReset] },
  { title: 'Messages', commands: [send, chat, history, search, chats, listen, download] },
  { title: 'Message actions', commands: [reply, react, edit, deleteMessage, forward, star, starred, unread] },
  {
    title: 'Groups',
    commands: [groupsList, groupsCreate, groupsInfo, groupsSend, groupChat, groupsHistory, groupsAdd, groupsRemove, groupsPromote, groupsDemote, groupsRename, groupsLeave],
  },
  {
    title: 'Invites and invite links',
    commands: [invitesList, invitesAccept, invitesDecline, join, groupsLinkCreate, groupsLinkShow, groupsLinkRevoke, groupsRequests, groupsApprove, groupsDeclineRequest, groupsWithdraw],
  },
  { title: 'Contacts and blocking', commands: [contactsList, contactsAdd, contactsRemove, block, unblock, blocked] },
  { title: 'Unsent messages', commands: [outboxList, outboxSend, outboxClear] },
];

export const COMMANDS: readonly CommandSpec[] = SECTIONS.flatMap((section) => section.commands);

/** Words that take a subcommand, and the subcommand used when none is given. */
export const COMMAND_GROUPS: Readonly<Record<string, { summary: string; defaultSubcommand: string }>> = {
  groups: { summary: 'group chats', defaultSubcommand: 'list' },
  'groups link': { summary: "a group's invite link", defaultSubcommand: 'show' },
  invites: { summary: 'group invites waiting for your answer', defaultSubcommand: 'list' },
  contacts: { summary: 'your address book', defaultSubcommand: 'list' },
  pin: { summary: 'the two-step verification PIN', defaultSubcommand: 'status' },
  settings: { summary: 'privacy and notification settings', defaultSubcommand: 'show' },
  account: { summary: 'your devices, and deleting the account', defaultSubcommand: 'devices' },
  outbox: { summary: 'messages not yet confirmed by the server', defaultSubcommand: 'list' },
};

/** Other spellings of a first command word. */
const ALIASES: Readonly<Record<string, string>> = { group: 'groups', invite: 'invites' };

/** The command words with the first one spelled as the command list spells it. */
export function canonicalWords(words: readonly string[]): string[] {
  const [first, ...rest] = words;
  if (first === undefined) return [];
  return [Object.hasOwn(ALIASES, first) ? ALIASES[first]! : first, ...rest];
}

/** Whether `path` (one or more command words) takes a subcommand. */
export function isCommandGroup(path: string): boolean {
  return Object.hasOwn(COMMAND_GROUPS, canonicalWords(path.split(' ')).join(' '));
}

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((command) => command.name === name);
}

/** The commands under `group` (nested groups included). */
export function commandsOfGroup(group: string): CommandSpec[] {
  return COMMANDS.filter((command) => command.name.startsWith(`${group} `));
}

/** The words that may follow `group` ("list, create, …, link"). */
export function subcommandWords(group: string): string[] {
  const depth = group.split(' ').length;
  return [...new Set(commandsOfGroup(group).map((c) => c.name.split(' ')[depth]!))];
}
