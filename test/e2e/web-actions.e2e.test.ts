/**
 * Black box in a real browser (harness: web-harness.ts): message actions between two users in two
 * browser contexts, as people use them. Reply (the quote on both sides; clicking it scrolls back
 * through history to the original), react (shown on the other side, changed, removed), edit
 * ("edited" and the new text on the other side; the time box never overlaps the text), delete for
 * everyone (tombstones on both sides), delete for me (gone on one side only, also after a reload),
 * forward ("Forwarded"), star and the starred-messages view, mark as unread, contrast of the new
 * parts in both themes, and (desktop) a group admin's deletion, message info, browser
 * notifications and the menus' keyboard use. Run twice: a desktop window in en-US (12-hour clock) opening menus with the
 * chevron and the keyboard, and a phone-sized one in en-GB (24-hour) with long presses and right
 * clicks.
 */
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DESKTOP, STEP_TIMEOUT, WAIT, WebHarness, apiOf, chatItem, contrasts, conversation, overlaps, openChat, row, savedSession, screenshot, send, startChat, subtitle, type User } from './web-harness.ts';

const web = new WebHarness();

beforeAll(() => web.start(), WebHarness.START_MS);
afterAll(() => web.stop());

/** A phone in portrait (the size the brief names). */
const PHONE_TALL = { width: 390, height: 844 };
/** Each step does a few round trips through two browsers. */
const ACTION_TIMEOUT = 2 * STEP_TIMEOUT;

interface Pass {
  name: string;
  locale: string;
  timezoneId: string;
  viewport: { width: number; height: number };
  /** How menus are opened: the chevron (hover) or a long press / right click. */
  opener: 'chevron' | 'touch';
}

const PASSES: Pass[] = [
  { name: 'desktop, en-US', locale: 'en-US', timezoneId: 'America/New_York', viewport: DESKTOP, opener: 'chevron' },
  { name: 'phone, en-GB', locale: 'en-GB', timezoneId: 'Europe/London', viewport: PHONE_TALL, opener: 'touch' },
];

const WORDS = 'the quick brown fox jumps over the lazy dog while a wizard quietly mixes seven potions';

// ---------------------------------------------------------------- page helpers

function bubble(page: Page, text: string): Locator {
  return row(page, text).locator('.bubble');
}

/** The message menu of the row showing `text` (chevron, long press or right click). */
async function openMenu(page: Page, text: string, how: 'chevron' | 'long-press' | 'right-click'): Promise<Locator> {
  const target = bubble(page, text);
  await target.scrollIntoViewIfNeeded();
  if (how === 'chevron') {
    await target.hover();
    await row(page, text).getByTestId('message-menu-button').click();
  } else if (how === 'right-click') {
    await target.click({ button: 'right' });
  } else {
    // A touch held still: the menu opens after the long-press delay (no pointer up before).
    const box = await target.boundingBox();
    expect(box).not.toBeNull();
    const at = { clientX: box!.x + box!.width / 2, clientY: box!.y + box!.height / 2 };
    await target.dispatchEvent('pointerdown', { pointerType: 'touch', isPrimary: true, ...at });
    await page.getByTestId('message-menu').waitFor();
    await target.dispatchEvent('pointerup', { pointerType: 'touch', isPrimary: true, ...at });
  }
  const menu = page.getByTestId('message-menu');
  await menu.waitFor();
  return menu;
}

/** Open the menu the way this pass does (alternating long press and right click on phones). */
let touchTurn = 0;
function menuOf(pass: Pass, page: Page, text: string): Promise<Locator> {
  if (pass.opener === 'chevron') return openMenu(page, text, 'chevron');
  touchTurn += 1;
  return openMenu(page, text, touchTurn % 2 === 0 ? 'right-click' : 'long-press');
}

async function choose(page: Page, testId: string): Promise<void> {
  await page.getByTestId('message-menu').getByTestId(testId).click();
  await page.getByTestId('message-menu').waitFor({ state: 'detached' });
}

async function typeAndSend(page: Page, text: string): Promise<void> {
  const input = conversation(page).getByTestId('composer-input');
  await input.fill(text);
  await input.press('Enter');
}

/** Emoji of the reaction chips under the row showing `text` (with counts), in order. */
async function reactionsOf(page: Page, text: string): Promise<string[]> {
  return row(page, text)
    .getByTestId('reaction')
    .evaluateAll((chips) => chips.map((chip) => `${chip.getAttribute('data-emoji')}${chip.querySelector('[data-testid="reaction-count"]')?.textContent ?? ''}`));
}

