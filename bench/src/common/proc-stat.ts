/**
 * CPU accounting from /proc/PID/stat (proc(5)).
 *
 * The machine-wide tick counters under-count on these VMs (docs/BENCHMARKING.md), so CPU is
 * charged per process: utime + stime of every live process in a tree, plus cutime + cstime (the
 * CPU of children a process has already waited for), which keeps the CPU of a worker that exited
 * and was reaped inside its parent's figure instead of losing it.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** The fields of /proc/PID/stat the benchmark uses, in clock ticks. */
export interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  readonly utime: number;
  readonly stime: number;
  readonly cutime: number;
  readonly cstime: number;
}

/**
 * Parses one /proc/PID/stat line. The command name (field 2) is in parentheses and may itself
 * contain spaces and parentheses, so fields are counted from the last ')'. Returns null on a line
 * that does not have the expected shape.
 */
export function parseProcStat(line: string): ProcStat | null {
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open < 1 || close < open) return null;
  const pid = Number(line.slice(0, open).trim());
  // After ')': field 3 (state) is index 0, so field N is index N - 3.
  const rest = line.slice(close + 2).split(' ');
  if (rest.length < 15) return null;
  const field = (n: number): number => Number(rest[n - 3]);
  const stat: ProcStat = {
    pid,
    ppid: field(4),
    utime: field(14),
    stime: field(15),
    cutime: field(16),
    cstime: field(17),
  };
  for (const v of Object.values(stat)) if (!Number.isFinite(v)) return null;
  return stat;
}

/** Reads /proc/PID/stat; null when the process is gone (or unreadable). */
export function readProcStat(pid: number, procRoot = '/proc'): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  return parseProcStat(text);
}

/** Clock ticks per second (sysconf(_SC_CLK_TCK)); 100 on every Linux this runs on. */
export function clockTicksPerSecond(): number {
  try {
    const v = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    if (Number.isInteger(v) && v > 0) return v;
  } catch {
    /* getconf missing: fall through to the Linux default */
  }
  return 100;
}

/** Every live process whose ancestry leads to rootPid, rootPid included (if alive). */
export function listProcessTree(rootPid: number, procRoot = '/proc'): ProcStat[] {
  const all = new Map<number, ProcStat>();
  let names: string[];
  try {
    names = readdirSync(procRoot);
  } catch {
    return [];
  }
  for (const name of names) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue; // not a PID directory
    const s = readProcStat(Number(name), procRoot);
    if (s !== null) all.set(s.pid, s);
  }
  const children = new Map<number, number[]>();
  for (const s of all.values()) {
    const list = children.get(s.ppid);
    if (list === undefined) children.set(s.ppid, [s.pid]);
    else list.push(s.pid);
  }
  const out: ProcStat[] = [];
  const root = all.get(rootPid);
  if (root === undefined) return out;
  const queue = [rootPid];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    const s = all.get(pid);
    if (s === undefined) continue;
    out.push(s);
    for (const child of children.get(pid) ?? []) queue.push(child);
  }
  return out;
}

/** Sum of own and reaped-children CPU over a set of processes, in ticks. */
export function treeCpuTicks(procs: readonly ProcStat[]): number {
  let ticks = 0;
  for (const p of procs) ticks += p.utime + p.stime + p.cutime + p.cstime;
  return ticks;
}

/** One reading of a process tree's CPU. */
export interface CpuSample {
  /** Wall clock, ms since the epoch (the same clock SIPp's statistics use). */
  readonly atMs: number;
  /** Accumulated CPU seconds of the tree at that moment. */
  readonly cpuSeconds: number;
  /** Processes counted. */
  readonly processes: number;
}

/**
 * Samples the CPU of one process tree (a proxy and all its workers). The tree is rediscovered on
 * every sample so workers forked late (or restarted) are counted.
 */
export class ProcessTreeCpuSampler {
  readonly rootPid: number;
  private readonly ticksPerSecond: number;
  private readonly procRoot: string;

  constructor(rootPid: number, ticksPerSecond: number, procRoot = '/proc') {
    this.rootPid = rootPid;
    this.ticksPerSecond = ticksPerSecond;
    this.procRoot = procRoot;
  }

  sample(): CpuSample {
    const procs = listProcessTree(this.rootPid, this.procRoot);
    return { atMs: Date.now(), cpuSeconds: treeCpuTicks(procs) / this.ticksPerSecond, processes: procs.length };
  }
}

/**
 * CPU of this process's children that have already been reaped (cutime + cstime of /proc/self).
 * The benchmark's SIPp processes are its only children that exit during a step, so the difference
 * across a step is exactly their CPU, including the last moments before exit that periodic
 * sampling of a live PID would miss.
 */
export function reapedChildrenCpuSeconds(ticksPerSecond: number, procRoot = '/proc'): number {
  const s = readProcStat(process.pid, procRoot);
  return s === null ? 0 : (s.cutime + s.cstime) / ticksPerSecond;
}

/**
 * CPU seconds used between two moments, with the tree's CPU at the moments in between estimated
 * by linear interpolation over the samples (which must be in time order).
 */
export function cpuSecondsAt(samples: readonly CpuSample[], atMs: number): number {
  if (samples.length === 0) return 0;
  const first = samples[0]!;
  if (atMs <= first.atMs) return first.cpuSeconds;
  for (let i = 1; i < samples.length; i++) {
    const b = samples[i]!;
    if (atMs <= b.atMs) {
      const a = samples[i - 1]!;
      const span = b.atMs - a.atMs;
      return span <= 0 ? b.cpuSeconds : a.cpuSeconds + ((b.cpuSeconds - a.cpuSeconds) * (atMs - a.atMs)) / span;
    }
  }
  return samples[samples.length - 1]!.cpuSeconds;
}
