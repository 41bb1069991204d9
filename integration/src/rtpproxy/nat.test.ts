/**
 * The NAT case the relay exists for (RFC 7362 §2): a phone behind a NAT that maps each
 * outgoing flow to a random public port (iptables MASQUERADE --random-fully) announces its
 * private address in SDP. Without a relay, the public party's media cannot reach it (one-way
 * audio); through rtp-relay, symmetric latching sends media back to the NAT binding and
 * both directions flow.
 *
 * Topology, all in namespaces this test creates (the root namespace only gets a /30 control
 * link to reach the relay's ng socket; no namespace has a default route to the outside):
 *
 *   [lan] 10.231.K.2 --veth-- 10.231.K.1 [nat] 198.51.100.2 --veth-- 198.51.100.1 (relay)
 *          phone A                MASQUERADE                         198.51.100.3 (phone B) [wan]
 *                                                                     169.254.K.2 --veth-- 169.254.K.1 [root: test, ng]
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { WorkDir } from '../harness/index.js';
import { anchorOf, rtpStreamOf, sdpBody, startRelay, type RunningRelay } from './support.js';

const CLI = fileURLToPath(new URL('./rtp-endpoint-cli.js', import.meta.url));
const sfx = randomBytes(3).toString('hex');
const K = 1 + Math.floor(Math.random() * 250);
const NS = { lan: `rtpit-${sfx}-lan`, nat: `rtpit-${sfx}-nat`, wan: `rtpit-${sfx}-wan` };
const LAN_A = `10.231.${K}.2`;
const LAN_GW = `10.231.${K}.1`;
const NAT_PUBLIC = '198.51.100.2';
const RELAY_IP = '198.51.100.1';
const PHONE_B = '198.51.100.3';
const CTL_ROOT = `169.254.${K}.1`;
const CTL_WAN = `169.254.${K}.2`;
const PORT_A = 40_000;
const PORT_B = 40_002;

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function inNs(ns: string, cmd: string, ...args: string[]): void {
  execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
}

function setUpTopology(): void {
  for (const ns of Object.values(NS)) {
    ip('netns', 'add', ns);
    inNs(ns, 'ip', 'link', 'set', 'lo', 'up');
  }
  // lan <-> nat
  ip('link', 'add', `la${sfx}`, 'netns', NS.lan, 'type', 'veth', 'peer', 'name', `nl${sfx}`, 'netns', NS.nat);
  inNs(NS.lan, 'ip', 'addr', 'add', `${LAN_A}/24`, 'dev', `la${sfx}`);
  inNs(NS.lan, 'ip', 'link', 'set', `la${sfx}`, 'up');
  inNs(NS.lan, 'ip', 'route', 'add', 'default', 'via', LAN_GW);
  inNs(NS.nat, 'ip', 'addr', 'add', `${LAN_GW}/24`, 'dev', `nl${sfx}`);
  inNs(NS.nat, 'ip', 'link', 'set', `nl${sfx}`, 'up');
  // nat <-> wan
  ip('link', 'add', `nw${sfx}`, 'netns', NS.nat, 'type', 'veth', 'peer', 'name', `wn${sfx}`, 'netns', NS.wan);
  inNs(NS.nat, 'ip', 'addr', 'add', `${NAT_PUBLIC}/24`, 'dev', `nw${sfx}`);
  inNs(NS.nat, 'ip', 'link', 'set', `nw${sfx}`, 'up');
  inNs(NS.wan, 'ip', 'addr', 'add', `${RELAY_IP}/24`, 'dev', `wn${sfx}`);
  inNs(NS.wan, 'ip', 'addr', 'add', `${PHONE_B}/24`, 'dev', `wn${sfx}`);
  inNs(NS.wan, 'ip', 'link', 'set', `wn${sfx}`, 'up');
  // The NAT: forward lan -> wan, rewrite the source to the public address with a random port.
  inNs(NS.nat, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
  inNs(NS.nat, 'iptables', '-t', 'nat', '-A', 'POSTROUTING', '-o', `nw${sfx}`, '-j', 'MASQUERADE', '--random-fully');
  // Control link root <-> wan for ng only.
  ip('link', 'add', `rc${sfx}`, 'type', 'veth', 'peer', 'name', `wc${sfx}`, 'netns', NS.wan);
  ip('addr', 'add', `${CTL_ROOT}/30`, 'dev', `rc${sfx}`);
  ip('link', 'set', `rc${sfx}`, 'up');
  inNs(NS.wan, 'ip', 'addr', 'add', `${CTL_WAN}/30`, 'dev', `wc${sfx}`);
  inNs(NS.wan, 'ip', 'link', 'set', `wc${sfx}`, 'up');
}

function tearDownTopology(): void {
  // Deleting a namespace removes its veth ends, and with them their peers.
  for (const ns of Object.values(NS)) {
    try {
      ip('netns', 'del', ns);
    } catch {
      // not created
    }
  }
  try {
    ip('link', 'del', `rc${sfx}`);
  } catch {
    // gone with the wan namespace
  }
}

interface EndpointResult {
  sent: number;
  received: number;
  sources: string[];
}

interface PhoneSpec {
  ns: string;
  bind: string;
  port: number;
  to: string;
  toPort: number;
  count: number;
  expect?: number;
}

/** One RTP party in its namespace: `ready` once bound, `go()` starts its stream. */
function startPhone(p: PhoneSpec): { ready: Promise<void>; go: () => void; result: Promise<EndpointResult> } {
  const args = JSON.stringify({ bind: p.bind, port: p.port, to: p.to, toPort: p.toPort, count: p.count, lingerMs: 500, expect: p.expect });
  const child = spawn('ip', ['netns', 'exec', p.ns, process.execPath, CLI, args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  let out = '';
  let err = '';
  let signalReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    signalReady = resolve;
  });
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.startsWith('ready\n')) signalReady();
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const result = new Promise<EndpointResult>((resolve, reject) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`RTP party in ${p.ns} exited ${code}: ${err}`));
      else resolve(JSON.parse(out.slice('ready\n'.length).trim()) as EndpointResult);
    });
  });
  // A party that dies before it is bound must not leave the other waiting for `ready`.
  void result.catch(() => signalReady());
  return { ready, go: () => child.stdin.end('go\n'), result };
}

