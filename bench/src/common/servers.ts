/**
 * The servers a benchmark compares: Kamailio (the peer) and our sip-proxy, each started on a free
 * UDP port, probed until its SIP layer answers, measured as a whole process tree, and stopped.
 *
 * Both take the same knobs so a comparison stays fair: worker process count and a 4 MB UDP
 * receive buffer (docs/BENCHMARKING.md).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { waitForSipResponder } from './net.js';
import { readSocketReceiveBuffers } from './udp-counters.js';
import type { LaunchedProcess, ProcessRegistry } from './process-launcher.js';

/** A SIP server under test. */
export interface SipServer {
  /** Report label ("kamailio", "ours"). */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** PID of the process tree to charge CPU to (valid after start). */
  readonly rootPid: number;
  /** The UDP ports whose socket drop counters belong to this server. */
  readonly udpPorts: ReadonlySet<number>;
  /** Describes the exact command line, for the report. */
  readonly commandLine: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 15_000;
/** The receive buffer both servers are given (docs/BENCHMARKING.md). */
export const UDP_RECEIVE_BUFFER = 4 * 1024 * 1024;

/**
 * Checks that the server's sockets really got the receive buffer asked for: the kernel reports
 * twice the setsockopt value (socket(7)), capped by net.core.rmem_max unless SO_RCVBUFFORCE is
 * used. Returns a warning, or null when every socket on the port has at least `bytes`.
 */
export function receiveBufferWarning(server: SipServer, bytes = UDP_RECEIVE_BUFFER): string | null {
  const sizes = [...server.udpPorts].flatMap((p) => readSocketReceiveBuffers(p));
  if (sizes.length === 0) return `${server.name}: could not read its UDP receive buffer (ss missing?)`;
  const smallest = Math.min(...sizes);
  if (smallest >= 2 * bytes) return null;
  return (
    `${server.name}: UDP receive buffer is ${smallest} bytes (kernel view), not the ${bytes} asked for ` +
    `(${2 * bytes} in the kernel's view): bursts will be dropped at its socket, which the comparison charges to it`
  );
}

async function waitReady(p: LaunchedProcess, host: string, port: number): Promise<void> {
  try {
    await waitForSipResponder({
      host,
      port,
      timeoutMs: READY_TIMEOUT_MS,
      abort: () => (p.hasExited ? `BENCH_ERR_EXITED: ${p.name} exited during startup` : null),
    });
  } catch (err) {
    await p.stop('SIGTERM', 2_000);
    throw new Error(`${(err as Error).message}\n--- ${p.logFile} (tail) ---\n${p.logTail()}`, { cause: err });
  }
}

export interface KamailioOptions {
  readonly name?: string;
  readonly configFile: string;
  readonly host: string;
  readonly port: number;
  /** Worker processes per listen socket (-n; `children=` in the config). */
  readonly children: number;
  /** Run directory for logs, the -Y runtime dir and -w working dir. */
  readonly runDir: string;
  /** Shared memory in MB (-m). 2048: finished transactions linger 5 s (tm wait timer). */
  readonly sharedMemoryMb?: number;
  /** Preprocessor defines (-A NAME=VALUE), e.g. a database URL for the REGISTER benchmark. */
  readonly defines?: readonly string[];
  readonly binary?: string;
}

/**
 * Debian's kamailio 5.6, started as the benchmarks need it (docs/BENCHMARKING.md):
 * -x tlsf (the default allocator costs about 3x the CPU), -m 2048 (256 MB of shared memory runs
 * out above ~1,850 calls/s), -b 4194304 (its 256 KB receive buffer overflows in bursts),
 * -DD -E (foreground, children kept, log to stderr into our log file).
 */
export class KamailioServer implements SipServer {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly udpPorts: ReadonlySet<number>;
  readonly commandLine: string;
  private readonly registry: ProcessRegistry;
  private readonly options: KamailioOptions;
  private readonly args: string[];
  private proc: LaunchedProcess | null = null;

  constructor(registry: ProcessRegistry, o: KamailioOptions) {
    this.registry = registry;
    this.options = o;
    this.name = o.name ?? 'kamailio';
    this.host = o.host;
    this.port = o.port;
    this.udpPorts = new Set([o.port]);
    const runtimeDir = join(o.runDir, `${this.name}-run`);
    this.args = [
      '-f', o.configFile,
      '-DD', '-E',
      '-Y', runtimeDir,
      '-w', o.runDir,
      '-x', 'tlsf',
      '-m', String(o.sharedMemoryMb ?? 2048),
      '-M', '64',
      '-b', String(UDP_RECEIVE_BUFFER),
      '-l', `udp:${o.host}:${o.port}`,
      '-n', String(o.children),
      ...(o.defines ?? []).flatMap((d) => ['-A', d]),
    ];
    this.commandLine = `${o.binary ?? 'kamailio'} ${this.args.join(' ')}`;
  }

  get rootPid(): number {
    if (this.proc === null) throw new Error(`${this.name} is not running`);
    return this.proc.pid;
  }

