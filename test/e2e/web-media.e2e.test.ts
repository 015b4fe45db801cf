/**
 * Black box in a real browser (harness: web-harness.ts): media in the web client. Alice (12-hour
 * en-US clock, desktop) attaches a photo with a caption, records a voice note, sends a document
 * (picked, dropped; a pasted image is cancelled), a video, a failed upload retried and one cancelled; Bob (24-hour en-GB clock, phone-sized screen)
 * sees the photo's blurred inline thumbnail first and then the full picture (his signed-URL
 * download is held until the thumbnail was seen), opens it in the viewer, plays the voice note
 * and downloads the document. Alice's profile photo and a group picture then replace initials.
 *
 * The voice note is recorded from Chromium's fake microphone through the real getUserMedia and
 * MediaRecorder (the page's Permissions-Policy allows the microphone to the app itself).
 */
import { readFile } from 'node:fs/promises';
import { deflateSync } from 'node:zlib';
import type { Page, Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PHONE, STEP_TIMEOUT, WAIT, WebHarness, chatItem, conversation, openChat, row, screenshot, startChat, type User } from './web-harness.ts';

// Chromium's own fake microphone (a beep) answers getUserMedia without a permission prompt; media
// may start without a gesture.
const web = new WebHarness({
  chromiumArgs: ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', '--autoplay-policy=no-user-gesture-required'],
});

beforeAll(() => web.start(), WebHarness.START_MS);
afterAll(() => web.stop());

