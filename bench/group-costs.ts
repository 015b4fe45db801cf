/**
 * `--group-costs` in the groups scenario: what one group message costs the server, counted by
 * the local cost counters (lib/cost-counters.ts; the server runs with them on only with this
 * flag). Per case (large and small group) and measured phase (latency, throughput) the bench
 * reads `GET /v1/dev/cost` before the phase's window and after its drain and the wait for idle
 * (so fan-out to members without a connected device, receipts and cursor writes are included),
 * and divides the differences by the group messages sent in the phase.
 *
 * The target it is judged by: a large group by read diffusion (the `log` path) should take at
 * most 2 + connected members / 100 storage commits per group message.
 */
import type { CostKind } from '../protocol/index.ts';
import { costDelta, readCosts, totalOf, type CostDelta } from './cost-snapshots.ts';
import type { GroupPhaseResult } from './group-ledger.ts';
import type { RunningServer } from './server.ts';
import type { Row } from './table.ts';

/** Per kind of object, per group message. */
export type KindFigures = { commits: number; commitsLow: number; statements: number; writeStatements: number; rpcs: number };

/** Counts per group message (two decimals). */
export type GroupCostFigures = {
  /** Storage commits: JavaScript turns of an object that wrote; never fewer than the real commits. */
  commits: number;
  /** Timer windows that wrote; never more than the real commits. */
  commitsLow: number;
  /** ctx.storage.sql.exec calls, reads included. */
  statements: number;
  writeStatements: number;
  /** Alarm and key-value writes. */
  storageWrites: number;
  alarms: number;
  /** Calls received by the objects' public methods (from other objects or from the Worker). */
  rpcs: number;
  /** webSocketMessage calls at the mailboxes (heartbeats are answered by the runtime, not counted). */
  framesIn: number;
  /** WebSocket.send calls. */
  framesOut: number;
  byKind: Record<CostKind, KindFigures>;
};

export type GroupPhaseCosts = {
  /** Group messages sent in the phase: what the counts are divided by. */
  messages: number;
  /** Of those, received by every connected member by the end of the drain. */
  completed: number;
  perMessage: GroupCostFigures;
  /** The counters' differences over the phase window, its drain and the wait for idle (not divided). */
  totals: CostDelta;
};

/** MET: even the upper count of commits is within the bound; NOT MET: even the lower count is above it. */
export type CommitVerdict = 'MET' | 'NOT MET' | 'UNSURE';

export type CommitTarget = {
  /** The target applies to a large group by read diffusion (the `log` path above GROUP_LOG_DELIVERY_MIN members). */
  applies: boolean;
  /** Connected members (one device each), the sender included. */
  connected: number;
  /** 2 + connected / 100 storage commits per group message. */
  bound: number;
  /** Per phase; null where the target does not apply. */
  latency: CommitVerdict | null;
  throughput: CommitVerdict | null;
};

export type GroupCaseCosts = { latency: GroupPhaseCosts; throughput: GroupPhaseCosts; commitTarget: CommitTarget };

export const GROUP_COST_METHOD = [
  'Cost per group message (--group-costs): the server runs with the local cost counters on; GET /v1/dev/cost is read before each phase window and after its drain and the wait for idle, and the differences are divided by the group messages SENT in the phase (the "messages sent" row), not only those that reached everyone.',
  'storage commits: JavaScript turns of an object that wrote (never fewer than the real commits); in brackets (≥) the lower count, timer windows that wrote (never more). lib/cost-counters.ts explains both.',
  'Target: a large group by read diffusion (log path) takes at most 2 + connected members / 100 storage commits per group message. MET: the upper count is within the bound; NOT MET: even the lower count is above it; UNSURE: in between. Shown for every case, judged only where it applies.',
  'statements: ctx.storage.sql.exec calls, reads included (writes in brackets). RPCs: calls received by the objects\' public methods, from other objects or from the Worker (HTTP routes, queue consumers), split by the kind of object receiving them. frames in: webSocketMessage calls at the mailboxes (sends, acks; heartbeats never reach them); frames out: WebSocket.send calls.',
  'The counters wrap sql.exec, the objects\' RPC methods and WebSocket.send and cost CPU: with --group-costs the latency, throughput and CPU figures are perturbed; compare them only with runs that also had --group-costs.',
];

/** Run `work` (a phase, its drain and the wait for idle) and, if `on`, what the counters counted meanwhile. */
export async function withCosts<T>(server: RunningServer, on: boolean, work: () => Promise<T>): Promise<{ value: T; costs: CostDelta | null }> {
  if (!on) return { value: await work(), costs: null };
  const before = await readCosts(server);
  const value = await work();
  return { value, costs: costDelta(before, await readCosts(server)) };
}

const per = (value: number, units: number): number => (units > 0 ? Math.round((value / units) * 100) / 100 : 0);

