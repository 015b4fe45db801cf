/**
 * Black box: media through the `messenger` CLI (cli/bin.mjs) run as a child process against the
 * real local server, one config folder per user: `send --file` of a photo to a user and of a
 * document to a group, the recipient's history naming the media, `download` giving the same bytes
 * (SHA-256) and never overwriting a file, and friendly one-line errors (file too large or missing,
 * media the user may not see, a malformed id) with their exit codes and no stack traces.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { chooseFileKind, extensionForMime, imageDimensions } from '../../cli/media.ts';
import { formatBytes } from '../../cli/format.ts';
import { cliSuite, expectFriendlyFailure, type User } from '../support/cli-suite.ts';

const suite = cliSuite('messenger-cli-media-e2e-');
const { cli, cliJson, newUser } = suite;

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A PNG signature and IHDR saying 640 x 480, then random bytes (the server does not decode images). */
function fakePng(): Buffer {
  const header = Buffer.alloc(33);
  header.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 0);
  header.writeUInt32BE(13, 8);
  header.write('IHDR', 12, 'latin1');
  header.writeUInt32BE(640, 16);
  header.writeUInt32BE(480, 20);
  header.set([8, 6, 0, 0, 0], 24);
  return Buffer.concat([header, randomBytes(20_000)]);
}

type SentJson = { messageId: string; to: string; mediaId: string; kind: string; mime: string; size: number; deduplicated: boolean };
type DownloadJson = { mediaId: string; path: string; kind: string; mime: string; size: number; sha256: string };