/**
 * Run a step; when it fails, add what the pages said to the user (errors under the composer,
 * notices over the messages, toasts), which usually tells why.
 */
async function explained<T>(pages: Page[], run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const shown = await Promise.all(
      pages.map((page) =>
        page.evaluate(() =>
          [...document.querySelectorAll('[data-testid="composer-error"], [data-testid="conversation-notice"], [data-testid="toast-text"], .send-error')]
            .filter((el) => !(el as HTMLElement).hidden)
            .map((el) => el.textContent),
        ),
      ),
    );
    throw new Error(`${error instanceof Error ? error.message : String(error)}\nshown to the users: ${JSON.stringify(shown)}`, { cause: error });
  }
}

/** On phones the chat list and the chat take turns: back to the list. */
async function toList(page: Page): Promise<void> {
  const back = conversation(page).getByTestId('back-button');
  if ((await conversation(page).count()) > 0 && (await back.isVisible())) await back.click();
}

async function open(page: Page, title: string): Promise<void> {
  await toList(page);
  await openChat(page, title);
}

/** Whether `locator`'s box is inside the message list's visible area. */
async function inView(page: Page, locator: Locator): Promise<boolean> {
  const box = await locator.boundingBox();
  const view = await conversation(page).getByTestId('messages').boundingBox();
  if (box === null || view === null) return false;
  return box.y >= view.y - 1 && box.y + box.height <= view.y + view.height + 1;
}

/**
 * Rows whose corner (★, "edited", time, tick) intersects a line of their text: measured with a
 * Range over the text (one rect per line fragment). Empty when every row is clear.
 */
// ---------------------------------------------------------------- the passes

