/**
 * Containers backend: the same programs, from the images compose.yaml builds, started with
 * Testcontainers (its reaper, where it runs, removes every container of the session even if
 * the test process dies) and dockerode (exit codes of one-shot SIPp runs). Containers use host networking, so
 * the proxy, SIPp and the test process share 127.0.0.1 exactly as in the native backend and
 * the tests' addresses, ports and black-hole sockets work unchanged. The work directory and
 * the scenarios are bind-mounted at their host paths, so trace files land where the native
 * backend would put them. Needs a Linux Docker engine (host networking).
 *
 * Opt-in: INTEGRATION_BACKEND=containers (select-backend.ts). Where no registry answers (our
 * CI) Testcontainers' reaper image (testcontainers/ryuk) cannot be pulled: run with
 * TESTCONTAINERS_RYUK_DISABLED=true; close() and an exit hook (`docker rm -f`) still remove
 * every container this backend started, and scripts/docker/dockerd.sh removes whatever is
 * left when it stops its engine. The images: scripts/docker/build-images.sh.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, writeFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import Docker from 'dockerode';
import { GenericContainer, Wait, type StartedTestContainer } from 'testcontainers';
import type {
  Backend, NetworkRun, ProgramHandle, ProgramOptions, ProxyImplementation, ProxyOptions, RunningProxy,
  SippHandle, SippOptions, SippResult,
} from './backend.js';
import { HarnessError } from './errors.js';
import { collectSippResult } from './native-backend.js';
import { dockerDir, kamailioStandardCfg, repoRoot, sipReadyCli } from './paths.js';
import { allocatePort } from './ports.js';
import { PROGRAMS, imageFor, type ProgramSpec } from './programs.js';
import { proxyLaunch } from './proxy-command.js';
import { waitForSipReady } from './sip-socket.js';
import { sippArgs, sippFiles, type SippFiles } from './sipp-args.js';
import { WorkDir } from './workdir.js';

const HOST = '127.0.0.1';
const integrationDir = join(repoRoot, 'integration');
const TAIL_BYTES = 16 * 1024;
/**
 * Containers run as the test process's user, like the native backend's processes: they read
 * and write the bind-mounted work directory (configs, SIPp traces, journals) with the same
 * permissions, whatever user the image names.
 */
const HOST_USER = typeof process.getuid === 'function' ? `${process.getuid()}:${process.getgid?.() ?? 0}` : undefined;

/**
 * Containers still running when the test process exits (a crash, an interrupted run): with
 * Ryuk disabled nobody else removes them, so the exit hook does, synchronously through the
 * docker CLI (an exit handler cannot wait for dockerode's promises).
 */
const liveContainers = new Set<string>();
let exitHookInstalled = false;
function track(id: string): void {
  liveContainers.add(id);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    if (liveContainers.size === 0) return;
    try {
      execFileSync('docker', ['rm', '-f', ...liveContainers], { stdio: 'ignore', timeout: 30_000 });
    } catch {
      // the engine is gone or the CLI missing: the engine's own cleanup has to do
    }
  });
}

/** Logs of one container: appended to a file, the last 16 KiB kept for error messages. */
class ContainerLog {
  private tail = '';
  private readonly file: WriteStream;
  private readonly waiters = new Set<{ re: RegExp; resolve: (m: RegExpExecArray) => void }>();
  private endedResolve: () => void = () => undefined;
  /** Resolves when the engine has sent the container's last log line (its log stream ended). */
  readonly ended = new Promise<void>((resolve) => { this.endedResolve = resolve; });
  constructor(path: string) {
    this.file = createWriteStream(path, { flags: 'a' });
  }
  consume(stream: Readable): void {
    stream.once('end', () => this.endedResolve());
    stream.once('close', () => this.endedResolve());
    stream.on('data', (chunk: Buffer | string) => {
      const text = chunk.toString();
      if (!this.file.writableEnded) this.file.write(text);
      this.tail = (this.tail + text).slice(-TAIL_BYTES);
      for (const w of this.waiters) {
        const m = w.re.exec(this.tail);
        if (m) {
          this.waiters.delete(w);
          w.resolve(m);
        }
      }
    });
  }
  text(maxChars = 4000): string {
    return this.tail.slice(-maxChars);
  }
  waitFor(re: RegExp, timeoutMs: number, name: string): Promise<RegExpExecArray> {
    const now = re.exec(this.tail);
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const w = { re, resolve: (m: RegExpExecArray) => { clearTimeout(timer); resolve(m); } };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new HarnessError('HARNESS_ERR_TIMEOUT', `${name} did not print ${re} within ${timeoutMs} ms`, this.text()));
      }, timeoutMs);
      this.waiters.add(w);
    });
  }
  close(): void {
    this.file.end();
  }
}

