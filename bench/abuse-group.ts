/**
 * Abuse finding 5: a stranger builds the largest group allowed out of people who never agreed
 * (in as few requests as the API allows), then sends 30 messages into it at once. Counted: the
 * requests that succeed, who became a member and who was only invited (issue 11: people who did
 * not let the stranger add them), the messages accepted or refused, the mailbox deliveries they
 * cause, and how long the fan-out takes to finish.
 */
import { GROUP_MEMBERS_PER_REQUEST, GroupSchema, PATHS, RATE_LIMITS } from '../protocol/index.ts';
import { call, outcome, Probe, showTally, tally, waitUntil, type Account, type Finding, type Reply } from './abuse-kit.ts';
import type { RunningServer } from './server.ts';
import { sleep } from './util.ts';

const MESSAGES = 30;
/** Longest wait for the fan-out of the accepted messages to finish. */
const FANOUT_WAIT_MS = 120_000;

type GroupStats = { head: number; fannedThrough: number; backlog: number; members: number };

export async function strangerGroup(server: RunningServer, stranger: Account, pool: readonly Account[], note: string): Promise<Finding> {
  const ids = pool.map((u) => u.userId);
  const requests: Reply[] = [];
  const t0 = performance.now();
  const created = await call(server.url, 'POST', PATHS.groups, {
    token: stranger.token,
    body: { title: 'stranger', members: ids.slice(0, GROUP_MEMBERS_PER_REQUEST) },
  });
  requests.push(created);
  if (created.status !== 201) throw new Error(`stranger group: create -> ${outcome(created)} ${created.message}`);
  let group = GroupSchema.parse(created.body);
  for (let i = GROUP_MEMBERS_PER_REQUEST; i < ids.length; i += GROUP_MEMBERS_PER_REQUEST) {
    const r = await call(server.url, 'POST', PATHS.groupMembers(group.groupId), {
      token: stranger.token,
      body: { members: ids.slice(i, i + GROUP_MEMBERS_PER_REQUEST) },
    });
    requests.push(r);
    if (r.status === 200) group = GroupSchema.parse(r.body);
  }
  const buildMs = performance.now() - t0;
  const members = group.members.length;
  const invited = group.invites.length;

  const s = await Probe.open(server, stranger.token);
  try {
    s.reset();
    const m0 = performance.now();
    for (let i = 0; i < MESSAGES; i++) {
      s.send({ type: 'group_send', id: `spam${i}`, group: group.groupId, body: { kind: 'text', text: `buy now ${i}` } });
    }
    await waitUntil(() => s.count('group_sent') + s.count('error') >= MESSAGES, 60_000);
    const answerMs = performance.now() - m0;
    const accepted = s.count('group_sent');
    const refused = s.errorCount('rate_limited');
    const deliveries = accepted * (members - 1);

    // The fan-out runs on after the answers (queued jobs); wait for it, bounded.
    const f0 = performance.now();
    let stats: GroupStats | null = null;
    let finished = false;
    while (performance.now() - f0 < FANOUT_WAIT_MS) {
      // Copied field by field: the answer is an RPC proxy that dies with the server.
      const answer = (await server.callObject('GROUP', group.groupId, 'stats')) as GroupStats;
      stats = { head: answer.head, fannedThrough: answer.fannedThrough, backlog: answer.backlog, members: answer.members };
      if (stats.backlog === 0 && stats.fannedThrough >= stats.head) {
        finished = true;
        break;
      }
      await sleep(250);
    }
    const fanoutMs = performance.now() - f0;
    const budget = RATE_LIMITS.group_deliveries_user.burst;
    const statuses = tally(requests.map(outcome));
    return {
      id: 5,
      title: `stranger's group of ${members}, 30 messages`,
      before: 'group built in 4 requests; 30 messages -> 30,690 deliveries',
      now:
        `${note}built with ${requests.length} requests (${showTally(statuses)}) in ${(buildMs / 1000).toFixed(1)} s, ${members} members, ${invited} only invited; ` +
        `30 messages: ${accepted} accepted, ${refused} refused rate_limited (answers in ${(answerMs / 1000).toFixed(1)} s) -> ` +
        `${deliveries.toLocaleString('en-US')} deliveries (limit: ${budget.toLocaleString('en-US')} at once, then ` +
        `${RATE_LIMITS.group_deliveries_user.refill}/s per user); fan-out ${finished ? `finished ${(fanoutMs / 1000).toFixed(1)} s after the answers` : `NOT finished after ${FANOUT_WAIT_MS / 1000} s`}`,
      bounded: deliveries <= budget + (members - 1) + (RATE_LIMITS.group_deliveries_user.refill * answerMs) / RATE_LIMITS.group_deliveries_user.everyMs,
      data: { requests: statuses, members, invited, buildMs: Math.round(buildMs), accepted, refused, errors: Object.fromEntries(s.errors), deliveries, fanoutFinished: finished, fanoutMs: Math.round(fanoutMs), groupStats: stats },
    };
  } finally {
    s.close();
  }
}
