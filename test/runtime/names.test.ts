// Names others read are refused when they carry control characters, bidi overrides or isolates,
// nothing visible, or lone surrogates (which D1 would otherwise silently turn into U+FFFD); a
// refused request changes nothing.
import { describe, expect, it } from 'vitest';
import { ErrorResponseSchema, PATHS, ProfileSchema } from '../../protocol/index.ts';
import { api, login, nextPhone } from './support.ts';

// JSON text with escapes, so a lone surrogate really travels (JSON.stringify would escape it too,
// but spelling it out keeps the test honest about the bytes on the wire).
const BAD_NAMES: Array<[string, string]> = [
  ['NUL', '"Bob\\u0000"'],
  ['a bidi override and isolate', '"Bob\\u202E\\u2066 (admin)"'],
  ['only zero-width characters', '"\\u200B\\u200C\\u200D"'],
  ['a lone surrogate', '"Bob \\uD83D"'],
];

async function expectRefused(res: Response): Promise<void> {
  expect(res.status).toBe(400);
  expect(ErrorResponseSchema.parse(await res.json()).error.code).toBe('validation_failed');
}

describe('names with forbidden characters', () => {
  it.each(BAD_NAMES)('%s: refused as a display name, and the profile stays as it was', async (_name, json) => {
    const me = await login(nextPhone());
    expect((await api(PATHS.me, { method: 'PATCH', token: me.token, body: JSON.stringify({ displayName: 'Bob' }) })).status).toBe(200);
    await expectRefused(await api(PATHS.me, { method: 'PATCH', token: me.token, body: `{"displayName":${json}}` }));
    await expectRefused(await api(PATHS.me, { method: 'PATCH', token: me.token, body: `{"about":${json}}` }));
    const profile = ProfileSchema.parse(await (await api(PATHS.me, { token: me.token })).json());
    expect(profile.displayName).toBe('Bob');
    expect(profile.about).toBe('');
  });

  it.each(BAD_NAMES)('%s: refused as a group title, and no group is created', async (_name, json) => {
    const me = await login(nextPhone());
    await expectRefused(await api(PATHS.groups, { method: 'POST', token: me.token, body: `{"title":${json}}` }));
    const list = (await (await api(PATHS.groups, { token: me.token })).json()) as { groups: unknown[] };
    expect(list.groups).toEqual([]);
  });

  it.each(BAD_NAMES)('%s: refused as a contact label, and no contact is added', async (_name, json) => {
    const me = await login(nextPhone());
    const friend = nextPhone();
    await login(friend);
    await expectRefused(await api(PATHS.contacts, { method: 'POST', token: me.token, body: `{"phone":"${friend}","name":${json}}` }));
    const list = (await (await api(PATHS.contacts, { token: me.token })).json()) as { contacts: unknown[] };
    expect(list.contacts).toEqual([]);
  });

  it('a name in another script with an emoji is kept exactly', async () => {
    const me = await login(nextPhone());
    const res = await api(PATHS.me, { method: 'PATCH', token: me.token, body: JSON.stringify({ displayName: 'שרה 🌸', about: 'line one\nline two' }) });
    expect(res.status).toBe(200);
    expect(ProfileSchema.parse(await res.json())).toMatchObject({ displayName: 'שרה 🌸', about: 'line one\nline two' });
  });
});
