/**
 * What the NAT suites (nat-call.test.ts, nat-relay.test.ts) share: the topology of
 * nat-topology.ts with a work directory, the media relays, the proxy, SIPp phones and RTP
 * parties in it, and the checks on a call's media and on the relays' sessions. A suite gives what
 * differs: its work directory, the proxy's admin port, and how long its SIPp phones may run.
 *
 * The phones: A is the NATed phone (the private LAN behind the MASQUERADE router), B the public
 * phone (on the proxy's segment).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NgClient } from '@voip/rtpproxy';
import { ManagedProcess, serviceEntry, WorkDir } from '../harness/index.js';
import { waitFor } from '../rtpproxy/support.js';
import { NatTopology } from './nat-topology.js';
import type { Credentials, RtpExec } from './nat-scenarios.js';

export const DOMAIN = 'example.com';
export const ALICE: Credentials = { user: 'alice', password: 'alice-pw' };
export const BOB: Credentials = { user: 'bob', password: 'bob-pw' };
/** RTP packets each party sends (2 s at 50/s). */
export const PACKETS = 100;
/** The media ports phone A (NATed) and phone B (public) announce in their first offer/answer. */
export const MEDIA_A = 40_000;
export const MEDIA_B = 40_002;
/** Call length: the 2 s of RTP plus the parties' start-up and linger. */
export const HOLD_MS = 5_000;

const RTP_CLI = fileURLToPath(new URL('./rtp-party-cli.js', import.meta.url));

/** One relay: its ng port (on the control link) and the media ports it hands out. */
export interface RelaySpec {
  kind: 'rtp-relay' | 'rtpengine';
  ngPort: number;
  ports: readonly [number, number];
}

/** Disjoint media port ranges: the port a phone hears media from tells which relay carries the call. */
export const OUR_RELAY: RelaySpec = { kind: 'rtp-relay', ngPort: 22_222, ports: [30_000, 30_199] };
export const RTPENGINE: RelaySpec = { kind: 'rtpengine', ngPort: 22_223, ports: [30_200, 30_399] };

export interface Relay {
  spec: RelaySpec;
  ng: NgClient;
  proc: ManagedProcess;
}

/** What rtp-party-cli.ts wrote. */
export interface RtpResult {
  sent: number;
  /** Where the phone sent its media: the c=/m= of the SDP it received. */
  to: string;
  received: number;
  sources: string[];
}

export interface Binding {
  contact: string;
  received: string | null;
  expires: number;
}

export type Phone = 'A' | 'B';

export class NatLab {
  readonly net = new NatTopology();
  readonly work: WorkDir;
  private readonly adminPort: number;
  private readonly sippTimeoutS: number;

  /**
   * `sippTimeoutS`: SIPp's own `-timeout` (with `-timeout_error`, a hung phone fails); the test
   * waits 5 s longer for its exit.
   */
  constructor(name: string, o: { adminPort: number; sippTimeoutS: number }) {
    this.work = new WorkDir(name);
    this.adminPort = o.adminPort;
    this.sippTimeoutS = o.sippTimeoutS;
  }

  /** Builds the namespaces afresh; `udpTimeout` (s) is the NAT's UDP mapping lifetime. */
  up(udpTimeout: number): void {
    this.net.down();
    this.net.up(udpTimeout);
  }

  down(): void {
    this.net.down();
    this.work.cleanup();
  }

  /** The relay in the public namespace, ng on the control link; ready when ng ping is answered. */
  async startRelay(spec: RelaySpec, tag: string): Promise<Relay> {
    const { net, work } = this;
    const [min, max] = spec.ports;
    const args = spec.kind === 'rtp-relay'
      ? [process.execPath, '--enable-source-maps', serviceEntry('rtpproxy'), '--ng', `udp:${net.ctlWan}:${spec.ngPort}`, '--media-ip', net.proxyIp, '--ports', `${min}-${max}`, '--http', 'off', '--log-level', 'debug']
      : [
        // Userspace forwarding only (no kernel module here); deleted calls leave `list` at once
        // (rtpengine keeps them 30 s by default, which would hide a leak check).
        'rtpengine', '--config-file=none', '--foreground', '--log-stderr', '--log-level=6', '--table=-1',
        `--interface=${net.proxyIp}`, `--listen-ng=${net.ctlWan}:${spec.ngPort}`,
        `--port-min=${min}`, `--port-max=${max}`, '--delete-delay=0', `--pidfile=${work.file(`${tag}.pid`)}`,
      ];
    const proc = await ManagedProcess.launch({ name: tag, command: 'ip', args: ['netns', 'exec', net.ns.wan, ...args], logFile: work.file(`${tag}.log`) });
    const ng = new NgClient(net.ctlWan, spec.ngPort, { timeoutMs: 500, tries: 2 });
    await waitFor(`${tag} ng ping`, 10_000, async () => {
      try {
        return (await ng.request('ping'))['result'] === 'pong' ? true : null;
      } catch {
        return null;
      }
    });
    return { spec, ng, proc };
  }

  /** The relay's ng address as the proxy's `rtpengine.relays` lists it. */
  relayUrl(spec: RelaySpec): string {
    return `"udp:${this.net.ctlWan}:${spec.ngPort}"`;
  }

