/**
 * Server-side resource figures read from Linux /proc: the workerd processes started by this
 * bench (descendants of this Node process named `workerd`), their resident memory (VmRSS),
 * open file descriptors and CPU time, and the whole machine's busy CPU time (to notice other
 * load running alongside the bench). Returns zeros where /proc is unavailable.
 */
import { readFileSync, readdirSync } from 'node:fs';

export type ProcessSample = {
  pids: number[];
  /** Sum of VmRSS over the processes, KiB. */
  rssKb: number;
  /** Open file descriptors over the processes. */
  fds: number;
  /** User + system CPU time over the processes, seconds. */
  cpuS: number;
};

/** Kernel clock ticks per second for /proc/<pid>/stat times; 100 on every mainstream Linux. */
const CLOCK_TICKS = 100;

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** pid -> [ppid, comm] for every process we can see. */
function processTable(): Map<number, { ppid: number; comm: string; stat: string }> {
  const table = new Map<number, { ppid: number; comm: string; stat: string }>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return table;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readText(`/proc/${entry}/stat`);
    if (stat === null) continue;
    // comm is in parentheses and may contain spaces: split after the last ')'.
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const fields = stat.slice(close + 2).split(' ');
    table.set(Number(entry), { ppid: Number(fields[1]), comm, stat });
  }
  return table;
}

/** The workerd processes below this Node process (Miniflare's runtime). */
export function workerdPids(): number[] {
  const table = processTable();
  const children = new Map<number, number[]>();
  for (const [pid, { ppid }] of table) {
    const list = children.get(ppid);
    if (list) list.push(pid);
    else children.set(ppid, [pid]);
  }
  const found: number[] = [];
  const queue = [process.pid];
  for (let i = 0; i < queue.length && i < 10_000; i++) {
    for (const child of children.get(queue[i]!) ?? []) {
      queue.push(child);
      if (table.get(child)?.comm === 'workerd') found.push(child);
    }
  }
  return found;
}

/** Memory, descriptors and CPU of the given processes right now. */
export function sampleProcesses(pids: readonly number[]): ProcessSample {
  let rssKb = 0;
  let fds = 0;
  let ticks = 0;
  for (const pid of pids) {
    const status = readText(`/proc/${pid}/status`);
    const rss = status === null ? null : /VmRSS:\s+(\d+)\s+kB/.exec(status);
    if (rss) rssKb += Number(rss[1]);
    try {
      fds += readdirSync(`/proc/${pid}/fd`).length;
    } catch {
      // Process gone or not ours to inspect.
    }
    const stat = readText(`/proc/${pid}/stat`);
    if (stat !== null) {
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // After the comm: state is field 3, so utime (14) and stime (15) sit at indexes 11 and 12.
      ticks += Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
    }
  }
  return { pids: [...pids], rssKb, fds, cpuS: ticks / CLOCK_TICKS };
}

/** CPU time the whole machine spent busy (all cores, everything but idle and iowait), seconds. */
export function machineBusyS(): number {
  const line = readText('/proc/stat')?.split('\n', 1)[0];
  if (!line?.startsWith('cpu ')) return 0;
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS;
}

/**
 * Bytes the processes caused to be written to storage (/proc/<pid>/io `write_bytes`): the page
 * cache pages they dirtied on a block device (SQLite WAL and database pages of every Durable
 * Object and D1). A page rewritten while still dirty counts once, and nothing counts on tmpfs,
 * so this is a lower bound of what SQLite wrote; 0 where /proc/<pid>/io is unreadable.
 */
export function storageWriteBytes(pids: readonly number[]): number {
  let bytes = 0;
  for (const pid of pids) {
    const io = readText(`/proc/${pid}/io`);
    const match = io === null ? null : /^write_bytes:\s+(\d+)/m.exec(io);
    if (match) bytes += Number(match[1]);
  }
  return bytes;
}
