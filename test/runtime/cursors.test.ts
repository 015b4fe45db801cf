/**
 * Device cursors: acks are recorded in memory and written with the object's next write, the
 * watermark is the highest cursor, nothing moves backwards, and what an ack newly delivers
 * leaves out what other devices (each from its own start) already have.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { DeviceCursors, uncovered } from '../../durable-objects/mailbox/cursors.ts';
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
      cursors.persistIfDue(14_000);
      expect(store.deviceCursor('laptop')).toBe(3);
      cursors.persistIfDue(15_001);
      expect(store.deviceCursor('laptop')).toBe(9);
    }));
});

describe('uncovered', () => {
  it('is the part of an ack no other device has received', () => {
    expect(uncovered(0, 10, [])).toEqual([[0, 10]]);
    // A device that started at 3 and acked 6 has 4-6 only: 1-3 and 7-10 are new.
    expect(uncovered(0, 10, [{ start: 3, cursor: 6 }])).toEqual([
      [0, 3],
      [6, 10],
    ]);
    // Overlapping and out-of-order coverage; a device that received nothing yet covers nothing.
    expect(uncovered(2, 12, [{ start: 5, cursor: 9 }, { start: 0, cursor: 4 }, { start: 8, cursor: 8 }])).toEqual([
      [4, 5],
      [9, 12],
    ]);
    expect(uncovered(2, 8, [{ start: 0, cursor: 9 }])).toEqual([]);
    expect(uncovered(5, 5, [])).toEqual([]);
    expect(uncovered(0, 4, [{ start: 6, cursor: 9 }])).toEqual([[0, 4]]);
  });
});
