/**
 * The browser tests' harness (web*.e2e.test.ts): the real local server and a headless Chromium
 * (Debian's, through playwright-core; nothing is downloaded), users who log in through the UI in
 * browser contexts of their own (separate localStorage), and helpers that wait for DOM states.
 *
 * Every page reports uncaught exceptions and Content-Security-Policy violations (an init script
 * turns `securitypolicyviolation` events into console lines; Chromium's own CSP console errors
 * count too) into `pageErrors` / `cspViolations`: a test file ends by asserting both are empty.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { MessengerApi } from '../../client/index.ts';
import { nextPhone, type TestClient } from '../support/clients.ts';
import { SERVER_HOOK_MS, startServer, type LocalServer } from '../support/server.ts';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = fileURLToPath(
  new URL(process.env.UPDATE_SCREENSHOTS === '1' ? '../../docs/screenshots/' : '../../test-results/screenshots/', import.meta.url),
);
export const DESKTOP = { width: 1100, height: 680 };
export const PHONE = { width: 390, height: 760 };
/** Longest wait for anything to show up in the UI, ms. */
export const WAIT = 10_000;
export const STEP_TIMEOUT = 60_000;
/** Where the web client keeps its session (web/src/session.ts). */
export const SESSION_KEY = 'messenger.session.v2';

/** Prefix of the console line the init script writes for every `securitypolicyviolation` event. */
export const CSP_MARK = '[csp-violation]';

export interface User {
  name: string;
  phone: string;
  context: BrowserContext;
  page: Page;
}

/** The session the web client saved in a page's localStorage. */
export interface SavedSession {
  token: string;
  refreshToken: string;
  expiresAt: number;
  userId: string;
  deviceId: string;
  phone: string;
}

export interface LogInOptions {
  screenshot?: boolean;
  /** Default en-GB (24-hour clock); en-US reads a 12-hour one. */
  locale?: string;
  timezoneId?: string;
  viewport?: { width: number; height: number };
  /** Log in to an existing account (a new device of it); default a fresh number. */
  phone?: string;
  /** The account's two-step PIN: expect the PIN step and enter it. */
  pin?: string;
  /** Run on the PIN step before the right PIN is entered (wrong PINs, "Forgot PIN?"). */
  onPinStep?: (page: Page) => Promise<void>;
  /**
   * `countdown`: the code request answers a resendAt 30 s ahead (as a production server does
   * after a first code; the local one lets the next code be asked for at once) and the code step
   * counts down to it. `new-code`: ask for a second code first and log in with it.
   */
  resend?: 'countdown' | 'new-code';
}

interface OtpAnswer {
  challenge: string;
  devCode: string;
  resendAt: number;
}

/**
 * Make every page of `context` report CSP violations to the console (from before its own scripts
 * run, and again after each navigation), where `watchCsp` collects them.
 */
export async function reportCsp(context: BrowserContext): Promise<void> {
  await context.addInitScript((mark: string) => {
    document.addEventListener(
      'securitypolicyviolation',
      (event) => console.error(`${mark} ${event.violatedDirective} blocked ${event.blockedURI || 'inline'} at ${event.sourceFile}:${event.lineNumber}`),
      true,
    );
  }, CSP_MARK);
}

/** Collect `page`'s CSP violations (the init script's lines and Chromium's own) into `into`. */
export function watchCsp(page: Page, who: string, into: string[]): void {
  page.on('console', (message) => {
    const text = message.text();
    if (text.startsWith(CSP_MARK) || text.includes('Content Security Policy')) into.push(`${who}: ${text}`);
  });
}

/** The server, the browser and what every page reported. */
export class WebHarness {
  /** The `beforeAll` budget of `start`: a test server's, and the browser's launch. */
  static readonly START_MS = SERVER_HOOK_MS + 30_000;

  server!: LocalServer;
  browser!: Browser;
  readonly users: User[] = [];
  readonly sdkClients: TestClient[] = [];
  /** Uncaught exceptions in any page: there must be none. */
  readonly pageErrors: string[] = [];
  /** Content-Security-Policy violations in any page: there must be none. */
  readonly cspViolations: string[] = [];
  /** Extra Chromium command-line switches (e.g. media flags for the media tests). */
  private readonly extraArgs: readonly string[];
  /** Extra arguments of the local server (e.g. `--var NAME:value`). */
  private readonly serverArgs: readonly string[];

  constructor(options: { chromiumArgs?: readonly string[]; serverArgs?: readonly string[] } = {}) {
    this.extraArgs = options.chromiumArgs ?? [];
    this.serverArgs = options.serverArgs ?? [];
  }