  async start(): Promise<void> {
    mkdirSync(join(this.options.runDir, `${this.name}-run`), { recursive: true });
    this.proc = this.registry.launch({
      name: this.name,
      command: this.options.binary ?? 'kamailio',
      args: this.args,
      cwd: this.options.runDir,
      logFile: join(this.options.runDir, `${this.name}.log`),
      processGroup: true,
    });
    await waitReady(this.proc, this.host, this.port);
  }

  async stop(): Promise<void> {
    if (this.proc !== null) await this.proc.stop('SIGTERM', 5_000);
  }
}

export interface OurProxyOptions {
  readonly name?: string;
  /** Compiled entry point (services/proxy/dist/main.js). */
  readonly mainJs: string;
  readonly host: string;
  readonly port: number;
  /** Worker processes (config key `workers`); 1 when this proxy build has no such key. */
  readonly workers: number;
  readonly runDir: string;
  /** Extra config keys (the REGISTER benchmark adds its database and auth settings). */
  readonly config?: Readonly<Record<string, unknown>>;
  readonly logLevel?: string;
}

/**
 * Our sip-proxy, started as `node main.js --listen udp:IP:PORT --config FILE --log-level L`, with
 * the same 4 MB UDP receive buffer Kamailio gets. The process tree (primary and workers) is
 * measured as a whole.
 */
export class OurProxyServer implements SipServer {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly udpPorts: ReadonlySet<number>;
  private readonly registry: ProcessRegistry;
  private readonly options: OurProxyOptions;
  private readonly configFile: string;
  private proc: LaunchedProcess | null = null;
  /** Set after start(): what was actually configured (workers may fall back to 1). */
  effectiveWorkers: number;
  /** Why the configuration differs from what was asked, if it does. */
  readonly warnings: string[] = [];

  constructor(registry: ProcessRegistry, o: OurProxyOptions) {
    this.registry = registry;
    this.options = o;
    this.name = o.name ?? 'ours';
    this.host = o.host;
    this.port = o.port;
    this.udpPorts = new Set([o.port]);
    this.configFile = join(o.runDir, `${this.name}-proxy.yaml`);
    this.effectiveWorkers = o.workers;
  }

  get rootPid(): number {
    if (this.proc === null) throw new Error(`${this.name} is not running`);
    return this.proc.pid;
  }

  private cliArgs(): string[] {
    return [
      this.options.mainJs,
      '--listen', `udp:${this.host}:${this.port}`,
      '--config', this.configFile,
      '--log-level', this.options.logLevel ?? 'warn',
    ];
  }

  get commandLine(): string {
    return `node ${this.cliArgs().join(' ')}  (config: ${JSON.stringify(this.configObject(this.effectiveWorkers))})`;
  }

  private configObject(workers: number): Record<string, unknown> {
    const c: Record<string, unknown> = {
      udpReceiveBufferSize: UDP_RECEIVE_BUFFER,
      ...this.options.config,
    };
    if (workers > 1) c.workers = workers;
    return c;
  }

  /**
   * Writes the config and validates it with `--check-config`. The proxy's schema is strict, so a
   * build that does not know `workers` yet rejects it: then the benchmark runs one process and
   * says so, rather than failing or silently comparing two workers against one.
   */
  private writeConfig(): void {
    writeFileSync(this.configFile, toYaml(this.configObject(this.effectiveWorkers)));
    const check = (): string | null => {
      try {
        execFileSync(process.execPath, [...this.cliArgs(), '--check-config'], {
          encoding: 'utf8',
          stdio: 'pipe',
          timeout: 15_000,
        });
        return null;
      } catch (err) {
        const e = err as { stderr?: string; stdout?: string; signal?: string | null; message: string };
        if (e.signal === 'SIGTERM') {
          // A build without --check-config starts serving instead of exiting: nothing validated.
          this.warnings.push('sip-proxy --check-config did not exit; config not validated up front');
          return null;
        }
        return `${e.stderr ?? ''}${e.stdout ?? ''}` || e.message;
      }
    };
    const problem = check();
    if (problem === null) return;
    if (this.effectiveWorkers > 1 && /workers/i.test(problem)) {
      this.warnings.push(`this sip-proxy build rejects 'workers' (${firstLine(problem)}); running ONE process`);
      this.effectiveWorkers = 1;
      writeFileSync(this.configFile, toYaml(this.configObject(1)));
      const again = check();
      if (again === null) return;
      throw new Error(`BENCH_ERR_CONFIG: sip-proxy rejects the benchmark config:\n${again}`);
    }
    throw new Error(`BENCH_ERR_CONFIG: sip-proxy rejects the benchmark config:\n${problem}`);
  }

  async start(): Promise<void> {
    mkdirSync(this.options.runDir, { recursive: true });
    this.writeConfig();
    this.proc = this.registry.launch({
      name: this.name,
      command: process.execPath,
      args: this.cliArgs(),
      cwd: this.options.runDir,
      logFile: join(this.options.runDir, `${this.name}.log`),
      processGroup: true,
    });
    await waitReady(this.proc, this.host, this.port);
  }

  async stop(): Promise<void> {
    if (this.proc !== null) await this.proc.stop('SIGTERM', 5_000);
  }
}

/** The first lines of a multi-line error, on one line. */
function firstLine(s: string): string {
  return s.trim().split('\n').slice(0, 3).map((l) => l.trim()).join(' ');
}
