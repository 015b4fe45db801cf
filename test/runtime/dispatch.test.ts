/**
 * The per-recipient dispatcher: order within a recipient, batching while a batch is in flight,
 * and failure of everything queued behind a failed batch (so nothing overtakes it).
 */
import { describe, expect, it } from 'vitest';
import { Dispatcher } from '../../durable-objects/mailbox/dispatch.ts';
import type { StoredMessage } from '../../durable-objects/mailbox/store.ts';
import type { Message } from '../../protocol/index.ts';

function message(to: string, clientId: string): Message {
  return {
    id: `01JDQ3ZK8Y6W2V9T7R5P3N1M${clientId.padStart(2, '0').slice(-2).replace(/[^0-9A-Z]/g, '0')}`,
    clientId,
    from: '01JDQ3ZK8Y6W2V9T7R5P3N1M0A',
    fromDevice: '01JDQ3ZK8Y6W2V9T7R5P3N1M0B',
    to,
    sentAt: 0,
    body: { kind: 'text', text: clientId },
  };
}

function stored(m: Message): StoredMessage {
  return { id: m.id, sentAt: m.sentAt, duplicate: false };
}

describe('Dispatcher', () => {
  it('sends one batch at a time per recipient, in order, batching what queued up meanwhile', async () => {
    const batches: string[][] = [];
    let release: () => void = () => {};
    const dispatcher = new Dispatcher(async (_to, messages) => {
      batches.push(messages.map((m) => m.clientId));
      if (batches.length === 1) await new Promise<void>((r) => (release = r));
      return messages.map(stored);
    });
    const first = dispatcher.submit(message('B', '1'));
    const rest = ['2', '3', '4'].map((id) => dispatcher.submit(message('B', id)));
    await Promise.resolve();
    expect(batches).toEqual([['1']]);
    release();
    await Promise.all([first, ...rest]);
    expect(batches).toEqual([['1'], ['2', '3', '4']]);
  });

  it('delivers to different recipients independently', async () => {
    const seen: string[] = [];
    const dispatcher = new Dispatcher(async (to, messages) => {
      seen.push(`${to}:${messages.map((m) => m.clientId).join(',')}`);
      return messages.map(stored);
    });
    await Promise.all([dispatcher.submit(message('B', '1')), dispatcher.submit(message('C', '2'))]);
    expect(seen.sort()).toEqual(['B:1', 'C:2']);
  });

  it('fails the batch and everything queued behind it, then recovers for new sends', async () => {
    let calls = 0;
    let release: () => void = () => {};
    const dispatcher = new Dispatcher(async (_to, messages) => {
      calls += 1;
      if (calls === 1) {
        await new Promise<void>((r) => (release = r));
        throw new Error('recipient unavailable');
      }
      return messages.map(stored);
    });
    const failing = dispatcher.submit(message('B', '1'));
    const queued = dispatcher.submit(message('B', '2'));
    await Promise.resolve();
    release();
    await expect(failing).rejects.toThrow('recipient unavailable');
    await expect(queued).rejects.toThrow('recipient unavailable');
    expect(calls).toBe(1);
    await expect(dispatcher.submit(message('B', '3'))).resolves.toMatchObject({ duplicate: false });
    expect(calls).toBe(2);
  });
});
