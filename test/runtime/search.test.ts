/**
 * Search (issue 14) as an authorization matrix: for every user and every word planted in a
 * chat phase, exactly the users whose own history pages show that message find it, in the hot
 * tier and again after everything but the newest message of each chat moved to the warm and
 * cold tiers. Recalled and deleted-for-me messages are found by nobody; ciphertext is never
 * indexed; filters, paging and bad queries.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { PATHS, SearchPageSchema, type SessionResponse } from '../../protocol/index.ts';
import type { UserMailbox } from '../../durable-objects/user-mailbox.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';
import { call, createGroup, eventuallyCopy, openToGroups, settled, textsOf, users } from './group-support.ts';
import { api, connect, text, type TestSocket } from './support.ts';
import { uploadedMedia } from './media-support.ts';

const DAY = 86_400_000;

async function search(session: SessionResponse, params: Record<string, string>): Promise<{ status: number; body: unknown }> {
  const res = await api(`${PATHS.search}?${new URLSearchParams(params)}`, { token: session.token });
  return { status: res.status, body: await res.json() };
}

async function found(session: SessionResponse, q: string, extra: Record<string, string> = {}): Promise<string[]> {
  const { status, body } = await search(session, { q, ...extra });
  expect(status, JSON.stringify(body)).toBe(200);
  return SearchPageSchema.parse(body).hits.map((h) => h.snippet);
}

async function groupSend(socket: TestSocket, group: string, id: string, words: string): Promise<void> {
  socket.send({ type: 'group_send', id, group, body: text(words) });
  await socket.waitFor((f): f is Extract<typeof f, { type: 'group_sent' }> => f.type === 'group_sent' && f.id === id);
}

async function directSend(socket: TestSocket, to: string, id: string, words: string): Promise<string> {
  socket.send({ type: 'send', id, to, body: text(words) });
  const [sent] = await socket.waitFor((f): f is Extract<typeof f, { type: 'sent' }> => f.type === 'sent' && f.id === id);
  return sent!.messageId;
}

/** Move every user's history past the hot window (all but each chat's newest row), then past the cold threshold for half. */
async function ageAll(sessions: SessionResponse[]): Promise<void> {
  for (const s of sessions) {
    const stub = mailboxOf(env, s.userId) as DurableObjectStub<UserMailbox>;
    const deadline = performance.now() + 15_000;
    for (;;) {
      const tick = await stub.historyTick(Date.now() + 8 * DAY);
      if (tick.sent === 0) {
        // Wait for the consumer's confirmation of the last batch (in flight resets to 0).
        const again = await stub.historyTick(Date.now() + 8 * DAY);
        if (again.sent === 0 && (await stub.stats()).head >= 0) break;
      }
      if (performance.now() > deadline) throw new Error('archive did not settle');
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

describe('search', () => {
  it('finds exactly what each user may see, in every tier (authorization matrix)', { timeout: 90_000 }, async () => {
    const [ann, bob, cat, dan] = await users(4);
    const group = await createGroup(ann!, [bob!]);
    const a = await connect(ann!);
    const b = await connect(bob!);
    const d = await connect(dan!);
    // Phase 1: ann and bob in the group; a private chat ann-bob; dan-cat chat.
    await groupSend(a, group.groupId, 'g1', 'alphaword before cat joined');
    const secret = await directSend(a, bob!.userId, 'p1', 'bravoword private to bob');
    await directSend(d, cat!.userId, 'p2', 'charlieword between dan and cat');
    await directSend(a, bob!.userId, 'p3', 'recallword soon gone');
    // Phase 2: cat joins.
    await openToGroups(cat!);
    expect((await call('POST', PATHS.groupMembers(group.groupId), ann!, { members: [cat!.userId] })).status).toBe(200);
    await settled(group.groupId);
    await groupSend(a, group.groupId, 'g2', 'deltaword while all three');
    // Phase 3: bob leaves.
    expect((await call('POST', PATHS.groupLeave(group.groupId), bob!)).status).toBe(204);
    await settled(group.groupId);
    await groupSend(a, group.groupId, 'g3', 'echoword after bob left');
    await settled(group.groupId);
    await eventuallyCopy(cat!, group.groupId, (e) => textsOf(e).includes('echoword after bob left'));

    const expected: Record<string, Record<string, boolean>> = {
      alphaword: { ann: true, bob: true, cat: false, dan: false },
      bravoword: { ann: true, bob: true, cat: false, dan: false },
      charlieword: { ann: false, bob: false, cat: true, dan: true },
      deltaword: { ann: true, bob: true, cat: true, dan: false },
      echoword: { ann: true, bob: false, cat: true, dan: false },
    };
    const people = { ann: ann!, bob: bob!, cat: cat!, dan: dan! };
    const check = async (tier: string): Promise<void> => {
      for (const [word, who] of Object.entries(expected)) {
        for (const [name, session] of Object.entries(people)) {
          const hits = await found(session, word);
          expect(hits.length, `${tier}: ${name} searching ${word}`).toBe(who[name] ? 1 : 0);
        }
      }
    };
    await check('hot');

    // Recall (everyone) and delete for me: gone from the results of whoever it was gone for.
    const recall = await directSend(a, bob!.userId, 'p5', 'recallword two');
    for (const [id, target] of [['rc1', recall]] as const) {
      a.send({ type: 'action', id, chat: { kind: 'direct', peer: bob!.userId }, target, action: { kind: 'delete', scope: 'everyone' } });
      await a.waitFor((f): f is Extract<typeof f, { type: 'acted' }> => f.type === 'acted' && f.id === id);
    }
    b.send({ type: 'action', id: 'me1', chat: { kind: 'direct', peer: ann!.userId }, target: secret, action: { kind: 'delete', scope: 'me' } });
    await b.waitFor((f): f is Extract<typeof f, { type: 'acted' }> => f.type === 'acted' && f.id === 'me1');
    expected.bravoword!.bob = false;
    expect(await found(ann!, 'recallword')).toEqual(['recallword soon gone']);
    expect(await found(bob!, 'recallword')).toEqual(['recallword soon gone']);
    await check('hot, after deletions');

    // Everything but each chat's newest row leaves the objects; the same answers.
    await ageAll([ann!, bob!, cat!, dan!]);
    await check('warm');
    a.close();
    b.close();
    d.close();
  });

  it('filters by chat, sender, kind and date; pages newest first; refuses bad queries', { timeout: 60_000 }, async () => {
    const [ann, bob, cat] = await users(3);
    const a = await connect(ann!);
    const b = await connect(bob!);
    for (let i = 0; i < 12; i++) await directSend(a, bob!.userId, `ab${i}`, `kiwi number ${i} café`);
    await directSend(b, ann!.userId, 'ba', 'kiwi from bob');
    await directSend(a, cat!.userId, 'ac', 'kiwi for cat');
    const all = await search(ann!, { q: 'kiwi', limit: '5' });
    const first = SearchPageSchema.parse(all.body);
    expect(first.hits).toHaveLength(5);
    expect(first.hits[0]!.snippet).toBe('kiwi for cat');
    expect(first.hits[0]!.highlights).toEqual([[0, 4]]);
    let pages = 1;
    let before = first.nextBefore;
    const seqs = first.hits.map((h) => h.seq);
    while (before !== null) {
      const next = SearchPageSchema.parse((await search(ann!, { q: 'kiwi', limit: '5', before: String(before) })).body);
      seqs.push(...next.hits.map((h) => h.seq));
      before = next.nextBefore;
      pages++;
    }
    expect(seqs).toHaveLength(14);
    expect([...seqs].sort((x, y) => y! - x!)).toEqual(seqs);
    expect(pages).toBe(3);
    expect(await found(ann!, 'kiwi', { peer: cat!.userId })).toEqual(['kiwi for cat']);
    expect(await found(ann!, 'kiwi', { from: bob!.userId })).toEqual(['kiwi from bob']);
    expect(await found(ann!, 'cafe', { peer: bob!.userId })).toHaveLength(12);
    expect(await found(ann!, 'kiwi', { kind: 'image' })).toEqual([]);
    expect(await found(ann!, 'kiwi', { since: String(Date.now() + 60_000) })).toEqual([]);
    expect(await found(ann!, 'kiw num')).toHaveLength(12);
    // Hostile FTS syntax is just words.
    for (const q of ['"kiwi', 'kiwi*', 'NEAR(kiwi', 'kiwi OR x', '-kiwi', 'body:kiwi', '()']) {
      const { status } = await search(ann!, { q });
      expect(status, q).toBe(200);
    }
    expect((await search(ann!, { q: '' })).status).toBe(400);
    expect((await search(ann!, { q: 'x'.repeat(201) })).status).toBe(400);
    expect((await search(ann!, { q: 'a b c d e f g h i' })).status).toBe(400);
    expect((await search(ann!, { q: 'kiwi', peer: bob!.userId, group: '01ARZ3NDEKTSV4RRFFQ69G5FAV' })).status).toBe(400);
    expect((await search(ann!, { q: 'kiwi', limit: '51' })).status).toBe(400);
    // Ciphertext is never indexed.
    a.send({ type: 'send', id: 'enc', to: bob!.userId, body: { kind: 'ciphertext', scheme: 'test/v1', data: btoa('kiwi secret') } });
    await a.waitFor((f): f is Extract<typeof f, { type: 'sent' }> => f.type === 'sent' && f.id === 'enc');
    expect(await found(ann!, 'secret')).toEqual([]);
    a.close();
    b.close();
  });

  it('finds media by caption and documents by file name, filtered by kind', { timeout: 60_000 }, async () => {
    const [ann, bob] = await users(2);
    const a = await connect(ann!);
    const photo = await uploadedMedia(ann!, 'image', 'image/jpeg');
    const file = await uploadedMedia(ann!, 'document', 'application/pdf');
    a.send({ type: 'send', id: 'img', to: bob!.userId, body: { kind: 'image', media: { id: photo, mime: 'image/jpeg', size: 700 }, caption: 'Sunset över the harbour' } });
    a.send({ type: 'send', id: 'doc', to: bob!.userId, body: { kind: 'document', media: { id: file, mime: 'application/pdf', size: 700 }, fileName: 'budget-2027.pdf', caption: 'numbers for review' } });
    await a.waitFor((f): f is Extract<typeof f, { type: 'sent' }> => f.type === 'sent', 2);
    await directSend(a, bob!.userId, 'txt', 'the sunset was lovely');
    for (const viewer of [ann!, bob!]) {
      expect(await found(viewer, 'over harbour', { kind: 'image' })).toEqual(['Sunset över the harbour']);
      expect(await found(viewer, 'sunset')).toHaveLength(2);
      expect(await found(viewer, 'budget')).toEqual(['budget-2027.pdf numbers for review']);
      expect(await found(viewer, 'review', { kind: 'document' })).toHaveLength(1);
      expect(await found(viewer, 'sunset', { kind: 'text' })).toEqual(['the sunset was lovely']);
    }
    const hits = SearchPageSchema.parse((await search(ann!, { q: 'budget' })).body).hits;
    expect(hits[0]).toMatchObject({ kind: 'document', from: ann!.userId, chat: { kind: 'direct', peer: bob!.userId } });
    a.close();
  });
});
