import { describe, expect, it } from 'vitest';
import { CLIENT_ID_PATTERN } from '../../protocol/index.ts';
import type { SentFrame } from '../../protocol/index.ts';
import { MemoryOutboxStore, MessengerError, Outbox, generateClientId, sendFrameFor } from '../../client/index.ts';
import type { OutboxEntry, OutboxRecord, OutboxStore } from '../../client/index.ts';
import { GROUP, OTHER_GROUP, PEER, groupSentFrame, ulid } from './fake-socket.ts';

function sent(id: string, messageId = ulid(900)): SentFrame {
  return { type: 'sent', id, messageId, to: PEER, sentAt: 1, duplicate: false };
}

const text = (t: string) => ({ kind: 'text' as const, text: t });

describe('generateClientId', () => {
  it('produces distinct ids matching the protocol pattern', () => {
    const ids = new Set(Array.from({ length: 500 }, () => generateClientId()));
    expect(ids.size).toBe(500);
    for (const id of ids) {
      expect(id).toMatch(CLIENT_ID_PATTERN);
      expect(id.length).toBeLessThanOrEqual(64);
    }
  });
});

describe('Outbox', () => {
  it('keeps entries in send order until settled', () => {
    const outbox = new Outbox();
    const a = outbox.add(PEER, text('a'));
    const b = outbox.add(PEER, text('b'));
    const c = outbox.add(PEER, text('c'));
    expect(outbox.pending().map((e) => e.clientId)).toEqual([a.clientId, b.clientId, c.clientId]);
    expect(outbox.settle(sent(b.clientId))?.clientId).toBe(b.clientId);
    expect(outbox.pending().map((e) => e.body)).toEqual([text('a'), text('c')]);
  });

  it('settles a promise exactly once: a repeated sent frame is reported as not new', async () => {
    const outbox = new Outbox();
    const { clientId, sent: promise } = outbox.add(PEER, text('x'));
    const first = sent(clientId, ulid(901));
    expect(outbox.settle(first)).toBeDefined();
    expect(outbox.settle(sent(clientId, ulid(902)))).toBeUndefined();
    await expect(promise).resolves.toEqual(first);
    expect(outbox.size).toBe(0);
  });

  it('fail() removes the entry and rejects its promise with the error', async () => {
    const outbox = new Outbox();
    const { clientId, sent: promise } = outbox.add(PEER, text('x'));
    const error = new MessengerError('recipient_not_found');
    expect(outbox.fail(clientId, error)?.clientId).toBe(clientId);
    await expect(promise).rejects.toBe(error);
    expect(outbox.has(clientId)).toBe(false);
    expect(outbox.fail(clientId, error)).toBeUndefined();
  });

  it('adding an already pending explicit id returns the same promise instead of queueing twice', () => {
    const outbox = new Outbox();
    const first = outbox.add(PEER, text('x'), 'my-id');
    const again = outbox.add(PEER, text('x'), 'my-id');
    expect(again.sent).toBe(first.sent);
    expect(outbox.size).toBe(1);
    expect(() => outbox.add(PEER, text('x'), 'bad id!')).toThrow(MessengerError);
  });

  it('persists through the store and restores entries in order after a "reload"', async () => {
    const store = new MemoryOutboxStore();
    const before = new Outbox({ store });
    const ids = ['one', 'two', 'three'].map((t) => before.add(PEER, text(t)).clientId);
    before.settle(sent(ids[1] ?? ''));

    const after = new Outbox({ store });
    expect(after.isRestored).toBe(true);
    expect(after.pending().map((e) => e.clientId)).toEqual([ids[0], ids[2]]);
    // Restored entries get a promise too, so the app can still observe them.
    const promise = after.promise(ids[0] ?? '');
    expect(promise).toBeDefined();
    after.settle(sent(ids[0] ?? '', ulid(903)));
    await expect(promise).resolves.toMatchObject({ messageId: ulid(903) });
  });

  it('restores from an async store, puts old entries before new ones, and drops invalid stored data', async () => {
    const stored: OutboxEntry[] = [
      { clientId: 'old-1', to: PEER, body: text('old'), createdAt: 1 },
      { clientId: 'bad id', to: PEER, body: text('x'), createdAt: 2 },
      { clientId: 'bad-body', to: PEER, body: { kind: 'text', text: '' }, createdAt: 3 },
    ];
    let saved: readonly OutboxRecord[] = [];
    const store: OutboxStore = {
      load: async () => stored,
      save: async (entries) => {
        saved = entries;
      },
    };
    const outbox = new Outbox({ store });
    outbox.add(PEER, text('new'), 'new-1');
    expect(saved).toEqual([]); // must not overwrite the stored list before it was read
    await outbox.ready;
    expect(outbox.pending().map((e) => e.clientId)).toEqual(['old-1', 'new-1']);
    expect(saved.map((e) => e.clientId)).toEqual(['old-1', 'new-1']);
  });
});

