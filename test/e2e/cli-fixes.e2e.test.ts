/**
 * Black box: CLI defects found by trying it as a new user (issue 13), against a real local server
 * of its own (it is stopped and started again to play "the server is down"):
 * - `chats` shows for every chat a handle that `chat`, `send` and `history` accept, and a name
 *   also finds people of the chat list who are not contacts;
 * - `npm run -s cli -- … --json` and `npx messenger … --json` print only the JSON;
 * - with the server down, `send` keeps the message in the outbox (exit code 6, one line) and the
 *   next command that connects sends it, once;
 * - a group you left keeps its title in the chat list.
 *
 * CLI_TEST_NODE=/path/to/node runs the CLI with another Node (e.g. 20) than the tests.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, cliSuite, expectFriendlyFailure } from '../support/cli-suite.ts';
import { nextPhone } from '../support/phones.ts';

const suite = cliSuite('messenger-cli-fixes-');
const { cli, cliJson, newUser, run } = suite;

interface ChatRow {
  kind: 'direct' | 'group';
  peer?: string;
  group?: string;
  title: string;
  handle: string;
  unread: number;
}

type HistoryPage = { peer: { userId: string }; messages: Array<{ message: { body: { text?: string } } }> };

describe('messenger CLI fixes', () => {
  it('chats shows a handle for every chat that chat, send and history accept; names find people of the chat list', async () => {
    const ann = await newUser('Ann');
    const dan = await newUser('Dan');
    // Dan is not one of Ann's contacts: he writes first.
    await cliJson(dan.xdg, ['send', ann.phone, 'hi Ann, Dan here']);

    const first = await cliJson<{ conversations: ChatRow[] }>(ann.xdg, ['chats']);
    expect(first.conversations).toContainEqual(expect.objectContaining({ kind: 'direct', peer: dan.userId, title: 'Dan', handle: 'Dan', unread: 1 }));
    const human = await cli(ann.xdg, ['chats']);
    expect(human.stdout).toMatch(/^Dan 1 unread {2}\[/m);

    // The name as shown works for history, send and chat (lower case and a unique start too).
    const history = await cliJson<HistoryPage>(ann.xdg, ['history', 'Dan']);
    expect(history.peer.userId).toBe(dan.userId);
    expect(history.messages.map((m) => m.message.body.text)).toEqual(['hi Ann, Dan here']);
    expect(await cliJson(ann.xdg, ['send', 'dan', 'hello Dan'])).toMatchObject({ to: dan.userId });
    const chat = await cli(ann.xdg, ['chat', 'Da'], { input: 'from the chat\n' });
    expect(chat.code, chat.stderr).toBe(0);
    expect(chat.stdout).toContain('── Dan ──');
    const danHistory = await cliJson<HistoryPage>(dan.xdg, ['history', ann.phone]);
    expect(danHistory.messages.map((m) => m.message.body.text)).toEqual(['from the chat', 'hello Dan', 'hi Ann, Dan here']);

    // A second Dan: the name no longer says who, so each row shows another handle, and it works.
    const dan2 = await newUser('Dan');
    await cliJson(dan2.xdg, ['send', ann.phone, 'the other Dan']);
    const second = await cliJson<{ conversations: ChatRow[] }>(ann.xdg, ['chats']);
    const dans = second.conversations.filter((c) => c.title === 'Dan');
    expect(dans.map((c) => c.peer).sort()).toEqual([dan.userId, dan2.userId].sort());
    for (const row of dans) {
      expect(row.handle).not.toBe('Dan');
      const page = await cliJson<HistoryPage>(ann.xdg, ['history', row.handle]);
      expect(page.peer.userId).toBe(row.peer);
    }
    const secondHuman = await cli(ann.xdg, ['chats']);
    for (const row of dans) expect(secondHuman.stdout).toContain(`Dan (${row.handle})`);
    const ambiguous = await cli(ann.xdg, ['history', 'Dan']);
    expectFriendlyFailure(ambiguous, 2, /"Dan" matches 2 people; use the id instead/);

    // Still nobody of another name.
    expectFriendlyFailure(await cli(ann.xdg, ['chat', 'Zed']), 4, /No contact called "Zed", and no chat with anyone of that name/);
  }, 120_000);

  it('npm run -s cli and npx messenger print only the JSON (npm run without -s adds its banner)', async () => {
    const ann = await newUser('Npm');
    const env = suite.env(ann.xdg);
    const silent = await run('npm', ['run', '-s', 'cli', '--', 'whoami', '--json'], { cwd: ROOT, env });
    expect(silent.code, silent.stderr).toBe(0);
    expect(JSON.parse(silent.stdout)).toMatchObject({ userId: ann.userId, phone: ann.phone });

    const npx = await run('npx', ['--no-install', 'messenger', 'whoami', '--json'], { cwd: ROOT, env });
    expect(npx.code, npx.stderr).toBe(0);
    expect(JSON.parse(npx.stdout)).toMatchObject({ userId: ann.userId });

    // What the docs warn about: without -s npm prints "> edge-messenger@… cli" first.
    const loud = await run('npm', ['run', 'cli', '--', 'whoami', '--json'], { cwd: ROOT, env });
    expect(loud.code, loud.stderr).toBe(0);
    expect(loud.stdout).toMatch(/^\s*> edge-messenger@/);
  }, 120_000);

  it('a group you left keeps its title in the chat list, with its id as the handle', async () => {
    const ann = await newUser('Ann');
    const bob = await newUser('Bob');
    const group = await cliJson<{ groupId: string }>(ann.xdg, ['groups', 'create', 'Climbers', bob.phone]);
    expect((await cli(bob.xdg, ['invites', 'accept', 'Climbers'])).code).toBe(0);
    await cliJson(ann.xdg, ['groups', 'rename', 'Climbers', 'Climbing Club']);
    await cliJson(bob.xdg, ['groups', 'send', 'Climbing Club', 'see you there']);
    const before = await cliJson<{ conversations: ChatRow[] }>(bob.xdg, ['chats']);
    expect(before.conversations).toContainEqual(expect.objectContaining({ kind: 'group', group: group.groupId, title: 'Climbing Club', handle: 'Climbing Club' }));

    await cliJson(bob.xdg, ['groups', 'leave', 'Climbing Club']);
    const after = await cliJson<{ conversations: ChatRow[] }>(bob.xdg, ['chats']);
    const row = after.conversations.find((c) => c.group === group.groupId);
    expect(row).toMatchObject({ title: 'Climbing Club', handle: group.groupId });
    const human = await cli(bob.xdg, ['chats']);
    expect(human.stdout).toContain(`Climbing Club (${group.groupId}) (group, no longer a member)`);
    expect(human.stdout).not.toMatch(/group [0-9A-Z]{6}\b/);

    // Without the names this device saw, the title comes from Bob's copy of the group (the rename).
    const devices = join(bob.xdg, 'edge-messenger', 'devices');
    for (const device of readdirSync(devices)) rmSync(join(devices, device, 'names.json'), { force: true });
    const fresh = await cliJson<{ conversations: ChatRow[] }>(bob.xdg, ['chats']);
    expect(fresh.conversations.find((c) => c.group === group.groupId)).toMatchObject({ title: 'Climbing Club', handle: group.groupId });
  }, 120_000);

  it('with the server down, send keeps the message in the outbox (exit 6, one line); the next command that connects sends it once', async () => {
    const ann = await newUser('Ann');
    const bob = await newUser('Bob');
    await cliJson(ann.xdg, ['send', bob.phone, 'before the outage']);
    await cliJson(ann.xdg, ['groups', 'create', 'Hikers']);
    await cliJson(ann.xdg, ['chats']);
    const stranger = nextPhone();

    await suite.server().stop();
    try {
      const byPhone = await cli(ann.xdg, ['send', bob.phone, 'sent while offline', '--json']);
      expectFriendlyFailure(byPhone, 6, /^Error: Cannot reach the server at http:\/\/127\.0\.0\.1:\d+; your message to Bob is kept in the outbox and will be sent the next time messenger connects/);
      expect(JSON.parse(byPhone.stdout)).toMatchObject({ error: { code: 'queued', exitCode: 6 } });
      // By name, and to a group, from the names this device saw.
      expectFriendlyFailure(await cli(ann.xdg, ['send', 'Bob', 'also offline']), 6, /your message to Bob is kept in the outbox/);
      expectFriendlyFailure(await cli(ann.xdg, ['groups', 'send', 'Hikers', 'offline in the group']), 6, /your message to "Hikers" is kept in the outbox/);
      // Someone this device never saw cannot be looked up: nothing is queued.
      expectFriendlyFailure(await cli(ann.xdg, ['send', stranger, 'who?']), 6, /^Error: Cannot reach the server at .* \(is it running\?/);

      const queued = await cliJson<{ messages: Array<{ to: string | null; group: string | null; body: { text: string } }> }>(ann.xdg, ['outbox', 'list']);
      expect(queued.messages.map((m) => [m.to, m.body.text])).toEqual([
        [bob.userId, 'sent while offline'],
        [bob.userId, 'also offline'],
        [null, 'offline in the group'],
      ]);
    } finally {
      await suite.server().restart();
    }

    // The next command that connects sends what waited first.
    const next = await cli(ann.xdg, ['send', bob.phone, 'back online']);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toMatch(/Also sent 3 queued messages from earlier/);
    // Whatever it could not confirm in its short wait goes with `outbox send` (same ids: never twice).
    const flushed = await cliJson<{ failed: number; waiting: number }>(ann.xdg, ['outbox', 'send']);
    expect(flushed).toMatchObject({ failed: 0, waiting: 0 });
    expect((await cliJson<{ messages: unknown[] }>(ann.xdg, ['outbox', 'list'])).messages).toEqual([]);

    const page = await cliJson<HistoryPage>(bob.xdg, ['history', ann.phone]);
    expect(page.messages.map((m) => m.message.body.text).reverse()).toEqual(['before the outage', 'sent while offline', 'also offline', 'back online']);
    const groupPage = await cliJson<{ entries: Array<{ entry: { type: string; message?: { body: { text: string } } } }> }>(ann.xdg, ['groups', 'history', 'Hikers']);
    expect(groupPage.entries.flatMap((e) => (e.entry.type === 'message' ? [e.entry.message!.body.text] : []))).toEqual(['offline in the group']);
  }, 180_000);
});
