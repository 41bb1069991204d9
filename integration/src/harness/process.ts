/**
 * Launches a program as its own process group, copies its stdout/stderr into a log file
 * and a bounded in-memory tail, and guarantees it is gone when the test ends: `stop()` signals
 * the whole group (Kamailio forks workers, SIPp may fork), and a process-wide registry kills
 * every group still alive if the test process exits or is interrupted, so a failed assertion
 * or a crash never leaves a proxy holding a port for the next test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { HarnessError } from './errors.js';

/** Keep this much of a program's recent output in memory for error messages. */
const TAIL_BYTES = 16 * 1024;

export interface LaunchOptions {
  /** Short name for messages and the log file, e.g. 'proxy', 'sipp-uas'. */
  name: string;
  command: string;
  args: readonly string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** File that receives stdout and stderr (appended, interleaved as they arrive). */
  logFile: string;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Every group we started and have not yet seen exit. */
const live = new Set<ManagedProcess>();
let hooksInstalled = false;

function killAllSync(): void {
  for (const p of live) p.killGroup('SIGKILL');
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  // 'exit' handlers may only do synchronous work: process.kill is synchronous.
  process.on('exit', killAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAllSync();
      // Re-raise so the runner reports the interruption as usual.
      process.kill(process.pid, sig);
    });
  }
}

export class ManagedProcess {
  readonly name: string;
  readonly logFile: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly pid: number;
  private readonly log: WriteStream;
  private tail: string;
  private exitStatus: ExitStatus | null;
  private readonly exited: Promise<ExitStatus>;
  private readonly watchers: Set<OutputWatcher>;
  /** Resolves once stdout and stderr are closed: all output is in the tail. */
  private drained: Promise<void> = Promise.resolve();

