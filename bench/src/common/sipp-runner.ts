/**
 * Runs SIPp 3.6 as a UAC or UAS and reads back what it measured.
 *
 * Every SIPp run gets: -buff_size 4194304 (4 MB socket buffers: the 256 KB default overflows in
 * bursts above a few thousand calls/s), -trace_stat with a 1 s dump period (the periodic rows let
 * the benchmark compute rates over a steady window), -trace_rtt on the UAC (per-call response
 * times), -trace_err capped by -max_log_size, -nostdin (no terminal here) and -recv_timeout so a
 * lost message fails the call instead of hanging the step.
 *
 * SIPp writes its files into its working directory, named after the scenario file and its PID:
 * <scenario>_<pid>_.csv, <scenario>_<pid>_rtt.csv, <scenario>_<pid>_errors.log.
 */
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { LaunchedProcess, ProcessRegistry } from './process-launcher.js';

export interface SippOptions {
  /** Label for logs ("uac", "uas"). */
  readonly role: string;
  readonly scenarioFile: string;
  readonly localIp: string;
  readonly localPort: number;
  /** host:port requests are sent to (UAC); absent for a UAS that only answers. */
  readonly remote?: string;
  /** Calls per second (-r) and the total to place (-m); UAC only. */
  readonly rate?: number;
  readonly maxCalls?: number;
  /** -d: duration of <pause/> in the scenario (call hold time), ms. */
  readonly pauseMs?: number;
  /** -s: user part of the Request-URI. */
  readonly service?: string;
  /** -key NAME VALUE pairs, substituted as [NAME] in the scenario. */
  readonly keys?: Readonly<Record<string, string>>;
  /** -recv_timeout: a call waiting longer than this for a message fails. */
  readonly recvTimeoutMs: number;
  /** -trace_rtt (response-time distribution). */
  readonly traceRtt: boolean;
  /** Directory SIPp runs in; its result files land there. */
  readonly workDir: string;
  /** Anything else (e.g. -au/-ap for digest auth in the REGISTER benchmark). */
  readonly extraArgs?: readonly string[];
}

/** Builds the SIPp command line for the options above. */
export function buildSippArgs(o: SippOptions): string[] {
  const args: string[] = ['-sf', o.scenarioFile];
  if (o.remote !== undefined) args.push(o.remote);
  args.push('-i', o.localIp, '-p', String(o.localPort), '-t', 'u1');
  if (o.rate !== undefined) args.push('-r', String(o.rate), '-rp', '1000');
  if (o.maxCalls !== undefined) args.push('-m', String(o.maxCalls));
  if (o.pauseMs !== undefined) args.push('-d', String(o.pauseMs));
  if (o.service !== undefined) args.push('-s', o.service);
  for (const [k, v] of Object.entries(o.keys ?? {})) args.push('-key', k, v);
  args.push(
    '-nostdin',
    '-buff_size', '4194304',
    '-trace_stat', '-fd', '1',
    '-trace_err', '-max_log_size', '1048576',
    '-recv_timeout', String(o.recvTimeoutMs),
    // The screen is printed every -f seconds into our log; once per 10 s is enough.
    '-f', '10',
  );
  if (o.traceRtt) args.push('-trace_rtt', '-rtt_freq', '200');
  args.push(...(o.extraArgs ?? []));
  return args;
}

/** A periodic (or final) row of SIPp's -trace_stat file: column name -> raw text. */
export type SippStatRow = ReadonlyMap<string, string>;

/** Splits the semicolon-separated statistics file into rows keyed by the header line. */
export function parseSippStatCsv(text: string): SippStatRow[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length < 2) return [];
  const header = lines[0]!.split(';');
  const rows: SippStatRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    const cols = lines[i]!.split(';');
    const row = new Map<string, string>();
    for (let c = 0; c < header.length && c < cols.length; c++) {
      if (header[c] !== '') row.set(header[c]!, cols[c]!);
    }
    rows.push(row);
  }
  return rows;
}

/** A counter column as a number (0 when absent or malformed). */
export function statNumber(row: SippStatRow, column: string): number {
  const v = Number(row.get(column));
  return Number.isFinite(v) ? v : 0;
}

