/**
 * Starts the programs a benchmark drives (proxies, SIPp, databases' helpers) with their output in
 * a log file, and makes sure none outlives the benchmark: every launched process is tracked by a
 * ProcessRegistry, which the entry point stops on exit, on SIGINT/SIGTERM and on an uncaught error.
 *
 * Long-lived servers are started in their own process group (detached) so that stopping one
 * also stops the children it forked (Kamailio's workers, our proxy's workers).
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

export interface LaunchOptions {
  /** Short name for messages ("kamailio", "sipp-uac"). */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** stdout and stderr go here (appended). */
  readonly logFile: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Own process group, so stop() reaches forked children too. */
  readonly processGroup: boolean;
}

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A launched program. */
export class LaunchedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves once the process has exited and was reaped. */
  readonly exited: Promise<ProcessExit>;
  private readonly processGroup: boolean;
  private exitInfo: ProcessExit | null = null;

  constructor(name: string, pid: number, logFile: string, processGroup: boolean, exited: Promise<ProcessExit>) {
    this.name = name;
    this.pid = pid;
    this.logFile = logFile;
    this.processGroup = processGroup;
    this.exited = exited.then((e) => {
      this.exitInfo = e;
      return e;
    });
  }

  get hasExited(): boolean {
    return this.exitInfo !== null;
  }

  get exitStatus(): ProcessExit | null {
    return this.exitInfo;
  }

  /** Sends a signal to the process (or its whole group); false if it is already gone. */
  signal(sig: NodeJS.Signals): boolean {
    if (this.exitInfo !== null) return false;
    try {
      process.kill(this.processGroup ? -this.pid : this.pid, sig);
      return true;
    } catch {
      return false;
    }
  }

  /** Resolves with the exit, or null if the process is still running after timeoutMs. */
  async waitForExit(timeoutMs: number): Promise<ProcessExit | null> {
    if (this.exitInfo !== null) return this.exitInfo;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(resolve, timeoutMs, null);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Stops the program: `first` (SIGTERM unless a program has a graceful signal of its own,
   * e.g. SIGUSR1 for SIPp), then SIGKILL after graceMs.
   */
  async stop(first: NodeJS.Signals = 'SIGTERM', graceMs = 5_000): Promise<ProcessExit> {
    if (this.exitInfo !== null) return this.exitInfo;
    this.signal(first);
    const e = await this.waitForExit(graceMs);
    if (e !== null) {
      // The group leader is gone; make sure no orphaned worker of its group lingers.
      if (this.processGroup) this.killGroupQuietly();
      return e;
    }
    this.signal('SIGKILL');
    return this.exited;
  }

  /** Last `maxChars` characters of the log, for error messages. */
  logTail(maxChars = 2_000): string {
    try {
      const text = readFileSync(this.logFile, 'utf8');
      return text.length > maxChars ? text.slice(text.length - maxChars) : text;
    } catch {
      return '';
    }
  }

  private killGroupQuietly(): void {
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      /* group already empty */
    }
  }
}

/** Owns every process a benchmark launched; stopAll() is the cleanup path. */
export class ProcessRegistry {
  private readonly live = new Set<LaunchedProcess>();

  launch(opts: LaunchOptions): LaunchedProcess {
    const fd = openSync(opts.logFile, 'a');
    let child;
    try {
      child = spawn(opts.command, opts.args, {
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        stdio: ['ignore', fd, fd],
        detached: opts.processGroup,
      });
    } finally {
      closeSync(fd);
    }
    const exited = new Promise<ProcessExit>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', () => resolve({ code: -1, signal: null }));
    });
    if (child.pid === undefined) {
      throw new Error(`BENCH_ERR_SPAWN: cannot start ${opts.name} (${opts.command}); see ${opts.logFile}`);
    }
    const p = new LaunchedProcess(opts.name, child.pid, opts.logFile, opts.processGroup, exited);
    this.live.add(p);
    void p.exited.then(() => this.live.delete(p));
    return p;
  }

  get running(): readonly LaunchedProcess[] {
    return [...this.live];
  }

  /** Stops everything still running, in reverse start order. */
  async stopAll(graceMs = 3_000): Promise<void> {
    const procs = [...this.live].reverse();
    await Promise.all(procs.map((p) => p.stop('SIGTERM', graceMs)));
  }

  /** Last-resort synchronous cleanup for process 'exit' handlers (no awaiting possible there). */
  killAllNow(): void {
    for (const p of this.live) p.signal('SIGKILL');
  }
}

/**
 * Wires a registry to the signals and errors that end a benchmark early, so an interrupted run
 * leaves no proxy or SIPp behind. Returns a function that removes the handlers.
 */
export function installCleanupHandlers(registry: ProcessRegistry, onCleanup: () => void): () => void {
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${sig}: stopping launched processes...\n`);
    void registry.stopAll(2_000).finally(() => {
      onCleanup();
      process.exit(130);
    });
  };
  const onExit = (): void => {
    registry.killAllNow();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', onExit);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', onExit);
  };
}
