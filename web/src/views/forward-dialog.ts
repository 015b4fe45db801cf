/**
 * "Forward message to": the chats (most recent first, groups one has left excluded), a search
 * field that narrows them by name, a checkbox per chat, and Forward for the chosen ones.
 */
import type { Chat, ChatStore } from '../chat-store.ts';
import type { Directory } from '../directory.ts';
import { h, openDialog, setText } from '../dom.ts';
import { avatar, chatTitle } from './chat-list.ts';

export interface ForwardOptions {
  store: ChatStore;
  directory: Directory;
  /** Send to the chosen chats. */
  forward(targets: Chat[]): void;
}

export function openForwardDialog(options: ForwardOptions): HTMLDialogElement {
  const { store, directory } = options;
  const chats = store.list().filter((chat) => !chat.left);
  const chosen = new Set<string>();
  const search = h('input', { type: 'search', class: 'forward-search', placeholder: 'Search chats', 'aria-label': 'Search chats', 'data-testid': 'forward-search' });
  const submit = h('button', { type: 'submit', class: 'primary', disabled: true, 'data-testid': 'forward-submit' }, 'Forward');
  const rows = chats.map((chat) => {
    const title = chatTitle(chat, directory);
    const box = h('input', { type: 'checkbox', value: chat.key, 'data-testid': 'forward-choice' });
    box.addEventListener('change', () => {
      if (box.checked) chosen.add(chat.key);
      else chosen.delete(chat.key);
      submit.disabled = chosen.size === 0;
      setText(submit, chosen.size > 1 ? `Forward to ${chosen.size} chats` : 'Forward');
    });
    const row = h(
      'li',
      { class: 'forward-row', 'data-testid': 'forward-chat', 'data-chat': chat.key },
      h('label', { class: 'forward-label' }, box, avatar(chat.id, title, 'small', chat.kind === 'direct' ? directory.userPhoto(chat.id) : directory.groupPicture(chat.id)), h('bdi', { class: 'forward-title', 'data-testid': 'forward-title' }, title)),
    );
    return { row, title: title.toLocaleLowerCase() };
  });
  const list = h('ul', { class: 'forward-list', 'aria-label': 'Chats' }, ...rows.map((r) => r.row));
  const empty = h('p', { class: 'hint', hidden: chats.length > 0 }, 'No chats to forward to yet.');
  search.addEventListener('input', () => {
    const query = search.value.trim().toLocaleLowerCase();
    for (const { row, title } of rows) row.hidden = query !== '' && !title.includes(query);
  });
  const form = h('form', { class: 'forward-form' }, search, list, empty, h('div', { class: 'dialog-actions' }, submit));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const targets = chats.filter((chat) => chosen.has(chat.key));
    if (targets.length === 0) return;
    dialog.close();
    options.forward(targets);
  });
  const dialog = openDialog({ title: 'Forward message to', testId: 'forward-dialog', content: [form] });
  return dialog;
}
