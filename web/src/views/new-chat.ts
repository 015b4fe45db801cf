/** The "New chat" dialog: start a 1:1 chat with someone by phone number. */
import type { MessengerApi } from '../../../client/index.ts';
import type { Directory } from '../directory.ts';
import { errorLine, field, h, openDialog } from '../dom.ts';
import { friendlyError } from '../errors.ts';

/** The "New chat" dialog: find someone by phone number. Calls `onFound` with their user id. */
export function openNewChat(options: { api: MessengerApi; directory: Directory; onFound(userId: string): void }): void {
  const { api, directory } = options;
  const phone = h('input', { type: 'tel', inputmode: 'tel', autocomplete: 'tel', required: true, placeholder: '+49 151 23456789', 'data-testid': 'new-chat-phone' });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'new-chat-submit' }, 'Start chat');
  const error = errorLine('new-chat-error');
  const form = h('form', { class: 'dialog-form', novalidate: true }, field('Phone number', phone, 'With the country code.'), error.el, h('div', { class: 'dialog-actions' }, submit));
  const dialog = openDialog({ title: 'New chat', testId: 'new-chat-dialog', content: [form] });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const value = phone.value.trim();
    if (value === '') {
      error.show('Enter a phone number.');
      phone.focus();
      return;
    }
    submit.disabled = true;
    api.userByPhone(value).then(
      (profile) => {
        if (profile.userId === directory.me) {
          submit.disabled = false;
          error.show('That is your own number.');
          return;
        }
        directory.rememberProfile(profile);
        // Typing someone's number is saving them as a contact (as an address book would): the
        // default privacy shows last seen / online to contacts. Best effort; the chat opens anyway.
        void directory
          .addContact(value)
          .catch(() => undefined)
          .then(() => {
            dialog.close();
            options.onFound(profile.userId);
          });
      },
      (e: unknown) => {
        submit.disabled = false;
        error.show(friendlyError(e));
        phone.focus();
      },
    );
  });
}