export function phaseCosts(result: GroupPhaseResult, totals: CostDelta): GroupPhaseCosts {
  const n = result.sent;
  const all = totalOf(totals);
  const kind = (k: CostKind): KindFigures => {
    const t = totals.kinds[k];
    return { commits: per(t.commits, n), commitsLow: per(t.commitsLow, n), statements: per(t.statements, n), writeStatements: per(t.writeStatements, n), rpcs: per(t.rpcs, n) };
  };
  return {
    messages: n,
    completed: result.completed,
    perMessage: {
      commits: per(all.commits, n),
      commitsLow: per(all.commitsLow, n),
      statements: per(all.statements, n),
      writeStatements: per(all.writeStatements, n),
      storageWrites: per(all.storageWrites, n),
      alarms: per(all.alarms, n),
      rpcs: per(all.rpcs, n),
      framesIn: per(all.framesIn, n),
      framesOut: per(totals.framesOut, n),
      byKind: { mailbox: kind('mailbox'), group: kind('group') },
    },
    totals,
  };
}

/** The target's bound for `connected` members: 2 + connected / 100. */
export const commitBound = (connected: number): number => Math.round((2 + connected / 100) * 100) / 100;

function verdict(phase: GroupPhaseCosts, bound: number): CommitVerdict | null {
  if (phase.messages === 0) return null;
  if (phase.perMessage.commits <= bound) return 'MET';
  return phase.perMessage.commitsLow > bound ? 'NOT MET' : 'UNSURE';
}

export function caseCosts(readDiffusion: boolean, connected: number, latency: GroupPhaseCosts, throughput: GroupPhaseCosts): GroupCaseCosts {
  const bound = commitBound(connected);
  return {
    latency,
    throughput,
    commitTarget: {
      applies: readDiffusion,
      connected,
      bound,
      latency: readDiffusion ? verdict(latency, bound) : null,
      throughput: readDiffusion ? verdict(throughput, bound) : null,
    },
  };
}

const fmt = (n: number): string => (Number.isInteger(n) ? String(n) : n.toFixed(2));
const pair = (a: number, b: number): string => `${fmt(a)} / ${fmt(b)}`;

/** A case as the groups table shows it (a column). */
export type CostColumn = { costs?: GroupCaseCosts | undefined };

/** The rows of the cost section, one column per case, in the order of `columns`. */
export function groupCostRows(columns: readonly CostColumn[]): Row[] {
  const rows: Row[] = [];
  const phases = [
    ['latency', 'Cost per group message, latency phase (÷ messages sent; over window + drain + idle wait)'],
    ['throughput', 'Cost per group message, throughput phase (÷ messages sent; over window + drain + idle wait)'],
  ] as const;
  for (const [phase, title] of phases) {
    const row = (name: string, cell: (p: GroupPhaseCosts, c: GroupCaseCosts) => string): Row => [
      name,
      ...columns.map(({ costs }) => (costs ? cell(costs[phase], costs) : 'n/a')),
    ];
    rows.push(
      '',
      title,
      row('  messages sent (divisor) / reached everyone', (p) => `${p.messages} / ${p.completed}`),
      row('  storage commits (≥ low) vs bound 2 + conn./100', (p, c) => {
        const measured = `${fmt(p.perMessage.commits)} (≥${fmt(p.perMessage.commitsLow)})`;
        const judged = c.commitTarget[phase];
        return c.commitTarget.applies ? `${measured} vs ≤ ${fmt(c.commitTarget.bound)}: ${judged ?? 'n/a'}` : `${measured} vs ≤ ${fmt(c.commitTarget.bound)}: n/a, copies`;
      }),
      row('  commits: mailbox / group objects', (p) => pair(p.perMessage.byKind.mailbox.commits, p.perMessage.byKind.group.commits)),
      row('  SQL statements (writes)', (p) => `${fmt(p.perMessage.statements)} (${fmt(p.perMessage.writeStatements)})`),
      row('  statements: mailbox / group objects', (p) => pair(p.perMessage.byKind.mailbox.statements, p.perMessage.byKind.group.statements)),
      row('  RPCs received: mailbox / group objects', (p) => pair(p.perMessage.byKind.mailbox.rpcs, p.perMessage.byKind.group.rpcs)),
      row('  WebSocket frames in / out', (p) => pair(p.perMessage.framesIn, p.perMessage.framesOut)),
      row('  alarm + key-value writes', (p) => fmt(p.perMessage.storageWrites)),
    );
  }
  return rows;
}

/** The target lines (cases the target applies to), for the verdict block under the table. */
export function groupCostGoalLines(cases: ReadonlyArray<{ members: number; path: string; costs?: GroupCaseCosts | undefined }>): string[] {
  return cases.flatMap((c) => {
    const costs = c.costs;
    if (!costs?.commitTarget.applies) return [];
    const t = costs.commitTarget;
    const phase = (name: 'latency' | 'throughput'): string => {
      const p = costs[name].perMessage;
      return `${name} ${fmt(p.commits)} (≥${fmt(p.commitsLow)}): ${t[name] ?? 'n/a'}`;
    };
    return [
      `Goal: a ${c.members.toLocaleString('en-US')}-member group by read diffusion takes ≤ 2 + connected/100 = ${fmt(t.bound)} storage commits per group message ` +
        `(${t.connected} connected), ${c.path}: ${phase('latency')}; ${phase('throughput')}`,
    ];
  });
}
