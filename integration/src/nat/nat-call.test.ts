/**
 * Issue 9, NAT traversal end to end: a SIPp phone behind a MASQUERADE --random-fully NAT
 * registers with its private Contact (and a Via without rport), is called by a public SIPp phone
 * after its NAT mapping would long have expired without the proxy's keepalives, and calls the
 * public phone itself. The proxy (chapter-5 route, nathelper + rtpengine modules) anchors the
 * media on a relay; RTP flows both ways through it (each phone hears the relay's address and
 * port only) — once with our rtp-relay and once with Debian's rtpengine (userspace,
 * --table=-1). After each BYE the relay's `list` is empty.
 *
 * Topology: see nat-topology.ts. Needs root, iproute2, iptables, sipp, rtpengine.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { NgClient } from '@voip/rtpproxy';
import { ManagedProcess, serviceEntry, WorkDir } from '../harness/index.js';
import { sleep, waitFor } from '../rtpproxy/support.js';
import { NatTopology } from './nat-topology.js';
import { registerScenario, uacExpectFailureScenario, uacScenario, uasScenario, type RtpExec } from './nat-scenarios.js';

const DOMAIN = 'example.com';
const RTP_CLI = fileURLToPath(new URL('./rtp-party-cli.js', import.meta.url));
/** The NAT forgets an idle UDP mapping after this many seconds. */
const NAT_UDP_TIMEOUT = 2;
/** Proxy keepalive period (s): shorter than the NAT timeout, as a deployment sets it. */
const KEEPALIVE_INTERVAL = 1;
const NG_PORT = 22_222;
const ADMIN_PORT = 18_080;
const MEDIA_A = 40_000;
const MEDIA_B = 40_002;
const PACKETS = 100;
/** Call length: the 2 s of RTP (100 packets at 50/s) plus the parties' start-up and linger. */
const HOLD_MS = 5_000;

const net = new NatTopology();
const work = new WorkDir('nat-call');

interface RtpResult {
  sent: number;
  /** Where the phone sent its media: the c=/m= of the SDP it received. */
  to: string;
  received: number;
  sources: string[];
}

interface Relay {
  ng: NgClient;
  stop(): Promise<void>;
}

async function startOurRelay(): Promise<Relay> {
  const proc = await ManagedProcess.launch({
    name: 'rtp-relay',
    command: 'ip',
    args: [
      'netns', 'exec', net.ns.wan, process.execPath, '--enable-source-maps', serviceEntry('rtpproxy'),
      '--ng', `udp:${net.ctlWan}:${NG_PORT}`, '--media-ip', net.proxyIp, '--ports', '30000-30199', '--http', 'off', '--log-level', 'debug',
    ],
    logFile: work.file('rtp-relay.log'),
  });
  await proc.waitForOutput(/rtp-relay ready/, 10_000);
  return relayControl(proc);
}

async function startRtpengine(): Promise<Relay> {
  const proc = await ManagedProcess.launch({
    name: 'rtpengine',
    command: 'ip',
    args: [
      'netns', 'exec', net.ns.wan, 'rtpengine',
      // Userspace forwarding only (no kernel module here); deleted calls leave `list` at once
      // (rtpengine keeps them 30 s by default, which would hide a leak check).
      '--config-file=none', '--foreground', '--log-stderr', '--log-level=6', '--table=-1',
      `--interface=${net.proxyIp}`, `--listen-ng=${net.ctlWan}:${NG_PORT}`,
      '--port-min=30200', '--port-max=30399', '--delete-delay=0', `--pidfile=${work.file('rtpengine.pid')}`,
    ],
    logFile: work.file('rtpengine.log'),
  });
  return relayControl(proc);
}

/** ng from the test (root namespace) over the control link; ready when ping is answered. */
async function relayControl(proc: ManagedProcess): Promise<Relay> {
  const ng = new NgClient(net.ctlWan, NG_PORT, { timeoutMs: 500, tries: 2 });
  await waitFor('ng ping', 10_000, async () => {
    try {
      return (await ng.request('ping'))['result'] === 'pong' ? true : null;
    } catch {
      return null;
    }
  });
  return {
    ng,
    async stop() {
      ng.close();
      await proc.stop();
    },
  };
}

