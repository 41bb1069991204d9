/**
 * Issue 9, the media relay in the calls nat-call.test.ts does not make: a NATed SIPp phone
 * (behind the MASQUERADE --random-fully router of nat-topology.ts) calls a public SIPp phone
 * through the proxy (chapter-5 route, nathelper + rtpengine modules) with real relays.
 *
 *   relay set failover   A ──INVITE──▶ proxy ──offer──▶ rtp-relay   (killed: no answer, marked down)
 *                                            └─offer──▶ rtpengine   (answers: media anchored there)
 *   no answer            A ──INVITE──▶ proxy ──offer──▶ relay, B 180, A CANCEL → 487 / B 486 → delete
 *   new offer            A ──re-INVITE (new port)──▶ B 200 (new port): RTP both ways via the relay again
 *
 * Each relay has its own media port range, so the ports each phone hears prove which relay
 * carries the call; after every call the relay's ng `list` is empty (no leaked session).
 *
 * Topology: see nat-topology.ts. Needs root, iproute2, iptables, sipp, rtpengine.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { NgClient } from '@voip/rtpproxy';
import { ManagedProcess, serviceEntry, WorkDir } from '../harness/index.js';
import { waitFor } from '../rtpproxy/support.js';
import { NatTopology } from './nat-topology.js';
import { registerScenario, uacScenario, uacUnansweredScenario, uasScenario, uasUnansweredScenario, type RtpExec } from './nat-scenarios.js';

const DOMAIN = 'example.com';
const RTP_CLI = fileURLToPath(new URL('./rtp-party-cli.js', import.meta.url));
/**
 * The NAT's UDP mapping lifetime (s). Keepalives are nat-call.test.ts's subject; here the
 * caller's SIP mapping must simply outlive a call (the callee's in-dialog requests use it).
 */
const NAT_UDP_TIMEOUT = 60;
const ADMIN_PORT = 18_081;
const MEDIA_A = 40_000;
const MEDIA_B = 40_002;
const MEDIA_A2 = 40_010;
const MEDIA_B2 = 40_012;
const PACKETS = 100;
const HOLD_MS = 5_000;
const ALICE = { user: 'alice', password: 'alice-pw' };
const BOB = { user: 'bob', password: 'bob-pw' };

/** One relay: its ng port (on the control link) and the media ports it hands out. */
interface RelaySpec {
  kind: 'rtp-relay' | 'rtpengine';
  ngPort: number;
  ports: readonly [number, number];
}

const OUR_RELAY: RelaySpec = { kind: 'rtp-relay', ngPort: 22_222, ports: [30_000, 30_199] };
const RTPENGINE: RelaySpec = { kind: 'rtpengine', ngPort: 22_223, ports: [30_200, 30_399] };

const net = new NatTopology();
const work = new WorkDir('nat-relay');

interface RtpResult {
  sent: number;
  to: string;
  received: number;
  sources: string[];
}

interface Relay {
  spec: RelaySpec;
  ng: NgClient;
  proc: ManagedProcess;
}

