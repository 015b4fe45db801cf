/**
 * Black box, large groups (read diffusion) through the SDK against the real local server, run
 * with GROUP_LOG_DELIVERY_MIN=3: a group of 4 or more members switches. What an app sees: the
 * group's entries up to the switch as mailbox events (`group_message`, `group_event`), the rest
 * as `group_log_entry` events; together one stream per group in gseq order, nothing lost and
 * nothing twice, through dropped connections and for a member who was offline for a long time.
 */
import { describe, expect, it } from 'vitest';
import { GROUP_PULL_MAX, type GroupEntry } from '../../protocol/index.ts';
import type { MessengerClient } from '../../client/index.ts';
import { device, dropConnection, eventually, nextPhone, type TestClient } from '../support/clients.ts';
import { serverSuite } from '../support/suite.ts';

const suite = serverSuite({ args: ['--var', 'GROUP_LOG_DELIVERY_MIN:3'] });
const { track } = suite;

type Seen = { gseq: number; how: 'mailbox' | 'log'; text: string | null; kind: string };

/** Record every entry of `group` the client emits, by either path, in emission order. */
function watch(client: MessengerClient, group: () => string | undefined): Seen[] {
  const seen: Seen[] = [];
  const text = (e: GroupEntry): string | null => (e.type === 'message' && e.message.body.kind === 'text' ? e.message.body.text : null);
  client.on('group_message', ({ message }) => {
    if (message.group === group()) seen.push({ gseq: message.gseq, how: 'mailbox', text: message.body.kind === 'text' ? message.body.text : null, kind: 'message' });
  });
  client.on('group_event', ({ event }) => {
    if (event.group === group()) seen.push({ gseq: event.gseq, how: 'mailbox', text: null, kind: event.change.kind });
  });
  client.on('group_log_entry', ({ group: g, gseq, entry }) => {
    if (g === group()) seen.push({ gseq, how: 'log', text: text(entry), kind: entry.type === 'event' ? entry.event.change.kind : entry.type });
  });
  return seen;
}

async function member(connect = true): Promise<TestClient> {
  const client = track(await device(suite.server().baseUrl, nextPhone(), 'e2e'));
  await client.api.updateSettings({ privacy: { groups: 'everyone' } });
  if (connect) await client.connect();
  return client;
}

function strictlyIncreasing(values: readonly number[]): boolean {
  return values.every((v, i) => i === 0 || v > values[i - 1]!);
}

describe('large groups through the SDK', () => {
  it('one ordered stream per group across the switch: mailbox entries up to it, log entries after it, each once', async () => {
    const current: { id?: string } = {};
    const ann = await member();
    const bob = await member();
    const cat = await member();
    const annSeen = watch(ann, () => current.id);
    const bobSeen = watch(bob, () => current.id);
    const group = await ann.api.createGroup({ title: 'grows', members: [bob.userId!, cat.userId!] });
    current.id = group.groupId;
    const groupId = group.groupId;
    for (let i = 0; i < 5; i++) await ann.sendGroupText(groupId, `small ${i}`).sent;
    // Two more members: four is past the threshold of three, so the group switches.
    const dan = await member();
    const eve = await member(false);
    const eveSeen = watch(eve, () => current.id);
    await ann.api.addGroupMembers(groupId, [dan.userId!, eve.userId!]);
    const sends = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? ann : bob).sendGroupText(groupId, `large ${i}`).sent);
    // A dropped connection in the middle: the SDK reconnects, pulls what it missed, emits nothing twice.
    dropConnection(bob);
    const answers = await Promise.all(sends);
    const head = Math.max(...answers.map((a) => a.gseq));

    for (const seen of [annSeen, bobSeen]) {
      await eventually(() => expect(seen.at(-1)?.gseq).toBe(head), 20_000);
      const gseqs = seen.map((s) => s.gseq);
      expect(strictlyIncreasing(gseqs)).toBe(true);
      const switchAt = seen.find((s) => s.kind === 'delivery_changed');
      expect(switchAt?.how).toBe('mailbox');
      expect(seen.filter((s) => s.gseq <= switchAt!.gseq).every((s) => s.how === 'mailbox')).toBe(true);
      expect(seen.filter((s) => s.gseq > switchAt!.gseq).every((s) => s.how === 'log')).toBe(true);
      expect(seen.flatMap((s) => (s.text === null ? [] : [s.text])).sort()).toEqual(
        [...Array.from({ length: 5 }, (_, i) => `small ${i}`), ...Array.from({ length: 20 }, (_, i) => `large ${i}`)].sort(),
      );
    }
    // Eve was offline through all of it: on connecting she gets her joining and the switch from
    // her mailbox and everything after from the log, once, in order.
    await eve.connect();
    await eventually(() => expect(eveSeen.at(-1)?.gseq).toBe(head), 20_000);
    expect(strictlyIncreasing(eveSeen.map((s) => s.gseq))).toBe(true);
    expect(eveSeen.slice(0, 2).map((s) => [s.kind, s.how])).toEqual([
      ['members_added', 'mailbox'],
      ['delivery_changed', 'mailbox'],
    ]);
    expect(eveSeen.filter((s) => s.text !== null)).toHaveLength(20);
    for (const c of [ann, bob, cat, dan, eve]) c.close();
  }, 120_000);

  it(`a member offline for ${2 * GROUP_PULL_MAX + 100} messages catches up in pages; a new member added later sees only what came after`, async () => {
    const current: { id?: string } = {};
    const people = await Promise.all([member(), member(), member(), member(false)]);
    const [ann, bob, cat, dan] = people as [TestClient, TestClient, TestClient, TestClient];
    const group = await ann.api.createGroup({ title: 'busy', members: [bob.userId!, cat.userId!, dan.userId!] });
    current.id = group.groupId;
    const groupId = group.groupId;
    const danSeen = watch(dan, () => current.id);
    // Three pages of pulls.
    const N = 2 * GROUP_PULL_MAX + 100;
    let last = 0;
    for (let i = 0; i < N; i += 100) {
      const batch = await Promise.all(Array.from({ length: 100 }, (_, k) => (k % 2 === 0 ? ann : bob).sendGroupText(groupId, `m ${i + k}`).sent));
      last = Math.max(last, ...batch.map((a) => a.gseq));
    }
    await dan.connect();
    await eventually(() => expect(danSeen.at(-1)?.gseq).toBe(last), 60_000);
    const texts = danSeen.flatMap((s) => (s.text === null ? [] : [s.text]));
    expect(texts).toHaveLength(N);
    expect(new Set(texts).size).toBe(N);
    expect(strictlyIncreasing(danSeen.map((s) => s.gseq))).toBe(true);

    // Someone added now: nothing of it is in their mailbox; they see their joining and what follows.
    const fay = await member();
    const faySeen = watch(fay, () => current.id);
    await ann.api.addGroupMembers(groupId, [fay.userId!]);
    const after = await ann.sendGroupText(groupId, 'welcome').sent;
    await eventually(() => expect(faySeen.at(-1)?.gseq).toBe(after.gseq), 20_000);
    expect(faySeen.map((s) => [s.kind, s.how, s.text])).toEqual([
      ['members_added', 'log', null],
      ['message', 'log', 'welcome'],
    ]);
    for (const c of [ann, bob, cat, dan, fay]) c.close();
  }, 180_000);
});
