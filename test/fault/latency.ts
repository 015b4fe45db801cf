/** Send→ack latency of a fault run's history, leaving out messages whose wait overlapped a server restart. */
import type { HistoryEvent, SendEvent } from './history.ts';

export interface AckLatency {
  /** Messages measured (acked, first attempt to first ack clear of every restart window). */
  count: number;
  /** Acked messages left out because a restart fell inside their wait. */
  inRestart: number;
  p50: number;
  p99: number;
  max: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/**
 * @param windows [from, to] in ms since the epoch: from the kill to the first answer after it.
 * @example ackLatency(result.history, result.restarts.map((r) => [r.killedAt, r.healthyAt]))
 */
export function ackLatency(events: readonly HistoryEvent[], windows: readonly (readonly [number, number])[]): AckLatency {
  const attempts = new Map<number, SendEvent>();
  const firstSend = new Map<string, number>();
  const waits: number[] = [];
  let inRestart = 0;
  const acked = new Set<string>();
  for (const e of events) {
    if (e.type === 'send') {
      attempts.set(e.at, e);
      const key = `${e.user}\u0000${e.clientId}`;
      if (!firstSend.has(key) && e.time !== undefined) firstSend.set(key, e.time);
    } else if (e.type === 'ack' && e.time !== undefined) {
      const send = attempts.get(e.attempt);
      if (!send) continue;
      const key = `${send.user}\u0000${send.clientId}`;
      const from = firstSend.get(key);
      if (from === undefined || acked.has(key)) continue;
      acked.add(key);
      const to = e.time;
      if (windows.some(([a, b]) => a <= to && from <= b)) inRestart++;
      else waits.push(to - from);
    }
  }
  waits.sort((a, b) => a - b);
  return { count: waits.length, inRestart, p50: percentile(waits, 50), p99: percentile(waits, 99), max: waits.at(-1) ?? 0 };
}
