/**
 * Black box in a real browser (harness: web-harness.ts): searching messages in the web client
 * (issue 14). Ann (en-US, 12-hour clock, desktop) and Bob (de-DE, 24-hour clock, phone) write to
 * each other; Cara (an SDK client) writes to Ann, then enough more that her first messages are
 * beyond the newest history page. The sidebar's search finds a word by its prefix and marks it;
 * choosing the hit (by keyboard) opens the chat at that message, in a window of older history
 * with "Jump to latest" back to the newest; "Load more" pages back through older hits; a chat's
 * own search finds only that chat's messages; a rate-limited search says how long to wait; on a
 * phone the results take the whole screen.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { device, nextPhone, type TestClient } from '../support/clients.ts';
import { PHONE, STEP_TIMEOUT, WAIT, WebHarness, chatItem, connected, conversation, openChat, row, savedSession, screenshot, send, startChat, type User } from './web-harness.ts';

const web = new WebHarness();

beforeAll(() => web.start(), WebHarness.START_MS);
afterAll(() => web.stop());

const LUNCH = 'Lunch at the noodle bar tomorrow?';
const NOODLES = 'Noodles sound great, see you there';
const RECIPE = 'A noodle recipe for the weekend';
const OFFSITE = 'Planning the quarterly offsite in Lisbon';
/** Cara's messages after OFFSITE: more than a history page (40), so it is not among the newest. */
const FILLERS = Array.from({ length: 45 }, (_, i) => `filler ${String(i).padStart(2, '0')}`);

const TWELVE_HOUR = /^(1[0-2]|[1-9]):\d\d\s[AP]M$/;
const TWENTY_FOUR_HOUR = /^\d\d:\d\d$/;

function hits(page: Page) {
  return page.getByTestId('search-panel').getByTestId('search-hit');
}

/** What each hit shows: chat, sender line start, marked words, the snippet's text. */
async function shownHits(page: Page): Promise<Array<{ chat: string; from: string; marks: string[]; snippet: string; time: string }>> {
  return hits(page).evaluateAll((buttons) =>
    buttons.map((b) => ({
      chat: b.querySelector('[data-testid="search-hit-chat"]')?.textContent ?? '',
      from: b.querySelector('[data-testid="search-hit-from"]')?.textContent ?? '',
      marks: [...b.querySelectorAll('[data-testid="search-snippet"] mark')].map((m) => m.textContent ?? ''),
      snippet: b.querySelector('[data-testid="search-snippet"]')?.textContent ?? '',
      time: b.querySelector('[data-testid="search-hit-time"]')?.textContent ?? '',
    })),
  );
}

async function inView(page: Page, text: string): Promise<boolean> {
  return row(page, text).evaluate((el) => {
    const box = el.getBoundingClientRect();
    const scroller = el.closest('[data-testid="messages"]')?.getBoundingClientRect();
    return scroller !== undefined && box.height > 0 && box.top >= scroller.top - 1 && box.bottom <= scroller.bottom + 1;
  });
}

