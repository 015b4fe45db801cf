/**
 * Device cursors: acks are recorded in memory and written with the object's next write, the
 * watermark is the highest cursor, and nothing moves backwards.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { DeviceCursors } from '../../durable-objects/mailbox/cursors.ts';
import { MailboxStore } from '../../durable-objects/mailbox/store.ts';
import type { UserMailbox } from '../../durable-objects/user-mailbox.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';

describe('DeviceCursors', () => {
  it('records in memory, persists on demand, and keeps the highest cursor as the watermark', () =>
    runInDurableObject(mailboxOf(env, 'cursor-test'), (_i: UserMailbox, state) => {
      const store = new MailboxStore(state.storage.sql);
      const cursors = new DeviceCursors(store);
      expect(cursors.record('phone', 5)).toBe(0);
      expect(cursors.record('laptop', 3)).toBe(5);
      expect(cursors.record('phone', 2)).toBe(5); // an old ack moves nothing
      expect(cursors.of('phone')).toBe(5);
      expect(cursors.watermark).toBe(5);
      // Nothing written yet...
      expect(store.deviceCursor('phone')).toBeNull();
      cursors.persist(1);
      // ...now both are, and a fresh instance (after an eviction) agrees.
      expect(store.deviceCursor('phone')).toBe(5);
      expect(store.deviceCursor('laptop')).toBe(3);
      expect(new DeviceCursors(store).watermark).toBe(5);
      cursors.forget('phone');
      expect(cursors.of('phone')).toBeNull();
      expect(new DeviceCursors(store).watermark).toBe(3);
      // Piggybacked writes are throttled: due only a while after the last one.
      cursors.record('laptop', 9);
      cursors.persistIfDue(500);
      expect(store.deviceCursor('laptop')).toBe(3);
      cursors.persistIfDue(1_001);
      expect(store.deviceCursor('laptop')).toBe(9);
    }));
});
