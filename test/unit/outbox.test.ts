import { describe, expect, it } from 'vitest';
import { CLIENT_ID_PATTERN } from '../../protocol/index.ts';
import type { SentFrame } from '../../protocol/index.ts';
import { MemoryOutboxStore, MessengerError, Outbox, generateClientId } from '../../client/index.ts';
import type { OutboxEntry, OutboxStore } from '../../client/index.ts';
import { PEER, ulid } from './fake-socket.ts';

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
    let saved: readonly OutboxEntry[] = [];
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
