/**
 * Black box: `messenger search` through the real CLI against a real local server: one line per
 * hit (time, chat, sender, the matched words in [brackets] when stdout is not a terminal, the
 * message id), the id accepted by `react`, filters, `--json`, `--more` paging through the last
 * search, and one friendly line for an empty query and for bad options.
 *
 * CLI_TEST_NODE=/path/to/node runs the CLI with another Node (e.g. 20) than the tests.
 */
import { describe, expect, it } from 'vitest';
import { cliSuite, expectFriendlyFailure } from '../support/cli-suite.ts';

const suite = cliSuite('messenger-cli-search-');
const { cli, cliJson, newUser } = suite;

type Hit = { messageId: string; from: string; chat: { kind: string; peer?: string; group?: string }; snippet: string; highlights: Array<[number, number]>; chatName: string; fromName: string };
type Page = { hits: Hit[]; nextBefore: number | null };

describe('messenger search', () => {
  it('prints one line per hit with the words marked and an id that react takes; filters, --json and --more', async () => {
    const ann = await newUser('Ann');
    const bob = await newUser('Bob');
    const cafe = await cliJson<{ messageId: string }>(bob.xdg, ['send', ann.phone, "Let's meet at the café"]);
    const meeting = await cliJson<{ messageId: string }>(ann.xdg, ['send', bob.phone, 'See you at the meeting']);

    const human = await cli(ann.xdg, ['search', 'meet']);
    expect(human.code, human.stderr).toBe(0);
    const lines = human.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    // Newest first: Ann's own message, then Bob's.
    expect(lines[0]).toMatch(/^\[[0-9: -]+\] Bob › You: See you at the \[meeting\] \(id [0-9A-Z]{26}\)$/);
    expect(lines[0]).toContain(`(id ${meeting.messageId})`);
    expect(lines[1]).toMatch(/^\[[0-9: -]+\] Bob › Bob: Let's \[meet\] at the café \(id [0-9A-Z]{26}\)$/);
    expect(lines[1]).toContain(`(id ${cafe.messageId})`);

    // The id printed is what the message actions take.
    const reacted = await cli(ann.xdg, ['react', 'Bob', cafe.messageId, '👍']);
    expect(reacted.code, reacted.stderr).toBe(0);

    // Accents, filters and --json.
    const json = await cliJson<Page>(ann.xdg, ['search', 'CAFE', '--chat', '@Bob', '--from', 'Bob']);
    expect(json.hits.map((h) => h.messageId)).toEqual([cafe.messageId]);
    expect(json.hits[0]).toMatchObject({ chatName: 'Bob', fromName: 'Bob', from: bob.userId, chat: { kind: 'direct', peer: bob.userId } });
    const mine = await cliJson<Page>(ann.xdg, ['search', 'meet', '--from', 'me', '--since', 'today', '--kind', 'text']);
    expect(mine.hits.map((h) => h.messageId)).toEqual([meeting.messageId]);
    const none = await cli(ann.xdg, ['search', 'meet', '--until', '2001-01-01']);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stdout.trim()).toBe('No messages found for "meet"');

    // --more continues the last search one page at a time, until nothing is left.
    const first = await cliJson<Page>(ann.xdg, ['search', 'meet', '--limit', '1']);
    expect(first.hits.map((h) => h.messageId)).toEqual([meeting.messageId]);
    expect(first.nextBefore).not.toBeNull();
    const second = await cliJson<Page>(ann.xdg, ['search', '--more', '--limit', '1']);
    expect(second.hits.map((h) => h.messageId)).toEqual([cafe.messageId]);
    let rest = second;
    for (let i = 0; i < 2 && rest.nextBefore !== null; i++) rest = await cliJson<Page>(ann.xdg, ['search', '--more']);
    expect(rest.nextBefore).toBeNull();
    const end = await cli(ann.xdg, ['search', '--more']);
    expect(end.code, end.stderr).toBe(0);
    expect(end.stdout.trim()).toBe('No more messages found for "meet"');
    expectFriendlyFailure(await cli(ann.xdg, ['search', 'other', '--more']), 2, /--more continues your last search \("meet"\)/);
  }, 60_000);

  it('explains an empty query, bad options and a first --more in one line', async () => {
    const cy = await newUser('Cy');
    expectFriendlyFailure(await cli(cy.xdg, ['search', '']), 2, /Type something to search for/);
    expectFriendlyFailure(await cli(cy.xdg, ['search', 'x'.repeat(201)]), 2, /at most 200 characters/);
    expectFriendlyFailure(await cli(cy.xdg, ['search', 'a b c d e f g h i']), 2, /at most 8 words/);
    expectFriendlyFailure(await cli(cy.xdg, ['search', 'hi', '--kind', 'banana']), 2, /--kind must be one of text, image/);
    expectFriendlyFailure(await cli(cy.xdg, ['search', 'hi', '--since', 'someday']), 2, /--since must be a date like 2025-03-01/);
    expectFriendlyFailure(await cli(cy.xdg, ['search', '--more']), 2, /There is no search to continue/);
    expectFriendlyFailure(await cli(cy.xdg, ['search', 'hi', '--chat', 'Nobody']), 4, /No contact called "Nobody"/);
  }, 60_000);
});
