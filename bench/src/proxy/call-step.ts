/**
 * One step of the call benchmark: SIPp UAS and UAC around one proxy at one call rate, with the
 * proxy's CPU, SIPp's CPU and UDP drops measured over the step.
 *
 *   SIPp UAC --INVITE sip:bench@UAS--> proxy --t_relay--> SIPp UAS
 *            <------ 100 (proxy), 180, 200 (Record-Route) ------
 *            --ACK, BYE (Route: proxy;lr)--> proxy --> UAS
 *
 * The Request-URI names the UAS address, which is not the proxy itself, so both proxies relay by
 * Request-URI without a location lookup (the book's "calls through the transaction module").
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  cpuSecondsAt,
  freeUdpPorts,
  parseProcNetUdp,
  percentile,
  ProcessTreeCpuSampler,
  reapedChildrenCpuSeconds,
  readSocketDrops,
  readUdpSnmp,
  SippRun,
  steadyWindow,
  type CpuSample,
  type ProcessRegistry,
  type SipServer,
  type SippOptions,
  type SippResult,
  type StepOutcome,
} from '../common/index.js';

const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface CallStepConfig {
  readonly scenariosDir: string;
  /** Address SIPp binds to (the proxies listen on the same host). */
  readonly host: string;
  readonly durationSec: number;
  /** Start of the steady measuring window, ms into the step. */
  readonly warmupMs: number;
  readonly recvTimeoutMs: number;
  /** Call hold time between ACK and BYE, ms. */
  readonly callHoldMs: number;
  /** A step is stable below this failed-call ratio (0.001 = 0.1 %). */
  readonly maxFailRatio: number;
  /** ... and when SIPp achieved at least this share of the target rate. */
  readonly minAchievedRatio: number;
  readonly ticksPerSecond: number;
  readonly sippBinary: string;
  /**
   * `ruri`: the Request-URI names the UAS (no location lookup). `registrar`: the UAS registers
   * first and calls are addressed to the proxy's own domain, so each INVITE goes through the
   * registrar's location lookup.
   */
  readonly routeBy: 'ruri' | 'registrar';
  /**
   * The provider route (`--route provider`): an authenticated caller dials a PSTN number and the
   * proxy relays by LCR to the gateway, which is the step's UAS on this fixed port (the gateway
   * is provisioned once in the database, so the UAS cannot move from step to step).
   */
  readonly provider?: ProviderCallConfig;
}

/**
 * A call step as bench:proxy and bench:soak run it: the bench's scenarios, SIPp from PATH, and
 * one definition of "stable" (< 0.1 % failed calls, >= 95 % of the target rate achieved); the
 * steady window starts a third into the step, at most 5 s.
 */
export function callStepConfig(o: {
  host: string;
  durationSec: number;
  recvTimeoutMs: number;
  callHoldMs: number;
  routeBy: CallStepConfig['routeBy'];
  ticksPerSecond: number;
  provider?: ProviderCallConfig;
}): CallStepConfig {
  return {
    scenariosDir: join(BENCH_DIR, 'scenarios'),
    host: o.host,
    durationSec: o.durationSec,
    warmupMs: Math.min(5_000, Math.round((o.durationSec * 1000) / 3)),
    recvTimeoutMs: o.recvTimeoutMs,
    callHoldMs: o.callHoldMs,
    maxFailRatio: 0.001,
    minAchievedRatio: 0.95,
    ticksPerSecond: o.ticksPerSecond,
    sippBinary: 'sipp',
    routeBy: o.routeBy,
    ...(o.provider === undefined ? {} : { provider: o.provider }),
  };
}

export interface ProviderCallConfig {
  readonly gatewayPort: number;
  readonly user: string;
  readonly password: string;
  readonly domain: string;
  /** The number dialled (e.g. 12125551234: long distance in the book's dial plan). */
  readonly dial: string;
}

