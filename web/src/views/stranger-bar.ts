/**
 * "Not in your contacts" under a 1:1 conversation's header: who wrote (their number, when known)
 * and **Add to contacts**, so the recipient of a first message can tell who it is.
 */
import type { Directory } from '../directory.ts';
import { h, setText } from '../dom.ts';
import { formatPhone } from '../format.ts';

export interface StrangerBarOptions {
  /** The other person's user id. */
  peer: string;
  /** The signed-in user's id (a chat with yourself has no stranger). */
  me: () => string | undefined;
  directory: Directory;
  describeError(error: unknown): string;
  /** Called after an add, successful or not (the view redraws). */
  changed(): void;
}

export class StrangerBar {
  readonly el: HTMLElement;
  private readonly phone: HTMLElement;
  private readonly add: HTMLButtonElement;

  constructor(private readonly options: StrangerBarOptions) {
    this.phone = h('span', { class: 'stranger-phone', 'data-testid': 'stranger-phone', dir: 'ltr' });
    this.add = h('button', { type: 'button', class: 'secondary', 'data-testid': 'add-contact', on: { click: () => void this.save() } }, 'Add to contacts');
    this.el = h(
      'div',
      { class: 'stranger-bar', 'data-testid': 'stranger-bar', role: 'region', 'aria-label': 'Not in your contacts', hidden: true },
      h('span', { class: 'stranger-note' }, 'Not in your contacts'),
      this.phone,
      this.add,
    );
  }

  draw(): void {
    const { peer, directory } = this.options;
    const stranger = directory.isContact(peer) === false && peer !== this.options.me();
    const phone = directory.userPhone(peer);
    this.el.hidden = !stranger;
    setText(this.phone, phone === undefined ? '' : formatPhone(phone));
    this.phone.hidden = phone === undefined;
    // Adding takes the number: without it (the server did not say) there is nothing to add.
    this.add.hidden = phone === undefined;
  }

  private async save(): Promise<void> {
    const phone = this.options.directory.userPhone(this.options.peer);
    if (phone === undefined) return;
    this.add.disabled = true;
    try {
      await this.options.directory.addContact(phone);
    } catch (error) {
      this.add.title = this.options.describeError(error);
    } finally {
      this.add.disabled = false;
    }
    this.options.changed();
  }
}
