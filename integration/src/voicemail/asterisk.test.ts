/**
 * The Asterisk backend against real Asterisk 22 (Debian sid's package, docker/asterisk/) in a
 * container, reached exactly as the book routes it (ch. 8): alice calls bob through the
 * proxy's provider route, bob's phone answers 486, failure_route[1] sends the call to
 * `voicemail.uri` (Asterisk) as `bbob`, and extensions.conf runs VoiceMail(bob@default,b).
 * voicemail-bridge --backend asterisk writes voicemail.conf from the same subscribers as the
 * proxy and reloads app_voicemail over AMI; the message lands in Asterisk's spool, the
 * bridge's HTTP API lists and serves it, and Asterisk's MessageWaiting (AMI) becomes an
 * unsolicited MWI NOTIFY the bridge sends through the proxy to bob's registered phone. A phone
 * that subscribes (SUBSCRIBE message-summary through the proxy, which sends it to
 * `voicemail.mwiUri`: the bridge) gets its NOTIFYs in the subscription instead (erin's).
 *
 * Runs in the containers backend only: selected by INTEGRATION_BACKEND=containers; in the
 * native backend this file registers no test. With INTEGRATION_BACKEND=containers and no
 * Docker engine, backendName() throws and this file fails.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { GenericContainer, Wait, type StartedTestContainer } from 'testcontainers';
import { allocatePorts, assertSippOk, backendName, createBackend, dockerDir, explain, receivedBy, repoRoot, type Backend, type SippResult } from '../harness/index.js';
import { registerPhone } from '../mysql/ch5-lab.js';
import { DOMAIN, password, startProviderProxy, USERS, writeProvisioningFile, type ProviderPorts, type ProviderProxy } from '../provider/provider-lab.js';
import { dominantFrequency, wavSamples } from './audio-fixtures.js';
import { BridgeProcess, RtpSink, waitFor, writeFixtures, type VoicemailMessage } from './support.js';

const IMAGE = process.env.INTEGRATION_IMAGE_ASTERISK ?? 'voip-stack/asterisk:dev';
const AMI_SECRET = 'it-secret';
const TONE_SECONDS = 3;
/** Asterisk colours its console even without a terminal. */
const ANSI_COLOUR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
/**
 * How long alice listens before she speaks: Asterisk's greeting for a mailbox without a
 * recorded one, from the image's asterisk-core-sounds-en-gsm (33-byte GSM frames of 20 ms):
 * vm-theperson 2.04 s, vm-isonphone 1.46 s (busy) or vm-isunavail 1.26 s (unavailable),
 * vm-intro 5.66 s, beep 0.44 s: 9.6 s and 9.4 s. The wait must end inside the window after the
 * beep: app_voicemail's recorder (__ast_play_and_record) hangs up when no audio frame comes
 * within 2 × 2 s ("No audio available"), and alice sends nothing while she listens. So she
 * starts about 2 s after the beep: as far from the beep as from that limit.
 */
const GREETING_MS = 11_500;

