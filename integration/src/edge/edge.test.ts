/**
 * The proxy at the network edge with real programs (docs/security.md, issue 8 item 4, issue 9
 * items 3–4): `sip-proxy --db file:…` started with no auth settings at all, as a new user
 * would; SIPp 3.6 and Debian's baresip 1.0.0 register and call; a nonce issued before a
 * restart is accepted after it (the generated secret is kept in .sip-proxy/); the real
 * sipvicious 0.3.3 (Debian's svwar and svcrack, sipvicious.ts) finds no user and cracks no
 * password, with the scanner drop on (no answer at all) and off (identical answers; svcrack
 * blocked after 10 guesses); no relay through ACK; a flooding source is blocked while another
 * keeps working; a SIPp burst far past capacity gets 503 + Retry-After and the next normal
 * call succeeds.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { allocatePorts, assertSippOk, createBackend, explain, receivedBy, UdpEndpoint, type Backend, type ProgramHandle } from '../harness/index.js';
import { registerPhone, type Ch5Proxy } from '../mysql/ch5-lab.js';
import { Baresip } from './baresip.js';
import { svwar as svwarProbe } from './sipvicious-probes.js';
import { svcrack, svwar, type SipviciousRun } from './sipvicious.js';

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

/** What a sipvicious run printed, for assertion messages. */
function told(r: SipviciousRun): string {
  return `stdout:\n${r.stdout}\nstderr (tail):\n${r.stderr.slice(-3000)}`;
}

