/**
 * Native backend: every program is a local process (our compiled services under node,
 * Debian's sipp, kamailio, freeradius, rtpengine), each in its own process group with its
 * output in the work directory. What runs on the CI machine and on a developer's laptop.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type {
  Backend, NetworkRun, ProgramHandle, ProgramOptions, ProxyImplementation, ProxyOptions, RunningProxy,
  SippHandle, SippOptions, SippResult,
} from './backend.js';
import { HarnessError } from './errors.js';
import { kamailioStandardCfg, serviceEntry, sipReadyCli } from './paths.js';
import { allocatePort } from './ports.js';
import { ManagedProcess, describeExit, runToCompletion } from './process.js';
import { NetworkNamespace } from './netns.js';
import { proxyLaunch } from './proxy-command.js';
import { PROGRAMS } from './programs.js';
import { waitForSipReady } from './sip-socket.js';
import { sippArgs, sippFiles, type SippFiles } from './sipp-args.js';
import { describeFlow, readSippMessages } from './sipp-trace.js';
import { WorkDir } from './workdir.js';

const HOST = '127.0.0.1';

/** A local process as a ProgramHandle (also for suites that launch one without a backend). */
export class NativeProgram implements ProgramHandle {
  constructor(readonly proc: ManagedProcess) {}
  get name(): string {
    return this.proc.name;
  }
  logTail(maxChars?: number): string {
    return this.proc.outputTail(maxChars);
  }
  alive(): boolean {
    return this.proc.running;
  }
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    return this.proc.waitForOutput(pattern, timeoutMs);
  }
  async waitForExit(timeoutMs: number): Promise<{ code: number | null; signal: string | null }> {
    const status = await this.proc.waitForExit(timeoutMs);
    // What a one-shot printed last (a report on stdout) is read after its exit.
    await this.proc.outputDrained(2_000);
    return status;
  }
  async stop(): Promise<void> {
    await this.proc.stop();
  }
}

class NativeProxy implements RunningProxy {
  readonly sipAddress: string;
  constructor(
    readonly implementation: ProxyImplementation,
    readonly host: string,
    readonly port: number,
    readonly adminUrl: string | null,
    private readonly proc: ManagedProcess,
    private readonly netns: NetworkNamespace | null,
  ) {
    this.sipAddress = `${host}:${port}`;
  }
  logTail(maxChars = 4000): string {
    return this.proc.outputTail(maxChars);
  }
  alive(): boolean {
    return this.proc.running;
  }
  runInNetwork(script: string, args: readonly string[], timeoutMs: number): Promise<NetworkRun> {
    return runNodeIn(this.netns, script, args, timeoutMs);
  }
  async stop(): Promise<void> {
    await this.proc.stop();
    this.netns?.destroy();
  }
}

async function runNodeIn(netns: NetworkNamespace | null, script: string, args: readonly string[], timeoutMs: number): Promise<NetworkRun> {
  const cmd = netns ? netns.wrap(process.execPath, [script, ...args]) : { command: process.execPath, args: [script, ...args] };
  const r = await runToCompletion(cmd.command, cmd.args, timeoutMs);
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}

