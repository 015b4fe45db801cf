/**
 * Delivered receipts gathered per sender (durable-objects/mailbox/delivered-batch.ts): one call
 * per sender per round, a round at once when many wait, failures handed to the durable outbox,
 * and — through the real mailbox — device cursors never stored past receipts still waiting, so an
 * eviction cannot lose them.
 */
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { DeliveredBatch, GATHER_MS, MAX_IDS } from '../../durable-objects/mailbox/delivered-batch.ts';
import type { Receipt } from '../../durable-objects/mailbox/receipts.ts';
import type { UserMailbox } from '../../durable-objects/user-mailbox.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';
import { env } from 'cloudflare:workers';
import { MailboxCore } from '../../durable-objects/mailbox/core.ts';

function recorder(fail: (r: Receipt) => boolean = () => false) {
  const sent: Receipt[] = [];
  const failed: Receipt[] = [];
  const batch = new DeliveredBatch({
    send: async (r) => {
      if (fail(r)) throw new Error('unreachable');
      sent.push(r);
    },
    failed: (rs) => failed.push(...rs),
  });
  return { batch, sent, failed };
}

/** A batch whose calls hang until `release`, then fail (the sender's object was evicted mid-call). */
function stalledBatch() {
  let release!: () => void;
  const answered = new Promise<void>((r) => (release = r));
  const failed: Receipt[] = [];
  const batch = new DeliveredBatch({
    send: async () => {
      await answered;
      throw new Error('the sender object was evicted mid-call');
    },
    failed: (rs) => failed.push(...rs),
  });
  return { batch, failed, release };
}

