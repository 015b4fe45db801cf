/**
 * Black box: the `messenger` CLI (cli/bin.mjs) run as a child process against the real local
 * server, one config folder (XDG_CONFIG_HOME) per user: login, send, history, listen, chats,
 * groups, the interactive chat (piped, and in a pseudo-terminal via util-linux `script`), and
 * friendly errors with exit codes and no stack traces.
 *
 * CLI_TEST_NODE=/path/to/node runs the CLI with another Node (e.g. 20) than the tests.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextPhone } from '../support/phones.ts';
import { startServer, type LocalServer } from '../support/server.ts';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const BIN = join(ROOT, 'cli/bin.mjs');
const NODE = process.env.CLI_TEST_NODE ?? process.execPath;
const HAS_SCRIPT = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;

let server: LocalServer;
let home: string;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  server = await startServer();
  home = mkdtempSync(join(tmpdir(), 'messenger-cli-e2e-'));
}, 90_000);

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await server?.dispose();
  if (home) rmSync(home, { recursive: true, force: true });
});

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A CLI user: a config folder of their own and a phone number. */
interface User {
  name: string;
  phone: string;
  xdg: string;
  userId: string;
}

function cliEnv(xdg: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CONFIG_HOME: xdg, NO_COLOR: '1', MESSENGER_URL: server.baseUrl, TERM: 'dumb' };
  delete env.MESSENGER_CONFIG_DIR;
  return env;
}

/** A running CLI process whose output can be awaited line by line. */
interface Running {
  child: ChildProcess;
  output(): string;
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
  write(text: string): void;
  exited: Promise<Result>;
}

