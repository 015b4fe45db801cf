/**
 * Black box in a real browser (harness: web-harness.ts): a group's invite link in the web client.
 * An admin creates one that needs approval and copies it; someone else opens `#join/<code>`,
 * sees the preview and asks to join; the admin approves the request and the group appears for
 * the newcomer ("joined, approved by"); a revoked link shows as invalid.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STEP_TIMEOUT, WAIT, WebHarness, chatItem, conversation, openChat, screenshot, type User } from './web-harness.ts';

const web = new WebHarness();

beforeAll(() => web.start(), WebHarness.START_MS);
afterAll(() => web.stop());

describe('invite links in the web client', () => {
  let dora: User;
  let eli: User;
  let url = '';
  const title = 'Bouldering';

  it('an admin creates a link that needs approval and copies it', async () => {
    dora = await web.logIn('Dora');
    await dora.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: web.server.baseUrl });
    await dora.page.getByTestId('new-group-button').click();
    await dora.page.getByTestId('group-title').fill(title);
    await dora.page.getByTestId('group-create').click();
    await expect.poll(() => conversation(dora.page).getByTestId('conversation-title').textContent(), { timeout: WAIT }).toBe(title);
    await dora.page.getByTestId('group-info-button').click();
    const info = dora.page.getByTestId('group-info-dialog');
    await info.getByTestId('link-approval').check();
    await info.getByTestId('link-create').click();
    const field = info.getByTestId('link-url');
    await field.waitFor();
    url = await field.inputValue();
    expect(url).toMatch(new RegExp(`^${web.server.baseUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/#join/[A-Za-z0-9_-]{22}$`));
    expect(await info.getByTestId('link-mode').textContent()).toBe('Admins approve everyone who asks to join through it.');
    await info.getByTestId('link-copy').click();
    await expect.poll(() => info.getByTestId('group-link-status').textContent(), { timeout: WAIT }).toBe('Link copied');
    expect(await dora.page.evaluate(() => navigator.clipboard.readText())).toBe(url);
    await screenshot(dora.page, 'group-link');
    await dora.page.keyboard.press('Escape');
  }, STEP_TIMEOUT);

  it('opening the link shows a preview; asking to join waits for an admin, who approves', async () => {
    eli = await web.logIn('Eli');
    await eli.page.goto(url);
    const preview = eli.page.getByTestId('join-preview');
    await expect.poll(() => preview.getByTestId('join-title').textContent(), { timeout: WAIT }).toBe(title);
    expect(await preview.getByTestId('join-members').textContent()).toBe('1 member');
    expect(await preview.getByTestId('join-submit').textContent()).toBe('Ask to join');
    await preview.getByTestId('join-submit').click();
    await preview.getByTestId('join-result').waitFor();
    await eli.page.keyboard.press('Escape');
    expect(await chatItem(eli.page, title).count()).toBe(0);

    await dora.page.getByTestId('group-info-button').click();
    const info = dora.page.getByTestId('group-info-dialog');
    const request = info.getByTestId('join-request');
    await expect.poll(() => request.count(), { timeout: WAIT }).toBe(1);
    await expect.poll(() => request.textContent(), { timeout: WAIT }).toContain('Eli');
    await request.getByTestId('request-approve').click();
    await expect.poll(() => info.getByTestId('member').count(), { timeout: WAIT }).toBe(2);
    await info.getByTestId('requests-empty').waitFor();

    await chatItem(eli.page, title).waitFor();
    await openChat(eli.page, title);
    await expect.poll(() => conversation(eli.page).getByTestId('event-text').allTextContents(), { timeout: WAIT }).toContain('You joined, approved by Dora');
  }, STEP_TIMEOUT);

  it('a revoked link stops working', async () => {
    const info = dora.page.getByTestId('group-info-dialog');
    dora.page.once('dialog', (dialog) => void dialog.accept());
    await info.getByTestId('link-revoke').click();
    await info.getByTestId('link-create').waitFor();
    await dora.page.keyboard.press('Escape');

    await eli.page.goto(url);
    await expect.poll(() => eli.page.getByTestId('join-invalid').textContent(), { timeout: WAIT }).toBe(
      'This invite link is not valid. It may have been reset by a group admin.',
    );
  }, STEP_TIMEOUT);

  it('no uncaught errors and no Content-Security-Policy violation in any page', () => {
    expect(web.pageErrors).toEqual([]);
    expect(web.cspViolations).toEqual([]);
  });
});