describe('DeliveredBatch', () => {
  it('lets a waiting receipt ride on a call to its peer: held until settled, failed to the outbox only if that call failed', async () => {
    const { batch, sent, failed } = recorder();
    batch.add('ann', ['a1', 'a2'], 10);
    batch.add('bob', ['b1'], 11);
    expect(batch.takeFor('cat')).toBeNull(); // nothing waits for cat
    const riding = batch.takeFor('ann')!;
    expect(riding.receipt).toEqual({ peer: 'ann', status: 'delivered', clientIds: ['a1', 'a2'], at: 10 });
    expect(batch.takeFor('ann')).toBeNull(); // taken once
    riding.settled(true);
    // The round that follows carries bob's only: ann's went with the call.
    const deadline = performance.now() + GATHER_MS * 20;
    while (sent.length < 1 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(sent).toEqual([{ peer: 'bob', status: 'delivered', clientIds: ['b1'], at: 11 }]);
    expect(failed).toEqual([]);
    expect(batch.held).toBe(false);

    // The call failed: the receipt goes to the outbox. Taken (cursors written) before it settled: handed over once, by `take`.
    batch.add('ann', ['a3'], 20);
    const lost = batch.takeFor('ann')!;
    expect(batch.held).toBe(true); // in flight: cursors must not be stored past it
    lost.settled(false);
    expect(failed).toEqual([{ peer: 'ann', status: 'delivered', clientIds: ['a3'], at: 20 }]);
    batch.add('ann', ['a4'], 30);
    const overtaken = batch.takeFor('ann')!;
    expect(batch.take()).toEqual([{ peer: 'ann', status: 'delivered', clientIds: ['a4'], at: 30 }]);
    overtaken.settled(false);
    expect(failed).toHaveLength(1);
    expect(batch.held).toBe(false);
  });

  it('gathers acks into one receipt per sender, in acknowledgement order, within the window', async () => {
    const { batch, sent } = recorder();
    batch.add('ann', ['a1', 'a2'], 10);
    batch.add('bob', ['b1'], 11);
    batch.add('ann', ['a3'], 12);
    expect(batch.held).toBe(true);
    expect(sent).toEqual([]);
    const deadline = performance.now() + GATHER_MS * 20;
    while (sent.length < 2 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(sent).toEqual([
      { peer: 'ann', status: 'delivered', clientIds: ['a1', 'a2', 'a3'], at: 12 },
      { peer: 'bob', status: 'delivered', clientIds: ['b1'], at: 11 },
    ]);
    expect(batch.held).toBe(false);
  });

  it('sends at once when MAX_IDS wait, and hands failed receipts on', async () => {
    const { batch, sent, failed } = recorder((r) => r.peer === 'bob');
    batch.add('bob', ['b1'], 1);
    batch.add('ann', Array.from({ length: MAX_IDS - 1 }, (_, i) => `a${i}`), 2);
    // The round started synchronously; its calls settle on the next turns.
    await new Promise((r) => setTimeout(r, 0));
    await new Promise((r) => setTimeout(r, 0));
    expect(sent.map((r) => [r.peer, r.clientIds.length])).toEqual([['ann', MAX_IDS - 1]]);
    expect(failed.map((r) => [r.peer, r.clientIds])).toEqual([['bob', ['b1']]]);
    expect(batch.held).toBe(false);
  });

  it('gives everything waiting to take(), and then sends nothing itself', async () => {
    const { batch, sent } = recorder();
    batch.add('ann', ['a1'], 1);
    expect(batch.take()).toEqual([{ peer: 'ann', status: 'delivered', clientIds: ['a1'], at: 1 }]);
    expect(batch.held).toBe(false);
    await new Promise((r) => setTimeout(r, GATHER_MS + 100));
    expect(sent).toEqual([]);
  });
  it('holds the cursors while a round is in flight; take() hands its receipts over and their failure is not reported twice', async () => {
    const { batch, failed, release } = stalledBatch();
    batch.add('ann', ['a1'], 1);
    const round = batch.flush();
    // Nothing waits any more, but the round is unanswered: a crash now would lose it.
    expect(batch.held).toBe(true);
    expect(batch.take()).toEqual([{ peer: 'ann', status: 'delivered', clientIds: ['a1'], at: 1 }]);
    expect(batch.held).toBe(false);
    release();
    await round;
    expect(failed).toEqual([]);
    expect(batch.held).toBe(false);
  });

  it('a round that fails while nobody took it goes to the outbox once, and stops holding', async () => {
    const { batch, failed, release } = stalledBatch();
    batch.add('ann', ['a1'], 1);
    const round = batch.flush();
    expect(batch.held).toBe(true);
    release();
    await round;
    expect(failed).toEqual([{ peer: 'ann', status: 'delivered', clientIds: ['a1'], at: 1 }]);
    expect(batch.held).toBe(false);
  });
});

describe('a mailbox gathering delivered receipts', () => {
  it('stores no device cursor past receipts that still wait, and hands them to the outbox when it must store one', async () => {
    const me = '01JDQ3ZK8Y6W2V9T7R5P3N1M9A';
    const peer = '01JDQ3ZK8Y6W2V9T7R5P3N1M9B';
    const device = '01JDQ3ZK8Y6W2V9T7R5P3N1M9C';
    await runInDurableObject(mailboxOf(env, me), async (_instance: UserMailbox, state) => {
      const core = new MailboxCore(state, env);
      const message = { id: '01JDQ3ZK8Y6W2V9T7R5P3N1M9D', clientId: 'c1', from: peer, fromDevice: device, to: me, sentAt: 1, body: { kind: 'text' as const, text: 'hi' } };
      const { entry } = core.store.recordMessage(message, false, 1);
      const storedCursor = () => state.storage.sql.exec<{ acked: number }>('SELECT acked FROM devices WHERE device_id = ?', device).toArray()[0]?.acked ?? null;
      const outbox = () => state.storage.sql.exec<{ peer: string; status: string; client_ids: string }>('SELECT peer, status, client_ids FROM receipt_outbox').toArray();

      core.acknowledge(device, entry!.seq);
      expect(core.delivered.held).toBe(true);
      // An event that writes anyway would take the cursor along; not while its receipt waits.
      core.publish([core.store.append({ type: 'read_marker', peer, upTo: 0, at: 2 }, 2)]);
      expect(storedCursor()).toBeNull();
      // A close (or connect, or the alarm) must store it: the waiting receipt goes to the outbox in the same commit.
      core.persistCursors(3);
      expect(storedCursor()).toBe(entry!.seq);
      expect(outbox()).toEqual([{ peer, status: 'delivered', client_ids: '["c1"]' }]);
      expect(core.delivered.held).toBe(false);
    });
  });
});
