/**
 * Dialogs of the message menu: "Delete message?" (for me / for everyone, the latter only when
 * allowed) and "Message info" (groups, one's own message: who it reached and who read it).
 */
import type { MessageInfo, MessengerApi } from '../../../client/index.ts';
import type { Directory } from '../directory.ts';
import { h, openDialog, setText } from '../dom.ts';
import { formatDateTime } from '../format.ts';

/** Ask how to delete a message; `remove` is called with the choice. */
export function openDeleteDialog(options: { forEveryone: boolean; own: boolean; remove(scope: 'me' | 'everyone'): void }): HTMLDialogElement {
  const choose = (scope: 'me' | 'everyone') => () => {
    dialog.close();
    options.remove(scope);
  };
  const note = options.forEveryone
    ? options.own
      ? 'Delete for everyone removes it from this chat for all. Delete for me removes it only from your devices.'
      : 'As a group admin you can delete this message for everyone.'
    : 'It is removed only from your devices.';
  const dialog = openDialog({
    title: 'Delete message?',
    testId: 'delete-dialog',
    content: [
      h('p', { class: 'hint' }, note),
      h(
        'div',
        { class: 'dialog-actions dialog-actions-stacked' },
        options.forEveryone ? h('button', { type: 'button', class: 'danger', 'data-testid': 'delete-everyone', on: { click: choose('everyone') } }, 'Delete for everyone') : null,
        h('button', { type: 'button', class: 'danger', 'data-testid': 'delete-me', on: { click: choose('me') } }, 'Delete for me'),
        h('button', { type: 'button', class: 'secondary', autofocus: true, 'data-testid': 'delete-cancel', on: { click: () => dialog.close() } }, 'Cancel'),
      ),
    ],
  });
  dialog.querySelector<HTMLElement>('[autofocus]')?.focus();
  return dialog;
}

/** "Read by" and "Delivered to" of one's own group message (the existing message-info API). */
export function openMessageInfo(options: { api: MessengerApi; directory: Directory; groupId: string; messageId: string }): HTMLDialogElement {
  const status = h('p', { class: 'hint', role: 'status' }, 'Loading…');
  const body = h('div', { class: 'message-info', 'data-testid': 'message-info-body' });
  const dialog = openDialog({ title: 'Message info', testId: 'message-info-dialog', content: [status, body] });
  const list = (title: string, testId: string, entries: MessageInfo['read']): HTMLElement =>
    h(
      'section',
      { class: 'info-section', 'data-testid': testId },
      h('h3', {}, title),
      entries.length === 0
        ? h('p', { class: 'hint' }, 'Nobody yet')
        : h(
            'ul',
            { class: 'info-list' },
            ...entries.map((entry) =>
              h('li', {}, h('bdi', {}, options.directory.userName(entry.userId)), entry.at === null ? null : h('span', { class: 'info-time' }, formatDateTime(entry.at))),
            ),
          ),
    );
  options.api.messageInfo(options.groupId, options.messageId).then(
    (info) => {
      status.hidden = true;
      // Someone who read it also has it: "Delivered to" lists the others.
      const read = new Set(info.read.map((r) => r.userId));
      body.replaceChildren(list('Read by', 'info-read', info.read), list('Delivered to', 'info-delivered', info.delivered.filter((d) => !read.has(d.userId))));
    },
    () => setText(status, 'Couldn’t load the message info. Try again later.'),
  );
  return dialog;
}