export interface CallStepResult extends StepOutcome {
  readonly target: string;
  readonly rate: number;
  /** Calls the UAC was asked to place. */
  readonly planned: number;
  readonly created: number;
  readonly successful: number;
  readonly failedUac: number;
  readonly failedUas: number;
  /** Planned calls that neither succeeded nor failed at the UAC (never placed, or cut off). */
  readonly incomplete: number;
  readonly unexpected: number;
  readonly retransUac: number;
  readonly retransUas: number;
  /** Successful calls per second over the steady window. */
  readonly achievedRate: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  /** Proxy process tree CPU over the steady window, % of one core. */
  readonly proxyCpuPercent: number;
  /** Proxy CPU-seconds per 1000 successful calls over the steady window (= ms of CPU per call). */
  readonly cpuSecondsPer1kCalls: number;
  /** Both SIPp processes over the whole step, % of one core. */
  readonly sippCpuPercent: number;
  /** Machine-wide UDP RcvbufErrors during the step (includes SIPp and anything else running). */
  readonly udpRcvbufErrors: number;
  /** Drops counted on the proxy's own sockets. */
  readonly proxySocketDrops: number;
  readonly failRatio: number;
  /** Why the step is unstable, and the first SIPp error if any. */
  readonly notes: readonly string[];
}

const SAMPLE_INTERVAL_MS = 250;

export async function runCallStep(
  registry: ProcessRegistry,
  server: SipServer,
  rate: number,
  cfg: CallStepConfig,
  stepDir: string,
): Promise<CallStepResult> {
  mkdirSync(stepDir, { recursive: true });
  const [freePort, uacPort, regPort] = await freeUdpPorts(cfg.host, 3);
  const uasPort = cfg.provider?.gatewayPort ?? freePort;
  const planned = Math.max(1, Math.round(rate * cfg.durationSec));

  const uas = SippRun.start(
    registry,
    {
      role: 'uas',
      scenarioFile: join(cfg.scenariosDir, 'uas-call.xml'),
      localIp: cfg.host,
      localPort: uasPort!,
      recvTimeoutMs: cfg.recvTimeoutMs,
      traceRtt: false,
      workDir: stepDir,
    },
    cfg.sippBinary,
  );
  await waitForUdpBind(uasPort!, 5_000, uas);

  // A user name per step and proxy: a binding left by an earlier step's UAS is never used.
  const user = `bench-${server.name}-${rate}`;
  let requestUriHost = `${cfg.host}:${uasPort}`;
  if (cfg.routeBy === 'registrar') {
    await registerUas(registry, server, cfg, stepDir, user, `${cfg.host}:${uasPort}`, regPort!);
    requestUriHost = `${server.host}:${server.port}`;
  }

  const sampler = new ProcessTreeCpuSampler(server.rootPid, cfg.ticksPerSecond);
  const samples: CpuSample[] = [sampler.sample()];
  const snmp0 = readUdpSnmp();
  const drops0 = readSocketDrops(server.udpPorts);
  const sippCpu0 = reapedChildrenCpuSeconds(cfg.ticksPerSecond);
  const t0 = Date.now();
  const timer = setInterval(pushSample, SAMPLE_INTERVAL_MS, sampler, samples);

  // Both variants: SIPp sends every request to the proxy; what differs is whom the INVITE names.
  const common = {
    role: 'uac' as const,
    localIp: cfg.host,
    localPort: uacPort!,
    remote: `${server.host}:${server.port}`,
    rate,
    maxCalls: planned,
    pauseMs: cfg.callHoldMs,
    recvTimeoutMs: cfg.recvTimeoutMs,
    traceRtt: true,
    workDir: stepDir,
  };
  const p = cfg.provider;
  const uacOptions: SippOptions =
    p === undefined
      ? { ...common, scenarioFile: join(cfg.scenariosDir, 'uac-call.xml'), service: user, keys: { uas: requestUriHost } }
      : {
          ...common,
          scenarioFile: join(cfg.scenariosDir, 'uac-call-auth.xml'),
          keys: { user: p.user, domain: p.domain, dial: p.dial },
          extraArgs: ['-au', p.user, '-ap', p.password],
        };
  const uac = SippRun.start(registry, uacOptions, cfg.sippBinary);

  const notes: string[] = [];
  // SIPp may fall behind the target rate; give it twice the planned time, plus time for the
  // last calls to fail by -recv_timeout, before cutting the step short.
  const deadlineMs = cfg.durationSec * 2_000 + cfg.recvTimeoutMs * 2 + 10_000;
  if ((await uac.process.waitForExit(deadlineMs)) === null) {
    notes.push(`UAC still running after ${Math.round(deadlineMs / 1000)} s: stopped`);
    await uac.stop(cfg.recvTimeoutMs + 2_000);
  }
  samples.push(sampler.sample());
  clearInterval(timer);
  const uacDoneAt = Date.now();
  // The UAS has answered every call the UAC finished; a soft exit lets calls the UAC abandoned
  // fail by -recv_timeout so they are counted.
  await uas.stop(cfg.recvTimeoutMs + 3_000);
  const snmp1 = readUdpSnmp();
  const drops1 = readSocketDrops(server.udpPorts);
  const sippCpu1 = reapedChildrenCpuSeconds(cfg.ticksPerSecond);

  const uacResult = uac.collect();
  const uasResult = uas.collect();
  return summarize(server.name, rate, planned, cfg, uacResult, uasResult, samples, notes, {
    // SIPp's CPU is charged to the time the UAC was placing calls; the UAS's soft exit after it
    // costs next to nothing.
    stepMs: uacDoneAt - t0,
    sippCpuSeconds: sippCpu1 - sippCpu0,
    rcvbufErrors: (snmp1.get('RcvbufErrors') ?? 0) - (snmp0.get('RcvbufErrors') ?? 0),
    proxyDrops: drops1 - drops0,
  });
}

