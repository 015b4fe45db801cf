/**
 * The working parts of a created group object, built on its tables: the log, the members, the
 * fan-out, the sender tallies and consent (invites, link, requests), wired to the members'
 * mailboxes and the fan-out queue, with the deployment's tuning; and message actions.
 */
import { actionWindows } from '../../lib/message-actions.ts';
import { randomBase64Url } from '../../lib/random.ts';
import type { GroupChange, GroupLiveFrame } from '../../protocol/index.ts';
import { mailboxOf } from '../stubs.ts';
import { GroupActions } from './actions.ts';
import { Consent } from './consent.ts';
import { Delivery } from './delivery.ts';
import { enqueueJobs, planNotices } from './fanout-job.ts';
import { FanOut } from './fanout.ts';
import { GroupLog } from './log.ts';
import { Members } from './members.ts';
import { Notices } from './notices.ts';
import { Tallies } from './tallies.ts';

/** Audiences up to this size are served by direct calls (see README, "Fan-out threshold"). */
const DEFAULT_DIRECT_FANOUT_MAX = 32;
const DEFAULT_MEMBERS_PER_JOB = 50;
/** In large groups, recently active members called directly (the rest are queued). */
const DEFAULT_DIRECT_HOT_MAX = 256;
const TALLY_FLUSH_MS = 200;
/**
 * Live pushes of a large group in flight at once. 256 rather than 64: with 200 members online
 * the groups bench measured send -> last member p50 36 instead of 51 ms and 110 instead of 90
 * group msg/s (same day, same machine); a round still never opens more calls than this.
 */
const DEFAULT_LIVE_CONCURRENCY = 256;
/** A large group notifies its offline members at most once per this long (./notices.ts). */
const NOTICE_BURST_MS = 30_000;
/** A member away from a busy large group gets a notice at most this often (./notices.ts). */
const NOTICE_MAX_GAP_MS = 15 * 60_000;
/** Invite link codes: 128 random bits, 22 base64url characters. */
const LINK_CODE_BYTES = 16;

export type Parts = {
  log: GroupLog;
  members: Members;
  fanout: FanOut;
  delivery: Delivery;
  notices: Notices;
  tallies: Tallies;
  consent: Consent;
  actions: GroupActions;
};

export type PartsDeps = {
  sql: SqlStorage;
  env: Env;
  groupId: () => string;
  /** Append a system event (the object assigns its id). */
  event: (by: string, change: GroupChange, membership: boolean, at: number) => void;
  /** Server ids of new log entries. */
  newId: () => string;
  /** Where read diffusion began (the `delivery_changed` event), or null while entries are copied into mailboxes. */
  logFrom: () => number | null;
};

export function buildParts({ sql, env, groupId, event, newId, logFrom }: PartsDeps): Parts {
  const log = new GroupLog(sql, groupId);
  const members = new Members(sql);
  const delivery = new Delivery({
    sql,
    log,
    members,
    live: (member, push) => mailboxOf(env, member).groupLive(groupId(), push),
    encode: (entries, after, through) => JSON.stringify({ type: 'group_live', group: groupId(), entries, after, through } satisfies GroupLiveFrame),
    joined: (member, from) => mailboxOf(env, member).largeGroupJoined(groupId(), from),
    concurrency: DEFAULT_LIVE_CONCURRENCY,
    delivered: (reached) => {
      const now = Date.now();
      let from = Number.POSITIVE_INFINITY;
      let to = 0;
      for (const [member, gseq] of reached) {
        const moved = members.advance(member, 'delivered', Math.min(gseq, log.head), now);
        if (moved) from = Math.min(from, moved.from);
        to = Math.max(to, gseq);
      }
      if (from < to) tallies.touch(from, Math.min(to, log.head));
    },
  });
  const membersPerJob = atLeast(1, env.GROUP_FANOUT_MEMBERS_PER_JOB, DEFAULT_MEMBERS_PER_JOB);
  const notices = new Notices({
    members: () => members.ids(),
    online: () => delivery.onlineMembers(),
    send: (to, notice) => enqueueJobs(env.GROUP_FANOUT, planNotices(groupId(), to, notice, membersPerJob)),
    burstMs: NOTICE_BURST_MS,
    maxGapMs: NOTICE_MAX_GAP_MS,
    now: () => Date.now(),
    schedule: (ms, task) => void setTimeout(task, ms),
  });
  const fanout = new FanOut({
    sql,
    log,
    members,
    groupId,
    deliver: async (member, entries) => {
      await mailboxOf(env, member).deliverGroup(groupId(), entries);
    },
    enqueue: (jobs) => enqueueJobs(env.GROUP_FANOUT, jobs),
    logFrom,
    live: async (rows, after, from) => {
      await delivery.push(rows, after, from);
      notices.after(rows);
    },
    // 0 is meaningful here: every audience goes through the queue.
    directLimit: atLeast(0, env.GROUP_DIRECT_FANOUT_MAX, DEFAULT_DIRECT_FANOUT_MAX),
    hotLimit: atLeast(0, env.GROUP_DIRECT_HOT_MAX, DEFAULT_DIRECT_HOT_MAX),
    membersPerJob,
  });
  const tallies = new Tallies({
    log,
    members,
    push: async (sender, tallies) => {
      await mailboxOf(env, sender).groupTallies(groupId(), tallies);
    },
    flushAfterMs: TALLY_FLUSH_MS,
  });
  const consent = new Consent({
    sql,
    members,
    log,
    event,
    newCode: () => linkCode(),
    logFrom,
    // Unset or 0: groups keep copying entries into mailboxes whatever their size (GroupChat reads it alike).
    logDeliveryMin: atLeast(0, env.GROUP_LOG_DELIVERY_MIN, 0),
  });
  const actions = new GroupActions({ log, groupId, windows: actionWindows(env), newId });
  return { log, members, fanout, delivery, notices, tallies, consent, actions };
}

/** A numeric setting: `value` if it is a number >= `min`, else `fallback` (unset or invalid). */
export function atLeast(min: number, value: unknown, fallback: number): number {
  const n = value === undefined || value === '' ? NaN : Number(value);
  return Number.isFinite(n) && n >= min ? n : fallback;
}

/**
 * A new invite link code: 128 random bits as base64url, drawn again while it starts with '-' or
 * '_' (1 in 32), so that a bare code is never taken for an option by a command line
 * (`messenger join -O3…`) or mangled by a chat app's link detection.
 */
export function linkCode(draw: () => string = () => randomBase64Url(LINK_CODE_BYTES)): string {
  for (;;) {
    const code = draw();
    if (/^[A-Za-z0-9]/.test(code)) return code;
  }
}
