/**
 * Black box in a real browser: the web client served by the real local server (`npm run dev`'s
 * script, which builds web/dist), driven in headless Chromium with playwright-core. Two (and for
 * some steps three) users log in through the UI and chat; assertions are on what is visible in
 * the DOM (data-testid / aria attributes), every wait is bounded.
 *
 * The tests run in order and share the users: each builds on the chats of the previous ones.
 * Screenshots of the main screens are written to test-results/screenshots/ (git-ignored), or with
 * UPDATE_SCREENSHOTS=1 to docs/screenshots/ (the committed ones the README links to).
 *
 * Security: the page, its assets and the API carry the security headers, and the whole run, under
 * the page's Content-Security-Policy, must not produce a single CSP violation (every page reports
 * `securitypolicyviolation` events and Chromium's "Content Security Policy" console errors).
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TYPING_TTL_MS } from '../../protocol/index.ts';
import { device, nextPhone } from '../support/clients.ts';
import {
  CSP_MARK,
  apiOf,
  DESKTOP,
  PHONE,
  SESSION_KEY,
  STEP_TIMEOUT,
  WAIT,
  WebHarness,
  chatItem,
  connected,
  conversation,
  openChat,
  reportCsp,
  row,
  savedSession,
  screenshot,
  send,
  startChat,
  statusOf,
  stays,
  subtitle,
  texts,
  watchCsp,
  type LogInOptions,
  type User,
} from './web-harness.ts';

const web = new WebHarness();

beforeAll(() => web.start(), WebHarness.START_MS);
afterAll(() => web.stop());

function logIn(name: string, options: LogInOptions = {}): Promise<User> {
  return web.logIn(name, options);
}

const TICK_RANK: Record<string, number> = { pending: 0, sent: 1, delivered: 2, read: 3 };

/** Record every status a row of `page` shows (rows are new DOM nodes, so watch the whole list). */
async function recordStatuses(page: Page): Promise<void> {
  await page.evaluate(() => {
    const log: Record<string, string[]> = {};
    (window as unknown as { statusLog: Record<string, string[]> }).statusLog = log;
    const note = (el: Element): void => {
      const text = el.querySelector('[data-testid="message-text"]')?.textContent ?? '';
      const status = el.getAttribute('data-status');
      if (status === null) return;
      const seen = (log[text] ??= []);
      if (seen[seen.length - 1] !== status) seen.push(status);
    };
    new MutationObserver((mutations) => {
      for (const m of mutations) {
        if (m.type === 'attributes' && m.target instanceof Element && m.target.matches('[data-testid="message"]')) note(m.target);
        for (const node of m.addedNodes) if (node instanceof Element && node.matches('[data-testid="message"]')) note(node);
      }
    }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'] });
  });
}

async function statusLog(page: Page, text: string): Promise<string[]> {
  return page.evaluate((t) => (window as unknown as { statusLog: Record<string, string[]> }).statusLog[t] ?? [], text);
}

// ---------------------------------------------------------------- the tests

describe('web client in a real browser', () => {
  let alice: User;
  let bob: User;
  let carolPhone: string;

  it('serves the page, its assets and the API with the security headers', async () => {
    const page = await fetch(`${web.server.baseUrl}/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    // Nothing inline: the policy allows scripts and styles from files only.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
    expect(html).not.toMatch(/<style\b|\sstyle=/i);
    const asset = /<script[^>]+src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset, html).toBeDefined();
    const answers = [
      ['/', page],
      [asset!, await fetch(`${web.server.baseUrl}${asset}`)],
      ['/v1/health', await fetch(`${web.server.baseUrl}/v1/health`)],
    ] as const;
    for (const [path, response] of answers) {
      expect(response.status, path).toBe(200);
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp, `${path}: Content-Security-Policy`).toMatch(/(^|;)\s*frame-ancestors 'none'\s*(;|$)/);
      expect(csp, path).not.toContain('unsafe-inline');
      expect(csp, path).not.toContain('unsafe-eval');
      expect(response.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(response.headers.get('referrer-policy'), path).toBe('no-referrer');
    }
    const pagePolicy = page.headers.get('content-security-policy') ?? '';
    for (const directive of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "object-src 'none'", "base-uri 'none'"]) {
      expect(pagePolicy).toContain(directive);
    }
  }, STEP_TIMEOUT);

  it('enforces the policy in the browser, and the violation watch sees violations', async () => {
    // A throwaway page (its violations are its own): proves the page is under the policy and
    // that the watch used for every user page would catch a violation.
    const context = await web.browser.newContext({ baseURL: web.server.baseUrl });
    await reportCsp(context);
    const page = await context.newPage();
    const seen: string[] = [];
    watchCsp(page, 'probe', seen);
    await page.goto('/');
    await page.getByTestId('login-phone').waitFor();
    // What the app must never need: an inline script, and a style attribute.
    const inlineScriptRan = await page.evaluate(async () => {
      const script = document.createElement('script');
      script.textContent = 'document.body.dataset.inlineScriptRan = "yes"';
      document.head.append(script);
      await new Promise((resolve) => setTimeout(resolve, 50));
      return document.body.dataset.inlineScriptRan === 'yes';
    });
    const inlineStyled = await page.evaluate(() => {
      const probe = document.createElement('div');
      probe.setAttribute('style', 'width: 123px');
      document.body.append(probe);
      const width = probe.getBoundingClientRect().width;
      probe.remove();
      return width === 123;
    });
    expect(inlineScriptRan).toBe(false);
    expect(inlineStyled).toBe(false);
    await expect.poll(() => seen.filter((line) => line.includes(CSP_MARK)).length, { timeout: WAIT }).toBeGreaterThanOrEqual(2);
    await context.close();
  }, STEP_TIMEOUT);

  it('logs in with phone number and the code the dev server returns (shown and filled in), with its challenge', async () => {
    alice = await logIn('Alice', { screenshot: true, resend: 'countdown' });
    bob = await logIn('Bob', { resend: 'new-code' });
    expect(await alice.page.getByTestId('chat-list-empty').isVisible()).toBe(true);
  }, STEP_TIMEOUT);

  it('starts a chat by phone number; ticks go pending/sent → delivered → read', async () => {
    await startChat(alice.page, bob.phone, 'Bob');
    await recordStatuses(alice.page);
    await send(alice.page, 'Hi Bob!');

    // Bob is online with the chat closed: delivered (two grey ticks), unread 1 in his list.
    await expect.poll(() => statusOf(alice.page, 'Hi Bob!'), { timeout: WAIT }).toBe('delivered');
    expect(await row(alice.page, 'Hi Bob!').getByTestId('tick').getAttribute('aria-label')).toBe('Delivered');
    const bobsChat = chatItem(bob.page, 'Alice');
    await expect.poll(() => bobsChat.getByTestId('unread-badge').textContent(), { timeout: WAIT }).toBe('1');
    expect(await bobsChat.getByTestId('chat-preview').textContent()).toBe('Hi Bob!');

    // Bob opens the chat (visible): read, two blue ticks; his badge goes away.
    await openChat(bob.page, 'Alice');
    await expect.poll(() => statusOf(alice.page, 'Hi Bob!'), { timeout: WAIT }).toBe('read');
    const tick = row(alice.page, 'Hi Bob!').getByTestId('tick');
    expect(await tick.getAttribute('aria-label')).toBe('Read');
    expect(await tick.evaluate((el) => getComputedStyle(el).color)).toBe('rgb(83, 189, 235)');
    expect(await bobsChat.getByTestId('unread-badge').isHidden()).toBe(true);

    const seen = await statusLog(alice.page, 'Hi Bob!');
    expect(['pending', 'sent']).toContain(seen[0]);
    expect(seen.at(-1)).toBe('read');
    expect(seen.includes('delivered')).toBe(true);
    for (let i = 1; i < seen.length; i++) expect(TICK_RANK[seen[i]!]).toBeGreaterThan(TICK_RANK[seen[i - 1]!]!);

    await send(bob.page, 'Hello Alice');
    await row(alice.page, 'Hello Alice').waitFor();
    expect(await texts(alice.page)).toEqual(['Hi Bob!', 'Hello Alice']);
    await screenshot(alice.page, 'desktop-chat');
  }, STEP_TIMEOUT);

  it('keyboard: Enter sends, Shift+Enter adds a line, Escape closes the chat, Enter reopens it', async () => {
    const input = conversation(alice.page).getByTestId('composer-input');
    await input.focus();
    await alice.page.keyboard.type('line one');
    await alice.page.keyboard.press('Shift+Enter');
    await alice.page.keyboard.type('line two');
    expect(await input.inputValue()).toBe('line one\nline two');
    await alice.page.keyboard.press('Enter');
    await expect.poll(() => texts(bob.page), { timeout: WAIT }).toEqual(['Hi Bob!', 'Hello Alice', 'line one\nline two']);
    expect(await input.inputValue()).toBe('');

    await alice.page.keyboard.press('Escape');
    await alice.page.getByTestId('placeholder').waitFor();
    // Focus is back on the chat in the list; Enter opens it again with the composer focused.
    expect(await alice.page.evaluate(() => document.activeElement?.getAttribute('data-chat')?.startsWith('d:'))).toBe(true);
    await alice.page.keyboard.press('Enter');
    await conversation(alice.page).waitFor();
    expect(await alice.page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('composer-input');
  }, STEP_TIMEOUT);

  it('presence: once both saved each other, the header shows "online"', async () => {
    // Bob starts a chat with Alice's number too: the dialog saves it as a contact, and contacts
    // (the default privacy) see each other's presence.
    await startChat(bob.page, alice.phone, 'Alice');
    // Alice's view asks again when she opens the chat.
    await alice.page.keyboard.press('Escape');
    await alice.page.getByTestId('placeholder').waitFor();
    await openChat(alice.page, 'Bob');
    const subtitle = conversation(alice.page).getByTestId('conversation-subtitle');
    await expect.poll(() => subtitle.textContent(), { timeout: WAIT }).toBe('online');
  }, STEP_TIMEOUT);

  it('offline: the other side keeps sending; back online everything arrives, in order', async () => {
    await bob.context.setOffline(true);
    const banner = bob.page.getByTestId('connection-banner');
    await banner.waitFor();
    expect(await banner.textContent()).toMatch(/offline/i);
    // Alice's header: Bob's device is gone, so "last seen" (his last activity, today).
    const subtitle = conversation(alice.page).getByTestId('conversation-subtitle');
    await expect.poll(() => subtitle.textContent(), { timeout: WAIT }).toMatch(/^last seen today at \d\d:\d\d/);

    for (const text of ['while you were away 1', 'while you were away 2', 'while you were away 3']) await send(alice.page, text);
    for (const text of ['while you were away 1', 'while you were away 2', 'while you were away 3']) {
      await expect.poll(() => statusOf(alice.page, text), { timeout: WAIT }).toBe('sent');
    }
    await stays(async () => expect(await texts(bob.page)).not.toContain('while you were away 1'), 1_000);

    await bob.context.setOffline(false);
    await connected(bob.page);
    await banner.waitFor({ state: 'hidden' });
    await expect
      .poll(async () => (await texts(bob.page)).slice(-3), { timeout: WAIT })
      .toEqual(['while you were away 1', 'while you were away 2', 'while you were away 3']);
    // Bob has the chat open and visible: all of them get read.
    for (const text of ['while you were away 1', 'while you were away 2', 'while you were away 3']) {
      await expect.poll(() => statusOf(alice.page, text), { timeout: WAIT }).toBe('read');
    }
  }, STEP_TIMEOUT);

  it('a message written offline shows pending (clock), is kept in the outbox, and goes out on reconnect', async () => {
    await alice.context.setOffline(true);
    await alice.page.getByTestId('connection-banner').waitFor();
    await send(alice.page, 'written offline');
    await stays(async () => {
      expect(await statusOf(alice.page, 'written offline')).toBe('pending');
      expect(await row(alice.page, 'written offline').getByTestId('tick').getAttribute('aria-label')).toBe('Pending');
    }, 1_000);
    const stored = await alice.page.evaluate(() =>
      Object.keys(localStorage).some((k) => k.endsWith('.outbox') && (localStorage.getItem(k) ?? '').includes('written offline')),
    );
    expect(stored).toBe(true);
    expect(await texts(bob.page)).not.toContain('written offline');

    await alice.context.setOffline(false);
    await expect.poll(() => statusOf(alice.page, 'written offline'), { timeout: WAIT }).toBe('read');
    expect((await texts(bob.page)).at(-1)).toBe('written offline');
    const left = await alice.page.evaluate(() => Object.keys(localStorage).filter((k) => k.endsWith('.outbox')).length);
    expect(left).toBe(0);
  }, STEP_TIMEOUT);

  it('reload keeps the session, the open chat and its history (with ticks)', async () => {
    const before = await texts(alice.page);
    await alice.page.reload();
    await connected(alice.page);
    expect(await alice.page.getByTestId('login').count()).toBe(0);
    await expect.poll(() => texts(alice.page), { timeout: WAIT }).toEqual(before);
    expect(await statusOf(alice.page, 'Hi Bob!')).toBe('read');
    expect(await statusOf(alice.page, 'written offline')).toBe('read');

    await send(bob.page, 'after your reload');
    await row(alice.page, 'after your reload').waitFor();
  }, STEP_TIMEOUT);

  it('an expired access token is renewed with the refresh token: reloads stay logged in, two tabs renew it once', async () => {
    const before = await savedSession(alice.page);
    // As if the 15 minutes were over: the stored access token has expired (and is unusable).
    await alice.page.evaluate((key) => {
      const saved = JSON.parse(localStorage.getItem(key) ?? '{}') as { token: string; expiresAt: number };
      localStorage.setItem(key, JSON.stringify({ ...saved, token: 'expired-token', expiresAt: Date.now() - 60_000 }));
    }, SESSION_KEY);
    const renewals: string[] = [];
    alice.context.on('request', (request) => {
      if (request.method() === 'POST' && request.url().endsWith('/v1/auth/refresh')) renewals.push(request.url());
    });
    // Two tabs start at once with the expired session: one renews (a refresh token works
    // once; a second use would log the device out), the other takes what it saved.
    const tab = await web.watch(alice.context, 'Alice (second tab)');
    await Promise.all([alice.page.reload(), tab.goto('/')]);
    for (const page of [alice.page, tab]) await page.getByTestId('chat-list').waitFor();
    await expect.poll(async () => (await savedSession(alice.page)).refreshToken, { timeout: WAIT }).not.toBe(before.refreshToken);
    expect(renewals).toHaveLength(1);
    const after = await savedSession(alice.page);
    expect(after.token).not.toBe('expired-token');
    expect(after.expiresAt).toBeGreaterThan(Date.now());
    expect([after.userId, after.deviceId, after.phone]).toEqual([before.userId, before.deviceId, before.phone]);

    // One tab took the connection over from the other (one device, one connection); closing it
    // and taking the connection back works.
    const connection = (page: Page) => page.getByTestId('app').getAttribute('data-connection');
    await expect.poll(async () => [await connection(alice.page), await connection(tab)].sort(), { timeout: WAIT }).toEqual(['closed', 'open']);
    await tab.close();
    if ((await alice.page.getByTestId('app').getAttribute('data-connection')) !== 'open') await alice.page.getByTestId('banner-action').click();
    await connected(alice.page);
    await openChat(alice.page, 'Bob');
    // (Alice writes: Bob's typing budget towards her is the next test's.)
    await send(alice.page, 'Back after lunch');
    await row(bob.page, 'Back after lunch').waitFor();
    await expect.poll(() => statusOf(alice.page, 'Back after lunch'), { timeout: WAIT }).toBe('read');
  }, STEP_TIMEOUT);

  it('infinite scroll pages back through history without moving what is on screen', async () => {
    carolPhone = nextPhone();
    const carol = await device(web.server.baseUrl, carolPhone, 'carol-sdk');
    web.sdkClients.push(carol);
    await carol.api.updateMe({ displayName: 'Carol' });
    await carol.connect();
    const aliceId = (await savedSession(alice.page)).userId;
    const total = 100;
    const sends = Array.from({ length: total }, (_, i) => carol.sendText(aliceId, `c${String(i).padStart(3, '0')}`).sent);
    await Promise.all(sends);

    // After a reload only the server has them: the chat list says 100 unread, history is paged.
    await alice.page.reload();
    await connected(alice.page);
    const carolsChat = chatItem(alice.page, 'Carol');
    await expect.poll(() => carolsChat.getByTestId('unread-badge').getAttribute('aria-label'), { timeout: WAIT }).toBe('100 unread messages');
    expect(await carolsChat.getByTestId('unread-badge').textContent()).toBe('99+');
    // Opening it pages back to the first unread message, marked by the divider, and reads them all.
    await openChat(alice.page, 'Carol');
    const divider = conversation(alice.page).getByTestId('unread-divider');
    await divider.waitFor({ timeout: WAIT });
    const all = Array.from({ length: total }, (_, i) => `c${String(i).padStart(3, '0')}`);
    await expect.poll(() => texts(alice.page), { timeout: WAIT }).toEqual(all);
    await expect.poll(() => carolsChat.getByTestId('unread-badge').isHidden(), { timeout: WAIT }).toBe(true);
    // The server has the read marker before the page goes away.
    const aliceApi = await apiOf(alice.page, web.server.baseUrl);
    await expect
      .poll(async () => (await aliceApi.conversations()).conversations.find((c) => c.kind === 'direct' && c.peer === carol.userId)?.unread, { timeout: WAIT })
      .toBe(0);

    // Read now: after a reload the chat opens at the newest page, and scrolling up pages back.
    await alice.page.reload();
    await connected(alice.page);
    await openChat(alice.page, 'Carol');
    // The newest history page is in (until then only the chat list's last message is shown).
    await alice.page.waitForSelector('[data-testid="history-top"][data-state="more"]', { timeout: WAIT });
    expect((await texts(alice.page)).at(-1)).toBe('c099');
    const firstPage = (await texts(alice.page)).length;
    expect(firstPage).toBeGreaterThan(1);
    expect(firstPage).toBeLessThan(total);

    const scroller = conversation(alice.page).getByTestId('messages');
    for (let round = 0; round < 10 && (await alice.page.getByTestId('history-start').count()) === 0; round++) {
      const count = (await texts(alice.page)).length;
      // Scroll to the top and note where the top message is, in one step (an older page may
      // arrive any moment after the scroll).
      const before = await scroller.evaluate((el) => {
        el.scrollTop = 0;
        const first = el.querySelector('[data-testid="message"]');
        return { key: first?.getAttribute('data-key') ?? '', top: first?.getBoundingClientRect().top ?? 0 };
      });
      await expect.poll(async () => (await texts(alice.page)).length > count || (await alice.page.getByTestId('history-start').count()) > 0, { timeout: WAIT }).toBe(true);
      if ((await texts(alice.page)).length > count) {
        // The message that was at the top is still where it was (no jump).
        const topAfter = await conversation(alice.page)
          .locator(`[data-key="${before.key}"]`)
          .evaluate((el) => el.getBoundingClientRect().top);
        expect(Math.abs(topAfter - before.top)).toBeLessThan(4);
      }
    }
    expect(await texts(alice.page)).toEqual(Array.from({ length: total }, (_, i) => `c${String(i).padStart(3, '0')}`));
    await expect.poll(() => carolsChat.getByTestId('unread-badge').isHidden(), { timeout: WAIT }).toBe(true);
  }, STEP_TIMEOUT);

  it('typing indicator shows and disappears (on stop, and by itself when the typist vanishes)', async () => {
    await openChat(alice.page, 'Bob');
    await conversation(bob.page).waitFor();
    const bobInput = conversation(bob.page).getByTestId('composer-input');

    await bobInput.pressSequentially('thinking', { delay: 20 });
    await expect.poll(() => subtitle(alice.page), { timeout: WAIT }).toBe('typing…');
    expect(await chatItem(alice.page, 'Bob').getByTestId('chat-preview').textContent()).toBe('typing…');
    await bobInput.fill('');
    await bobInput.dispatchEvent('input');
    await expect.poll(() => subtitle(alice.page), { timeout: WAIT }).not.toBe('typing…');

    // Bob starts typing, then drops off the network: no 'stopped' can reach Alice; it expires.
    await bobInput.pressSequentially('again', { delay: 20 });
    await expect.poll(() => subtitle(alice.page), { timeout: WAIT }).toBe('typing…');
    await bob.context.setOffline(true);
    await expect.poll(() => subtitle(alice.page), { timeout: TYPING_TTL_MS + 3_000 }).not.toBe('typing…');
    await bob.context.setOffline(false);
    await connected(bob.page);
    await bobInput.fill('');
  }, STEP_TIMEOUT);

  it('groups: create with a member by phone, messages reach the member, admin actions, typing, leave', async () => {
    const title = 'Climbing crew';
    await alice.page.getByTestId('new-group-button').click();
    await alice.page.getByTestId('group-title').fill(title);
    await alice.page.getByTestId('group-member-phone').fill(bob.phone);
    await alice.page.getByTestId('group-member-add').click();
    await expect.poll(() => alice.page.getByTestId('group-member-chip').allTextContents(), { timeout: WAIT }).toEqual(['Bob✕']);
    await alice.page.getByTestId('group-create').click();
    await expect.poll(() => conversation(alice.page).getByTestId('conversation-title').textContent(), { timeout: WAIT }).toBe(title);
    await expect.poll(() => conversation(alice.page).getByTestId('event-text').first().textContent(), { timeout: WAIT }).toBe(`You created the group “${title}”`);

    await send(alice.page, 'Who is in for Saturday?');
    const bobsGroup = chatItem(bob.page, title);
    await expect.poll(() => bobsGroup.getByTestId('chat-preview').textContent(), { timeout: WAIT }).toBe('Alice: Who is in for Saturday?');
    await openChat(bob.page, title);
    await row(bob.page, 'Who is in for Saturday?').waitFor();
    expect(await row(bob.page, 'Who is in for Saturday?').getByTestId('message-sender').textContent()).toBe('Alice');
    // Every member (Bob) read it: blue ticks.
    await expect.poll(() => statusOf(alice.page, 'Who is in for Saturday?'), { timeout: WAIT }).toBe('read');
    await send(bob.page, 'Me!');
    await row(alice.page, 'Me!').waitFor();
    await expect.poll(() => subtitle(alice.page), { timeout: WAIT }).toBe('Bob, You');

    // Group typing: "Alice is typing…" for Bob.
    const aliceInput = conversation(alice.page).getByTestId('composer-input');
    await aliceInput.pressSequentially('hmm', { delay: 20 });
    await expect.poll(() => subtitle(bob.page), { timeout: WAIT }).toBe('Alice is typing…');
    await aliceInput.fill('');
    await aliceInput.dispatchEvent('input');
    await expect.poll(() => subtitle(bob.page), { timeout: WAIT }).not.toContain('typing');

    // Group info: members and roles; Alice (admin) makes Bob an admin, adds and removes Carol.
    await alice.page.getByTestId('group-info-button').click();
    const info = alice.page.getByTestId('group-info');
    await expect.poll(() => info.getByTestId('member').count(), { timeout: WAIT }).toBe(2);
    const bobMember = info.getByTestId('member').filter({ hasText: 'Bob' });
    expect(await bobMember.getAttribute('data-role')).toBe('member');
    await bobMember.getByTestId('member-promote').click();
    await expect.poll(() => bobMember.getAttribute('data-role'), { timeout: WAIT }).toBe('admin');
    // Carol saved Alice's number: her default privacy ("my contacts") lets Alice add her directly
    // (an invite and its acceptance are web-account.e2e.test.ts's business).
    await web.sdkClients[0]!.api.addContact(alice.phone);
    await info.getByTestId('add-member-phone').fill(carolPhone);
    await info.getByTestId('add-member-add').click();
    await expect.poll(() => info.getByTestId('member').count(), { timeout: WAIT }).toBe(3);
    await screenshot(alice.page, 'group');
    alice.page.once('dialog', (dialog) => void dialog.accept());
    await info.getByTestId('member').filter({ hasText: 'Carol' }).getByTestId('member-remove').click();
    await expect.poll(() => info.getByTestId('member').count(), { timeout: WAIT }).toBe(2);
    await alice.page.keyboard.press('Escape');
    await info.waitFor({ state: 'detached' });
    await expect.poll(() => conversation(alice.page).getByTestId('event-text').allTextContents(), { timeout: WAIT }).toEqual([
      `You created the group “${title}”`,
      'You added Bob',
      'You made Bob an admin',
      'You added Carol',
      'You removed Carol',
    ]);
    await expect.poll(() => conversation(bob.page).getByTestId('event-text').allTextContents(), { timeout: WAIT }).toContain('Alice made you an admin');

    // Bob leaves: he can no longer write there; Alice sees "Bob left".
    await bob.page.getByTestId('group-info-button').click();
    bob.page.once('dialog', (dialog) => void dialog.accept());
    await bob.page.getByTestId('leave-group').click();
    await conversation(bob.page).getByTestId('left-note').waitFor();
    expect(await conversation(bob.page).getByTestId('composer-input').isHidden()).toBe(true);
    await expect.poll(async () => (await conversation(alice.page).getByTestId('event-text').allTextContents()).at(-1), { timeout: WAIT }).toBe('Bob left');
  }, STEP_TIMEOUT);

  it('phone-sized screen: one pane at a time, Back returns to the list', async () => {
    const page = alice.page;
    await page.setViewportSize(PHONE);
    // The group is open: on a phone the list is hidden meanwhile.
    expect(await page.getByTestId('chat-list').isVisible()).toBe(false);
    await page.getByTestId('back-button').click();
    await openChat(page, 'Bob');
    expect(await page.getByTestId('chat-list').isVisible()).toBe(false);
    expect(await conversation(page).isVisible()).toBe(true);
    await screenshot(page, 'phone-conversation');
    await page.getByTestId('back-button').click();
    await page.getByTestId('chat-list').waitFor();
    expect(await conversation(page).count()).toBe(0);
    expect(await page.getByTestId('placeholder').isVisible()).toBe(false);
    await page.setViewportSize(DESKTOP);
  }, STEP_TIMEOUT);

  it('right-to-left text is isolated: bubbles and previews cannot reorder times or names (12-hour clock)', async () => {
    // Dana reads a 12-hour clock (en-US): the widest time format next to the text.
    const dana = await logIn('Dana', { locale: 'en-US', timezoneId: 'America/New_York' });
    const rtl = 'שלום עולם 123 abc';
    await startChat(alice.page, dana.phone, 'Dana');
    await send(alice.page, rtl);

    // Chat list: the preview is one isolated run; the time beside it is a 12-hour time.
    const item = chatItem(dana.page, 'Alice');
    await expect.poll(() => item.getByTestId('chat-preview').textContent(), { timeout: WAIT }).toBe(rtl);
    const preview = await item.getByTestId('chat-preview').evaluate((el) =>
      [...el.children].map((child) => [child.tagName, child.textContent, getComputedStyle(child).unicodeBidi]),
    );
    expect(preview).toEqual([['BDI', rtl, 'isolate']]);
    expect(await item.getByTestId('chat-time').textContent()).toMatch(/^\d{1,2}:\d\d\s[AP]M$/);
    const title = await item.getByTestId('chat-title').evaluate((el) => [el.textContent, el.querySelector('bdi') !== null]);
    expect(title).toEqual(['Alice', true]);

    // The bubble: the text is isolated (and right-to-left); the time is outside it, left-to-right,
    // and does not overlap the text.
    await openChat(dana.page, 'Alice');
    const bubble = row(dana.page, rtl);
    const text = bubble.getByTestId('message-text');
    expect(
      await text.evaluate((el) => ({ dir: el.getAttribute('dir'), bidi: getComputedStyle(el).unicodeBidi, direction: getComputedStyle(el).direction })),
    ).toEqual({ dir: 'auto', bidi: 'isolate', direction: 'rtl' });
    const time = bubble.locator('time');
    expect(await time.textContent()).toMatch(/^\d{1,2}:\d\d\s[AP]M$/);
    expect(await time.evaluate((el) => el.closest('[dir="auto"], bdi') === null && getComputedStyle(el).direction === 'ltr')).toBe(true);
    const [textBox, timeBox] = [await text.boundingBox(), await time.boundingBox()];
    expect(textBox !== null && timeBox !== null).toBe(true);
    const clear = timeBox!.x >= textBox!.x + textBox!.width - 0.5 || timeBox!.y >= textBox!.y + textBox!.height - 0.5;
    expect(clear, `time ${JSON.stringify(timeBox)} overlaps text ${JSON.stringify(textBox)}`).toBe(true);

    // Alice's own bubble (24-hour clock, with the tick): the time clears the text too.
    const own = row(alice.page, rtl);
    const [ownText, ownMeta] = [await own.getByTestId('message-text').boundingBox(), await own.locator('.meta').boundingBox()];
    expect(ownMeta!.x >= ownText!.x + ownText!.width - 0.5 || ownMeta!.y >= ownText!.y + ownText!.height - 0.5).toBe(true);
    expect(await own.locator('time').textContent()).toMatch(/^\d\d:\d\d$/);
  }, STEP_TIMEOUT);

  it('server restart: a "Reconnecting…" banner, then back with nothing lost', async () => {
    const page = alice.page;
    await openChat(page, 'Carol');
    await web.server.stop();
    const banner = page.getByTestId('connection-banner');
    await banner.waitFor();
    expect(await banner.textContent()).toMatch(/^Reconnecting/);
    expect(await page.getByTestId('app').getAttribute('data-connection')).toBe('reconnecting');
    await send(page, 'sent while the server was down');
    expect(await statusOf(page, 'sent while the server was down')).toBe('pending');

    await web.server.restart();
    // The SDK retries with backoff (capped at 30 s; a few seconds after a short outage).
    await page.waitForSelector('[data-testid="app"][data-connection="open"]', { timeout: 40_000 });
    await banner.waitFor({ state: 'hidden' });
    await expect.poll(() => statusOf(page, 'sent while the server was down'), { timeout: WAIT }).not.toBe('pending');
    const carol = web.sdkClients[0]!;
    await carol.connect();
    const aliceId = (await savedSession(page)).userId;
    await carol.sendText(aliceId, 'welcome back').sent;
    await row(page, 'welcome back').waitFor();
  }, 90_000);

  it('logging out ends the session: back to the login, also after a reload, device data gone', async () => {
    await bob.page.getByTestId('logout-button').click();
    await bob.page.getByTestId('login-phone').waitFor();
    await bob.page.reload();
    await bob.page.getByTestId('login-phone').waitFor();
    const kept = await bob.page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('messenger.')));
    expect(kept).toEqual([]);
  }, STEP_TIMEOUT);

  it('no uncaught errors in any page', () => {
    expect(web.pageErrors).toEqual([]);
  });

  it('no Content-Security-Policy violation in any page, during the whole run', () => {
    expect(web.cspViolations).toEqual([]);
  });
});
