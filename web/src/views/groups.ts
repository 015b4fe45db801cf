/**
 * Group dialogs: create a group (title, members by phone number) and group info (members and
 * roles; admins add, remove, promote and dismiss, see who was invited and has not answered, and
 * manage the invite link (group-link.ts); everyone can leave). Someone whose privacy does not
 * let the adder add them directly is invited instead: the same answer either way.
 */
import type { Group, MessengerApi, Profile } from '../../../client/index.ts';
import { MessengerError } from '../../../client/index.ts';
import { GROUP_TITLE_MAX } from '../../../protocol/index.ts';
import type { Directory } from '../directory.ts';
import { bidi, errorLine, field, h, openDialog, replaceChildren, statusLine } from '../dom.ts';
import { friendlyError } from '../errors.ts';
import { isolate } from '../format.ts';
import { setPicture } from '../media/avatars.ts';
import { photoPicker } from '../media/photo-picker.ts';
import { avatar } from './chat-list.ts';
import { linkSection } from './group-link.ts';

/**
 * A phone number input with an Add button that resolves the number to a user. Enter adds
 * (it does not submit the surrounding form).
 */
function memberPicker(options: {
  api: MessengerApi;
  directory: Directory;
  testId: string;
  label: string;
  onPicked(profile: Profile): Promise<void> | void;
  onError(text: string): void;
}): HTMLElement {
  const input = h('input', { type: 'tel', inputmode: 'tel', autocomplete: 'off', placeholder: '+49 151 23456789', 'data-testid': `${options.testId}-phone` });
  const add = h('button', { type: 'button', class: 'secondary', 'data-testid': `${options.testId}-add` }, 'Add');
  const pick = async (): Promise<void> => {
    const phone = input.value.trim();
    if (phone === '') {
      input.focus();
      return;
    }
    add.disabled = true;
    try {
      const profile = await options.api.userByPhone(phone);
      if (profile.userId === options.directory.me) throw new MessengerError('self_reference');
      options.directory.rememberProfile(profile);
      await options.onPicked(profile);
      input.value = '';
    } catch (error) {
      options.onError(error instanceof MessengerError && error.code === 'self_reference' ? 'That is your own number: you are in the group anyway.' : friendlyError(error));
    } finally {
      add.disabled = false;
      input.focus();
    }
  };
  add.addEventListener('click', () => void pick());
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      void pick();
    }
  });
  const wrapper = field(options.label, input, 'A phone number with its country code.');
  wrapper.append(h('div', { class: 'inline-actions' }, add));
  return wrapper;
}

/** The "New group" dialog. Calls `onCreated` with the new group's id. */
export function openCreateGroup(options: { api: MessengerApi; directory: Directory; onCreated(groupId: string): void }): void {
  const { api, directory } = options;
  const members = new Map<string, Profile>();
  const title = h('input', { type: 'text', required: true, maxlength: GROUP_TITLE_MAX, dir: 'auto', 'data-testid': 'group-title', autocomplete: 'off' });
  const chips = h('ul', { class: 'chips', 'aria-label': 'Members to add', 'data-testid': 'group-member-chips' });
  const error = errorLine('group-error');
  const create = h('button', { type: 'submit', class: 'primary', 'data-testid': 'group-create' }, 'Create group');

  const drawChips = (): void => {
    replaceChildren(
      chips,
      ...[...members.values()].map((profile) => {
        const name = directory.userName(profile.userId);
        return h(
          'li',
          { class: 'chip', 'data-testid': 'group-member-chip' },
          bidi(name),
          h(
            'button',
            {
              type: 'button',
              class: 'chip-remove',
              'aria-label': `Remove ${isolate(name)}`,
              on: {
                click: () => {
                  members.delete(profile.userId);
                  drawChips();
                },
              },
            },
            '✕',
          ),
        );
      }),
    );
  };

  const picker = memberPicker({
    api,
    directory,
    testId: 'group-member',
    label: 'Add members',
    onPicked: (profile) => {
      error.clear();
      members.set(profile.userId, profile);
      drawChips();
    },
    onError: (text) => error.show(text),
  });

  const form = h('form', { class: 'dialog-form', novalidate: true }, field('Group name', title), picker, chips, error.el, h('div', { class: 'dialog-actions' }, create));
  const dialog = openDialog({ title: 'New group', testId: 'new-group-dialog', content: [form] });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const name = title.value.trim();
    if (name === '') {
      error.show('Give the group a name.');
      title.focus();
      return;
    }
    create.disabled = true;
    api.createGroup({ title: name, members: [...members.keys()] }).then(
      (group) => {
        directory.rememberGroup(group);
        dialog.close();
        options.onCreated(group.groupId);
      },
      (e: unknown) => {
        create.disabled = false;
        error.show(friendlyError(e));
      },
    );
  });
}

