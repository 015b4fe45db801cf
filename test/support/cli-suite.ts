/**
 * The frame of a black-box CLI test file: one real local server, a scratch home folder, and the
 * `messenger` CLI (cli/bin.mjs) run as a child process as one user per config folder
 * (XDG_CONFIG_HOME). Every child still running when the file ends is killed.
 *
 * CLI_TEST_NODE=/path/to/node runs the CLI with another Node (e.g. 20) than the tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect } from 'vitest';
import { nextPhone } from './phones.ts';
import { SERVER_HOOK_MS, startServer, type LocalServer, type StartOptions } from './server.ts';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const BIN = join(ROOT, 'cli/bin.mjs');
export const NODE = process.env.CLI_TEST_NODE ?? process.execPath;

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A CLI user: a config folder of their own and a phone number. */
export interface User {
  name: string;
  phone: string;
  xdg: string;
  userId: string;
}

export type CliSuite = {
  server: () => LocalServer;
  /** The scratch folder the CLI runs in (and config folders live under). */
  home: () => string;
  /** The environment of a CLI run as `xdg`'s user against the file's server. */
  env: (xdg: string) => NodeJS.ProcessEnv;
  /** Run any command to the end with `input` on stdin (killed after 60 s). */
  run: (command: string, args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv; input?: string }) => Promise<Result>;
  /** Run the CLI as `xdg`'s user to the end (in `cwd`, default the home folder). */
  cli: (xdg: string, args: readonly string[], options?: { cwd?: string; input?: string }) => Promise<Result>;
  /** Run the CLI with `--json`; it must succeed; its parsed output. */
  cliJson: <T>(xdg: string, args: readonly string[], options?: { cwd?: string }) => Promise<T>;
  /** Log a new user in with the CLI (a config folder of their own). */
  newUser: (name: string) => Promise<User>;
};

/**
 * @example
 * const { cli, newUser } = cliSuite('messenger-cli-media-');
 */
export function cliSuite(prefix: string, serverOptions: StartOptions = {}): CliSuite {
  let server: LocalServer | undefined;
  let home: string | undefined;
  const children = new Set<ChildProcess>();
  let users = 0;

  beforeAll(async () => {
    server = await startServer(undefined, serverOptions);
    home = mkdtempSync(join(tmpdir(), prefix));
  }, SERVER_HOOK_MS);

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await server?.dispose();
    if (home !== undefined) rmSync(home, { recursive: true, force: true });
  });

  const current = (): LocalServer => {
    if (server === undefined) throw new Error('the server has not started');
    return server;
  };
  const homeDir = (): string => {
    if (home === undefined) throw new Error('the suite has not started');
    return home;
  };
  const env = (xdg: string): NodeJS.ProcessEnv => {
    const vars: NodeJS.ProcessEnv = { ...process.env, XDG_CONFIG_HOME: xdg, NO_COLOR: '1', MESSENGER_URL: current().baseUrl, TERM: 'dumb' };
    delete vars.MESSENGER_CONFIG_DIR;
    return vars;
  };
  const run: CliSuite['run'] = (command, args, options) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdin.end(options.input ?? '');
    return new Promise((done) =>
      child.once('close', (code) => {
        clearTimeout(killer);
        children.delete(child);
        done({ code, stdout, stderr });
      }),
    );
  };
  const cli: CliSuite['cli'] = (xdg, args, options = {}) =>
    run(NODE, [BIN, ...args], { cwd: options.cwd ?? homeDir(), env: env(xdg), ...(options.input === undefined ? {} : { input: options.input }) });
  const cliJson = async <T>(xdg: string, args: readonly string[], options: { cwd?: string } = {}): Promise<T> => {
    const result = await cli(xdg, [...args, '--json'], options);
    expect(result.code, `messenger ${args.join(' ')}\n${result.stderr}`).toBe(0);
    return JSON.parse(result.stdout) as T;
  };
  const newUser = async (name: string): Promise<User> => {
    users += 1;
    const xdg = join(homeDir(), `${name.toLowerCase()}-${users}`);
    const phone = nextPhone();
    const login = await cliJson<{ userId: string }>(xdg, ['login', phone, '--server', current().baseUrl, '--name', name]);
    return { name, phone, xdg, userId: login.userId };
  };
  return { server: current, home: homeDir, env, run, cli, cliJson, newUser };
}

/** One friendly line on stderr (`Error: …`), no stack trace, and the expected exit code. */
export function expectFriendlyFailure(result: Result, exitCode: number, message: RegExp): void {
  expect(result.code, result.stderr).toBe(exitCode);
  const lines = result.stderr.trim().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^Error: /);
  expect(lines[0]).toMatch(message);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}
