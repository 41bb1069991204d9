/**
 * `npm start` (scripts/lab.mjs) as a new user runs it: the lab started on a free --port prints
 * its listeners and the demo accounts; a phone registers with the printed credentials over UDP
 * (digest: 401, then 200); a wrong password gets no 200; the SIPp command of the banner works
 * verbatim and names its own contact port; a call to a subscriber without a phone reaches the
 * built-in voicemail; a long-distance number goes to the --gateway in E.164, for alice (ACL group
 * ld) only; call records reach FreeRADIUS through radius-acct (--radius); Ctrl-C stops every
 * program and frees the ports.
 * Always native: the lab is the no-Docker way to run the stack.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  allocatePort,
  assertSippOk,
  isPortFree,
  ManagedProcess,
  NativeBackend,
  receivedBy,
  repoRoot,
  sentBy,
  type SippResult,
} from '../harness/index.js';
import { startFreeRadius, type FreeRadiusServer } from '../radius/freeradius.js';

const HOST = '127.0.0.1';
const GATEWAY_HOST = '127.0.0.2';
const RADIUS_SECRET = 'lab-test-secret';
const labScript = join(repoRoot, 'scripts', 'lab.mjs');
const registerDigest = join(repoRoot, 'integration', 'src', 'mysql', 'scenarios', 'register-digest.xml');
const callDigest = join(repoRoot, 'integration', 'src', 'mysql', 'scenarios', 'uac-call-digest.xml');

/** Final responses to REGISTER, in order. */
function registerFinals(r: SippResult): number[] {
  return receivedBy(r, { cseqMethod: 'REGISTER' }).map((m) => m.status!).filter((s) => s >= 200);
}

/** Bindings the proxy's admin API lists for an AOR. */
async function contactsOf(adminUrl: string, aor: string): Promise<string[]> {
  const res = await fetch(`${adminUrl}/location`);
  assert.equal(res.status, 200);
  const body = (await res.json()) as { bindings: { aor: string; contact: string }[] };
  return body.bindings.filter((b) => b.aor === aor).map((b) => b.contact);
}

