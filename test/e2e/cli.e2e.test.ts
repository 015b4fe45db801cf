/**
 * Black box: the `messenger` CLI (cli/bin.mjs) run as a child process against the real local
 * server, one config folder (XDG_CONFIG_HOME) per user: login, send, history, listen, chats,
 * groups, the interactive chat (piped, and in a pseudo-terminal via util-linux `script`), and
 * friendly errors with exit codes and no stack traces.
 *
 * What the local server cannot be made to do on cue (text codes by SMS instead of returning them,
 * refuse with a rate limit) is played by a small scripted server on 127.0.0.1 that speaks the
 * same protocol: the two-step login across two runs, and rate limits on code requests, HTTP
 * calls and sends (the message stays in the outbox and goes out later with the same id).
 *
 * CLI_TEST_NODE=/path/to/node runs the CLI with another Node (e.g. 20) than the tests.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import type { ClientFrame, ServerFrame } from '../../protocol/index.ts';
import { nextPhone } from '../support/phones.ts';
import { BIN, NODE, expectFriendlyFailure, type Result, type User } from '../support/cli-suite.ts';
import { SERVER_HOOK_MS, startServer, type LocalServer } from '../support/server.ts';

const HAS_SCRIPT = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;

let server: LocalServer;
let home: string;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  server = await startServer();
  home = mkdtempSync(join(tmpdir(), 'messenger-cli-e2e-'));
}, SERVER_HOOK_MS);

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await server?.dispose();
  if (home) rmSync(home, { recursive: true, force: true });
});

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

// ---------------------------------------------------------------- a scripted server

const SCRIPTED = {
  userId: '01HZX3K5M8N9P0Q1R2S3T4V001',
  deviceId: '01HZX3K5M8N9P0Q1R2S3T4V002',
  peerId: '01HZX3K5M8N9P0Q1R2S3T4V003',
  challenge: 'scriptedChallenge_0123456789abcd',
  code: '424242',
  token: 'scripted-long-lived-token',
  refreshToken: 'scripted-refresh-token-0',
} as const;

/** What the scripted server saw, and how it answers next. */
interface Scripted {
  baseUrl: string;
  /** Every HTTP request: method, path, Authorization header, JSON body. */
  requests: Array<{ method: string; path: string; authorization: string | undefined; body: unknown }>;
  /** The URL of every WebSocket upgrade. */
  sockets: string[];
  /** Every frame clients sent on a WebSocket (pings left out). */
  frames: ClientFrame[];
  /** `ok`, or refuse code requests with otp_rate_limited (90 s). */
  otp: 'ok' | 'rate_limited';
  /** `ok`, or refuse GET /v1/me with rate_limited (45 s). */
  me: 'ok' | 'rate_limited';
  /** `sent`, or refuse every send with rate_limited (60 s). */
  sends: 'sent' | 'rate_limited';
  /** Access tokens that work now. */
  live: Set<string>;
  /** Every access token ever handed out (a gone one is answered device_revoked). */
  everLive: Set<string>;
  /** Access tokens answered with token_expired. */
  expired: Set<string>;
  /** Refresh tokens: usable once. */
  refreshTokens: Map<string, 'live' | 'used'>;
  /** Every live access token expires now. */
  expireTokens(): void;
  close(): Promise<void>;
}

/**
 * A server with a real SMS provider (no devCode) and rate limits on cue, speaking the protocol
 * for what the CLI's login, send and outbox commands use.
 */
