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
import { after, before, describe, it } from 'node:test';
import type { ManagedProcess } from '../harness/index.js';
import { ALICE, assertNoSessionLeft, BOB, DOMAIN, HOLD_MS, MEDIA_A, MEDIA_B, NatLab, OUR_RELAY, rtpResult, RTPENGINE, stopRelay, type Relay, type RelaySpec, type RtpResult } from './nat-lab.js';
import { registerScenario, uacScenario, uacUnansweredScenario, uasScenario, uasUnansweredScenario } from './nat-scenarios.js';

/**
 * The NAT's UDP mapping lifetime (s). Keepalives are nat-call.test.ts's subject; here the
 * caller's SIP mapping must simply outlive a call (the callee's in-dialog requests use it).
 */
const NAT_UDP_TIMEOUT = 60;
/** The ports of the second offer/answer (the re-INVITE). */
const MEDIA_A2 = 40_010;
const MEDIA_B2 = 40_012;

const lab = new NatLab('nat-relay', { adminPort: 18_081, sippTimeoutS: 60 });
const net = lab.net;

/**
 * The proxy with the relays in this order. No ng ping (pingInterval 0): only an unanswered
 * offer marks a relay down, so the failover is the one the offer path makes.
 */
function startProxy(tag: string, relays: readonly RelaySpec[], route: 'ch5' | 'provider' = 'ch5'): Promise<ManagedProcess> {
  return lab.startProxy(tag, {
    users: [ALICE, BOB],
    route,
    config: [
      'nat: { keepalive: { interval: 0 }, udpMaxExpires: 60 }',
      `rtpengine: { relays: [${relays.map((r) => lab.relayUrl(r)).join(', ')}], pingInterval: 0, timeout: 300, tries: 2 }`,
      // SIPp answers MD5 challenges only; the overload guard is not under test (a fresh start's
      // event-loop delay could trip its 503), as in the provider suite's proxy.
      ...(route === 'provider' ? ['auth: { algorithms: [MD5] }', 'overload: { enabled: false }'] : []),
    ],
  });
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
  lab.up(NAT_UDP_TIMEOUT);
});

after(() => {
  lab.down();
});

