/**
 * One step of the REGISTER benchmark: SIPp registers one subscriber over and over at a fixed
 * rate through one registrar, each registration a full digest exchange
 * (REGISTER -> 401 -> REGISTER with Authorization -> 200: one subscriber lookup, one write-through
 * location update), with the registrar's CPU measured over the steady window.
 */
import { mkdirSync } from 'node:fs';
import {
  cpuSecondsAt,
  freeUdpPorts,
  percentile,
  ProcessTreeCpuSampler,
  SippRun,
  steadyWindow,
  type CpuSample,
  type ProcessRegistry,
  type SipServer,
  type StepOutcome,
} from '../common/index.js';

export interface RegisterStepConfig {
  readonly scenarioFile: string;
  readonly host: string;
  readonly domain: string;
  readonly password: string;
  readonly durationSec: number;
  readonly warmupMs: number;
  readonly recvTimeoutMs: number;
  readonly maxFailRatio: number;
  readonly minAchievedRatio: number;
  readonly ticksPerSecond: number;
}

export interface RegisterStepResult extends StepOutcome {
  readonly target: string;
  readonly rate: number;
  readonly planned: number;
  readonly successful: number;
  readonly failed: number;
  readonly retransmissions: number;
  /** Completed digest registrations per second over the steady window. */
  readonly achievedRate: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuPercent: number;
  /** Registrar CPU-seconds per 1000 registrations (= ms of CPU per registration). */
  readonly cpuSecondsPer1k: number;
  readonly notes: readonly string[];
}

const SAMPLE_INTERVAL_MS = 250;

export async function runRegisterStep(
  registry: ProcessRegistry,
  server: SipServer,
  user: string,
  rate: number,
  cfg: RegisterStepConfig,
  stepDir: string,
): Promise<RegisterStepResult> {
  mkdirSync(stepDir, { recursive: true });
  const [uacPort] = await freeUdpPorts(cfg.host, 1);
  const planned = Math.max(1, Math.round(rate * cfg.durationSec));
  const sampler = new ProcessTreeCpuSampler(server.rootPid, cfg.ticksPerSecond);
  const samples: CpuSample[] = [sampler.sample()];
  const timer = setInterval(() => samples.push(sampler.sample()), SAMPLE_INTERVAL_MS);
  const uac = SippRun.start(registry, {
    role: 'register',
    scenarioFile: cfg.scenarioFile,
    localIp: cfg.host,
    localPort: uacPort!,
    remote: `${server.host}:${server.port}`,
    rate,
    maxCalls: planned,
    keys: { user, domain: cfg.domain },
    recvTimeoutMs: cfg.recvTimeoutMs,
    traceRtt: true,
    workDir: stepDir,
    extraArgs: ['-au', user, '-ap', cfg.password],
  });
  const notes: string[] = [];
  const deadlineMs = cfg.durationSec * 2_000 + cfg.recvTimeoutMs * 2 + 10_000;
  if ((await uac.process.waitForExit(deadlineMs)) === null) {
    notes.push(`SIPp still running after ${Math.round(deadlineMs / 1000)} s: stopped`);
    await uac.stop(cfg.recvTimeoutMs + 2_000);
  }
  samples.push(sampler.sample());
  clearInterval(timer);
  const r = uac.collect();
  const t = r.totals;
  const incomplete = Math.max(0, planned - t.successful - t.failed);
  const failRatio = (t.failed + incomplete) / planned;
  const w = steadyWindow(r.rows, planned, cfg.warmupMs);
  let achievedRate = NaN;
  let cpuPercent = NaN;
  let cpuSecondsPer1k = NaN;
  if (w !== null && w.endMs > w.startMs) {
    const seconds = (w.endMs - w.startMs) / 1000;
    const cpu = cpuSecondsAt(samples, w.endMs) - cpuSecondsAt(samples, w.startMs);
    achievedRate = w.successful / seconds;
    cpuPercent = (cpu / seconds) * 100;
    if (w.successful > 0) cpuSecondsPer1k = (cpu / w.successful) * 1000;
  }
  if (r.rows.length === 0) notes.push(`no SIPp statistics (see ${r.logFile})`);
  if (failRatio >= cfg.maxFailRatio) notes.push(`failed ${(failRatio * 100).toFixed(2)} % (${t.failed} failed, ${incomplete} incomplete)`);
  if (!(achievedRate >= rate * cfg.minAchievedRatio)) notes.push(`achieved ${Number.isFinite(achievedRate) ? achievedRate.toFixed(0) : '?'} of ${rate}/s`);
  const stable = notes.length === 0;
  if (!stable && r.errorExcerpt) notes.push(`SIPp: ${r.errorExcerpt.replace(/\s+/g, ' ').slice(0, 200)}`);
  return {
    stable,
    target: server.name,
    rate,
    planned,
    successful: t.successful,
    failed: t.failed + incomplete,
    retransmissions: t.retransmissions,
    achievedRate,
    p50Ms: percentile(r.responseTimesMs, 50),
    p99Ms: percentile(r.responseTimesMs, 99),
    cpuPercent,
    cpuSecondsPer1k,
    notes,
  };
}
