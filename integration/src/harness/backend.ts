/**
 * The contract between tests and the programs they drive. One set of tests, two backends:
 * `native` spawns the real programs as local processes, `containers` runs the same programs
 * in the images compose.yaml builds. A test only ever sees this interface.
 */
import type { TracedMessage } from './sipp-trace.js';
import type { SipTransport } from './sip-socket.js';
import type { WorkDir } from './workdir.js';

export type BackendName = 'native' | 'containers';
/** Which implementation plays the proxy: ours (default) or Kamailio as the reference. */
export type ProxyImplementation = 'ours' | 'kamailio';

export interface ProxyTimers {
  /** RFC 3261 §17.1.1.1 T1 in ms (timers B/F = 64*T1). */
  t1?: number;
  t2?: number;
  t4?: number;
  /** RFC 3261 §16.6 step 11 Timer C in ms. */
  timerC?: number;
}

export interface ProxyOptions {
  /** Transports to listen on (same port for all); default both UDP and TCP. */
  transports?: readonly SipTransport[];
  timers?: ProxyTimers;
  registrar?: { minExpires?: number; maxExpires?: number; defaultExpires?: number };
  /** The proxy's maximum message size (513 above it). */
  maxMessageSize?: number;
  /** Our proxy only: write call records to this journal (accounting.journal). */
  accountingJournal?: string;
  /** Our proxy only: worker threads (config `workers`). */
  workers?: number;
  /** Our proxy only: how workers get their messages (config `workerModel`). */
  workerModel?: 'dispatch' | 'reuseport';
  /** Our proxy only: UDP socket I/O (config `udpIo`; default auto = native when built). */
  udpIo?: 'auto' | 'native' | 'dgram';
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
  /**
   * Run the proxy in a network of its own with only loopback (a fresh network namespace, or
   * a container without network): nothing it sends can leave, so foreign-domain and
   * hostile messages are safe to feed it. Talk to it with RunningProxy.runInNetwork.
   */
  isolated?: boolean;
}

export interface NetworkRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunningProxy {
  readonly implementation: ProxyImplementation;
  readonly host: string;
  readonly port: number;
  /** `host:port`, what SIPp takes as its remote address. */
  readonly sipAddress: string;
  /** Base URL of the admin HTTP API (health, metrics), null when the proxy has none. */
  readonly adminUrl: string | null;
  logTail(maxChars?: number): string;
  /** False once the proxy has exited (crash detection). */
  alive(): boolean;
  /**
   * Runs one of the suite's compiled Node scripts (absolute path under integration/dist)
   * where it can reach the proxy at host:port: inside the proxy's isolated network, or
   * simply locally when the proxy is not isolated.
   */
  runInNetwork(script: string, args: readonly string[], timeoutMs: number): Promise<NetworkRun>;
  stop(): Promise<void>;
}

export interface SippOptions {
  /** Label for the run's files and error messages. */
  name: string;
  /** Scenario name in integration/scenarios (without .xml) or a path. */
  scenario: string;
  /** `host:port` SIPp sends to (the proxy); omitted for a pure UAS. */
  remote?: string;
  transport?: SipTransport;
  /** Local SIP port; allocated when omitted. */
  localPort?: number;
  /** `-key name value` pairs, available as [name] in the scenario. */
  keys?: Record<string, string | number>;
  /** Calls to complete before SIPp exits (-m). Default 1. */
  calls?: number;
  /** SIPp's global timeout (-timeout, fails the run when hit). Default 30 s. */
  timeoutMs?: number;
  extraArgs?: readonly string[];
}

export interface SippResult {
  name: string;
  /** SIPp's exit code: 0 all calls succeeded, 1 some failed, 97/99/255 other stops. */
  exitCode: number | null;
  signal: string | null;
  localPort: number;
  /** Every message SIPp sent and received (-trace_msg). */
  messages: TracedMessage[];
  /** SIPp's error file (-trace_err): unexpected messages, failed regexps, timeouts. */
  errors: string;
  /** The tail of SIPp's screen output (statistics). */
  output: string;
  /** One line per message, for assertion messages. */
  flow: string;
}

export interface SippHandle {
  readonly name: string;
  readonly localPort: number;
  /** Resolves when SIPp exits by itself (within `timeoutMs`, then it is killed). */
  result(timeoutMs?: number): Promise<SippResult>;
  /** Kills it now and returns what it had logged. */
  stop(): Promise<SippResult>;
}

export interface ProgramOptions {
  env?: Record<string, string>;
  /** Regexp printed when the program is ready; start resolves after it appears. */
  readyPattern?: RegExp;
  readyTimeoutMs?: number;
}

export interface ProgramHandle {
  readonly name: string;
  logTail(maxChars?: number): string;
  alive(): boolean;
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  waitForExit(timeoutMs: number): Promise<{ code: number | null; signal: string | null }>;
  stop(): Promise<void>;
}

export interface Backend {
  readonly name: BackendName;
  readonly proxyImplementation: ProxyImplementation;
  readonly workDir: WorkDir;
  /** Address the test process and the programs share (loopback; containers use host networking). */
  readonly host: string;
  startProxy(opts?: ProxyOptions): Promise<RunningProxy>;
  /** Runs SIPp to completion. */
  runSipp(opts: SippOptions): Promise<SippResult>;
  /** Starts SIPp in the background (a UAS waiting for a call). */
  startSipp(opts: SippOptions): Promise<SippHandle>;
  /** Starts a program of the lab by name (see programs.ts), args as for the real binary. */
  startProgram(name: string, args: readonly string[], opts?: ProgramOptions): Promise<ProgramHandle>;
  /** Stops everything this backend started and removes its work directory. */
  close(opts?: { failed?: boolean }): Promise<void>;
}
