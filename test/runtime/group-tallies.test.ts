/**
 * Receipt tallies at scale: "delivered to N of M, read by K" and message info come from grouped
 * scans of the members' watermark indexes, not from every member per message. Checked against a
 * direct count over seeded random histories of joins, removals, rejoins, messages and receipts
 * (the rule: the members other than the sender who were there when the message was sent).
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { Members } from '../../durable-objects/group/members.ts';
import { migrate } from '../../durable-objects/group/schema.ts';
import { groupOf } from '../../durable-objects/stubs.ts';
import { Random } from '../fault/random.ts';

type Model = { joined: number; delivered: number; read: number };

function simulate(seed: number, steps: number, members: Members) {
  const rng = new Random(seed);
  const model = new Map<string, Model>();
  const messages: Array<{ gseq: number; id: string; sender: string }> = [];
  const people = Array.from({ length: 40 }, (_, i) => `u${String(i).padStart(2, '0')}`);
  let head = 0;
  for (let step = 0; step < steps; step++) {
    const roll = rng.next();
    const current = [...model.keys()];
    if (roll < 0.12 || current.length < 2) {
      const outside = people.filter((p) => !model.has(p));
      if (outside.length === 0) continue;
      const who = rng.pick(outside);
      head++;
      members.add([who], 'member', head, head);
      model.set(who, { joined: head, delivered: 0, read: 0 });
    } else if (roll < 0.18) {
      const who = rng.pick(current);
      head++;
      members.remove(who, head);
      model.delete(who);
    } else if (roll < 0.6) {
      const sender = rng.pick(current);
      head++;
      messages.push({ gseq: head, id: `m${head}`, sender });
    } else {
      const who = rng.pick(current);
      const status = rng.next() < 0.5 ? 'delivered' : 'read';
      const upTo = rng.int(0, head);
      members.advance(who, status, upTo, step);
      const m = model.get(who)!;
      m.delivered = Math.max(m.delivered, upTo);
      if (status === 'read') m.read = Math.max(m.read, upTo);
    }
  }
  return { model, messages };
}

function expected(model: Map<string, Model>, m: { gseq: number; id: string; sender: string }) {
  const there = [...model].filter(([user, row]) => user !== m.sender && row.joined <= m.gseq);
  return {
    tally: {
      messageId: m.id,
      gseq: m.gseq,
      of: there.length,
      delivered: there.filter(([, r]) => r.delivered >= m.gseq).length,
      read: there.filter(([, r]) => r.read >= m.gseq).length,
    },
    delivered: there.filter(([, r]) => r.delivered >= m.gseq).map(([u]) => u).sort(),
    read: there.filter(([, r]) => r.read >= m.gseq).map(([u]) => u).sort(),
  };
}

describe('group receipt tallies', () => {
  it.each([1, 2, 3, 4, 5, 6])('match a direct count over a random history of joins, removals, messages and receipts (seed %i)', async (seed) => {
    await runInDurableObject(groupOf(env, `tallies-${seed}-${Math.random()}`), async (_instance, state) => {
      const sql = state.storage.sql;
      migrate(sql);
      const members = new Members(sql);
      const { model, messages } = simulate(seed, 600, members);
      expect(messages.length).toBeGreaterThan(100);
      // One call over all messages, and calls over small windows (the tally rounds' shape).
      expect(members.tallies(messages)).toEqual(messages.map((m) => expected(model, m).tally));
      for (let i = 0; i < messages.length; i += 37) {
        const window = messages.slice(i, i + 5);
        expect(members.tallies(window)).toEqual(window.map((m) => expected(model, m).tally));
      }
      // Message info's lists: exactly who was there and has it / read it.
      for (const m of messages.filter((_, i) => i % 11 === 0)) {
        const want = expected(model, m);
        expect(members.reached(m.gseq, 'delivered', m.sender).sort()).toEqual(want.delivered);
        expect(members.reached(m.gseq, 'read', m.sender).sort()).toEqual(want.read);
      }
      expect(members.tallies([])).toEqual([]);
    });
  });

  it('counts a sender who left (no longer a member) nowhere, and members who joined later nowhere', async () => {
    await runInDurableObject(groupOf(env, `tallies-left-${Math.random()}`), async (_instance, state) => {
      const sql = state.storage.sql;
      migrate(sql);
      const members = new Members(sql);
      members.add(['a', 'b', 'c'], 'member', 1, 1);
      const message = { gseq: 2, id: 'm2', sender: 'a' };
      members.remove('a', 3);
      members.add(['d'], 'member', 4, 4);
      members.advance('b', 'read', 4, 5);
      members.advance('d', 'read', 4, 5);
      expect(members.tallies([message])).toEqual([{ messageId: 'm2', gseq: 2, of: 2, delivered: 1, read: 1 }]);
      expect(members.reached(2, 'read', 'a')).toEqual(['b']);
    });
  });
});