// ---------------------------------------------------------------- generated files

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of bytes) c = (CRC_TABLE[(c ^ byte) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** A `width` x `height` RGB PNG with a colour gradient (every run the same bytes). */
function gradientPng(width: number, height: number): Buffer {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    for (let x = 0; x < width; x++) {
      raw[row + 1 + x * 3] = Math.round((x / width) * 255);
      raw[row + 2 + x * 3] = Math.round((y / height) * 255);
      raw[row + 3 + x * 3] = 160;
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // RGB
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', header), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array())]);
}

/** A short WebM clip (160 x 120) recorded from a canvas in `page`, base64. */
async function recordVideo(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const canvas = document.createElement('canvas');
    canvas.width = 160;
    canvas.height = 120;
    const context = canvas.getContext('2d');
    if (context === null) throw new Error('no 2d context');
    const recorder = new MediaRecorder(canvas.captureStream(20), { mimeType: 'video/webm' });
    const chunks: Blob[] = [];
    recorder.addEventListener('dataavailable', (event) => chunks.push(event.data));
    const stopped = new Promise((resolve) => recorder.addEventListener('stop', resolve));
    recorder.start(100);
    // 30 drawn frames (each a new colour), then stop.
    await new Promise<void>((resolve) => {
      let frame = 0;
      const draw = (): void => {
        context.fillStyle = `hsl(${frame * 12} 70% 50%)`;
        context.fillRect(0, 0, 160, 120);
        frame += 1;
        if (frame < 30) requestAnimationFrame(draw);
        else resolve();
      };
      draw();
    });
    recorder.stop();
    await stopped;
    const bytes = new Uint8Array(await new Blob(chunks).arrayBuffer());
    let binary = '';
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return btoa(binary);
  });
}

/** Hold every signed-URL download of `page` until the returned release is called. */
async function holdDownloads(page: Page): Promise<() => Promise<void>> {
  const held: Route[] = [];
  let released = false;
  await page.route('**/v1/media/*/blob?**', async (route) => {
    if (released) await route.continue();
    else held.push(route);
  });
  return async () => {
    released = true;
    for (const route of held.splice(0)) await route.continue();
    await page.unroute('**/v1/media/*/blob?**');
  };
}

// ---------------------------------------------------------------- the tests

describe('media in the web client', () => {
  let alice: User;
  let bob: User;
  const png = gradientPng(320, 200);
  const caption = 'Sunset at the lake';
  const doc = Buffer.from(`%PDF-1.4\n${'quarterly figures\n'.repeat(170)}%%EOF\n`);

  it('attach a photo: preview sheet with caption, progress on the bubble; the other side sees the thumbnail first, then the picture', async () => {
    alice = await web.logIn('Alice', { locale: 'en-US', timezoneId: 'America/New_York' });
    bob = await web.logIn('Bob', { viewport: PHONE });
    await startChat(alice.page, bob.phone, bob.name);
    await bob.page.getByTestId('new-chat-button').click();
    await bob.page.getByTestId('new-chat-phone').fill(alice.phone);
    await bob.page.getByTestId('new-chat-submit').click();
    await bob.page.getByTestId('new-chat-dialog').waitFor({ state: 'detached' });
    await bob.page.getByTestId('back-button').click();
    const release = await holdDownloads(bob.page);

    // Alice's upload waits until her bubble was seen at 0 %.
    let letUploadGo: () => void = () => undefined;
    const uploadMayGo = new Promise<void>((resolve) => (letUploadGo = resolve));
    await alice.page.route('**/v1/media/*/content?**', async (route) => {
      await uploadMayGo;
      await route.continue();
    });

    const composer = conversation(alice.page);
    expect(await composer.getByTestId('attach-button').getAttribute('aria-label')).toBe('Attach a file');
    await composer.getByTestId('attach-input').setInputFiles({ name: 'lake.png', mimeType: 'image/png', buffer: png });
    const sheet = alice.page.getByTestId('preview-sheet');
    await sheet.getByTestId('preview-image').waitFor();
    expect(await sheet.getByRole('heading').textContent()).toBe('Send photo');
    // The caption field has the focus: type and press Enter to send.
    await alice.page.keyboard.type(caption);
    await screenshot(alice.page, 'media-preview');
    await alice.page.keyboard.press('Enter');
    await sheet.waitFor({ state: 'detached' });

    const own = composer.getByTestId('message').filter({ has: alice.page.getByTestId('media-image') });
    await expect.poll(() => own.getByTestId('upload-percent').textContent(), { timeout: WAIT }).toBe('0%');
    expect(await own.getByTestId('upload-progress').isVisible()).toBe(true);
    expect(await own.getByTestId('message-text').textContent()).toBe(caption);
    await screenshot(alice.page, 'media-uploading');
    letUploadGo();
    await expect.poll(() => own.getAttribute('data-status'), { timeout: WAIT }).toMatch(/^(sent|delivered|read)$/);
    await own.getByTestId('upload-progress').waitFor({ state: 'hidden' });
    await alice.page.unroute('**/v1/media/*/content?**');

    // Bob: the chat list says what came, the bubble shows the inline thumbnail while the picture is held back.
    await expect.poll(() => chatItem(bob.page, alice.name).getByTestId('chat-preview').textContent(), { timeout: WAIT }).toBe(`📷 ${caption}`);
    await openChat(bob.page, alice.name);
    const received = conversation(bob.page).getByTestId('message').filter({ has: bob.page.getByTestId('media-image') });
    await received.getByTestId('media-thumb').waitFor();
    expect(await received.getByTestId('media-thumb').getAttribute('src')).toMatch(/^data:image\/(webp|jpeg);base64,/);
    expect(await received.getByTestId('message-text').textContent()).toBe(caption);
    expect(await received.getByTestId('media-full').getAttribute('data-loaded')).toBeNull();
    await release();
    const full = received.getByTestId('media-full');
    await expect.poll(() => full.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth), { timeout: WAIT }).toBe(320);
    expect(await full.getAttribute('src')).toMatch(/\/v1\/media\/[0-9A-Z]{26}\/blob\?/);
    await screenshot(bob.page, 'media-photo-phone');

    // The viewer: opens on click, Escape closes it, the focus returns to the photo.
    await received.getByTestId('media-open').click();
    const viewer = bob.page.getByTestId('media-viewer');
    await expect.poll(() => viewer.getByTestId('viewer-image').evaluate((img: HTMLImageElement) => img.naturalWidth), { timeout: WAIT }).toBe(320);
    await screenshot(bob.page, 'media-viewer-phone');
    await bob.page.keyboard.press('Escape');
    await viewer.waitFor({ state: 'detached' });
    expect(await received.getByTestId('media-open').evaluate((el) => el === document.activeElement)).toBe(true);
  }, STEP_TIMEOUT);

  it('a voice note recorded with MediaRecorder plays on the other side', async () => {
    const composer = conversation(alice.page);
    // With an empty field the microphone takes the Send button's place.
    expect(await composer.getByTestId('send-button').isHidden()).toBe(true);
    await composer.getByTestId('record-button').click();
    const bar = composer.getByTestId('recorder');
    await bar.waitFor();
    expect(await composer.getByTestId('composer-input').isHidden()).toBe(true);
    await expect.poll(() => bar.getByTestId('recorder-time').textContent(), { timeout: WAIT }).toBe('0:01');
    await bar.getByTestId('recorder-send').click();
    await bar.waitFor({ state: 'hidden' });
    const own = composer.getByTestId('message').filter({ has: alice.page.getByTestId('media-voice') });
    await expect.poll(() => own.getAttribute('data-status'), { timeout: WAIT }).toMatch(/^(sent|delivered|read)$/);

    const received = conversation(bob.page).getByTestId('message').filter({ has: bob.page.getByTestId('media-voice') });
    await received.waitFor();
    expect(await received.getByTestId('voice-time').textContent()).toMatch(/^0:0[1-3]$/);
    const audio = received.getByTestId('media-audio');
    await expect.poll(() => audio.getAttribute('src'), { timeout: WAIT }).toMatch(/\/blob\?/);
    await received.getByTestId('voice-play').click();
    await expect.poll(() => audio.evaluate((el: HTMLAudioElement) => el.currentTime > 0 && !el.paused && el.error === null), { timeout: WAIT }).toBe(true);
    expect(await received.getByTestId('voice-play').getAttribute('aria-label')).toBe('Pause voice message');
    await received.getByTestId('voice-play').click();
    await expect.poll(() => received.getByTestId('voice-play').getAttribute('aria-label'), { timeout: WAIT }).toBe('Play voice message');
    await bob.page.getByTestId('back-button').click();
    await expect.poll(() => chatItem(bob.page, alice.name).getByTestId('chat-preview').textContent(), { timeout: WAIT }).toMatch(/^🎤 Voice message \(0:0[1-3]\)$/);
  }, STEP_TIMEOUT);

  it('a document shows its name and size, and downloads', async () => {
    const composer = conversation(alice.page);
    await composer.getByTestId('attach-input').setInputFiles({ name: 'report.pdf', mimeType: 'application/pdf', buffer: doc });
    const sheet = alice.page.getByTestId('preview-sheet');
    await sheet.getByTestId('preview-file').waitFor();
    expect(await sheet.getByRole('heading').textContent()).toBe('Send file');
    expect(await sheet.getByTestId('preview-file').textContent()).toContain('report.pdf');
    await sheet.getByTestId('preview-send').click();
    await sheet.waitFor({ state: 'detached' });

    await expect.poll(() => chatItem(bob.page, alice.name).getByTestId('chat-preview').textContent(), { timeout: WAIT }).toBe('📄 \u2068report.pdf\u2069');
    await openChat(bob.page, alice.name);
    const received = conversation(bob.page).getByTestId('message').filter({ has: bob.page.getByTestId('media-document') });
    await received.waitFor();
    expect(await received.getByTestId('media-doc-name').textContent()).toBe('report.pdf');
    expect(await received.getByTestId('media-doc-size').textContent()).toBe('3 KB · PDF');
    const [download] = await Promise.all([bob.page.waitForEvent('download'), received.getByTestId('media-download').click()]);
    const path = await download.path();
    expect(Buffer.compare(await readFile(path), doc)).toBe(0);
    await screenshot(bob.page, 'media-chat-phone');
    await screenshot(alice.page, 'media-chat-desktop');
  }, STEP_TIMEOUT);

  // Reading a picked video's size and first frame needs `media-src 'self' blob:` in the page's
  // policy (web/public/_headers); the run fails on any CSP violation.
  it('a video: its first frame is the poster, the other side plays it', async () => {
    const clip = Buffer.from(await recordVideo(alice.page), 'base64');
    const composer = conversation(alice.page);
    await composer.getByTestId('attach-input').setInputFiles({ name: 'clip.webm', mimeType: 'video/webm', buffer: clip });
    const sheet = alice.page.getByTestId('preview-sheet');
    expect(await sheet.getByRole('heading').textContent()).toBe('Send video');
    await sheet.locator('.preview-poster').waitFor();
    await sheet.getByTestId('preview-caption').fill('Moving pictures');
    await sheet.getByTestId('preview-send').click();
    await sheet.waitFor({ state: 'detached' });
    await expect.poll(() => row(alice.page, 'Moving pictures').getAttribute('data-status'), { timeout: WAIT }).toMatch(/^(sent|delivered|read)$/);

    const video = row(bob.page, 'Moving pictures').getByTestId('media-player');
    await video.waitFor();
    expect(await video.getAttribute('poster')).toMatch(/^data:image\/(webp|jpeg);base64,/);
    await expect.poll(() => video.getAttribute('src'), { timeout: WAIT }).toMatch(/\/blob\?/);
    await video.evaluate((el: HTMLVideoElement) => {
      el.muted = true;
      return el.play();
    });
    await expect.poll(() => video.evaluate((el: HTMLVideoElement) => el.currentTime > 0 && el.videoWidth), { timeout: WAIT }).toBe(160);
  }, STEP_TIMEOUT);

  it('a pasted image and dropped files open the preview sheet too; Cancel sends nothing', async () => {
    const composer = conversation(alice.page);
    const bytes = [...gradientPng(40, 30)];
    // Paste into the message field: the sheet opens; Cancel closes it and the focus returns to the field.
    await composer.getByTestId('composer-input').focus();
    await alice.page.evaluate((data) => {
      const files = new DataTransfer();
      files.items.add(new File([new Uint8Array(data)], 'pasted.png', { type: 'image/png' }));
      document.querySelector('[data-testid="composer-input"]')?.dispatchEvent(new ClipboardEvent('paste', { clipboardData: files, bubbles: true, cancelable: true }));
    }, bytes);
    const sheet = alice.page.getByTestId('preview-sheet');
    await sheet.getByTestId('preview-image').waitFor();
    await sheet.getByTestId('preview-cancel').click();
    await sheet.waitFor({ state: 'detached' });
    expect(await composer.getByTestId('composer-input').evaluate((el) => el === document.activeElement)).toBe(true);

    // Drop a file on the conversation: its sheet, then Send.
    await alice.page.evaluate((data) => {
      const files = new DataTransfer();
      files.items.add(new File([new Uint8Array(data)], 'notes.txt', { type: 'text/plain' }));
      const zone = document.querySelector('[data-testid="conversation"]');
      zone?.dispatchEvent(new DragEvent('dragenter', { dataTransfer: files, bubbles: true, cancelable: true }));
      zone?.dispatchEvent(new DragEvent('drop', { dataTransfer: files, bubbles: true, cancelable: true }));
    }, [...Buffer.from('dropped notes\n')]);
    await sheet.getByTestId('preview-file').waitFor();
    expect(await sheet.getByTestId('preview-file').textContent()).toBe('📄notes.txt14 B');
    await sheet.getByTestId('preview-send').click();
    await sheet.waitFor({ state: 'detached' });
    const received = conversation(bob.page).getByTestId('media-doc-name').filter({ hasText: 'notes.txt' });
    await received.waitFor();
    expect(await conversation(bob.page).getByTestId('media-doc-name').filter({ hasText: 'pasted.png' }).count()).toBe(0);
    expect(await conversation(bob.page).getByTestId('media-image').count()).toBe(1);
  }, STEP_TIMEOUT);

  it('a failed upload shows why and Retry on the bubble; Retry sends it', async () => {
    const refuse = (route: Route): Promise<void> =>
      route.fulfill({ status: 422, contentType: 'application/json', json: { error: { code: 'media_mismatch', message: 'test: refused', retryable: false } } });
    await alice.page.route('**/v1/media/*/content?**', refuse);
    const composer = conversation(alice.page);
    await composer.getByTestId('attach-input').setInputFiles({ name: 'again.png', mimeType: 'image/png', buffer: gradientPng(64, 48) });
    const sheet = alice.page.getByTestId('preview-sheet');
    await sheet.getByTestId('preview-caption').fill('Second try');
    await sheet.getByTestId('preview-send').click();
    await sheet.waitFor({ state: 'detached' });
    const own = row(alice.page, 'Second try');
    await own.getByTestId('upload-retry').waitFor();
    expect(await own.getByTestId('upload-percent').textContent()).toBe('Not sent: The file changed while it was being sent. Please try again.');
    expect(await own.getAttribute('data-status')).toBe('pending');

    // Bob's first download of it fails (as an expired signed URL would): the picture asks for a URL again and loads.
    const downloads: number[] = [];
    await bob.page.route('**/v1/media/*/blob?**', async (route) => {
      downloads.push(downloads.length);
      if (downloads.length === 1) await route.fulfill({ status: 404, contentType: 'application/json', json: { error: { code: 'media_not_found', message: 'test', retryable: false } } });
      else await route.continue();
    });
    await alice.page.unroute('**/v1/media/*/content?**', refuse);
    await own.getByTestId('upload-retry').click();
    await expect.poll(() => own.getAttribute('data-status'), { timeout: WAIT }).toMatch(/^(sent|delivered|read)$/);
    expect(await own.count()).toBe(1);
    const full = row(bob.page, 'Second try').getByTestId('media-full');
    await expect.poll(() => full.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth), { timeout: WAIT }).toBe(64);
    expect(downloads.length).toBe(2);
    expect(await row(bob.page, 'Second try').count()).toBe(1);
    await bob.page.unroute('**/v1/media/*/blob?**');
  }, STEP_TIMEOUT);

  it('an upload can be cancelled from its bubble: the bubble goes, nothing is sent', async () => {
    let letGo: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (letGo = resolve));
    const hold = async (route: Route): Promise<void> => {
      await held;
      await route.continue().catch(() => undefined); // the page gave up on it meanwhile
    };
    await alice.page.route('**/v1/media/*/content?**', hold);
    const composer = conversation(alice.page);
    await composer.getByTestId('attach-input').setInputFiles({ name: 'never.png', mimeType: 'image/png', buffer: gradientPng(48, 48) });
    const sheet = alice.page.getByTestId('preview-sheet');
    await sheet.getByTestId('preview-caption').fill('Never mind');
    await sheet.getByTestId('preview-send').click();
    const own = row(alice.page, 'Never mind');
    await own.getByTestId('upload-cancel').click();
    await own.waitFor({ state: 'detached' });
    letGo();
    await alice.page.unroute('**/v1/media/*/content?**', hold);
    // Bob has the message sent after it, and not the cancelled one.
    await composer.getByTestId('composer-input').fill('After the cancel');
    await composer.getByTestId('composer-input').press('Enter');
    await row(bob.page, 'After the cancel').waitFor();
    expect(await row(bob.page, 'Never mind').count()).toBe(0);
  }, STEP_TIMEOUT);

  it('a file over the limit is refused before anything is uploaded', async () => {
    const composer = conversation(alice.page);
    let slots = 0;
    alice.page.on('request', (request) => {
      if (request.method() === 'POST' && new URL(request.url()).pathname === '/v1/media') slots += 1;
    });
    // An image type the photo limits do not list is a document; a 17 MB PNG is over the photo limit.
    const big = Buffer.alloc(17 * 1024 * 1024, 1);
    await composer.getByTestId('attach-input').setInputFiles({ name: 'huge.png', mimeType: 'image/png', buffer: big });
    await expect.poll(() => composer.locator('.composer-error').textContent(), { timeout: WAIT }).toBe('huge.png: That file is too large (17 MB). Photos can be up to 16 MB.');
    expect(await alice.page.getByTestId('preview-sheet').count()).toBe(0);
    expect(slots).toBe(0);
  }, STEP_TIMEOUT);

  it('a profile photo replaces the initials in settings, and on the other side after it looks again', async () => {
    await alice.page.getByTestId('settings-button').click();
    await alice.page.getByTestId('settings-photo-input').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: gradientPng(90, 120) });
    await expect.poll(() => alice.page.getByTestId('settings-photo-status').textContent(), { timeout: WAIT }).toBe('Photo changed');
    const mine = alice.page.getByTestId('settings-photo').getByTestId('avatar-img');
    await expect.poll(() => mine.evaluate((img: HTMLImageElement) => img.naturalWidth), { timeout: WAIT }).toBe(90);
    await screenshot(alice.page, 'media-settings-photo');

    // Bob learns profiles once per session: after a reload (the chat stays open) the photo is in
    // the conversation's header and in the chat list.
    await bob.page.reload();
    const headerPhoto = conversation(bob.page).locator('.conversation-header').getByTestId('avatar-img');
    await expect.poll(() => headerPhoto.evaluate((img: HTMLImageElement) => img.naturalWidth), { timeout: WAIT }).toBe(90);
    await bob.page.getByTestId('back-button').click();
    const listPhoto = chatItem(bob.page, alice.name).getByTestId('avatar-img');
    await expect.poll(() => listPhoto.evaluate((img: HTMLImageElement) => img.naturalWidth), { timeout: WAIT }).toBe(90);
    await screenshot(bob.page, 'media-list-photo-phone');

    // Removing it brings the initials back.
    await alice.page.getByTestId('settings-photo-remove').click();
    await expect.poll(() => alice.page.getByTestId('settings-photo-status').textContent(), { timeout: WAIT }).toBe('Photo removed');
    expect(await alice.page.getByTestId('settings-photo').textContent()).toBe('A');
    await alice.page.getByTestId('settings-back').click();
  }, STEP_TIMEOUT);

  it('a group picture set in the group info replaces the initials for every member', async () => {
    const title = 'Photo club';
    await alice.page.getByTestId('new-group-button').click();
    await alice.page.getByTestId('group-title').fill(title);
    await alice.page.getByTestId('group-member-phone').fill(bob.phone);
    await alice.page.getByTestId('group-member-add').click();
    await expect.poll(() => alice.page.getByTestId('group-member-chip').count(), { timeout: WAIT }).toBe(1);
    await alice.page.getByTestId('group-create').click();
    await expect.poll(() => conversation(alice.page).getByTestId('conversation-title').textContent(), { timeout: WAIT }).toBe(title);

    await conversation(alice.page).getByTestId('group-info-button').click();
    const info = alice.page.getByTestId('group-info-dialog');
    await info.getByTestId('group-picture-input').setInputFiles({ name: 'club.png', mimeType: 'image/png', buffer: gradientPng(100, 140) });
    await expect.poll(() => info.getByTestId('group-picture-status').textContent(), { timeout: WAIT }).toBe('Picture changed');
    const inDialog = info.getByTestId('group-picture').getByTestId('avatar-img');
    // Cropped to a square in the browser before the upload.
    await expect.poll(() => inDialog.evaluate((img: HTMLImageElement) => `${img.naturalWidth}x${img.naturalHeight}`), { timeout: WAIT }).toBe('100x100');
    await alice.page.keyboard.press('Escape');
    await info.waitFor({ state: 'detached' });
    const header = conversation(alice.page).locator('.conversation-header').getByTestId('avatar-img');
    await expect.poll(() => header.evaluate((img: HTMLImageElement) => img.naturalWidth), { timeout: WAIT }).toBe(100);

    const bobsGroup = chatItem(bob.page, title);
    await expect.poll(() => bobsGroup.getByTestId('chat-preview').textContent(), { timeout: WAIT }).toBe('Alice changed the group picture');
    await expect.poll(() => bobsGroup.getByTestId('avatar-img').evaluate((img: HTMLImageElement) => img.naturalWidth), { timeout: WAIT }).toBe(100);
    await screenshot(bob.page, 'media-group-picture-phone');
  }, STEP_TIMEOUT);

  it('no uncaught errors in any page', () => {
    expect(web.pageErrors).toEqual([]);
  });

  it('no Content-Security-Policy violation in any page, during the whole run', () => {
    expect(web.cspViolations).toEqual([]);
  });
});