async function startScripted(): Promise<Scripted> {
  const tickets = new Set<string>();
  let ticketCount = 0;
  let messageCount = 0;
  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const refuse = (res: ServerResponse, code: string, message: string, retryAfterMs: number): void =>
    json(res, 429, { error: { code, message, retryable: true, retryAfterMs } }, { 'retry-after': String(Math.ceil(retryAfterMs / 1000)) });
  const profile = (userId: string, phone: string, displayName: string) => ({ userId, displayName, about: '', photo: null, phone });

  const state: Scripted = {
    baseUrl: '',
    requests: [],
    sockets: [],
    frames: [],
    otp: 'ok',
    me: 'ok',
    sends: 'sent',
    live: new Set(),
    everLive: new Set(),
    expired: new Set(),
    refreshTokens: new Map(),
    expireTokens: () => {
      for (const token of state.live) state.expired.add(token);
      state.live.clear();
    },
    close: async () => undefined,
  };
  let refreshCount = 0;
  const issue = (token: string): void => {
    state.live.add(token);
    state.everLive.add(token);
  };
  const http = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://scripted');
      const body = raw === '' ? undefined : (JSON.parse(raw) as Record<string, unknown>);
      state.requests.push({ method: req.method ?? '', path: url.pathname, authorization: req.headers.authorization, body });
      const route = `${req.method} ${url.pathname}`;
      if (route === 'POST /v1/auth/otp') {
        if (state.otp === 'rate_limited') return refuse(res, 'otp_rate_limited', 'Codes are requested too often; wait and retry', 90_000);
        const now = Date.now();
        return json(res, 200, { phone: `+${String(body?.phone).replace(/[^0-9]/g, '')}`, challenge: SCRIPTED.challenge, expiresAt: now + 600_000, resendAt: now + 30_000 });
      }
      if (route === 'POST /v1/auth/verify') {
        if (body?.challenge !== SCRIPTED.challenge || body?.code !== SCRIPTED.code) {
          return json(res, 401, { error: { code: 'otp_invalid', message: 'Wrong code', retryable: false } });
        }
        issue(SCRIPTED.token);
        state.refreshTokens.set(SCRIPTED.refreshToken, 'live');
        return json(res, 200, {
          token: SCRIPTED.token,
          refreshToken: SCRIPTED.refreshToken,
          userId: SCRIPTED.userId,
          deviceId: SCRIPTED.deviceId,
          expiresAt: Date.now() + 900_000,
          newUser: true,
          history: true,
        });
      }
      if (route === 'POST /v1/auth/refresh') {
        const presented = String(body?.refreshToken);
        if (state.refreshTokens.get(presented) !== 'live') {
          // A spent refresh token presented again was copied: the device is logged out.
          if (state.refreshTokens.get(presented) === 'used') {
            state.live.clear();
            state.refreshTokens.clear();
          }
          return json(res, 401, { error: { code: 'refresh_invalid', message: 'Refresh token is malformed, unknown or was already used; log in again', retryable: false } });
        }
        state.refreshTokens.set(presented, 'used');
        refreshCount += 1;
        const token = `scripted-token-${refreshCount}`;
        const refreshToken = `scripted-refresh-token-${refreshCount}`;
        issue(token);
        state.refreshTokens.set(refreshToken, 'live');
        return json(res, 200, { token, refreshToken, userId: SCRIPTED.userId, deviceId: SCRIPTED.deviceId, expiresAt: Date.now() + 900_000, newUser: false, history: true });
      }
      const bearer = req.headers.authorization?.replace(/^Bearer /, '') ?? '';
      if (state.expired.has(bearer)) return json(res, 401, { error: { code: 'token_expired', message: 'Token has expired; log in again', retryable: false } });
      if (!state.live.has(bearer)) {
        if (state.everLive.has(bearer)) return json(res, 401, { error: { code: 'device_revoked', message: 'This device was logged out', retryable: false } });
        return json(res, 401, { error: { code: 'unauthorized', message: 'A bearer token is required', retryable: false } });
      }
      if (route === 'GET /v1/me') {
        if (state.me === 'rate_limited') return refuse(res, 'rate_limited', 'Too many requests; slow down', 45_000);
        return json(res, 200, profile(SCRIPTED.userId, '+15550009999', 'Scripted'));
      }
      if (req.method === 'GET' && url.pathname.startsWith('/v1/users/')) return json(res, 200, profile(SCRIPTED.peerId, '+15550008888', 'Pat'));
      if (route === 'GET /v1/contacts') return json(res, 200, { contacts: [] });
      if (route === 'POST /v1/connect/ticket') {
        ticketCount += 1;
        const ticket = `scripted-ticket-${ticketCount}`;
        tickets.add(ticket);
        return json(res, 200, { ticket, expiresAt: Date.now() + 30_000 });
      }
      return json(res, 404, { error: { code: 'not_found', message: 'No such resource', retryable: false } });
    });
  });
  const wss = new WebSocketServer({ noServer: true });
  http.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://scripted');
    state.sockets.push(req.url ?? '');
    const ticket = url.searchParams.get('ticket') ?? '';
    // Single use, like the real server's.
    if (url.pathname !== '/v1/connect' || !tickets.delete(ticket)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const send = (frame: ServerFrame): void => ws.send(JSON.stringify(frame));
      send({ type: 'hello', userId: SCRIPTED.userId, deviceId: SCRIPTED.deviceId, cursor: 0, head: 0, serverTime: Date.now() });
      ws.on('message', (data) => {
        const frame = JSON.parse(String(data)) as ClientFrame;
        if (frame.type === 'ping') return;
        state.frames.push(frame);
        if (frame.type !== 'send') return;
        if (state.sends === 'rate_limited') {
          send({ type: 'error', id: frame.id, code: 'rate_limited', message: 'Too many requests; slow down', retryable: true, retryAfterMs: 60_000 });
          return;
        }
        messageCount += 1;
        const messageId = `01HZX3K5M8N9P0Q1R2S3T4W${String(messageCount).padStart(3, '0')}`;
        send({ type: 'sent', id: frame.id, messageId, to: frame.to, sentAt: Date.now(), duplicate: false });
      });
    });
  });
  await new Promise<void>((done) => http.listen(0, '127.0.0.1', done));
  const address = http.address();
  state.baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  state.close = async () => {
    for (const client of wss.clients) client.terminate();
    wss.close();
    http.closeAllConnections();
    await new Promise<void>((done) => http.close(() => done()));
  };
  return state;
}

