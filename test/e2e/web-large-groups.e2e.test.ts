/**
 * Black box in a real browser (harness: web-harness.ts), issue 17: a large group (read diffusion,
 * the server run with GROUP_LOG_DELIVERY_MIN=3, so a group of four or more switches) in the web
 * client, which must treat it like a small one. Its entries up to the switch are copies in the
 * member's mailbox, the rest live only in the group's log (history items with `seq: null`, live
 * `group_log_entry` events); the page shows one chat in gseq order either way.
 *
 * Per setup (a desktop with a 24-hour clock, a phone with a 12-hour one) a browser user is in a
 * group with three SDK users who write before and after the switch. The user sees the group in
 * the chat list with its newest message and unread count (live, and after a reload), opens it,
 * scrolls back through both parts to the first message (each once, in order), reads it (0 unread
 * here and on the server), receives and sends live, catches up after the page was closed, and
 * once removed sees nothing after the removal.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { device, nextPhone, type TestClient } from '../support/clients.ts';
import { DESKTOP, PHONE, STEP_TIMEOUT, WAIT, WebHarness, apiOf, chatItem, connected, conversation, openChat, row, savedSession, send, statusOf, stays, texts, type User } from './web-harness.ts';

const web = new WebHarness({ serverArgs: ['--var', 'GROUP_LOG_DELIVERY_MIN:3'] });

beforeAll(() => web.start(), WebHarness.START_MS);
afterAll(() => web.stop());

/** Steps that page through several history pages of a busy group get more time. */
const LONG_STEP = 3 * STEP_TIMEOUT;

interface Setup {
  label: string;
  locale: string;
  timezoneId: string;
  viewport: { width: number; height: number };
  /** A message's time as this locale writes it. */
  clock: RegExp;
  title: string;
}

const SETUPS: Setup[] = [
  { label: 'desktop, 24-hour clock (en-GB)', locale: 'en-GB', timezoneId: 'Europe/Berlin', viewport: DESKTOP, clock: /^\d\d:\d\d$/, title: 'Big room' },
  { label: 'phone, 12-hour clock (en-US)', locale: 'en-US', timezoneId: 'America/New_York', viewport: PHONE, clock: /^(1[0-2]|[1-9]):\d\d\s[AP]M$/, title: 'Town hall' },
];

/** Messages before the switch (copied into mailboxes) and after it (only in the log): several history pages each. */
const EARLY = Array.from({ length: 45 }, (_, i) => `early ${String(i + 1).padStart(2, '0')}`);
const LATE = Array.from({ length: 85 }, (_, i) => `late ${String(i + 1).padStart(2, '0')}`);

/** Messages and system messages of the open conversation, top to bottom. */
async function rowsText(page: Page): Promise<string[]> {
  return conversation(page).locator('[data-testid="message-text"], [data-testid="event-text"]').allInnerTexts();
}

/** On a phone the chat list and a chat are separate screens: go back to the list. */
async function toChatList(page: Page, setup: Setup): Promise<void> {
  if (setup.viewport === PHONE) await conversation(page).getByTestId('back-button').click();
}

async function unreadLabel(page: Page, title: string): Promise<string | null> {
  const badge = chatItem(page, title).getByTestId('unread-badge');
  return (await badge.isHidden()) ? null : badge.getAttribute('aria-label');
}

/** Scroll the open conversation to its top until the history start shows (older pages load on the way). */
async function scrollToStart(page: Page): Promise<void> {
  const scroller = conversation(page).getByTestId('messages');
  for (let round = 0; round < 20 && (await page.getByTestId('history-start').count()) === 0; round++) {
    const count = (await rowsText(page)).length;
    await scroller.evaluate((el) => {
      el.scrollTop = 0;
    });
    await expect.poll(async () => (await rowsText(page)).length > count || (await page.getByTestId('history-start').count()) > 0, { timeout: WAIT }).toBe(true);
  }
  await page.getByTestId('history-start').waitFor();
}