describe('messenger CLI media', () => {
  let ann: User;
  let bob: User;
  let cy: User;
  let photoId: string;
  const png = fakePng();

  beforeAll(async () => {
    [ann, bob, cy] = await Promise.all([newUser('Ann'), newUser('Bob'), newUser('Cy')]);
    writeFileSync(join(suite.home(), 'view.png'), png);
  }, 60_000);

  it('sends a photo with a caption: one result line, no progress when not on a terminal', async () => {
    const result = await cli(ann.xdg, ['send', bob.phone, '--file', 'view.png', '--caption', 'the view from the hut']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^Sent photo view\.png \(20 KB\) to (Bob|\+\d+) ✓ \(media [0-9A-Z]{26}\)\n$/);

    const again = await cliJson<SentJson>(ann.xdg, ['send', bob.phone, '--file', 'view.png']);
    expect(again).toMatchObject({ to: bob.userId, kind: 'image', mime: 'image/png', size: png.length, deduplicated: true });
    photoId = again.mediaId;
    expect(result.stdout).toContain(`(media ${photoId})`);
  });

  it("shows the photo in the recipient's history with its size, caption and media id", async () => {
    const human = await cli(bob.xdg, ['history', ann.phone]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain(`[photo 20 KB] the view from the hut (media ${photoId})`);

    const page = await cliJson<{ messages: Array<{ message: { body: Record<string, unknown> } }> }>(bob.xdg, ['history', ann.phone]);
    expect(page.messages[0]!.message.body).toMatchObject({ kind: 'image', media: { id: photoId, mime: 'image/png', size: png.length }, width: 640, height: 480 });
  });

  it('downloads the same bytes for the recipient, and never overwrites a file without --force', async () => {
    const saved = await cliJson<DownloadJson>(bob.xdg, ['download', photoId]);
    expect(saved).toMatchObject({ mediaId: photoId, path: `${photoId}.png`, kind: 'image', mime: 'image/png', size: png.length, sha256: sha256(png) });
    expect(sha256(readFileSync(join(suite.home(), saved.path)))).toBe(sha256(png));

    expectFriendlyFailure(await cli(bob.xdg, ['download', photoId]), 2, new RegExp(`${photoId}\\.png already exists; pass --force`));
    const forced = await cli(bob.xdg, ['download', photoId, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toBe(`Saved photo (20 KB) to ${photoId}.png\nsha256 ${sha256(png)}\n`);

    mkdirSync(join(suite.home(), 'inbox'));
    const intoFolder = await cliJson<DownloadJson>(bob.xdg, ['download', photoId.toLowerCase(), '-o', 'inbox']);
    expect(intoFolder.path).toBe(join('inbox', `${photoId}.png`));
    expect(sha256(readFileSync(join(suite.home(), intoFolder.path)))).toBe(sha256(png));
  });

  it('sends a document to a group; a member downloads it with its type', async () => {
    const group = await cliJson<{ groupId: string }>(ann.xdg, ['groups', 'create', 'Hut trip', bob.phone]);
    expect((await cli(bob.xdg, ['invite', 'accept', group.groupId])).code).toBe(0);
    const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(3_000)]);
    writeFileSync(join(suite.home(), 'route map.pdf'), pdf);
    const sent = await cliJson<SentJson & { group: string }>(ann.xdg, ['groups', 'send', 'Hut trip', '--file', 'route map.pdf', '--caption', 'print it']);
    expect(sent).toMatchObject({ group: group.groupId, kind: 'document', mime: 'application/pdf', size: pdf.length, deduplicated: false });

    const history = await cli(bob.xdg, ['groups', 'history', 'Hut trip']);
    expect(history.stdout).toContain(`[file route map.pdf 2.9 KB] print it (media ${sent.mediaId})`);
    const saved = await cliJson<DownloadJson>(bob.xdg, ['download', sent.mediaId, '-o', 'map.pdf']);
    expect(saved).toMatchObject({ path: 'map.pdf', sha256: sha256(pdf) });
    expect(readFileSync(join(suite.home(), 'map.pdf')).equals(pdf)).toBe(true);
  });

  it('refuses a file over its kind limit before uploading, and a file that does not exist', async () => {
    const big = join(suite.home(), 'huge.jpg');
    writeFileSync(big, '');
    truncateSync(big, 16 * 1024 * 1024 + 1);
    expectFriendlyFailure(await cli(ann.xdg, ['send', bob.phone, '--file', big]), 2, /huge\.jpg is 16,777,217 bytes; images can be at most 16 MB/);
    expectFriendlyFailure(await cli(ann.xdg, ['send', bob.phone, '--file', 'nowhere.png']), 2, /No such file: nowhere\.png/);
    expectFriendlyFailure(await cli(ann.xdg, ['send', bob.phone, '--file', 'view.png', 'hello']), 2, /With --file, put the text in --caption/);
    expectFriendlyFailure(await cli(ann.xdg, ['send', bob.phone, '--caption', 'hi']), 2, /--caption and --voice go with --file/);
    expectFriendlyFailure(await cli(ann.xdg, ['send', bob.phone, '--voice', '--file', 'view.png']), 2, /--voice needs an audio file/);
  });

  it('answers media the user may not see as not found, and a malformed id as a usage error', async () => {
    expectFriendlyFailure(await cli(cy.xdg, ['download', photoId]), 4, /No such media, or it was not shared with you/);
    expectFriendlyFailure(await cli(cy.xdg, ['download', 'not-an-id']), 2, /"not-an-id" is not a media id/);
  });
});

describe('how the CLI sends a file', () => {
  it('picks kind and type from the extension; audio is a voice message only when asked', () => {
    expect(chooseFileKind('/tmp/Cat.JPG', { voice: false })).toEqual({ kind: 'image', mime: 'image/jpeg', fileName: 'Cat.JPG' });
    expect(chooseFileKind('clip.mov', { voice: false })).toMatchObject({ kind: 'video', mime: 'video/quicktime' });
    expect(chooseFileKind('note.opus', { voice: false })).toMatchObject({ kind: 'document', mime: 'audio/ogg' });
    expect(chooseFileKind('note.opus', { voice: true })).toMatchObject({ kind: 'voice', mime: 'audio/ogg' });
    expect(chooseFileKind('report.pdf', { voice: false })).toMatchObject({ kind: 'document', mime: 'application/pdf' });
    // Types a browser would render actively are never labelled as such.
    expect(chooseFileKind('page.html', { voice: false })).toMatchObject({ kind: 'document', mime: 'application/octet-stream' });
    expect(chooseFileKind('Makefile', { voice: false })).toMatchObject({ kind: 'document', mime: 'application/octet-stream' });
    expect(extensionForMime('image/jpeg')).toBe('jpg');
    expect(extensionForMime('application/pdf')).toBe('pdf');
    expect(extensionForMime('application/x-unknown')).toBe('bin');
  });

  it('reads PNG and baseline JPEG dimensions from the header, and nothing from other bytes', () => {
    expect(imageDimensions(fakePng())).toEqual({ width: 640, height: 480 });
    // SOI, an APP0 segment of 4 bytes, then SOF0 with height 300 and width 400.
    const jpeg = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x00, 0x00, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x01, 0x2c, 0x01, 0x90, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(imageDimensions(jpeg)).toEqual({ width: 400, height: 300 });
    expect(imageDimensions(new Uint8Array(100).fill(7))).toBeNull();
  });

  it('writes sizes as people read them', () => {
    expect(formatBytes(37)).toBe('37 bytes');
    expect(formatBytes(1_258_291)).toBe('1.2 MB');
    expect(formatBytes(16 * 1024 * 1024)).toBe('16 MB');
  });
});
