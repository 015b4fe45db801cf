/**
 * Abuse findings 13 and 14 (the privacy issue): a stranger puts one victim into as many groups
 * as they can, and a stranger logs a hidden user's comings and goings by the timing of presence
 * frames. Counted: what the stranger's requests achieved, what the victim's chat list and invite
 * list hold afterwards, and the presence frames the stranger received.
 */
import { InviteListSchema, GroupListSchema, PATHS, RATE_LIMITS } from '../protocol/index.ts';
import { call, outcome, Probe, showTally, tally, waitUntil, type Account, type Finding } from './abuse-kit.ts';
import type { RunningServer } from './server.ts';
import { sleep } from './util.ts';

const GROUPS = 300;
const CYCLES = 10;

/** Every page of a paged list, counted (a client walks `nextBefore`). */
async function countPages(server: RunningServer, token: string, path: string, key: 'groups' | 'invites'): Promise<{ items: number; pages: number }> {
  let before: string | null = null;
  let items = 0;
  let pages = 0;
  do {
    const query: string = before === null ? '?limit=50' : `?limit=50&before=${before}`;
    const r = await call(server.url, 'GET', `${path}${query}`, { token });
    if (r.status !== 200) throw new Error(`${path}: ${outcome(r)} ${r.message}`);
    const page = key === 'groups' ? GroupListSchema.parse(r.body) : InviteListSchema.parse(r.body);
    items += key === 'groups' ? (page as { groups: unknown[] }).groups.length : (page as { invites: unknown[] }).invites.length;
    before = page.nextBefore;
    pages += 1;
  } while (before !== null && pages < 100);
  return { items, pages };
}

/** 13. A stranger creates 300 groups with one victim in each. */
export async function groupSpam(server: RunningServer, stranger: Account, victim: Account): Promise<Finding> {
  const statuses: string[] = [];
  const t0 = performance.now();
  for (let i = 0; i < GROUPS; i++) {
    const r = await call(server.url, 'POST', PATHS.groups, { token: stranger.token, body: { title: `spam ${i}`, members: [victim.userId] } });
    statuses.push(outcome(r));
  }
  const ms = performance.now() - t0;
  const memberships = await countPages(server, victim.token, PATHS.groups, 'groups');
  const invites = await countPages(server, victim.token, PATHS.invites, 'invites');
  const counts = tally(statuses);
  return {
    id: 13,
    title: `a stranger puts one victim into ${GROUPS} groups`,
    before: '300 groups in 21 s; the victim is a member of all 300, GET /v1/groups answers all 300 at once',
    now:
      `${showTally(counts)} in ${(ms / 1000).toFixed(1)} s; the victim is a member of ${memberships.items} groups ` +
      `and has ${invites.items} pending invites (GET /v1/invites, ${invites.pages} page(s) of up to 50), receiving nothing from them`,
    bounded: memberships.items === 0 && invites.items <= RATE_LIMITS.group_create_user.burst,
    data: { statuses: counts, ms: Math.round(ms), memberships, invites },
  };
}

/** 14. A stranger watches a user whose last seen is 'nobody' while that user connects and disconnects 10 times. */
export async function presenceTiming(server: RunningServer, stranger: Account, hidden: Account): Promise<Finding> {
  const set = await call(server.url, 'PATCH', PATHS.settings, { token: hidden.token, body: { privacy: { lastSeen: 'nobody' } } });
  if (set.status !== 200) throw new Error(`hiding last seen: ${outcome(set)} ${set.message}`);
  const watcher = await Probe.open(server, stranger.token);
  try {
    watcher.send({ type: 'presence_watch', users: [hidden.userId] });
    await waitUntil(() => watcher.count('presence') >= 1, 10_000);
    watcher.reset();
    for (let i = 0; i < CYCLES; i++) {
      const visit = await Probe.open(server, hidden.token);
      visit.close();
      await waitUntil(() => visit.ws.readyState === visit.ws.CLOSED, 5_000);
    }
    // A message from the hidden user after the last visit: once it is in, the notices of the
    // visits (sent when they happened) would have arrived too; then a little quiet on top.
    const sender = await Probe.open(server, hidden.token);
    sender.send({ type: 'send', id: 'marker', to: stranger.userId, body: { kind: 'text', text: 'marker' } });
    await waitUntil(() => watcher.count('message') >= 1, 10_000);
    sender.close();
    await sleep(1_000);
    const frames = watcher.count('presence');
    return {
      id: 14,
      title: `a stranger watches a hidden user (last seen: nobody) come and go ${CYCLES} times`,
      before: 'a presence frame at every connect and disconnect (values hidden, timing exact): an online log',
      now: `${frames} presence frames across ${CYCLES} connects and ${CYCLES} disconnects`,
      bounded: frames === 0,
      data: { presenceFrames: frames, cycles: CYCLES },
    };
  } finally {
    watcher.close();
  }
}
