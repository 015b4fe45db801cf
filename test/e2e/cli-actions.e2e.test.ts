/**
 * Black box: the message actions through the real CLI against a real local server (issue 13):
 * reply, react, edit, delete (for everyone, for me, by a group admin), star and `starred`,
 * forward ("Forwarded", "Forwarded many times"), `unread`; messages named by id or by `last` /
 * `last-N`; what `history` shows afterwards; one friendly line per refusal the CLI can meet
 * cheaply; and with the server down, an action kept in the outbox like a send.
 *
 * CLI_TEST_NODE=/path/to/node runs the CLI with another Node (e.g. 20) than the tests.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliSuite, expectFriendlyFailure } from '../support/cli-suite.ts';
import type { User } from '../support/cli-suite.ts';

const suite = cliSuite('messenger-cli-actions-');
const { cli, cliJson, newUser } = suite;

interface Msg {
  id: string;
  from: string;
  body: { kind: string; text?: string; by?: string; scope?: string };
  replyTo?: { id: string; from: string; snippet: string };
  reactions?: Array<{ by: string; emoji: string }>;
  editedAt?: number;
  starred?: true;
  forwarded?: number;
}
type DirectPage = { messages: Array<{ message: Msg }> };
type MediaMsg = Msg & { body: { kind: string; caption?: string; media?: { id: string } } };
type GroupPage = { entries: Array<{ entry: { type: string; message?: Msg } }> };
type Acted = { chat: { kind: string; peer?: string; group?: string }; messageId: string; clientId: string; duplicate: boolean };

/** A's view of the 1:1 chat with `peer`, newest first. */
async function directMessages(user: User, peer: string): Promise<Msg[]> {
  return (await cliJson<DirectPage>(user.xdg, ['history', peer])).messages.map((item) => item.message);
}

async function groupMessages(user: User, group: string): Promise<Msg[]> {
  const page = await cliJson<GroupPage>(user.xdg, ['groups', 'history', group]);
  return page.entries.flatMap((item) => (item.entry.type === 'message' ? [item.entry.message!] : []));
}

/** The lines of a human-readable run that mention `text`. */
function linesWith(output: string, text: string): string[] {
  return output.split('\n').filter((line) => line.includes(text));
}

