/**
 * Seeding the history scenario: two users exchange text messages over their real WebSockets,
 * both directions at once, a fixed number in flight per direction (a `send` is done when its
 * `sent` ack arrives; receivers ack their mailbox frames as apps do). A refusal that says
 * `rate_limited` is sent again after its wait (same client id, so never stored twice); other
 * refusals are counted. A time bound stops the sending early (the result says so).
 */
import type { Frame, Probe } from './abuse-kit.ts';
import { note } from './util.ts';

export type SeedResult = {
  requested: number;
  /** Messages acked `sent` (stored in both mailboxes). */
  sent: number;
  /** Acked as a duplicate of an earlier send (should be 0). */
  duplicates: number;
  rateLimited: number;
  /** Refusals other than rate_limited, by code. */
  errors: Record<string, number>;
  ms: number;
  perSec: number;
  /** The time bound stopped the sending before `requested`. */
  truncated: boolean;
  /** Server time (sentAt) of the first and the last message acked. */
  firstAt: number | null;
  lastAt: number | null;
};

type Side = { probe: Probe; userId: string };

/**
 * Receivers ack their mailbox frames as the SDK does, within a few ms (every frame here). Each
 * ack makes the recipient's object send a delivered receipt; before receipts found messages by
 * (sender, client id) each one read the whole chat, and per-frame acks made a 100,000-message
 * seed quadratic (this bench found it; the seed then acked every 500 ms or 400 frames).
 */
const ACK_EVERY_MS = 5;
const ACK_FRAMES = 1;

/**
 * Send `count` messages, half from each side to the other (`window` in flight per direction);
 * message `k` (0-based, over the whole run) gets text `text(k)` and client id `${tag}-${k}`.
 */
export async function exchange(
  a: Side,
  b: Side,
  count: number,
  window: number,
  text: (k: number) => string,
  tag: string,
  timeBoundMs: number,
): Promise<SeedResult> {
  const result: SeedResult = {
    requested: count,
    sent: 0,
    duplicates: 0,
    rateLimited: 0,
    errors: {},
    ms: 0,
    perSec: 0,
    truncated: false,
    firstAt: null,
    lastAt: null,
  };
  const t0 = performance.now();
  const deadline = t0 + timeBoundMs;
  let next = 0;
  let lastNote = t0;
  const progress = (): void => {
    const now = performance.now();
    if (now - lastNote < 5_000) return;
    lastNote = now;
    note(`history: ${tag} ${result.sent}/${count} messages acked (${Math.round(result.sent / ((now - t0) / 1000))} msg/s)`);
  };

  // Acks, coalesced (see ACK_EVERY_MS): highest seq seen and acked per receiving socket.
  const acks = [a, b].map((side) => ({ side, highest: 0, acked: 0 }));
  const ack = (entry: (typeof acks)[number]): void => {
    if (entry.highest <= entry.acked) return;
    entry.acked = entry.highest;
    entry.side.probe.send({ type: 'ack', upTo: entry.acked });
  };
  for (const entry of acks) entry.side.probe.autoAck = false;
  const ackTimer = setInterval(() => acks.forEach(ack), ACK_EVERY_MS);
  const sawSeq = (side: Side, frame: Frame): void => {
    if (typeof frame.seq !== 'number') return;
    const entry = acks.find((e) => e.side === side)!;
    entry.highest = Math.max(entry.highest, frame.seq);
    if (entry.highest - entry.acked >= ACK_FRAMES) ack(entry);
  };

  const direction = (from: Side, to: Side): Promise<void> =>
    new Promise<void>((done, fail) => {
      const pending = new Map<string, string>();
      let stopped = false;
      const sendOne = (): void => {
        if (stopped) return;
        if (next >= count || performance.now() > deadline) {
          if (next < count) result.truncated = true;
          if (pending.size === 0) {
            stopped = true;
            done();
          }
          return;
        }
        const k = next++;
        const id = `${tag}-${k}`;
        const body = text(k);
        pending.set(id, body);
        from.probe.send({ type: 'send', id, to: to.userId, body: { kind: 'text', text: body } });
      };
      from.probe.onFrame = (frame: Frame) => {
        sawSeq(from, frame);
        const id = typeof frame.id === 'string' ? frame.id : null;
        if (id === null || !pending.has(id)) return;
        if (frame.type === 'sent') {
          pending.delete(id);
          result.sent++;
          if (frame.duplicate === true) result.duplicates++;
          const at = Number(frame.sentAt);
          result.firstAt = result.firstAt === null ? at : Math.min(result.firstAt, at);
          result.lastAt = result.lastAt === null ? at : Math.max(result.lastAt, at);
          progress();
          sendOne();
        } else if (frame.type === 'error') {
          const code = String(frame.code);
          if (code === 'rate_limited') {
            result.rateLimited++;
            const body = pending.get(id)!;
            setTimeout(() => from.probe.send({ type: 'send', id, to: to.userId, body: { kind: 'text', text: body } }), Math.max(50, Number(frame.retryAfterMs ?? 1000)));
            return;
          }
          pending.delete(id);
          result.errors[code] = (result.errors[code] ?? 0) + 1;
          if (Object.values(result.errors).reduce((x, y) => x + y, 0) > 100) {
            stopped = true;
            fail(new Error(`more than 100 sends refused: ${JSON.stringify(result.errors)}`));
            return;
          }
          sendOne();
        }
      };
      for (let i = 0; i < window; i++) sendOne();
    });

  // A dead socket would leave sends unanswered forever: give up when nothing is acked for a minute.
  let seen = -1;
  let stall: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, fail) => {
    stall = setInterval(() => {
      if (result.sent === seen) fail(new Error(`${tag}: no send acked for 60 s (${result.sent}/${count})`));
      seen = result.sent;
    }, 60_000);
  });
  try {
    await Promise.race([Promise.all([direction(a, b), direction(b, a)]), stalled]);
  } finally {
    clearInterval(stall);
    clearInterval(ackTimer);
    acks.forEach(ack);
    for (const entry of acks) entry.side.probe.autoAck = true;
    a.probe.onFrame = null;
    b.probe.onFrame = null;
  }
  result.ms = Math.round(performance.now() - t0);
  result.perSec = Math.round((result.sent / result.ms) * 1000);
  note(`history: ${tag} done: ${result.sent} messages in ${(result.ms / 1000).toFixed(1)} s (${result.perSec} msg/s)${result.truncated ? ', stopped by the time bound' : ''}`);
  return result;
}
