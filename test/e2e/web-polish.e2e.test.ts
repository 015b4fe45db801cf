/**
 * Black box in a real browser (harness: web-harness.ts): the web client's first-use defects of
 * issue 13. Times never overlap the text (12-hour en-US and 24-hour en-GB, many lengths, measured
 * line by line) and carry no leading zero; the own name survives a reload; numbers are grouped;
 * a stranger's chat says who wrote with "Add to contacts"; an "Unread messages" divider with the
 * first unread in view and a count on ↓; safe clickable links; secondary text at 4.5:1 or more
 * in the light and the dark theme.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatPhone } from '../../web/src/format.ts';
import { device, nextPhone } from '../support/clients.ts';
import { STEP_TIMEOUT, WAIT, WebHarness, apiOf, chatItem, connected, contrasts, conversation, overlaps, openChat, row, savedSession, send, startChat, subtitle, type User } from './web-harness.ts';

const web = new WebHarness();

beforeAll(() => web.start(), WebHarness.START_MS);
afterAll(() => web.stop());

const WORDS = 'the quick brown fox jumps over the lazy dog while a wizard quietly mixes seven potions for the king and queen of nowhere land';

/** Texts of many lengths: short ones, every length around where a line fills up, and several lines. */
function texts(prefix: string): string[] {
  const lengths = [1, 2, 5, 9, 14, 20, ...Array.from({ length: 24 }, (_, i) => 44 + i * 2), 100, 110, 125];
  const out = lengths.map((n, i) => `${prefix}${i} ${WORDS.repeat(2).slice(0, n)}`.trim());
  out.push(`${prefix} line one\nline two`, `${prefix} ${WORDS} ${WORDS}`, `${prefix}-${'x'.repeat(70)}`);
  return out;
}

/**
 * Every message row whose time (or time + tick) box intersects a line box of its text (a Range
 * over the text's nodes gives one rect per line fragment). Empty when all are clear.
 */