describe('messenger CLI message actions', () => {
  it('reply, react, edit, star, delete in a 1:1 chat by `last` and by id, and what history shows', async () => {
    const ann = await newUser('Ann');
    const bob = await newUser('Bob');
    const first = await cliJson<{ messageId: string }>(bob.xdg, ['send', ann.phone, 'see you at 8?']);

    // `last` is Bob's message: Ann answers it, quoting it.
    const reply = await cliJson<{ messageId: string; replyTo: string; chat: { peer: string } }>(ann.xdg, ['reply', 'Bob', 'last', 'yes, 8 is fine']);
    expect(reply).toMatchObject({ replyTo: first.messageId, chat: { kind: 'direct', peer: bob.userId } });
    const replied = await cli(bob.xdg, ['reply', 'Ann', reply.messageId, 'great']);
    expect(replied.code, replied.stderr).toBe(0);
    expect(replied.stdout.trim()).toMatch(/^Replied to Ann's message "yes, 8 is fine" ✓$/);

    // Reactions: Ann on Bob's first message (last-2 now), Bob on Ann's reply (by id).
    const reacted = await cliJson<Acted & { emoji: string }>(ann.xdg, ['react', 'Bob', 'last-2', '👍']);
    expect(reacted).toMatchObject({ messageId: first.messageId, emoji: '👍', duplicate: false });
    const human = await cli(bob.xdg, ['react', 'Ann', reply.messageId, '❤️']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout.trim()).toBe('Reacted ❤️ to Ann\'s message "yes, 8 is fine"');

    // Edit: `last` means Ann's own newest message (Bob's "great" is newer).
    const edited = await cli(ann.xdg, ['edit', 'Bob', 'last', 'yes, 9 is fine']);
    expect(edited.code, edited.stderr).toBe(0);
    expect(edited.stdout.trim()).toBe('Edited your message "yes, 8 is fine": now "yes, 9 is fine"');
    const star = await cliJson<Acted & { starred: boolean }>(ann.xdg, ['star', 'Bob', first.messageId]);
    expect(star).toMatchObject({ messageId: first.messageId, starred: true });

    const annView = await directMessages(ann, 'Bob');
    const byId = new Map(annView.map((m) => [m.id, m]));
    expect(byId.get(first.messageId)).toMatchObject({ reactions: [{ by: ann.userId, emoji: '👍' }], starred: true });
    expect(byId.get(reply.messageId)).toMatchObject({
      body: { kind: 'text', text: 'yes, 9 is fine' },
      replyTo: { id: first.messageId, from: bob.userId, snippet: 'see you at 8?' },
      reactions: [{ by: bob.userId, emoji: '❤️' }],
    });
    expect(byId.get(reply.messageId)?.editedAt).toEqual(expect.any(Number));
    // Bob sees the edit and the reactions, but not Ann's star.
    const bobView = new Map((await directMessages(bob, ann.phone)).map((m) => [m.id, m]));
    expect(bobView.get(reply.messageId)?.body.text).toBe('yes, 9 is fine');
    expect(bobView.get(first.messageId)?.starred).toBeUndefined();

    // History for people: the quote on the line before, (edited), reactions, ★, ids with --ids.
    const history = await cli(ann.xdg, ['history', 'Bob', '--ids']);
    expect(history.code, history.stderr).toBe(0);
    const lines = history.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(new RegExp(`^\\[\\d\\d:\\d\\d\\] Bob: see you at 8\\? 👍 1 ★ \\(id ${first.messageId}\\)$`));
    expect(lines[1]).toMatch(/^ {8}↪ Bob: see you at 8\?$/);
    expect(lines[2]).toMatch(new RegExp(`^\\[\\d\\d:\\d\\d\\] You: yes, 9 is fine \\(edited\\) ✓+( read)? ❤️ 1 \\(id ${reply.messageId}\\)$`));
    // A quote keeps what the message said when it was answered.
    expect(lines[3]).toMatch(/^ {8}↪ You: yes, 8 is fine$/);
    expect(lines[4]).toMatch(/^\[\d\d:\d\d\] Bob: great \(id [0-9A-Z]{26}\)$/);

    // The starred list, then unstar.
    const starred = await cli(ann.xdg, ['starred']);
    expect(starred.stdout.trim()).toMatch(new RegExp(`^\\[\\d\\d:\\d\\d\\] Bob › Bob: see you at 8\\? 👍 1 ★ \\(id ${first.messageId}\\)$`));
    expect((await cliJson<{ messages: Array<{ message: Msg }> }>(ann.xdg, ['starred'])).messages.map((m) => m.message.id)).toEqual([first.messageId]);
    await cliJson(ann.xdg, ['star', 'Bob', first.messageId, '--remove']);
    expect((await cli(ann.xdg, ['starred'])).stdout.trim()).toMatch(/^No starred messages/);

    // Removing a reaction: --remove, or an empty emoji.
    const removed = await cliJson<Acted & { emoji: null }>(ann.xdg, ['react', 'Bob', first.messageId, '']);
    expect(removed.emoji).toBeNull();
    expect((await directMessages(bob, ann.phone)).find((m) => m.id === first.messageId)?.reactions ?? []).toEqual([]);

    // Delete for everyone: a tombstone on both sides.
    const oops = await cliJson<{ messageId: string }>(ann.xdg, ['send', 'Bob', 'wrong chat, sorry']);
    const deleted = await cli(ann.xdg, ['delete', 'Bob', 'last']);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout.trim()).toBe('Deleted your message "wrong chat, sorry" for everyone');
    expect((await directMessages(bob, ann.phone)).find((m) => m.id === oops.messageId)?.body).toMatchObject({ kind: 'deleted', scope: 'everyone', by: ann.userId });
    const bobHistory = await cli(bob.xdg, ['history', ann.phone]);
    expect(linesWith(bobHistory.stdout, 'wrong chat')).toEqual([]);
    expect(bobHistory.stdout).toMatch(/^\[\d\d:\d\d\] Ann: This message was deleted$/m);

    // Delete for me: gone from Ann's history only.
    const forMe = await cliJson<Acted & { scope: string }>(ann.xdg, ['delete', 'Bob', first.messageId, '--for-me']);
    expect(forMe.scope).toBe('me');
    expect((await directMessages(ann, 'Bob')).map((m) => m.id)).not.toContain(first.messageId);
    expect(linesWith((await cli(ann.xdg, ['history', 'Bob'])).stdout, 'see you at 8?').every((line) => line.includes('↪'))).toBe(true);
    expect((await directMessages(bob, ann.phone)).find((m) => m.id === first.messageId)?.body.text).toBe('see you at 8?');
  }, 180_000);

  it('refusals are one friendly line with the usual exit codes', async () => {
    const ann = await newUser('Ann');
    const bob = await newUser('Bob');
    const bobs = await cliJson<{ messageId: string }>(bob.xdg, ['send', ann.phone, 'hello Ann']);

    // Someone else's message: not_your_message (5), for edit and for delete for everyone.
    expectFriendlyFailure(await cli(ann.xdg, ['edit', 'Bob', bobs.messageId, 'changed']), 5, /That is not your message: only its sender can edit it/);
    expectFriendlyFailure(await cli(ann.xdg, ['delete', 'Bob', bobs.messageId]), 5, /That is not your message/);
    // `last` of yours when you wrote nothing: found by the CLI (4).
    expectFriendlyFailure(await cli(ann.xdg, ['edit', 'Bob', 'last', 'changed']), 4, /There is no message of yours in the chat with Bob/);
    expectFriendlyFailure(await cli(ann.xdg, ['react', 'Bob', 'last-5', '👍']), 4, /There is only 1 message in the chat with Bob \(last-5 needs 6\)/);
    // An id that is no message of this chat: message_not_found (4).
    const json = await cli(ann.xdg, ['react', 'Bob', '01ARZ3NDEKTSV4RRFFQ69G5FAV', '👍', '--json']);
    expectFriendlyFailure(json, 4, /No such message in this chat/);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'message_not_found', exitCode: 4 } });
    // A deleted message: message_deleted (5).
    const gone = await cliJson<{ messageId: string }>(bob.xdg, ['send', ann.phone, 'never mind']);
    await cliJson(bob.xdg, ['delete', 'Ann', gone.messageId]);
    expectFriendlyFailure(await cli(ann.xdg, ['react', 'Bob', gone.messageId, '👍']), 5, /That message was deleted/);
    // The same --id for another action: id_conflict (5).
    await cliJson(ann.xdg, ['react', 'Bob', bobs.messageId, '👍', '--id', 'cli-actions-1']);
    expectFriendlyFailure(await cli(ann.xdg, ['react', 'Bob', bobs.messageId, '🎉', '--id', 'cli-actions-1']), 5, /That --id was already used for something else/);
    // A retry with the same --id and content is answered as done before.
    expect(await cliJson<Acted>(ann.xdg, ['react', 'Bob', bobs.messageId, '👍', '--id', 'cli-actions-1'])).toMatchObject({ duplicate: true });

    // Bad arguments (2) and unknown chats (4).
    expectFriendlyFailure(await cli(ann.xdg, ['react', 'Bob', 'newest', '👍']), 2, /"newest" is not a message: give its id/);
    expectFriendlyFailure(await cli(ann.xdg, ['react', 'Bob', 'last']), 2, /Missing the emoji/);
    expectFriendlyFailure(await cli(ann.xdg, ['react', 'Bob', 'last', 'two words']), 2, /A reaction is one emoji/);
    expectFriendlyFailure(await cli(ann.xdg, ['reply', 'Bob', 'last']), 2, /Missing arguments; usage: messenger reply <chat> <message> <text...>/);
    expectFriendlyFailure(await cli(ann.xdg, ['star', 'Zed', 'last']), 4, /No contact called "Zed", and no chat with anyone of that name or group of that title/);
  }, 180_000);

  it('in a group: replies, reactions by several, an admin deleting a member\'s message, forwards up to "Forwarded many times"', async () => {
    const ann = await newUser('Ann');
    const bob = await newUser('Bob');
    const group = await cliJson<{ groupId: string }>(ann.xdg, ['groups', 'create', 'Crag', bob.phone]);
    expect((await cli(bob.xdg, ['invites', 'accept', 'Crag'])).code).toBe(0);
    const plan = await cliJson<{ messageId: string }>(bob.xdg, ['groups', 'send', 'Crag', 'meet at the crag at 10']);

    // <chat> takes a group's title; `last` is Bob's message.
    const reply = await cliJson<{ messageId: string; replyTo: string; gseq: number }>(ann.xdg, ['reply', 'Crag', 'last', 'I bring the rope']);
    expect(reply).toMatchObject({ replyTo: plan.messageId, gseq: expect.any(Number) });
    await cliJson(ann.xdg, ['react', 'Crag', plan.messageId, '👍']);
    await cliJson(bob.xdg, ['react', 'Crag', 'last-1', '👍']);
    const history = await cli(bob.xdg, ['history', 'Crag']);
    expect(history.code, history.stderr).toBe(0);
    expect(history.stdout).toMatch(/^\[\d\d:\d\d\] You: meet at the crag at 10 .*👍 2$/m);
    expect(history.stdout).toMatch(/^ {8}↪ You: meet at the crag at 10\n\[\d\d:\d\d\] Ann: I bring the rope$/m);
    // `chat` takes the group too, and shows the same.
    const chat = await cli(bob.xdg, ['chat', 'Crag'], { input: 'from the chat\n' });
    expect(chat.code, chat.stderr).toBe(0);
    expect(chat.stdout).toContain('── Crag (group) ──');
    expect(chat.stdout).toMatch(/^ {8}↪ You: meet at the crag at 10\n\[\d\d:\d\d\] Ann: I bring the rope$/m);
    expect((await groupMessages(ann, group.groupId))[0]?.body.text).toBe('from the chat');

    // Forward Bob's group message to Bob's chat with Ann, then back and forth: the fifth hop is "many times".
    const forwarded = await cliJson<{ messageId: string; forwards: Array<{ chat: { peer: string }; messageId: string }> }>(ann.xdg, ['forward', 'Crag', plan.messageId, bob.phone]);
    expect(forwarded.forwards).toEqual([expect.objectContaining({ chat: { kind: 'direct', peer: bob.userId } })]);
    expect((await directMessages(bob, ann.phone))[0]).toMatchObject({ forwarded: 1, body: { text: 'meet at the crag at 10' } });
    expect((await cli(bob.xdg, ['history', ann.phone])).stdout).toMatch(/^\[\d\d:\d\d\] Ann: Forwarded: meet at the crag at 10$/m);
    for (const [from, to] of [
      [bob, ann.phone],
      [ann, bob.phone],
      [bob, ann.phone],
    ] as const) {
      await cliJson(from.xdg, ['forward', to, 'last', to]);
    }
    expect((await directMessages(bob, ann.phone))[0]).toMatchObject({ forwarded: 4 });
    await cliJson(ann.xdg, ['forward', bob.phone, 'last', bob.phone]);
    expect((await directMessages(bob, ann.phone))[0]).toMatchObject({ forwarded: 5 });
    expect((await cli(bob.xdg, ['history', ann.phone])).stdout.trimEnd().split('\n').at(-1)).toMatch(/^\[\d\d:\d\d\] Ann: Forwarded many times: meet at the crag at 10$/);

    // The admin deletes Bob's message for everyone: "deleted by an admin" for both.
    const deleted = await cli(ann.xdg, ['delete', 'Crag', plan.messageId]);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout.trim()).toBe('Deleted Bob\'s message "meet at the crag at 10" for everyone');
    const after = (await groupMessages(bob, group.groupId)).find((m) => m.id === plan.messageId);
    expect(after?.body).toMatchObject({ kind: 'deleted', scope: 'everyone', by: ann.userId });
    expect((await cli(bob.xdg, ['groups', 'history', 'Crag'])).stdout).toMatch(/^\[\d\d:\d\d\] You: This message was deleted by an admin$/m);
    // A member who is not an admin cannot.
    expectFriendlyFailure(await cli(bob.xdg, ['delete', 'Crag', reply.messageId]), 5, /That is not your message/);
  }, 180_000);

  it("edits a photo's caption, and forwards the photo without a new upload", async () => {
    const ann = await newUser('Ann');
    const bob = await newUser('Bob');
    const cy = await newUser('Cy');
    // A PNG signature, then random bytes (the server does not decode images).
    writeFileSync(join(suite.home(), 'hut.png'), Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(2_000)]));
    const sent = await cliJson<{ messageId: string; mediaId: string }>(ann.xdg, ['send', bob.phone, '--file', 'hut.png', '--caption', 'the hut']);

    const human = await cli(ann.xdg, ['edit', bob.phone, 'last', 'the hut at night']);
    expect(human.stdout.trim()).toBe('Edited the caption of your photo "the hut": now "the hut at night"');
    const edited = await cliJson<Acted & { body: MediaMsg['body'] }>(ann.xdg, ['edit', bob.phone, 'last', 'the hut at dawn']);
    expect(edited.body).toMatchObject({ kind: 'image', caption: 'the hut at dawn', media: { id: sent.mediaId } });
    const photo = (await directMessages(bob, ann.phone))[0] as MediaMsg;
    expect(photo).toMatchObject({ id: sent.messageId, body: { caption: 'the hut at dawn', media: { id: sent.mediaId } } });
    expect((await cli(bob.xdg, ['history', ann.phone])).stdout).toMatch(/^\[\d\d:\d\d\] Ann: \[photo [^\]]+\] the hut at dawn \(media [0-9A-Z]{26}\) \(edited\)$/m);

    // Bob passes it on to Cy: the same media, marked forwarded; Cy may download it.
    const forwarded = await cli(bob.xdg, ['forward', ann.phone, 'last', cy.phone]);
    expect(forwarded.code, forwarded.stderr).toBe(0);
    expect(forwarded.stdout.trim()).toMatch(/^Forwarded Ann's photo "the hut at dawn" to (Cy|\+\d+) ✓$/);
    const copy = (await directMessages(cy, bob.phone))[0] as MediaMsg;
    expect(copy).toMatchObject({ from: bob.userId, forwarded: 1, body: { kind: 'image', caption: 'the hut at dawn', media: { id: sent.mediaId } } });
    const download = await cli(cy.xdg, ['download', sent.mediaId, '--output', join(suite.home(), 'cy-hut.png')]);
    expect(download.code, download.stderr).toBe(0);
  }, 120_000);

  it('listen tells of reactions, replies, edits and deletions as they happen', async () => {
    const ann = await newUser('Ann');
    const bob = await newUser('Bob');
    await cliJson(ann.xdg, ['send', bob.phone, 'hi Bob']);
    // Ann listens until two messages from others arrived; Bob acts meanwhile.
    const listening = cli(ann.xdg, ['listen', '--count', '2', '--timeout', '60']);
    await cliJson(bob.xdg, ['react', 'Ann', 'last', '👍']);
    await cliJson(bob.xdg, ['reply', 'Ann', 'last', 'first']);
    await cliJson(bob.xdg, ['edit', 'Ann', 'last', 'first!']);
    await cliJson(bob.xdg, ['delete', 'Ann', 'last']);
    await cliJson(bob.xdg, ['send', 'Ann', 'bye']);
    const listened = await listening;
    expect(listened.code, listened.stderr).toBe(0);
    // Left out: Ann's own message (her `send` may end before its echo is acknowledged) and receipts.
    const lines = listened.stdout
      .trimEnd()
      .split('\n')
      .map((line) => line.replace(/^\[\d\d:\d\d\] /, ''))
      .filter((line) => !line.startsWith('You → ') && !/ of yours ✓✓/.test(line));
    expect(lines).toEqual([
      'Bob reacted 👍 to your message "hi Bob"',
      'Bob: first (↪ You: hi Bob)',
      'Bob edited their message: now "first!"',
      'Bob deleted their message',
      'Bob: bye',
    ]);
  }, 120_000);

  it('unread marks a chat in the chat list until it is read', async () => {
    const ann = await newUser('Ann');
    const bob = await newUser('Bob');
    await cliJson(bob.xdg, ['send', ann.phone, 'hi']);
    await cliJson(ann.xdg, ['history', 'Bob']);
    const chat = await cli(ann.xdg, ['chat', 'Bob'], { input: '' });
    expect(chat.code, chat.stderr).toBe(0);
    type Row = { peer?: string; unread: number; markedUnread: boolean };
    const before = await cliJson<{ conversations: Row[] }>(ann.xdg, ['chats']);
    expect(before.conversations.find((c) => c.peer === bob.userId)).toMatchObject({ unread: 0, markedUnread: false });

    const marked = await cli(ann.xdg, ['unread', 'Bob']);
    expect(marked.code, marked.stderr).toBe(0);
    expect(marked.stdout.trim()).toBe('Marked the chat with Bob as unread');
    expect((await cliJson<{ conversations: Row[] }>(ann.xdg, ['chats'])).conversations.find((c) => c.peer === bob.userId)).toMatchObject({ markedUnread: true });
    expect((await cli(ann.xdg, ['chats'])).stdout).toMatch(/^Bob marked unread {2}\[/m);
    expect(await cliJson(ann.xdg, ['unread', 'Bob', '--clear'])).toEqual({ chat: { kind: 'direct', peer: bob.userId }, unread: false });
    expect((await cliJson<{ conversations: Row[] }>(ann.xdg, ['chats'])).conversations.find((c) => c.peer === bob.userId)).toMatchObject({ markedUnread: false });
  }, 120_000);

  it('with the server down, an action on a message id is kept in the outbox (exit 6) and sent by the next command', async () => {
    const ann = await newUser('Ann');
    const bob = await newUser('Bob');
    const hello = await cliJson<{ messageId: string }>(bob.xdg, ['send', ann.phone, 'hello']);
    await cliJson(ann.xdg, ['chats']);

    await suite.server().stop();
    try {
      const kept = await cli(ann.xdg, ['react', 'Bob', hello.messageId, '🎉']);
      expectFriendlyFailure(kept, 6, /^Error: Cannot reach the server at http:\/\/127\.0\.0\.1:\d+; your reaction to message [0-9A-Z]{26} is kept in the outbox/);
      const replyKept = await cli(ann.xdg, ['reply', 'Bob', hello.messageId, 'hi back']);
      expectFriendlyFailure(replyKept, 6, /your reply to message [0-9A-Z]{26} is kept in the outbox/);
      // `last` needs the server to find the message: nothing is kept.
      expectFriendlyFailure(await cli(ann.xdg, ['react', 'Bob', 'last', '👍']), 6, /`last` needs to find the message; name it by its id/);
      const outbox = await cliJson<{ messages: Array<Record<string, unknown>> }>(ann.xdg, ['outbox', 'list']);
      expect(outbox.messages).toEqual([
        expect.objectContaining({ chat: { kind: 'direct', peer: bob.userId }, target: hello.messageId, action: { kind: 'react', emoji: '🎉' } }),
        expect.objectContaining({ to: bob.userId, replyTo: hello.messageId, body: { kind: 'text', text: 'hi back' } }),
      ]);
      expect((await cli(ann.xdg, ['outbox', 'list'])).stdout).toMatch(/→ Bob: react 🎉 \(message [0-9A-Z]{26}\) ⏱/);
    } finally {
      await suite.server().restart();
    }

    const flushed = await cliJson<{ failed: number; waiting: number; sent: number }>(ann.xdg, ['outbox', 'send']);
    expect(flushed).toMatchObject({ failed: 0, waiting: 0, sent: 2 });
    const bobView = await directMessages(bob, ann.phone);
    expect(bobView.find((m) => m.id === hello.messageId)?.reactions).toEqual([expect.objectContaining({ by: ann.userId, emoji: '🎉' })]);
    expect(bobView[0]).toMatchObject({ body: { text: 'hi back' }, replyTo: { id: hello.messageId } });
  }, 180_000);
});