  private constructor(opts: LaunchOptions, child: ChildProcess, log: WriteStream) {
    this.name = opts.name;
    this.logFile = opts.logFile;
    this.command = opts.command;
    this.args = opts.args;
    this.pid = child.pid ?? -1;
    this.log = log;
    this.tail = '';
    this.exitStatus = null;
    this.watchers = new Set();
    this.exited = new Promise<ExitStatus>((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitStatus = { code, signal };
        live.delete(this);
        resolve(this.exitStatus);
      });
    });
  }

  /** Spawns the program; rejects with HARNESS_ERR_SPAWN when it cannot be executed. */
  static async launch(opts: LaunchOptions): Promise<ManagedProcess> {
    installExitHooks();
    const log = createWriteStream(opts.logFile, { flags: 'a' });
    await once(log, 'open');
    log.write(`# ${new Date().toISOString()} ${opts.command} ${opts.args.join(' ')}\n`);
    const child = spawn(opts.command, [...opts.args], {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      // Own process group: stop() and the exit hook signal -pid, reaching forked workers.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const spawned = await new Promise<Error | null>((resolve) => {
      child.once('spawn', () => resolve(null));
      child.once('error', (err) => resolve(err));
    });
    if (spawned !== null) {
      log.end();
      throw new HarnessError('HARNESS_ERR_SPAWN', `cannot start ${opts.name} (${opts.command}): ${spawned.message}`);
    }
    const proc = new ManagedProcess(opts, child, log);
    live.add(proc);
    child.stdout!.on('data', (chunk: Buffer) => proc.onOutput(chunk));
    child.stderr!.on('data', (chunk: Buffer) => proc.onOutput(chunk));
    // 'exit' may come before the pipes are read to the end (Node's child_process docs): a
    // one-shot's result printed just before it exited must still reach outputTail().
    proc.drained = Promise.all([once(child.stdout!, 'close'), once(child.stderr!, 'close')]).then(() => undefined, () => undefined);
    // Never let the test runner wait on our pipes once the test is done with the process.
    child.unref();
    return proc;
  }

  private onOutput(chunk: Buffer): void {
    // Output may still drain from the pipes after stop() closed the log.
    if (!this.log.writableEnded) this.log.write(chunk);
    const text = chunk.toString('utf8');
    this.tail = (this.tail + text).slice(-TAIL_BYTES);
    for (const w of this.watchers) w.check(this.tail);
  }

  get running(): boolean {
    return this.exitStatus === null;
  }

  get status(): ExitStatus | null {
    return this.exitStatus;
  }

  /** The last ~16 KiB of output (for error messages and assertions). */
  outputTail(maxChars = 4000): string {
    return this.tail.slice(-maxChars);
  }

  /** Signals the whole process group; harmless when it is already gone. */
  killGroup(signal: NodeJS.Signals): void {
    if (this.exitStatus !== null || this.pid <= 0) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      // ESRCH: the group vanished between the check and the signal.
    }
  }

  /** Resolves when the program exits; HARNESS_ERR_TIMEOUT after `timeoutMs`. */
  async waitForExit(timeoutMs: number): Promise<ExitStatus> {
    if (this.exitStatus !== null) return this.exitStatus;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new HarnessError('HARNESS_ERR_TIMEOUT', `${this.name} did not exit within ${timeoutMs} ms`, this.outputTail())),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Resolves once the program's pipes are closed (everything it wrote is in outputTail()), or
   * after `timeoutMs` when a process it forked still holds them.
   */
  async outputDrained(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.drained, new Promise<void>((r) => { timer = setTimeout(r, timeoutMs); })]);
    clearTimeout(timer);
  }

  /** Resolves with the match once the output contains `pattern`; fails if the program exits first. */
  async waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    const now = pattern.exec(this.tail);
    if (now) return now;
    const watcher = new OutputWatcher(pattern);
    this.watchers.add(watcher);
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        watcher.promise,
        this.exited.then((s) => {
          throw new HarnessError('HARNESS_ERR_EXITED', `${this.name} exited (${describeExit(s)}) before printing ${pattern}`, this.outputTail());
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new HarnessError('HARNESS_ERR_TIMEOUT', `${this.name} did not print ${pattern} within ${timeoutMs} ms`, this.outputTail())),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
      this.watchers.delete(watcher);
    }
  }

  /**
   * SIGTERM to the group, SIGKILL after `graceMs`; resolves once the leader has exited and
   * the log is flushed. Safe to call twice.
   */
  async stop(graceMs = 3000): Promise<ExitStatus> {
    if (this.exitStatus === null) {
      this.killGroup('SIGTERM');
      const timer = setTimeout(() => this.killGroup('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    // Workers of the group may outlive the leader (Kamailio's children): make sure.
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      // group already empty
    }
    if (!this.log.closed) {
      this.log.end();
      await once(this.log, 'close').catch(() => undefined);
    }
    return this.exitStatus!;
  }
}

class OutputWatcher {
  readonly promise: Promise<RegExpExecArray>;
  private resolveFn!: (m: RegExpExecArray) => void;
  constructor(private readonly pattern: RegExp) {
    this.promise = new Promise((resolve) => {
      this.resolveFn = resolve;
    });
  }
  check(text: string): void {
    const m = this.pattern.exec(text);
    if (m) this.resolveFn(m);
  }
}

export function describeExit(s: ExitStatus): string {
  return s.signal !== null ? `signal ${s.signal}` : `code ${s.code}`;
}

/** Stops every process this test file started (for an `after` hook). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
}

export interface CompletedRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a short-lived command to completion, keeping its whole output; its process group is
 * killed after `timeoutMs` (and by the exit hook should the test process die first).
 */
export async function runToCompletion(command: string, args: readonly string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<CompletedRun> {
  installExitHooks();
  const child = spawn(command, [...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (c: Buffer) => out.push(c));
  child.stderr!.on('data', (c: Buffer) => err.push(c));
  const kill = (): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // gone
    }
  };
  const timer = setTimeout(kill, timeoutMs);
  const onExit = (): void => kill();
  process.once('exit', onExit);
  try {
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (c, s) => resolve([c, s]));
    });
    return { code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
  } catch (e) {
    throw new HarnessError('HARNESS_ERR_SPAWN', `cannot run ${command}: ${(e as Error).message}`);
  } finally {
    clearTimeout(timer);
    process.off('exit', onExit);
  }
}
