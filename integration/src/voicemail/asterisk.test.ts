/**
 * The Asterisk backend against real Asterisk 22 (Debian sid's package, docker/asterisk/) in a
 * container: voicemail-bridge --backend asterisk writes voicemail.conf from the subscribers and
 * reloads app_voicemail over AMI; a SIPp caller leaves a message on `b<user>` exactly as the
 * book routes it (VoiceMail(<user>@default,b)); the message lands in Asterisk's spool, the
 * bridge's HTTP API lists and serves it, and Asterisk's MessageWaiting (AMI) becomes an MWI
 * NOTIFY the bridge sends through its outbound proxy (a SIPp stand-in here).
 *
 * Runs in the containers backend only: selected by INTEGRATION_BACKEND=containers (or by a
 * Docker engine answering when INTEGRATION_BACKEND is unset); with INTEGRATION_BACKEND=
 * containers and no Docker engine, backendName() throws and this file fails.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { GenericContainer, Wait, type StartedTestContainer } from 'testcontainers';
import { allocatePort, backendName, createBackend, dockerDir, explain, receivedBy, repoRoot, type Backend, type SippResult } from '../harness/index.js';
import { dominantFrequency, wavSamples } from './audio-fixtures.js';
import { BridgeProcess, DOMAIN, RtpSink, waitFor, writeFixtures, writeSubscribers } from './support.js';

const IMAGE = process.env.INTEGRATION_IMAGE_ASTERISK ?? 'voip-stack/asterisk:dev';
const AMI_SECRET = 'it-secret';

const selected = (await backendName()) === 'containers';
if (!selected) {
  console.log('# asterisk voicemail suite: runs in the containers backend (INTEGRATION_BACKEND=containers)');
} else {
  describe('voicemail-bridge --backend asterisk with Asterisk 22', { timeout: 600_000 }, () => {
    let lab: Backend;
    let asterisk: StartedTestContainer;
    let bridge: BridgeProcess;
    let sipPort: number;
    let proxyPort: number;
    let dir: string;
    let spool: string;
    let fixtures: ReturnType<typeof writeFixtures>;

    before(async () => {
      lab = await createBackend('voicemail-asterisk');
      dir = lab.workDir.path;
      const docker = new Docker();
      try {
        await docker.getImage(IMAGE).inspect();
      } catch {
        await GenericContainer.fromDockerfile(repoRoot, 'docker/asterisk/Dockerfile').build(IMAGE, { deleteOnExit: false });
      }
      sipPort = await allocatePort();
      const amiPort = await allocatePort();
      proxyPort = await allocatePort();
      // Asterisk's configuration: the repository's files, with this run's ports and loopback
      // as "the proxy" (host networking: SIPp and the bridge reach it on 127.0.0.1).
      const etc = join(dir, 'asterisk-etc');
      spool = join(dir, 'asterisk-spool');
      mkdirSync(etc, { recursive: true });
      mkdirSync(join(spool, 'default'), { recursive: true });
      for (const f of ['extensions.conf', 'modules.conf', 'voicemail.conf']) copyFileSync(join(dockerDir, 'asterisk', f), join(etc, f));
      writeFileSync(
        join(etc, 'pjsip.conf'),
        readFileSync(join(dockerDir, 'asterisk', 'pjsip.conf'), 'utf8')
          .replace(/^bind = .*$/m, `bind = 127.0.0.1:${sipPort}`)
          .replace(/^contact = .*$/m, `contact = sip:127.0.0.1:${proxyPort}`)
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
      asterisk = await new GenericContainer(IMAGE)
        .withNetworkMode('host')
        .withBindMounts([
          { source: etc, target: '/etc/asterisk', mode: 'rw' },
          { source: spool, target: '/var/spool/asterisk/voicemail', mode: 'rw' },
        ])
        .withWaitStrategy(Wait.forLogMessage(/Asterisk Ready/))
        .withStartupTimeout(180_000)
        .start();

      const db = `file:${writeSubscribers(dir, ['alice', 'bob'])}`;
      fixtures = writeFixtures(dir, 440, 3);
      bridge = await BridgeProcess.start({
        dir,
        db,
        spool: join(dir, 'unused-builtin-spool'),
        extra: [
          '--backend', 'asterisk',
          '--ami-host', `127.0.0.1:${amiPort}`, '--ami-user', 'voicemail-bridge', '--ami-secret', AMI_SECRET,
          '--asterisk-conf', join(etc, 'voicemail.conf'), '--asterisk-spool', spool,
          '--proxy', `sip:127.0.0.1:${proxyPort}`,
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
      assert.equal(r.exitCode, 0, `SIPp ${r.name} failed\n${explain([r])}\n--- bridge log\n${bridge.logTail()}`);
    }

    it('the bridge provisioned Asterisk: voicemail.conf holds one mailbox per subscriber', () => {
      const conf = readFileSync(join(dir, 'asterisk-etc', 'voicemail.conf'), 'utf8');
      assert.match(conf, /^alice => 0000,alice@lab\.example,,,$/m);
      assert.match(conf, /^bob => 0000,bob@lab\.example,,,$/m);
    });

    it('a call to b<user> records in Asterisk\'s spool; the API lists and serves it; the phone gets MWI through the proxy', async () => {
      const sink = await lab.startSipp({ name: 'mwi-sink', scenario: 'vm-mwi-sink', localPort: proxyPort, timeoutMs: 120_000 });
      const rtp = await RtpSink.open();
      try {
        const call = await lab.runSipp({
          name: 'asterisk-deposit',
          scenario: 'vm-deposit',
          remote: `127.0.0.1:${sipPort}`,
          keys: { caller: 'alice', vm_user: 'bbob', rtp_port: rtp.port, greeting_ms: 12_000, audio: fixtures.tone, audio_ms: 3300, pai: 'Subject: asterisk voicemail test' },
          timeoutMs: 60_000,
        });
        ok(call);
        assert.ok(rtp.packets.length > 100, 'Asterisk played its busy greeting');
        const inbox = join(spool, 'default', 'bob', 'INBOX');
        await waitFor('the message in the spool', async () => (readdirSync(inbox).some((f) => f.endsWith('.txt')) ? true : null), 20_000);
        const list = await waitFor('the message in the API', async () => {
          const r = await bridge.messages('bob');
          return r.body.length === 1 ? r.body : null;
        });
        assert.equal(list[0]!.folder, 'new');
        assert.ok(list[0]!.duration_s >= 2 && list[0]!.duration_s <= 5, `duration ${list[0]!.duration_s}`);
        const wav = wavSamples(await bridge.wav('bob', list[0]!.id));
        assert.equal(dominantFrequency(wav.samples, [300, 440, 620, 1000]).freq, 440);
        const notify = await sink.result(60_000);
        ok(notify);
        const n = receivedBy(notify, { method: 'NOTIFY' })[0];
        assert.ok(n !== undefined);
        assert.match(n.startLine, new RegExp(`^NOTIFY sip:bob@${DOMAIN.replace('.', '\\.')} `));
        assert.match(n.body, /^Messages-Waiting:\s*yes/im);
        assert.match(n.body, /^Voice-Message:\s*1\/0/im);
      } finally {
        rtp.close();
        await sink.stop().catch(() => {});
      }
    });
  });
}
