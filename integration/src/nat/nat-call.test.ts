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
import { after, before, describe, it } from 'node:test';
import type { ManagedProcess } from '../harness/index.js';
import { sleep } from '../rtpproxy/support.js';
import { ALICE, assertNoSessionLeft, DOMAIN, HOLD_MS, MEDIA_A, MEDIA_B, NatLab, OUR_RELAY, rtpResult, RTPENGINE, stopRelay, type Relay, type RelaySpec } from './nat-lab.js';
import { registerScenario, uacExpectFailureScenario, uacScenario, uasScenario } from './nat-scenarios.js';

/** The NAT forgets an idle UDP mapping after this many seconds. */
const NAT_UDP_TIMEOUT = 2;
/** Proxy keepalive period (s): shorter than the NAT timeout, as a deployment sets it. */
const KEEPALIVE_INTERVAL = 1;

const lab = new NatLab('nat-call', { adminPort: 18_080, sippTimeoutS: 40 });
const net = lab.net;

/** The proxy as deployed behind NATs: keepalives shorter than the NAT timeout, media anchored on `relay`. */
function startProxy(tag: string, relay: RelaySpec): Promise<ManagedProcess> {
  return lab.startProxy(tag, {
    users: [ALICE],
    route: 'ch5',
    config: [
      `nat: { keepalive: { interval: ${KEEPALIVE_INTERVAL}, maxMisses: 5 } }`,
      `rtpengine: { relays: [${lab.relayUrl(relay)}], pingInterval: 2 }`,
    ],
  });
}

before(() => {
  lab.up(NAT_UDP_TIMEOUT);
});

after(() => {
  lab.down();
});

for (const spec of [OUR_RELAY, RTPENGINE]) {
  const kind = spec.kind;
  describe(`phone behind NAT through the proxy, media on ${kind}`, () => {
    let relay: Relay | undefined;
    let proxy: ManagedProcess;
    let sippA: ManagedProcess | null = null;
    let sippB: ManagedProcess | null = null;

    before(async () => {
      relay = await lab.startRelay(spec, kind);
      proxy = await startProxy(kind, spec);
    });

    after(async () => {
      await sippA?.stop();
      await sippB?.stop();
      await proxy?.stop();
      await stopRelay(relay);
    });

    it('REGISTER keeps the private Contact and stores the NAT binding as received', async () => {
      await lab.sippOk(await lab.sipp(`${kind}-register`, 'A', registerScenario(ALICE.user, ALICE.password, DOMAIN), 1), 'REGISTER');
      const b = await lab.binding(ALICE.user);
      assert.equal(b.contact, `sip:alice@${net.phoneA}:5060`);
      const m = /^sip:203\.0\.113\.2:(\d+);transport=udp$/.exec(b.received ?? '');
      assert.ok(m, `received is the NAT's public address: ${b.received}`);
      assert.notEqual(Number(m[1]), 5060, 'the NAT chose another port (MASQUERADE --random-fully)');
    });

    it('the public phone reaches the NATed phone after its mapping would have expired; RTP both ways via the relay', async () => {
      const rtpA = lab.rtp(`${kind}-a-uas`, 'A', MEDIA_A);
      sippA = await lab.sipp(`${kind}-a-uas`, 'A', uasScenario('alice', MEDIA_A, rtpA));
      const before = (await lab.binding(ALICE.user)).received;
      // Three NAT timeouts of silence from the phone: only the proxy's keepalives keep the mapping.
      assert.equal(net.udpTimeout(), NAT_UDP_TIMEOUT);
      await sleep(3 * NAT_UDP_TIMEOUT * 1000 + 500);
      assert.equal((await lab.binding(ALICE.user)).received, before, 'the binding survived (keepalives answered)');
      const rtpB = lab.rtp(`${kind}-b-uac`, 'B', MEDIA_B);
      await lab.sippOk(await lab.sipp(`${kind}-b-uac`, 'B', uacScenario({ from: 'sip:bob@elsewhere.example.net', to: `sip:alice@${DOMAIN}`, mediaPort: MEDIA_B, holdMs: HOLD_MS, rtp: rtpB }), 1), 'call to the NATed phone');
      lab.assertMediaThroughRelay(spec, await rtpResult(rtpA), await rtpResult(rtpB));
      await assertNoSessionLeft(relay!);
      await sippA.stop();
      sippA = null;
    });

    it('the NATed phone calls the public phone; RTP both ways via the relay', async () => {
      const rtpB = lab.rtp(`${kind}-b-uas`, 'B', MEDIA_B);
      sippB = await lab.sipp(`${kind}-b-uas`, 'B', uasScenario('bob', MEDIA_B, rtpB));
      const rtpA = lab.rtp(`${kind}-a-uac`, 'A', MEDIA_A);
      const scenario = uacScenario({ from: `sip:alice@${DOMAIN}`, to: `sip:bob@${net.phoneB}:5060`, mediaPort: MEDIA_A, holdMs: HOLD_MS, rtp: rtpA, auth: ALICE });
      await lab.sippOk(await lab.sipp(`${kind}-a-uac`, 'A', scenario, 1), 'call from the NATed phone');
      lab.assertMediaThroughRelay(spec, await rtpResult(rtpA), await rtpResult(rtpB));
      await assertNoSessionLeft(relay!);
      await sippB.stop();
      sippB = null;
    });
  });
}

describe('control: the same NATed phone without proxy keepalives', () => {
  let proxy: ManagedProcess;
  let sippA: ManagedProcess | null = null;

  before(async () => {
    // No keepalives and no relay; a short T1: Timer B (64*T1, RFC 3261 §17.1.1.2) ends the lost INVITE in 6.4 s.
    proxy = await lab.startProxy('no-keepalive', {
      users: [ALICE],
      route: 'ch5',
      config: ['nat: { keepalive: { interval: 0 }, udpMaxExpires: 60 }', 'timers: { t1: 100 }'],
    });
  });

  after(async () => {
    await sippA?.stop();
    await proxy?.stop();
  });

  it('gets a short Expires, and is unreachable once its NAT mapping expired (timeout, not the phone)', async () => {
    await lab.sippOk(await lab.sipp('nk-register', 'A', registerScenario(ALICE.user, ALICE.password, DOMAIN), 1), 'REGISTER');
    const b = await lab.binding(ALICE.user);
    assert.ok(b.received !== null && b.expires <= 60, `NATed UDP binding capped at 60 s: ${b.expires}`);
    sippA = await lab.sipp('nk-a-uas', 'A', uasScenario('alice', MEDIA_A, lab.rtp('nk-a-uas', 'A', MEDIA_A)));
    await sleep(3 * NAT_UDP_TIMEOUT * 1000 + 500);
    // The NAT dropped the mapping: the INVITE to `received` dies at the NAT, Timer B → 408.
    const scenario = uacExpectFailureScenario({ from: 'sip:bob@elsewhere.example.net', to: `sip:alice@${DOMAIN}`, status: 408 });
    await lab.sippOk(await lab.sipp('nk-b-uac', 'B', scenario, 1), 'call to the NATed phone without keepalives');
  });
});
