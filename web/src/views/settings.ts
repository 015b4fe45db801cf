/**
 * The settings panel (in place of the chat list; `#/settings`): profile (name and about),
 * privacy (last seen, online, read receipts, who may add me to groups, who sees my about),
 * blocked users, and the account sections of settings-account.ts (devices, two-step
 * verification, deleting the account). Each section loads on its own, so one failing request
 * leaves the others usable; privacy choices are saved as soon as they change.
 */
import type { MessengerApi, PrivacySettings, Profile } from '../../../client/index.ts';
import { ABOUT_MAX, DISPLAY_NAME_MAX } from '../../../protocol/index.ts';
import type { Directory } from '../directory.ts';
import { bidi, errorLine, field, h, replaceChildren, section, statusLine } from '../dom.ts';
import { friendlyError } from '../errors.ts';
import { formatPhone, isolate } from '../format.ts';
import { icon } from '../icons.ts';
import { setPicture } from '../media/avatars.ts';
import { photoPicker } from '../media/photo-picker.ts';
import type { Session } from '../session.ts';
import { avatar } from './chat-list.ts';
import { deleteAccountSection, devicesSection, pinSection } from './settings-account.ts';

export interface SettingsOptions {
  api: MessengerApi;
  directory: Directory;
  session: Session;
  onClose(): void;
  /** Delete the account (`phone`: the confirmation); on success the app ends the session and shows the login. */
  deleteAccount(phone: string): Promise<void>;
  /** Upload an `avatar` (a square JPEG); resolves with its media id. */
  uploadAvatar(file: Blob, onProgress: (fraction: number) => void): Promise<string>;
}

export class SettingsView {
  readonly el: HTMLElement;
  private readonly back: HTMLButtonElement;
  private readonly devices: { el: HTMLElement; reload(): void };

  constructor(options: SettingsOptions) {
    this.back = h(
      'button',
      { type: 'button', class: 'icon-button', 'aria-label': 'Back to chats', title: 'Back to chats', 'data-testid': 'settings-back', on: { click: () => options.onClose() } },
      icon('back'),
    );
    this.devices = devicesSection(options.api);
    const body = h(
      'div',
      { class: 'settings-body' },
      profileSection(options),
      privacySection(options.api),
      blockedSection(options.api, options.directory),
      this.devices.el,
      pinSection(options.api),
      deleteAccountSection((phone) => options.deleteAccount(phone)),
    );
    this.el = h(
      'section',
      { class: 'settings', 'data-testid': 'settings', 'aria-labelledby': 'settings-title' },
      h('header', { class: 'sidebar-header settings-header' }, this.back, h('h2', { id: 'settings-title' }, 'Settings')),
      body,
    );
  }

  focus(): void {
    this.back.focus();
  }

  /** Bring the device list up to date and into view (after "New device logged in"). */
  showDevices(): void {
    this.devices.reload();
    this.devices.el.scrollIntoView({ block: 'start' });
  }
}

// ---------------------------------------------------------------- profile