/**
 * Two parties of a call: both bind first, then both stream (their start-up in separate
 * processes would otherwise decide how many of the first packets find no socket yet).
 */
async function phones(a: PhoneSpec, b: PhoneSpec): Promise<[EndpointResult, EndpointResult]> {
  const pa = startPhone(a);
  const pb = startPhone(b);
  await Promise.all([pa.ready, pb.ready]);
  pa.go();
  pb.go();
  return Promise.all([pa.result, pb.result]);
}

const work = new WorkDir('rtpproxy-nat');
let relay: RunningRelay | null = null;

describe('phone behind NAT (network namespaces + MASQUERADE)', () => {
  before(async () => {
    tearDownTopology();
    setUpTopology();
    relay = await startRelay(work, 'rtp-relay-nat', {
      netns: NS.wan,
      ngHost: CTL_WAN,
      mediaIp: [RELAY_IP],
      ports: [30_000, 30_199],
    });
  });

  after(async () => {
    await relay?.stop();
    tearDownTopology();
    work.cleanup();
  });

  it('without the relay, media reaches the public phone but never the NATed one (one-way audio)', async () => {
    const [a, b] = await phones(
      { ns: NS.lan, bind: LAN_A, port: PORT_A, to: PHONE_B, toPort: PORT_B, count: 50 },
      { ns: NS.wan, bind: PHONE_B, port: PORT_B, to: LAN_A, toPort: PORT_A, count: 50 }, // B follows A's SDP: a private address
    );
    assert.ok(b.received > 0, 'A -> B passes the NAT outbound');
    assert.ok(b.sources.every((s) => s.startsWith(`${NAT_PUBLIC}:`)), `B sees the NAT, not A: ${b.sources.join(',')}`);
    assert.equal(a.received, 0, 'B -> A never arrives');
  });

  it('through rtp-relay, media flows both ways and A is latched at its NAT binding', async () => {
    const ng = relay!.ng;
    const offer = await ng.ok('offer', {
      'call-id': 'nat-1', 'from-tag': 'A', sdp: sdpBody(LAN_A, PORT_A),
      replace: ['origin', 'session-connection'], flags: ['trust-address'], 'received-from': ['IP4', NAT_PUBLIC],
    });
    const answer = await ng.ok('answer', {
      'call-id': 'nat-1', 'from-tag': 'A', 'to-tag': 'B', sdp: sdpBody(PHONE_B, PORT_B),
      replace: ['origin', 'session-connection'], flags: ['trust-address'],
    });
    const toB = anchorOf(String(offer['sdp']));
    const toA = anchorOf(String(answer['sdp']));
    assert.equal(toA.address, RELAY_IP);
    assert.ok(!String(offer['sdp']).includes(LAN_A), 'the private address never reaches B');
    const [a, b] = await phones(
      { ns: NS.lan, bind: LAN_A, port: PORT_A, to: toA.address, toPort: toA.port, count: 100, expect: 50 },
      { ns: NS.wan, bind: PHONE_B, port: PORT_B, to: toB.address, toPort: toB.port, count: 100, expect: 100 },
    );
    assert.ok(a.received >= 50, `A received ${a.received} of 100`);
    assert.ok(b.received >= 95, `B received ${b.received} of 100`);
    assert.deepEqual(a.sources, [`${RELAY_IP}:${toA.port}`]);
    assert.deepEqual(b.sources, [`${RELAY_IP}:${toB.port}`]);
    const q = await ng.ok('query', { 'call-id': 'nat-1' });
    const legA = rtpStreamOf(q, 'A');
    assert.equal(legA.endpoint.address, NAT_PUBLIC, 'latched to the NAT public address');
    assert.notEqual(legA.endpoint.port, PORT_A, 'at the port the NAT chose, not the SDP port');
    assert.equal(legA.stats.packets, 100);
    assert.equal(rtpStreamOf(q, 'B').stats.packets, 100);
    await ng.ok('delete', { 'call-id': 'nat-1' });
  });
});
