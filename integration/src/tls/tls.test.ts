/**
 * SIP over TLS through the proxy (issue 9 item 2, docs/tls.md), with the real proxy binary:
 * - `--listen tls:` with no certificate configured: the proxy generates its self-signed lab
 *   certificate in the state directory; a phone that imports that file verifies the proxy.
 * - A TLS phone registers and calls a SIPp phone on UDP: the INVITE is double record-routed
 *   (the UDP side first, the TLS side with `transport=tls`), the caller's ACK and BYE follow
 *   that route set, SIPp's scenario completes.
 * - A SIPp phone on UDP calls the TLS phone: the INVITE (and the later BYE) reach the phone
 *   over the connection it opened, although its Contact names a port nothing listens on
 *   (connection reuse, RFC 5923 alias of the Via sent-by).
 * - With `tls.verifyClient`, a client without a certificate or with one the CA did not issue
 *   is refused in the handshake; one with a CA-issued certificate registers.
 * Debian's SIPp 3.6 is built without OpenSSL, so the TLS side is TlsPhone (node:tls).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createCertificate, type CertificateFiles } from '@voip/sip';
import {
  allocatePort, assertSippOk, createBackend, explain, one, receivedBy, uriOf, uriParam,
  type Backend, type ProgramHandle, type SipText,
} from '../harness/index.js';
import { failureTracker } from '../proxy/support.js';
import { TlsPhone } from './tls-phone.js';

interface TlsProxy {
  handle: ProgramHandle;
  udpPort: number;
  tlsPort: number;
}

/** Starts `sip-proxy --listen udp:… --listen tls:…` with an optional tls config section. */
async function startTlsProxy(lab: Backend, name: string, tls?: Record<string, unknown>): Promise<TlsProxy> {
  const [udpPort, tlsPort] = [await allocatePort(lab.host), await allocatePort(lab.host)];
  const stateDir = lab.workDir.sub(`${name}-state`);
  const cfg = lab.workDir.file(`${name}.yaml`);
  writeFileSync(cfg, stringify({ stateDir, timers: { t1: 200 }, ...(tls ? { tls } : {}) }));
  const handle = await lab.startProgram(
    'sip-proxy',
    ['--listen', `udp:${lab.host}:${udpPort}`, '--listen', `tls:${lab.host}:${tlsPort}`, '--admin', '', '--config', cfg, '--log-level', 'warn'],
    { readyPattern: /listening on/, readyTimeoutMs: 20_000 },
  );
  return { handle, udpPort, tlsPort };
}