/** One running container with its log, exit-state queries through dockerode. */
class ContainerProgram implements ProgramHandle {
  private stopped = false;
  constructor(
    readonly name: string,
    readonly container: StartedTestContainer,
    readonly log: ContainerLog,
    private readonly docker: Docker,
  ) {}
  logTail(maxChars?: number): string {
    return this.log.text(maxChars);
  }
  alive(): boolean {
    return !this.stopped && this.lastKnownRunning;
  }
  /** Refreshed by waitForExit / refresh(); a crash shows up at the next readiness poll. */
  lastKnownRunning = true;
  async refresh(): Promise<boolean> {
    try {
      const info = await this.docker.getContainer(this.container.getId()).inspect();
      this.lastKnownRunning = info.State.Running;
    } catch {
      this.lastKnownRunning = false;
    }
    return this.lastKnownRunning;
  }
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    return this.log.waitFor(pattern, timeoutMs, this.name);
  }
  async waitForExit(timeoutMs: number): Promise<{ code: number | null; signal: string | null }> {
    const c = this.docker.getContainer(this.container.getId());
    let timer: NodeJS.Timeout | undefined;
    try {
      const r = (await Promise.race([
        c.wait() as Promise<{ StatusCode: number }>,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new HarnessError('HARNESS_ERR_TIMEOUT', `${this.name} did not exit within ${timeoutMs} ms`, this.log.text())), timeoutMs);
        }),
      ])) as { StatusCode: number };
      this.lastKnownRunning = false;
      // The exit can be reported before the last log lines arrive: a one-shot's report on
      // stdout (radius-acct cdr) is read from the log after the exit.
      let drain: NodeJS.Timeout | undefined;
      await Promise.race([this.log.ended, new Promise((r) => { drain = setTimeout(r, 2_000); })]);
      clearTimeout(drain);
      // Docker reports death by signal as 128+N.
      return r.StatusCode > 128 ? { code: null, signal: `SIG${r.StatusCode - 128}` } : { code: r.StatusCode, signal: null };
    } finally {
      clearTimeout(timer);
    }
  }
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.container.stop({ timeout: 3000 }).catch(() => undefined);
    liveContainers.delete(this.container.getId());
    this.log.close();
  }
}

class ContainerProxy implements RunningProxy {
  readonly sipAddress: string;
  constructor(
    readonly implementation: ProxyImplementation,
    readonly host: string,
    readonly port: number,
    readonly adminUrl: string | null,
    private readonly program: ContainerProgram,
    private readonly runner: (network: string, script: string, args: readonly string[], timeoutMs: number) => Promise<NetworkRun>,
    /** Docker network mode of scripts that must reach the proxy: its own netns, or host. */
    private readonly network: string,
  ) {
    this.sipAddress = `${host}:${port}`;
  }
  logTail(maxChars?: number): string {
    return this.program.logTail(maxChars);
  }
  alive(): boolean {
    return this.program.alive();
  }
  runInNetwork(script: string, args: readonly string[], timeoutMs: number): Promise<NetworkRun> {
    return this.runner(this.network, script, args, timeoutMs);
  }
  stop(): Promise<void> {
    return this.program.stop();
  }
}

class ContainerSipp implements SippHandle {
  constructor(
    readonly name: string,
    readonly localPort: number,
    private readonly program: ContainerProgram,
    private readonly files: SippFiles,
    private readonly defaultTimeoutMs: number,
  ) {}
  async result(timeoutMs = this.defaultTimeoutMs): Promise<SippResult> {
    let exit: { code: number | null; signal: string | null } = { code: null, signal: 'SIGKILL' };
    try {
      exit = await this.program.waitForExit(timeoutMs);
    } catch (err) {
      if (!(err instanceof HarnessError)) throw err;
    }
    await this.program.stop();
    return collectSippResult(this.name, this.localPort, this.files, exit, this.program.logTail(3000));
  }
  async stop(): Promise<SippResult> {
    await this.program.stop();
    return collectSippResult(this.name, this.localPort, this.files, { code: null, signal: 'SIGTERM' }, this.program.logTail(3000));
  }
}

