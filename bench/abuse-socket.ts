/**
 * Abuse findings over the WebSocket: a send flood (and what it does to an unrelated pair),
 * typing storms, presence-watch storms, resume replays and frames naming ids that do not exist.
 * One attacking device each, with raw sockets (bench/abuse-kit.ts Probe).
 */
import { ulid } from 'ulid';
import { GroupSchema, PATHS, RATE_LIMITS, RESUME_ENTRIES_PER_TOKEN } from '../protocol/index.ts';
import { call, objectFiles, outcome, Probe, settle, showTally, tally, waitUntil, type Account, type Finding } from './abuse-kit.ts';
import type { RunningServer } from './server.ts';
import { summarize } from './stats.ts';
import { mapPool, sleep } from './util.ts';

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const MiB = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** Open probes, run `body`, close them whatever happens. */
async function withProbes<T>(server: RunningServer, accounts: readonly Account[], body: (probes: Probe[]) => Promise<T>): Promise<T> {
  const probes: Probe[] = [];
  try {
    for (const a of accounts) probes.push(await Probe.open(server, a.token));
    return await body(probes);
  } finally {
    for (const p of probes) p.close();
  }
}

const FLOOD_FRAMES = 5_000;
const FLOOD_MS = 8_000;
const PAIR_EVERY_MS = 50;

/**
 * 4. One device sends 5,000 `send` frames to one (offline) victim, evenly over 8 s, without
 * waiting for answers; meanwhile an unrelated pair exchanges a message every 50 ms.
 */
export async function sendFlood(server: RunningServer, flooder: Account, victim: Account, a: Account, b: Account): Promise<Finding> {
  return withProbes(server, [flooder, a, b], async ([f, pa, pb]) => {
    const sentAt = new Map<string, number>();
    const samples: { at: number; ms: number }[] = [];
    pb!.onFrame = (frame, now) => {
      const m = frame.type === 'message' ? (frame.message as { clientId: string }) : null;
      const at = m ? sentAt.get(m.clientId) : undefined;
      if (at !== undefined) samples.push({ at, ms: now - at });
    };
    let pairSeq = 0;
    const pair = setInterval(() => {
      const id = `pair${pairSeq++}`;
      sentAt.set(id, performance.now());
      pa!.send({ type: 'send', id, to: b.userId, body: { kind: 'text', text: 'unrelated' } });
    }, PAIR_EVERY_MS);
    try {
      await sleep(3_000);
      const start = performance.now();
      const inWindow = { stored: 0, refused: 0 };
      f!.onFrame = (frame, now) => {
        if (now - start > FLOOD_MS) return;
        if (frame.type === 'sent') inWindow.stored++;
        else if (frame.type === 'error' && frame.code === 'rate_limited') inWindow.refused++;
      };
      let sent = 0;
      while (sent < FLOOD_FRAMES) {
        const due = Math.min(FLOOD_FRAMES, Math.ceil((FLOOD_FRAMES * (performance.now() - start)) / FLOOD_MS));
        for (; sent < due; sent++) f!.send({ type: 'send', id: `flood${sent}`, to: victim.userId, body: { kind: 'text', text: `flood ${sent}` } });
        await sleep(4);
      }
      await sleep(Math.max(0, start + FLOOD_MS - performance.now()));
      clearInterval(pair);
      const answered = (): number => f!.count('sent') + f!.count('error');
      await waitUntil(() => answered() >= FLOOD_FRAMES && samples.length >= pairSeq, 20_000);

      const before = summarize(samples.filter((s) => s.at < start).map((s) => s.ms));
      const during = summarize(samples.filter((s) => s.at >= start && s.at < start + FLOOD_MS).map((s) => s.ms));
      const stored = f!.count('sent');
      const refused = f!.errorCount('rate_limited');
      const lat = (l: typeof before): string => (l ? `p50 ${l.p50.toFixed(1)} / p99 ${l.p99.toFixed(1)} ms` : 'no samples');
      const bound = RATE_LIMITS.send_device.burst + (RATE_LIMITS.send_device.refill * (FLOOD_MS + 20_000)) / RATE_LIMITS.send_device.everyMs;
      return {
        id: 4,
        title: 'send flood, one device to one victim, 8 s',
        before: '5,000 stored in 8 s; unrelated pair p50 8 ms -> 3.4 s',
        now:
          `${inWindow.stored} stored, ${inWindow.refused} refused within 8 s (in all: ${stored} stored, ${refused} refused, ` +
          `${FLOOD_FRAMES - answered()} unanswered); unrelated pair ${lat(before)} before, ${lat(during)} during ` +
          `(${pairSeq - samples.length} of ${pairSeq} not received)`,
        bounded: stored <= bound,
        data: { framesSent: sent, inWindow, stored, refused, errors: Object.fromEntries(f!.errors), pairBefore: before, pairDuring: during, pairSent: pairSeq, pairReceived: samples.length },
      };
    } finally {
      clearInterval(pair);
    }
  });
}

