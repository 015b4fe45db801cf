/**
 * Black box in a real browser (harness: web-harness.ts): privacy and account safety in the web
 * client (issue 11), run twice: on a desktop with a 24-hour clock (en-GB) and on a phone-sized
 * screen with a 12-hour clock (en-US). Per run one browser user:
 * 1. is invited to a group by a stranger (default privacy: strangers may only invite), sees the
 *    invite at the top of the chat list, accepts, and is in the group (nothing from before);
 * 2. changes every privacy choice and the profile in Settings, checked through the API (and a
 *    change made offline is refused and undone on screen), and unblocks someone;
 * 3. sees the devices (this one marked), the "new device logged in" notice when the account logs
 *    in elsewhere, that the new device may not log out the older one (`device_too_new`), and
 *    logs the new one out (it returns to the login);
 * 4. has a two-step PIN (set in Settings, or through the API), so a new browser's login asks for
 *    it: a wrong PIN counts down the tries, "Forgot PIN?" shows when the reset takes effect, the
 *    right PIN logs in (with history); enough wrong PINs lock the login with a wait in words;
 * 5. deletes the account (the wrong number is refused first): back to the login, on every device,
 *    and the number is free.
 * Invite links: web-links.e2e.test.ts.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MessengerError } from '../../client/index.ts';
import { DEFAULT_PRIVACY } from '../../protocol/index.ts';
import { device, nextPhone, type TestClient } from '../support/clients.ts';
import {
  DESKTOP,
  PHONE,
  STEP_TIMEOUT,
  WAIT,
  WebHarness,
  apiOf,
  chatItem,
  connected,
  conversation,
  openChat,
  reachPinStep,
  row,
  savedSession,
  screenshot,
  texts,
  type User,
} from './web-harness.ts';

const web = new WebHarness();

beforeAll(() => web.start(), WebHarness.START_MS);
afterAll(() => web.stop());

interface Setup {
  label: string;
  locale: string;
  timezoneId: string;
  viewport: { width: number; height: number };
  /** A time of day as this locale writes it. */
  clock: RegExp;
  /** Screenshot names (docs/screenshots with UPDATE_SCREENSHOTS=1); null: none. */
  shots: { invites: string | null; settings: string; pin: string | null };
  /** The stranger's group. */
  groupTitle: string;
  /** How the PIN is turned on: in the Settings screen, or through the API. */
  pinVia: 'ui' | 'api';
}

const SETUPS: Setup[] = [
  {
    label: 'desktop, 24-hour clock (en-GB)',
    locale: 'en-GB',
    timezoneId: 'Europe/Berlin',
    viewport: DESKTOP,
    clock: /\b\d\d:\d\d\b/,
    shots: { invites: 'invites', settings: 'settings', pin: 'login-pin' },
    groupTitle: 'Book club',
    pinVia: 'ui',
  },
  {
    label: 'phone, 12-hour clock (en-US)',
    locale: 'en-US',
    timezoneId: 'America/New_York',
    viewport: PHONE,
    clock: /\b\d{1,2}:\d\d\s[AP]M\b/,
    shots: { invites: null, settings: 'phone-settings', pin: null },
    groupTitle: 'Reading circle',
    pinVia: 'api',
  },
];

const PIN = '246810';

/** Open Settings from the chat list (on a phone, leave an open chat first), unless it is open. */
async function openSettings(page: Page): Promise<void> {
  if (await page.getByTestId('settings').isVisible()) return;
  const back = conversation(page).getByTestId('back-button');
  if ((await back.count()) > 0 && (await back.isVisible())) await back.click();
  await page.getByTestId('settings-button').click();
  await page.getByTestId('settings').waitFor();
}

/** The text of the newest account notice of this kind ('' while there is none). */
async function toast(page: Page, kind: string): Promise<string> {
  const shown = page.locator(`[data-testid="toast"][data-kind="${kind}"]`);
  if ((await shown.count()) === 0) return '';
  return (await shown.last().getByTestId('toast-text').textContent()) ?? '';
}