/** True when a Docker engine answers (DOCKER_HOST or the default socket). */
export async function dockerAvailable(): Promise<boolean> {
  if (!process.env.DOCKER_HOST && !existsSync('/var/run/docker.sock')) return false;
  try {
    await new Docker().ping();
    return true;
  } catch {
    return false;
  }
}

export class ContainersBackend implements Backend {
  readonly name = 'containers' as const;
  readonly host = HOST;
  readonly workDir: WorkDir;
  private readonly docker = new Docker();
  private readonly started: ContainerProgram[] = [];
  private readonly builtImages = new Map<string, Promise<void>>();
  private runs = 0;

  constructor(label: string, readonly proxyImplementation: ProxyImplementation) {
    this.workDir = new WorkDir(label);
  }

  /** Builds the program's image from its Dockerfile when the engine does not have it yet. */
  private ensureImage(name: string, spec: ProgramSpec): Promise<void> {
    const image = imageFor(name, spec);
    let p = this.builtImages.get(image);
    if (p === undefined) {
      p = (async () => {
        try {
          await this.docker.getImage(image).inspect();
          return;
        } catch {
          // not present: build or pull below
        }
        if (spec.dockerfile !== undefined && existsSync(join(repoRoot, spec.dockerfile))) {
          await GenericContainer.fromDockerfile(repoRoot, spec.dockerfile)
            .withBuildArgs(spec.buildArgs ?? {})
            .build(image, { deleteOnExit: false });
          return;
        }
        throw new HarnessError('HARNESS_ERR_BACKEND', `image ${image} for ${name} is missing and ${spec.dockerfile ?? 'no Dockerfile'} cannot build it (docker compose build?)`);
      })();
      this.builtImages.set(image, p);
    }
    return p;
  }

  private async run(name: string, args: readonly string[], opts: { env?: Record<string, string>; networkMode?: string } = {}): Promise<ContainerProgram> {
    const spec = PROGRAMS[name];
    if (spec === undefined) throw new HarnessError('HARNESS_ERR_NO_PROGRAM', `unknown program ${name}; known: ${Object.keys(PROGRAMS).join(', ')}`);
    await this.ensureImage(name, spec);
    const runName = `${String(++this.runs).padStart(2, '0')}-${name}`;
    const log = new ContainerLog(this.workDir.file(`${runName}.log`));
    let c = new GenericContainer(imageFor(name, spec))
      .withNetworkMode(opts.networkMode ?? 'host')
      .withCommand([...args])
      .withEnvironment(opts.env ?? {})
      .withBindMounts([
        { source: this.workDir.path, target: this.workDir.path, mode: 'rw' },
        // The whole suite read-only: scenarios live in integration/scenarios and next to
        // their suites (integration/src/mysql/scenarios).
        { source: integrationDir, target: integrationDir, mode: 'ro' },
        { source: dockerDir, target: dockerDir, mode: 'ro' },
      ])
      .withWorkingDir(this.workDir.path)
      .withLogConsumer((stream) => log.consume(stream))
      // Host networking publishes no ports, so this returns at once; readiness is checked by
      // the caller (SIP OPTIONS, a log line) and one-shot exit through dockerode's wait.
      .withWaitStrategy(Wait.forListeningPorts())
      .withStartupTimeout(120_000);
    if (spec.entrypoint !== undefined) c = c.withEntrypoint(spec.entrypoint);
    if (HOST_USER !== undefined) c = c.withUser(HOST_USER);
    const started = await c.start();
    track(started.getId());
    const program = new ContainerProgram(name, started, log, this.docker);
    this.started.push(program);
    return program;
  }