for (const setup of SETUPS) {
  describe(`a large group in the web client: ${setup.label}`, () => {
    const { title } = setup;
    let user: User;
    let userId: string;
    let cat: TestClient;
    let dan: TestClient;
    let eve: TestClient;
    let groupId: string;

    async function member(name: string): Promise<TestClient> {
      const client = await device(web.server.baseUrl, nextPhone(), `${name}-sdk`);
      web.sdkClients.push(client);
      await client.api.updateMe({ displayName: name });
      await client.api.updateSettings({ privacy: { groups: 'everyone' } });
      await client.connect();
      return client;
    }

    /** The user's unread count of the group as the server has it. */
    async function serverUnread(): Promise<number | undefined> {
      const api = await apiOf(user.page, web.server.baseUrl);
      return (await api.conversations()).conversations.find((c) => c.kind === 'group' && c.group === groupId)?.unread;
    }

    it('the chat list shows the group with its newest message and unread count, live and after a reload', async () => {
      user = await web.logIn('Uli', setup);
      userId = (await savedSession(user.page)).userId;
      await (await apiOf(user.page, web.server.baseUrl)).updateSettings({ privacy: { groups: 'everyone' } });
      cat = await member('Cat');
      dan = await member('Dan');
      eve = await member('Eve');
      // Three members: small, every entry is copied into each mailbox.
      groupId = (await cat.api.createGroup({ title, members: [userId, dan.userId!] })).groupId;
      for (const [i, text] of EARLY.entries()) await (i % 2 === 0 ? cat : dan).sendGroupText(groupId, text).sent;
      // A fourth member: past the threshold of three, the group switches to read diffusion.
      await cat.api.addGroupMembers(groupId, [eve.userId!]);
      for (const [i, text] of LATE.entries()) await (i % 2 === 0 ? cat : dan).sendGroupText(groupId, text).sent;
      const newest = await cat.groupHistory(groupId, { limit: 1 });
      expect(newest.entries[0]?.seq, 'the newest entry is read from the log').toBeNull();

      // Live: the switch and everything after it reached the open page.
      const total = EARLY.length + LATE.length;
      const preview = chatItem(user.page, title).getByTestId('chat-preview');
      await expect.poll(() => preview.textContent(), { timeout: WAIT }).toMatch(/: late 85$/);
      await expect.poll(() => unreadLabel(user.page, title), { timeout: WAIT }).toBe(`${total} unread messages`);
      // From the chat list endpoint: the newest entry comes from the log, unread counts both parts.
      await user.page.reload();
      await connected(user.page);
      await expect.poll(() => preview.textContent(), { timeout: WAIT }).toMatch(/: late 85$/);
      await expect.poll(() => unreadLabel(user.page, title), { timeout: WAIT }).toBe(`${total} unread messages`);
      expect(await serverUnread()).toBe(total);
    }, LONG_STEP);

    it('opening it shows the log part, then the copied part below the switch, scrolling back to the first message; it is read', async () => {
      const pages: URL[] = [];
      const record = (request: { url(): string }): void => {
        const url = new URL(request.url());
        if (url.pathname === `/v1/groups/${groupId}/messages`) pages.push(url);
      };
      user.page.on('request', record);
      await openChat(user.page, title);
      await row(user.page, 'late 85').waitFor();
      await scrollToStart(user.page);
      user.page.off('request', record);
      // The log part was paged by gseq, the copied part by mailbox seq.
      expect(pages.filter((url) => url.searchParams.has('beforeGseq')).length).toBeGreaterThanOrEqual(1);
      expect(pages.filter((url) => url.searchParams.has('before')).length).toBeGreaterThanOrEqual(1);
      // Each message once, in order, across the switch and across the pages of both parts.
      await expect.poll(() => texts(user.page), { timeout: WAIT }).toEqual([...EARLY, ...LATE]);
      const all = await rowsText(user.page);
      const switched = all.indexOf('This group is now large: new messages are fetched from the group');
      expect(switched).toBeGreaterThan(all.indexOf('early 45'));
      expect(switched).toBeLessThan(all.indexOf('late 01'));
      expect(all[0]).toBe('Cat added you and Dan');
      // Times as the locale writes them.
      for (const time of await row(user.page, 'late 01').locator('.meta time').allTextContents()) expect(time).toMatch(setup.clock);
      // Read here and on the server (by gseq: the log has no mailbox seqs).
      await expect.poll(() => serverUnread(), { timeout: WAIT }).toBe(0);
      await toChatList(user.page, setup);
      await expect.poll(() => unreadLabel(user.page, title), { timeout: WAIT }).toBeNull();
      if (setup.viewport === PHONE) await openChat(user.page, title);
    }, LONG_STEP);

    it('new entries show live while it is open and stay read; changes apply to the message shown; own messages go from pending to sent, once', async () => {
      const liveOne = await cat.sendGroupText(groupId, 'live one').sent;
      await expect.poll(async () => (await texts(user.page)).at(-1), { timeout: WAIT }).toBe('live one');
      // Updates in the log: a reaction to a message after the switch and an edit of another one.
      const chat = { kind: 'group', group: groupId } as const;
      await dan.react(chat, liveOne.messageId, '👍').done;
      await expect.poll(() => row(user.page, 'live one').getByTestId('reaction').getAttribute('data-emoji'), { timeout: WAIT }).toBe('👍');
      await cat.editText(chat, liveOne.messageId, 'live one, edited').done;
      await row(user.page, 'live one, edited').getByTestId('edited').waitFor();
      expect(await row(user.page, 'live one, edited').getByTestId('reaction').getAttribute('data-emoji')).toBe('👍');
      // Written offline: pending (the clock) until the connection is back and the log has it.
      await user.context.setOffline(true);
      await user.page.waitForSelector('[data-testid="app"]:not([data-connection="open"])', { timeout: WAIT });
      await send(user.page, 'mine in the big room');
      expect(await statusOf(user.page, 'mine in the big room')).toBe('pending');
      await user.context.setOffline(false);
      await connected(user.page);
      await expect.poll(() => statusOf(user.page, 'mine in the big room'), { timeout: WAIT }).toMatch(/^(sent|delivered|read)$/);
      // A message after it: once it shows, the page has taken its own message's log entry too (gseq order).
      await dan.sendGroupText(groupId, 'live two').sent;
      await expect.poll(async () => (await texts(user.page)).slice(-3), { timeout: WAIT }).toEqual(['live one, edited', 'mine in the big room', 'live two']);
      expect((await texts(user.page)).filter((t) => t === 'mine in the big room')).toHaveLength(1);
      // Others' view: Cat has it in the group's history.
      const catSees = await cat.groupHistory(groupId, { limit: 5 });
      expect(catSees.entries.some((item) => item.entry.type === 'message' && item.entry.message.from === userId)).toBe(true);
      // Read while open: nothing unread here or on the server.
      await expect.poll(() => serverUnread(), { timeout: WAIT }).toBe(0);
      if (setup.viewport === DESKTOP) expect(await unreadLabel(user.page, title)).toBeNull();
    }, STEP_TIMEOUT);

    it('a page closed while messages came catches up when opened again', async () => {
      await user.page.close();
      const away = ['while away 1', 'while away 2', 'while away 3'];
      for (const text of away) await cat.sendGroupText(groupId, text).sent;
      const page = await web.watch(user.context, 'Uli again');
      user = { ...user, page };
      await page.goto('/');
      await connected(page);
      await expect.poll(() => chatItem(page, title).getByTestId('chat-preview').textContent(), { timeout: WAIT }).toMatch(/: while away 3$/);
      await expect.poll(() => unreadLabel(page, title), { timeout: WAIT }).toBe('3 unread messages');
      await openChat(page, title);
      await expect.poll(async () => (await texts(page)).slice(-6), { timeout: WAIT }).toEqual(['live one, edited', 'mine in the big room', 'live two', ...away]);
      await expect.poll(() => serverUnread(), { timeout: WAIT }).toBe(0);
      // The older pages are all there once, in order.
      await scrollToStart(page);
      await expect.poll(() => texts(page), { timeout: WAIT }).toEqual([...EARLY, ...LATE, 'live one, edited', 'mine in the big room', 'live two', ...away]);
    }, LONG_STEP);

    it("another device's read by gseq clears the unread count here", async () => {
      await toChatList(user.page, setup);
      // Another chat open, so this page does not read the group itself.
      const other = await member('Ola');
      await other.api.createGroup({ title: `${title} aside`, members: [userId] });
      await openChat(user.page, `${title} aside`);
      const last = await cat.sendGroupText(groupId, 'read elsewhere').sent;
      if (setup.viewport === PHONE) await toChatList(user.page, setup);
      await expect.poll(() => unreadLabel(user.page, title), { timeout: WAIT }).toBe('1 unread message');
      const phone = (await savedSession(user.page)).phone;
      const second = await device(web.server.baseUrl, phone, 'uli-second');
      web.sdkClients.push(second);
      await second.connect();
      second.markGroupLogRead(groupId, last.gseq);
      await expect.poll(() => unreadLabel(user.page, title), { timeout: WAIT }).toBeNull();
      expect(await serverUnread()).toBe(0);
      await openChat(user.page, title);
      await expect.poll(async () => (await texts(user.page)).at(-1), { timeout: WAIT }).toBe('read elsewhere');
    }, LONG_STEP);

    it('a removed member sees the removal and nothing after it, live and after a reload', async () => {
      await cat.api.removeGroupMember(groupId, userId);
      await expect.poll(async () => (await rowsText(user.page)).at(-1), { timeout: WAIT }).toMatch(/ removed you$/);
      await conversation(user.page).getByTestId('left-note').waitFor();
      await cat.sendGroupText(groupId, 'after you left').sent;
      // Members still get it; the removed one does not.
      await expect
        .poll(async () => (await dan.groupHistory(groupId, { limit: 3 })).entries.some((i) => i.entry.type === 'message' && i.entry.message.body.kind === 'text' && i.entry.message.body.text === 'after you left'), { timeout: WAIT })
        .toBe(true);
      await stays(async () => expect(await texts(user.page)).not.toContain('after you left'), 1_000);
      const mine = await (await apiOf(user.page, web.server.baseUrl)).groupHistory(groupId, { limit: 5 });
      const first = mine.entries[0]?.entry;
      expect(first?.type === 'event' ? first.event.change.kind : first?.type).toBe('member_removed');

      await user.page.reload();
      await connected(user.page);
      // The page reopens the chat it showed (on a phone that hides the list).
      if (await conversation(user.page).isVisible()) await toChatList(user.page, setup);
      await expect.poll(() => chatItem(user.page, title).getByTestId('chat-preview').textContent(), { timeout: WAIT }).toMatch(/ removed you$/);
      await openChat(user.page, title);
      await conversation(user.page).getByTestId('left-note').waitFor();
      await expect.poll(async () => (await rowsText(user.page)).at(-1), { timeout: WAIT }).toMatch(/ removed you$/);
      // The removal can show before the group's log part of the history (a separate pull) does.
      await expect.poll(async () => (await texts(user.page)).at(-1), { timeout: WAIT }).toBe('read elsewhere');
      expect(await texts(user.page)).not.toContain('after you left');
    }, STEP_TIMEOUT);
  });
}

describe('the pages', () => {
  it('had no uncaught errors and no CSP violations', () => {
    expect(web.pageErrors).toEqual([]);
    expect(web.cspViolations).toEqual([]);
  });
});