function readText(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

export function collectSippResult(name: string, localPort: number, files: SippFiles, exit: { code: number | null; signal: string | null }, output: string): SippResult {
  const messages = readSippMessages(files.messageFile);
  return {
    name,
    exitCode: exit.code,
    signal: exit.signal,
    localPort,
    messages,
    errors: readText(files.errorFile),
    output,
    flow: describeFlow(messages),
  };
}

class NativeSipp implements SippHandle {
  constructor(
    readonly name: string,
    readonly localPort: number,
    private readonly proc: ManagedProcess,
    private readonly files: SippFiles,
    private readonly defaultTimeoutMs: number,
  ) {}

  private collect(): SippResult {
    const s = this.proc.status ?? { code: null, signal: null };
    return collectSippResult(this.name, this.localPort, this.files, s, this.proc.outputTail(3000));
  }

  async result(timeoutMs = this.defaultTimeoutMs): Promise<SippResult> {
    try {
      await this.proc.waitForExit(timeoutMs);
    } catch (err) {
      await this.proc.stop(500);
      if (!(err instanceof HarnessError)) throw err;
    }
    await this.proc.stop();
    return this.collect();
  }

  async stop(): Promise<SippResult> {
    await this.proc.stop(500);
    return this.collect();
  }
}

export class NativeBackend implements Backend {
  readonly name = 'native' as const;
  readonly host = HOST;
  readonly workDir: WorkDir;
  private readonly started: ManagedProcess[] = [];
  private readonly namespaces: NetworkNamespace[] = [];
  private runs = 0;

  constructor(label: string, readonly proxyImplementation: ProxyImplementation) {
    this.workDir = new WorkDir(label);
  }

  private async launch(name: string, command: string, args: readonly string[], env?: Record<string, string>): Promise<ManagedProcess> {
    const runName = `${String(++this.runs).padStart(2, '0')}-${name}`;
    const proc = await ManagedProcess.launch({
      name,
      command,
      args,
      cwd: this.workDir.path,
      env: { ...process.env, ...env },
      logFile: this.workDir.file(`${runName}.log`),
    });
    this.started.push(proc);
    return proc;
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
    const netns = opts.isolated ? NetworkNamespace.create(`proxy${sipPort}`) : null;
    if (netns) this.namespaces.push(netns);
    let command: string;
    let args: string[];
    if (this.proxyImplementation === 'ours') {
      const entry = serviceEntry('proxy');
      if (!existsSync(entry)) {
        netns?.destroy();
        throw new HarnessError('HARNESS_ERR_NOT_BUILT', `${entry} does not exist: build the proxy (npx tsc -b services/proxy) or set PROXY_UNDER_TEST=kamailio`);
      }
      [command, args] = [process.execPath, ['--enable-source-maps', entry, ...launch.args]];
    } else {
      [command, args] = ['kamailio', launch.args];
    }
    if (netns) ({ command, args } = netns.wrap(command, args));
    const proc = await this.launch(this.proxyImplementation === 'ours' ? 'sip-proxy' : 'kamailio', command, args).catch((err: unknown) => {
      netns?.destroy();
      throw err;
    });
    const transports = opts.transports ?? ['udp', 'tcp'];
    const transport = transports.includes('udp') ? 'udp' : 'tcp';
    const ready = netns
      ? runNodeIn(netns, sipReadyCli, [HOST, String(sipPort), '20000', transport], 25_000).then((r) => {
        if (r.code !== 0) throw new HarnessError('HARNESS_ERR_TIMEOUT', `isolated proxy not ready: ${r.stderr.trim()}`, proc.outputTail());
      })
      : waitForSipReady(HOST, sipPort, { transport, timeoutMs: 20_000, alive: () => proc.running, logTail: () => proc.outputTail() });
    await ready.catch(async (err: unknown) => {
      await proc.stop();
      netns?.destroy();
      throw err;
    });
    return new NativeProxy(this.proxyImplementation, HOST, sipPort, launch.adminUrl, proc, netns);
  }

  async startSipp(opts: SippOptions): Promise<SippHandle> {
    const localPort = opts.localPort ?? (await allocatePort(HOST));
    const files = sippFiles(this.workDir.sub(`sipp-${String(this.runs + 1).padStart(2, '0')}-${opts.name}`));
    const proc = await this.launch(`sipp-${opts.name}`, 'sipp', sippArgs(opts, HOST, localPort, files));
    // SIPp binds its socket right after parsing the scenario: a bad scenario or a bind
    // failure ends it at once with a fatal code (255 = -1, 254 = -2). A background UAS must
    // be listening before the caller starts, so give it that moment and report such a start.
    await new Promise((r) => setTimeout(r, 150));
    const s = proc.status;
    if (s !== null && (s.code === 254 || s.code === 255)) {
      throw new HarnessError('HARNESS_ERR_EXITED', `sipp ${opts.name} failed at start (${describeExit(s)})`, proc.outputTail() + readText(files.errorFile));
    }
    return new NativeSipp(opts.name, localPort, proc, files, (opts.timeoutMs ?? 30_000) + 5000);
  }

  async runSipp(opts: SippOptions): Promise<SippResult> {
    const h = await this.startSipp(opts);
    return h.result();
  }

  async startProgram(name: string, args: readonly string[], opts: ProgramOptions = {}): Promise<ProgramHandle> {
    const spec = PROGRAMS[name];
    if (spec === undefined) throw new HarnessError('HARNESS_ERR_NO_PROGRAM', `unknown program ${name}; known: ${Object.keys(PROGRAMS).join(', ')}`);
    const script = spec.native.args.find((a) => a.endsWith('.js'));
    if (script !== undefined && !existsSync(script)) {
      throw new HarnessError('HARNESS_ERR_NOT_BUILT', `${script} does not exist: build that service first`);
    }
    const proc = await this.launch(name, spec.native.command, [...spec.native.args, ...args], opts.env);
    const handle = new NativeProgram(proc);
    if (opts.readyPattern) {
      await proc.waitForOutput(opts.readyPattern, opts.readyTimeoutMs ?? 15_000).catch(async (err: unknown) => {
        await proc.stop();
        throw err;
      });
    }
    return handle;
  }

  async close(opts: { failed?: boolean } = {}): Promise<void> {
    await Promise.all(this.started.map((p) => p.stop()));
    for (const ns of this.namespaces) ns.destroy();
    if (opts.failed) this.workDir.markFailed();
    this.workDir.cleanup();
  }

  /** Path of a file in the work directory (generated configs). */
  path(name: string): string {
    return join(this.workDir.path, name);
  }
}
