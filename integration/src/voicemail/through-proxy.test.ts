/**
 * Voicemail through the proxy's provider route (book ch. 8): alice (digest auth) calls erin,
 * who exists but is not registered, so route[10] sends the call to the voicemail server as
 * `uerin`; the built-in bridge (reading the same provisioning file as the proxy) greets,
 * records alice's tone and lists the message with alice as caller. A busy callee (bob's phone
 * answers 486) goes to `bbob` the same way (failure_route[1]).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { allocatePorts, assertSippOk, createBackend, explain, receivedBy, type Backend, type SippResult } from '../harness/index.js';
import { DOMAIN, password, startProviderProxy, writeProvisioningFile, type ProviderPorts, type ProviderProxy } from '../provider/provider-lab.js';
import { registerPhone } from '../mysql/ch5-lab.js';
import { dominantFrequency, wavSamples } from './audio-fixtures.js';
import { BridgeProcess, RtpSink, waitFor, writeFixtures } from './support.js';

const TONE_SECONDS = 3;

describe('voicemail-bridge behind the provider route', { timeout: 180_000 }, () => {
  let lab: Backend;
  let ports: ProviderPorts;
  let proxy: ProviderProxy;
  let bridge: BridgeProcess;
  let fixtures: ReturnType<typeof writeFixtures>;
  let bobPort: number;

  before(async () => {
    lab = await createBackend('voicemail-provider');
    const [sip, admin, gwA, gwB, voicemail, bob, vmOwn] = await allocatePorts(7);
    const vmOwnPort = vmOwn!;
    ports = { sip: sip!, admin: admin!, gwA: gwA!, gwB: gwB!, voicemail: voicemail! };
    bobPort = bob!;
    // A `file:` URL: the proxy and the bridge read the same subscribers.
    const dbUrl = writeProvisioningFile(lab, ports);
    proxy = await startProviderProxy(lab, { dbUrl, ports });
    assertSippOk([await registerPhone(lab, proxy, { user: 'bob', password: password('bob'), contactPort: bobPort })]);
    fixtures = writeFixtures(lab.workDir.path, 440, TONE_SECONDS);
    bridge = await BridgeProcess.start({
      dir: lab.workDir.path,
      db: dbUrl,
      spool: join(lab.workDir.path, 'vm-spool'),
      sipPort: ports.voicemail,
      // The voicemail server's own identity must not be the proxy's: on one machine the proxy
      // takes 127.0.0.1 (any port) as itself and would challenge a NOTIFY From it. The bridge's
      // first listener, 127.0.0.2, is what it originates requests from (as lab.mjs does).
      listenFirst: [`udp:127.0.0.2:${vmOwnPort}`],
      extra: ['--no-speech', '--proxy', `sip:${proxy.sipAddress}`],
    });
  });

  after(async () => {
    await bridge?.stop().catch(() => {});
    await lab?.close();
  });

  async function leaveMessage(callee: string): Promise<{ uac: SippResult; rtp: RtpSink }> {
    const rtp = await RtpSink.open();
    const uac = await lab.runSipp({
      name: `vm-${callee}`,
      scenario: 'vm-deposit-digest',
      remote: proxy.sipAddress,
      keys: { caller: 'alice', callee, domain: DOMAIN, rtp_port: rtp.port, greeting_ms: 1800, audio: fixtures.tone, audio_ms: TONE_SECONDS * 1000 + 300 },
      timeoutMs: 40_000,
      extraArgs: ['-au', 'alice', '-ap', password('alice')],
    });
    rtp.close();
    return { uac, rtp };
  }

  async function assertOneMessage(user: string): Promise<void> {
    const r = await fetch(`${bridge.httpUrl}/mailboxes/${user}@${DOMAIN}/messages`);
    assert.equal(r.status, 200);
    const list = (await r.json()) as { id: string; caller: string; duration_s: number }[];
    assert.equal(list.length, 1, JSON.stringify(list));
    assert.equal(list[0]!.caller, `sip:alice@${DOMAIN}`);
    assert.ok(Math.abs(list[0]!.duration_s - TONE_SECONDS) <= 0.5, `duration ${list[0]!.duration_s}`);
    const wav = await fetch(`${bridge.httpUrl}/mailboxes/${user}@${DOMAIN}/messages/${list[0]!.id}.wav`);
    const samples = wavSamples(Buffer.from(await wav.arrayBuffer())).samples;
    assert.equal(dominantFrequency(samples, [300, 440, 480, 620, 1000]).freq, 440);
  }

  it('an offline subscriber: route[10] → uerin at the bridge → one message from alice holding her tone', async () => {
    const { uac, rtp } = await leaveMessage('erin');
    assert.equal(uac.exitCode, 0, `${explain([uac])}\n--- proxy\n${proxy.handle.logTail(2500)}\n--- bridge\n${bridge.logTail()}`);
    assert.ok(rtp.packets.length >= 55, `greeting reached alice through the proxy's SDP (${rtp.packets.length} packets)`);
    assert.ok(receivedBy(uac, { status: 200, cseqMethod: 'INVITE' }).length >= 1);
    await assertOneMessage('erin');
  });

  it('a busy subscriber: failure_route[1] on 486 → bbob at the bridge → one message', async () => {
    const busy = await lab.startSipp({ name: 'bob-busy', scenario: 'uas-busy', localPort: bobPort, timeoutMs: 30_000 });
    const { uac } = await leaveMessage('bob');
    assert.equal(uac.exitCode, 0, `${explain([uac, await busy.stop()])}\n--- proxy\n${proxy.handle.logTail(2500)}\n--- bridge\n${bridge.logTail()}`);
    await busy.result(10_000);
    await assertOneMessage('bob');
  });

  it('no subscription: a mailbox change reaches the registered phone as an unsolicited NOTIFY through the proxy', async () => {
    // Each unsolicited NOTIFY is a call of the sink (its own Call-ID); it stops itself (exit 97)
    // on the first "Messages-Waiting: no".
    const sink = await lab.startSipp({ name: 'bob-mwi', scenario: 'vm-mwi-sink', localPort: bobPort, calls: 20, timeoutMs: 20_000 });
    const list = (await (await fetch(`${bridge.httpUrl}/mailboxes/bob@${DOMAIN}/messages`)).json()) as { id: string }[];
    assert.equal((await fetch(`${bridge.httpUrl}/mailboxes/bob@${DOMAIN}/messages/${list[0]!.id}`, { method: 'DELETE' })).status, 204);
    const r = await sink.result(20_000);
    assert.equal(r.exitCode, 97, `${explain([r])}\n--- proxy\n${proxy.handle.logTail(2500)}\n--- bridge\n${bridge.logTail()}`);
    // The last NOTIFY is the one that ended the sink: the change made by the DELETE.
    const notifies = receivedBy(r, { method: 'NOTIFY' });
    const n = notifies[notifies.length - 1]!;
    assert.equal(n.header('event'), 'message-summary');
    assert.match(n.body, /^Messages-Waiting:\s*no/im);
    assert.match(n.body, new RegExp(`^Message-Account:\\s*sip:bob@${DOMAIN.replace('.', '\\.')}`, 'im'));
  });

  it('MWI through the proxy: bob SUBSCRIBEs (digest) to his mailbox, NOTIFYs come back along the record-routed dialog', async () => {
    const sub = await lab.startSipp({
      name: 'bob-subscribe',
      scenario: 'vm-subscribe-digest',
      remote: proxy.sipAddress,
      keys: { vm_user: 'bob', domain: DOMAIN, changes: 1 },
      timeoutMs: 60_000,
      extraArgs: ['-au', 'bob', '-ap', password('bob')],
    });
    await waitFor('the subscription at the bridge', async () => ((await bridge.health()).subscriptions === 1 ? true : null), 15_000);
    // A change to bob's mailbox (a message left directly at the bridge).
    const rtp = await RtpSink.open();
    const deposit = await lab.runSipp({
      name: 'vm-direct-bbob',
      scenario: 'vm-deposit',
      remote: `127.0.0.1:${ports.voicemail}`,
      keys: { caller: 'carol', vm_user: 'bbob', rtp_port: rtp.port, greeting_ms: 1800, audio: fixtures.tone, audio_ms: 2000, pai: 'Subject: mwi' },
      timeoutMs: 30_000,
    });
    rtp.close();
    assert.equal(deposit.exitCode, 0, explain([deposit]));
    const r = await sub.result(40_000);
    assert.equal(r.exitCode, 0, `${explain([r])}\n--- proxy\n${proxy.handle.logTail(2500)}\n--- bridge\n${bridge.logTail()}`);
    const notifies = receivedBy(r, { method: 'NOTIFY' });
    assert.deepEqual(notifies.map((n) => /^Messages-Waiting:\s*(yes|no)/im.exec(n.body)?.[1]), ['no', 'yes', 'yes']);
    assert.match(notifies[2]!.header('subscription-state') ?? '', /^terminated/);
    // The NOTIFYs crossed the proxy: it record-routed the SUBSCRIBE, so its Via is on top.
    for (const n of notifies) assert.match(n.header('via') ?? '', new RegExp(proxy.sipAddress.replace(/\./g, '\\.')));
  });
});