async function startRelay(spec: RelaySpec, tag: string): Promise<Relay> {
  const [min, max] = spec.ports;
  const args = spec.kind === 'rtp-relay'
    ? [process.execPath, '--enable-source-maps', serviceEntry('rtpproxy'), '--ng', `udp:${net.ctlWan}:${spec.ngPort}`, '--media-ip', net.proxyIp, '--ports', `${min}-${max}`, '--http', 'off', '--log-level', 'debug']
    : [
      // Userspace forwarding, and deleted calls leave `list` at once (see nat-call.test.ts).
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

async function stopRelay(r: Relay | undefined): Promise<void> {
  if (r === undefined) return;
  r.ng.close();
  await r.proc.stop();
}

/**
 * The proxy with the relays in this order. No ng ping (pingInterval 0): only an unanswered
 * offer marks a relay down, so the failover is the one the offer path makes.
 */
async function startProxy(tag: string, relays: readonly RelaySpec[], route: 'ch5' | 'provider' = 'ch5'): Promise<ManagedProcess> {
  const prov = work.file(`subscribers-${tag}.yaml`);
  const subscribers = [ALICE, BOB].map((u) => `  - { username: ${u.user}, domain: ${DOMAIN}, password: ${u.password} }\n`).join('');
  writeFileSync(prov, `domains: [${DOMAIN}]\nsubscribers:\n${subscribers}`);
  const cfg = work.file(`proxy-${tag}.yaml`);
  const urls = relays.map((r) => `"udp:${net.ctlWan}:${r.ngPort}"`).join(', ');
  writeFileSync(cfg, [
    `admin: { listen: "${net.ctlWan}:${ADMIN_PORT}" }`,
    'nat: { keepalive: { interval: 0 }, udpMaxExpires: 60 }',
    `rtpengine: { relays: [${urls}], pingInterval: 0, timeout: 300, tries: 2 }`,
    // SIPp answers MD5 challenges only; the overload guard is not under test (a fresh start's
    // event-loop delay could trip its 503), as in the provider suite's proxy.
    ...(route === 'provider' ? ['auth: { algorithms: [MD5] }', 'overload: { enabled: false }'] : []),
    '',
  ].join('\n'));
  const proc = await ManagedProcess.launch({
    name: `proxy-${tag}`,
    command: 'ip',
    args: ['netns', 'exec', net.ns.wan, process.execPath, '--enable-source-maps', serviceEntry('proxy'), '--listen', `udp:${net.proxyIp}:5060`, '--config', cfg, '--db', `file:${prov}`, '--route', route, '--log-level', 'info'],
    logFile: work.file(`proxy-${tag}.log`),
  });
  await proc.waitForOutput(/sip-proxy .* listening on/, 15_000);
  return proc;
}

/** SIPp inside a namespace; `calls` undefined = runs until stopped; `callId` fixes the Call-ID. */
async function sipp(tag: string, ns: string, localIp: string, scenario: string, calls?: number, callId?: string): Promise<ManagedProcess> {
  const file = work.file(`${tag}.xml`);
  writeFileSync(file, scenario);
  return ManagedProcess.launch({
    name: tag,
    command: 'ip',
    args: [
      'netns', 'exec', ns, 'sipp', `${net.proxyIp}:5060`, '-sf', file, '-t', 'u1', '-i', localIp, '-p', '5060',
      ...(calls !== undefined ? ['-m', String(calls)] : []),
      ...(callId !== undefined ? ['-cid_str', callId] : []),
      '-trace_msg', '-message_file', work.file(`${tag}-messages.log`), '-trace_err', '-error_file', work.file(`${tag}-errors.log`),
      '-nostdin', '-timeout', '60s', '-timeout_error',
    ],
    logFile: work.file(`${tag}.log`),
  });
}

async function sippOk(proc: ManagedProcess, what: string): Promise<void> {
  const st = await proc.waitForExit(65_000);
  assert.equal(st.code, 0, `${what}: SIPp exit ${st.code}\n${proc.outputTail(2000)}`);
}

function rtp(tag: string, bind: string, port: number): RtpExec {
  return { node: process.execPath, cli: RTP_CLI, bind, port, count: PACKETS, out: work.file(`${tag}-rtp.json`) };
}

async function rtpResult(r: RtpExec): Promise<RtpResult> {
  await waitFor(`RTP result ${r.out}`, 20_000, () => (existsSync(r.out) ? true : null));
  return JSON.parse(readFileSync(r.out, 'utf8').trim()) as RtpResult;
}

/**
 * Both phones heard media, only ever from `relay` (its address, a port of its range), and sent
 * theirs to the address and port the SDP they received named.
 */
function assertMediaThroughRelay(relay: RelaySpec, a: RtpResult, b: RtpResult): void {
  assert.ok(a.received >= PACKETS / 2, `the NATed phone received ${a.received} of ${PACKETS}`);
  assert.ok(b.received >= PACKETS / 2, `the public phone received ${b.received} of ${PACKETS}`);
  const [min, max] = relay.ports;
  for (const [who, r] of [['A', a], ['B', b]] as const) {
    assert.equal(r.sources.length, 1, `${who} heard one source: ${r.sources.join(', ')}`);
    const [ip, port] = r.sources[0]!.split(':');
    assert.equal(ip, net.proxyIp, `${who} heard the relay, not the other phone: ${r.sources[0]}`);
    assert.ok(Number(port) >= min && Number(port) <= max, `${who} heard ${relay.kind} (ports ${min}-${max}): ${r.sources[0]}`);
    assert.equal(r.to, r.sources[0], `${who} sent to where it hears the relay from`);
  }
  assert.notEqual(a.sources[0], b.sources[0], 'each side has its own relay port');
}

async function binding(user: string): Promise<{ contact: string; received: string | null; expires: number }> {
  const res = await fetch(`http://${net.ctlWan}:${ADMIN_PORT}/location/${user}@${DOMAIN}`);
  assert.equal(res.status, 200, `${user} is registered`);
  const body = (await res.json()) as { bindings: { contact: string; received: string | null; expires: number }[] };
  return body.bindings[0]!;
}

async function sessions(relay: Relay): Promise<unknown[]> {
  return ((await relay.ng.ok('list'))['calls'] ?? []) as unknown[];
}

async function assertNoSessionLeft(relay: Relay): Promise<void> {
  const calls = await waitFor(`${relay.spec.kind} to have no session`, 5_000, async () => {
    const c = await sessions(relay);
    return c.length === 0 ? c : null;
  });
  assert.deepEqual(calls, []);
}

/** The proxy's relay-set hash (32-bit FNV-1a over UTF-16 units, services/proxy/src/util/fnv.ts). */
function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * A SIPp `-cid_str` whose first call's Call-ID (%u = 1) the relay set of `n` relays tries on
 * relay `index` first, so the test knows where the offer goes before failover.
 */
function callIdFor(prefix: string, index: number, n: number): string {
  for (let i = 0; ; i++) {
    if (fnv1a32(`${prefix}-${i}-1@nat.test`) % n === index) return `${prefix}-${i}-%u@nat.test`;
  }
}

before(() => {
  net.down();
  net.up(NAT_UDP_TIMEOUT);
});

after(() => {
  net.down();
  work.cleanup();
});

describe('relay set failover: rtp-relay first, rtpengine second', () => {
  let first: Relay | undefined;
  let second: Relay | undefined;
  let proxy: ManagedProcess;
  let sippB: ManagedProcess | null = null;

  before(async () => {
    first = await startRelay(OUR_RELAY, 'fo-rtp-relay');
    second = await startRelay(RTPENGINE, 'fo-rtpengine');
    proxy = await startProxy('failover', [OUR_RELAY, RTPENGINE]);
  });

  after(async () => {
    await sippB?.stop();
    await proxy?.stop();
    await stopRelay(first);
    await stopRelay(second);
  });

  async function call(tag: string, callId: string): Promise<[RtpResult, RtpResult]> {
    const rtpB = rtp(`${tag}-b`, net.phoneB, MEDIA_B);
    sippB = await sipp(`${tag}-b`, net.ns.wan, net.phoneB, uasScenario('bob', MEDIA_B, rtpB), 1);
    const rtpA = rtp(`${tag}-a`, net.phoneA, MEDIA_A);
    const scenario = uacScenario({ from: `sip:alice@${DOMAIN}`, to: `sip:bob@${net.phoneB}:5060`, mediaPort: MEDIA_A, holdMs: HOLD_MS, rtp: rtpA, auth: ALICE });
    await sippOk(await sipp(`${tag}-a`, net.ns.lan, net.phoneA, scenario, 1, callId), `${tag}: call from the NATed phone`);
    const res: [RtpResult, RtpResult] = [await rtpResult(rtpA), await rtpResult(rtpB)];
    await sippOk(sippB, `${tag}: the called phone`);
    sippB = null;
    return res;
  }

  it('both relays up: a call whose Call-ID hashes to rtp-relay is anchored there; BYE leaves no session', async () => {
    const [a, b] = await call('fo-up', callIdFor('fo-up', 0, 2));
    assertMediaThroughRelay(OUR_RELAY, a, b);
    await assertNoSessionLeft(first!);
    await assertNoSessionLeft(second!);
  });

  it('rtp-relay killed: the next call with such a Call-ID fails over to rtpengine; BYE leaves no session', async () => {
    // A crash, not a shutdown: the ng socket just stops answering.
    first!.proc.killGroup('SIGKILL');
    await first!.proc.waitForExit(5_000);
    const cid = callIdFor('fo-down', 0, 2);
    const [a, b] = await call('fo-down', cid);
    assertMediaThroughRelay(RTPENGINE, a, b);
    // The offer went to rtp-relay first (the hash) and timed out before rtpengine took it.
    const logged = `"callId":"${cid.replace('%u', '1')}"`;
    await proxy.waitForOutput(new RegExp(`${logged.replaceAll('.', '\\.')}[^\\n]*ng offer timed out; trying the next relay`), 1_000);
    await assertNoSessionLeft(second!);
  });
});

for (const spec of [OUR_RELAY, RTPENGINE]) {
  describe(`calls that are not answered, and a new offer, on ${spec.kind}`, () => {
    let relay: Relay | undefined;
    let proxy: ManagedProcess;
    let sippB: ManagedProcess | null = null;

    before(async () => {
      relay = await startRelay(spec, spec.kind);
      proxy = await startProxy(spec.kind, [spec]);
    });

    after(async () => {
      await sippB?.stop();
      await proxy?.stop();
      await stopRelay(relay);
    });

    for (const end of ['cancel', 486] as const) {
      const what = end === 'cancel' ? 'CANCELled while ringing (487)' : 'rejected with 486 Busy Here';
      it(`the NATed phone's call ${what}: the offer was anchored, the relay lists no session afterwards`, async () => {
        const tag = `${spec.kind}-${end}`;
        // The callee's scenario fails unless the offer it gets names the relay's address.
        sippB = await sipp(`${tag}-b`, net.ns.wan, net.phoneB, uasUnansweredScenario({ user: 'bob', relayIp: net.proxyIp, end }), 1);
        const scenario = uacUnansweredScenario({ from: `sip:alice@${DOMAIN}`, to: `sip:bob@${net.phoneB}:5060`, auth: ALICE, end });
        await sippOk(await sipp(`${tag}-a`, net.ns.lan, net.phoneA, scenario, 1), `${tag}: the caller`);
        await sippOk(sippB, `${tag}: the callee`);
        sippB = null;
        await assertNoSessionLeft(relay!);
      });
    }

    it('a re-INVITE with new ports from the NATed phone: RTP both ways via the relay before and after it', async () => {
      const tag = `${spec.kind}-reinvite`;
      const [rtpB1, rtpB2] = [rtp(`${tag}-b1`, net.phoneB, MEDIA_B), rtp(`${tag}-b2`, net.phoneB, MEDIA_B2)];
      sippB = await sipp(`${tag}-b`, net.ns.wan, net.phoneB, uasScenario('bob', MEDIA_B, rtpB1, { mediaPort: MEDIA_B2, rtp: rtpB2 }), 1);
      const [rtpA1, rtpA2] = [rtp(`${tag}-a1`, net.phoneA, MEDIA_A), rtp(`${tag}-a2`, net.phoneA, MEDIA_A2)];
      const scenario = uacScenario({
        from: `sip:alice@${DOMAIN}`, to: `sip:bob@${net.phoneB}:5060`, mediaPort: MEDIA_A, holdMs: HOLD_MS, rtp: rtpA1, auth: ALICE,
        reoffer: { mediaPort: MEDIA_A2, rtp: rtpA2 },
      });
      await sippOk(await sipp(`${tag}-a`, net.ns.lan, net.phoneA, scenario, 1), `${tag}: the caller`);
      await sippOk(sippB, `${tag}: the callee`);
      sippB = null;
      assertMediaThroughRelay(spec, await rtpResult(rtpA1), await rtpResult(rtpB1));
      assertMediaThroughRelay(spec, await rtpResult(rtpA2), await rtpResult(rtpB2));
      await assertNoSessionLeft(relay!);
    });
  });
}

describe('the provider route with the NATed phone, media on rtp-relay', () => {
  let relay: Relay | undefined;
  let proxy: ManagedProcess;
  let sippA: ManagedProcess | null = null;
  let sippB: ManagedProcess | null = null;

  before(async () => {
    relay = await startRelay(OUR_RELAY, 'provider-rtp-relay');
    proxy = await startProxy('provider', [OUR_RELAY], 'provider');
  });

  after(async () => {
    await sippA?.stop();
    await sippB?.stop();
    await proxy?.stop();
    await stopRelay(relay);
  });

  it('route[2]: REGISTER from behind the NAT stores the NAT binding as received', async () => {
    await sippOk(await sipp('prov-a-register', net.ns.lan, net.phoneA, registerScenario(ALICE.user, ALICE.password, DOMAIN), 1), 'REGISTER alice');
    const b = await binding(ALICE.user);
    assert.equal(b.contact, `sip:alice@${net.phoneA}:5060`);
    assert.match(b.received ?? '', /^sip:203\.0\.113\.2:\d+;transport=udp$/, 'received is the NAT\'s public address');
    assert.ok(b.expires <= 60, `NATed UDP binding without keepalives capped at 60 s: ${b.expires}`);
  });

  it('route[12]: a foreign caller reaches the NATed phone at its NAT binding; RTP both ways via the relay', async () => {
    const rtpA = rtp('prov-a-uas', net.phoneA, MEDIA_A);
    sippA = await sipp('prov-a-uas', net.ns.lan, net.phoneA, uasScenario(ALICE.user, MEDIA_A, rtpA), 1);
    const rtpB = rtp('prov-b-uac', net.phoneB, MEDIA_B);
    await sippOk(await sipp('prov-b-uac', net.ns.wan, net.phoneB, uacScenario({ from: 'sip:bob@elsewhere.example.net', to: `sip:alice@${DOMAIN}`, mediaPort: MEDIA_B, holdMs: HOLD_MS, rtp: rtpB }), 1), 'call to the NATed phone');
    await sippOk(sippA, 'the NATed phone answering');
    sippA = null;
    assertMediaThroughRelay(OUR_RELAY, await rtpResult(rtpA), await rtpResult(rtpB));
    await assertNoSessionLeft(relay!);
  });

  it('route[10]: the NATed phone calls a registered local user; RTP both ways via the relay', async () => {
    await sippOk(await sipp('prov-b-register', net.ns.wan, net.phoneB, registerScenario(BOB.user, BOB.password, DOMAIN), 1), 'REGISTER bob');
    assert.equal((await binding(BOB.user)).received, null, 'the public phone is not NATed');
    const rtpB = rtp('prov-b-uas', net.phoneB, MEDIA_B);
    sippB = await sipp('prov-b-uas', net.ns.wan, net.phoneB, uasScenario(BOB.user, MEDIA_B, rtpB), 1);
    const rtpA = rtp('prov-a-uac', net.phoneA, MEDIA_A);
    const scenario = uacScenario({ from: `sip:alice@${DOMAIN}`, to: `sip:bob@${DOMAIN}`, mediaPort: MEDIA_A, holdMs: HOLD_MS, rtp: rtpA, auth: ALICE });
    await sippOk(await sipp('prov-a-uac', net.ns.lan, net.phoneA, scenario, 1), 'call from the NATed phone');
    await sippOk(sippB, 'the local user answering');
    sippB = null;
    assertMediaThroughRelay(OUR_RELAY, await rtpResult(rtpA), await rtpResult(rtpB));
    await assertNoSessionLeft(relay!);
  });
});