/**
 * A time column ("2026-11-24\t23:23:17.668011\t1795562597.668011": date, time, epoch) as epoch ms;
 * NaN when absent.
 */
export function statTimeMs(row: SippStatRow, column: string): number {
  const raw = row.get(column);
  if (raw === undefined) return NaN;
  const parts = raw.split('\t');
  return Number(parts[parts.length - 1]) * 1000;
}

/** Parses -trace_rtt output ("Date_ms;response_time_ms;rtd_no") into response times in ms. */
export function parseSippRttCsv(text: string, rtdNo = 1): number[] {
  const out: number[] = [];
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const cols = lines[i]!.split(';');
    if (cols.length < 3 || Number(cols[2]) !== rtdNo) continue;
    const v = Number(cols[1]);
    if (Number.isFinite(v)) out.push(v);
  }
  return out;
}

/** The counters of a finished SIPp run (from its last statistics row). */
export interface SippTotals {
  readonly created: number;
  readonly successful: number;
  readonly failed: number;
  readonly unexpected: number;
  readonly timeoutOnRecv: number;
  readonly maxUdpRetrans: number;
  readonly retransmissions: number;
  readonly deadCallMsgs: number;
  readonly outOfCallMsgs: number;
  readonly fatalErrors: number;
}

export function totalsFromRow(row: SippStatRow | undefined): SippTotals {
  const n = (c: string): number => (row === undefined ? 0 : statNumber(row, c));
  return {
    created: n('TotalCallCreated'),
    successful: n('SuccessfulCall(C)'),
    failed: n('FailedCall(C)'),
    unexpected: n('FailedUnexpectedMessage(C)'),
    timeoutOnRecv: n('FailedTimeoutOnRecv(C)'),
    maxUdpRetrans: n('FailedMaxUDPRetrans(C)'),
    retransmissions: n('Retransmissions(C)'),
    deadCallMsgs: n('DeadCallMsgs(C)'),
    outOfCallMsgs: n('OutOfCallMsgs(C)'),
    fatalErrors: n('FatalErrors(C)'),
  };
}

/** What one SIPp process left behind. */
export interface SippResult {
  readonly role: string;
  readonly exitCode: number | null;
  /** Every statistics row, oldest first; the last one is the final dump at exit. */
  readonly rows: readonly SippStatRow[];
  readonly totals: SippTotals;
  /** Response times (rtd 1) in ms, if traced. */
  readonly responseTimesMs: readonly number[];
  /** First lines of the error log (for explaining failed calls), empty if none. */
  readonly errorExcerpt: string;
  readonly logFile: string;
}

/** A SIPp process being run. */
export class SippRun {
  readonly options: SippOptions;
  readonly process: LaunchedProcess;

  constructor(options: SippOptions, process: LaunchedProcess) {
    this.options = options;
    this.process = process;
  }

  static start(registry: ProcessRegistry, o: SippOptions, sippBinary = 'sipp'): SippRun {
    const p = registry.launch({
      name: `sipp-${o.role}`,
      command: sippBinary,
      args: buildSippArgs(o),
      cwd: o.workDir,
      logFile: join(o.workDir, `sipp-${o.role}.log`),
      processGroup: false,
    });
    return new SippRun(o, p);
  }

  /**
   * SIGUSR1 is SIPp's soft exit (like pressing q): no new calls, running ones finish (bounded by
   * -recv_timeout), final statistics are written. SIGKILL after graceMs.
   */
  stop(graceMs: number): Promise<unknown> {
    return this.process.stop('SIGUSR1', graceMs);
  }

  /** Reads the result files; call after the process exited. */
  collect(): SippResult {
    const stem = join(this.options.workDir, `${basename(this.options.scenarioFile, '.xml')}_${this.process.pid}_`);
    const rows = parseSippStatCsv(readOr(`${stem}.csv`));
    const rtt = this.options.traceRtt ? parseSippRttCsv(readOr(`${stem}rtt.csv`)) : [];
    const errors = readOr(`${stem}errors.log`);
    return {
      role: this.options.role,
      exitCode: this.process.exitStatus?.code ?? null,
      rows,
      totals: totalsFromRow(rows[rows.length - 1]),
      responseTimesMs: rtt,
      errorExcerpt: errors.slice(0, 1_500),
      logFile: this.process.logFile,
    };
  }
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
