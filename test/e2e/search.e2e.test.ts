/**
 * Black box, search (`GET /v1/search` through the SDK): the real local server, three users. Finds
 * by word prefix, ignoring accents and case, in 1:1 chats and groups; filters by chat, sender,
 * kind and time; pages with `nextBefore` (no hit twice, newest first); never returns another
 * user's private chat; a recalled message disappears for both sides; a device logged in without
 * history finds only what came after its login; invalid queries are refused as
 * `validation_failed` (by the SDK before any request, and by the server), no token is 401, and
 * the `search_user` bucket answers `rate_limited` with `retryAfterMs`.
 *
 * Every user stays well under the 30 searches a minute of `search_user`, except the one user
 * whose test spends it on purpose.
 */
import { describe, expect, it } from 'vitest';
import { MessengerError, searchQueryString } from '../../client/index.ts';
import type { MessengerClient, SearchHit, SearchPage } from '../../client/index.ts';
import { PATHS, SEARCH_MAX_TERMS, SEARCH_QUERY_MAX } from '../../protocol/index.ts';
import { device, eventually, nextPhone } from '../support/clients.ts';
import type { TestClient } from '../support/clients.ts';
import { serverSuite } from '../support/suite.ts';

const suite = serverSuite();

/** The text a hit's highlights cover, in order. */
function highlighted(hit: SearchHit): string[] {
  return hit.highlights.map(([start, end]) => hit.snippet.slice(start, end));
}

