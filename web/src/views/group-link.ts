/**
 * The admin part of group info that lets people in: the invite link (create it, optionally
 * with admin approval; copy; revoke) and the requests to join through it waiting for approval
 * (approve / decline). The link is `<origin>/#join/<code>` (join.ts opens it).
 */
import type { MessengerApi } from '../../../client/index.ts';
import type { Group, GroupLink } from '../../../protocol/index.ts';
import type { Directory } from '../directory.ts';
import { bidi, busy, errorLine, h, replaceChildren, section, statusLine } from '../dom.ts';
import { friendlyError } from '../errors.ts';
import { isolate } from '../format.ts';
import { avatar } from './chat-list.ts';

export interface LinkSectionOptions {
  api: MessengerApi;
  directory: Directory;
  groupId: string;
  /** Someone was let in: the group changed (redraw the member list). */
  onGroup(group: Group): void;
}

/** The address an invite link code opens in this client. */
export function joinUrl(code: string): string {
  return `${location.origin}/#join/${code}`;
}

export function linkSection(options: LinkSectionOptions): HTMLElement {
  const { api, groupId } = options;
  const content = h('div', { class: 'group-link', 'data-testid': 'group-link', 'aria-busy': 'true' });
  const requests = h('div', { class: 'join-requests' });
  const error = errorLine('group-link-error');
  const status = statusLine('group-link-status');

  const drawNone = (): void => {
    replaceChildren(requests);
    const approval = h('input', { type: 'checkbox', 'data-testid': 'link-approval' });
    const create = h('button', { type: 'button', class: 'secondary', 'data-testid': 'link-create' }, 'Create invite link');
    create.addEventListener('click', () => {
      error.clear();
      busy(create, true, 'Creating…');
      api.createLink(groupId, { approval: approval.checked }).then(drawLink, (e: unknown) => {
        busy(create, false, 'Create invite link');
        error.show(friendlyError(e));
      });
    });
    replaceChildren(
      content,
      h('p', { class: 'hint' }, 'Anyone with the link can join, or ask to join if admins approve new members.'),
      h('label', { class: 'check' }, approval, ' Admins approve new members'),
      h('div', { class: 'settings-actions' }, create),
    );
  };

  const drawLink = (link: GroupLink): void => {
    content.removeAttribute('aria-busy');
    const url = h('input', { type: 'text', readonly: true, value: joinUrl(link.code), 'aria-label': 'Invite link', 'data-testid': 'link-url', class: 'link-url' });
    const copy = h('button', { type: 'button', class: 'secondary small', 'data-testid': 'link-copy' }, 'Copy');
    const revoke = h('button', { type: 'button', class: 'danger small', 'data-testid': 'link-revoke' }, 'Revoke');
    copy.addEventListener('click', () => {
      url.select();
      navigator.clipboard.writeText(url.value).then(
        () => status.show('Link copied'),
        // No clipboard access: the link is selected, ready for Ctrl+C.
        () => status.show('Press Ctrl+C to copy the selected link'),
      );
    });
    revoke.addEventListener('click', () => {
      if (!window.confirm('Revoke this invite link? It stops working at once; you can create a new one.')) return;
      error.clear();
      revoke.disabled = true;
      api.revokeLink(groupId).then(
        () => {
          status.show('Link revoked');
          drawNone();
        },
        (e: unknown) => {
          revoke.disabled = false;
          error.show(friendlyError(e));
        },
      );
    });
    replaceChildren(
      content,
      h('div', { class: 'link-row' }, url, copy, revoke),
      h('p', { class: 'hint', 'data-testid': 'link-mode' }, link.approval ? 'Admins approve everyone who asks to join through it.' : 'Anyone with the link joins at once.'),
    );
    if (link.approval) loadRequests();
  };

  const loadRequests = (): void => {
    api.joinRequests(groupId).then(
      async ({ requests: pending }) => {
        await options.directory.whenKnown(pending.map((request) => request.userId));
        if (pending.length === 0) {
          replaceChildren(requests, h('p', { class: 'hint', 'data-testid': 'requests-empty' }, 'No requests to join.'));
          return;
        }
        replaceChildren(
          requests,
          h('h4', {}, 'Requests to join'),
          h(
            'ul',
            { class: 'member-list', 'data-testid': 'join-requests' },
            ...pending.map((request) => {
              const name = options.directory.userName(request.userId);
              const approve = h('button', { type: 'button', class: 'secondary small', 'data-testid': 'request-approve', 'aria-label': `Approve ${isolate(name)}` }, 'Approve');
              const decline = h('button', { type: 'button', class: 'danger small', 'data-testid': 'request-decline', 'aria-label': `Decline ${isolate(name)}` }, 'Decline');
              const answer = (call: () => Promise<Group | void>): void => {
                error.clear();
                approve.disabled = true;
                decline.disabled = true;
                call().then(
                  (group) => {
                    if (group !== undefined) options.onGroup(group);
                    loadRequests();
                  },
                  (e: unknown) => {
                    error.show(friendlyError(e));
                    loadRequests();
                  },
                );
              };
              approve.addEventListener('click', () => answer(() => api.approveRequest(groupId, request.userId)));
              decline.addEventListener('click', () => answer(() => api.declineRequest(groupId, request.userId)));
              return h(
                'li',
                { class: 'member', 'data-testid': 'join-request', 'data-user': request.userId },
                avatar(request.userId, name, 'small', options.directory.userPhoto(request.userId)),
                h('span', { class: 'member-name' }, bidi(name)),
                h('div', { class: 'member-actions' }, approve, decline),
              );
            }),
          ),
        );
      },
      (e: unknown) => error.show(friendlyError(e)),
    );
  };

  api.groupLink(groupId).then(
    (link) => {
      content.removeAttribute('aria-busy');
      if (link === null) drawNone();
      else drawLink(link);
    },
    (e: unknown) => {
      content.removeAttribute('aria-busy');
      error.show(friendlyError(e));
    },
  );
  return section('Invite link', 'group-link-section', content, requests, error.el, status.el);
}
