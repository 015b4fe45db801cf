/**
 * The cost scenario's rows (bench/cost.ts): a phase's span (what the server spent while it ran,
 * from the cost counters and /proc) and its counts per unit.
 */
import type { CostKind, CostSnapshot, CostTally } from '../protocol/index.ts';
import type { ClientTotals } from './clients.ts';
import { costDelta, readCosts } from './cost-snapshots.ts';
import { sampleProcesses, storageWriteBytes } from './procfs.ts';
import type { RunningServer } from './server.ts';
import { sleep } from './util.ts';

const BASELINE_MS = 3_000;

/** Counts of one phase, per unit (a 1:1 message or a group member delivery). */
export type CostRow = {
  phase: string;
  unit: 'message' | 'member delivery';
  /** Messages received (1:1) or member deliveries (groups) the counts are divided by. */
  units: number;
  /** 1:1 messages received / group messages that reached every member, per second in the window. */
  perSec: number;
  commits: number;
  commitsLow: number;
  statements: number;
  writeStatements: number;
  storageWrites: number;
  rpcs: number;
  framesIn: number;
  framesOut: number;
  /** Bytes of storage pages dirtied (/proc write_bytes; a lower bound of WAL bytes). */
  storageBytes: number;
  /** workerd CPU, idle baseline subtracted, µs. */
  cpuUs: number;
  /** The same without subtracting the idle baseline. */
  cpuUsRaw: number;
  /** Per unit, split by kind of object (commits, statements, rpcs). */
  byKind: Record<CostKind, Pick<CostTally, 'commits' | 'statements' | 'rpcs'>>;
  /** The relay's CPU per message it relayed, in the matching 1:1 phase (group rows: its fixed-rate phase). */
  relayCpuUs: number | null;
  /** cpuUs / relayCpuUs. */
  ratio: number | null;
  /** Per unit, at the one object the phase measured on its own (the fan-in phase's recipient). */
  object?: Pick<CostTally, 'commits' | 'commitsLow' | 'statements' | 'rpcs' | 'framesIn'>;
};

export type Span = {
  cpuS: number;
  bytes: number;
  ms: number;
  before: CostSnapshot | null;
  after: CostSnapshot | null;
  framesIn: number;
  framesOut: number;
  /** With `object`: that one object's counts over the span (null if it counted nothing). */
  object: CostTally | null;
};

/**
 * Run `work` (the phase, its drain and the wait for idle) and what the server spent meanwhile;
 * with `object` (a user or group id) also that one object's counts.
 */
export async function measureSpan(server: RunningServer, counters: boolean, totals: ClientTotals, work: () => Promise<void>, object?: string): Promise<Span> {
  const before = counters ? await readCosts(server, object) : null;
  const cpu0 = sampleProcesses(server.pids).cpuS;
  const bytes0 = storageWriteBytes(server.pids);
  const clientIn0 = totals.framesIn;
  const clientOut0 = totals.framesOut;
  const t0 = performance.now();
  await work();
  const ms = performance.now() - t0;
  const cpuS = sampleProcesses(server.pids).cpuS - cpu0;
  const bytes = storageWriteBytes(server.pids) - bytes0;
  const after = counters ? await readCosts(server, object) : null;
  // Client side: frames the clients sent are the server's frames in, and the reverse.
  const framesIn = totals.framesOut - clientOut0;
  const framesOut = totals.framesIn - clientIn0;
  return { cpuS, bytes, ms, before, after, framesIn, framesOut, object: objectDelta(before?.object ?? null, after?.object ?? null) };
}

/** workerd CPU per second while nothing is sent (sockets open, heartbeats answered by the runtime). */
export async function idleCpuPerS(server: RunningServer): Promise<number> {
  const cpu0 = sampleProcesses(server.pids).cpuS;
  await sleep(BASELINE_MS);
  return (sampleProcesses(server.pids).cpuS - cpu0) / (BASELINE_MS / 1000);
}

type SummedKey = 'commits' | 'commitsLow' | 'statements' | 'writeStatements' | 'storageWrites' | 'rpcs' | 'framesIn';

function delta(span: Span, kind: CostKind): CostTally {
  if (!span.before || !span.after) return { commits: 0, commitsLow: 0, statements: 0, writeStatements: 0, storageWrites: 0, rpcs: 0, framesIn: 0, alarms: 0 };
  return costDelta(span.before, span.after).kinds[kind];
}

export const per = (value: number, units: number): number => (units > 0 ? Math.round((value / units) * 100) / 100 : 0);

export function costRow(phase: string, unit: CostRow['unit'], units: number, perSec: number, span: Span, idlePerS: number): CostRow {
  const mailbox = delta(span, 'mailbox');
  const group = delta(span, 'group');
  const sum = (key: SummedKey): number => per(mailbox[key] + group[key], units);
  const framesOut = span.before && span.after ? costDelta(span.before, span.after).framesOut : 0;
  const netCpuS = Math.max(0, span.cpuS - idlePerS * (span.ms / 1000));
  return {
    phase,
    unit,
    units,
    perSec,
    commits: sum('commits'),
    commitsLow: sum('commitsLow'),
    statements: sum('statements'),
    writeStatements: sum('writeStatements'),
    storageWrites: sum('storageWrites'),
    rpcs: sum('rpcs'),
    framesIn: sum('framesIn'),
    framesOut: per(framesOut, units),
    storageBytes: Math.round(units > 0 ? span.bytes / units : 0),
    cpuUs: Math.round(units > 0 ? (netCpuS * 1e6) / units : 0),
    cpuUsRaw: Math.round(units > 0 ? (span.cpuS * 1e6) / units : 0),
    byKind: {
      mailbox: { commits: per(mailbox.commits, units), statements: per(mailbox.statements, units), rpcs: per(mailbox.rpcs, units) },
      group: { commits: per(group.commits, units), statements: per(group.statements, units), rpcs: per(group.rpcs, units) },
    },
    relayCpuUs: null,
    ratio: null,
    ...(span.object ? { object: perTally(span.object, units) } : {}),
  };
}

function objectDelta(before: CostTally | null, after: CostTally | null): CostTally | null {
  if (!after) return null;
  const out = { ...after };
  for (const key of Object.keys(out) as Array<keyof CostTally>) out[key] = after[key] - (before?.[key] ?? 0);
  return out;
}

function perTally(tally: CostTally, units: number): Pick<CostTally, 'commits' | 'commitsLow' | 'statements' | 'rpcs' | 'framesIn'> {
  return {
    commits: per(tally.commits, units),
    commitsLow: per(tally.commitsLow, units),
    statements: per(tally.statements, units),
    rpcs: per(tally.rpcs, units),
    framesIn: per(tally.framesIn, units),
  };
}