describe('relay set failover: rtp-relay first, rtpengine second', () => {
  let first: Relay | undefined;
  let second: Relay | undefined;
  let proxy: ManagedProcess;
  let sippB: ManagedProcess | null = null;

  before(async () => {
    first = await lab.startRelay(OUR_RELAY, 'fo-rtp-relay');
    second = await lab.startRelay(RTPENGINE, 'fo-rtpengine');
    proxy = await startProxy('failover', [OUR_RELAY, RTPENGINE]);
  });

  after(async () => {
    await sippB?.stop();
    await proxy?.stop();
    await stopRelay(first);
    await stopRelay(second);
  });

  async function call(tag: string, callId: string): Promise<[RtpResult, RtpResult]> {
    const rtpB = lab.rtp(`${tag}-b`, 'B', MEDIA_B);
    sippB = await lab.sipp(`${tag}-b`, 'B', uasScenario('bob', MEDIA_B, rtpB), 1);
    const rtpA = lab.rtp(`${tag}-a`, 'A', MEDIA_A);
    const scenario = uacScenario({ from: `sip:alice@${DOMAIN}`, to: `sip:bob@${net.phoneB}:5060`, mediaPort: MEDIA_A, holdMs: HOLD_MS, rtp: rtpA, auth: ALICE });
    await lab.sippOk(await lab.sipp(`${tag}-a`, 'A', scenario, 1, callId), `${tag}: call from the NATed phone`);
    const res: [RtpResult, RtpResult] = [await rtpResult(rtpA), await rtpResult(rtpB)];
    await lab.sippOk(sippB, `${tag}: the called phone`);
    sippB = null;
    return res;
  }

  it('both relays up: a call whose Call-ID hashes to rtp-relay is anchored there; BYE leaves no session', async () => {
    const [a, b] = await call('fo-up', callIdFor('fo-up', 0, 2));
    lab.assertMediaThroughRelay(OUR_RELAY, a, b);
    await assertNoSessionLeft(first!);
    await assertNoSessionLeft(second!);
  });

  it('rtp-relay killed: the next call with such a Call-ID fails over to rtpengine; BYE leaves no session', async () => {
    // A crash, not a shutdown: the ng socket just stops answering.
    first!.proc.killGroup('SIGKILL');
    await first!.proc.waitForExit(5_000);
    const cid = callIdFor('fo-down', 0, 2);
    const [a, b] = await call('fo-down', cid);
    lab.assertMediaThroughRelay(RTPENGINE, a, b);
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
      relay = await lab.startRelay(spec, spec.kind);
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
        sippB = await lab.sipp(`${tag}-b`, 'B', uasUnansweredScenario({ user: 'bob', relayIp: net.proxyIp, end }), 1);
        const scenario = uacUnansweredScenario({ from: `sip:alice@${DOMAIN}`, to: `sip:bob@${net.phoneB}:5060`, auth: ALICE, end });
        await lab.sippOk(await lab.sipp(`${tag}-a`, 'A', scenario, 1), `${tag}: the caller`);
        await lab.sippOk(sippB, `${tag}: the callee`);
        sippB = null;
        await assertNoSessionLeft(relay!);
      });
    }

    it('a re-INVITE with new ports from the NATed phone: RTP both ways via the relay before and after it', async () => {
      const tag = `${spec.kind}-reinvite`;
      const [rtpB1, rtpB2] = [lab.rtp(`${tag}-b1`, 'B', MEDIA_B), lab.rtp(`${tag}-b2`, 'B', MEDIA_B2)];
      sippB = await lab.sipp(`${tag}-b`, 'B', uasScenario('bob', MEDIA_B, rtpB1, { mediaPort: MEDIA_B2, rtp: rtpB2 }), 1);
      const [rtpA1, rtpA2] = [lab.rtp(`${tag}-a1`, 'A', MEDIA_A), lab.rtp(`${tag}-a2`, 'A', MEDIA_A2)];
      const scenario = uacScenario({
        from: `sip:alice@${DOMAIN}`, to: `sip:bob@${net.phoneB}:5060`, mediaPort: MEDIA_A, holdMs: HOLD_MS, rtp: rtpA1, auth: ALICE,
        reoffer: { mediaPort: MEDIA_A2, rtp: rtpA2 },
      });
      await lab.sippOk(await lab.sipp(`${tag}-a`, 'A', scenario, 1), `${tag}: the caller`);
      await lab.sippOk(sippB, `${tag}: the callee`);
      sippB = null;
      lab.assertMediaThroughRelay(spec, await rtpResult(rtpA1), await rtpResult(rtpB1));
      lab.assertMediaThroughRelay(spec, await rtpResult(rtpA2), await rtpResult(rtpB2));
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
    relay = await lab.startRelay(OUR_RELAY, 'provider-rtp-relay');
    proxy = await startProxy('provider', [OUR_RELAY], 'provider');
  });

  after(async () => {
    await sippA?.stop();
    await sippB?.stop();
    await proxy?.stop();
    await stopRelay(relay);
  });

  it('route[2]: REGISTER from behind the NAT stores the NAT binding as received', async () => {
    await lab.sippOk(await lab.sipp('prov-a-register', 'A', registerScenario(ALICE.user, ALICE.password, DOMAIN), 1), 'REGISTER alice');
    const b = await lab.binding(ALICE.user);
    assert.equal(b.contact, `sip:alice@${net.phoneA}:5060`);
    assert.match(b.received ?? '', /^sip:203\.0\.113\.2:\d+;transport=udp$/, 'received is the NAT\'s public address');
    assert.ok(b.expires <= 60, `NATed UDP binding without keepalives capped at 60 s: ${b.expires}`);
  });

  it('route[12]: a foreign caller reaches the NATed phone at its NAT binding; RTP both ways via the relay', async () => {
    const rtpA = lab.rtp('prov-a-uas', 'A', MEDIA_A);
    sippA = await lab.sipp('prov-a-uas', 'A', uasScenario(ALICE.user, MEDIA_A, rtpA), 1);
    const rtpB = lab.rtp('prov-b-uac', 'B', MEDIA_B);
    await lab.sippOk(await lab.sipp('prov-b-uac', 'B', uacScenario({ from: 'sip:bob@elsewhere.example.net', to: `sip:alice@${DOMAIN}`, mediaPort: MEDIA_B, holdMs: HOLD_MS, rtp: rtpB }), 1), 'call to the NATed phone');
    await lab.sippOk(sippA, 'the NATed phone answering');
    sippA = null;
    lab.assertMediaThroughRelay(OUR_RELAY, await rtpResult(rtpA), await rtpResult(rtpB));
    await assertNoSessionLeft(relay!);
  });

  it('route[10]: the NATed phone calls a registered local user; RTP both ways via the relay', async () => {
    await lab.sippOk(await lab.sipp('prov-b-register', 'B', registerScenario(BOB.user, BOB.password, DOMAIN), 1), 'REGISTER bob');
    assert.equal((await lab.binding(BOB.user)).received, null, 'the public phone is not NATed');
    const rtpB = lab.rtp('prov-b-uas', 'B', MEDIA_B);
    sippB = await lab.sipp('prov-b-uas', 'B', uasScenario(BOB.user, MEDIA_B, rtpB), 1);
    const rtpA = lab.rtp('prov-a-uac', 'A', MEDIA_A);
    const scenario = uacScenario({ from: `sip:alice@${DOMAIN}`, to: `sip:bob@${DOMAIN}`, mediaPort: MEDIA_A, holdMs: HOLD_MS, rtp: rtpA, auth: ALICE });
    await lab.sippOk(await lab.sipp('prov-a-uac', 'A', scenario, 1), 'call from the NATed phone');
    await lab.sippOk(sippB, 'the local user answering');
    sippB = null;
    lab.assertMediaThroughRelay(OUR_RELAY, await rtpResult(rtpA), await rtpResult(rtpB));
    await assertNoSessionLeft(relay!);
  });
});