async function newUser(name: string): Promise<User> {
  userCount += 1;
  const xdg = join(home, `${name.toLowerCase()}-${userCount}`);
  const phone = nextPhone();
  const login = await cliJson<{ userId: string; newUser: boolean; usedDevCode: boolean }>(xdg, ['login', phone, '--server', server.baseUrl, '--name', name]);
  return { name, phone, xdg, userId: login.userId };
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

  it('creates a group (a stranger is invited and accepts), sends to it, shows its history to members, and grows through an invite link', async () => {
    const group = await cliJson<{ groupId: string; members: Array<{ userId: string; role: string; name: string }>; invites: Array<{ userId: string }> }>(ann.xdg, [
      'groups',
      'create',
      'Climbing',
      bob.phone,
    ]);
    // Bob has not added Ann to his contacts: she may only invite him.
    expect(group.members).toEqual([expect.objectContaining({ userId: ann.userId, role: 'admin' })]);
    expect(group.invites).toEqual([expect.objectContaining({ userId: bob.userId, invitedBy: ann.userId })]);
    const human = await cli(ann.xdg, ['groups', 'info', 'Climbing']);
    expect(human.stdout).toMatch(/1 invite not answered yet:\n {2}Bob/);

    const invites = await cliJson<{ invites: Array<{ groupId: string; title: string; invitedByName: string }> }>(bob.xdg, ['invites']);
    expect(invites.invites).toEqual([expect.objectContaining({ groupId: group.groupId, title: 'Climbing', invitedByName: 'Ann' })]);
    expectFriendlyFailure(await cli(bob.xdg, ['groups', 'send', 'Climbing', 'too early']), 4, /no group called "Climbing"/);
    const accepted = await cli(bob.xdg, ['invite', 'accept', 'climbing']);
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(accepted.stdout).toMatch(/You joined "Climbing" \(2 members\)/);
    expect((await cliJson<{ invites: unknown[] }>(bob.xdg, ['invites', 'list'])).invites).toEqual([]);

    const list = await cliJson<{ groups: Array<{ groupId: string; title: string }>; nextBefore: string | null }>(bob.xdg, ['groups', 'list']);
    expect(list.groups).toContainEqual(expect.objectContaining({ groupId: group.groupId, title: 'Climbing' }));
    expect(list.nextBefore).toBeNull();

    const sent = await cliJson<{ group: string; gseq: number }>(bob.xdg, ['groups', 'send', 'climbing', 'count me in']);
    expect(sent.group).toBe(group.groupId);
    await cliJson(ann.xdg, ['groups', 'send', group.groupId, 'great']);

    const history = await cliJson<{ entries: Array<{ entry: { type: string; message?: { body: { text: string } } } }> }>(ann.xdg, ['groups', 'history', 'Climbing']);
    const texts = history.entries.flatMap((e) => (e.entry.type === 'message' ? [e.entry.message!.body.text] : [])).reverse();
    expect(texts).toEqual(['count me in', 'great']);
    const bobHistory = await cli(bob.xdg, ['groups', 'history', 'Climbing']);
    // Bob sees the group from when he joined.
    expect(bobHistory.stdout).toMatch(/You joined \(accepted the invite\)/);
    expect(bobHistory.stdout).toMatch(/You: count me in/);
    expect(bobHistory.stdout).toMatch(/Ann: great/);

    const chats = await cliJson<{ conversations: Array<Record<string, unknown>> }>(bob.xdg, ['chats']);
    expect(chats.conversations).toContainEqual(expect.objectContaining({ kind: 'group', group: group.groupId, title: 'Climbing', unread: 1 }));

    // An invite link: a third user joins with it; once revoked it leads nowhere.
    expectFriendlyFailure(await cli(bob.xdg, ['group', 'link', 'create', 'Climbing']), 5, /Only group admins/);
    const link = await cliJson<{ code: string; url: string; approval: boolean }>(ann.xdg, ['group', 'link', 'create', 'Climbing']);
    expect(link).toMatchObject({ approval: false, url: `${server.baseUrl}/#join/${link.code}` });
    const cy = await newUser('Cy');
    const preview = await cliJson<{ title: string; memberCount: number }>(cy.xdg, ['join', link.url, '--preview']);
    expect(preview).toMatchObject({ title: 'Climbing', memberCount: 2 });
    const joined = await cli(cy.xdg, ['join', link.url]);
    expect(joined.code, joined.stderr).toBe(0);
    expect(joined.stdout).toMatch(/You joined "Climbing" \(3 members\)/);
    expectFriendlyFailure(await cli(cy.xdg, ['join', link.code]), 5, /already a member/);
    await cliJson(ann.xdg, ['groups', 'link', 'revoke', 'Climbing']);
    expect(await cliJson<{ link: unknown }>(ann.xdg, ['groups', 'link', 'show', 'Climbing'])).toEqual({ link: null });
    expectFriendlyFailure(await cli(bob.xdg, ['join', link.url]), 4, /does not exist or was revoked/);
    expectFriendlyFailure(await cli(bob.xdg, ['join', 'https://example.com/#join/short']), 2, /is not an invite link/);

    const left = await cliJson<{ left: string }>(bob.xdg, ['groups', 'leave', 'Climbing']);
    expect(left.left).toBe(group.groupId);
    expectFriendlyFailure(await cli(bob.xdg, ['groups', 'send', 'Climbing', 'hello?']), 4, /no group called "Climbing"/);
  }, 90_000);

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
    // Typing notices are not stored: the watcher must be connected before Eve types.
    await cliJson(bob.xdg, ['send', ann.phone, 'ping for the watcher']);
    await watch.waitFor('ping for the watcher');

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

  it('two-step PIN: set, a new device is asked for it (also in a second run), the right PIN logs in with history; account delete', async () => {
    const owner = await newUser('Pia');
    const set = await cliJson<{ enabled: boolean; changed: boolean }>(owner.xdg, ['pin', 'set', '--pin', '246810']);
    expect(set).toEqual({ enabled: true, changed: false });
    expect(await cliJson(owner.xdg, ['pin', 'status'])).toEqual({ enabled: true, resetAt: null });
    expectFriendlyFailure(await cli(owner.xdg, ['pin', 'set', '--pin', '12345']), 2, /--pin has 6 digits/);

    // A new device: the code is not enough. Without a terminal the CLI keeps the PIN challenge.
    const laptop = join(home, 'pia-laptop');
    const asked = await cli(laptop, ['login', owner.phone, '--server', server.baseUrl]);
    expect(asked.code, asked.stderr).toBe(3);
    // A note that the development code was used, then the one error line.
    expect(asked.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/using the code it returned/),
      expect.stringMatching(/^Error: This account has a two-step verification PIN \(5 tries before waits start\); .*run `messenger login \+\d+ --pin <PIN> --server http:\/\/127\.0\.0\.1:\d+`, or `messenger pin reset`/),
    ]);
    const pending = JSON.parse(readFileSync(join(laptop, 'edge-messenger', 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(pending).not.toHaveProperty('session');
    expect(pending).toHaveProperty('pendingPin.pinChallenge');
    expectFriendlyFailure(await cli(laptop, ['login', owner.phone, '--pin', '000000']), 3, /Wrong two-step verification PIN/);
    expectFriendlyFailure(await cli(laptop, ['whoami']), 3, /Not logged in/);
    const loggedIn = await cliJson<{ userId: string; withPin: boolean; history: boolean }>(laptop, ['login', owner.phone, '--pin', '246810']);
    expect(loggedIn).toMatchObject({ userId: owner.userId, withPin: true, history: true });
    expect(JSON.parse(readFileSync(join(laptop, 'edge-messenger', 'config.json'), 'utf8'))).not.toHaveProperty('pendingPin');

    // Code and PIN in one run (the development server returns the code).
    const tablet = join(home, 'pia-tablet');
    expect(await cliJson(tablet, ['login', owner.phone, '--server', server.baseUrl, '--pin', '246810'])).toMatchObject({ userId: owner.userId, withPin: true });

    // The first device was told, in its mailbox stream, and lists the new devices.
    const events = await cli(owner.xdg, ['listen', '--json', '--timeout', '3']);
    const added = jsonLines(events.stdout).filter((e) => e.type === 'account_event' && (e.event as { kind: string }).kind === 'device_added');
    expect(added.map((e) => (e.event as { withPin: boolean }).withPin)).toEqual([true, true]);
    const devices = await cliJson<{ devices: Array<{ current: boolean }> }>(owner.xdg, ['account', 'devices']);
    expect(devices.devices).toHaveLength(3);

    // Deleting needs the account's own number.
    expectFriendlyFailure(await cli(laptop, ['account', 'delete']), 2, /deletes your account .* --confirm \+\d+/);
    expectFriendlyFailure(await cli(laptop, ['account', 'delete', '--confirm', nextPhone()]), 2, /not this account's phone number; nothing was deleted/);
    expect(await cliJson(owner.xdg, ['whoami'])).toMatchObject({ userId: owner.userId });
    const deleted = await cliJson<{ deleted: string }>(laptop, ['account', 'delete', '--confirm', owner.phone]);
    expect(deleted.deleted).toBe(owner.userId);
    expect(JSON.parse(readFileSync(join(laptop, 'edge-messenger', 'config.json'), 'utf8'))).not.toHaveProperty('session');
    // The account's other devices are told the account is gone; the number is free for a new account.
    expectFriendlyFailure(await cli(owner.xdg, ['whoami']), 3, /This account was deleted/);
    const again = await cliJson<{ userId: string; newUser: boolean }>(join(home, 'pia-again'), ['login', owner.phone, '--server', server.baseUrl]);
    expect(again.newUser).toBe(true);
    expect(again.userId).not.toBe(owner.userId);
  }, 90_000);

  it('privacy settings: shown and changed, with friendly refusals', async () => {
    const dee = await newUser('Dee');
    const defaults = await cliJson<{ privacy: Record<string, unknown> }>(dee.xdg, ['settings']);
    expect(defaults.privacy).toEqual({ lastSeen: 'contacts', online: 'same_as_last_seen', readReceipts: true, groups: 'contacts', profile: 'contacts' });
    const changed = await cliJson<{ privacy: Record<string, unknown> }>(dee.xdg, ['settings', 'privacy', '--read-receipts', 'off', '--groups', 'nobody', '--profile', 'everyone']);
    expect(changed.privacy).toEqual({ lastSeen: 'contacts', online: 'same_as_last_seen', readReceipts: false, groups: 'nobody', profile: 'everyone' });
    const human = await cli(dee.xdg, ['settings', 'show']);
    expect(human.stdout).toMatch(/read receipts +off/);
    expect(human.stdout).toMatch(/add me to groups +nobody/);
    expectFriendlyFailure(await cli(dee.xdg, ['settings', 'privacy', '--groups', 'friends']), 2, /--groups must be everyone, contacts or nobody/);
    expectFriendlyFailure(await cli(dee.xdg, ['settings', 'privacy']), 2, /Say what to change/);
    // Nobody may add Dee: Ann's add is an invite.
    const group = await cliJson<{ invites: Array<{ userId: string }>; members: unknown[] }>(ann.xdg, ['groups', 'create', 'Private', dee.phone]);
    expect(group.invites.map((i) => i.userId)).toEqual([dee.userId]);
    expect(group.members).toHaveLength(1);
  }, 60_000);

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
      // A code without the first step: no challenge to send it with, so nothing is asked of the server.
      expectFriendlyFailure(await cli(join(home, 'wrong-code'), ['login', nextPhone(), '--code', '000000']), 3, /No code was requested for .* run `messenger login /);
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

  describe('against a server that texts codes and rate-limits (scripted)', () => {
    let scripted: Scripted;
    const xdg = (): string => join(home, 'scripted');
    const configFile = (): string => join(xdg(), 'edge-messenger', 'config.json');
    const phone = '+1 555 000 9999';

    beforeAll(async () => {
      scripted = await startScripted();
    });
    afterAll(async () => {
      await scripted?.close();
    });

    it('login in two runs: the first keeps the challenge with the number, the second sends it with the code', async () => {
      const first = await cli(xdg(), ['login', phone, '--server', scripted.baseUrl]);
      expectFriendlyFailure(first, 3, new RegExp(`A code was sent to \\+15550009999; within 10 minutes run \`messenger login \\+15550009999 --code <code> --server ${scripted.baseUrl.replace(/[.]/g, '\\.')}\``));
      const saved = JSON.parse(readFileSync(configFile(), 'utf8')) as Record<string, unknown>;
      expect(saved).toEqual({ pendingLogin: { server: scripted.baseUrl, phone: '+15550009999', typed: phone, challenge: SCRIPTED.challenge, expiresAt: expect.any(Number) } });
      expect(statSync(configFile()).mode & 0o777).toBe(0o600);

      // A wrong code: refused, and the pending login stays for another try.
      expectFriendlyFailure(await cli(xdg(), ['login', '+15550009999', '--code', '000000', '--server', scripted.baseUrl]), 3, /Wrong code/);
      expect(JSON.parse(readFileSync(configFile(), 'utf8'))).toHaveProperty('pendingLogin.challenge', SCRIPTED.challenge);

      // Another notation of the same number completes it.
      const done = await cli(xdg(), ['login', '+1 (555) 000-9999', '--code', SCRIPTED.code, '--server', scripted.baseUrl, '--json']);
      expect(done.code, done.stderr).toBe(0);
      expect(JSON.parse(done.stdout)).toMatchObject({ userId: SCRIPTED.userId, newUser: true, usedDevCode: false });
      const verifies = scripted.requests.filter((r) => r.path === '/v1/auth/verify').map((r) => r.body);
      expect(verifies).toEqual([
        expect.objectContaining({ phone: '+15550009999', code: '000000', challenge: SCRIPTED.challenge, platform: 'cli' }),
        expect.objectContaining({ phone: '+15550009999', code: SCRIPTED.code, challenge: SCRIPTED.challenge, platform: 'cli' }),
      ]);
      const config = JSON.parse(readFileSync(configFile(), 'utf8')) as Record<string, unknown>;
      expect(config).toMatchObject({ server: scripted.baseUrl, session: { userId: SCRIPTED.userId, token: SCRIPTED.token } });
      expect(config).not.toHaveProperty('pendingLogin');

      // A --code run with nothing pending asks for the first step instead of guessing a challenge.
      expectFriendlyFailure(
        await cli(join(home, 'scripted-nothing-pending'), ['login', phone, '--code', SCRIPTED.code, '--server', scripted.baseUrl]),
        3,
        /No code was requested for \+1 555 000 9999 .* run `messenger login \+1 555 000 9999` first/,
      );
    }, 60_000);

    it('rate limits read as one line that says how long to wait', async () => {
      scripted.otp = 'rate_limited';
      const otp = await cli(join(home, 'scripted-otp-limited'), ['login', phone, '--server', scripted.baseUrl, '--json']);
      expectFriendlyFailure(otp, 6, /^Error: A code was requested for this number a moment ago; try again in 2 minutes/);
      expect(JSON.parse(otp.stdout)).toMatchObject({ error: { code: 'otp_rate_limited', exitCode: 6 } });
      expect(existsSync(join(home, 'scripted-otp-limited', 'edge-messenger', 'config.json'))).toBe(false);
      scripted.otp = 'ok';

      scripted.me = 'rate_limited';
      expectFriendlyFailure(await cli(xdg(), ['whoami', '--server', scripted.baseUrl]), 6, /Too many requests to http:\/\/127\.0\.0\.1:\d+; try again in 45 seconds$/);
      scripted.me = 'ok';
    }, 60_000);

    it('a rate-limited send stays in the outbox and goes out later with the same id; the socket never carries the token', async () => {
      scripted.sends = 'rate_limited';
      const limited = await cli(xdg(), ['send', '+15550008888', 'hold on', '--server', scripted.baseUrl, '--timeout', '5']);
      expectFriendlyFailure(limited, 6, /Rate limited: the server takes more messages in 1 minute; the message stays in the outbox/);
      const queued = await cliJson<{ messages: Array<{ clientId: string; to: string; body: { text: string } }> }>(xdg(), ['outbox', 'list', '--server', scripted.baseUrl]);
      expect(queued.messages).toEqual([expect.objectContaining({ to: SCRIPTED.peerId, body: { kind: 'text', text: 'hold on' } })]);
      const clientId = queued.messages[0]!.clientId;

      // Still limited: `outbox send` reports the wait instead of sitting out its timeout.
      const still = await cliJson<{ sent: number; waiting: number; retryAfterMs: number | null }>(xdg(), ['outbox', 'send', '--server', scripted.baseUrl]);
      expect(still).toMatchObject({ sent: 0, waiting: 1 });
      expect(still.retryAfterMs).toBeGreaterThan(50_000);

      scripted.sends = 'sent';
      const flushed = await cliJson<{ sent: number; failed: number; waiting: number }>(xdg(), ['outbox', 'send', '--server', scripted.baseUrl]);
      expect(flushed).toEqual({ sent: 1, failed: 0, waiting: 0, retryAfterMs: null });
      expect((await cliJson<{ messages: unknown[] }>(xdg(), ['outbox', 'list', '--server', scripted.baseUrl])).messages).toEqual([]);

      const sends = scripted.frames.flatMap((f) => (f.type === 'send' ? [f.id] : []));
      expect(sends).toEqual([clientId, clientId, clientId]);
      // Every connection opened with its own single-use ticket, fetched with the token.
      expect(scripted.sockets).toHaveLength(3);
      expect(new Set(scripted.sockets).size).toBe(3);
      for (const url of scripted.sockets) {
        expect(url).toMatch(/^\/v1\/connect\?ticket=scripted-ticket-\d+/);
        expect(url).not.toContain('token');
        expect(url).not.toContain(SCRIPTED.token);
      }
      const ticketRequests = scripted.requests.filter((r) => r.path === '/v1/connect/ticket');
      expect(ticketRequests.map((r) => [r.method, r.authorization])).toEqual(Array(3).fill(['POST', `Bearer ${SCRIPTED.token}`]));
    }, 60_000);

    it('an expired token is renewed once for commands running at the same time; a copied login that renews again logs the device out', async () => {
      // A copy of the login, as a thief with the config file would have it.
      const thief = join(home, 'scripted-copy');
      mkdirSync(join(thief, 'edge-messenger'), { recursive: true });
      writeFileSync(join(thief, 'edge-messenger', 'config.json'), readFileSync(configFile(), 'utf8'));
      const before = JSON.parse(readFileSync(configFile(), 'utf8')) as { session: { token: string; refreshToken: string } };
      expect(before.session).toMatchObject({ token: SCRIPTED.token, refreshToken: SCRIPTED.refreshToken });

      scripted.expireTokens();
      const refreshesBefore = scripted.requests.filter((r) => r.path === '/v1/auth/refresh').length;
      const runs = await Promise.all([1, 2, 3].map(() => cli(xdg(), ['whoami', '--server', scripted.baseUrl, '--json'])));
      for (const run of runs) {
        expect(run.code, run.stderr).toBe(0);
        expect(JSON.parse(run.stdout)).toMatchObject({ userId: SCRIPTED.userId });
      }
      const refreshes = scripted.requests.filter((r) => r.path === '/v1/auth/refresh').slice(refreshesBefore);
      expect(refreshes.map((r) => r.body)).toEqual([{ refreshToken: SCRIPTED.refreshToken }]);
      const after = JSON.parse(readFileSync(configFile(), 'utf8')) as { session: { token: string; refreshToken: string } };
      expect(after.session).toMatchObject({ token: 'scripted-token-1', refreshToken: 'scripted-refresh-token-1' });
      expect(statSync(configFile()).mode & 0o777).toBe(0o600);
      expect(existsSync(join(xdg(), 'edge-messenger', 'refresh.lock'))).toBe(false);

      // The copy presents the spent refresh token: the server logs the device out, for both.
      scripted.expireTokens();
      expectFriendlyFailure(await cli(thief, ['whoami', '--server', scripted.baseUrl]), 3, /This login has ended .*run `messenger login <phone>`/);
      expect(JSON.parse(readFileSync(join(thief, 'edge-messenger', 'config.json'), 'utf8'))).not.toHaveProperty('session');
      expectFriendlyFailure(await cli(xdg(), ['whoami', '--server', scripted.baseUrl]), 3, /This login has ended|This device was logged out/);
      expectFriendlyFailure(await cli(xdg(), ['whoami', '--server', scripted.baseUrl]), 3, /Not logged in/);
    }, 60_000);
  });
});