let seq = 0;
/** A request from the TLS phone: Via and Contact name its listening port, not its connection's. */
function phoneRequest(o: {
  method: string; ruri: string; host: string; phonePort: number; from: string; to: string; callId: string;
  fromTag: string; toTag?: string; cseq: number; routes?: readonly string[]; body?: string; extra?: readonly string[];
}): string {
  seq++;
  const body = o.body ?? '';
  return [
    `${o.method} ${o.ruri} SIP/2.0`,
    `Via: SIP/2.0/TLS ${o.host}:${o.phonePort};branch=z9hG4bK-tls-${seq}-${o.cseq};rport`,
    'Max-Forwards: 70',
    ...(o.routes && o.routes.length > 0 ? [`Route: ${o.routes.join(', ')}`] : []),
    `From: <${o.from}>;tag=${o.fromTag}`,
    `To: <${o.to}>${o.toTag ? `;tag=${o.toTag}` : ''}`,
    `Call-ID: ${o.callId}`,
    `CSeq: ${o.cseq} ${o.method}`,
    `Contact: <sip:${o.from.slice(4).split('@')[0]}@${o.host}:${o.phonePort};transport=tls>`,
    ...(o.extra ?? []),
    ...(body ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

/** A response of the TLS phone to `req` (RFC 3261 §8.2.6), Record-Route copied for 2xx (§12.1.1). */
function phoneResponse(req: SipText, status: number, reason: string, toTag: string, contact: string, body = ''): string {
  return [
    `SIP/2.0 ${status} ${reason}`,
    ...req.headerLines('via').map((v) => `Via: ${v}`),
    ...(status >= 200 && status < 300 ? req.headerLines('record-route').map((v) => `Record-Route: ${v}`) : []),
    `From: ${req.header('from')}`,
    `To: ${req.header('to')}${/;\s*tag=/i.test(req.header('to') ?? '') ? '' : `;tag=${toTag}`}`,
    `Call-ID: ${req.callId}`,
    `CSeq: ${req.header('cseq')}`,
    `Contact: <${contact}>`,
    ...(body ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

function sdp(host: string, port: number): string {
  return `v=0\r\no=- 1 1 IN IP4 ${host}\r\ns=-\r\nc=IN IP4 ${host}\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n`;
}

function tagOf(value: string | undefined): string {
  const m = /;\s*tag=([^;\s]+)/i.exec(value ?? '');
  assert.ok(m, `no tag in ${value}`);
  return m[1]!;
}

describe('TLS: phones on TLS and UDP through the proxy', () => {
  let lab: Backend;
  let proxy: TlsProxy;
  let labCa: string;
  let alice: TlsPhone;
  /** The port alice's Via and Contact name; nothing listens there. */
  let alicePort: number;
  const t = failureTracker();

  before(async () => {
    lab = await createBackend('tls');
    proxy = await startTlsProxy(lab, 'proxy');
    alicePort = await allocatePort(lab.host);
  });

  after(async () => {
    alice?.close();
    await lab?.close({ failed: t.failed() });
  });

  it('generates a self-signed lab certificate in the state directory; a phone that imports it verifies the proxy', t.track(async () => {
    const dir = join(lab.workDir.sub('proxy-state'), 'tls');
    const pems = readdirSync(dir).filter((f) => f.endsWith('.pem'));
    assert.equal(pems.length, 1, `one lab certificate in ${dir}: ${pems.join(', ')}`);
    labCa = readFileSync(join(dir, pems[0]!), 'utf8');
    alice = await TlsPhone.connect({ host: lab.host, port: proxy.tlsPort, ca: labCa });
    assert.equal(alice.socket.authorized, true);
    assert.ok(['TLSv1.2', 'TLSv1.3'].includes(alice.socket.getProtocol() ?? ''), `protocol ${alice.socket.getProtocol()}`);
  }));

  it('the TLS phone registers, then calls a SIPp phone on UDP: double Record-Route, ACK and BYE follow it', t.track(async () => {
    const aor = (user: string): string => `sip:${user}@${lab.host}:${proxy.udpPort}`;
    const uasPort = await allocatePort(lab.host);
    const reg = await lab.runSipp({
      name: 'register-bob', scenario: 'register', remote: `${lab.host}:${proxy.udpPort}`, transport: 'udp',
      keys: { user: 'bob', contact: `sip:bob@${lab.host}:${uasPort}`, expires: 600 }, timeoutMs: 10_000,
    });
    assertSippOk([reg]);
    alice.send(phoneRequest({
      method: 'REGISTER', ruri: `sip:${lab.host}:${proxy.tlsPort};transport=tls`, host: lab.host, phonePort: alicePort,
      from: aor('alice'), to: aor('alice'), callId: 'tls-reg-alice', fromTag: 'r1', cseq: 1, extra: ['Expires: 600'],
    }));
    const regOk = await alice.response(200, 'REGISTER');
    assert.ok(regOk.values('contact').some((c) => uriParam(uriOf(c), 'transport') === 'tls'), `binding keeps transport=tls: ${regOk.values('contact').join(', ')}`);

    const uas = await lab.startSipp({ name: 'uas-bob', scenario: 'uas-answer', transport: 'udp', localPort: uasPort, timeoutMs: 20_000 });
    const callId = 'tls-call-1';
    const invite = { host: lab.host, phonePort: alicePort, from: aor('alice'), to: aor('bob'), callId, fromTag: 'a1' };
    alice.send(phoneRequest({ ...invite, method: 'INVITE', ruri: aor('bob'), cseq: 1, body: sdp(lab.host, 40000) }));
    const ok = await alice.response(200, 'INVITE');
    // §16.6 step 4 as the caller sees it in the 2xx: the UDP side on top, the TLS side below.
    const rr = ok.values('record-route');
    assert.equal(rr.length, 2, `two Record-Route entries: ${rr.join(', ')}`);
    assert.equal(uriParam(uriOf(rr[1]!), 'transport'), 'tls');
    assert.equal(uriParam(uriOf(rr[0]!), 'transport'), undefined);
    for (const v of rr) assert.notEqual(uriParam(uriOf(v), 'lr'), undefined);
    // §12.1.2: the caller's route set is the Record-Route reversed; the remote target the Contact.
    const routes = [...rr].reverse();
    const target = uriOf(ok.values('contact')[0]!);
    const toTag = tagOf(ok.header('to'));
    alice.send(phoneRequest({ ...invite, method: 'ACK', ruri: target, cseq: 1, toTag, routes }));
    alice.send(phoneRequest({ ...invite, method: 'BYE', ruri: target, cseq: 2, toTag, routes }));
    await alice.response(200, 'BYE');
    const r = await uas.result(20_000);
    const ctx = explain([r]);
    assertSippOk([r]);
    // What the UDP phone got: our UDP Via on top, the phone's TLS Via (stamped) below it.
    const got = one(receivedBy(r, { method: 'INVITE' }), 'INVITE at the UDP phone', ctx);
    const vias = got.values('via');
    assert.match(vias[0]!, /^SIP\/2\.0\/UDP /, ctx);
    assert.match(vias[1]!, /^SIP\/2\.0\/TLS /, ctx);
    assert.deepEqual(got.values('record-route'), rr, ctx);
    // The in-dialog requests were loose-routed over both of our entries to the UDP phone.
    const bye = one(receivedBy(r, { method: 'BYE' }), 'BYE at the UDP phone', ctx);
    assert.equal(bye.values('route').length, 0, ctx);
    assert.match(bye.values('via')[1]!, /^SIP\/2\.0\/TLS /, ctx);
  }));

  it('a SIPp phone on UDP calls the TLS phone: INVITE and BYE arrive over the phone\'s own connection', t.track(async () => {
    const uac = await lab.startSipp({
      name: 'uac-carol', scenario: 'uac-call', remote: `${lab.host}:${proxy.udpPort}`, transport: 'udp',
      keys: { caller: 'carol', callee: 'alice' }, timeoutMs: 20_000,
    });
    const inv = await alice.request('INVITE');
    // The R-URI is alice's registered Contact: a port nothing listens on; only reuse of her
    // connection (the alias of her Via sent-by) can deliver it, and it did.
    assert.equal(inv.requestUri, `sip:alice@${lab.host}:${alicePort};transport=tls`);
    assert.match(inv.values('via')[0]!, new RegExp(`^SIP/2\\.0/TLS ${lab.host.replace(/\./g, '\\.')}:${proxy.tlsPort};`));
    const rr = inv.values('record-route');
    assert.equal(rr.length, 2, rr.join(', '));
    assert.equal(uriParam(uriOf(rr[0]!), 'transport'), 'tls');
    const contact = `sip:alice@${lab.host}:${alicePort};transport=tls`;
    alice.send(phoneResponse(inv, 200, 'OK', 'alice-2', contact, sdp(lab.host, 40002)));
    await alice.request('ACK');
    const bye = await alice.request('BYE');
    alice.send(phoneResponse(bye, 200, 'OK', 'alice-2', contact));
    const r = await uac.result(20_000);
    assertSippOk([r]);
  }));
});

describe('TLS: client certificate verification (tls.verifyClient)', () => {
  let lab: Backend;
  let proxy: TlsProxy;
  let ca: CertificateFiles;
  let client: CertificateFiles;
  let rogue: CertificateFiles;
  const t = failureTracker();

  before(async () => {
    lab = await createBackend('tls-verify');
    const dir = lab.workDir.sub('pki');
    mkdirSync(dir, { recursive: true });
    ca = await createCertificate({ dir, name: 'ca', commonName: 'lab CA', subjectAltNames: [], authority: true });
    const issuer = { certificateFile: ca.certificateFile, privateKeyFile: ca.privateKeyFile };
    const server = await createCertificate({ dir, name: 'proxy', commonName: 'proxy', subjectAltNames: [lab.host], issuer });
    client = await createCertificate({ dir, name: 'phone', commonName: 'phone', subjectAltNames: [lab.host], issuer });
    rogue = await createCertificate({ dir, name: 'rogue', commonName: 'rogue', subjectAltNames: [lab.host] });
    proxy = await startTlsProxy(lab, 'proxy-mtls', {
      certificate: server.certificateFile, privateKey: server.privateKeyFile, ca: ca.certificateFile, verifyClient: true,
    });
  });

  after(async () => {
    await lab?.close({ failed: t.failed() });
  });

  /** Connects, sends a REGISTER and returns its final status, or the error that ended the connection. */
  async function tryRegister(opts: { cert?: string; key?: string }, user: string): Promise<number | Error> {
    let phone: TlsPhone;
    try {
      phone = await TlsPhone.connect({ host: lab.host, port: proxy.tlsPort, ca: ca.certificate, ...opts });
    } catch (err) {
      return err as Error;
    }
    try {
      const aor = `sip:${user}@${lab.host}:${proxy.udpPort}`;
      phone.send(phoneRequest({
        method: 'REGISTER', ruri: `sip:${lab.host}:${proxy.tlsPort};transport=tls`, host: lab.host, phonePort: phone.connectionPort,
        from: aor, to: aor, callId: `mtls-${user}`, fromTag: 'm1', cseq: 1, extra: ['Expires: 60'],
      }));
      // TLS 1.3 tells a client its certificate was refused only after its side of the
      // handshake: the refusal then ends the connection here.
      return (await phone.next((m) => m.status !== null && m.status >= 200, 'final response to REGISTER')).status!;
    } catch (err) {
      return err as Error;
    } finally {
      phone.close();
    }
  }

  it('refuses a client without a certificate', t.track(async () => {
    const r = await tryRegister({}, 'nocert');
    assert.ok(r instanceof Error, `expected a refused handshake, got ${String(r)}`);
  }));

  it('refuses a client whose certificate the CA did not issue', t.track(async () => {
    const r = await tryRegister({ cert: rogue.certificate, key: rogue.privateKey }, 'rogue');
    assert.ok(r instanceof Error, `expected a refused handshake, got ${String(r)}`);
  }));

  it('accepts a client with a CA-issued certificate: REGISTER gets 200', t.track(async () => {
    assert.equal(await tryRegister({ cert: client.certificate, key: client.privateKey }, 'phone'), 200);
  }));
});
