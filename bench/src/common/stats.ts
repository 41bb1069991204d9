/**
 * Rates and percentiles over SIPp's periodic statistics rows.
 */
import { statNumber, statTimeMs, type SippStatRow } from './sipp-runner.js';

/** Nearest-rank percentile (p in 0..100) of unsorted values; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** A time window over which a step is measured, in epoch ms, and the counts within it. */
export interface SteadyWindow {
  readonly startMs: number;
  readonly endMs: number;
  readonly created: number;
  readonly successful: number;
}

/**
 * Picks the steady part of a UAC run from its periodic statistics rows: from the first row at or
 * after `warmupMs` into the run (the proxies' transaction tables, timers and JIT have filled up
 * by then, so per-call CPU includes the cleanup of earlier calls at the same pace as new calls
 * arrive) to the last row in which SIPp was still creating calls (before the tail where calls
 * only finish). Falls back to the whole run when it is too short for such a window.
 */
export function steadyWindow(rows: readonly SippStatRow[], totalCalls: number, warmupMs: number): SteadyWindow | null {
  // Periodic rows only: the final dump at exit repeats the last counters at a later time.
  const timed = rows
    .map((r) => ({ at: statTimeMs(r, 'CurrentTime'), created: statNumber(r, 'TotalCallCreated'), ok: statNumber(r, 'SuccessfulCall(C)') }))
    .filter((r) => Number.isFinite(r.at));
  if (timed.length === 0) return null;
  const startAt = statTimeMs(rows[0]!, 'StartTime');
  const t0 = Number.isFinite(startAt) ? startAt : timed[0]!.at;
  let last = -1;
  for (let i = 0; i < timed.length; i++) if (timed[i]!.created < totalCalls) last = i;
  const first = timed.findIndex((r) => r.at - t0 >= warmupMs);
  if (last >= 0 && first >= 0 && last > first) {
    const a = timed[first]!;
    const b = timed[last]!;
    return { startMs: a.at, endMs: b.at, created: b.created - a.created, successful: b.ok - a.ok };
  }
  // Short run: from the start to the end of creation (or of the run).
  const endIdx = timed.findIndex((r) => r.created >= totalCalls);
  const b = timed[endIdx >= 0 ? endIdx : timed.length - 1]!;
  return { startMs: t0, endMs: b.at, created: b.created, successful: b.ok };
}
