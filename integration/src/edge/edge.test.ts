/**
 * The proxy at the network edge with real programs (docs/security.md, issue 8 item 4, issue 9
 * items 3–4): `sip-proxy --db file:…` started with no auth settings at all, as a new user
 * would; SIPp 3.6 and Debian's baresip 1.0.0 register and call; a nonce issued before a
 * restart is accepted after it (the generated secret is kept in .sip-proxy/); sipvicious'
 * svwar finds no user and svcrack is blocked (probes rebuilt in sipvicious-probes.ts); no
 * relay through ACK; a flooding source is blocked while another keeps working; a SIPp burst
 * far past capacity gets 503 + Retry-After and the next normal call succeeds.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { allocatePorts, assertSippOk, createBackend, explain, receivedBy, UdpEndpoint, type Backend, type ProgramHandle } from '../harness/index.js';
import { registerPhone, type Ch5Proxy } from '../mysql/ch5-lab.js';
import { Baresip } from './baresip.js';
import { svcrack, svwar } from './sipvicious-probes.js';

const DOMAIN = 'example.com';
const USERS = { alice: 'alice-pw', bob: 'bob-pw', carol: 'carol-pw' } as const;

function edgeScenario(name: string): string {
  return fileURLToPath(new URL(`../../src/edge/scenarios/${name}.xml`, import.meta.url));
}

function md5(s: string): string {
  return createHash('md5').update(s).digest('hex');
}

async function stats(adminUrl: string): Promise<Record<string, number>> {
  return (await (await fetch(`${adminUrl}/stats`)).json()) as Record<string, number>;
}

describe('edge: sip-proxy --db with default settings', () => {
  let lab: Backend;
  let subscribers: string;
  let proxy: Ch5Proxy;
  let sipPort: number;
  let adminPort: number;
  let bobPort: number;
  let bsSip: number;
  let bsCtrl: number;

  /** The proxy exactly as a new user starts it: listen, admin, --db; no config file, no auth keys. */
  async function start(): Promise<Ch5Proxy> {
    const handle: ProgramHandle = await lab.startProgram(
      'sip-proxy',
      ['--listen', `udp:${lab.host}:${sipPort}`, '--admin', `${lab.host}:${adminPort}`, '--db', `file:${subscribers}`, '--log-level', 'warn'],
      { readyPattern: /listening on/, readyTimeoutMs: 20_000 },
    );
    return { handle, sipAddress: `${lab.host}:${sipPort}`, adminUrl: `http://${lab.host}:${adminPort}` };
  }

  before(async () => {
    lab = await createBackend('edge-defaults');
    [sipPort, adminPort, bobPort, bsSip, bsCtrl] = await allocatePorts(5);
    subscribers = lab.workDir.file('subscribers.yaml');
    writeFileSync(subscribers, stringify({ domains: [DOMAIN], subscribers: Object.entries(USERS).map(([username, password]) => ({ username, domain: DOMAIN, password })) }));
    proxy = await start();
  });

  after(async () => {
    await lab?.close();
  });

  it('SIPp 3.6 registers with digest: one challenge, MD5 (what SIPp and libre understand), then 200', async () => {
    const r = await registerPhone(lab, proxy, { user: 'bob', password: USERS.bob, contactPort: bobPort! });
    assertSippOk([r]);
    const challenge = receivedBy(r, { status: 401 });
    assert.equal(challenge.length, 1, explain([r]));
    const offered = challenge[0]!.headerLines('www-authenticate');
    assert.equal(offered.length, 1, offered.join(' | '));
    assert.match(offered[0]!, /algorithm=MD5/);
    assert.deepEqual(receivedBy(r, { cseqMethod: 'REGISTER' }).map((x) => x.status), [401, 200]);
  });

  it('baresip 1.0.0 registers and calls a SIPp phone through the proxy', async () => {
    const uas = await lab.startSipp({ name: 'uas-bob', scenario: 'uas-answer', localPort: bobPort!, timeoutMs: 30_000 });
    const phone = await Baresip.start({ dir: lab.workDir.sub('baresip'), sipPort: bsSip!, ctrlPort: bsCtrl!, aor: `alice@${DOMAIN}`, password: USERS.alice, proxy: proxy.sipAddress });
    try {
      await phone.waitRegistered(15_000);
      await phone.dial(`sip:bob@${DOMAIN}`);
      const call = await phone.waitForEvent(['CALL_ESTABLISHED', 'CALL_CLOSED'], 15_000);
      assert.equal(call.type, 'CALL_ESTABLISHED', `${call.param ?? ''}\n${phone.logTail()}\nproxy:\n${proxy.handle.logTail(4000)}`);
      await phone.command('hangup');
      await phone.waitForEvent(['CALL_CLOSED'], 10_000);
    } finally {
      await phone.stop();
    }
    const r = await uas.result(15_000);
    assertSippOk([r]);
    // The INVITE was authenticated by the proxy (407 round) and reached bob without credentials.
    const invite = receivedBy(r, { method: 'INVITE' });
    assert.equal(invite.length, 1, explain([r]));
    assert.equal(invite[0]!.header('proxy-authorization'), undefined);
  });

  it('the nonce secret is generated once and kept: a nonce issued before a restart is accepted after it', async () => {
    const secretFile = join(lab.workDir.path, '.sip-proxy', 'nonce-secret');
    assert.ok(existsSync(secretFile), 'state directory in the working directory');
    const secret = readFileSync(secretFile, 'utf8');
    const phone = await UdpEndpoint.open(lab.host);
    try {
      const callId = `restart-${Date.now()}`;
      const reg = (cseq: number, authz?: string): string =>
        [
          `REGISTER sip:${DOMAIN} SIP/2.0`,
          `Via: SIP/2.0/UDP ${phone.address}:${phone.port};branch=z9hG4bK-r${cseq}-${callId};rport`,
          'Max-Forwards: 70',
          `From: <sip:carol@${DOMAIN}>;tag=r1`,
          `To: <sip:carol@${DOMAIN}>`,
          `Call-ID: ${callId}`,
          `CSeq: ${cseq} REGISTER`,
          `Contact: <sip:carol@${phone.address}:${phone.port}>`,
          ...(authz ? [`Authorization: ${authz}`] : []),
          'Expires: 60',
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n');
      await phone.send(reg(1), lab.host, sipPort!);
      const challenge = await phone.waitFor((d) => d.message.status === 401, 5_000);
      assert.ok(challenge, 'challenged before the restart');
      const nonce = /nonce="([^"]+)"/.exec(challenge.message.header('www-authenticate')!)![1]!;

      await proxy.handle.stop();
      proxy = await start();
      assert.equal(readFileSync(secretFile, 'utf8'), secret);

      const uri = `sip:${DOMAIN}`;
      const response = md5(`${md5(`carol:${DOMAIN}:${USERS.carol}`)}:${nonce}:00000001:0a4f113b:auth:${md5(`REGISTER:${uri}`)}`);
      const authz = `Digest username="carol", realm="${DOMAIN}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="0a4f113b"`;
      const from = phone.received.length;
      await phone.send(reg(2, authz), lab.host, sipPort!);
      const final = await phone.waitFor((d) => (d.message.status ?? 0) >= 200, 5_000, from);
      assert.equal(final?.message.status, 200, final?.data.toString('latin1'));
    } finally {
      await phone.close();
    }
  });

  it('svwar-style scan: with its own User-Agent no answer at all; with any other, existing and missing users look the same', async () => {
    const extensions = ['alice', 'bob', 'carol', '100', '101', '1000', 'admin', 'test'];
    const scanned = await svwar({ host: lab.host, port: sipPort!, domain: DOMAIN, extensions, userAgent: 'friendly-scanner', localAddress: '127.0.0.61' });
    assert.deepEqual([...scanned.values()], extensions.map(() => null), 'the scanner is dropped silently');
    const disguised = await svwar({ host: lab.host, port: sipPort!, domain: DOMAIN, extensions: ['svwar-baseline-9f3a', ...extensions], userAgent: 'Linphone/5.2', localAddress: '127.0.0.62' });
    const baseline = disguised.get('svwar-baseline-9f3a');
    assert.ok(baseline, 'answered');
    const found = extensions.filter((e) => disguised.get(e)?.shape !== baseline.shape);
    assert.deepEqual(found, [], [...disguised.entries()].map(([k, v]) => `${k}: ${v?.shape}`).join('\n'));
    assert.equal(baseline.status, 401);
  });

  it('svcrack-style run: blocked after 10 wrong passwords, the right one at guess 15 is refused', async () => {
    const passwords = [...Array.from({ length: 14 }, (_, i) => `guess${i}`), USERS.carol];
    const run = await svcrack({ host: lab.host, port: sipPort!, domain: DOMAIN, extension: 'carol', passwords, userAgent: 'Linphone/5.2', localAddress: '127.0.0.63' });
    assert.equal(run.cracked, null, run.answers.join(','));
    assert.deepEqual(run.answers, [...Array(10).fill(401), ...Array(5).fill(403)]);
    const s = await stats(proxy.adminUrl);
    assert.ok(s.auth_blocks! >= 1 && s.auth_refused_blocked! >= 5, JSON.stringify(s));
    // fail2ban's failregex from docs/security.md, <HOST> as fail2ban expands it.
    const failregex = /^\{.*"event":"auth-failed","ip":"(?<host>[0-9A-Fa-f.:]+)"/m;
    const lines = proxy.handle.logTail(64 * 1024).split('\n').filter((l) => failregex.exec(l)?.groups?.host === '127.0.0.63');
    assert.equal(lines.length, 10);
  });

  it('no relay through ACK: third-party R-URI, with or without To tag, local or foreign From, is not forwarded', async () => {
    const victim = await UdpEndpoint.open(lab.host);
    const attacker = await UdpEndpoint.open('127.0.0.64');
    try {
      const target = `sip:victim@${victim.address}:${victim.port}`;
      const ack = (from: string, toTag: string | null, callId: string, route?: string): string =>
        [
          `ACK ${target} SIP/2.0`,
          `Via: SIP/2.0/UDP ${attacker.address}:${attacker.port};branch=z9hG4bK-${callId};rport`,
          'Max-Forwards: 70',
          `From: <${from}>;tag=a1`,
          `To: <${target}>${toTag ? `;tag=${toTag}` : ''}`,
          `Call-ID: ${callId}`,
          'CSeq: 1 ACK',
          ...(route ? [`Route: ${route}`] : []),
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n');
      let n = 0;
      for (const from of [`sip:alice@${DOMAIN}`, 'sip:eve@evil.example.net']) {
        for (const tag of [null, 't1']) await attacker.send(ack(from, tag, `forged-${n++}`), lab.host, sipPort!);
      }
      // Control, sent last from the same socket: an ACK following our Record-Route is relayed,
      // so when it arrives every forgery before it has been handled.
      await attacker.send(ack('sip:eve@evil.example.net', 't2', 'control', `<sip:${lab.host}:${sipPort};lr>`), lab.host, sipPort!);
      assert.ok(await victim.waitFor((d) => d.message.header('call-id') === 'control', 5_000), 'control ACK relayed');
      assert.deepEqual(victim.received.map((d) => d.message.header('call-id')), ['control']);
    } finally {
      await victim.close();
      await attacker.close();
    }
  });
});