function pushSample(sampler: ProcessTreeCpuSampler, samples: CpuSample[]): void {
  samples.push(sampler.sample());
}

interface StepMeasures {
  readonly stepMs: number;
  readonly sippCpuSeconds: number;
  readonly rcvbufErrors: number;
  readonly proxyDrops: number;
}

function summarize(
  target: string,
  rate: number,
  planned: number,
  cfg: CallStepConfig,
  uac: SippResult,
  uas: SippResult,
  samples: readonly CpuSample[],
  notes: string[],
  m: StepMeasures,
): CallStepResult {
  const u = uac.totals;
  const s = uas.totals;
  const incomplete = Math.max(0, planned - u.successful - u.failed);
  const failedCalls = u.failed + s.failed + incomplete;
  const failRatio = failedCalls / planned;
  const unexpected = u.unexpected + s.unexpected;

  const w = steadyWindow(uac.rows, planned, cfg.warmupMs);
  let achievedRate = NaN;
  let proxyCpuPercent = NaN;
  let cpuSecondsPer1kCalls = NaN;
  if (w !== null && w.endMs > w.startMs) {
    const seconds = (w.endMs - w.startMs) / 1000;
    const cpu = cpuSecondsAt(samples, w.endMs) - cpuSecondsAt(samples, w.startMs);
    achievedRate = w.successful / seconds;
    proxyCpuPercent = (cpu / seconds) * 100;
    if (w.successful > 0) cpuSecondsPer1kCalls = (cpu / w.successful) * 1000;
  }

  if (uac.rows.length === 0) notes.push(`no UAC statistics (see ${uac.logFile})`);
  if (uas.rows.length === 0) notes.push(`no UAS statistics (see ${uas.logFile})`);
  if (failRatio >= cfg.maxFailRatio) {
    notes.push(`failed ${(failRatio * 100).toFixed(2)} % (UAC ${u.failed}, UAS ${s.failed}, incomplete ${incomplete})`);
  }
  if (unexpected > 0) notes.push(`${unexpected} unexpected messages`);
  if (!(achievedRate >= rate * cfg.minAchievedRatio)) {
    notes.push(`achieved ${Number.isFinite(achievedRate) ? achievedRate.toFixed(0) : '?'} of ${rate} calls/s`);
  }
  if (u.fatalErrors + s.fatalErrors > 0) notes.push(`SIPp fatal errors: ${u.fatalErrors + s.fatalErrors}`);
  const stable = notes.length === 0;
  const firstError = firstErrorLine(uac.errorExcerpt) ?? firstErrorLine(uas.errorExcerpt);
  if (!stable && firstError !== null) notes.push(`first SIPp error: ${firstError}`);

  return {
    stable,
    target,
    rate,
    planned,
    created: u.created,
    successful: u.successful,
    failedUac: u.failed,
    failedUas: s.failed,
    incomplete,
    unexpected,
    retransUac: u.retransmissions,
    retransUas: s.retransmissions,
    achievedRate,
    p50Ms: percentile(uac.responseTimesMs, 50),
    p95Ms: percentile(uac.responseTimesMs, 95),
    p99Ms: percentile(uac.responseTimesMs, 99),
    proxyCpuPercent,
    cpuSecondsPer1kCalls,
    sippCpuPercent: m.stepMs > 0 ? (m.sippCpuSeconds / (m.stepMs / 1000)) * 100 : NaN,
    udpRcvbufErrors: m.rcvbufErrors,
    proxySocketDrops: m.proxyDrops,
    failRatio,
    notes,
  };
}