/** Create a group through the API (its members, strangers to the creator, first let anyone add them); answers its id. */
async function createGroup(base: URL, creator: Account, members: readonly Account[], title: string): Promise<string> {
  for (const member of members) {
    const r = await call(base, 'PATCH', PATHS.settings, { token: member.token, body: { privacy: { groups: 'everyone' } } });
    if (r.status !== 200) throw new Error(`letting anyone add ${member.name} -> ${outcome(r)} ${r.message}`);
  }
  const r = await call(base, 'POST', PATHS.groups, { token: creator.token, body: { title, members: members.map((m) => m.userId) } });
  if (r.status !== 201) throw new Error(`creating group ${title} -> ${outcome(r)} ${r.message}`);
  return GroupSchema.parse(r.body).groupId;
}

/**
 * 6. Typing storms: 1,000 `typing` frames alternating typing/recording to one connected peer;
 * 300 `group_typing` frames to a 12-member group whose members are connected and active.
 */
export async function typingStorm(server: RunningServer, typer: Account, peer: Account, groupTyper: Account, members: readonly Account[]): Promise<Finding> {
  return withProbes(server, [typer, peer, groupTyper, ...members], async ([t, p, g, ...ms]) => {
    const state = (i: number): string => (i % 2 === 0 ? 'typing' : 'recording');
    p!.reset();
    const t0 = performance.now();
    for (let i = 0; i < 1_000; i++) t!.send({ type: 'typing', to: peer.userId, state: state(i) });
    const peerEnd = await settle(() => p!.count('typing_notice'), 1_500, 10_000);
    const peerNotices = p!.count('typing_notice');

    // Members become "likely online" for the group by acknowledging one of its messages.
    const groupId = await createGroup(server.url, groupTyper, members, 'typing storm');
    g!.send({ type: 'group_send', id: 'hello', group: groupId, body: { kind: 'text', text: 'hello' } });
    await waitUntil(() => ms.every((m) => m.count('group_message') > 0), 15_000);
    await sleep(2_000);
    for (const m of ms) m.reset();
    const g0 = performance.now();
    for (let i = 0; i < 300; i++) g!.send({ type: 'group_typing', group: groupId, state: state(i) });
    const total = (): number => ms.reduce((sum, m) => sum + m.count('typing_notice'), 0);
    const groupEnd = await settle(total, 1_500, 10_000);
    const groupNotices = total();
    const conv = RATE_LIMITS.typing_conversation;
    return {
      id: 6,
      title: 'typing storms (1:1 and group)',
      before: '1,000 frames -> 1,000 notices; 300 group frames -> 3,734 notices',
      now:
        `1,000 typing -> ${peerNotices} notices at the peer (the last ${secs(Math.max(0, peerEnd - t0))} after the first frame); ` +
        `300 group_typing -> ${groupNotices} notices across ${members.length} members (the last after ${secs(Math.max(0, groupEnd - g0))}); ` +
        `errors to the typer: ${showTally(Object.fromEntries([...t!.errors, ...g!.errors]))}`,
      bounded: peerNotices <= conv.burst + 10 && groupNotices <= members.length * (conv.burst + 10),
      data: { peerNotices, groupNotices, members: members.length, typerErrors: Object.fromEntries(t!.errors), groupTyperErrors: Object.fromEntries(g!.errors) },
    };
  });
}

/** 7. 100 `presence_watch` frames of 32 users each, pipelined. */
export async function presenceStorm(server: RunningServer, watcher: Account, watched: readonly Account[]): Promise<Finding> {
  return withProbes(server, [watcher], async ([w]) => {
    const users = watched.slice(0, 32).map((u) => u.userId);
    w!.reset();
    const t0 = performance.now();
    for (let i = 0; i < 100; i++) w!.send({ type: 'presence_watch', users });
    const outcomes = (): number => w!.errorCount('rate_limited') + Math.floor(w!.count('presence') / users.length);
    const complete = await waitUntil(() => outcomes() >= 100, 60_000);
    const ms = performance.now() - t0;
    const refused = w!.errorCount('rate_limited');
    const answered = Math.floor(w!.count('presence') / users.length);
    return {
      id: 7,
      title: 'presence_watch storm, 100 x 32 users',
      before: '40 s of server time',
      now: `${answered} answered (${w!.count('presence')} presence frames), ${refused} refused rate_limited, all outcomes in ${secs(ms)}${complete ? '' : ' (INCOMPLETE after 60 s)'}`,
      bounded: answered <= RATE_LIMITS.presence_watch_device.burst + 2,
      data: { answered, refused, presenceFrames: w!.count('presence'), ms: Math.round(ms), complete, errors: Object.fromEntries(w!.errors) },
    };
  });
}