for (const pass of PASSES) {
  describe(`message actions in the web client (${pass.name})`, () => {
    let ann: User;
    let bob: User;
    const tag = pass.opener === 'chevron' ? 'd' : 'p';
    const annName = `Ann ${tag.toUpperCase()}`;
    const bobName = `Bob ${tag.toUpperCase()}`;

    it('reply: the quote shows on both sides; clicking it scrolls back through history to the original', async () => {
      ann = await web.logIn(annName, { locale: pass.locale, timezoneId: pass.timezoneId, viewport: pass.viewport });
      bob = await web.logIn(bobName, { locale: pass.locale, timezoneId: pass.timezoneId, viewport: pass.viewport });
      await startChat(ann.page, bob.phone, bobName);
      await startChat(bob.page, ann.phone, annName);
      // Contacts of each other now: each sees the other online, without a reload.
      await expect.poll(() => subtitle(ann.page), { timeout: WAIT }).toBe('online');
      await expect.poll(() => subtitle(bob.page), { timeout: WAIT }).toBe('online');
      const original = `${tag} the original question: lunch at noon?`;
      await send(ann.page, original);
      // More than a history page after it: after a reload Bob's view starts without the original.
      for (let i = 0; i < 45; i++) await send(ann.page, `${tag} filler ${i}`);
      await row(bob.page, `${tag} filler 44`).waitFor();

      // Esc cancels a reply.
      await menuOf(pass, ann.page, original);
      await choose(ann.page, 'menu-reply');
      const bar = conversation(ann.page).getByTestId('composer-bar');
      await bar.waitFor();
      await conversation(ann.page).getByTestId('composer-input').press('Escape');
      await bar.waitFor({ state: 'hidden' });
      expect(await conversation(ann.page).count()).toBe(1);

      await menuOf(pass, ann.page, original);
      await choose(ann.page, 'menu-reply');
      await bar.waitFor();
      expect(await bar.getByTestId('composer-bar-title').textContent()).toBe('Replying to');
      expect(await bar.getByTestId('quote-text').textContent()).toBe(original);
      expect(await bar.getByTestId('quote-name').textContent()).toBe('You');
      const reply = `${tag} yes, see you there`;
      await typeAndSend(ann.page, reply);
      await row(ann.page, reply).waitFor();
      await bar.waitFor({ state: 'hidden' });
      for (const [user, name] of [
        [ann, 'You'],
        [bob, annName],
      ] as const) {
        const quote = row(user.page, reply).getByTestId('quote');
        await quote.waitFor();
        await expect.poll(() => quote.getByTestId('quote-text').textContent(), { timeout: WAIT }).toBe(original);
        expect(await quote.getByTestId('quote-name').textContent()).toBe(name);
      }
      await screenshot(ann.page, `actions-reply-${tag}`);

      // Bob reloads: only the newest page is loaded (he read everything: no search for an
      // unread one); the quote finds the original further back.
      await expect.poll(() => row(ann.page, reply).getAttribute('data-status'), { timeout: WAIT }).toBe('read');
      await bob.page.reload();
      await open(bob.page, annName);
      await row(bob.page, reply).waitFor();
      expect(await row(bob.page, original).count()).toBe(0);
      await row(bob.page, reply).getByTestId('quote').click();
      await row(bob.page, original).waitFor();
      await expect.poll(() => inView(bob.page, bubble(bob.page, original)), { timeout: WAIT }).toBe(true);
    }, ACTION_TIMEOUT);

    it('react: shown on the other side; changed (quick row and picker); removed by clicking one’s own', async () => {
      const text = `${tag} who is coming to the party?`;
      await send(ann.page, text);
      await row(bob.page, text).waitFor();
      await menuOf(pass, bob.page, text);
      await bob.page.getByTestId('message-menu').locator('[data-testid="react-quick"][data-emoji="👍"]').click();
      await expect.poll(() => reactionsOf(ann.page, text), { timeout: WAIT }).toEqual(['👍']);
      await expect.poll(() => reactionsOf(bob.page, text), { timeout: WAIT }).toEqual(['👍']);
      expect(await row(bob.page, text).getByTestId('reaction').getAttribute('aria-pressed')).toBe('true');
      expect(await row(ann.page, text).getByTestId('reaction').getAttribute('aria-pressed')).toBe('false');
      expect(await row(ann.page, text).getByTestId('reaction').getAttribute('title')).toContain(bobName);

      // Ann reacts the same by clicking the chip: one chip, two people.
      await row(ann.page, text).getByTestId('reaction').click();
      await expect.poll(() => reactionsOf(bob.page, text), { timeout: WAIT }).toEqual(['👍2']);

      // Bob changes his to ❤️ (quick row), then to 🔥 from the picker.
      await menuOf(pass, bob.page, text);
      expect(await bob.page.getByTestId('message-menu').locator('[data-emoji="👍"]').first().getAttribute('aria-checked')).toBe('true');
      await bob.page.getByTestId('message-menu').locator('[data-testid="react-quick"][data-emoji="❤️"]').click();
      await expect.poll(() => reactionsOf(ann.page, text), { timeout: WAIT }).toEqual(['👍', '❤️']);
      await menuOf(pass, bob.page, text);
      await bob.page.getByTestId('react-more').click();
      await bob.page.getByTestId('reaction-picker').locator('[data-emoji="🔥"]').click();
      await expect.poll(() => reactionsOf(ann.page, text), { timeout: WAIT }).toEqual(['👍', '🔥']);

      // Bob removes his by clicking his own chip; Ann's stays.
      await row(bob.page, text).locator('[data-testid="reaction"][data-emoji="🔥"]').click();
      await expect.poll(() => reactionsOf(ann.page, text), { timeout: WAIT }).toEqual(['👍']);
      await expect.poll(() => reactionsOf(bob.page, text), { timeout: WAIT }).toEqual(['👍']);
      await screenshot(bob.page, `actions-react-${tag}`);
    }, ACTION_TIMEOUT);

    it('edit: "edited" and the new text on the other side; Esc cancels; the corner never covers the text', async () => {
      // Texts of lengths around where a line fills up, so "edited" lands in every position.
      const lengths = [3, 20, 38, 44, 50, 56, 62, 70];
      const before = lengths.map((n, i) => `${tag}e${i} ${WORDS.slice(0, n)}`.trim());
      for (const text of before) await send(ann.page, text);
      await row(bob.page, before.at(-1)!).waitFor();

      // Esc leaves the text as it was.
      await menuOf(pass, ann.page, before[0]!);
      await choose(ann.page, 'menu-edit');
      const input = conversation(ann.page).getByTestId('composer-input');
      expect(await conversation(ann.page).getByTestId('composer-bar-title').textContent()).toBe('Edit message');
      expect(await input.inputValue()).toBe(before[0]);
      await input.press('Escape');
      await conversation(ann.page).getByTestId('composer-bar').waitFor({ state: 'hidden' });
      expect(await input.inputValue()).toBe('');

      const after = before.map((text, i) => `${text}${i % 2 === 0 ? ' (fixed)' : ' ok'}`);
      for (const [i, text] of before.entries()) {
        await menuOf(pass, ann.page, text);
        await choose(ann.page, 'menu-edit');
        await input.fill(after[i]!);
        await input.press('Enter');
        await explained([ann.page], () => row(ann.page, after[i]!).getByTestId('edited').waitFor());
      }
      for (const user of [ann, bob]) {
        for (const text of after) await row(user.page, text).getByTestId('edited').waitFor();
        for (const text of before) expect(await row(user.page, text).count()).toBe(0);
        expect(await overlaps(user.page)).toEqual([]);
      }
      const times = await row(ann.page, after[0]!).locator('.meta time').textContent();
      expect(times).toMatch(pass.locale === 'en-US' ? /^(1[0-2]|[1-9]):\d\d\s[AP]M$/ : /^\d\d:\d\d$/);
      await screenshot(bob.page, `actions-edit-${tag}`);
      // The other size wraps differently: still clear.
      const other = pass.viewport.width > 500 ? PHONE_TALL : DESKTOP;
      await bob.page.setViewportSize(other);
      await expect.poll(() => overlaps(bob.page), { timeout: WAIT }).toEqual([]);
      await bob.page.setViewportSize(pass.viewport);
      // Bob cannot edit Ann's message: the menu does not offer it.
      await menuOf(pass, bob.page, after[0]!);
      expect(await bob.page.getByTestId('message-menu').getByTestId('menu-edit').count()).toBe(0);
      await bob.page.keyboard.press('Escape');
      await bob.page.getByTestId('message-menu').waitFor({ state: 'detached' });
    }, ACTION_TIMEOUT);

    it('delete for everyone: a tombstone on both sides', async () => {
      const text = `${tag} oops, that was for someone else`;
      await send(ann.page, text);
      await row(bob.page, text).waitFor();
      await menuOf(pass, ann.page, text);
      await choose(ann.page, 'menu-delete');
      const dialog = ann.page.getByTestId('delete-dialog');
      await dialog.waitFor();
      await dialog.getByTestId('delete-everyone').click();
      await explained([ann.page], () => row(ann.page, 'You deleted this message').waitFor());
      await row(bob.page, 'This message was deleted').waitFor();
      for (const user of [ann, bob]) {
        expect(await row(user.page, text).count()).toBe(0);
        expect(await conversation(user.page).locator('[data-testid="message"][data-deleted="true"]').count()).toBe(1);
      }
      expect(await row(bob.page, 'This message was deleted').locator('.text').evaluate((el) => getComputedStyle(el).fontStyle)).toBe('italic');
      await screenshot(bob.page, `actions-deleted-${tag}`);
    }, ACTION_TIMEOUT);

    it('delete for me: gone on one side only (also after a reload); others’ messages offer no "for everyone"', async () => {
      const text = `${tag} just between us`;
      await send(bob.page, text);
      await row(ann.page, text).waitFor();
      await menuOf(pass, ann.page, text);
      await choose(ann.page, 'menu-delete');
      const dialog = ann.page.getByTestId('delete-dialog');
      await dialog.waitFor();
      expect(await dialog.getByTestId('delete-everyone').count()).toBe(0);
      await dialog.getByTestId('delete-me').click();
      await row(ann.page, text).waitFor({ state: 'detached' });
      // Bob's copy is untouched: a later message arrives after it on his side.
      const later = `${tag} are you still there?`;
      await send(bob.page, later);
      await row(ann.page, later).waitFor();
      expect(await row(bob.page, text).count()).toBe(1);
      expect(await row(bob.page, text).getAttribute('data-deleted')).toBeNull();
      await ann.page.reload();
      await open(ann.page, bobName);
      await row(ann.page, later).waitFor();
      expect(await row(ann.page, text).count()).toBe(0);
    }, ACTION_TIMEOUT);

    it('forward: the copy is marked "Forwarded" on both sides', async () => {
      const text = `${tag} the address is 221B Baker Street`;
      await send(bob.page, text);
      await row(ann.page, text).waitFor();
      await menuOf(pass, ann.page, text);
      await choose(ann.page, 'menu-forward');
      const dialog = ann.page.getByTestId('forward-dialog');
      await dialog.waitFor();
      await dialog.getByTestId('forward-search').fill(bobName.slice(0, 3));
      await dialog.getByTestId('forward-chat').filter({ hasText: bobName }).locator('input').check();
      await dialog.getByTestId('forward-submit').click();
      await dialog.waitFor({ state: 'detached' });
      // Two rows with that text now: the original (Bob's) and the forwarded copy (Ann's).
      for (const user of [ann, bob]) {
        await expect.poll(() => row(user.page, text).count(), { timeout: WAIT }).toBe(2);
        const labels = row(user.page, text).getByTestId('forwarded').filter({ visible: true });
        await expect.poll(() => labels.allTextContents(), { timeout: WAIT }).toEqual(['↪ Forwarded']);
        // The copy is the newer one: the last row with that text.
        expect(await row(user.page, text).last().getByTestId('forwarded').isVisible()).toBe(true);
      }
      expect(await row(bob.page, text).last().getAttribute('data-own')).toBe('false');
    }, ACTION_TIMEOUT);

    it('star: ★ on one’s own copy only, the starred view lists it and jumps to it; unstar', async () => {
      const text = `${tag} remember: the code is 4711`;
      await send(bob.page, text);
      await row(ann.page, text).waitFor();
      await menuOf(pass, ann.page, text);
      await choose(ann.page, 'menu-star');
      await row(ann.page, text).getByTestId('star').waitFor();
      expect(await row(ann.page, text).getAttribute('data-starred')).toBe('true');
      expect(await row(bob.page, text).getByTestId('star').isHidden()).toBe(true);
      expect(await overlaps(ann.page)).toEqual([]);

      // Scroll away, then find it through the starred view.
      await conversation(ann.page).getByTestId('messages').evaluate((el) => el.scrollTo({ top: 0 }));
      await toList(ann.page);
      await ann.page.getByTestId('starred-button').click();
      const dialog = ann.page.getByTestId('starred-dialog');
      const item = dialog.getByTestId('starred-item').filter({ hasText: text });
      await item.waitFor();
      await screenshot(ann.page, `actions-starred-${tag}`);
      await item.click();
      await dialog.waitFor({ state: 'detached' });
      await expect.poll(() => inView(ann.page, bubble(ann.page, text)), { timeout: WAIT }).toBe(true);

      await menuOf(pass, ann.page, text);
      await choose(ann.page, 'menu-unstar');
      await row(ann.page, text).getByTestId('star').waitFor({ state: 'hidden' });
      await toList(ann.page);
      await ann.page.getByTestId('starred-button').click();
      await ann.page.getByTestId('starred-dialog').getByTestId('starred-status').filter({ hasText: 'No starred messages' }).waitFor();
      await ann.page.keyboard.press('Escape');
      await ann.page.getByTestId('starred-dialog').waitFor({ state: 'detached' });
    }, ACTION_TIMEOUT);

    it('mark as unread: a dot in the chat list, kept on the server; opening the chat clears it', async () => {
      await toList(bob.page);
      const item = chatItem(bob.page, annName);
      if (pass.opener === 'chevron') {
        await item.hover();
        await item.locator('xpath=..').getByTestId('chat-menu-button').click();
      } else await item.click({ button: 'right' });
      await bob.page.getByTestId('chat-menu').getByTestId('menu-mark-unread').click();
      const badge = item.getByTestId('unread-badge');
      await expect.poll(() => badge.getAttribute('data-marked'), { timeout: WAIT }).toBe('true');
      const api = await apiOf(bob.page, web.server.baseUrl);
      const annId = (await savedSession(ann.page)).userId;
      const marked = async (): Promise<boolean | undefined> => (await api.conversations()).conversations.find((c) => c.kind === 'direct' && c.peer === annId)?.markedUnread;
      await expect.poll(marked, { timeout: WAIT }).toBe(true);
      await open(bob.page, annName);
      await expect.poll(marked, { timeout: WAIT }).toBe(false);
      await toList(bob.page);
      await expect.poll(() => badge.isHidden(), { timeout: WAIT }).toBe(true);
    }, ACTION_TIMEOUT);

    it('the new parts are legible: at least 4.5:1 in the light and the dark theme', async () => {
      const page = ann.page;
      await open(page, bobName);
      const quoted = `${tag} yes, see you there`;
      await row(page, quoted).scrollIntoViewIfNeeded();
      await menuOf(pass, page, quoted);
      await choose(page, 'menu-reply');
      await menuOf(pass, page, quoted);
      const selectors = [
        '[data-testid="message"][data-own="true"] [data-testid="quote"] [data-testid="quote-text"]',
        '[data-testid="message"][data-own="true"] [data-testid="quote"] [data-testid="quote-name"]',
        '[data-testid="message"][data-own="true"] [data-testid="edited"]',
        '[data-testid="message"][data-own="true"][data-deleted="true"] .text',
        '[data-testid="message"] [data-testid="forwarded"]:not([hidden])',
        '[data-testid="message"] [data-testid="reaction"]',
        '[data-testid="composer-bar-title"]',
        '[data-testid="composer-bar"] [data-testid="quote-text"]',
        '[data-testid="message-menu"] [data-testid="menu-reply"]',
        '[data-testid="message-menu"] [data-testid="menu-delete"]',
      ];
      const low: string[] = [];
      for (const colorScheme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme });
        await expect.poll(() => page.evaluate(() => matchMedia('(prefers-color-scheme: dark)').matches), { timeout: WAIT }).toBe(colorScheme === 'dark');
        for (const { selector, ratio } of await contrasts(page, selectors)) if (ratio < 4.5) low.push(`${colorScheme}: ${selector}: ${ratio}`);
        await screenshot(page, `actions-menu-${colorScheme}-${tag}`);
      }
      expect(low).toEqual([]);
      await page.emulateMedia({ colorScheme: 'light' });
      await page.keyboard.press('Escape');
      await page.getByTestId('message-menu').waitFor({ state: 'detached' });
      await conversation(page).getByTestId('composer-bar-cancel').click();
      await conversation(page).getByTestId('composer-bar').waitFor({ state: 'hidden' });
    }, ACTION_TIMEOUT);

    if (pass.opener === 'chevron') {
      it('groups: an admin deletes a member’s message for everyone ("deleted by an admin"); message info lists who read', async () => {
        const api = await apiOf(ann.page, web.server.baseUrl);
        const bobId = (await savedSession(bob.page)).userId;
        const title = `${tag} Weekend trip`;
        await api.createGroup({ title, members: [bobId] });
        for (const user of [ann, bob]) {
          await open(user.page, title);
          // The member list is loaded (the header lists them): Ann is known as the admin.
          await expect.poll(async () => (await conversation(user.page).getByTestId('conversation-subtitle').textContent()) ?? '', { timeout: WAIT }).toContain('You');
        }
        const bobs = `${tag} I booked the wrong hotel`;
        await send(bob.page, bobs);
        await row(ann.page, bobs).waitFor();
        await menuOf(pass, ann.page, bobs);
        await choose(ann.page, 'menu-delete');
        await ann.page.getByTestId('delete-dialog').getByTestId('delete-everyone').click();
        await explained([ann.page], () => row(bob.page, 'This message was deleted by an admin').waitFor());
        await row(ann.page, 'You deleted this message').waitFor();

        const anns = `${tag} meet at the station at 9`;
        await send(ann.page, anns);
        await row(bob.page, anns).waitFor();
        await expect.poll(() => row(ann.page, anns).getAttribute('data-status'), { timeout: WAIT }).toBe('read');
        await menuOf(pass, ann.page, anns);
        await choose(ann.page, 'menu-info');
        const info = ann.page.getByTestId('message-info-dialog');
        await info.getByTestId('info-read').filter({ hasText: bobName }).waitFor();
        await screenshot(ann.page, `actions-info-${tag}`);
        await ann.page.keyboard.press('Escape');
        await info.waitFor({ state: 'detached' });
        // Bob is no admin: his menu on Ann's message offers no "for everyone", and no info.
        await menuOf(pass, bob.page, anns);
        expect(await bob.page.getByTestId('message-menu').getByTestId('menu-info').count()).toBe(0);
        await choose(bob.page, 'menu-delete');
        expect(await bob.page.getByTestId('delete-dialog').getByTestId('delete-everyone').count()).toBe(0);
        await bob.page.getByTestId('delete-dialog').getByTestId('delete-cancel').click();
        await bob.page.getByTestId('delete-dialog').waitFor({ state: 'detached' });
      }, ACTION_TIMEOUT);

      it('notifications: offered on the first incoming message (never on load); shown only while the tab is hidden, not for one’s own', async () => {
        // The page's Notification API and visibility, under the test's control.
        await ann.context.addInitScript(() => {
          const shown: Array<{ title: string; body: string | undefined }> = [];
          class FakeNotification {
            static permission: NotificationPermission = 'default';
            static requestPermission(): Promise<NotificationPermission> {
              FakeNotification.permission = 'granted';
              return Promise.resolve('granted');
            }
            constructor(title: string, options?: NotificationOptions) {
              shown.push({ title, body: options?.body });
            }
            addEventListener(): void {}
            close(): void {}
          }
          const page = window as unknown as { Notification: unknown; shownNotifications: typeof shown; pageHidden: boolean };
          page.Notification = FakeNotification;
          page.shownNotifications = shown;
          page.pageHidden = false;
          Object.defineProperty(document, 'visibilityState', { get: () => (page.pageHidden ? 'hidden' : 'visible') });
        });
        await ann.page.reload();
        await open(ann.page, bobName);
        await open(bob.page, annName);
        const offer = ann.page.getByTestId('notifications-banner');
        expect(await offer.isHidden()).toBe(true);
        const shown = (): Promise<Array<{ title: string; body: string | undefined }>> =>
          ann.page.evaluate(() => (window as unknown as { shownNotifications: Array<{ title: string; body: string | undefined }> }).shownNotifications);
        const hide = (hidden: boolean): Promise<void> => ann.page.evaluate((value) => void ((window as unknown as { pageHidden: boolean }).pageHidden = value), hidden);

        await send(bob.page, `${tag} first one`);
        await offer.waitFor();
        await offer.getByTestId('notifications-turn-on').click();
        await offer.waitFor({ state: 'hidden' });
        await hide(true);
        await send(bob.page, `${tag} while you are away`);
        await send(ann.page, `${tag} my own`);
        await expect.poll(shown, { timeout: WAIT }).toEqual([{ title: bobName, body: `${tag} while you are away` }]);
        await hide(false);
        await send(bob.page, `${tag} while you look`);
        await row(ann.page, `${tag} while you look`).waitFor();
        expect(await shown()).toHaveLength(1);
      }, ACTION_TIMEOUT);

      it('menus work from the keyboard: Enter opens, arrows move, Escape closes and focus returns', async () => {
        const text = `${tag} keyboard check`;
        await send(ann.page, text);
        // On a busy machine an Enter pressed after a separate focus() once opened nothing (the
        // focus had moved by then): start once the message left 'pending' (the page is done
        // with the send), and focus and press on the button in one step.
        await expect.poll(() => row(ann.page, text).getAttribute('data-status'), { timeout: WAIT }).not.toBe('pending');
        const chevron = row(ann.page, text).getByTestId('message-menu-button');
        await chevron.press('Enter');
        const menu = ann.page.getByTestId('message-menu');
        await menu.waitFor();
        expect(await menu.getAttribute('role')).toBe('menu');
        await expect.poll(() => ann.page.evaluate(() => document.activeElement?.getAttribute('data-testid')), { timeout: WAIT }).toBe('menu-reply');
        await ann.page.keyboard.press('ArrowDown');
        expect(await ann.page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('menu-copy');
        await ann.page.keyboard.press('ArrowUp');
        await ann.page.keyboard.press('ArrowUp');
        // Up from Reply: the reaction row (the "+" is last in it).
        expect(await ann.page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('react-more');
        await ann.page.keyboard.press('Escape');
        await menu.waitFor({ state: 'detached' });
        expect(await chevron.evaluate((el) => el === document.activeElement)).toBe(true);
        // The chat stays open (Escape closed only the menu).
        expect(await conversation(ann.page).count()).toBe(1);
        // Every menu control has a name.
        await chevron.press('Enter');
        await menu.waitFor();
        const unnamed = await menu.evaluate((el) => [...el.querySelectorAll('button')].filter((b) => (b.getAttribute('aria-label') ?? b.textContent ?? '').trim() === '').length);
        expect(unnamed).toBe(0);
        await ann.page.keyboard.press('Escape');
        await menu.waitFor({ state: 'detached' });
      }, ACTION_TIMEOUT);
    }
  });
}

describe('the whole run', () => {
  it('no page error and no Content-Security-Policy violation', () => {
    expect(web.pageErrors).toEqual([]);
    expect(web.cspViolations).toEqual([]);
  });
});