describe('search in the web client', () => {
  let ann: User;
  let bob: User;
  let cara: TestClient;

  it('Ann and Bob write to each other; Cara writes to Ann, more than a page after her first words', async () => {
    ann = await web.logIn('Ann', { locale: 'en-US', timezoneId: 'America/New_York' });
    bob = await web.logIn('Bob', { locale: 'de-DE', viewport: PHONE });
    await startChat(bob.page, ann.phone, 'Ann');
    await send(bob.page, LUNCH);
    await startChat(ann.page, bob.phone, 'Bob');
    await row(ann.page, LUNCH).waitFor();
    await send(ann.page, NOODLES);
    await row(bob.page, NOODLES).waitFor();

    cara = await device(web.server.baseUrl, nextPhone(), 'cara-sdk');
    web.sdkClients.push(cara);
    await cara.api.updateMe({ displayName: 'Cara' });
    await cara.connect();
    const annId = (await savedSession(ann.page)).userId;
    await cara.sendText(annId, RECIPE).sent;
    await cara.sendText(annId, OFFSITE).sent;
    await Promise.all(FILLERS.map((text) => cara.sendText(annId, text).sent));
    await expect.poll(() => chatItem(ann.page, 'Cara').getByTestId('chat-preview').textContent(), { timeout: WAIT }).toBe(FILLERS.at(-1));
    // From a fresh start: only the newest history page of a chat is loaded when it opens.
    await ann.page.reload();
    await connected(ann.page);
  }, STEP_TIMEOUT);

  it('desktop, 12-hour: a prefix finds the word, marked; a rate limit says how long to wait', async () => {
    const { page } = ann;
    await page.getByTestId('search-button').click();
    const panel = page.getByTestId('search-panel');
    const input = panel.getByTestId('search-input');
    await expect.poll(() => input.evaluate((el) => el === document.activeElement), { timeout: WAIT }).toBe(true);

    // The first search is refused as over the limit (as the server does after 30 a minute).
    await page.route('**/v1/search?*', (route) =>
      route.fulfill({
        status: 429,
        contentType: 'application/json',
        json: { error: { code: 'rate_limited', message: 'Rate limit reached', retryable: true, retryAfterMs: 20_000 } },
      }),
    );
    await page.keyboard.type('offs');
    await expect.poll(() => panel.getByTestId('search-status').textContent(), { timeout: WAIT }).toBe('Too many searches, try again in 20 seconds.');
    await page.unroute('**/v1/search?*');

    // Enter searches at once (no wait for the debounce).
    await input.press('Enter');
    await expect.poll(() => hits(page).count(), { timeout: WAIT }).toBe(1);
    const [hit] = await shownHits(page);
    expect(hit?.chat).toBe('Cara');
    expect(hit?.from).toBe('Cara: ');
    expect(hit?.marks.map((m) => m.toLowerCase())).toEqual(['offsite']);
    expect(hit?.snippet).toContain('quarterly offsite in Lisbon');
    expect(hit?.time).toMatch(TWELVE_HOUR);
    expect(await panel.getByTestId('search-status').textContent()).toBe('1 message found.');
    expect(await panel.getByTestId('search-status').getAttribute('role')).toBe('status');
    await screenshot(page, 'search');
  }, STEP_TIMEOUT);

  it('choosing the hit by keyboard opens the chat at it, among older messages; Jump to latest goes back', async () => {
    const { page } = ann;
    const input = page.getByTestId('search-input');
    await input.press('ArrowDown');
    await expect.poll(() => hits(page).first().evaluate((el) => el === document.activeElement), { timeout: WAIT }).toBe(true);
    // The flash lasts 2 s: record it as it happens rather than race it.
    await page.evaluate(() => {
      const flashed: string[] = [];
      Object.assign(window, { flashed });
      new MutationObserver((records) => {
        for (const record of records) {
          const el = record.target as HTMLElement;
          if (el.classList.contains('highlight')) flashed.push(el.querySelector('[data-testid="message-text"]')?.textContent ?? '');
        }
      }).observe(document.body, { subtree: true, attributes: true, attributeFilter: ['class'] });
    });
    await page.keyboard.press('Enter');
    await expect.poll(() => conversation(page).getByTestId('conversation-title').textContent(), { timeout: WAIT }).toBe('Cara');
    await row(page, OFFSITE).waitFor();
    await expect.poll(() => inView(page, OFFSITE), { timeout: WAIT }).toBe(true);
    await expect.poll(() => page.evaluate(() => (window as unknown as { flashed: string[] }).flashed), { timeout: WAIT }).toContain(OFFSITE);
    // The window ends at the hit: the newest messages are not drawn; the start of the chat is above.
    expect(await row(page, FILLERS.at(-1)!).count()).toBe(0);
    await conversation(page).getByTestId('history-start').waitFor();
    await row(page, RECIPE).waitFor();
    const latest = conversation(page).getByTestId('jump-to-latest');
    await latest.waitFor();
    await screenshot(page, 'search-hit');

    await latest.click();
    await row(page, FILLERS.at(-1)!).waitFor();
    await expect.poll(() => inView(page, FILLERS.at(-1)!), { timeout: WAIT }).toBe(true);
    expect(await latest.isHidden()).toBe(true);
    // The results stay beside the chat on a desktop.
    expect(await hits(page).count()).toBe(1);
  }, STEP_TIMEOUT);

  it('all chats find every message with the word; a chat’s own search only that chat’s', async () => {
    const { page } = ann;
    const panel = page.getByTestId('search-panel');
    const input = panel.getByTestId('search-input');
    await input.focus();
    // Escape clears the field first (and leaves the open chat alone)…
    await page.keyboard.press('Escape');
    expect(await input.inputValue()).toBe('');
    expect(await conversation(page).count()).toBe(1);
    await page.keyboard.type('nood');
    await expect.poll(() => hits(page).count(), { timeout: WAIT }).toBe(3);
    const all = await shownHits(page);
    // Newest first.
    expect(all.map((h) => [h.chat, h.from])).toEqual([
      ['Cara', 'Cara: '],
      ['Bob', 'You: '],
      ['Bob', 'Bob: '],
    ]);
    expect(all.map((h) => h.marks.map((m) => m.toLowerCase()))).toEqual([['noodle'], ['noodles'], ['noodle']]);
    expect(all.map((h) => h.snippet)).toEqual([RECIPE, NOODLES, LUNCH]);
    // Pages of 20, newest first; Load more reads the older ones until there are none.
    await input.press('Escape');
    await page.keyboard.type('filler');
    await expect.poll(() => hits(page).count(), { timeout: WAIT }).toBe(20);
    const status = panel.getByTestId('search-status');
    expect(await status.textContent()).toBe('20 messages found so far. Load more for older ones.');
    expect((await shownHits(page)).slice(0, 2).map((h) => h.snippet)).toEqual([FILLERS[44], FILLERS[43]]);
    await panel.getByTestId('search-more').click();
    await expect.poll(() => hits(page).count(), { timeout: WAIT }).toBe(40);
    await panel.getByTestId('search-more').click();
    await expect.poll(() => hits(page).count(), { timeout: WAIT }).toBe(45);
    expect(await status.textContent()).toBe('45 messages found.');
    expect(await panel.getByTestId('search-more').isHidden()).toBe(true);
    expect((await shownHits(page)).at(-1)?.snippet).toBe(FILLERS[0]);
    // …then closes the search.
    await input.press('Escape');
    await input.press('Escape');
    await panel.waitFor({ state: 'detached' });
    await chatItem(page, 'Bob').waitFor();

    await openChat(page, 'Bob');
    await conversation(page).getByTestId('chat-search-button').click();
    await expect.poll(() => panel.getByTestId('search-scope-name').textContent(), { timeout: WAIT }).toBe('Bob');
    await page.keyboard.type('nood');
    await expect.poll(() => hits(page).count(), { timeout: WAIT }).toBe(2);
    expect((await shownHits(page)).map((h) => h.snippet)).toEqual([NOODLES, LUNCH]);
    await hits(page).nth(1).click();
    await expect.poll(() => inView(page, LUNCH), { timeout: WAIT }).toBe(true);

    await panel.getByTestId('search-all-chats').click();
    await expect.poll(() => hits(page).count(), { timeout: WAIT }).toBe(3);
  }, STEP_TIMEOUT);

  it('phone, 24-hour: the results take the whole screen; a hit opens the chat, Back returns to them', async () => {
    const { page } = bob;
    // Bob is in his chat with Ann: its own search covers it.
    await conversation(page).getByTestId('chat-search-button').click();
    const panel = page.getByTestId('search-panel');
    await panel.waitFor();
    expect(await conversation(page).isVisible()).toBe(false);
    await page.keyboard.type('lunch');
    await expect.poll(() => hits(page).count(), { timeout: WAIT }).toBe(1);
    const [hit] = await shownHits(page);
    expect(hit?.chat).toBe('Ann');
    expect(hit?.from).toBe('You: ');
    expect(hit?.marks).toEqual(['Lunch']);
    expect(hit?.time).toMatch(TWENTY_FOUR_HOUR);
    const box = await panel.boundingBox();
    expect(box?.width ?? 0).toBeGreaterThanOrEqual(PHONE.width - 1);
    await screenshot(page, 'phone-search');

    await hits(page).first().click();
    await expect.poll(() => conversation(page).isVisible(), { timeout: WAIT }).toBe(true);
    expect(await panel.isVisible()).toBe(false);
    await expect.poll(() => inView(page, LUNCH), { timeout: WAIT }).toBe(true);

    // Back to the list: the search is still there; its own Back closes it.
    await conversation(page).getByTestId('back-button').click();
    await panel.waitFor({ state: 'visible' });
    await panel.getByTestId('search-back').click();
    await panel.waitFor({ state: 'detached' });

    // All chats, from the list.
    await page.getByTestId('search-button').click();
    await page.keyboard.type('great');
    await expect.poll(() => hits(page).count(), { timeout: WAIT }).toBe(1);
    expect((await shownHits(page)).map((h) => [h.chat, h.from, h.marks.join()])).toEqual([['Ann', 'Ann: ', 'great']]);
    await hits(page).first().click();
    await expect.poll(() => inView(page, NOODLES), { timeout: WAIT }).toBe(true);
  }, STEP_TIMEOUT);

  it('no uncaught errors and no Content-Security-Policy violation in any page', () => {
    expect(web.pageErrors).toEqual([]);
    expect(web.cspViolations).toEqual([]);
  });
});