describe('edge: flood and overload', () => {
  let lab: Backend;
  let proxy: Ch5Proxy;
  let sipPort: number;
  let bobPort: number;

  before(async () => {
    lab = await createBackend('edge-load');
    let adminPort: number;
    [sipPort, adminPort, bobPort] = (await allocatePorts(3)) as [number, number, number];
    const subscribers = lab.workDir.file('subscribers.yaml');
    writeFileSync(subscribers, stringify({ domains: [DOMAIN], subscribers: [{ username: 'bob', domain: DOMAIN, password: USERS.bob }] }));
    // Loopback is trusted by pike by default; here only SIPp's 127.0.0.1 is, so other 127.x
    // addresses play outside sources. 50 calls waiting for an answer = the proxy's capacity.
    const cfg = lab.workDir.file('proxy.yaml');
    writeFileSync(cfg, stringify({ pike: { trusted: ['127.0.0.1/32'] }, overload: { maxPendingTransactions: 50 } }));
    const handle = await lab.startProgram(
      'sip-proxy',
      ['--listen', `udp:${lab.host}:${sipPort}`, '--admin', `${lab.host}:${adminPort}`, '--db', `file:${subscribers}`, '--config', cfg, '--log-level', 'warn'],
      { readyPattern: /listening on/, readyTimeoutMs: 20_000 },
    );
    proxy = { handle, sipAddress: `${lab.host}:${sipPort}`, adminUrl: `http://${lab.host}:${adminPort}` };
    assertSippOk([await registerPhone(lab, proxy, { user: 'bob', password: USERS.bob, contactPort: bobPort })]);
  });

  after(async () => {
    await lab?.close();
  });

  it('a flooding source is blocked (one log line) while a second source keeps working', async () => {
    const flooder = await UdpEndpoint.open('127.0.0.71');
    const other = await UdpEndpoint.open('127.0.0.72');
    try {
      const options = (ep: UdpEndpoint, i: number): string =>
        [
          `OPTIONS sip:${lab.host}:${sipPort} SIP/2.0`,
          `Via: SIP/2.0/UDP ${ep.address}:${ep.port};branch=z9hG4bK-flood-${i};rport`,
          'Max-Forwards: 70',
          `From: <sip:f@${ep.address}>;tag=${i}`,
          `To: <sip:${lab.host}:${sipPort}>`,
          `Call-ID: flood-${ep.address}-${i}`,
          'CSeq: 1 OPTIONS',
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n');
      for (let i = 0; i < 300; i++) await flooder.send(options(flooder, i), lab.host, sipPort);
      await other.send(options(other, 0), lab.host, sipPort);
      assert.ok(await other.waitFor((d) => d.message.status === 200, 5_000), 'the other source is answered');
      const s = await stats(proxy.adminUrl);
      assert.equal(s.pike_blocks, 1, JSON.stringify(s));
      assert.ok(s.pike_dropped! >= 200, JSON.stringify(s));
      assert.ok(flooder.received.length <= 30, `${flooder.received.length} answers to the flood`);
      assert.equal(proxy.handle.logTail(64 * 1024).split('\n').filter((l) => l.includes('"event":"pike-blocked"')).length, 1);
    } finally {
      await flooder.close();
      await other.close();
    }
  });

  it('a SIPp burst far past capacity gets 503 + Retry-After, no crash, and a normal call succeeds right after', async () => {
    // bob rings 3 s before answering: at most 50 calls may wait, about 17 calls/s are served;
    // the burst offers 300 calls/s.
    const uas = await lab.startSipp({ name: 'uas-bob-late', scenario: 'uas-answer-late', localPort: bobPort, calls: 100_000, timeoutMs: 120_000, extraArgs: ['-d', '3000'] });
    const keys = { caller: 'carol', caller_domain: 'other.example.net', callee: 'bob', domain: DOMAIN };
    const burst = await lab.runSipp({ name: 'uac-burst', scenario: edgeScenario('uac-call-or-503'), remote: proxy.sipAddress, keys, calls: 600, timeoutMs: 90_000, extraArgs: ['-r', '300', '-l', '1000'] });
    const refused = receivedBy(burst, { status: 503 });
    const answered = receivedBy(burst, { status: 200, cseqMethod: 'INVITE' });
    assert.ok(refused.length > 0, explain([burst]));
    assert.ok(answered.length > 0, explain([burst]));
    for (const r of refused) assert.match(r.header('retry-after') ?? '', /^\d+$/);
    assert.equal(burst.exitCode, 0, `every call completed, answered or refused\n${burst.output}`);
    assert.ok(proxy.handle.alive(), 'proxy alive');
    const normal = await lab.runSipp({ name: 'uac-after', scenario: edgeScenario('uac-call-or-503'), remote: proxy.sipAddress, keys, calls: 1, timeoutMs: 20_000 });
    assertSippOk([normal]);
    assert.equal(receivedBy(normal, { status: 200, cseqMethod: 'INVITE' }).length, 1, explain([normal]));
    await uas.stop();
    const refusedCalls = new Set(refused.map((r) => r.callId)).size;
    const s = await stats(proxy.adminUrl);
    assert.ok(s.overload_rejected! >= refusedCalls, JSON.stringify(s));
    process.stdout.write(`overload: ${answered.length} calls answered, ${refusedCalls} refused with 503 + Retry-After, of 600 offered at 300/s\n`);
  });
});