/** Extensions svwar tries: the subscribers, numbers and the usual guesses. */
const EXTENSIONS = ['alice', 'bob', 'carol', '100', '101', '1000', 'admin', 'test'];

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

  it('real svwar (REGISTER, INVITE) and svcrack against the defaults: their User-Agent is dropped, no answer at all, nothing found', async () => {
    const [p1, p2, p3] = await allocatePorts(3);
    const dir = lab.workDir.sub('sipvicious-defaults');
    const common = { host: lab.host, port: sipPort!, domain: DOMAIN, dir };
    const before = await stats(proxy.adminUrl);
    for (const [method, localPort] of [['REGISTER', p1!], ['INVITE', p2!]] as const) {
      const r = await svwar({ ...common, localPort, extensions: EXTENSIONS, method, force: true });
      assert.equal(r.noResponse, true, told(r));
      assert.deepEqual([...r.found.keys()], [], told(r));
    }
    const crack = await svcrack({ ...common, localPort: p3!, user: 'carol', passwords: ['1234', 'carol', USERS.carol] });
    assert.equal(crack.noResponse, true, told(crack));
    assert.deepEqual([...crack.found.keys()], [], told(crack));
    // Each tool's first request was dropped by secfilter (it stops there), none reached auth.
    const after = await stats(proxy.adminUrl);
    assert.equal(after.secfilter_dropped! - before.secfilter_dropped!, 3, JSON.stringify(after));
    assert.equal(after.auth_failures, before.auth_failures);
  });

  // The real svwar always says `User-Agent: friendly-scanner` and compares status lines only;
  // this probe (sipvicious-probes.ts) disguises its User-Agent and compares every header name
  // and the challenge apart from its nonce, which the real tool cannot do.
  it('svwar-style probe with a disguised User-Agent: existing and missing users get answers alike in every header', async () => {
    const disguised = await svwarProbe({ host: lab.host, port: sipPort!, domain: DOMAIN, extensions: ['svwar-baseline-9f3a', ...EXTENSIONS], userAgent: 'Linphone/5.2', localAddress: '127.0.0.62' });
    const baseline = disguised.get('svwar-baseline-9f3a');
    assert.ok(baseline, 'answered');
    const found = EXTENSIONS.filter((e) => disguised.get(e)?.shape !== baseline.shape);
    assert.deepEqual(found, [], [...disguised.entries()].map(([k, v]) => `${k}: ${v?.shape}`).join('\n'));
    assert.equal(baseline.status, 401);
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

/**
 * A registrar that does tell users apart (404 for a missing one, 401 for `users`), as many
 * PBXs do: the control that shows svwar and our parsing of its table do find users when the
 * answers differ, so "none found" against the proxy means something.
 */
async function leakyRegistrar(host: string, users: readonly string[]): Promise<{ port: number; close(): void }> {
  const sock = createSocket('udp4');
  sock.on('message', (buf, rinfo) => {
    const text = buf.toString('latin1');
    const lines = text.slice(0, text.indexOf('\r\n\r\n')).split('\r\n');
    const header = (name: string): string[] => lines.filter((l) => l.toLowerCase().startsWith(`${name}:`));
    const to = header('to')[0] ?? '';
    const user = /sip:([^@>;]+)@/.exec(to)?.[1] ?? '';
    const known = users.includes(user);
    const reply = [
      known ? 'SIP/2.0 401 Unauthorized' : 'SIP/2.0 404 Not Found',
      ...header('via'),
      ...header('from'),
      `${to};tag=leaky`,
      ...header('call-id'),
      ...header('cseq'),
      ...(known ? ['WWW-Authenticate: Digest realm="example.com", nonce="0123456789abcdef", algorithm=MD5'] : []),
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    sock.send(Buffer.from(reply, 'latin1'), rinfo.port, rinfo.address);
  });
  sock.bind(0, host);
  await once(sock, 'listening');
  return { port: sock.address().port, close: () => sock.close() };
}

describe('edge: the real sipvicious with the scanner drop off (secfilter.enabled: false)', () => {
  let lab: Backend;
  let proxy: Ch5Proxy;
  let sipPort: number;
  let dir: string;

  before(async () => {
    lab = await createBackend('edge-sipvicious');
    let adminPort: number;
    [sipPort, adminPort] = (await allocatePorts(2)) as [number, number];
    dir = lab.workDir.sub('sipvicious');
    const subscribers = lab.workDir.file('subscribers.yaml');
    const users = { ...USERS, dave: 'dave-pw' };
    writeFileSync(subscribers, stringify({ domains: [DOMAIN], subscribers: Object.entries(users).map(([username, password]) => ({ username, domain: DOMAIN, password })) }));
    // Everything else at its default: svwar and svcrack cannot change their User-Agent, so
    // this is how they meet the challenges and the guessing limits.
    const cfg = lab.workDir.file('proxy.yaml');
    writeFileSync(cfg, stringify({ secfilter: { enabled: false } }));
    const handle = await lab.startProgram(
      'sip-proxy',
      ['--listen', `udp:${lab.host}:${sipPort}`, '--admin', `${lab.host}:${adminPort}`, '--db', `file:${subscribers}`, '--config', cfg, '--log-level', 'warn'],
      { readyPattern: /listening on/, readyTimeoutMs: 20_000 },
    );
    proxy = { handle, sipAddress: `${lab.host}:${sipPort}`, adminUrl: `http://${lab.host}:${adminPort}` };
  });

  after(async () => {
    await lab?.close();
  });

  it('control: svwar finds the users of a registrar that answers them differently', async () => {
    const leaky = await leakyRegistrar(lab.host, ['alice', 'bob']);
    try {
      const [localPort] = await allocatePorts(1);
      const r = await svwar({ host: lab.host, port: leaky.port, localPort: localPort!, domain: DOMAIN, dir, extensions: EXTENSIONS, method: 'REGISTER', force: false });
      assert.equal(r.baseline, 'SIP/2.0 404 Not Found', told(r));
      assert.deepEqual([...r.found.entries()].sort(), [['alice', 'reqauth'], ['bob', 'reqauth']], told(r));
    } finally {
      leaky.close();
    }
  });

  it('svwar -m REGISTER and -m INVITE find no extension: every answer is the one for a random extension', async () => {
    const [p1, p2, p3] = await allocatePorts(3);
    const common = { host: lab.host, port: sipPort, domain: DOMAIN, dir };
    // Without --force svwar gives up at once: a random extension is challenged.
    const plain = await svwar({ ...common, localPort: p1!, extensions: EXTENSIONS, method: 'REGISTER', force: false });
    assert.match(plain.stderr, /replied with an authentication request for an unknown extension/, told(plain));
    assert.deepEqual([...plain.found.keys()], [], told(plain));
    for (const [method, localPort, status] of [
      ['REGISTER', p2!, 'SIP/2.0 401 Unauthorized'],
      ['INVITE', p3!, 'SIP/2.0 407 Proxy Authentication Required'],
    ] as const) {
      const r = await svwar({ ...common, localPort, extensions: EXTENSIONS, method, force: true });
      assert.equal(r.baseline, status, told(r));
      assert.deepEqual([...r.found.keys()], [], told(r));
    }
  });

  it('svcrack: the right password at guess 25 is not cracked; blocked after 10 guesses (fail2ban lines, 403s)', async () => {
    const [p1, p2] = await allocatePorts(2);
    const common = { host: lab.host, port: sipPort, domain: DOMAIN, dir };
    // Control: with the password early svcrack cracks it (its digest and our parsing work).
    // It costs this address 2 failures; the carol run adds 10, under the per-address limit
    // (20), which svcrack must not reach: refused without a challenge it would resend
    // unauthenticated REGISTERs as fast as it can until killed.
    const control = await svcrack({ ...common, localPort: p1!, user: 'dave', passwords: ['123456', 'dave', 'dave-pw', 'password'] });
    assert.deepEqual([...control.found.entries()], [['dave', 'dave-pw']], told(control));

    const before = await stats(proxy.adminUrl);
    const passwords = [...Array.from({ length: 24 }, (_, i) => `guess${i}`), USERS.carol];
    const r = await svcrack({ ...common, localPort: p2!, user: 'carol', passwords });
    assert.deepEqual([...r.found.keys()], [], told(r));
    assert.match(r.stderr, /found nothing/, told(r));
    const s = await stats(proxy.adminUrl);
    // Guesses 1–10 failed (401 with a new challenge), 11–25 were refused 403, the last one too.
    assert.equal(s.auth_failures! - before.auth_failures!, 10, JSON.stringify(s));
    assert.equal(s.auth_refused_blocked! - before.auth_refused_blocked!, 15, JSON.stringify(s));
    const log = proxy.handle.logTail(256 * 1024).split('\n');
    // fail2ban's failregex from docs/security.md, <HOST> as fail2ban expands it.
    const failregex = /^\{.*"event":"auth-failed","ip":"(?<host>[0-9A-Fa-f.:]+)"/;
    const carol = log.filter((l) => failregex.exec(l)?.groups?.host === '127.0.0.1' && l.includes('"user":"carol"'));
    assert.equal(carol.length, 10, carol.join('\n'));
    assert.equal(log.filter((l) => l.includes('"event":"auth-blocked"') && l.includes(`"key":"carol@${DOMAIN}"`)).length, 1);
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