const selected = (await backendName()) === 'containers';
if (!selected) {
  console.log('# asterisk voicemail suite: runs in the containers backend (INTEGRATION_BACKEND=containers)');
} else {
  describe('voicemail-bridge --backend asterisk with Asterisk 22 behind the provider route', { timeout: 600_000 }, () => {
    let lab: Backend;
    let ports: ProviderPorts;
    let proxy: ProviderProxy;
    let asterisk: StartedTestContainer;
    let bridge: BridgeProcess;
    let bobPort: number;
    let etc: string;
    let spool: string;
    let asteriskLog: string;
    let fixtures: ReturnType<typeof writeFixtures>;

    before(async () => {
      lab = await createBackend('voicemail-asterisk');
      const dir = lab.workDir.path;
      const docker = new Docker();
      try {
        await docker.getImage(IMAGE).inspect();
      } catch {
        await GenericContainer.fromDockerfile(repoRoot, 'docker/asterisk/Dockerfile').build(IMAGE, { deleteOnExit: false });
      }
      const [sip, admin, gwA, gwB, voicemail, bob, vmOwn, ami] = await allocatePorts(8);
      ports = { sip: sip!, admin: admin!, gwA: gwA!, gwB: gwB!, voicemail: voicemail! };
      bobPort = bob!;
      const amiPort = ami!;
      // One provisioning file for the proxy and the bridge (the bridge's mailboxes are the
      // proxy's subscribers); voicemail.uri names Asterisk's SIP port.
      const dbUrl = writeProvisioningFile(lab, ports);

      // Asterisk's configuration: the repository's files with this run's ports. Host
      // networking: Asterisk, the proxy, SIPp and the bridge all share 127.0.0.1, and the
      // proxy (the only peer Asterisk trusts) is identified by that address.
      etc = join(dir, 'asterisk-etc');
      spool = join(dir, 'asterisk-spool');
      mkdirSync(etc, { recursive: true });
      mkdirSync(join(spool, 'default'), { recursive: true });
      for (const f of ['extensions.conf', 'modules.conf', 'voicemail.conf']) copyFileSync(join(dockerDir, 'asterisk', f), join(etc, f));
      writeFileSync(
        join(etc, 'pjsip.conf'),
        readFileSync(join(dockerDir, 'asterisk', 'pjsip.conf'), 'utf8')
          .replace(/^bind = .*$/m, `bind = 127.0.0.1:${ports.voicemail}`)
          .replace(/^contact = .*$/m, `contact = sip:127.0.0.1:${ports.sip}`)
          .replace(/^match = .*$/m, 'match = 127.0.0.1'),
      );
      writeFileSync(
        join(etc, 'manager.conf'),
        readFileSync(join(dockerDir, 'asterisk', 'manager.conf'), 'utf8')
          .replace(/^port = .*$/m, `port = ${amiPort}`)
          .replace(/^bindaddr = .*$/m, 'bindaddr = 127.0.0.1')
          .replace(/^secret = .*$/m, `secret = ${AMI_SECRET}`),
      );
      // Asterisk drops to its own user: it must read the configs and write the spool.
      chmodSync(etc, 0o777);
      for (const f of readdirSync(etc)) chmodSync(join(etc, f), 0o644);
      chmodSync(spool, 0o777);
      chmodSync(join(spool, 'default'), 0o777);
      asteriskLog = join(dir, 'asterisk.log');
      asterisk = await new GenericContainer(IMAGE)
        .withNetworkMode('host')
        .withBindMounts([
          { source: etc, target: '/etc/asterisk', mode: 'rw' },
          { source: spool, target: '/var/spool/asterisk/voicemail', mode: 'rw' },
        ])
        // Asterisk's console (-f -vvv: dialplan steps, app_voicemail) for failures and logs.
        .withLogConsumer((stream) => stream.on('data', (c: Buffer | string) => appendFileSync(asteriskLog, c.toString().replace(ANSI_COLOUR, ''))))
        .withWaitStrategy(Wait.forLogMessage(/Asterisk Ready/))
        .withStartupTimeout(180_000)
        .start();

      // Calls go to Asterisk (voicemail.uri); SUBSCRIBE message-summary goes to the bridge
      // (voicemail.mwiUri), which answers it from Asterisk's spool and AMI events.
      proxy = await startProviderProxy(lab, {
        dbUrl,
        ports,
        config: { voicemail: { uri: `sip:${lab.host}:${ports.voicemail}`, mwiUri: `sip:127.0.0.2:${vmOwn!}` } },
      });
      assertSippOk([await registerPhone(lab, proxy, { user: 'bob', password: password('bob'), contactPort: bobPort })]);
      fixtures = writeFixtures(dir, 440, TONE_SECONDS);
      bridge = await BridgeProcess.start({
        dir,
        db: dbUrl,
        spool: join(dir, 'unused-builtin-spool'),
        // The bridge originates its NOTIFYs from 127.0.0.2: on one machine the proxy takes
        // 127.0.0.1 (any port) as itself and would challenge a NOTIFY From it.
        listenFirst: [`udp:127.0.0.2:${vmOwn!}`],
        extra: [
          '--backend', 'asterisk',
          '--ami-host', `127.0.0.1:${amiPort}`, '--ami-user', 'voicemail-bridge', '--ami-secret', AMI_SECRET,
          '--asterisk-conf', join(etc, 'voicemail.conf'), '--asterisk-spool', spool,
          '--proxy', `sip:${proxy.sipAddress}`,
        ],
      });
      await waitFor('AMI session', async () => ((await bridge.health()).ami === true ? true : null), 60_000);
    });

    after(async () => {
      await bridge?.stop().catch(() => {});
      await asterisk?.stop().catch(() => {});
      await lab?.close();
    });

    function ok(r: SippResult): void {
      assert.equal(r.exitCode, 0, `SIPp ${r.name} failed\n${explain([r])}\n--- proxy\n${proxy.handle.logTail(2500)}\n--- bridge\n${bridge.logTail()}\n--- asterisk\n${readFileSync(asteriskLog, 'utf8').slice(-3000)}`);
    }

    it('the bridge provisioned Asterisk: voicemail.conf holds one mailbox per subscriber', () => {
      const conf = readFileSync(join(etc, 'voicemail.conf'), 'utf8');
      for (const user of USERS) assert.match(conf, new RegExp(`^${user} => 0000,${user}@${DOMAIN.replace(/\./g, '\\.')},,,$`, 'm'));
    });

    it('busy bob: the proxy sends the call to Asterisk as bbob; the message is in the spool and the API; bob\'s phone gets MWI through the proxy', async () => {
      const busy = await lab.startSipp({ name: 'bob-busy', scenario: 'uas-busy', localPort: bobPort, timeoutMs: 30_000 });
      const rtp = await RtpSink.open();
      let sink: Awaited<ReturnType<Backend['startSipp']>> | undefined;
      try {
        const call = await lab.startSipp({
          name: 'alice-to-busy-bob',
          scenario: 'vm-deposit-digest',
          remote: proxy.sipAddress,
          keys: { caller: 'alice', callee: 'bob', domain: DOMAIN, rtp_port: rtp.port, greeting_ms: GREETING_MS, audio: fixtures.tone, audio_ms: TONE_SECONDS * 1000 + 300 },
          timeoutMs: 60_000,
          extraArgs: ['-au', 'alice', '-ap', password('alice')],
        });
        // bob's phone said 486 and is done; his port takes the MWI NOTIFY while alice speaks.
        ok(await busy.result(20_000));
        sink = await lab.startSipp({ name: 'bob-mwi', scenario: 'vm-mwi-until-yes', localPort: bobPort, timeoutMs: 120_000 });
        ok(await call.result());
        assert.ok(rtp.packets.length > 100, `Asterisk's busy greeting reached alice (${rtp.packets.length} packets)`);

        const inbox = join(spool, 'default', 'bob', 'INBOX');
        await waitFor('the message in the spool', async () => {
          try {
            return readdirSync(inbox).some((f) => f.endsWith('.txt')) ? true : null;
          } catch {
            return null;
          }
        }, 20_000);
        const api = `${bridge.httpUrl}/mailboxes/bob@${DOMAIN}/messages`;
        const list = await waitFor('the message in the API', async () => {
          const r = await fetch(api);
          const body = r.status === 200 ? ((await r.json()) as VoicemailMessage[]) : [];
          return body.length === 1 ? body : null;
        });
        const msg = list[0]!;
        assert.equal(msg.folder, 'new');
        // PJSIP takes the caller ID from the From the proxy forwarded (alice's own); the bridge
        // reports it as a SIP URI in the subscriber's domain.
        assert.equal(msg.caller, `sip:alice@${DOMAIN}`, 'the caller as a SIP URI, as the built-in engine reports it');
        const wavResponse = await fetch(`${api}/${msg.id}.wav`);
        assert.equal(wavResponse.status, 200);
        const wav = wavSamples(Buffer.from(await wavResponse.arrayBuffer()));
        assert.equal(wav.rate, 8000);
        // Asterisk records the frames it receives (none while alice is silent): the WAV is her
        // tone; app_voicemail's `duration` counts whole seconds of it.
        const seconds = wav.samples.length / wav.rate;
        assert.ok(Math.abs(seconds - TONE_SECONDS) <= 0.5, `recording ${seconds.toFixed(2)} s`);
        assert.ok(msg.duration_s === Math.floor(seconds) || msg.duration_s === Math.round(seconds), `duration_s ${msg.duration_s} for ${seconds.toFixed(2)} s`);
        assert.equal(dominantFrequency(wav.samples, [300, 440, 480, 620, 1000]).freq, 440);

        const notify = await sink.result(60_000);
        ok(notify);
        // The bridge passes on changes only: the reloads' "nothing waiting" rounds from
        // Asterisk never reached the phone, the one NOTIFY is the new message.
        const notifies = receivedBy(notify, { method: 'NOTIFY' });
        assert.equal(notifies.length, 1, notifies.map((x) => x.body).join('\n'));
        const n = notifies[0]!;
        assert.equal(n.header('event'), 'message-summary');
        assert.match(n.body, /^Messages-Waiting:\s*yes/im);
        assert.match(n.body, new RegExp(`^Message-Account:\\s*sip:bob@${DOMAIN.replace(/\./g, '\\.')}`, 'im'));
        assert.match(n.body, /^Voice-Message:\s*1\/0/im);
        // It crossed the proxy (loose route from the bridge, location lookup to bob's contact).
        assert.match(n.header('via') ?? '', new RegExp(proxy.sipAddress.replace(/\./g, '\\.')));
      } finally {
        rtp.close();
        await sink?.stop().catch(() => {});
      }
    });

    it('MWI by subscription: erin SUBSCRIBEs (digest) through the proxy to the bridge; a message Asterisk records for her turns it to yes', async () => {
      const sub = await lab.startSipp({
        name: 'erin-subscribe',
        scenario: 'vm-subscribe-digest',
        remote: proxy.sipAddress,
        keys: { vm_user: 'erin', domain: DOMAIN, changes: 1 },
        timeoutMs: 120_000,
        extraArgs: ['-au', 'erin', '-ap', password('erin')],
      });
      await waitFor('the subscription at the bridge', async () => ((await bridge.health()).subscriptions === 1 ? true : null), 20_000);
      // erin has no registered phone (and, unlike carol, no forwarding): the provider route
      // sends alice's call to Asterisk as `uerin` (VoiceMail(erin@default,u)).
      const rtp = await RtpSink.open();
      try {
        const call = await lab.startSipp({
          name: 'alice-to-offline-erin',
          scenario: 'vm-deposit-digest',
          remote: proxy.sipAddress,
          keys: { caller: 'alice', callee: 'erin', domain: DOMAIN, rtp_port: rtp.port, greeting_ms: GREETING_MS, audio: fixtures.tone, audio_ms: TONE_SECONDS * 1000 + 300 },
          timeoutMs: 60_000,
          extraArgs: ['-au', 'alice', '-ap', password('alice')],
        });
        ok(await call.result());
      } finally {
        rtp.close();
      }
      const r = await sub.result(90_000);
      ok(r);
      const notifies = receivedBy(r, { method: 'NOTIFY' });
      // The NOTIFY at subscribe time (empty mailbox), the one for the new message, and the
      // final one after the unsubscribe (RFC 6665 §4.2.1.4).
      assert.deepEqual(notifies.map((n) => /^Messages-Waiting:\s*(yes|no)/im.exec(n.body)?.[1]), ['no', 'yes', 'yes']);
      assert.match(notifies[1]!.body, new RegExp(`^Message-Account:\\s*sip:erin@${DOMAIN.replace(/\./g, '\\.')}`, 'im'));
      assert.match(notifies[1]!.body, /^Voice-Message:\s*1\/0/im);
      assert.match(notifies[2]!.header('subscription-state') ?? '', /^terminated/);
      // In the dialog the proxy record-routed: every NOTIFY crossed it.
      for (const n of notifies) assert.match(n.header('via') ?? '', new RegExp(proxy.sipAddress.replace(/\./g, '\\.')));
    });
  });
}