describe('web client polish (issue 13)', () => {
  let us: User;
  let gb: User;

  it('times never overlap the text, in 12-hour (en-US) and 24-hour (en-GB) clocks; no leading zero', async () => {
    us = await web.logIn('Uma', { locale: 'en-US', timezoneId: 'America/New_York' });
    gb = await web.logIn('Gil Brook');
    await startChat(us.page, gb.phone, 'Gil Brook');
    for (const text of texts('u')) await send(us.page, text);
    await startChat(gb.page, us.phone, 'Uma');
    for (const text of texts('g')) await send(gb.page, text);
    const all = [...texts('u'), ...texts('g')];
    for (const user of [us, gb]) {
      await expect.poll(() => conversation(user.page).getByTestId('message').count(), { timeout: WAIT }).toBe(all.length);
      await row(user.page, all.at(-1)!).waitFor();
      expect(await overlaps(user.page)).toEqual([]);
    }
    const usTimes = await conversation(us.page).locator('.meta time').allTextContents();
    expect(usTimes.length).toBe(all.length);
    for (const t of usTimes) expect(t).toMatch(/^(1[0-2]|[1-9]):\d\d\s[AP]M$/);
    for (const t of await conversation(gb.page).locator('.meta time').allTextContents()) expect(t).toMatch(/^\d\d:\d\d$/);
    // A phone-sized screen wraps differently: still clear.
    await us.page.setViewportSize({ width: 390, height: 760 });
    await expect.poll(() => overlaps(us.page), { timeout: WAIT }).toEqual([]);
    await us.page.setViewportSize({ width: 1100, height: 680 });
  }, 180_000);

  it('after a reload the sidebar shows the own name and its initials, numbers are grouped', async () => {
    await gb.page.reload();
    await connected(gb.page);
    await expect.poll(() => gb.page.getByTestId('me-name').textContent(), { timeout: WAIT }).toBe('Gil Brook');
    expect(await gb.page.locator('.sidebar-header .avatar').textContent()).toBe('GB');
    // Numbers are shown grouped (the stranger's below): German mobiles, North American, British.
    expect(formatPhone(us.phone)).toMatch(/^\+49 151 \d{8}$/);
    expect(formatPhone('+14155550134')).toBe('+1 415 555 0134');
    expect(formatPhone('+447700900123')).toBe('+44 770 0900123');
  }, STEP_TIMEOUT);

  it('a first message from a stranger shows who wrote and offers "Add to contacts"', async () => {
    const stranger = await device(web.server.baseUrl, nextPhone(), 'stranger-sdk');
    web.sdkClients.push(stranger);
    await stranger.api.updateMe({ displayName: 'Stan' });
    const strangerProfile = await stranger.api.me();
    // Writing shares Stan's number with Gil: his profile, as Gil reads it, carries it.
    await stranger.connect();
    const gilId = (await savedSession(gb.page)).userId;
    await stranger.sendText(gilId, 'hi, it is Stan from the climbing gym').sent;
    await openChat(gb.page, 'Stan');
    const bar = conversation(gb.page).getByTestId('stranger-bar');
    await bar.waitFor();
    expect(await bar.textContent()).toContain('Not in your contacts');
    await expect.poll(() => bar.getByTestId('stranger-phone').textContent(), { timeout: WAIT }).toBe(formatPhone(strangerProfile.phone!));
    await expect.poll(() => subtitle(gb.page), { timeout: WAIT }).toBe(formatPhone(strangerProfile.phone!));
    const [request] = await Promise.all([gb.page.waitForRequest((r) => r.url().endsWith('/v1/contacts') && r.method() === 'POST'), bar.getByTestId('add-contact').click()]);
    expect(request.postDataJSON()).toMatchObject({ phone: strangerProfile.phone });
    await bar.waitFor({ state: 'hidden' });
    const api = await apiOf(gb.page, web.server.baseUrl);
    expect((await api.contacts()).contacts.map((c) => c.userId)).toContain(strangerProfile.userId);
  }, STEP_TIMEOUT);

  it('opening a chat with unread messages: a divider, the first unread in view, a count on ↓; safe links', async () => {
    const carol = await device(web.server.baseUrl, nextPhone(), 'carol-sdk');
    web.sdkClients.push(carol);
    await carol.api.updateMe({ displayName: 'Carol' });
    await carol.connect();
    const umaId = (await savedSession(us.page)).userId;
    for (let i = 0; i < 40; i++) await carol.sendText(umaId, `old ${i}`).sent;
    await openChat(us.page, 'Carol');
    await row(us.page, 'old 39').waitFor();
    await us.page.keyboard.press('Escape');
    await expect.poll(() => chatItem(us.page, 'Carol').getByTestId('unread-badge').isHidden(), { timeout: WAIT }).toBe(true);
    const link = 'see https://example.com/a?b=1. or javascript:alert(1) and (http://x.test/path)';
    const fresh = [...Array.from({ length: 29 }, (_, i) => `new ${i}`), link];
    for (const text of fresh) await carol.sendText(umaId, text).sent;
    await expect.poll(() => chatItem(us.page, 'Carol').getByTestId('unread-badge').textContent(), { timeout: WAIT }).toBe('30');

    await us.page.reload();
    await connected(us.page);
    await openChat(us.page, 'Carol');
    const divider = conversation(us.page).getByTestId('unread-divider');
    await divider.waitFor();
    expect(await divider.textContent()).toBe('Unread messages');
    // The divider sits above "new 0", the first unread, and both are in view; the view is not at the bottom.
    expect(await row(us.page, 'new 0').getByTestId('unread-divider').count()).toBe(1);
    expect(await conversation(us.page).getByTestId('unread-divider').count()).toBe(1);
    const view = await conversation(us.page).getByTestId('messages').evaluate((scroller) => {
      const box = scroller.getBoundingClientRect();
      const first = [...scroller.querySelectorAll('[data-testid="message"]')].find((r) => r.querySelector('[data-testid="message-text"]')?.textContent === 'new 0');
      // The divider and the first unread bubble (the row also holds the divider's margin).
      const divider = first?.querySelector('[data-testid="unread-divider"]')?.getBoundingClientRect();
      const bubble = first?.querySelector('.bubble')?.getBoundingClientRect();
      const rect = divider === undefined || bubble === undefined ? undefined : { top: divider.top, bottom: bubble.bottom };
      const below = [...scroller.querySelectorAll('[data-testid="message"]')].filter((r) => {
        const t = r.querySelector('[data-testid="message-text"]')?.textContent ?? '';
        return (t.startsWith('new ') || t.startsWith('see ')) && r.getBoundingClientRect().top >= box.bottom - 8;
      }).length;
      return {
        rect: rect === undefined ? null : [rect.top, rect.bottom, box.top, box.bottom, scroller.scrollTop, scroller.scrollHeight],
        firstVisible: rect !== undefined && rect.top >= box.top && rect.bottom <= box.bottom,
        distance: scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight,
        below,
      };
    });
    expect(view.firstVisible, JSON.stringify(view)).toBe(true);
    expect(view.distance).toBeGreaterThan(80);
    expect(view.below).toBeGreaterThan(0);
    const jump = conversation(us.page).getByTestId('jump-latest');
    await jump.waitFor();
    expect(await jump.getByTestId('jump-count').textContent()).toBe(String(view.below));
    await jump.click();
    await jump.waitFor({ state: 'hidden' });

    // Links: http(s) only, as <a> with rel and target; "javascript:" stays text.
    const anchors = await row(us.page, link)
      .getByTestId('message-text')
      .evaluate((el) => [...el.querySelectorAll('a')].map((a) => ({ href: a.getAttribute('href'), text: a.textContent, rel: a.rel, target: a.target })));
    expect(anchors).toEqual([
      { href: 'https://example.com/a?b=1', text: 'https://example.com/a?b=1', rel: 'noopener noreferrer', target: '_blank' },
      { href: 'http://x.test/path', text: 'http://x.test/path', rel: 'noopener noreferrer', target: '_blank' },
    ]);
    expect(await row(us.page, link).getByTestId('message-text').textContent()).toBe(link);
  }, STEP_TIMEOUT);

  it('secondary text has at least 4.5:1 contrast in the light and the dark theme', async () => {
    const page = us.page;
    await openChat(page, 'Gil Brook');
    await row(page, texts('u').at(-1)!).waitFor();
    await row(page, texts('g').at(-1)!).waitFor();
    const selectors = [
      '[data-testid="chat-item"] [data-testid="chat-preview"]',
      '[data-testid="chat-item"] [data-testid="chat-time"]',
      '[data-testid="conversation-subtitle"]',
      '[data-testid="message"][data-own="true"] .meta time',
      '[data-testid="message"][data-own="false"] .meta time',
    ];
    for (const colorScheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme });
      await expect.poll(() => page.evaluate(() => matchMedia('(prefers-color-scheme: dark)').matches), { timeout: WAIT }).toBe(colorScheme === 'dark');
      await expect.poll(() => subtitle(page), { timeout: WAIT }).not.toBe('');
      const ratios = await contrasts(page, selectors);
      for (const { selector, ratio } of ratios) expect(ratio, `${colorScheme}: ${selector}`).toBeGreaterThanOrEqual(4.5);
    }
    await page.emulateMedia({ colorScheme: 'light' });
  }, STEP_TIMEOUT);

  it('no page error and no Content-Security-Policy violation', () => {
    expect(web.pageErrors).toEqual([]);
    expect(web.cspViolations).toEqual([]);
  });
});