function profileSection(options: SettingsOptions): HTMLElement {
  const { api, directory, session } = options;
  const name = h('input', { type: 'text', maxlength: DISPLAY_NAME_MAX, dir: 'auto', autocomplete: 'name', 'data-testid': 'settings-name' });
  const about = h('textarea', { rows: 2, maxlength: ABOUT_MAX, dir: 'auto', 'data-testid': 'settings-about' });
  const save = h('button', { type: 'submit', class: 'primary', 'data-testid': 'settings-profile-save', disabled: true }, 'Save');
  const status = statusLine('settings-profile-status');
  const error = errorLine('settings-profile-error');
  const picture = avatar(session.userId, directory.userName(session.userId), 'large', directory.userPhoto(session.userId));
  picture.dataset.testid = 'settings-photo';
  let current = { displayName: '', about: '', photo: directory.userPhoto(session.userId) };
  const photo = photoPicker({
    testId: 'settings-photo',
    noun: 'photo',
    current: () => current.photo,
    upload: (file, onProgress) => options.uploadAvatar(file, onProgress),
    save: async (mediaId) => show(await api.updateMe({ photo: mediaId })),
  });
  const pic = h(
    'div',
    { class: 'settings-profile-top' },
    picture,
    h('div', { class: 'settings-profile-id' }, h('span', { 'data-testid': 'settings-phone' }, formatPhone(session.phone)), photo.el),
  );
  const show = (profile: Profile): void => {
    directory.rememberProfile(profile);
    current = { displayName: profile.displayName, about: profile.about, photo: profile.photo };
    setPicture(picture, profile.photo, profile.displayName || session.phone);
    photo.refresh();
  };
  const form = h(
    'form',
    { class: 'settings-form', novalidate: true },
    pic,
    field('Your name', name, 'Everyone you chat with sees it.'),
    field('About', about, 'Who sees it is set under Privacy.'),
    error.el,
    h('div', { class: 'settings-actions' }, status.el, save),
  );
  const changed = (): void => {
    save.disabled = name.value.trim() === current.displayName && about.value === current.about;
    status.show('');
  };
  name.addEventListener('input', changed);
  about.addEventListener('input', changed);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const displayName = name.value.trim();
    const update: { displayName?: string; about?: string } = {};
    if (displayName !== current.displayName) {
      if (displayName === '') {
        error.show('Enter a name.');
        name.focus();
        return;
      }
      update.displayName = displayName;
    }
    if (about.value !== current.about) update.about = about.value;
    if (update.displayName === undefined && update.about === undefined) return;
    error.clear();
    save.disabled = true;
    status.show('Saving…');
    api.updateMe(update).then(
      (profile) => {
        show(profile);
        status.show('Saved');
      },
      (e: unknown) => {
        save.disabled = false;
        status.show('');
        error.show(friendlyError(e));
      },
    );
  });
  api.me().then(
    (profile) => {
      show(profile);
      name.value = profile.displayName;
      about.value = profile.about;
    },
    (e: unknown) => error.show(friendlyError(e)),
  );
  return section('Profile', 'settings-profile', form);
}

// ---------------------------------------------------------------- privacy

type PrivacyKey = keyof PrivacySettings;

/** The choices of each privacy setting, in the words the settings screen uses. */
const CHOICES: { [K in Exclude<PrivacyKey, 'readReceipts'>]: { label: string; hint: string; options: Array<[PrivacySettings[K], string]> } } = {
  lastSeen: {
    label: 'Last seen',
    hint: 'If you don’t share your last seen, you can’t see other people’s either.',
    options: [
      ['everyone', 'Everyone'],
      ['contacts', 'My contacts'],
      ['nobody', 'Nobody'],
    ],
  },
  online: {
    label: 'Online',
    hint: 'Who can see when you are online.',
    options: [
      ['everyone', 'Everyone'],
      ['same_as_last_seen', 'Same as last seen'],
    ],
  },
  groups: {
    label: 'Who can add me to groups',
    hint: 'Anyone else can only invite you: you see the invite and decide. Someone you blocked can never add you.',
    options: [
      ['everyone', 'Everyone'],
      ['contacts', 'My contacts'],
      ['nobody', 'Nobody'],
    ],
  },
  profile: {
    label: 'Who can see my About',
    hint: 'Your name is always visible. Someone you blocked never sees your About.',
    options: [
      ['everyone', 'Everyone'],
      ['contacts', 'My contacts'],
      ['nobody', 'Nobody'],
    ],
  },
};