function track(child: ChildProcess, timeoutMs: number): Running {
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exited = new Promise<Result>((done) =>
    child.once('close', (code) => {
      clearTimeout(killer);
      children.delete(child);
      done({ code, stdout, stderr });
    }),
  );
  return {
    child,
    output: () => stdout,
    async waitFor(text, waitMs = 15_000) {
      const deadline = Date.now() + waitMs;
      const found = (): boolean => (typeof text === 'string' ? stdout.includes(text) : text.test(stdout));
      while (!found()) {
        if (Date.now() > deadline || child.exitCode !== null) {
          throw new Error(`waiting for ${String(text)}; stdout so far:\n${stdout}\nstderr:\n${stderr}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    write: (text) => child.stdin?.write(text),
    exited,
  };
}

/** Start the CLI as `xdg`'s user (stdin piped). */
function start(xdg: string, args: readonly string[], timeoutMs = 30_000): Running {
  return track(spawn(NODE, [BIN, ...args], { cwd: home, env: cliEnv(xdg), stdio: ['pipe', 'pipe', 'pipe'] }), timeoutMs);
}

/** Run the CLI to the end with `input` on stdin. */
async function cli(xdg: string, args: readonly string[], input = ''): Promise<Result> {
  const running = start(xdg, args);
  running.child.stdin?.end(input);
  return running.exited;
}

/** Run with --json, expect success, return the JSON document. */
async function cliJson<T>(xdg: string, args: readonly string[]): Promise<T> {
  const result = await cli(xdg, [...args, '--json']);
  expect(result.code, `messenger ${args.join(' ')}\n${result.stderr}`).toBe(0);
  return JSON.parse(result.stdout) as T;
}

function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

let userCount = 0;

async function newUser(name: string): Promise<User> {
  userCount += 1;
  const xdg = join(home, `${name.toLowerCase()}-${userCount}`);
  const phone = nextPhone();
  const login = await cliJson<{ userId: string; newUser: boolean; usedDevCode: boolean }>(xdg, ['login', phone, '--server', server.baseUrl, '--name', name]);
  return { name, phone, xdg, userId: login.userId };
}

/** One friendly line on stderr, no stack trace, and the expected exit code. */
function expectFriendlyFailure(result: Result, exitCode: number, message: RegExp): void {
  expect(result.code, result.stderr).toBe(exitCode);
  const lines = result.stderr.trim().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^Error: /);
  expect(lines[0]).toMatch(message);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

async function closedPort(): Promise<number> {
  return new Promise((done) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 1;
      probe.close(() => done(port));
    });
  });
}

async function eventually<T>(check: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

describe('messenger CLI', () => {
  let ann: User;
  let bob: User;

  beforeAll(async () => {
    ann = await newUser('Ann');
    bob = await newUser('Bob');
  }, 60_000);

  it('logs in with the development code, keeps the session in the config folder, and says who you are', async () => {
    const xdg = join(home, 'fresh-login');
    const phone = nextPhone();
    const result = await cli(xdg, ['login', phone, '--server', server.baseUrl, '--json']);
    expect(result.code, result.stderr).toBe(0);
    const login = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(login).toMatchObject({ phone, server: server.baseUrl, newUser: true, usedDevCode: true });
    expect(result.stderr).toMatch(/using the code it returned \(\d{6}\)/);

    const file = join(xdg, 'edge-messenger', 'config.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ server: server.baseUrl, session: { userId: login.userId, phone } });

    const me = await cliJson<Record<string, unknown>>(xdg, ['whoami']);
    expect(me).toMatchObject({ userId: login.userId, deviceId: login.deviceId, phone, server: server.baseUrl });
    const human = await cli(xdg, ['whoami']);
    expect(human.stdout).toContain(phone);

    const out = await cliJson<Record<string, unknown>>(xdg, ['logout']);
    expect(out).toMatchObject({ loggedOut: true, revoked: true });
    expectFriendlyFailure(await cli(xdg, ['whoami']), 3, /Not logged in/);
  }, 60_000);

  it('sends from one user; the other sees it in history, listen and the chat list; ticks come back', async () => {
    const sent = await cliJson<{ messageId: string; to: string; duplicate: boolean }>(ann.xdg, ['send', bob.phone, 'hello', 'Bob']);
    expect(sent).toMatchObject({ to: bob.userId, duplicate: false });

    const history = await cliJson<{ messages: Array<{ message: { id: string; body: { text: string } } }> }>(bob.xdg, ['history', ann.phone]);
    expect(history.messages.map((m) => m.message.id)).toContain(sent.messageId);

    const chats = await cliJson<{ conversations: Array<Record<string, unknown>> }>(bob.xdg, ['chats']);
    expect(chats.conversations).toContainEqual(expect.objectContaining({ kind: 'direct', peer: ann.userId, unread: 1, title: 'Ann' }));

    const listen = await cli(bob.xdg, ['listen', '--json', '--count', '1', '--timeout', '20']);
    expect(listen.code, listen.stderr).toBe(0);
    const events = jsonLines(listen.stdout);
    expect(events).toContainEqual(expect.objectContaining({ type: 'message', own: false, message: expect.objectContaining({ id: sent.messageId }) }));

    // Bob's device received it: Ann sees two ticks.
    await eventually(async () => {
      const page = await cliJson<{ messages: Array<{ message: { id: string }; status: string }> }>(ann.xdg, ['history', bob.phone]);
      expect(page.messages.find((m) => m.message.id === sent.messageId)?.status).toBe('delivered');
    });
    const human = await cli(ann.xdg, ['history', bob.phone]);
    expect(human.stdout).toMatch(/You: hello Bob ✓✓/);

    // The next listen continues after what the first one printed: only the new message.
    const second = await cliJson<{ messageId: string }>(ann.xdg, ['send', bob.phone, 'second']);
    const next = await cli(bob.xdg, ['listen', '--json', '--count', '1', '--timeout', '20']);
    const messages = jsonLines(next.stdout).filter((e) => e.type === 'message');
    expect(messages.map((e) => (e.message as { id: string }).id)).toEqual([second.messageId]);

    // Human output of listen.
    await cliJson(ann.xdg, ['send', bob.phone, 'third one']);
    const humanListen = await cli(bob.xdg, ['listen', '--count', '1', '--timeout', '20']);
    expect(humanListen.stdout).toMatch(/\] Ann: third one/);
  }, 90_000);

  it('creates a group, sends to it, and shows its history to members', async () => {
    const group = await cliJson<{ groupId: string; members: Array<{ userId: string; role: string; name: string }> }>(ann.xdg, [
      'groups',
      'create',
      'Climbing',
      bob.phone,
    ]);
    expect(group.members).toEqual(
      expect.arrayContaining([expect.objectContaining({ userId: ann.userId, role: 'admin' }), expect.objectContaining({ userId: bob.userId, role: 'member' })]),
    );

    const list = await cliJson<{ groups: Array<{ groupId: string; title: string }> }>(bob.xdg, ['groups', 'list']);
    expect(list.groups).toContainEqual(expect.objectContaining({ groupId: group.groupId, title: 'Climbing' }));

    const sent = await cliJson<{ group: string; gseq: number }>(bob.xdg, ['groups', 'send', 'climbing', 'count me in']);
    expect(sent.group).toBe(group.groupId);
    await cliJson(ann.xdg, ['groups', 'send', group.groupId, 'great']);

    const history = await cliJson<{ entries: Array<{ entry: { type: string; message?: { body: { text: string } } } }> }>(ann.xdg, ['groups', 'history', 'Climbing']);
    const texts = history.entries.flatMap((e) => (e.entry.type === 'message' ? [e.entry.message!.body.text] : [])).reverse();
    expect(texts).toEqual(['count me in', 'great']);
    const human = await cli(bob.xdg, ['groups', 'history', 'Climbing']);
    // Bob sees the group from when he joined.
    expect(human.stdout).toMatch(/Ann added You/);
    expect(human.stdout).toMatch(/You: count me in/);
    expect(human.stdout).toMatch(/Ann: great/);

    const chats = await cliJson<{ conversations: Array<Record<string, unknown>> }>(bob.xdg, ['chats']);
    expect(chats.conversations).toContainEqual(expect.objectContaining({ kind: 'group', group: group.groupId, title: 'Climbing', unread: 1 }));

    const left = await cliJson<{ left: string }>(bob.xdg, ['groups', 'leave', 'Climbing']);
    expect(left.left).toBe(group.groupId);
    expectFriendlyFailure(await cli(bob.xdg, ['groups', 'send', 'Climbing', 'hello?']), 4, /no group called "Climbing"/);
  }, 60_000);

  it('chat with piped input: shows history, shows an incoming message, sends typed lines, ends with the input', async () => {
    const cy = await newUser('Cy');
    await cliJson(ann.xdg, ['send', cy.phone, 'before the chat']);
    const chat = start(cy.xdg, ['chat', ann.phone]);
    await chat.waitFor('── Ann ──');
    await chat.waitFor('Ann: before the chat');

    await cliJson(ann.xdg, ['send', cy.phone, 'live ping']);
    await chat.waitFor('Ann: live ping');

    chat.write('pong from the chat\n');
    await chat.waitFor('✓ «pong from the chat»');
    chat.child.stdin?.end();
    const result = await chat.exited;
    expect(result.code, result.stderr).toBe(0);

    const page = await cliJson<{ messages: Array<{ message: { body: { text: string } } }> }>(ann.xdg, ['history', cy.phone]);
    expect(page.messages.map((m) => m.message.body.text)).toContain('pong from the chat');
    // The chat marked what it showed as read.
    const chats = await cliJson<{ conversations: Array<Record<string, unknown>> }>(cy.xdg, ['chats']);
    expect(chats.conversations).toContainEqual(expect.objectContaining({ peer: ann.userId, unread: 0 }));
  }, 60_000);

  it('chat --json prints history and events as JSON lines and sends stdin lines', async () => {
    const dee = await newUser('Dee');
    const chat = start(dee.xdg, ['chat', ann.phone, '--json']);
    await chat.waitFor('"type":"history"');
    chat.write('json hello\n');
    await chat.waitFor('"type":"sent"');
    chat.child.stdin?.end();
    const result = await chat.exited;
    expect(result.code, result.stderr).toBe(0);
    const lines = jsonLines(result.stdout);
    expect(lines[0]).toMatchObject({ type: 'history', peer: { userId: ann.userId }, messages: [] });
    expect(lines).toContainEqual(expect.objectContaining({ type: 'sent', to: ann.userId }));
  }, 60_000);

  it.skipIf(!HAS_SCRIPT)('chat in a terminal: typing is announced, lines are sent, incoming messages and ticks show', async () => {
    const eve = await newUser('Eve');
    // Ann's second device watches what reaches Ann (the chat runs as Eve).
    const annWatch = join(home, 'ann-watch');
    await cliJson(annWatch, ['login', ann.phone, '--server', server.baseUrl]);
    const watch = start(annWatch, ['listen', '--json', '--timeout', '40'], 60_000);

    const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
    const command = [NODE, BIN, 'chat', ann.phone].map(quote).join(' ');
    const pty = track(spawn('script', ['-qfc', command, '/dev/null'], { cwd: home, env: { ...cliEnv(eve.xdg), TERM: 'xterm' }, stdio: ['pipe', 'pipe', 'pipe'] }), 60_000);
    await pty.waitFor('/quit or Ctrl-D to leave');

    for (const ch of 'hi Ann') {
      pty.write(ch);
      await new Promise((r) => setTimeout(r, 40));
    }
    await watch.waitFor('"type":"typing_notice"');
    pty.write(' from a tty\r');
    await watch.waitFor('hi Ann from a tty');
    expect(jsonLines(watch.output())).toContainEqual(expect.objectContaining({ type: 'typing_notice', from: eve.userId, state: 'typing', group: null }));

    await cliJson(ann.xdg, ['send', eve.phone, 'hello Eve']);
    await pty.waitFor('Ann: hello Eve');
    // Ann's devices received Eve's message: its tick turns into two.
    await pty.waitFor(/You: hi Ann from a tty ✓✓/);

    pty.write('/quit\r');
    const result = await pty.exited;
    expect(result.code, result.stdout).toBe(0);
    watch.child.kill('SIGTERM');
    expect((await watch.exited).code).toBe(0);
  }, 90_000);

  describe('errors: one friendly line, an exit code, no stack trace', () => {
    it('not logged in', async () => {
      const result = await cli(join(home, 'nobody'), ['send', bob.phone, 'hi']);
      expectFriendlyFailure(result, 3, /Not logged in: run `messenger login <phone>`/);
    });

    it('unknown user and unknown contact', async () => {
      expectFriendlyFailure(await cli(ann.xdg, ['send', nextPhone(), 'hi']), 4, /Nobody uses the messenger with the number/);
      expectFriendlyFailure(await cli(ann.xdg, ['history', 'Zed']), 4, /No contact called "Zed"/);
    });

    it('bad phone numbers', async () => {
      expectFriendlyFailure(await cli(ann.xdg, ['send', '12', 'hi']), 2, /not a valid phone number/);
      expectFriendlyFailure(await cli(join(home, 'bad-phone'), ['login', '+99 12']), 2, /not a valid phone number/);
    });

    it('wrong or missing code', async () => {
      expectFriendlyFailure(await cli(join(home, 'wrong-code'), ['login', nextPhone(), '--code', '000000']), 3, /code has expired or was never requested/);
      expectFriendlyFailure(await cli(join(home, 'short-code'), ['login', nextPhone(), '--code', '12']), 2, /The code has 6 digits/);
    });

    it('server down, for login and for a logged-in user', async () => {
      const dead = `http://127.0.0.1:${await closedPort()}`;
      expectFriendlyFailure(await cli(join(home, 'no-server'), ['login', nextPhone(), '--server', dead]), 6, /Cannot reach the server at http:\/\/127\.0\.0\.1:\d+/);

      // Ann's session, pointed at a server that is gone.
      const moved = join(home, 'moved');
      mkdirSync(join(moved, 'edge-messenger'), { recursive: true });
      const config = JSON.parse(readFileSync(join(ann.xdg, 'edge-messenger', 'config.json'), 'utf8')) as { server: string; session: { server: string } };
      config.server = dead;
      config.session.server = dead;
      writeFileSync(join(moved, 'edge-messenger', 'config.json'), JSON.stringify(config));
      const result = await cli(moved, ['send', bob.phone, 'anyone?', '--json']);
      expectFriendlyFailure(result, 6, /Cannot reach the server/);
      expect(JSON.parse(result.stdout)).toMatchObject({ error: { code: 'unavailable', exitCode: 6 } });
    });

    it('bad command lines', async () => {
      expectFriendlyFailure(await cli(ann.xdg, ['frobnicate']), 2, /Unknown command "frobnicate"/);
      expectFriendlyFailure(await cli(ann.xdg, ['send', bob.phone]), 2, /Missing arguments; usage: messenger send <peer> <text\.\.\.>/);
      expectFriendlyFailure(await cli(ann.xdg, ['history', bob.phone, '--limit', 'lots']), 2, /--limit must be a whole number/);
      expectFriendlyFailure(await cli(ann.xdg, ['chats', '--colour']), 2, /Unknown option --colour/);
    });
  });
});
