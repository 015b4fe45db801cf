/**
 * Unit: what `messenger search` does without a server (times and kinds as typed, highlighted
 * snippets) and the SDK's query string for `GET /v1/search` (encoded, checked before sending).
 */
import { describe, expect, it } from 'vitest';
import { MessengerError, searchQueryString } from '../../client/index.ts';
import { makeStyle } from '../../cli/output.ts';
import { emphasize, parseKind, parseWhen } from '../../cli/search-query.ts';

const NOW = new Date(2025, 2, 10, 12, 0).getTime();

describe('search: times, kinds and snippets as the CLI reads and prints them', () => {
  it('reads dates as local days (a whole day for --until), times, today, yesterday and "a while ago"', () => {
    expect(parseWhen('2025-03-01', 'since', NOW)).toBe(new Date(2025, 2, 1).getTime());
    expect(parseWhen('2025-03-01', 'until', NOW)).toBe(new Date(2025, 2, 2).getTime());
    expect(parseWhen('2025-02-28', 'until', NOW)).toBe(new Date(2025, 2, 1).getTime());
    expect(parseWhen('2025-03-01 14:05', 'until', NOW)).toBe(new Date(2025, 2, 1, 14, 5).getTime());
    expect(parseWhen('today', 'since', NOW)).toBe(new Date(2025, 2, 10).getTime());
    expect(parseWhen('yesterday', 'until', NOW)).toBe(new Date(2025, 2, 10).getTime());
    expect(parseWhen('3d', 'since', NOW)).toBe(NOW - 3 * 86_400_000);
    expect(parseWhen('12h', 'since', NOW)).toBe(NOW - 12 * 3_600_000);
    expect(parseWhen('2025-03-01T10:00:00Z', 'since', NOW)).toBe(Date.UTC(2025, 2, 1, 10));
    for (const bad of ['someday', '2025-02-30', '2025-13-01', '2025-03-01 25:00', '3y', '']) {
      expect(() => parseWhen(bad, 'since', NOW), bad).toThrow(/--since must be a date/);
    }
  });

  it('takes the protocol kinds and a few everyday words for them', () => {
    expect(parseKind('photo')).toBe('image');
    expect(parseKind('File')).toBe('document');
    expect(parseKind('location')).toBe('location');
    expect(() => parseKind('ciphertext')).toThrow(/--kind must be one of/);
  });

  it('marks highlighted words with brackets without colours and bold with them, skipping bad offsets', () => {
    const plain = makeStyle(false);
    expect(emphasize('we could meet at the\ncafé', [[9, 13], [21, 25]], plain)).toBe('we could [meet] at the [café]');
    expect(emphasize('meet', [[0, 4], [2, 3], [3, 9]], plain)).toBe('[meet]');
    expect(emphasize('a 😀 meeting', [[5, 12]], plain)).toBe('a 😀 [meeting]');
    expect(emphasize('meet me', [[0, 4]], makeStyle(true))).toBe('\u001b[1mmeet\u001b[22m me');
  });
});

describe('search: the SDK query string', () => {
  it('encodes every parameter and trims q', () => {
    const qs = searchQueryString({ q: '  café & co ', peer: '01JDQ42B7C8D9E0F1G2H3J4K5M', from: '01JDQ42B7C8D9E0F1G2H3J4K5M', kind: 'image', since: 1, until: 2, before: 30, limit: 5 });
    const params = new URLSearchParams(qs.slice(1));
    expect(Object.fromEntries(params)).toEqual({ q: 'café & co', peer: '01JDQ42B7C8D9E0F1G2H3J4K5M', from: '01JDQ42B7C8D9E0F1G2H3J4K5M', kind: 'image', since: '1', until: '2', before: '30', limit: '5' });
  });

  it('refuses what the server would refuse, as validation_failed, naming the parameter', () => {
    const refused = (query: Parameters<typeof searchQueryString>[0]): MessengerError => {
      try {
        searchQueryString(query);
      } catch (error) {
        if (error instanceof MessengerError) return error;
        throw error;
      }
      throw new Error('not refused');
    };
    expect(refused({ q: ' ' })).toMatchObject({ code: 'validation_failed', message: expect.stringMatching(/^Invalid search: q: /) });
    expect(refused({ q: 'x', limit: 51 }).message).toMatch(/limit/);
    expect(refused({ q: 'x', peer: 'nope' }).message).toMatch(/peer/);
    expect(refused({ q: 'x', since: 1.5 }).message).toMatch(/since/);
    expect(refused({ q: 'x', peer: '01JDQ42B7C8D9E0F1G2H3J4K5M', group: '01JDQ42B7C8D9E0F1G2H3J4K5M' }).message).toMatch(/group: name a peer or a group/);
  });
});
