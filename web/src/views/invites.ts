/**
 * Pending group invites, at the top of the chat list: someone who may not add the user to a
 * group directly (their "who can add me to groups" setting) invited them instead. Each invite
 * shows the group, who invited and how many members it has, with Accept and Decline. The list
 * comes from `GET /v1/invites` (at start and after every reconnect) and grows live with the
 * mailbox's `group_invite` entries; an invite answered on another device disappears with the
 * group's "joined" event or the next reload of the list.
 */
import type { MessengerApi } from '../../../client/index.ts';
import type { GroupInvite } from '../../../protocol/index.ts';
import type { Directory } from '../directory.ts';
import { bidi, errorLine, h, reconcile, setAttr, setPhrase, setText } from '../dom.ts';
import { friendlyError } from '../errors.ts';
import { isolate } from '../format.ts';
import { avatar } from './chat-list.ts';

/** An invite as shown: from the list, or from a live entry (which has no member count). */
export type ShownInvite = Omit<GroupInvite, 'memberCount'> & { memberCount?: number };

/** Pages of invites loaded at most (an unlikely pile beyond this shows after answering some). */
const MAX_PAGES = 10;

export interface InvitesOptions {
  api: MessengerApi;
  directory: Directory;
  /** The user joined the group: open it. */
  onAccepted(groupId: string): void;
}

export class InvitesView {
  readonly el: HTMLElement;
  private readonly list: HTMLUListElement;
  private readonly error: ReturnType<typeof errorLine>;
  private readonly invites = new Map<string, ShownInvite>();
  private readonly rows = new Map<string, HTMLElement>();
  private readonly options: InvitesOptions;
  private loading = false;
  private readonly redraw = (): void => this.draw();

  constructor(options: InvitesOptions) {
    this.options = options;
    this.list = h('ul', { class: 'invite-list', 'aria-label': 'Group invites' });
    this.error = errorLine('invites-error');
    this.el = h(
      'section',
      { class: 'invites', 'data-testid': 'invites', 'aria-labelledby': 'invites-title', hidden: true },
      h('h2', { class: 'invites-title', id: 'invites-title' }, 'Group invites'),
      this.list,
      this.error.el,
    );
    options.directory.on('changed', this.redraw);
  }

  dispose(): void {
    this.options.directory.off('changed', this.redraw);
  }

  /** Replace the list with the server's (all pages, newest first). */
  async load(): Promise<void> {
    if (this.loading) return;
    this.loading = true;
    try {
      const all: GroupInvite[] = [];
      let before: string | undefined;
      for (let page = 0; page < MAX_PAGES; page++) {
        const answer = await this.options.api.invites(before === undefined ? {} : { before });
        all.push(...answer.invites);
        if (answer.nextBefore === null) break;
        before = answer.nextBefore;
      }
      this.invites.clear();
      for (const invite of all) this.invites.set(invite.groupId, invite);
      this.draw();
    } catch {
      // Offline: the next hello loads it again; live entries still arrive meanwhile.
    } finally {
      this.loading = false;
    }
  }

  /** A live `group_invite` entry. */
  add(invite: ShownInvite): void {
    const known = this.invites.get(invite.groupId);
    this.invites.set(invite.groupId, { ...invite, ...(known?.memberCount === undefined ? {} : { memberCount: known.memberCount }) });
    this.draw();
  }

  /** The user joined or left the group some other way (another device answered): the invite is gone. */
  remove(groupId: string): void {
    if (this.invites.delete(groupId)) this.draw();
  }

  private draw(): void {
    const invites = [...this.invites.values()].sort((a, b) => b.at - a.at);
    this.el.hidden = invites.length === 0;
    reconcile(
      this.list,
      invites,
      this.rows,
      (invite) => invite.groupId,
      (invite) => this.createRow(invite),
      (row, invite) => this.updateRow(row, invite),
    );
  }

  private createRow(invite: ShownInvite): HTMLElement {
    const accept = h('button', { type: 'button', class: 'primary small', 'data-testid': 'invite-accept' }, 'Accept');
    const decline = h('button', { type: 'button', class: 'secondary small', 'data-testid': 'invite-decline' }, 'Decline');
    accept.addEventListener('click', () => void this.answer(invite.groupId, 'accept', accept, decline));
    decline.addEventListener('click', () => void this.answer(invite.groupId, 'decline', accept, decline));
    return h(
      'li',
      { class: 'invite', 'data-testid': 'invite', 'data-group': invite.groupId },
      avatar(invite.groupId, invite.title),
      h('span', { class: 'invite-main' }, h('span', { class: 'invite-title', 'data-testid': 'invite-title' }), h('span', { class: 'invite-by hint', 'data-testid': 'invite-by' })),
      h('span', { class: 'invite-actions' }, decline, accept),
    );
  }

  private updateRow(row: HTMLElement, invite: ShownInvite): void {
    const title = row.querySelector('[data-testid="invite-title"]');
    const by = row.querySelector('[data-testid="invite-by"]');
    if (title === null || by === null) return;
    if (title.firstChild === null) title.append(bidi(invite.title));
    else setText(title.firstChild, invite.title);
    const count = invite.memberCount === undefined ? '' : ` · ${invite.memberCount} ${invite.memberCount === 1 ? 'member' : 'members'}`;
    setPhrase(by, [{ isolate: this.options.directory.userName(invite.invitedBy) }, ` invited you${count}`]);
    for (const button of row.querySelectorAll('button')) setAttr(button, 'aria-label', `${button.textContent ?? ''} the invite to ${isolate(invite.title)}`);
  }

  private async answer(groupId: string, how: 'accept' | 'decline', ...buttons: HTMLButtonElement[]): Promise<void> {
    const { api, directory } = this.options;
    this.error.clear();
    for (const button of buttons) button.disabled = true;
    try {
      if (how === 'accept') {
        const group = await api.acceptInvite(groupId);
        directory.rememberGroup(group);
        this.remove(groupId);
        this.options.onAccepted(groupId);
      } else {
        await api.declineInvite(groupId);
        this.remove(groupId);
      }
    } catch (e) {
      for (const button of buttons) button.disabled = false;
      this.error.show(friendlyError(e));
      // Answered elsewhere or withdrawn: the list is out of date.
      void this.load();
    }
  }
}