function privacySection(api: MessengerApi): HTMLElement {
  const status = statusLine('settings-privacy-status');
  const error = errorLine('settings-privacy-error');
  const selects = new Map<PrivacyKey, HTMLSelectElement>();
  const fields: HTMLElement[] = [];
  for (const key of ['lastSeen', 'online', 'groups', 'profile'] as const) {
    const spec = CHOICES[key];
    const select = h('select', { 'data-testid': `privacy-${key}`, disabled: true }, ...spec.options.map(([value, label]) => h('option', { value }, label)));
    selects.set(key, select);
    fields.push(field(spec.label, select, spec.hint));
  }
  const receipts = h('input', { type: 'checkbox', 'data-testid': 'privacy-readReceipts', disabled: true, 'aria-describedby': 'settings-receipts-hint' });
  const receiptsField = h(
    'div',
    { class: 'field field-check' },
    h('label', {}, receipts, ' Read receipts'),
    h('p', { class: 'hint', id: 'settings-receipts-hint' }, 'If you turn them off, nobody sees when you read their messages, and you don’t see when they read yours (in groups too). Delivered ticks still show.'),
  );
  // Read receipts sit after "Online", before the group and about choices.
  fields.splice(2, 0, receiptsField);

  let shown: PrivacySettings | null = null;
  const apply = (privacy: PrivacySettings): void => {
    shown = privacy;
    for (const [key, select] of selects) {
      select.value = String(privacy[key]);
      select.disabled = false;
    }
    receipts.checked = privacy.readReceipts;
    receipts.disabled = false;
  };
  const save = (update: Partial<PrivacySettings>): void => {
    error.clear();
    status.show('Saving…');
    api.updateSettings({ privacy: update }).then(
      (settings) => {
        apply(settings.privacy);
        status.show('Saved');
      },
      (e: unknown) => {
        status.show('');
        error.show(friendlyError(e));
        if (shown !== null) apply(shown);
      },
    );
  };
  for (const [key, select] of selects) select.addEventListener('change', () => save({ [key]: select.value }));
  receipts.addEventListener('change', () => save({ readReceipts: receipts.checked }));
  api.settings().then(
    (settings) => apply(settings.privacy),
    (e: unknown) => error.show(friendlyError(e)),
  );
  return section('Privacy', 'settings-privacy', ...fields, error.el, status.el);
}

// ---------------------------------------------------------------- blocked users

function blockedSection(api: MessengerApi, directory: Directory): HTMLElement {
  const list = h('ul', { class: 'settings-list', 'data-testid': 'blocked-list', 'aria-label': 'Blocked people' });
  const error = errorLine('blocked-error');
  const draw = (blocked: ReadonlyArray<{ userId: string; at: number }>): void => {
    if (blocked.length === 0) {
      replaceChildren(list, h('li', { class: 'settings-empty', 'data-testid': 'blocked-empty' }, 'You have not blocked anyone.'));
      return;
    }
    replaceChildren(
      list,
      ...blocked.map((entry) => {
        const name = directory.userName(entry.userId);
        const unblock = h('button', { type: 'button', class: 'secondary small', 'data-testid': 'blocked-unblock', 'aria-label': `Unblock ${isolate(name)}` }, 'Unblock');
        unblock.addEventListener('click', () => {
          error.clear();
          unblock.disabled = true;
          api.unblock(entry.userId).then(
            () => load(),
            (e: unknown) => {
              unblock.disabled = false;
              error.show(friendlyError(e));
            },
          );
        });
        return h(
          'li',
          { class: 'settings-item', 'data-testid': 'blocked-user', 'data-user': entry.userId },
          avatar(entry.userId, name, 'small', directory.userPhoto(entry.userId)),
          h('span', { class: 'settings-item-main' }, bidi(name)),
          unblock,
        );
      }),
    );
  };
  const load = (): void => {
    api.blockedUsers().then(
      async (answer) => {
        await directory.whenKnown(answer.blocked.map((entry) => entry.userId));
        draw(answer.blocked);
      },
      (e: unknown) => error.show(friendlyError(e)),
    );
  };
  load();
  return section('Blocked', 'settings-blocked', h('p', { class: 'hint' }, 'Blocked people cannot message you, add you to groups, or see your last seen, online status and About.'), list, error.el);
}