/** The first event of a SIPp error log, on one line and short. */
function firstErrorLine(log: string): string | null {
  // Events start with "YYYY-MM-DD<TAB>HH:MM:SS.micro"; they are not always newline-separated.
  const stamps = [...log.matchAll(/\d{4}-\d{2}-\d{2}\t\d{2}:\d{2}:\d{2}\.\d{6}/g)];
  if (stamps.length === 0) return null;
  const first = log.slice(stamps[0]!.index, stamps[1]?.index ?? log.length);
  const l = first.replace(/\s+/g, ' ').trim();
  return l.length > 240 ? `${l.slice(0, 240)}...` : l;
}

/** One REGISTER for `user` with the UAS as contact; throws if the proxy does not answer 200. */
async function registerUas(
  registry: ProcessRegistry,
  server: SipServer,
  cfg: CallStepConfig,
  stepDir: string,
  user: string,
  contact: string,
  localPort: number,
): Promise<void> {
  const reg = SippRun.start(
    registry,
    {
      role: 'register',
      scenarioFile: join(cfg.scenariosDir, 'uac-register.xml'),
      localIp: cfg.host,
      localPort,
      remote: `${server.host}:${server.port}`,
      maxCalls: 1,
      service: user,
      keys: { contact },
      recvTimeoutMs: cfg.recvTimeoutMs,
      traceRtt: false,
      workDir: stepDir,
    },
    cfg.sippBinary,
  );
  const exit = await reg.process.waitForExit(cfg.recvTimeoutMs + 5_000);
  if (exit === null) await reg.stop(1_000);
  const result = reg.collect();
  if (result.totals.successful !== 1) {
    throw new Error(
      `BENCH_ERR_REGISTER: ${server.name} did not accept the UAS registration (${user} -> ${contact}):\n` +
        `${result.errorExcerpt || reg.process.logTail()}`,
    );
  }
}

/** Waits until something has bound the UDP port (SIPp's socket is up) or the process died. */
async function waitForUdpBind(port: number, timeoutMs: number, run: SippRun): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (run.process.hasExited) {
      throw new Error(`BENCH_ERR_EXITED: SIPp ${run.options.role} exited at start:\n${run.process.logTail()}`);
    }
    for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        continue;
      }
      if (parseProcNetUdp(text).some((s) => s.localPort === port)) return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`BENCH_ERR_NOT_READY: SIPp ${run.options.role} did not bind UDP port ${port} in ${timeoutMs} ms`);
}
