/**
 * What people read in the web client and the CLI: waits in plain words (rate limits, code
 * resends), error lines that say how long to wait, and group sentences whose user-supplied names
 * and titles are marked for bidi isolation.
 */
import { describe, expect, it } from 'vitest';
import { MessengerError } from '../../client/index.ts';
import type { GroupEvent, TypingEntry } from '../../client/index.ts';
import { friendlyError as cliFriendlyError } from '../../cli/errors.ts';
import { formatWait as cliFormatWait } from '../../cli/format.ts';
import { describeGroupEvent, phraseText, typingText } from '../../web/src/describe.ts';
import type { Directory } from '../../web/src/directory.ts';
import { friendlyError } from '../../web/src/errors.ts';
import { bodyText, formatCountdown, formatWait, isolate } from '../../web/src/format.ts';
import { GROUP, ME, PEER, ulid } from './fake-socket.ts';

const HEBREW = 'שלום';

/** The two Directory methods the sentences use. */
function directory(names: Record<string, string>): Directory {
  return { me: ME, userName: (id: string) => names[id] ?? 'Unknown user' } as unknown as Directory;
}

describe('waits in plain words', () => {
  it.each([
    [1, 'a few seconds'],
    [5_000, 'a few seconds'],
    [5_001, '6 seconds'],
    [45_000, '45 seconds'],
    [59_001, '1 minute'],
    [60_000, '1 minute'],
    [90_000, '2 minutes'],
    [3_600_000, '1 hour'],
    [3_600_001, '2 hours'],
  ])('%i ms reads "%s" (web and CLI alike)', (ms, words) => {
    expect(formatWait(ms)).toBe(words);
    expect(cliFormatWait(ms)).toBe(words);
  });

  it.each([
    [30_000, '0:30'],
    [29_001, '0:30'],
    [0, '0:00'],
    [-5, '0:00'],
    [65_000, '1:05'],
    [3_600_000, '1:00:00'],
  ])('countdown of %i ms is %s', (ms, clock) => {
    expect(formatCountdown(ms)).toBe(clock);
  });
});

describe('rate-limit errors say how long to wait', () => {
  it('web: the wait from retryAfterMs, or "a moment" without one; other errors unchanged', () => {
    expect(friendlyError(new MessengerError('otp_rate_limited', undefined, { retryAfterMs: 90_000 }))).toBe(
      'A code was requested for this number a moment ago. Try again in 2 minutes.',
    );
    expect(friendlyError(new MessengerError('rate_limited', undefined, { retryAfterMs: 12_000 }))).toBe('Too many requests. Try again in 12 seconds.');
    expect(friendlyError(new MessengerError('rate_limited'))).toBe('Too many requests. Wait a moment and try again.');
    expect(friendlyError(new MessengerError('user_not_found', undefined, { retryAfterMs: 5_000 }))).toBe('Nobody uses that number yet.');
  });

  it('CLI: one line with the wait, exit code 6', () => {
    const server = 'http://127.0.0.1:8787';
    expect(cliFriendlyError(new MessengerError('rate_limited', 'slow down', { retryAfterMs: 45_000 }), { server })).toEqual({
      code: 'rate_limited',
      message: 'Too many requests to http://127.0.0.1:8787; try again in 45 seconds',
      exitCode: 6,
    });
    const otp = cliFriendlyError(new MessengerError('otp_rate_limited', 'too often', { retryAfterMs: 300_000 }), { server });
    expect(otp.exitCode).toBe(6);
    expect(otp.message).toMatch(/^A code was requested for this number a moment ago; try again in 5 minutes/);
    expect(otp.message).not.toContain('\n');
    expect(cliFriendlyError(new MessengerError('rate_limited'), { server }).message).toMatch(/wait a moment and try again$/);
  });
});

describe('user-supplied text is marked for isolation', () => {
  const names = directory({ [PEER]: `${HEBREW} כהן`, [ulid(12)]: 'Bob' });
  const event = (change: GroupEvent['change'], by = PEER): GroupEvent => ({ id: ulid(900), group: GROUP, gseq: 1, by, at: 1, change });

  it('group events isolate names and titles, never the app\'s own words', () => {
    const created = describeGroupEvent(event({ kind: 'created', title: HEBREW }), names);
    expect(created).toEqual([{ isolate: `${HEBREW} כהן` }, ' created the group “', { isolate: HEBREW }, '”']);
    expect(phraseText(created)).toBe(`${HEBREW} כהן created the group “${HEBREW}”`);
    expect(describeGroupEvent(event({ kind: 'members_added', members: [ME, ulid(12)] }, ME), names)).toEqual([
      'You',
      ' added ',
      'you',
      ' and ',
      { isolate: 'Bob' },
    ]);
  });

  it('typing lines isolate the names in groups', () => {
    const who: TypingEntry[] = [{ key: `group:${GROUP}`, conversation: { kind: 'group', id: GROUP }, userId: PEER, state: 'typing', expiresAt: 1 }];
    expect(typingText({ kind: 'group' }, who, names)).toEqual([{ isolate: HEBREW }, ' is typing…']);
    expect(typingText({ kind: 'direct' }, who, names)).toEqual(['typing…']);
    expect(typingText({ kind: 'group' }, [], names)).toEqual([]);
  });

  it('plain-text places wrap user text in first-strong isolates', () => {
    expect(isolate(HEBREW)).toBe(`\u2068${HEBREW}\u2069`);
    expect(bodyText({ kind: 'contact', name: HEBREW, phone: '+15550000002' })).toBe(`👤 \u2068${HEBREW}\u2069, +15550000002`);
    expect(bodyText({ kind: 'text', text: HEBREW })).toBe(HEBREW);
  });
});
