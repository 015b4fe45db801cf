/**
 * Every command, and the command groups that have subcommands (`groups`, `contacts`, `outbox`).
 */
import type { CommandSpec } from '../context.ts';
import { login, logout, profile, whoami } from './account.ts';
import { chat, groupChat } from './chat.ts';
import { block, blocked, contactsAdd, contactsList, contactsRemove, unblock } from './contacts.ts';
import {
  groupsAdd,
  groupsCreate,
  groupsDemote,
  groupsHistory,
  groupsInfo,
  groupsLeave,
  groupsList,
  groupsPromote,
  groupsRemove,
  groupsRename,
  groupsSend,
} from './groups.ts';
import { listen } from './listen.ts';
import { chats, history, send } from './messages.ts';
import { outboxClear, outboxList, outboxSend } from './outbox.ts';

/** Sections of the main help, in order. */
export const SECTIONS: ReadonlyArray<{ title: string; commands: readonly CommandSpec[] }> = [
  { title: 'Account', commands: [login, logout, whoami, profile] },
  { title: 'Messages', commands: [send, chat, history, chats, listen] },
  {
    title: 'Groups',
    commands: [groupsList, groupsCreate, groupsInfo, groupsSend, groupChat, groupsHistory, groupsAdd, groupsRemove, groupsPromote, groupsDemote, groupsRename, groupsLeave],
  },
  { title: 'Contacts and blocking', commands: [contactsList, contactsAdd, contactsRemove, block, unblock, blocked] },
  { title: 'Unsent messages', commands: [outboxList, outboxSend, outboxClear] },
];

export const COMMANDS: readonly CommandSpec[] = SECTIONS.flatMap((section) => section.commands);

/** Words that take a subcommand, and the subcommand used when none is given. */
export const COMMAND_GROUPS: Readonly<Record<string, { summary: string; defaultSubcommand: string }>> = {
  groups: { summary: 'group chats', defaultSubcommand: 'list' },
  contacts: { summary: 'your address book', defaultSubcommand: 'list' },
  outbox: { summary: 'messages not yet confirmed by the server', defaultSubcommand: 'list' },
};

export function isCommandGroup(word: string): boolean {
  return Object.hasOwn(COMMAND_GROUPS, word);
}

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((command) => command.name === name);
}

export function commandsOfGroup(group: string): CommandSpec[] {
  return COMMANDS.filter((command) => command.name.startsWith(`${group} `));
}
