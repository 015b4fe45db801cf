/**
 * Black box: the CLI with a large group (issue 17, read diffusion; the server runs with
 * GROUP_LOG_DELIVERY_MIN=3, so a group of four or more switches). The CLI user Uli is in a group
 * whose other members write through the SDK before and after the switch:
 * - `groups history` / `history` print the log part (items with `seq: null`) and page back with
 *   --before-gseq into the mailbox part (--before), every message once and in order;
 * - `chat --json` shows the history page, then the group's live log entries as
 *   `group_log_entry` lines, sends typed lines, and marks what it showed read (by gseq);
 * - `chat` for people shows log entries like any group message; `listen --json` prints them as
 *   `group_log_entry` lines, once across runs;
 * - a removed member's history ends at the removal.
 *
 * CLI_TEST_NODE=/path/to/node runs the CLI with another Node (e.g. 20) than the tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import type { GroupHistoryItem } from '../../client/index.ts';
import { gseqOf } from '../../protocol/index.ts';
import { BIN, NODE, cliSuite, expectFriendlyFailure, type Result, type User } from '../support/cli-suite.ts';
import { device, nextPhone, type TestClient } from '../support/clients.ts';

const suite = cliSuite('messenger-cli-large-', { args: ['--var', 'GROUP_LOG_DELIVERY_MIN:3'] });
const { cli, cliJson, newUser } = suite;

const sdkClients: TestClient[] = [];
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const client of sdkClients) client.close();
  for (const child of children) child.kill('SIGKILL');
});

/** A CLI process left running (`chat`): its output so far, a wait for some of it, and its end. */
function start(xdg: string, args: readonly string[]): { write(text: string): void; end(): void; waitFor(text: string | RegExp): Promise<void>; exited: Promise<Result> } {
  const child = spawn(NODE, [BIN, ...args], { cwd: suite.home(), env: suite.env(xdg), stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<Result>((done) =>
    child.once('close', (code) => {
      children.delete(child);
      done({ code, stdout, stderr });
    }),
  );
  return {
    write: (text) => child.stdin.write(text),
    end: () => child.stdin.end(),
    async waitFor(text) {
      const found = (): boolean => (typeof text === 'string' ? stdout.includes(text) : text.test(stdout));
      const deadline = Date.now() + 20_000;
      while (!found()) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`waiting for ${String(text)}; stdout so far:\n${stdout}\nstderr:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    exited,
  };
}

/** Wait until `check` holds (each check runs the CLI, so no tight loop). */
async function until(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}

function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function textOf(item: GroupHistoryItem): string | null {
  const { entry } = item;
  return entry.type === 'message' && entry.message.body.kind === 'text' ? entry.message.body.text : null;
}

type GroupPage = { group: { groupId: string }; entries: GroupHistoryItem[]; nextBefore: number | null; nextBeforeGseq: number | null };
type ChatRow = { kind: string; group?: string; unread: number; last: GroupHistoryItem };

const EARLY = Array.from({ length: 25 }, (_, i) => `early ${String(i + 1).padStart(2, '0')}`);
const LATE = Array.from({ length: 30 }, (_, i) => `late ${String(i + 1).padStart(2, '0')}`);

describe('messenger CLI with a large group', () => {
  let uli: User;
  let cat: TestClient;
  let dan: TestClient;
  let groupId: string;

  async function member(name: string): Promise<TestClient> {
    const client = await device(suite.server().baseUrl, nextPhone(), `${name}-sdk`);
    sdkClients.push(client);
    await client.api.updateMe({ displayName: name });
    await client.api.updateSettings({ privacy: { groups: 'everyone' } });
    await client.connect();
    return client;
  }

  /** Uli's row of the group in `chats --json`. */
  async function row(): Promise<ChatRow | undefined> {
    const chats = await cliJson<{ conversations: ChatRow[] }>(uli.xdg, ['chats']);
    return chats.conversations.find((c) => c.kind === 'group' && c.group === groupId);
  }

  it('history prints the log part, then pages back through both cursors to the first message, each once', async () => {
    uli = await newUser('Uli');
    expect((await cli(uli.xdg, ['settings', 'privacy', '--groups', 'everyone'])).code).toBe(0);
    cat = await member('Cat');
    dan = await member('Dan');
    const eve = await member('Eve');
    groupId = (await cat.api.createGroup({ title: 'Plaza', members: [uli.userId, dan.userId!] })).groupId;
    for (const [i, text] of EARLY.entries()) await (i % 2 === 0 ? cat : dan).sendGroupText(groupId, text).sent;
    // A fourth member: past the threshold, the group switches to read diffusion.
    await cat.api.addGroupMembers(groupId, [eve.userId!]);
    for (const [i, text] of LATE.entries()) await (i % 2 === 0 ? cat : dan).sendGroupText(groupId, text).sent;

    // The chat list: the newest entry comes from the log, unread counts both parts.
    const listed = await row();
    expect(listed?.last.seq).toBeNull();
    expect(listed && textOf(listed.last)).toBe('late 30');
    expect(listed?.unread).toBe(EARLY.length + LATE.length);

    // Pages of 20, newest first: the log (seq null, --before-gseq), then the mailbox copy (--before).
    const seen: GroupHistoryItem[] = [];
    let args: string[] = [];
    let pages = 0;
    const cursors: string[] = [];
    for (;;) {
      const page = await cliJson<GroupPage>(uli.xdg, ['groups', 'history', groupId, '--limit', '20', ...args]);
      pages += 1;
      seen.push(...page.entries);
      if (page.nextBeforeGseq !== null) args = ['--before-gseq', String(page.nextBeforeGseq)];
      else if (page.nextBefore !== null) args = ['--before', String(page.nextBefore)];
      else break;
      cursors.push(args[0]!);
      expect(pages).toBeLessThan(20);
    }
    expect(cursors).toContain('--before-gseq');
    expect(cursors).toContain('--before');
    const texts = seen.flatMap((item) => {
      const text = textOf(item);
      return text === null ? [] : [text];
    });
    expect(texts.reverse()).toEqual([...EARLY, ...LATE]);
    // The log part came first (no mailbox seq), the copied part after it; gseqs fall throughout.
    const firstCopied = seen.findIndex((item) => item.seq !== null);
    expect(firstCopied).toBeGreaterThan(0);
    expect(seen.slice(0, firstCopied).every((item) => item.seq === null)).toBe(true);
    expect(seen.slice(firstCopied).every((item) => item.seq !== null)).toBe(true);
    const gseqs = seen.map((item) => gseqOf(item.entry));
    expect(gseqs.every((g, i) => i === 0 || g < gseqs[i - 1]!)).toBe(true);

    // For people: the newest page and how to go on (by gseq while in the log part).
    const human = await cli(uli.xdg, ['history', 'Plaza', '--limit', '5']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^\[\d\d:\d\d\] Cat: late 29$/m);
    expect(human.stdout).toMatch(/^\[\d\d:\d\d\] Dan: late 30$/m);
    expect(human.stdout).toMatch(new RegExp(`^\\(older: messenger groups history ${groupId} --before-gseq \\d+\\)$`, 'm'));
    // Wrong cursors are usage errors.
    expectFriendlyFailure(await cli(uli.xdg, ['groups', 'history', groupId, '--before', '5', '--before-gseq', '5']), 2, /--before or --before-gseq, not both/);
    expectFriendlyFailure(await cli(uli.xdg, ['history', cat.userId!, '--before-gseq', '5']), 2, /--before-gseq pages a large group/);
  }, 180_000);

  it('chat --json: the history page, then live log entries as group_log_entry lines; sends; reads by gseq', async () => {
    const chat = start(uli.xdg, ['chat', 'Plaza', '--json']);
    await chat.waitFor('"type":"history"');
    await cat.sendGroupText(groupId, 'live hello').sent;
    await chat.waitFor('live hello');
    chat.write('from the cli\n');
    await chat.waitFor('"type":"group_sent"');
    chat.end();
    const result = await chat.exited;
    expect(result.code, result.stderr).toBe(0);
    const lines = jsonLines(result.stdout);
    const history = lines[0] as { type: string; entries: GroupHistoryItem[]; nextBefore: number | null; nextBeforeGseq: number | null };
    expect(history.type).toBe('history');
    expect(history.entries[0]?.seq).toBeNull();
    expect(textOf(history.entries[0]!)).toBe('late 30');
    expect(typeof history.nextBeforeGseq).toBe('number');
    const live = lines.filter((l) => l.type === 'group_log_entry') as Array<{ group: string; gseq: number; entry: { type: string; message?: { body: { text?: string } } }; own: boolean }>;
    expect(live.filter((l) => l.entry.message?.body.text === 'live hello')).toEqual([expect.objectContaining({ group: groupId, own: false, gseq: expect.any(Number) })]);
    // This device had never pulled the group: the log since the switch is not repeated as news
    // (the history page showed its newest part).
    expect(live.map((l) => l.entry.message?.body.text)).toEqual(['live hello']);
    // The echo of our own send is not repeated (its group_sent line says it).
    expect(live.filter((l) => l.entry.message?.body.text === 'from the cli')).toEqual([]);
    expect(lines).toContainEqual(expect.objectContaining({ type: 'group_sent', group: groupId }));
    // Everything shown is read (the log by gseq, which covers the copied part below it).
    await until(async () => (await row())?.unread === 0);
    const cats = await cat.groupHistory(groupId, { limit: 3 });
    expect(cats.entries.map(textOf)).toContain('from the cli');
  }, 90_000);

  it('chat for people shows log entries like group messages', async () => {
    const chat = start(uli.xdg, ['chat', 'Plaza']);
    await chat.waitFor('── Plaza (group) ──');
    await chat.waitFor(/You: from the cli/);
    await dan.sendGroupText(groupId, 'live for people').sent;
    await chat.waitFor(/^\[\d\d:\d\d\] Dan: live for people$/m);
    chat.end();
    const result = await chat.exited;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.match(/Dan: live for people/g)).toHaveLength(1);
  }, 60_000);

  it('listen prints new log entries as group_log_entry lines, once', async () => {
    await cat.sendGroupText(groupId, 'for listen').sent;
    const first = await cli(uli.xdg, ['listen', '--json', '--count', '1', '--timeout', '30']);
    expect(first.code, first.stderr).toBe(0);
    const lines = jsonLines(first.stdout).filter((l) => l.type === 'group_log_entry');
    expect(lines).toEqual([expect.objectContaining({ group: groupId, own: false, entry: expect.objectContaining({ type: 'message' }) })]);
    expect(JSON.stringify(lines[0])).toContain('for listen');
    // The next run continues after it.
    const again = await cli(uli.xdg, ['listen', '--json', '--timeout', '2']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).not.toContain('for listen');
  }, 60_000);

  it('a removed member: history ends at the removal; nothing after it is listed', async () => {
    await cat.api.removeGroupMember(groupId, uli.userId);
    await cat.sendGroupText(groupId, 'after you left').sent;
    const page = await cliJson<GroupPage>(uli.xdg, ['history', groupId, '--limit', '5']);
    const newest = page.entries[0]?.entry;
    expect(newest?.type === 'event' ? newest.event.change : newest).toEqual({ kind: 'member_removed', member: uli.userId });
    expect(page.entries.map(textOf)).not.toContain('after you left');
    expect(page.entries.map(textOf)).toContain('for listen');
    const listed = await row();
    expect(listed?.last.entry.type).toBe('event');
  }, 60_000);
});