/** Strip accents and case, as the index does, to check what a highlight matched. */
function folded(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/** Every page of a search (at most `maxPages`), checking the paging invariants on the way. */
async function allPages(client: MessengerClient, q: string, limit: number, maxPages = 10): Promise<{ hits: SearchHit[]; pages: SearchPage[] }> {
  const pages: SearchPage[] = [];
  let before: number | undefined;
  for (let i = 0; i < maxPages; i++) {
    const page = await client.search({ q, limit, ...(before === undefined ? {} : { before }) });
    expect(page.hits.length).toBeLessThanOrEqual(limit);
    pages.push(page);
    if (page.nextBefore === null) break;
    before = page.nextBefore;
  }
  const hits = pages.flatMap((p) => p.hits);
  return { hits, pages };
}

type User = TestClient & { phone: string; groupSeen: Set<string> };

/** A user who lets anyone add them to groups, with one connected device that records group messages by id. */
async function user(name: string): Promise<User> {
  const phone = nextPhone();
  const client = (await suite.online(phone, name)) as User;
  client.phone = phone;
  client.groupSeen = new Set();
  client.on('group_message', ({ message }) => client.groupSeen.add(message.id));
  await client.api.updateSettings({ privacy: { groups: 'everyone' } });
  return client;
}

/** Wait until `to` has the 1:1 message `id`. */
async function arrived(to: TestClient, id: string): Promise<void> {
  await eventually(() => expect(to.received.map((m) => m.message.id)).toContain(id));
}

describe('search over your own history', () => {
  it('finds by prefix and accents, filters by chat, sender, kind and time, pages, and keeps other chats private', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const carol = await user('carol');
    const a = alice.userId!;
    const b = bob.userId!;
    const started = Date.now();

    // 1:1 Alice <-> Bob.
    const cafe = (await alice.sendText(b, "Let's meet at the café tomorrow").sent).messageId;
    const moved = (await alice.sendText(b, 'The meeting is moved to Friday').sent).messageId;
    const notes = (await bob.sendText(a, 'Meeting notes are attached').sent).messageId;
    const place = (await alice.send(b, { kind: 'location', latitude: 48.2, longitude: 16.37, name: 'Meeting point Café Central' }).sent).messageId;
    const unrelated = (await bob.sendText(a, 'nothing to see here').sent).messageId;
    // A group of Alice and Bob.
    const group = await alice.api.createGroup({ title: 'Search club', members: [b] });
    const meetup = (await alice.sendGroupText(group.groupId, 'group meetup at noon').sent).messageId;
    const seeYou = (await bob.sendGroupText(group.groupId, 'see you at the MEETUP').sent).messageId;
    // Bob and Carol, privately: Alice must never find these.
    const secret = (await bob.sendText(carol.userId!, 'secret meeting with Carol, nobody else').sent).messageId;
    const hidden = (await carol.sendText(b, 'meet me privately').sent).messageId;
    await Promise.all([arrived(alice, notes), arrived(alice, unrelated), arrived(bob, place), arrived(carol, secret), arrived(bob, hidden)]);
    await eventually(() => {
      expect(alice.groupSeen).toContain(seeYou);
      expect(bob.groupSeen).toContain(meetup);
    });

    // Prefix: "meet" finds meet, meeting, meetup, in every chat Alice is in, newest first.
    const all = await alice.search({ q: 'meet' });
    const ids = all.hits.map((h) => h.messageId);
    expect(new Set(ids)).toEqual(new Set([cafe, moved, notes, place, meetup, seeYou]));
    expect(ids).not.toContain(secret);
    expect(ids).not.toContain(hidden);
    const seqs = all.hits.map((h) => h.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => y! - x!));
    expect(all.nextBefore).toBeNull();
    for (const hit of all.hits) {
      expect(highlighted(hit).length).toBeGreaterThan(0);
      for (const word of highlighted(hit)) expect(folded(word).startsWith('meet')).toBe(true);
      expect(hit.at).toBeGreaterThanOrEqual(started - 60_000);
    }
    expect(all.hits.find((h) => h.messageId === place)).toMatchObject({ kind: 'location', from: a, chat: { kind: 'direct', peer: b } });
    expect(all.hits.find((h) => h.messageId === notes)).toMatchObject({ kind: 'text', from: b, chat: { kind: 'direct', peer: b } });
    expect(all.hits.find((h) => h.messageId === seeYou)).toMatchObject({ from: b, chat: { kind: 'group', group: group.groupId } });

    // Accents and case do not matter, in either direction; every word must match.
    const plain = await alice.search({ q: 'CAFE' });
    expect(new Set(plain.hits.map((h) => h.messageId))).toEqual(new Set([cafe, place]));
    for (const hit of plain.hits) expect(highlighted(hit).map(folded)).toContain('cafe');
    const both = await alice.search({ q: 'café  meet' });
    expect(new Set(both.hits.map((h) => h.messageId))).toEqual(new Set([cafe, place]));

    // Filters: one chat, one sender, one kind, a time range.
    const inGroup = await alice.search({ q: 'meet', group: group.groupId });
    expect(new Set(inGroup.hits.map((h) => h.messageId))).toEqual(new Set([meetup, seeYou]));
    const withBob = await alice.search({ q: 'meet', peer: b });
    expect(new Set(withBob.hits.map((h) => h.messageId))).toEqual(new Set([cafe, moved, notes, place]));
    const fromBob = await alice.search({ q: 'meet', from: b });
    expect(new Set(fromBob.hits.map((h) => h.messageId))).toEqual(new Set([notes, seeYou]));
    const places = await alice.search({ q: 'meet', kind: 'location' });
    expect(places.hits.map((h) => h.messageId)).toEqual([place]);
    const future = await alice.search({ q: 'meet', since: Date.now() + 3_600_000 });
    expect(future.hits).toEqual([]);
    const past = await alice.search({ q: 'meet', until: started - 3_600_000 });
    expect(past.hits).toEqual([]);

    // Pages of 2: the same hits as one page, in the same order, none twice; only the last page
    // may be short (a server may need one empty page to know there is nothing older).
    const paged = await allPages(alice, 'meet', 2);
    expect(paged.hits.map((h) => h.messageId)).toEqual(ids);
    expect(paged.pages.length).toBeGreaterThanOrEqual(3);
    expect(paged.pages.length).toBeLessThanOrEqual(4);
    for (const page of paged.pages.slice(0, 3)) expect(page.hits).toHaveLength(2);
    expect(paged.pages.at(-1)!.nextBefore).toBeNull();

    // The other side of the privacy check: Bob does find his chat with Carol; Carol only hers.
    expect((await bob.search({ q: 'secret' })).hits.map((h) => h.messageId)).toEqual([secret]);
    expect((await alice.search({ q: 'secret' })).hits).toEqual([]);
    expect((await alice.search({ q: 'privately' })).hits).toEqual([]);
    expect((await alice.search({ q: 'meet', peer: carol.userId! })).hits).toEqual([]);
    expect(new Set((await carol.search({ q: 'meet' })).hits.map((h) => h.messageId))).toEqual(new Set([secret, hidden]));
  }, 60_000);

  it('a recalled message disappears for both sides; a device without history finds only what came after its login', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const b = bob.userId!;
    const dessert = (await alice.sendText(b, 'Crème brûlée for dessert').sent).messageId;
    await arrived(bob, dessert);
    expect((await bob.search({ q: 'creme brulee' })).hits.map((h) => h.messageId)).toEqual([dessert]);
    expect((await alice.search({ q: 'brulee' })).hits.map((h) => h.messageId)).toEqual([dessert]);

    await alice.deleteForEveryone({ kind: 'direct', peer: b }, dessert).done;
    expect((await alice.search({ q: 'brulee' })).hits).toEqual([]);
    expect((await bob.search({ q: 'creme' })).hits).toEqual([]);

    // A second device of Alice's logs in without the PIN (she has none): it gets no history from
    // before its login, and search keeps to the same floor.
    const before = (await alice.sendText(b, 'tiramisu, before the laptop').sent).messageId;
    const laptop = suite.track(await device(suite.server().baseUrl, alice.phone, 'alice-laptop'));
    expect(laptop.userId).toBe(alice.userId);
    const after = (await alice.sendText(b, 'tiramisu, after the laptop').sent).messageId;
    expect((await alice.search({ q: 'tiramisu' })).hits.map((h) => h.messageId)).toEqual([after, before]);
    expect((await laptop.search({ q: 'tiramisu' })).hits.map((h) => h.messageId)).toEqual([after]);
  }, 60_000);

  it('refuses invalid queries as validation_failed (SDK and server alike), no token as 401, and too many as rate_limited', async () => {
    const dave = await user('dave');
    const cases = [{ q: '' }, { q: '   ' }, { q: 'x'.repeat(SEARCH_QUERY_MAX + 1) }, { q: Array.from({ length: SEARCH_MAX_TERMS + 1 }, (_, i) => `w${i}`).join(' ') }];
    for (const query of cases) {
      await expect(dave.search(query)).rejects.toMatchObject({ code: 'validation_failed', status: 400 });
      expect(() => searchQueryString(query)).toThrow(MessengerError);
    }
    await expect(dave.search({ q: 'hi', peer: dave.userId!, group: dave.userId! })).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(dave.search({ q: 'hi', limit: 0 })).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(dave.search({ q: 'hi', since: -1 })).rejects.toMatchObject({ code: 'validation_failed' });

    // The server checks the same rules (a client that skips the SDK's check).
    const base = suite.server().baseUrl;
    const token = dave.api.currentToken()!;
    const raw = async (query: string, auth = true): Promise<{ status: number; code: unknown }> => {
      const res = await fetch(`${base}${PATHS.search}${query}`, { headers: auth ? { authorization: `Bearer ${token}` } : {} });
      const body = (await res.json()) as { error?: { code?: unknown } };
      return { status: res.status, code: body.error?.code };
    };
    expect(await raw('?q=')).toEqual({ status: 400, code: 'validation_failed' });
    expect(await raw(`?q=${'x'.repeat(SEARCH_QUERY_MAX + 1)}`)).toEqual({ status: 400, code: 'validation_failed' });
    expect(await raw('?q=hi&limit=51')).toEqual({ status: 400, code: 'validation_failed' });
    expect(await raw('?q=hi&kind=ciphertext')).toEqual({ status: 400, code: 'validation_failed' });
    expect((await raw('?q=hi', false)).status).toBe(401);

    // Spend the bucket: at most burst + a few refills pass, then 429 with a wait.
    let limited: MessengerError | undefined;
    for (let i = 0; i < 45 && limited === undefined; i++) {
      try {
        await dave.search({ q: 'anything' });
      } catch (error) {
        if (!(error instanceof MessengerError)) throw error;
        limited = error;
      }
    }
    expect(limited).toMatchObject({ code: 'rate_limited', status: 429 });
    expect(limited!.retryAfterMs).toBeGreaterThan(0);
  }, 60_000);
});