/** The group info dialog: members, roles and the admin actions. */
export function openGroupInfo(options: {
  api: MessengerApi;
  directory: Directory;
  groupId: string;
  onLeft(): void;
  /** Upload an `avatar` (a square JPEG) for the group picture; resolves with its media id. */
  uploadPicture?(file: Blob, onProgress: (fraction: number) => void): Promise<string>;
}): void {
  const { api, directory, groupId } = options;
  const me = directory.me;
  const body = h('div', { class: 'group-info', 'data-testid': 'group-info', 'aria-busy': 'true' }, h('p', {}, 'Loading…'));
  const error = errorLine('group-info-error');
  const note = statusLine('group-info-note');
  openDialog({ title: bidi(directory.groupTitle(groupId)), testId: 'group-info-dialog', content: [body, error.el, note.el] });

  /** Run an action that answers with the updated group, then redraw. */
  const act = async (action: () => Promise<Group>): Promise<void> => {
    error.clear();
    note.show('');
    body.setAttribute('aria-busy', 'true');
    try {
      const group = await action();
      await directory.whenKnown([...group.members.map((m) => m.userId), ...group.invites.map((i) => i.userId)]);
      draw(group);
    } catch (e) {
      error.show(friendlyError(e));
    } finally {
      body.removeAttribute('aria-busy');
    }
  };

  /** Created once, when the user is seen to be an admin (it loads the link and requests itself). */
  let links: HTMLElement | null = null;
  /** The group picture, large, with Change / Remove for admins. */
  let current: Group | null = null;
  const picture = avatar(groupId, directory.groupTitle(groupId), 'large', directory.groupPicture(groupId));
  picture.dataset.testid = 'group-picture';
  const upload = options.uploadPicture;
  const pictureControls =
    upload === undefined
      ? null
      : photoPicker({
          testId: 'group-picture',
          noun: 'picture',
          current: () => current?.picture ?? null,
          upload,
          save: async (mediaId) => {
            const updated = await api.updateGroup(groupId, { picture: mediaId });
            await directory.whenKnown(updated.members.map((m) => m.userId));
            draw(updated);
          },
        });

  const draw = (group: Group): void => {
    directory.rememberGroup(group);
    current = group;
    body.removeAttribute('aria-busy');
    const iAmAdmin = group.members.some((m) => m.userId === me && m.role === 'admin');
    setPicture(picture, group.picture, group.title);
    pictureControls?.refresh();
    const members = [...group.members].sort((a, b) => (a.userId === me ? -1 : b.userId === me ? 1 : a.role === b.role ? 0 : a.role === 'admin' ? -1 : 1));
    const list = h(
      'ul',
      { class: 'member-list', 'data-testid': 'member-list', 'aria-label': 'Members' },
      ...members.map((member) => {
        const name = member.userId === me ? 'You' : directory.userName(member.userId);
        const actions =
          iAmAdmin && member.userId !== me
            ? h(
                'div',
                { class: 'member-actions' },
                member.role === 'admin'
                  ? h('button', { type: 'button', class: 'secondary small', 'data-testid': 'member-demote', on: { click: () => void act(() => api.demoteAdmin(groupId, member.userId)) } }, 'Dismiss as admin')
                  : h('button', { type: 'button', class: 'secondary small', 'data-testid': 'member-promote', on: { click: () => void act(() => api.promoteAdmin(groupId, member.userId)) } }, 'Make admin'),
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'danger small',
                    'data-testid': 'member-remove',
                    on: {
                      click: () => {
                        if (window.confirm(`Remove ${isolate(name)} from the group?`)) void act(() => api.removeGroupMember(groupId, member.userId));
                      },
                    },
                  },
                  'Remove',
                ),
              )
            : null;
        return h(
          'li',
          { class: 'member', 'data-testid': 'member', 'data-user': member.userId, 'data-role': member.role },
          avatar(member.userId, name, 'small', directory.userPhoto(member.userId)),
          h('span', { class: 'member-name' }, bidi(name)),
          member.role === 'admin' ? h('span', { class: 'role-badge' }, 'Admin') : null,
          actions,
        );
      }),
    );
    const invited =
      group.invites.length === 0
        ? null
        : h(
            'div',
            { class: 'invited' },
            h('h4', {}, 'Invited, not answered yet'),
            h(
              'ul',
              { class: 'member-list', 'data-testid': 'invited-list', 'aria-label': 'Invited' },
              ...group.invites.map((invite) => {
                const name = directory.userName(invite.userId);
                return h(
                  'li',
                  { class: 'member', 'data-testid': 'invited', 'data-user': invite.userId },
                  avatar(invite.userId, name, 'small', directory.userPhoto(invite.userId)),
                  h('span', { class: 'member-name' }, bidi(name)),
                  h('span', { class: 'hint' }, 'Invited'),
                );
              }),
            ),
          );
    if (iAmAdmin && links === null) links = linkSection({ api, directory, groupId, onGroup: (updated) => draw(updated) });
    const picker = iAmAdmin
      ? memberPicker({
          api,
          directory,
          testId: 'add-member',
          label: 'Add a member',
          onPicked: (profile) =>
            act(async () => {
              const updated = await api.addGroupMembers(groupId, [profile.userId]);
              if (updated.invites.some((invite) => invite.userId === profile.userId)) {
                note.show(`${isolate(directory.userName(profile.userId))} was invited and joins after accepting.`);
              }
              return updated;
            }),
          onError: (text) => error.show(text),
        })
      : null;
    const leave = h(
      'button',
      {
        type: 'button',
        class: 'danger',
        'data-testid': 'leave-group',
        on: {
          click: () => {
            if (!window.confirm(`Leave “${isolate(group.title)}”?`)) return;
            api.leaveGroup(groupId).then(
              () => {
                body.closest('dialog')?.close();
                options.onLeft();
              },
              (e: unknown) => error.show(friendlyError(e)),
            );
          },
        },
      },
      'Leave group',
    );
    replaceChildren(
      body,
      h('div', { class: 'group-picture-row' }, picture, iAmAdmin ? pictureControls?.el : null),
      // `members` stops at GROUP_VIEW_MEMBERS_MAX in a large group: the count is `memberCount`.
      h('p', { class: 'member-count' }, `${group.memberCount.toLocaleString()} ${group.memberCount === 1 ? 'member' : 'members'}`),
      list,
      invited,
      picker,
      iAmAdmin ? links : null,
      h('div', { class: 'dialog-actions' }, leave),
    );
  };

  api.group(groupId).then(async (group) => {
    // Names first: the lists are drawn once, not as each name arrives.
    await directory.whenKnown([...group.members.map((m) => m.userId), ...group.invites.map((i) => i.userId)]);
    draw(group);
  }, (e: unknown) => {
    body.removeAttribute('aria-busy');
    replaceChildren(body, h('p', {}, friendlyError(e)));
  });
}
