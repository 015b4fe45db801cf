/**
 * Opening an invite link (`<origin>/#join/<code>`): a dialog previews the group (title,
 * description, member count, whether an admin must approve) and offers Join. Joining either
 * opens the group, or, for a link that needs approval, says the request was sent.
 */
import type { MessengerApi } from '../../../client/index.ts';
import { MessengerError } from '../../../client/index.ts';
import type { Directory } from '../directory.ts';
import { bidi, busy, errorLine, h, openDialog, replaceChildren } from '../dom.ts';
import { friendlyError } from '../errors.ts';

export interface JoinOptions {
  api: MessengerApi;
  directory: Directory;
  code: string;
  /** The user is in the group (joined now, or was already): open it. */
  onJoined(groupId: string): void;
}

export function openJoinLink(options: JoinOptions): void {
  const { api, directory, code } = options;
  const body = h('div', { class: 'join-preview', 'data-testid': 'join-preview', 'aria-busy': 'true' }, h('p', {}, 'Loading…'));
  const error = errorLine('join-error');
  const dialog = openDialog({ title: 'Join group', testId: 'join-dialog', content: [body, error.el] });

  const joined = (groupId: string): void => {
    dialog.close();
    options.onJoined(groupId);
  };

  api.linkPreview(code).then(
    (preview) => {
      body.removeAttribute('aria-busy');
      const join = h('button', { type: 'button', class: 'primary', 'data-testid': 'join-submit' }, preview.approval ? 'Ask to join' : 'Join group');
      const result = h('p', { class: 'notice', role: 'status', 'data-testid': 'join-result', hidden: true });
      join.addEventListener('click', () => {
        error.clear();
        busy(join, true, 'Joining…');
        api.joinByLink(code).then(
          (answer) => {
            if (answer.status === 'joined') {
              directory.rememberGroup(answer.group);
              joined(answer.group.groupId);
              return;
            }
            join.hidden = true;
            result.textContent = 'Your request to join was sent. A group admin decides; the group appears in your chats if you are let in.';
            result.hidden = false;
          },
          (e: unknown) => {
            if (e instanceof MessengerError && e.code === 'already_member') {
              joined(preview.groupId);
              return;
            }
            busy(join, false, preview.approval ? 'Ask to join' : 'Join group');
            error.show(friendlyError(e));
          },
        );
      });
      replaceChildren(
        body,
        h('h3', { class: 'join-title', 'data-testid': 'join-title' }, bidi(preview.title)),
        preview.description === '' ? null : h('p', { class: 'join-description', dir: 'auto' }, preview.description),
        h('p', { class: 'hint', 'data-testid': 'join-members' }, `${preview.memberCount} ${preview.memberCount === 1 ? 'member' : 'members'}`),
        preview.approval ? h('p', { class: 'hint' }, 'An admin approves new members of this group.') : null,
        result,
        h('div', { class: 'dialog-actions' }, join),
      );
      join.focus();
    },
    (e: unknown) => {
      body.removeAttribute('aria-busy');
      replaceChildren(body, h('p', { 'data-testid': 'join-invalid' }, friendlyError(e)));
    },
  );
}