  async start(): Promise<void> {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`);
    }
    mkdirSync(SCREENSHOTS, { recursive: true });
    this.server = await startServer(undefined, { args: [...this.serverArgs] });
    this.browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', ...this.extraArgs],
    });
  }

  async stop(): Promise<void> {
    for (const client of this.sdkClients) client.close();
    await this.browser?.close();
    await this.server?.dispose();
  }

  /** A watched page in a new browser profile (context). */
  async newPage(name: string, options: Pick<LogInOptions, 'locale' | 'timezoneId' | 'viewport'> = {}): Promise<{ context: BrowserContext; page: Page }> {
    const context = await this.browser.newContext({
      viewport: options.viewport ?? DESKTOP,
      baseURL: this.server.baseUrl,
      locale: options.locale ?? 'en-GB',
      timezoneId: options.timezoneId ?? 'Europe/Berlin',
    });
    await reportCsp(context);
    return { context, page: await this.watch(context, name) };
  }

  /** Another page of an existing profile (a second tab), watched like the first. */
  async watch(context: BrowserContext, name: string): Promise<Page> {
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT);
    page.on('pageerror', (error) => this.pageErrors.push(`${name}: ${error.message}`));
    watchCsp(page, name, this.cspViolations);
    return page;
  }

  /** A browser profile that logs in through the UI (a fresh number unless `phone` is given). */
  async logIn(name: string, options: LogInOptions = {}): Promise<User> {
    const { context, page } = await this.newPage(name, options);
    const phone = options.phone ?? nextPhone();
    if (options.resend === 'countdown') {
      await page.route('**/v1/auth/otp', async (route) => {
        const response = await route.fetch();
        await route.fulfill({ response, json: { ...((await response.json()) as OtpAnswer), resendAt: Date.now() + 30_000 } });
      });
    }
    await page.goto('/');
    await page.getByTestId('login-phone').fill(phone);
    const [answer] = await Promise.all([page.waitForResponse('**/v1/auth/otp'), page.getByTestId('login-next').click()]);
    let otp = (await answer.json()) as OtpAnswer;
    // The dev server returns the code: it is shown and filled in.
    await page.getByTestId('login-devcode-note').waitFor();
    expect(await page.getByTestId('login-code').inputValue()).toBe(otp.devCode);
    const resend = page.getByTestId('login-resend');
    if (options.resend === 'countdown') {
      expect(await page.getByTestId('login-resend-wait').textContent()).toMatch(/^Resend code in 0:(30|29|28)$/);
      expect(await resend.isHidden()).toBe(true);
    } else {
      // The local server lets the next code be requested at once: no countdown, the button.
      await resend.waitFor();
      expect(await page.getByTestId('login-resend-wait').isHidden()).toBe(true);
      if (options.resend === 'new-code') {
        const [again] = await Promise.all([page.waitForResponse('**/v1/auth/otp'), resend.click()]);
        const next = (await again.json()) as OtpAnswer;
        expect(next.challenge).not.toBe(otp.challenge);
        otp = next;
        await expect.poll(() => page.getByTestId('login-code').inputValue(), { timeout: WAIT }).toBe(otp.devCode);
      }
    }
    if (options.phone === undefined) await page.getByTestId('login-name').fill(name);
    if (options.screenshot === true) await screenshot(page, 'login');
    // The code goes with the challenge of the request that sent it.
    const [verify] = await Promise.all([page.waitForRequest('**/v1/auth/verify'), page.getByTestId('login-submit').click()]);
    expect(verify.postDataJSON()).toMatchObject({ code: otp.devCode, challenge: otp.challenge, platform: 'web' });
    if (options.pin !== undefined) {
      await page.getByTestId('login-pin').waitFor();
      await options.onPinStep?.(page);
      await page.getByTestId('login-pin').fill(options.pin);
      await page.getByTestId('login-pin-submit').click();
    }
    await connected(page);
    await expect.poll(() => page.getByTestId('me-name').textContent(), { timeout: WAIT }).toBe(name);
    const user = { name, phone, context, page };
    this.users.push(user);
    return user;
  }
}

// ---------------------------------------------------------------- page helpers

/** On a fresh page: phone number and the (filled-in) code of an account with a PIN, up to the PIN step. */
export async function reachPinStep(page: Page, phone: string): Promise<void> {
  await page.goto('/');
  await page.getByTestId('login-phone').fill(phone);
  await page.getByTestId('login-next').click();
  await page.getByTestId('login-devcode-note').waitFor();
  await page.getByTestId('login-submit').click();
  await page.getByTestId('login-pin').waitFor();
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${SCREENSHOTS}${name}.png` });
}

export async function connected(page: Page): Promise<void> {
  await page.waitForSelector('[data-testid="app"][data-connection="open"]', { timeout: WAIT });
}

/** The session the page's web client saved. */
export async function savedSession(page: Page): Promise<SavedSession> {
  const raw = await page.evaluate((key) => localStorage.getItem(key), SESSION_KEY);
  expect(raw, 'no saved session').not.toBeNull();
  return JSON.parse(raw ?? '{}') as SavedSession;
}

/** An SDK API with the page's current access token (checks what the UI did, from the outside). */
export async function apiOf(page: Page, baseUrl: string): Promise<MessengerApi> {
  return new MessengerApi({ baseUrl, token: (await savedSession(page)).token });
}