/** Wait for a PATCH of the settings while `change` happens; resolves with its status. */
async function saved(page: Page, change: () => Promise<unknown>): Promise<number> {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/v1/me/settings') && r.request().method() === 'PATCH'),
    change(),
  ]);
  return response.status();
}

async function refusal(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (error) {
    if (error instanceof MessengerError) return error.code;
    throw error;
  }
  return 'no error';
}

for (const setup of SETUPS) {
  describe(`account and privacy in the web client: ${setup.label}`, () => {
    let bea: User;
    let stranger: TestClient;
    let strangerPhone: string;
    let groupId: string;
    const groupTitle = setup.groupTitle;
    /** Other browsers logged in to Bea's account. */
    let second: User;
    let pinned: User;

    it('a stranger can only invite: the invite shows at the top of the chat list; accepting opens the group', async () => {
      bea = await web.logIn('Bea', setup);
      strangerPhone = nextPhone();
      stranger = await device(web.server.baseUrl, strangerPhone, 'stranger-sdk');
      web.sdkClients.push(stranger);
      await stranger.api.updateMe({ displayName: 'Sam' });
      await stranger.connect();
      const beaId = (await savedSession(bea.page)).userId;

      // Sam is not in Bea's contacts: the add becomes an invite (the same answer as an add).
      const group = await stranger.api.createGroup({ title: groupTitle, members: [beaId] });
      groupId = group.groupId;
      expect(group.members.map((m) => m.userId)).not.toContain(beaId);
      expect(group.invites.map((i) => i.userId)).toEqual([beaId]);
      await stranger.sendGroupText(groupId, 'said before you joined').sent;

      const invite = bea.page.getByTestId('invite').filter({ has: bea.page.getByTestId('invite-title').getByText(groupTitle, { exact: true }) });
      await invite.waitFor();
      await expect.poll(() => invite.getByTestId('invite-by').textContent(), { timeout: WAIT }).toMatch(/^Sam invited you( · 1 member)?$/);
      // Nothing from the group before accepting: no chat for it.
      expect(await chatItem(bea.page, groupTitle).count()).toBe(0);
      if (setup.shots.invites !== null) await screenshot(bea.page, setup.shots.invites);

      await invite.getByTestId('invite-accept').click();
      await expect.poll(() => conversation(bea.page).getByTestId('conversation-title').textContent(), { timeout: WAIT }).toBe(groupTitle);
      await expect.poll(() => conversation(bea.page).getByTestId('event-text').allTextContents(), { timeout: WAIT }).toContain('You joined');
      expect(await texts(bea.page)).not.toContain('said before you joined');
      await bea.page.getByTestId('invites').waitFor({ state: 'hidden' });

      await stranger.sendGroupText(groupId, 'welcome aboard').sent;
      await row(bea.page, 'welcome aboard').waitFor();
      expect((await stranger.api.group(groupId)).members.map((m) => m.userId)).toContain(beaId);
      // The group is in the chat list.
      if (setup.viewport === PHONE) await conversation(bea.page).getByTestId('back-button').click();
      await chatItem(bea.page, groupTitle).waitFor();
    }, STEP_TIMEOUT);

    it('settings: every privacy choice and the profile are saved (checked through the API); a change that fails is undone', async () => {
      const page = bea.page;
      await openSettings(page);
      const select = (key: string) => page.getByTestId(`privacy-${key}`);
      // The defaults first.
      await expect.poll(() => select('lastSeen').isEnabled(), { timeout: WAIT }).toBe(true);
      expect(await select('lastSeen').inputValue()).toBe(DEFAULT_PRIVACY.lastSeen);
      expect(await select('groups').inputValue()).toBe(DEFAULT_PRIVACY.groups);
      expect(await select('profile').inputValue()).toBe(DEFAULT_PRIVACY.profile);
      expect(await select('readReceipts').isChecked()).toBe(true);

      expect(await saved(page, () => select('lastSeen').selectOption('nobody'))).toBe(200);
      expect(await saved(page, () => select('online').selectOption('everyone'))).toBe(200);
      expect(await saved(page, () => select('readReceipts').uncheck())).toBe(200);
      expect(await saved(page, () => select('groups').selectOption('everyone'))).toBe(200);
      expect(await saved(page, () => select('profile').selectOption('nobody'))).toBe(200);
      await expect.poll(() => page.getByTestId('settings-privacy-status').textContent(), { timeout: WAIT }).toBe('Saved');
      const api = await apiOf(page, web.server.baseUrl);
      expect((await api.settings()).privacy).toEqual({ lastSeen: 'nobody', online: 'everyone', readReceipts: false, groups: 'everyone', profile: 'nobody' });

      // Offline, a change is refused: the error says so and the choice on screen goes back.
      await bea.context.setOffline(true);
      await select('lastSeen').selectOption('contacts');
      await page.getByTestId('settings-privacy-error').waitFor();
      expect(await page.getByTestId('settings-privacy-error').textContent()).toBe('Cannot reach the server. Check your connection and try again.');
      await expect.poll(() => select('lastSeen').inputValue(), { timeout: WAIT }).toBe('nobody');
      await bea.context.setOffline(false);
      await connected(page);
      expect((await api.settings()).privacy.lastSeen).toBe('nobody');

      // Profile: name and about.
      await page.getByTestId('settings-name').fill('Bea Reader');
      await page.getByTestId('settings-about').fill('Reading on weekends');
      await page.getByTestId('settings-profile-save').click();
      await expect.poll(() => page.getByTestId('settings-profile-status').textContent(), { timeout: WAIT }).toBe('Saved');
      const me = await api.me();
      expect([me.displayName, me.about]).toEqual(['Bea Reader', 'Reading on weekends']);
      bea.name = 'Bea Reader';

      // Someone blocked elsewhere (another device, the API) is listed after a reload.
      await api.block(stranger.userId!);

      // A reload keeps Settings open, with what was saved.
      await page.reload();
      await connected(page);
      await page.getByTestId('settings').waitFor();
      await expect.poll(() => select('lastSeen').inputValue(), { timeout: WAIT }).toBe('nobody');
      expect(await select('readReceipts').isChecked()).toBe(false);
      await expect.poll(() => page.getByTestId('settings-name').inputValue(), { timeout: WAIT }).toBe('Bea Reader');
      // The phone's screenshot shows the privacy choices (the desktop's, the profile above them).
      if (setup.viewport === PHONE) await page.getByTestId('settings-privacy').evaluate((el) => el.scrollIntoView({ block: 'start' }));
      await screenshot(page, setup.shots.settings);

      // Blocked people: listed by name, and unblocked from here.
      const blocked = page.getByTestId('blocked-user');
      await expect.poll(() => blocked.locator('bdi').textContent(), { timeout: WAIT }).toBe('Sam');
      await blocked.getByTestId('blocked-unblock').click();
      await page.getByTestId('blocked-empty').waitFor();
      expect((await api.blockedUsers()).blocked).toEqual([]);

      await page.getByTestId('settings-back').click();
      await page.getByTestId('chat-list').waitFor();
      await expect.poll(() => page.getByTestId('me-name').textContent(), { timeout: WAIT }).toBe('Bea Reader');
    }, STEP_TIMEOUT);

    it('devices: this browser is marked; a new login is announced; the new device may not log out the older one, which logs it out', async () => {
      await openSettings(bea.page);
      const devices = bea.page.getByTestId('device');
      await expect.poll(() => devices.count(), { timeout: WAIT }).toBe(1);
      expect(await devices.first().getAttribute('data-current')).toBe('true');
      expect(await devices.first().getByTestId('device-current-badge').textContent()).toBe('This browser');
      expect(await devices.first().getByTestId('device-revoke').count()).toBe(0);

      second = await web.logIn('Bea Reader', { ...setup, phone: bea.phone });
      const secondDevice = (await savedSession(second.page)).deviceId;
      const secondName = (await (await apiOf(second.page, web.server.baseUrl)).devices()).devices.find((d) => d.current)?.name ?? '';
      await expect.poll(() => toast(bea.page, 'device_added'), { timeout: WAIT }).toBe(`New device logged in: ${secondName}`);
      // Without the PIN, the new device got no history: no chats.
      expect(await second.page.getByTestId('chat-item').count()).toBe(0);

      await bea.page.getByTestId('toast-action').last().click();
      await expect.poll(() => devices.count(), { timeout: WAIT }).toBe(2);
      expect(await bea.page.locator(`[data-testid="device"][data-device="${secondDevice}"]`).getByTestId('device-name').textContent()).toBe(secondName);

      // The new device may not log out the older one (less than a day old, no PIN).
      await openSettings(second.page);
      const older = second.page.locator('[data-testid="device"][data-current="false"]');
      await older.waitFor();
      second.page.once('dialog', (dialog) => void dialog.accept());
      await older.getByTestId('device-revoke').click();
      await second.page.getByTestId('devices-error').waitFor();
      expect(await second.page.getByTestId('devices-error').textContent()).toBe(
        'This browser was logged in less than a day ago without your PIN, so it cannot do this yet. Use one of your older devices, or try again tomorrow.',
      );
      expect(await second.page.getByTestId('device').count()).toBe(2);
      expect(await bea.page.getByTestId('app').getAttribute('data-connection')).toBe('open');

      // The older one logs the new one out: it is back at the login, saying why.
      bea.page.once('dialog', (dialog) => void dialog.accept());
      await bea.page.locator(`[data-testid="device"][data-device="${secondDevice}"]`).getByTestId('device-revoke').click();
      await expect.poll(() => devices.count(), { timeout: WAIT }).toBe(1);
      await second.page.getByTestId('login-notice').waitFor();
      expect(await second.page.getByTestId('login-notice').textContent()).toBe('This browser was logged out. Please log in again.');
      await second.context.close();
    }, STEP_TIMEOUT);

    it('two-step verification: a new browser must enter the PIN (tries counted, "Forgot PIN?" dated), then has the history', async () => {
      const page = bea.page;
      if (setup.pinVia === 'ui') {
        await openSettings(page);
        const status = page.getByTestId('pin-status');
        await expect.poll(() => status.getAttribute('data-enabled'), { timeout: WAIT }).toBe('false');
        await page.getByTestId('pin-enable').click();
        await page.getByTestId('pin-new').fill(PIN);
        await page.getByTestId('pin-confirm').fill('246811');
        await page.getByTestId('pin-save').click();
        expect(await page.getByTestId('pin-error').textContent()).toBe('The two new PINs are not the same.');
        await page.getByTestId('pin-confirm').fill(PIN);
        await page.getByTestId('pin-save').click();
        await page.getByTestId('pin-dialog').waitFor({ state: 'detached' });
        await expect.poll(() => status.getAttribute('data-enabled'), { timeout: WAIT }).toBe('true');
        expect(await page.getByTestId('pin-saved').textContent()).toBe('PIN turned on');
      } else {
        await (await apiOf(page, web.server.baseUrl)).setPin({ pin: PIN });
      }
      expect(await (await apiOf(page, web.server.baseUrl)).pinStatus()).toEqual({ enabled: true, resetAt: null });

      pinned = await web.logIn('Bea Reader', {
        ...setup,
        phone: bea.phone,
        pin: PIN,
        onPinStep: async (pinPage) => {
          const attempts = pinPage.getByTestId('login-pin-attempts');
          expect(await attempts.textContent()).toBe('You have 5 tries left before you have to wait.');
          if (setup.shots.pin !== null) await screenshot(pinPage, setup.shots.pin);
          await pinPage.getByTestId('login-pin').fill('000000');
          await pinPage.getByTestId('login-pin-submit').click();
          await expect.poll(() => pinPage.getByTestId('login-error').textContent(), { timeout: WAIT }).toBe('That PIN is not right. Check it and try again.');
          expect(await attempts.textContent()).toBe('You have 4 tries left before you have to wait.');
          // Forgot it: the reset takes effect in a week, said as a date and time of this locale.
          pinPage.once('dialog', (dialog) => void dialog.accept());
          await pinPage.getByTestId('login-pin-forgot').click();
          const reset = pinPage.getByTestId('login-pin-reset');
          await reset.waitFor();
          expect(await reset.textContent()).toMatch(/^A PIN reset was requested\. From .+ you can log in without the PIN; until then, use your PIN\.$/);
          expect(await reset.textContent()).toMatch(setup.clock);
        },
      });
      // Bea's first browser heard about both: the reset request and the new login.
      await expect.poll(() => toast(page, 'pin_reset_requested'), { timeout: WAIT }).toMatch(/^Someone asked to reset your two-step verification PIN\./);
      await expect.poll(() => toast(page, 'device_added'), { timeout: WAIT }).toMatch(/^New device logged in: /);
      // The PIN was entered: this device has the history.
      await chatItem(pinned.page, groupTitle).waitFor();
      await openChat(pinned.page, groupTitle);
      await row(pinned.page, 'welcome aboard').waitFor();
    }, STEP_TIMEOUT);

    it('too many wrong PINs lock the login for a while, said in words', async () => {
      const { context, page } = await web.newPage('Bea (locked)', setup);
      await reachPinStep(page, bea.phone);
      const lock = page.getByTestId('login-pin-locked');
      const submit = page.getByTestId('login-pin-submit');
      let locked = false;
      for (let attempt = 0; attempt < 8 && !locked; attempt++) {
        await page.getByTestId('login-pin').fill('111111');
        await submit.click();
        // Answered: either locked, or ready for the next try.
        await expect.poll(async () => (await lock.isVisible()) || (await submit.isEnabled()), { timeout: WAIT }).toBe(true);
        locked = await lock.isVisible();
      }
      expect(locked).toBe(true);
      expect(await lock.textContent()).toMatch(/^Too many wrong PINs\. Try again in (\d+ seconds|1 minute|\d+ minutes)\.$/);
      expect(await submit.isDisabled()).toBe(true);
      expect(await page.getByTestId('login-pin-attempts').textContent()).toBe('Each wrong PIN now makes you wait before you can try again.');
      await context.close();
    }, STEP_TIMEOUT);

    it('deleting the account: the wrong number is refused; the right one ends every session, and the number is free', async () => {
      const page = bea.page;
      const beaId = (await savedSession(page)).userId;
      // The account notices stay until dismissed.
      const closes = page.getByTestId('toast-close');
      expect(await closes.count()).toBeGreaterThan(0);
      while ((await closes.count()) > 0) await closes.first().click();
      await openSettings(page);
      await page.getByTestId('delete-account').click();
      await page.getByTestId('delete-phone').fill(strangerPhone);
      await page.getByTestId('delete-confirm').click();
      await expect.poll(() => page.getByTestId('delete-error').textContent(), { timeout: WAIT }).toBe('That is not the phone number of this account.');
      expect((await (await apiOf(page, web.server.baseUrl)).me()).userId).toBe(beaId);

      // The number in another notation (with a space) is the same number.
      await page.getByTestId('delete-phone').fill(bea.phone.replace(/^\+49/, '+49 '));
      await page.getByTestId('delete-confirm').click();
      await page.getByTestId('login-notice').waitFor();
      expect(await page.getByTestId('login-notice').textContent()).toBe('Your account was deleted.');
      expect(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('messenger.')))).toEqual([]);
      expect(await page.locator('dialog').count()).toBe(0);
      // The other browser of the account is logged out too.
      await pinned.page.getByTestId('login-notice').waitFor();
      expect(await pinned.page.getByTestId('login-notice').textContent()).toBe('This account was deleted.');

      // The number is free, and the group saw Bea leave.
      expect(await refusal(stranger.api.userByPhone(bea.phone))).toBe('user_not_found');
      expect((await stranger.api.group(groupId)).members.map((m) => m.userId)).not.toContain(beaId);
    }, STEP_TIMEOUT);
  });
}

describe('account and privacy in the web client: every page', () => {
  it('no uncaught errors and no Content-Security-Policy violation in any page', () => {
    expect(web.pageErrors).toEqual([]);
    expect(web.cspViolations).toEqual([]);
  });
});