async function startProxy(tag: string, opts: { keepalives: boolean } = { keepalives: true }): Promise<ManagedProcess> {
  const prov = work.file(`subscribers-${tag}.yaml`);
  writeFileSync(prov, `domains: [${DOMAIN}]\nsubscribers:\n  - { username: alice, domain: ${DOMAIN}, password: alice-pw }\n`);
  const cfg = work.file(`proxy-${tag}.yaml`);
  writeFileSync(
    cfg,
    [
      `admin: { listen: "${net.ctlWan}:${ADMIN_PORT}" }`,
      opts.keepalives
        ? `nat: { keepalive: { interval: ${KEEPALIVE_INTERVAL}, maxMisses: 5 } }`
        : 'nat: { keepalive: { interval: 0 }, udpMaxExpires: 60 }\ntimers: { t1: 100 }',
      opts.keepalives ? `rtpengine: { relays: ["udp:${net.ctlWan}:${NG_PORT}"], pingInterval: 2 }` : '',
      '',
    ].join('\n'),
  );
  const proc = await ManagedProcess.launch({
    name: `proxy-${tag}`,
    command: 'ip',
    args: ['netns', 'exec', net.ns.wan, process.execPath, '--enable-source-maps', serviceEntry('proxy'), '--listen', `udp:${net.proxyIp}:5060`, '--config', cfg, '--db', `file:${prov}`, '--route', 'ch5', '--log-level', 'info'],
    logFile: work.file(`proxy-${tag}.log`),
  });
  await proc.waitForOutput(/sip-proxy .* listening on/, 15_000);
  return proc;
}

/** SIPp inside a namespace; `calls` undefined = runs until stopped (an answering phone). */
async function sipp(tag: string, ns: string, localIp: string, scenario: string, calls?: number): Promise<ManagedProcess> {
  const file = work.file(`${tag}.xml`);
  writeFileSync(file, scenario);
  return ManagedProcess.launch({
    name: tag,
    command: 'ip',
    args: [
      'netns', 'exec', ns, 'sipp', `${net.proxyIp}:5060`, '-sf', file, '-t', 'u1', '-i', localIp, '-p', '5060',
      ...(calls !== undefined ? ['-m', String(calls)] : []),
      '-trace_msg', '-message_file', work.file(`${tag}-messages.log`), '-trace_err', '-error_file', work.file(`${tag}-errors.log`),
      '-nostdin', '-timeout', '40s', '-timeout_error',
    ],
    logFile: work.file(`${tag}.log`),
  });
}

async function sippOk(proc: ManagedProcess, what: string): Promise<void> {
  const st = await proc.waitForExit(45_000);
  assert.equal(st.code, 0, `${what}: SIPp exit ${st.code}\n${proc.outputTail(2000)}`);
}

function rtp(tag: string, bind: string, port: number): RtpExec {
  return { node: process.execPath, cli: RTP_CLI, bind, port, count: PACKETS, out: work.file(`${tag}-rtp.json`) };
}

async function rtpResult(r: RtpExec): Promise<RtpResult> {
  await waitFor(`RTP result ${r.out}`, 20_000, () => (existsSync(r.out) ? true : null));
  return JSON.parse(readFileSync(r.out, 'utf8').trim()) as RtpResult;
}

async function binding(): Promise<{ contact: string; received: string | null; expires: number }> {
  const res = await fetch(`http://${net.ctlWan}:${ADMIN_PORT}/location/alice@${DOMAIN}`);
  assert.equal(res.status, 200, 'alice is registered');
  const body = (await res.json()) as { bindings: { contact: string; received: string | null; expires: number }[] };
  return body.bindings[0]!;
}

/** Both phones heard media, only ever from the relay, and sent theirs to it. */
function assertMediaThroughRelay(a: RtpResult, b: RtpResult): void {
  assert.ok(a.received >= PACKETS / 2, `the NATed phone received ${a.received} of ${PACKETS}`);
  assert.ok(b.received >= PACKETS / 2, `the public phone received ${b.received} of ${PACKETS}`);
  for (const [who, r] of [['A', a], ['B', b]] as const) {
    assert.equal(r.sources.length, 1, `${who} heard one source: ${r.sources.join(', ')}`);
    assert.ok(r.sources[0]!.startsWith(`${net.proxyIp}:`), `${who} heard the relay, not the other phone: ${r.sources[0]}`);
  }
  assert.notEqual(a.sources[0], b.sources[0], 'each side has its own relay port');
  // Each phone was told (SDP) to send to the relay, and hears the relay from that same port.
  assert.equal(a.to, a.sources[0]);
  assert.equal(b.to, b.sources[0]);
}

async function assertNoSessionLeft(ng: NgClient): Promise<void> {
  const calls = await waitFor('the relay to have no session', 5_000, async () => {
    const l = await ng.ok('list');
    const c = (l['calls'] ?? []) as unknown[];
    return c.length === 0 ? c : null;
  });
  assert.deepEqual(calls, []);
}

before(() => {
  net.down();
  net.up(NAT_UDP_TIMEOUT);
});

after(() => {
  net.down();
  work.cleanup();
});

