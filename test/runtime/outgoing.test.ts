/**
 * OutgoingMessages against a real mailbox store and a controllable recipient: concurrent
 * retries share one delivery, reused ids are refused, and a receipt that overtakes the
 * sender's own copy is applied with the copy.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { DeliverBatch } from '../../durable-objects/mailbox/dispatch.ts';
import { OutgoingMessages } from '../../durable-objects/mailbox/outgoing.ts';
import type { Receipt } from '../../durable-objects/mailbox/receipts.ts';
import { MailboxStore, type StoredEntry } from '../../durable-objects/mailbox/store.ts';
import type { UserMailbox } from '../../durable-objects/user-mailbox.ts';
import type { SendFrame } from '../../protocol/index.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';

const ME = { userId: '01JDQ3ZK8Y6W2V9T7R5P3N1M0A', deviceId: '01JDQ3ZK8Y6W2V9T7R5P3N1M0C' };
const PEER = '01JDQ3ZK8Y6W2V9T7R5P3N1M0B';
let ids = 0;
const newId = () => `01JDQ3ZK8Y6W2V9T7R5P3N${String(++ids).padStart(4, '0')}`;

function frame(id: string, text = 'hi', to = PEER): SendFrame {
  return { type: 'send', id, to, body: { kind: 'text', text } };
}

/** A recipient whose deliveries complete only when the test says so. */
function gatedRecipient() {
  const calls: Array<() => void> = [];
  const deliver: DeliverBatch = (_to, messages) =>
    new Promise((resolve) => calls.push(() => resolve(messages.map((m) => ({ id: m.id, sentAt: m.sentAt, duplicate: false })))));
  return { deliver, calls };
}

describe('OutgoingMessages', () => {
  it('shares one delivery between concurrent retries and refuses a reused id', () =>
    runInDurableObject(mailboxOf(env, 'outgoing-1'), async (_i: UserMailbox, state) => {
      const store = new MailboxStore(state.storage.sql);
      const { deliver, calls } = gatedRecipient();
      const published: StoredEntry[] = [];
      const outgoing = new OutgoingMessages({ store, deliver, publish: (e) => published.push(...e), applyReceipt: () => {}, newId });

      const first = outgoing.send(ME, frame('m1'));
      const retry = outgoing.send(ME, frame('m1'));
      await expect(outgoing.send(ME, frame('m1', 'other text'))).rejects.toMatchObject({ code: 'id_conflict' });
      await Promise.resolve();
      expect(calls).toHaveLength(1);
      calls[0]!();
      const [a, b] = await Promise.all([first, retry]);
      expect(a.duplicate).toBe(false);
      expect(b).toEqual({ ...a, duplicate: true });
      expect(published).toHaveLength(1); // one copy for the user's other devices

      // After it is stored: a retry is answered from storage, a changed recipient is refused.
      await expect(outgoing.send(ME, frame('m1'))).resolves.toEqual({ ...a, duplicate: true });
      await expect(outgoing.send(ME, frame('m1', 'hi', '01JDQ3ZK8Y6W2V9T7R5P3N1M0D'))).rejects.toMatchObject({ code: 'id_conflict' });
      await expect(outgoing.send(ME, frame('self', 'hi', ME.userId))).rejects.toMatchObject({ code: 'self_message' });
    }));

  it('applies a receipt that arrived before the copy, once the copy exists', () =>
    runInDurableObject(mailboxOf(env, 'outgoing-2'), async (_i: UserMailbox, state) => {
      const store = new MailboxStore(state.storage.sql);
      const { deliver, calls } = gatedRecipient();
      const applied: Receipt[] = [];
      const outgoing = new OutgoingMessages({ store, deliver, publish: () => {}, applyReceipt: (r) => applied.push(r), newId });

      const sending = outgoing.send(ME, frame('early'));
      await Promise.resolve();
      // The recipient's device acked and read before our copy was written: nothing to advance yet.
      outgoing.holdEarly({ peer: PEER, status: 'delivered', clientIds: ['early', 'unrelated'], at: 1 }, new Set());
      outgoing.holdEarly({ peer: PEER, status: 'read', clientIds: ['early'], at: 2 }, new Set());
      outgoing.holdEarly({ peer: PEER, status: 'delivered', clientIds: ['early'], at: 3 }, new Set());
      expect(applied).toEqual([]);
      calls[0]!();
      await sending;
      expect(applied).toEqual([{ peer: PEER, status: 'read', clientIds: ['early'], at: 2 }]);
      expect(store.findBySenderClientId(ME.userId, 'early')).not.toBeNull();
    }));
});