/** 8. `resume {after: 0}` on a mailbox of ~1,000 entries of 16,000 characters: 3 frames, then 7 more. */
export async function resumeReplay(server: RunningServer, hoarder: Account, senders: readonly Account[]): Promise<Finding> {
  const text = 'x'.repeat(16_000);
  const stored = await withProbes(server, senders, async (probes) => {
    probes.forEach((s, k) => {
      for (let i = 0; i < 500; i++) s.send({ type: 'send', id: `big${k}-${i}`, to: hoarder.userId, body: { kind: 'text', text } });
    });
    await waitUntil(() => probes.every((s) => s.count('sent') + s.count('error') >= 500), 120_000);
    return probes.reduce((sum, s) => sum + s.count('sent'), 0);
  });
  return withProbes(server, [hoarder], async ([h]) => {
    await waitUntil(() => h!.count('message') >= stored, 60_000);
    h!.autoAck = false;
    await sleep(300);
    const burst = async (n: number): Promise<{ bytes: number; messages: number; refused: number; ms: number }> => {
      h!.reset();
      const t0 = performance.now();
      for (let i = 0; i < n; i++) h!.send({ type: 'resume', after: 0 });
      const end = await settle(() => h!.bytes, 1_500, 60_000);
      return { bytes: h!.bytes, messages: h!.count('message'), refused: h!.errorCount('rate_limited'), ms: Math.round(end - t0) };
    };
    const first = await burst(3);
    const more = await burst(7);
    const limit = RATE_LIMITS.resume_device;
    // A replay of `stored` entries costs one token per RESUME_ENTRIES_PER_TOKEN of them.
    const tokensPerReplay = Math.max(1, Math.ceil(stored / RESUME_ENTRIES_PER_TOKEN));
    const perReplay = first.messages > 0 ? first.bytes / Math.max(1, 3 - first.refused) : 0;
    return {
      id: 8,
      title: 'resume {after: 0} replays',
      before: '3 frames -> 46.5 MiB',
      now:
        `mailbox of ${stored} entries of 16,000 chars: 3 resumes -> ${MiB(first.bytes)} (${first.messages} messages), ${first.refused} refused; ` +
        `7 more -> ${MiB(more.bytes)}, ${more.refused} refused (a full replay costs ${tokensPerReplay} of ${limit.burst} tokens, ` +
        `${limit.refill} refilled a minute: ~${MiB((perReplay * limit.refill) / tokensPerReplay)} a minute per device)`,
      // Ten full replays within seconds: the burst pays for at most burst / tokensPerReplay, plus one refill.
      bounded: 10 - first.refused - more.refused <= Math.floor(limit.burst / tokensPerReplay) + 1,
      data: { entries: stored, first, more, limit: { burst: limit.burst, refillPerMinute: limit.refill } },
    };
  });
}

/**
 * 10. Frames and requests naming ids nobody created: 100 `typing` to random user ids, 100
 * `group_typing` to random group ids, 100 `GET /v1/groups/<random>`. Counted: Durable Object
 * SQLite files on disk before and after.
 */
export async function madeUpIds(server: RunningServer, attacker: Account, control: Account, stateDir: string): Promise<Finding> {
  return withProbes(server, [attacker], async ([d]) => {
    await sleep(1_000);
    const before = objectFiles(server, stateDir);
    d!.reset();
    for (let i = 0; i < 100; i++) d!.send({ type: 'typing', to: ulid(), state: 'typing' });
    await settle(() => d!.frames, 1_000, 10_000);
    const typing = Object.fromEntries(d!.errors);
    const typingAnswered = d!.frames;
    d!.reset();
    for (let i = 0; i < 100; i++) d!.send({ type: 'group_typing', group: ulid(), state: 'typing' });
    await settle(() => d!.frames, 1_000, 10_000);
    const groupTyping = Object.fromEntries(d!.errors);
    const groupTypingAnswered = d!.frames;
    const gets = await mapPool(100, 8, () => call(server.url, 'GET', PATHS.group(ulid()), { token: attacker.token }));
    await sleep(1_500);
    const after = objectFiles(server, stateDir);
    // Control: the first question about a real user whose object never ran must add one file,
    // or the count above would prove nothing.
    const asked = await call(server.url, 'GET', PATHS.presence(control.userId), { token: attacker.token });
    await sleep(1_000);
    const controlled = objectFiles(server, stateDir);
    const sum = (files: Record<string, number> | null, match?: RegExp): number =>
      files ? Object.entries(files).filter(([k]) => !match || match.test(k)).reduce((a, [, n]) => a + n, 0) : NaN;
    const objects = /UserMailbox|GroupChat/;
    const newFiles = sum(after, objects) - sum(before, objects);
    const controlFiles = sum(controlled, objects) - sum(after, objects);
    return {
      id: 10,
      title: 'made-up user and group ids',
      before: '100 new SQLite files each',
      now:
        `object SQLite files ${sum(before, objects)} -> ${sum(after, objects)} (${newFiles >= 0 ? '+' : ''}${newFiles}); ` +
        `typing: ${showTally(typing)}, ${100 - typingAnswered} unanswered (dropped); group_typing: ${showTally(groupTyping)}; ` +
        `GET group: ${showTally(tally(gets.map(outcome)))} (control: a real user's first presence question ${outcome(asked)}, ` +
        `${controlFiles >= 0 ? '+' : ''}${controlFiles} file)`,
      bounded: before === null ? null : newFiles === 0,
      data: { filesBefore: before, filesAfter: after, newObjectFiles: newFiles, control: { answer: outcome(asked), newFiles: controlFiles }, typing, typingAnswered, groupTyping, groupTypingAnswered, gets: tally(gets.map(outcome)) },
    };
  });
}