describe('npm start: the native lab (scripts/lab.mjs)', () => {
  let backend: NativeBackend;
  let lab: ManagedProcess;
  let port: number;
  let banner: string;
  let adminUrl: string;
  let gatewayPort: number;
  let radius: FreeRadiusServer;
  let voicemailCallId = '';
  const passwords = new Map<string, string>();

  before(async () => {
    backend = new NativeBackend('lab', 'ours');
    port = await allocatePort(HOST);
    // The PSTN gateway stand-in on another loopback address (docs/lab.md: a peer on the lab's
    // own IP would be taken for the proxy itself by in-dialog requests).
    gatewayPort = await allocatePort(GATEWAY_HOST);
    radius = await startFreeRadius({ secret: RADIUS_SECRET });
    lab = await ManagedProcess.launch({
      name: 'lab',
      command: process.execPath,
      args: [labScript, '--port', String(port), '--lab-dir', backend.workDir.sub('lab'), '--gateway', `${GATEWAY_HOST}:${gatewayPort}`,
        '--radius', radius.address, '--radius-secret', RADIUS_SECRET, '--log-level', 'warn'],
      cwd: repoRoot,
      logFile: backend.workDir.file('lab.log'),
    });
    await lab.waitForOutput(/Ctrl-C stops everything\./, 60_000);
    // The banner alone, without the programs' own output around it.
    const out = lab.outputTail(16_000);
    banner = out.slice(out.lastIndexOf('The lab is up'));
    adminUrl = /proxy admin API +(http:\/\/\S+)/.exec(banner)?.[1] ?? '';
    for (const m of banner.matchAll(/^ {2}(alice|bob|carol) +password (\S+)/gm)) passwords.set(m[1]!, m[2]!);
  });

  after(async () => {
    if (lab?.running) await lab.stop();
    await radius?.close();
    await backend?.close();
  });

  it('prints SIP on --port, the demo accounts, and no fixed port for anything else', () => {
    assert.match(banner, new RegExp(`SIP proxy/registrar +udp:${HOST}:${port} tcp:${HOST}:${port}`), banner);
    assert.deepEqual([...passwords.keys()].sort(), ['alice', 'bob', 'carol'], banner);
    assert.match(adminUrl, /^http:\/\/127\.0\.0\.1:\d+$/, banner);
    // The admin API, the relay's ng and HTTP ports (and voicemail, when built): all distinct,
    // none on the SIP port or the old fixed defaults two labs collided on.
    const others = [...banner.matchAll(/(?:http:\/\/|ng udp:)127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));
    assert.ok(others.length >= 3, banner);
    assert.equal(new Set(others).size, others.length, `a port is used twice: ${others.join(', ')}`);
    for (const p of others) assert.ok(p !== port && p !== 9900 && p !== 22222, `port ${p} in ${others.join(', ')}`);
    assert.match(banner, /provider route/);
  });

  it('starts the portal read-only on the provisioning file; the printed administrator signs in', async () => {
    const m = /portal +(http:\/\/127\.0\.0\.1:\d+)\/ +\(read-only on the provisioning file; admin \/ (\S+),/.exec(banner);
    assert.ok(m, banner);
    const login = await fetch(`${m[1]}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'admin', password: m[2] }) });
    assert.equal(login.status, 200);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const { csrfToken } = (await login.json()) as { csrfToken: string };
    const headers = { cookie, 'x-csrf-token': csrfToken, 'content-type': 'application/json' };
    const subscribers = (await (await fetch(`${m[1]}/api/subscribers`, { headers })).json()) as { rows: { username: string }[] };
    assert.deepEqual(subscribers.rows.map((r) => r.username).sort(), ['alice', 'bob', 'carol']);
    const write = await fetch(`${m[1]}/api/domains`, { method: 'POST', headers, body: JSON.stringify({ domain: 'new.example' }) });
    assert.equal(write.status, 409);
  });

  it('registers alice over UDP with the printed password: 401, then 200', async () => {
    const contactPort = await allocatePort(HOST);
    const inf = backend.workDir.file('alice.csv');
    writeFileSync(inf, `SEQUENTIAL\nalice;${HOST};${contactPort}\n`);
    const r = await backend.runSipp({
      name: 'register-alice',
      scenario: registerDigest,
      remote: `${HOST}:${port}`,
      keys: { expires: 600 },
      timeoutMs: 10_000,
      extraArgs: ['-inf', inf, '-au', 'alice', '-ap', passwords.get('alice')!],
    });
    assertSippOk([r]);
    assert.deepEqual(registerFinals(r), [401, 200], r.flow);
    assert.deepEqual(await contactsOf(adminUrl, `alice@${HOST}`), [`sip:alice@${HOST}:${contactPort}`]);
  });

  it('gives bob no 200 with a wrong password', async () => {
    const contactPort = await allocatePort(HOST);
    const inf = backend.workDir.file('bob.csv');
    writeFileSync(inf, `SEQUENTIAL\nbob;${HOST};${contactPort}\n`);
    const r = await backend.runSipp({
      name: 'register-bob-wrong',
      scenario: registerDigest,
      remote: `${HOST}:${port}`,
      keys: { expires: 600 },
      timeoutMs: 10_000,
      extraArgs: ['-inf', inf, '-au', 'bob', '-ap', `${passwords.get('bob')!}x`],
    });
    assert.notEqual(r.exitCode, 0, r.flow);
    assert.ok(!registerFinals(r).includes(200), r.flow);
    assert.deepEqual(await contactsOf(adminUrl, `bob@${HOST}`), []);
  });

  it("runs the banner's SIPp command verbatim; its contact names SIPp's own port", async () => {
    const line = /^SIPp: (sipp .+)$/m.exec(banner)?.[1];
    assert.ok(line !== undefined, banner);
    const args = line.split(' ').slice(1);
    assert.equal(args[0], `${HOST}:${port}`);
    const sippPort = Number(args[args.indexOf('-p') + 1]);
    const inf = args[args.indexOf('-inf') + 1]!;
    assert.equal(readFileSync(resolve(repoRoot, inf), 'utf8').trim().split('\n')[1], `alice;${HOST};${sippPort}`);
    // From the repository root, as a user copies it (paths in the command are relative to it).
    const r = spawnSync('sipp', [...args, '-timeout', '10s', '-timeout_error'], { cwd: repoRoot, encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, `${r.stdout.slice(-2000)}\n${r.stderr}`);
    assert.ok((await contactsOf(adminUrl, `alice@${HOST}`)).includes(`sip:alice@${HOST}:${sippPort}`));
  });

  it("sends a call to carol, who has no phone registered, to the lab's voicemail, which answers", async () => {
    assert.match(banner, /voicemail +sip:127\.0\.0\.2:\d+ \(UDP, built-in engine/, banner);
    const r = await backend.runSipp({
      name: 'call-carol-voicemail',
      scenario: callDigest,
      remote: `${HOST}:${port}`,
      keys: { caller: 'alice', callee: 'carol', domain: HOST },
      timeoutMs: 20_000,
      extraArgs: ['-au', 'alice', '-ap', passwords.get('alice')!],
    });
    assertSippOk([r]);
    const finals = (method: string) => receivedBy(r, { cseqMethod: method }).map((m) => m.status!).filter((s) => s >= 200);
    assert.deepEqual(finals('INVITE'), [407, 200], r.flow);
    assert.deepEqual(finals('BYE'), [200], r.flow);
    voicemailCallId = sentBy(r, { method: 'INVITE' })[0]!.header('call-id')!;
  });

  it('sends the call records to the RADIUS server of --radius (radius-acct): Start and Stop', async () => {
    assert.match(banner, new RegExp(`RADIUS accounting +radius-acct -> ${radius.address.replace(/\./g, '\\.')}`), banner);
    assert.notEqual(voicemailCallId, '', 'the voicemail call ran first');
    // radius-acct follows the journal the proxy appends to; wait for both records to arrive.
    const statuses = (): string[] => radius.readDetail().filter((d) => d.attrs['Acct-Session-Id'] === voicemailCallId).map((d) => d.attrs['Acct-Status-Type']!);
    for (let i = 0; i < 150 && !(statuses().includes('Start') && statuses().includes('Stop')); i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(statuses().sort(), ['Start', 'Stop'], radius.logTail());
  });

  it('routes a long-distance number of alice to the --gateway in E.164 (dial plan, LCR); carol may not call it', async () => {
    const trace = backend.workDir.file('gateway-messages.log');
    const gateway = await ManagedProcess.launch({
      name: 'gateway',
      command: 'sipp',
      args: ['-sf', join(repoRoot, 'integration', 'scenarios', 'uas-answer.xml'), '-i', GATEWAY_HOST, '-p', String(gatewayPort), '-m', '1', '-trace_msg', '-message_file', trace, '-nostdin', '-timeout', '30s'],
      logFile: backend.workDir.file('gateway.log'),
    });
    try {
      const call = (caller: string, name: string) => backend.runSipp({
        name,
        scenario: callDigest,
        remote: `${HOST}:${port}`,
        keys: { caller, callee: '12125550100', domain: HOST },
        timeoutMs: 20_000,
        extraArgs: ['-au', caller, '-ap', passwords.get(caller)!],
      });
      const finals = (r: SippResult, method: string) => receivedBy(r, { cseqMethod: method }).map((m) => m.status!).filter((st) => st >= 200);
      // ACL group ld is missing: the dial plan refuses before any gateway is tried.
      const carol = await call('carol', 'call-pstn-carol');
      assert.deepEqual(finals(carol, 'INVITE'), [407, 403], carol.flow);
      const alice = await call('alice', 'call-pstn-alice');
      assertSippOk([alice]);
      assert.deepEqual(finals(alice, 'INVITE'), [407, 200], alice.flow);
      assert.deepEqual(finals(alice, 'BYE'), [200], alice.flow);
      const exit = await gateway.waitForExit(10_000);
      assert.equal(exit.code, 0, gateway.outputTail());
      assert.match(readFileSync(trace, 'latin1'), new RegExp(`^INVITE sip:\\+12125550100@${GATEWAY_HOST.replace(/\./g, '\\.')}:${gatewayPort} SIP/2\\.0`, 'm'));
    } finally {
      if (gateway.running) await gateway.stop();
    }
  });

  it('stops every program on Ctrl-C (SIGINT) and frees the ports', async () => {
    process.kill(lab.pid, 'SIGINT');
    const exit = await lab.waitForExit(15_000);
    assert.deepEqual(exit, { code: 0, signal: null }, lab.outputTail());
    assert.ok(await isPortFree(port, HOST), `SIP port ${port} still bound after the lab stopped`);
    await assert.rejects(fetch(`${adminUrl}/health`), 'the proxy admin API still answers');
  });
});