for (const kind of ['rtp-relay', 'rtpengine'] as const) {
  describe(`phone behind NAT through the proxy, media on ${kind}`, () => {
    let relay: Relay;
    let proxy: ManagedProcess;
    let sippA: ManagedProcess | null = null;
    let sippB: ManagedProcess | null = null;

    before(async () => {
      relay = kind === 'rtp-relay' ? await startOurRelay() : await startRtpengine();
      proxy = await startProxy(kind);
    });

    after(async () => {
      await sippA?.stop();
      await sippB?.stop();
      await proxy?.stop();
      await relay?.stop();
    });

    it('REGISTER keeps the private Contact and stores the NAT binding as received', async () => {
      await sippOk(await sipp(`${kind}-register`, net.ns.lan, net.phoneA, registerScenario('alice', 'alice-pw', DOMAIN), 1), 'REGISTER');
      const b = await binding();
      assert.equal(b.contact, `sip:alice@${net.phoneA}:5060`);
      const m = /^sip:203\.0\.113\.2:(\d+);transport=udp$/.exec(b.received ?? '');
      assert.ok(m, `received is the NAT's public address: ${b.received}`);
      assert.notEqual(Number(m[1]), 5060, 'the NAT chose another port (MASQUERADE --random-fully)');
    });

    it('the public phone reaches the NATed phone after its mapping would have expired; RTP both ways via the relay', async () => {
      const rtpA = rtp(`${kind}-a-uas`, net.phoneA, MEDIA_A);
      sippA = await sipp(`${kind}-a-uas`, net.ns.lan, net.phoneA, uasScenario('alice', MEDIA_A, rtpA));
      const before = (await binding()).received;
      // Three NAT timeouts of silence from the phone: only the proxy's keepalives keep the mapping.
      assert.equal(net.udpTimeout(), NAT_UDP_TIMEOUT);
      await sleep(3 * NAT_UDP_TIMEOUT * 1000 + 500);
      assert.equal((await binding()).received, before, 'the binding survived (keepalives answered)');
      const rtpB = rtp(`${kind}-b-uac`, net.phoneB, MEDIA_B);
      await sippOk(await sipp(`${kind}-b-uac`, net.ns.wan, net.phoneB, uacScenario({ from: 'sip:bob@elsewhere.example.net', to: `sip:alice@${DOMAIN}`, mediaPort: MEDIA_B, holdMs: HOLD_MS, rtp: rtpB }), 1), 'call to the NATed phone');
      const [a, b] = [await rtpResult(rtpA), await rtpResult(rtpB)];
      assertMediaThroughRelay(a, b);
      await assertNoSessionLeft(relay.ng);
      await sippA.stop();
      sippA = null;
    });

    it('the NATed phone calls the public phone; RTP both ways via the relay', async () => {
      const rtpB = rtp(`${kind}-b-uas`, net.phoneB, MEDIA_B);
      sippB = await sipp(`${kind}-b-uas`, net.ns.wan, net.phoneB, uasScenario('bob', MEDIA_B, rtpB));
      const rtpA = rtp(`${kind}-a-uac`, net.phoneA, MEDIA_A);
      const scenario = uacScenario({ from: `sip:alice@${DOMAIN}`, to: `sip:bob@${net.phoneB}:5060`, mediaPort: MEDIA_A, holdMs: HOLD_MS, rtp: rtpA, auth: { user: 'alice', password: 'alice-pw' } });
      await sippOk(await sipp(`${kind}-a-uac`, net.ns.lan, net.phoneA, scenario, 1), 'call from the NATed phone');
      const [a, b] = [await rtpResult(rtpA), await rtpResult(rtpB)];
      assertMediaThroughRelay(a, b);
      await assertNoSessionLeft(relay.ng);
      await sippB.stop();
      sippB = null;
    });
  });
}

describe('control: the same NATed phone without proxy keepalives', () => {
  let proxy: ManagedProcess;
  let sippA: ManagedProcess | null = null;

  before(async () => {
    proxy = await startProxy('no-keepalive', { keepalives: false });
  });

  after(async () => {
    await sippA?.stop();
    await proxy?.stop();
  });

  it('gets a short Expires, and is unreachable once its NAT mapping expired (timeout, not the phone)', async () => {
    await sippOk(await sipp('nk-register', net.ns.lan, net.phoneA, registerScenario('alice', 'alice-pw', DOMAIN), 1), 'REGISTER');
    const b = await binding();
    assert.ok(b.received !== null && b.expires <= 60, `NATed UDP binding capped at 60 s: ${b.expires}`);
    sippA = await sipp('nk-a-uas', net.ns.lan, net.phoneA, uasScenario('alice', MEDIA_A, rtp('nk-a-uas', net.phoneA, MEDIA_A)));
    await sleep(3 * NAT_UDP_TIMEOUT * 1000 + 500);
    // The NAT dropped the mapping: the INVITE to `received` dies at the NAT, Timer B → 408.
    const scenario = uacExpectFailureScenario({ from: 'sip:bob@elsewhere.example.net', to: `sip:alice@${DOMAIN}`, status: 408 });
    await sippOk(await sipp('nk-b-uac', net.ns.wan, net.phoneB, scenario, 1), 'call to the NATed phone without keepalives');
  });
});
