/**
 * "Starred messages" (the sidebar's ★ button): every message the user starred, newest first, in
 * pages from GET /v1/starred, each with its chat, sender, text and time; choosing one opens its
 * chat at that message.
 */
import type { StarredItem, StarredPage } from '../../../protocol/index.ts';
import { chatKey } from '../chat-store.ts';
import type { Directory } from '../directory.ts';
import { busy, h, openDialog, setText } from '../dom.ts';
import { bodyText, formatDateTime } from '../format.ts';

export interface StarredOptions {
  directory: Directory;
  /** One page of starred messages (the SDK's `starred`). */
  load(before: number | undefined): Promise<StarredPage>;
  /** Open the chat at the message. */
  open(key: string, messageId: string): void;
  describeError(error: unknown): string;
}

export function openStarred(options: StarredOptions): HTMLDialogElement {
  const { directory } = options;
  const status = h('p', { class: 'hint', role: 'status', 'data-testid': 'starred-status' }, 'Loading…');
  const list = h('ul', { class: 'starred-list', 'aria-label': 'Starred messages', 'data-testid': 'starred-list' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true, 'data-testid': 'starred-more' }, 'Load more');
  let next: number | undefined;

  const row = (item: StarredItem): HTMLElement => {
    const key = item.chat.kind === 'direct' ? chatKey('direct', item.chat.peer) : chatKey('group', item.chat.group);
    const where = item.chat.kind === 'direct' ? directory.userName(item.chat.peer) : directory.groupTitle(item.chat.group);
    const from = item.message.from === directory.me ? 'You' : directory.userName(item.message.from);
    const text = bodyText(item.message.body);
    const heading = item.chat.kind === 'group' || item.message.from === directory.me ? [h('bdi', {}, from), ' · ', h('bdi', {}, where)] : [h('bdi', {}, from)];
    return h(
      'li',
      {},
      h(
        'button',
        {
          type: 'button',
          class: 'starred-item',
          'data-testid': 'starred-item',
          'data-id': item.message.id,
          on: {
            click: () => {
              dialog.close();
              options.open(key, item.message.id);
            },
          },
        },
        h('span', { class: 'starred-head' }, h('span', { class: 'starred-who' }, ...heading), h('time', { class: 'starred-time' }, formatDateTime(item.message.sentAt))),
        h('span', { class: 'starred-text', 'data-testid': 'starred-text', dir: 'auto' }, text),
      ),
    );
  };

  const load = async (): Promise<void> => {
    busy(more, true, 'Loading…');
    try {
      const page = await options.load(next);
      list.append(...page.messages.map(row));
      next = page.nextBefore ?? undefined;
      more.hidden = page.nextBefore === null;
      status.hidden = list.children.length > 0;
      setText(status, 'No starred messages. Star one from its menu to find it here.');
    } catch (error) {
      status.hidden = false;
      setText(status, options.describeError(error));
    } finally {
      busy(more, false, 'Load more');
    }
  };
  more.addEventListener('click', () => void load());
  const dialog = openDialog({ title: 'Starred messages', testId: 'starred-dialog', content: [status, list, h('div', { class: 'dialog-actions' }, more)] });
  void load();
  return dialog;
}
