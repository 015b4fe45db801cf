/**
 * The account sections of the settings panel: the devices logged in to the account (this one
 * marked; the others can be logged out), two-step verification (turn the PIN on, change it, turn
 * it off; a pending reset is shown), and deleting the account (confirmed by typing the phone
 * number). A device logged in less than a day ago without the PIN is refused some of these
 * (`device_too_new`); errors.ts says so in words.
 */
import type { MessengerApi } from '../../../client/index.ts';
import { PIN_LENGTH, type Device } from '../../../protocol/index.ts';
import { bidi, busy, errorLine, field, h, openDialog, replaceChildren, section, setText, statusLine } from '../dom.ts';
import { friendlyError } from '../errors.ts';
import { formatDateTime, formatListTime, isolate } from '../format.ts';

// ---------------------------------------------------------------- devices

const PLATFORMS: Record<string, string> = { web: 'Web', ios: 'iPhone', android: 'Android', cli: 'Command line' };

export function devicesSection(api: MessengerApi): { el: HTMLElement; reload(): void } {
  const list = h('ul', { class: 'settings-list', 'data-testid': 'device-list', 'aria-label': 'Devices' });
  const error = errorLine('devices-error');
  const row = (device: Device): HTMLElement => {
    const details = [
      PLATFORMS[device.platform] ?? device.platform,
      device.current ? 'this browser' : device.lastSeenAt === null ? `logged in ${formatDateTime(device.createdAt)}` : `last active ${formatListTime(device.lastSeenAt)}`,
    ].join(' · ');
    const revoke = device.current
      ? h('span', { class: 'role-badge', 'data-testid': 'device-current-badge' }, 'This browser')
      : h('button', { type: 'button', class: 'danger small', 'data-testid': 'device-revoke', 'aria-label': `Log out ${isolate(device.name)}` }, 'Log out');
    if (revoke instanceof HTMLButtonElement) {
      revoke.addEventListener('click', () => {
        if (!window.confirm(`Log out ${isolate(device.name)}? It stops receiving messages at once.`)) return;
        error.clear();
        revoke.disabled = true;
        api.revokeDevice(device.deviceId).then(
          () => load(),
          (e: unknown) => {
            revoke.disabled = false;
            error.show(friendlyError(e));
          },
        );
      });
    }
    return h(
      'li',
      { class: 'settings-item', 'data-testid': 'device', 'data-device': device.deviceId, 'data-current': String(device.current) },
      h('span', { class: 'settings-item-main' }, bidi(device.name || 'Unnamed device', { 'data-testid': 'device-name' }), h('span', { class: 'hint' }, details)),
      revoke,
    );
  };
  const load = (): void => {
    api.devices().then(
      ({ devices }) => {
        const sorted = [...devices].sort((a, b) => (a.current ? -1 : b.current ? 1 : b.createdAt - a.createdAt));
        replaceChildren(list, ...sorted.map(row));
      },
      (e: unknown) => error.show(friendlyError(e)),
    );
  };
  load();
  return {
    el: section('Devices', 'settings-devices', h('p', { class: 'hint' }, 'Where your account is logged in. Log out the ones you don’t recognise.'), list, error.el),
    reload: () => {
      error.clear();
      load();
    },
  };
}

// ---------------------------------------------------------------- two-step verification

function pinInput(testId: string): HTMLInputElement {
  return h('input', { type: 'password', inputmode: 'numeric', autocomplete: 'off', pattern: `[0-9]{${PIN_LENGTH}}`, maxlength: PIN_LENGTH, required: true, 'data-testid': testId });
}

const PIN_PATTERN = new RegExp(`^[0-9]{${PIN_LENGTH}}$`);

/** The dialog that turns the PIN on (`set`), changes it, or turns it off (`remove`). */
function openPinDialog(api: MessengerApi, mode: 'set' | 'change' | 'remove', onDone: () => void): void {
  const current = mode === 'set' ? null : pinInput('pin-current');
  const next = mode === 'remove' ? null : pinInput('pin-new');
  const again = mode === 'remove' ? null : pinInput('pin-confirm');
  const error = errorLine('pin-error');
  const label = mode === 'set' ? 'Turn on' : mode === 'change' ? 'Change PIN' : 'Turn off';
  const submit = h('button', { type: 'submit', class: mode === 'remove' ? 'danger' : 'primary', 'data-testid': 'pin-save' }, label);
  const form = h(
    'form',
    { class: 'dialog-form', novalidate: true },
    mode === 'remove' ? h('p', {}, 'Without a PIN, anyone who receives an SMS code for your number can log in to your account.') : null,
    current === null ? null : field('Current PIN', current),
    next === null ? null : field('New PIN', next, `${PIN_LENGTH} digits. You are asked for it when you log in on a new device.`),
    again === null ? null : field('New PIN again', again),
    error.el,
    h('div', { class: 'dialog-actions' }, submit),
  );
  const title = mode === 'set' ? 'Turn on two-step verification' : mode === 'change' ? 'Change your PIN' : 'Turn off two-step verification';
  const dialog = openDialog({ title, testId: 'pin-dialog', content: [form] });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    for (const input of [current, next]) {
      if (input !== null && !PIN_PATTERN.test(input.value)) {
        error.show(`A PIN has ${PIN_LENGTH} digits.`);
        input.focus();
        return;
      }
    }
    if (next !== null && again !== null && next.value !== again.value) {
      error.show('The two new PINs are not the same.');
      again.focus();
      return;
    }
    error.clear();
    busy(submit, true, 'Saving…');
    const request =
      mode === 'remove'
        ? api.removePin(current?.value ?? '')
        : api.setPin(current === null ? { pin: next?.value ?? '' } : { pin: next?.value ?? '', currentPin: current.value });
    request.then(
      () => {
        dialog.close();
        onDone();
      },
      (e: unknown) => {
        busy(submit, false, label);
        error.show(friendlyError(e));
      },
    );
  });
}