  async startProxy(opts: ProxyOptions = {}): Promise<RunningProxy> {
    const sipPort = await allocatePort(HOST);
    const adminPort = await allocatePort(HOST);
    const dir = this.workDir.sub(`proxy-${sipPort}`);
    const launch = proxyLaunch({
      implementation: this.proxyImplementation,
      host: HOST,
      sipPort,
      adminPort,
      dir,
      kamailioCfg: kamailioStandardCfg,
      opts,
    });
    for (const [file, content] of launch.files) writeFileSync(file, content);
    const program = await this.run(this.proxyImplementation === 'ours' ? 'sip-proxy' : 'kamailio', launch.args, opts.isolated ? { networkMode: 'none' } : {});
    const transports = opts.transports ?? ['udp', 'tcp'];
    const transport = transports.includes('udp') ? 'udp' : 'tcp';
    // An isolated proxy has only its own loopback: scripts join its network namespace.
    const network = opts.isolated ? `container:${program.container.getId()}` : 'host';
    let polls = 0;
    const ready = opts.isolated
      ? this.runNode(network, sipReadyCli, [HOST, String(sipPort), '60000', transport], 70_000).then((r) => {
        if (r.code !== 0) throw new HarnessError('HARNESS_ERR_TIMEOUT', `isolated proxy not ready: ${r.stdout.trim()}`, program.logTail());
      })
      : waitForSipReady(HOST, sipPort, {
        transport,
        timeoutMs: 60_000,
        // Inspect the container every few polls: a crash should fail fast, not after a minute.
        alive: () => {
          if (++polls % 5 === 0) void program.refresh();
          return program.alive();
        },
        logTail: () => program.logTail(),
      });
    await ready.catch(async (err: unknown) => {
      await program.stop();
      throw err;
    });
    return new ContainerProxy(this.proxyImplementation, HOST, sipPort, launch.adminUrl, program, (n, sc, a, ms) => this.runNode(n, sc, a, ms), network);
  }

  /**
   * Runs a compiled suite script with the Node of our proxy image, in the given Docker
   * network mode; stdout and stderr come back interleaved in `stdout`.
   */
  private async runNode(networkMode: string, script: string, args: readonly string[], timeoutMs: number): Promise<NetworkRun> {
    const spec = PROGRAMS['sip-proxy']!;
    await this.ensureImage('sip-proxy', spec);
    let out = '';
    let container = new GenericContainer(imageFor('sip-proxy', spec))
      .withNetworkMode(networkMode)
      .withEntrypoint(['node'])
      .withCommand([script, ...args])
      .withBindMounts([{ source: integrationDir, target: integrationDir, mode: 'ro' }])
      .withLogConsumer((stream) => stream.on('data', (c: Buffer | string) => { out += c.toString(); }))
      .withWaitStrategy(Wait.forListeningPorts());
    if (HOST_USER !== undefined) container = container.withUser(HOST_USER);
    const started = await container.start();
    track(started.getId());
    const program = new ContainerProgram('node-script', started, new ContainerLog(this.workDir.file('node-scripts.log')), this.docker);
    try {
      const exit = await program.waitForExit(timeoutMs).catch(() => ({ code: null, signal: 'SIGKILL' }));
      return { code: exit.code, stdout: out, stderr: '' };
    } finally {
      await program.stop();
    }
  }

  async startSipp(opts: SippOptions): Promise<SippHandle> {
    const localPort = opts.localPort ?? (await allocatePort(HOST));
    const files = sippFiles(this.workDir.sub(`sipp-${String(this.runs + 1).padStart(2, '0')}-${opts.name}`));
    const args = sippArgs(opts, HOST, localPort, files);
    // SIPp's Call-ID is call-number-pid@ip, and in a container its pid is always 1: every run
    // would reuse the Call-IDs of the previous ones, which a registrar refuses as stale
    // (RFC 3261 §10.3 step 7: same Call-ID, lower CSeq). A run id keeps them unique.
    if (!args.includes('-cid_str')) args.push('-cid_str', `%u-${randomBytes(6).toString('hex')}@%s`);
    const program = await this.run('sipp', args);
    return new ContainerSipp(opts.name, localPort, program, files, (opts.timeoutMs ?? 30_000) + 15_000);
  }

  async runSipp(opts: SippOptions): Promise<SippResult> {
    return (await this.startSipp(opts)).result();
  }

  async startProgram(name: string, args: readonly string[], opts: ProgramOptions = {}): Promise<ProgramHandle> {
    const program = await this.run(name, args, opts.env ? { env: opts.env } : {});
    if (opts.readyPattern) {
      await program.waitForOutput(opts.readyPattern, opts.readyTimeoutMs ?? 60_000).catch(async (err: unknown) => {
        await program.stop();
        throw err;
      });
    }
    return program;
  }

  async close(opts: { failed?: boolean } = {}): Promise<void> {
    await Promise.all(this.started.map((p) => p.stop()));
    if (opts.failed) this.workDir.markFailed();
    this.workDir.cleanup();
  }
}
