/**
 * What the message menu offers for one message (message-menu.ts draws it): the reactions, then
 * Reply, Copy, Forward, Star / Unstar, Edit, Message info and Delete, as far as the message and
 * the user's role allow (actions.ts); Delete asks "for me" or "for everyone".
 */
import { copyText, type MessageActions } from '../actions.ts';
import { quoteOf, type Chat, type MessageItem } from '../chat-store.ts';
import type { Composer } from './composer.ts';
import { openDeleteDialog } from './message-dialogs.ts';
import { openMessageMenu, type MenuEntry } from './message-menu.ts';
import { messageText } from './message-row.ts';
import { myReaction } from './reactions.ts';

export interface MessageOptions {
  chat: Chat;
  item: MessageItem;
  opener: HTMLElement;
  at: { x: number; y: number } | null;
  actions: MessageActions;
  composer: Composer;
  me: string;
  forward(item: MessageItem): void;
  info(item: MessageItem): void;
  /** A short notice for the user ("Copied"). */
  say(text: string): void;
}

export function openMessageOptions(options: MessageOptions): void {
  const { chat, item, actions, composer } = options;
  const allowed = actions.allowed(chat, item);
  const entries: MenuEntry[] = [];
  if (allowed.reply) {
    entries.push({
      label: 'Reply',
      testId: 'menu-reply',
      run: () => {
        const quote = quoteOf(item);
        if (quote !== null) composer.replyTo(item, quote);
      },
    });
  }
  if (allowed.copy) entries.push({ label: 'Copy', testId: 'menu-copy', run: () => void copy(item, options.say) });
  if (allowed.forward) entries.push({ label: 'Forward', testId: 'menu-forward', run: () => options.forward(item) });
  if (allowed.star) {
    entries.push({ label: item.starred ? 'Unstar' : 'Star', testId: item.starred ? 'menu-unstar' : 'menu-star', run: () => actions.star(chat, item, !item.starred) });
  }
  if (allowed.edit) entries.push({ label: 'Edit', testId: 'menu-edit', run: () => composer.edit(item, messageText(item, options.me)) });
  if (allowed.info) entries.push({ label: 'Message info', testId: 'menu-info', run: () => options.info(item) });
  if (item.id !== null) {
    entries.push({
      label: 'Delete',
      testId: 'menu-delete',
      danger: true,
      run: () =>
        openDeleteDialog({
          forEveryone: allowed.deleteForEveryone,
          own: item.own,
          remove: (scope) => {
            if (composer.current?.item.key === item.key) composer.cancelContext();
            actions.delete(chat, item, scope);
          },
        }),
    });
  }
  if (entries.length === 0) return;
  openMessageMenu({
    opener: options.opener,
    at: options.at,
    reactions: allowed.react ? { current: myReaction(item.reactions, options.me), choose: (emoji) => actions.react(chat, item, emoji) } : null,
    entries,
  });
}

async function copy(item: MessageItem, say: (text: string) => void): Promise<void> {
  try {
    await navigator.clipboard.writeText(copyText(item));
    say('Copied');
  } catch {
    say('Couldn’t copy: select the text and copy it instead.');
  }
}