export function conversation(page: Page): Locator {
  return page.getByTestId('conversation');
}

/** The message row whose text is exactly `text`. */
export function row(page: Page, text: string): Locator {
  return conversation(page)
    .getByTestId('message')
    .filter({ has: page.getByTestId('message-text').getByText(text, { exact: true }) });
}

export async function statusOf(page: Page, text: string): Promise<string | null> {
  return row(page, text).getAttribute('data-status');
}

/** Texts of the open conversation's messages, top to bottom. */
export async function texts(page: Page): Promise<string[]> {
  return conversation(page).getByTestId('message-text').allInnerTexts();
}

export function chatItem(page: Page, title: string): Locator {
  return page.getByTestId('chat-item').filter({ has: page.getByTestId('chat-title').getByText(title, { exact: true }) });
}

export async function openChat(page: Page, title: string): Promise<void> {
  await chatItem(page, title).click();
  await expect.poll(() => conversation(page).getByTestId('conversation-title').textContent(), { timeout: WAIT }).toBe(title);
}

export async function startChat(page: Page, phone: string, expectedTitle: string): Promise<void> {
  await page.getByTestId('new-chat-button').click();
  await page.getByTestId('new-chat-phone').fill(phone);
  await page.getByTestId('new-chat-submit').click();
  // The dialog closes once the number is saved as a contact. Wait for that, not only for the
  // title: when the chat is open already it shows that title before the contact exists.
  await page.getByTestId('new-chat-dialog').waitFor({ state: 'detached' });
  await expect.poll(() => conversation(page).getByTestId('conversation-title').textContent(), { timeout: WAIT }).toBe(expectedTitle);
}

export async function send(page: Page, text: string): Promise<void> {
  const input = conversation(page).getByTestId('composer-input');
  await input.fill(text);
  await input.press('Enter');
  await row(page, text).waitFor();
}

export async function subtitle(page: Page): Promise<string> {
  return (await conversation(page).getByTestId('conversation-subtitle').textContent()) ?? '';
}

/** Check that `check` keeps passing for `ms` (a bounded "nothing changes"). */
export async function stays(check: () => Promise<void>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    await check();
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---------------------------------------------------------------- measurements

/** Message rows whose text runs under the time box (the `.meta` corner): one line per overlap. */
export async function overlaps(page: Page): Promise<string[]> {
  return conversation(page).evaluate((root) => {
    const bad: string[] = [];
    for (const rowEl of root.querySelectorAll('[data-testid="message"]')) {
      const text = rowEl.querySelector('[data-testid="message-text"]');
      const corner = rowEl.querySelector('.meta');
      if (text === null || corner === null || text.textContent === '') continue;
      const range = document.createRange();
      range.selectNodeContents(text);
      const m = corner.getBoundingClientRect();
      for (const line of range.getClientRects()) {
        if (line.width === 0) continue;
        const x = Math.min(line.right, m.right) - Math.max(line.left, m.left);
        const y = Math.min(line.bottom, m.bottom) - Math.max(line.top, m.top);
        if (x > 0.5 && y > 0.5) {
          bad.push(`${JSON.stringify(text.textContent)}: line ${line.left.toFixed(1)}–${line.right.toFixed(1)} × corner ${m.left.toFixed(1)}–${m.right.toFixed(1)}`);
          break;
        }
      }
    }
    return bad;
  });
}

/**
 * WCAG contrast of the first element matching each selector: its text colour against what is
 * behind it (translucent backgrounds blended over the first opaque one). -1: no such element.
 */
export async function contrasts(page: Page, selectors: string[]): Promise<Array<{ selector: string; ratio: number }>> {
  return page.evaluate((list) => {
    const parse = (c: string): number[] => (c.match(/[\d.]+/g) ?? []).map(Number);
    const luminance = ([r = 0, g = 0, b = 0]: number[]): number => {
      const f = (v: number): number => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const background = (el: Element | null): number[] => {
      const layers: number[][] = [];
      let base = [255, 255, 255];
      for (let at = el; at !== null; at = at.parentElement) {
        const c = parse(getComputedStyle(at).backgroundColor);
        const alpha = c.length === 3 ? 1 : (c[3] ?? 0);
        if (alpha >= 0.99) {
          base = c.slice(0, 3);
          break;
        }
        if (alpha > 0) layers.push([...c.slice(0, 3), alpha]);
      }
      for (const [r = 0, g = 0, b = 0, a = 0] of layers.reverse()) base = [r * a + base[0]! * (1 - a), g * a + base[1]! * (1 - a), b * a + base[2]! * (1 - a)];
      return base;
    };
    return list.map((selector) => {
      const el = document.querySelector(selector);
      if (el === null) return { selector, ratio: -1 };
      const fg = luminance(parse(getComputedStyle(el).color));
      const bg = luminance(background(el));
      return { selector, ratio: Math.round(((Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05)) * 100) / 100 };
    });
  }, selectors);
}
