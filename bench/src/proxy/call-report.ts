/**
 * Report of the call benchmark: a table of steps per proxy, then each proxy's highest stable rate
 * and CPU per 1000 calls at the fixed rates, and ours-to-Kamailio ratios.
 */
import { fmt, fmtMs, fmtRatio, formatTable, type Column, type TargetSteps } from '../common/index.js';
import type { CallStepResult } from './call-step.js';

const STEP_COLUMNS: readonly Column[] = [
  { header: 'target/s', align: 'right' },
  { header: 'achieved/s', align: 'right' },
  { header: 'calls', align: 'right' },
  { header: 'failed UAC+UAS', align: 'right' },
  { header: 'unexp', align: 'right' },
  { header: 'retrans UAC/UAS', align: 'right' },
  { header: 'p50 ms', align: 'right' },
  { header: 'p95 ms', align: 'right' },
  { header: 'p99 ms', align: 'right' },
  { header: 'proxy CPU%', align: 'right' },
  { header: 'CPU-s/1k calls', align: 'right' },
  { header: 'SIPp CPU%', align: 'right' },
  { header: 'UDP drops proxy/all', align: 'right' },
  { header: 'stable', align: 'left' },
];

export function formatStepRow(r: CallStepResult): string[] {
  return [
    fmt(r.rate),
    fmt(r.achievedRate),
    fmt(r.planned),
    `${r.failedUac}+${r.failedUas}${r.incomplete > 0 ? ` (+${r.incomplete} incomplete)` : ''}`,
    fmt(r.unexpected),
    `${r.retransUac}/${r.retransUas}`,
    fmtMs(r.p50Ms),
    fmtMs(r.p95Ms),
    fmtMs(r.p99Ms),
    fmt(r.proxyCpuPercent, 1),
    fmt(r.cpuSecondsPer1kCalls, 3),
    fmt(r.sippCpuPercent, 1),
    `${r.proxySocketDrops}/${r.udpRcvbufErrors}`,
    r.stable ? 'yes' : 'NO',
  ];
}

export function formatStepTable(t: TargetSteps<CallStepResult>): string {
  const table = formatTable(
    STEP_COLUMNS,
    t.steps.map((s) => formatStepRow(s.outcome)),
  );
  const notes = t.steps
    .filter((s) => s.outcome.notes.length > 0)
    .map((s) => `  ${s.rate}/s: ${s.outcome.notes.join('; ')}`);
  return notes.length > 0 ? `${table}\n${notes.join('\n')}` : table;
}

/** CPU-seconds per 1000 calls at `rate`, only from a stable step (NaN otherwise). */
export function cpuAt(t: TargetSteps<CallStepResult> | undefined, rate: number): number {
  const step = t?.steps.find((s) => s.rate === rate);
  return step !== undefined && step.outcome.stable ? step.outcome.cpuSecondsPer1kCalls : NaN;
}

export function formatSummary(
  results: readonly TargetSteps<CallStepResult>[],
  fixedRates: readonly number[],
  ours: string,
  peer: string,
): string {
  const columns: Column[] = [
    { header: 'proxy', align: 'left' },
    { header: 'highest stable calls/s', align: 'right' },
    ...fixedRates.map((r): Column => ({ header: `CPU-s/1k calls @${r}/s`, align: 'right' })),
  ];
  const rows = results.map((t) => [t.target, fmt(t.highestStableRate), ...fixedRates.map((r) => fmt(cpuAt(t, r), 3))]);
  const o = results.find((t) => t.target === ours);
  const p = results.find((t) => t.target === peer);
  if (o !== undefined && p !== undefined) {
    rows.push([
      `${ours}/${peer}`,
      fmtRatio(o.highestStableRate, p.highestStableRate),
      ...fixedRates.map((r) => fmtRatio(cpuAt(o, r), cpuAt(p, r))),
    ]);
  }
  let text = formatTable(columns, rows);
  if (o !== undefined && p !== undefined) {
    text +=
      `\n\nGoal (Kamailio's figure): ${ours}/${peer} highest stable rate >= 1.00x and CPU per call <= 1.00x.` +
      '\nHighest stable rate: < 0.1 % failed calls (UAC + UAS), no unexpected messages, >= 95 % of the target rate.' +
      '\nA highest stable rate equal to the top step means the run found no ceiling: raise --rates.';
  }
  return text;
}