describe('Outbox with group sends', () => {
  it('keeps 1:1 and group entries in one queue, in send order, each with its target', () => {
    const outbox = new Outbox();
    const a = outbox.add(PEER, text('a'));
    const b = outbox.addGroup(GROUP, text('b'));
    const c = outbox.add(PEER, text('c'));
    expect(outbox.pending()).toEqual([
      { clientId: a.clientId, to: PEER, body: text('a'), createdAt: expect.any(Number) },
      { clientId: b.clientId, group: GROUP, body: text('b'), createdAt: expect.any(Number) },
      { clientId: c.clientId, to: PEER, body: text('c'), createdAt: expect.any(Number) },
    ]);
    expect(outbox.pending().map(sendFrameFor)).toEqual([
      { type: 'send', id: a.clientId, to: PEER, body: text('a') },
      { type: 'group_send', id: b.clientId, group: GROUP, body: text('b') },
      { type: 'send', id: c.clientId, to: PEER, body: text('c') },
    ]);
  });

  it('settles a group entry with group_sent exactly once and resolves its promise with that frame', async () => {
    const outbox = new Outbox();
    const { clientId, sent: promise } = outbox.addGroup(GROUP, text('hi all'));
    const first = groupSentFrame(clientId, { gseq: 7 });
    expect(outbox.settle(first)).toMatchObject({ clientId, group: GROUP });
    expect(outbox.settle(groupSentFrame(clientId, { gseq: 7, duplicate: true }))).toBeUndefined();
    await expect(promise).resolves.toEqual(first);
    expect(outbox.size).toBe(0);
  });

  it('does not let an answer of the wrong kind or for another group settle an entry', () => {
    const outbox = new Outbox();
    const group = outbox.addGroup(GROUP, text('g'));
    const direct = outbox.add(PEER, text('d'));
    expect(outbox.settle(sent(group.clientId))).toBeUndefined();
    expect(outbox.settle(groupSentFrame(group.clientId, { group: OTHER_GROUP }))).toBeUndefined();
    expect(outbox.settle(groupSentFrame(direct.clientId))).toBeUndefined();
    expect(outbox.pending().map((e) => e.clientId)).toEqual([group.clientId, direct.clientId]);
  });

  it('fail() rejects a group entry like a 1:1 one', async () => {
    const outbox = new Outbox();
    const { clientId, sent: promise } = outbox.addGroup(GROUP, text('x'));
    const error = new MessengerError('not_group_member');
    expect(outbox.fail(clientId, error)).toMatchObject({ clientId, group: GROUP });
    await expect(promise).rejects.toBe(error);
    expect(outbox.size).toBe(0);
  });

  it('refuses to reuse a pending client id for another target instead of handing out the wrong promise', () => {
    const outbox = new Outbox();
    const first = outbox.addGroup(GROUP, text('x'), 'same-id');
    expect(outbox.addGroup(GROUP, text('x'), 'same-id').sent).toBe(first.sent);
    expect(() => outbox.add(PEER, text('x'), 'same-id')).toThrow(expect.objectContaining({ code: 'id_conflict' }));
    expect(() => outbox.addGroup(OTHER_GROUP, text('x'), 'same-id')).toThrow(expect.objectContaining({ code: 'id_conflict' }));
    expect(outbox.size).toBe(1);
  });

  it('loads entries persisted before groups existed alongside group entries, and drops ambiguous ones', async () => {
    const stored: unknown[] = [
      { clientId: 'legacy', to: PEER, body: text('old format'), createdAt: 1 },
      { clientId: 'grp', group: GROUP, body: text('group'), createdAt: 2 },
      { clientId: 'both', to: PEER, group: GROUP, body: text('x'), createdAt: 3 },
      { clientId: 'neither', body: text('x'), createdAt: 4 },
      { clientId: 'bad-group', group: 'nope', body: text('x'), createdAt: 5 },
      { clientId: 'extra', to: PEER, body: text('x'), createdAt: 6, junk: true },
    ];
    const outbox = new Outbox({ store: { load: async () => stored as OutboxEntry[], save: () => undefined } });
    await outbox.ready;
    expect(outbox.pending()).toEqual([
      { clientId: 'legacy', to: PEER, body: text('old format'), createdAt: 1 },
      { clientId: 'grp', group: GROUP, body: text('group'), createdAt: 2 },
      { clientId: 'extra', to: PEER, body: text('x'), createdAt: 6 },
    ]);
    const promise = outbox.promise('grp');
    outbox.settle(groupSentFrame('grp', { messageId: ulid(904) }));
    await expect(promise).resolves.toMatchObject({ type: 'group_sent', messageId: ulid(904) });
    expect(outbox.pending().map((e) => e.clientId)).toEqual(['legacy', 'extra']);
  });

  it('round-trips group entries through the store', async () => {
    const store = new MemoryOutboxStore();
    const before = new Outbox({ store });
    const g = before.addGroup(GROUP, text('persist me'));
    const after = new Outbox({ store });
    expect(after.get(g.clientId)).toMatchObject({ group: GROUP, body: text('persist me') });
    const promise = after.promise(g.clientId);
    after.settle(groupSentFrame(g.clientId, { messageId: ulid(905) }));
    await expect(promise).resolves.toMatchObject({ type: 'group_sent', messageId: ulid(905) });
  });
});
