/**
 * The mailbox side of group fan-out, with a scripted group object: deliveries in any order and
 * repeated deliveries become one in-order copy; gaps are fetched from the group; entries a
 * member may not see are skipped over.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { GroupEntry } from '../../protocol/index.ts';
import type { GroupChat } from '../../durable-objects/group-chat.ts';
import { GroupInbox, gseqOf } from '../../durable-objects/mailbox/group-inbox.ts';
import { GroupSync } from '../../durable-objects/mailbox/group-sync.ts';
import { MailboxStore } from '../../durable-objects/mailbox/store.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';

const GROUP = '01JGR0UP000000000000000000';
const SELF = '01JSE1F0000000000000000000';
const OTHER = '01J0THER000000000000000000';

function message(gseq: number): GroupEntry {
  return {
    type: 'message',
    message: {
      id: `01JMSG${String(gseq).padStart(20, '0')}`,
      group: GROUP,
      gseq,
      clientId: `c${gseq}`,
      from: OTHER,
      fromDevice: OTHER,
      sentAt: 1,
      body: { kind: 'text', text: `m${gseq}` },
    },
  };
}

function added(gseq: number, member: string): GroupEntry {
  return {
    type: 'event',
    event: { id: `01JEVT${String(gseq).padStart(20, '0')}`, group: GROUP, gseq, by: OTHER, at: 1, change: { kind: 'members_added', members: [member] } },
  };
}

/** Run `body` inside a fresh mailbox object with a GroupSync wired to a scripted group log. */
async function withSync(log: GroupEntry[], visible: (gseq: number) => boolean, body: (sync: GroupSync, fetched: Array<[number, number]>, inbox: GroupInbox) => Promise<void>): Promise<void> {
  const stub = mailboxOf(env, `${SELF}-${Math.random()}`);
  await runInDurableObject(stub, async (_instance, state) => {
    const store = new MailboxStore(state.storage.sql);
    const inbox = new GroupInbox(state.storage.sql, store);
    const fetched: Array<[number, number]> = [];
    const group = {
      entriesFor: async (_member: string, after: number, upTo: number) => {
        fetched.push([after, upTo]);
        const entries = log.filter((e) => gseqOf(e) > after && gseqOf(e) <= upTo && visible(gseqOf(e)));
        return { ok: true as const, value: { entries, through: upTo } };
      },
      receipt: async () => undefined,
    } as unknown as DurableObjectStub<GroupChat>;
    const sync = new GroupSync({ inbox, self: () => SELF, publish: () => undefined, arrived: () => undefined, group: () => group, retryLater: () => undefined, deliveredDelayMs: 0, becameLarge: () => undefined });
    await body(sync, fetched, inbox);
  });
}

const gseqsIn = (inbox: GroupInbox) => inbox.history(GROUP, undefined, 100).items.map((i) => gseqOf(i.entry)).reverse();

describe('group delivery into a mailbox', () => {
  it('repairs a gap from the group, drops repeats, accepts reversed contiguous batches', async () => {
    const log = [added(1, SELF), ...[2, 3, 4, 5, 6, 7].map(message)];
    await withSync(log, () => true, async (sync, fetched, inbox) => {
      // The newest entry arrives first: 1..2 are fetched, everything lands in order.
      expect(await sync.deliver(GROUP, [message(3)])).toBe(3);
      expect(fetched).toEqual([[0, 3]]);
      expect(gseqsIn(inbox)).toEqual([1, 2, 3]);
      // Late and repeated deliveries of what is there change nothing.
      expect(await sync.deliver(GROUP, [message(2), added(1, SELF), message(3)])).toBe(0);
      // A reversed but contiguous batch needs no fetch.
      expect(await sync.deliver(GROUP, [message(5), message(4)])).toBe(2);
      expect(fetched).toHaveLength(1);
      // Concurrent deliveries of one group are taken one at a time.
      const counts = await Promise.all([sync.deliver(GROUP, [message(7)]), sync.deliver(GROUP, [message(6)])]);
      expect(counts.reduce((a, b) => a + b)).toBe(2);
      expect(gseqsIn(inbox)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(inbox.through(GROUP)).toBe(7);
    });
  });

  it('starts at the member’s own join without asking, and jumps over entries they may not see', async () => {
    // Joined at 3; removed at 5 (they see their removal); re-added at 8.
    const log = [message(1), message(2), added(3, SELF), message(4), message(5), message(6), message(7), added(8, SELF), message(9)];
    const visible = (g: number) => (g >= 3 && g <= 5) || g >= 8;
    await withSync(log, visible, async (sync, fetched, inbox) => {
      expect(await sync.deliver(GROUP, [added(3, SELF), message(4)])).toBe(2);
      expect(fetched).toEqual([]);
      expect(await sync.deliver(GROUP, [message(5)])).toBe(1);
      // Re-added: the group's answer for 5..9 holds only what they may see.
      expect(await sync.deliver(GROUP, [message(9)])).toBe(2);
      expect(fetched).toEqual([[5, 9]]);
      expect(gseqsIn(inbox)).toEqual([3, 4, 5, 8, 9]);
    });
  });
});