export function pinSection(api: MessengerApi): HTMLElement {
  const state = h('p', { 'data-testid': 'pin-status' }, 'Loading…');
  const reset = h('p', { class: 'notice', 'data-testid': 'pin-reset', hidden: true });
  const actions = h('div', { class: 'settings-actions' });
  const error = errorLine('pin-status-error');
  const status = statusLine('pin-saved');
  const button = (text: string, testId: string, mode: 'set' | 'change' | 'remove', kind: 'primary' | 'secondary' | 'danger'): HTMLButtonElement =>
    h('button', { type: 'button', class: kind, 'data-testid': testId, on: { click: () => openPinDialog(api, mode, () => load(mode)) } }, text);
  const load = (done?: 'set' | 'change' | 'remove'): void => {
    api.pinStatus().then(
      (pin) => {
        state.dataset.enabled = String(pin.enabled);
        setText(
          state,
          pin.enabled
            ? 'On. Your PIN is asked for when your number logs in on a new device; only then does the new device get your chat history.'
            : 'Off. Add a PIN so that an SMS code alone is not enough to take over your account.',
        );
        reset.hidden = pin.resetAt === null;
        if (pin.resetAt !== null) setText(reset, `Someone asked to reset your PIN. It will be turned off on ${formatDateTime(pin.resetAt)} unless you change it before then.`);
        replaceChildren(
          actions,
          status.el,
          ...(pin.enabled
            ? [button('Change PIN', 'pin-change', 'change', 'secondary'), button('Turn off', 'pin-disable', 'remove', 'danger')]
            : [button('Turn on', 'pin-enable', 'set', 'primary')]),
        );
        status.show(done === undefined ? '' : done === 'remove' ? 'PIN turned off' : done === 'set' ? 'PIN turned on' : 'PIN changed');
      },
      (e: unknown) => error.show(friendlyError(e)),
    );
  };
  load();
  return section('Two-step verification', 'settings-pin', state, reset, error.el, actions);
}

// ---------------------------------------------------------------- delete account

function openDeleteDialog(deleteAccount: (phone: string) => Promise<void>): void {
  const phone = h('input', { type: 'tel', inputmode: 'tel', autocomplete: 'off', required: true, placeholder: '+49 151 23456789', 'data-testid': 'delete-phone' });
  const error = errorLine('delete-error');
  const submit = h('button', { type: 'submit', class: 'danger', 'data-testid': 'delete-confirm' }, 'Delete my account');
  const form = h(
    'form',
    { class: 'dialog-form', novalidate: true },
    h(
      'p',
      {},
      'This deletes your profile, your chats and contacts on the server, and logs out all your devices. You leave all your groups. It cannot be undone.',
    ),
    field('Type your phone number to confirm', phone, 'With the country code.'),
    error.el,
    h('div', { class: 'dialog-actions' }, submit),
  );
  const dialog = openDialog({ title: 'Delete your account?', testId: 'delete-dialog', content: [form] });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const value = phone.value.trim();
    if (value === '') {
      error.show('Type your phone number.');
      phone.focus();
      return;
    }
    error.clear();
    busy(submit, true, 'Deleting…');
    deleteAccount(value).then(
      () => dialog.close(),
      (e: unknown) => {
        busy(submit, false, 'Delete my account');
        error.show(friendlyError(e));
        phone.focus();
      },
    );
  });
}

export function deleteAccountSection(deleteAccount: (phone: string) => Promise<void>): HTMLElement {
  const open = h('button', { type: 'button', class: 'danger', 'data-testid': 'delete-account', on: { click: () => openDeleteDialog(deleteAccount) } }, 'Delete my account');
  return section('Delete account', 'settings-delete', h('p', { class: 'hint' }, 'Your number becomes free, and the people you chatted with keep only what they already received.'), h('div', { class: 'settings-actions' }, open));
}