  /**
   * The proxy in the public namespace, `users` provisioned in DOMAIN, its admin API on the
   * control link; `config` is the rest of its YAML, a line each.
   */
  async startProxy(tag: string, o: { users: readonly Credentials[]; route: 'ch5' | 'provider'; config: readonly string[] }): Promise<ManagedProcess> {
    const { net, work } = this;
    const prov = work.file(`subscribers-${tag}.yaml`);
    const subscribers = o.users.map((u) => `  - { username: ${u.user}, domain: ${DOMAIN}, password: ${u.password} }\n`).join('');
    writeFileSync(prov, `domains: [${DOMAIN}]\nsubscribers:\n${subscribers}`);
    const cfg = work.file(`proxy-${tag}.yaml`);
    writeFileSync(cfg, [`admin: { listen: "${net.ctlWan}:${this.adminPort}" }`, ...o.config, ''].join('\n'));
    const proc = await ManagedProcess.launch({
      name: `proxy-${tag}`,
      command: 'ip',
      args: ['netns', 'exec', net.ns.wan, process.execPath, '--enable-source-maps', serviceEntry('proxy'), '--listen', `udp:${net.proxyIp}:5060`, '--config', cfg, '--db', `file:${prov}`, '--route', o.route, '--log-level', 'info'],
      logFile: work.file(`proxy-${tag}.log`),
    });
    await proc.waitForOutput(/sip-proxy .* listening on/, 15_000);
    return proc;
  }

  /** The namespace and address of a phone. */
  private phone(p: Phone): { ns: string; ip: string } {
    return p === 'A' ? { ns: this.net.ns.lan, ip: this.net.phoneA } : { ns: this.net.ns.wan, ip: this.net.phoneB };
  }

  /** SIPp as `phone`; `calls` undefined = runs until stopped (an answering phone); `callId` fixes the Call-ID. */
  async sipp(tag: string, phone: Phone, scenario: string, calls?: number, callId?: string): Promise<ManagedProcess> {
    const { net, work } = this;
    const { ns, ip } = this.phone(phone);
    const file = work.file(`${tag}.xml`);
    writeFileSync(file, scenario);
    return ManagedProcess.launch({
      name: tag,
      command: 'ip',
      args: [
        'netns', 'exec', ns, 'sipp', `${net.proxyIp}:5060`, '-sf', file, '-t', 'u1', '-i', ip, '-p', '5060',
        ...(calls !== undefined ? ['-m', String(calls)] : []),
        ...(callId !== undefined ? ['-cid_str', callId] : []),
        '-trace_msg', '-message_file', work.file(`${tag}-messages.log`), '-trace_err', '-error_file', work.file(`${tag}-errors.log`),
        '-nostdin', '-timeout', `${this.sippTimeoutS}s`, '-timeout_error',
      ],
      logFile: work.file(`${tag}.log`),
    });
  }

  async sippOk(proc: ManagedProcess, what: string): Promise<void> {
    const st = await proc.waitForExit((this.sippTimeoutS + 5) * 1000);
    assert.equal(st.code, 0, `${what}: SIPp exit ${st.code}\n${proc.outputTail(2000)}`);
  }

  /** The RTP party `phone` runs once its call is up, bound to `port`. */
  rtp(tag: string, phone: Phone, port: number): RtpExec {
    return { node: process.execPath, cli: RTP_CLI, bind: this.phone(phone).ip, port, count: PACKETS, out: this.work.file(`${tag}-rtp.json`) };
  }

  /** The first binding of `user`@DOMAIN, from the proxy's admin API. */
  async binding(user: string): Promise<Binding> {
    const res = await fetch(`http://${this.net.ctlWan}:${this.adminPort}/location/${user}@${DOMAIN}`);
    assert.equal(res.status, 200, `${user} is registered`);
    const body = (await res.json()) as { bindings: Binding[] };
    return body.bindings[0]!;
  }

  /**
   * Both phones heard media, only ever from `relay` (its address, a port of its range), and sent
   * theirs to the address and port the SDP they received named.
   */
  assertMediaThroughRelay(relay: RelaySpec, a: RtpResult, b: RtpResult): void {
    assert.ok(a.received >= PACKETS / 2, `the NATed phone received ${a.received} of ${PACKETS}`);
    assert.ok(b.received >= PACKETS / 2, `the public phone received ${b.received} of ${PACKETS}`);
    const [min, max] = relay.ports;
    for (const [who, r] of [['A', a], ['B', b]] as const) {
      assert.equal(r.sources.length, 1, `${who} heard one source: ${r.sources.join(', ')}`);
      const [ip, port] = r.sources[0]!.split(':');
      assert.equal(ip, this.net.proxyIp, `${who} heard the relay, not the other phone: ${r.sources[0]}`);
      assert.ok(Number(port) >= min && Number(port) <= max, `${who} heard ${relay.kind} (ports ${min}-${max}): ${r.sources[0]}`);
      assert.equal(r.to, r.sources[0], `${who} sent to where it hears the relay from`);
    }
    assert.notEqual(a.sources[0], b.sources[0], 'each side has its own relay port');
  }
}

export async function stopRelay(r: Relay | undefined): Promise<void> {
  if (r === undefined) return;
  r.ng.close();
  await r.proc.stop();
}

export async function rtpResult(r: RtpExec): Promise<RtpResult> {
  await waitFor(`RTP result ${r.out}`, 20_000, () => (existsSync(r.out) ? true : null));
  return JSON.parse(readFileSync(r.out, 'utf8').trim()) as RtpResult;
}

export async function assertNoSessionLeft(relay: Relay): Promise<void> {
  const calls = await waitFor(`${relay.spec.kind} to have no session`, 5_000, async () => {
    const l = await relay.ng.ok('list');
    const c = (l['calls'] ?? []) as unknown[];
    return c.length === 0 ? c : null;
  });
  assert.deepEqual(calls, []);
}
