/**
 * The proxy between TLS and UDP (RFC 3261 §26.2, §16.6 step 4): a phone on TLS registers with
 * a `transport=tls` Contact naming its listening port while its connection comes from an
 * ephemeral one; its call to a UDP phone is double record-routed (UDP side first, the TLS side
 * with `transport=tls`), Via `SIP/2.0/TLS` on the TLS leg; the callee's in-dialog BYE and a
 * call to the TLS phone reach it over the connection it opened (RFC 5923 alias), no second
 * connection. The proxy runs with the generated lab certificate in a temporary state directory.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import {
  createResponse, isRequest, parseMessage, silentLogger, StreamFramer,
  type FrameSink, type SipRequest, type SipResponse, type TlsTransport,
} from '@voip/sip';
import { parseConfig } from '../config.js';
import { startProxy, type RunningProxy } from '../server.js';
import { request, UdpPeer } from '../test-support/udp-peer.js';

type Received = SipRequest | SipResponse;

/** A phone on TLS: one connection to the proxy, messages framed by Content-Length. */
class TlsPhone implements FrameSink {
  readonly inbox: Received[] = [];
  private waiter: { pred: (m: Received) => boolean; resolve: (m: Received) => void } | null = null;
  private readonly framer = new StreamFramer(65535);
  private constructor(readonly socket: tls.TLSSocket) {
    socket.on('data', (chunk: Buffer) => this.framer.push(chunk, this));
  }

  static async connect(port: number, ca: string): Promise<TlsPhone> {
    const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, ca, rejectUnauthorized: true }, () => resolve(s));
      s.once('error', reject);
    });
    return new TlsPhone(socket);
  }

  onFrame(frame: Buffer): void {
    const r = parseMessage(Buffer.from(frame));
    if (!r.ok) return;
    if (this.waiter !== null && this.waiter.pred(r.message)) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve(r.message);
    } else this.inbox.push(r.message);
  }
  onKeepalive(): void {}
  onFrameError(): void {}

  send(text: string): void {
    this.socket.write(Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'latin1'));
  }
  sendMessage(m: Received): void {
    this.socket.write(m.toBuffer());
  }
  next(pred: (m: Received) => boolean): Promise<Received> {
    const i = this.inbox.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]!);
    return new Promise((resolve) => (this.waiter = { pred, resolve }));
  }
  nextRequest(method: string): Promise<SipRequest> {
    return this.next((m) => isRequest(m) && m.method === method) as Promise<SipRequest>;
  }
  nextResponse(status: number): Promise<SipResponse> {
    return this.next((m) => !isRequest(m) && m.status === status) as Promise<SipResponse>;
  }
}

let proxy: RunningProxy;
let udpPort: number;
let tlsPort: number;
let stateDir: string;
let alice: TlsPhone;
let bob: UdpPeer;
/** The port alice's Via and Contact name: nothing listens there, only her connection can reach her. */
const ALICE_PORT = 5071;

function aliceRequest(o: { method: string; ruri: string; callId: string; cseq?: number; headers?: string[]; body?: string }): string {
  const body = o.body ?? '';
  return [
    `${o.method} ${o.ruri} SIP/2.0`,
    `Via: SIP/2.0/TLS 127.0.0.1:${ALICE_PORT};branch=z9hG4bK-${o.method}-${o.callId}-${o.cseq ?? 1};rport`,
    'Max-Forwards: 70',
    `From: <sip:alice@127.0.0.1>;tag=alice-${o.callId}`,
    `To: <${o.method === 'REGISTER' ? `sip:alice@127.0.0.1:${udpPort}` : o.ruri}>`,
    `Call-ID: ${o.callId}`,
    `CSeq: ${o.cseq ?? 1} ${o.method}`,
    `Contact: <sip:alice@127.0.0.1:${ALICE_PORT};transport=tls>`,
    ...(o.headers ?? []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\n');
}

before(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'proxy-tls-test-'));
  proxy = await startProxy(
    parseConfig({ listen: ['udp:127.0.0.1:0', 'tls:127.0.0.1:0'], stateDir, admin: { listen: '' }, logLevel: 'silent' }),
    silentLogger,
  );
  udpPort = proxy.transports.find((t) => t.protocol === 'UDP')!.local.port;
  tlsPort = proxy.transports.find((t) => t.protocol === 'TLS')!.local.port;
  bob = await UdpPeer.open('127.0.0.1');
});

after(async () => {
  alice?.socket.destroy();
  bob?.close();
  await proxy?.close();
  rmSync(stateDir, { recursive: true, force: true });
});

test('the TLS listener presents the self-signed lab certificate, which names the listen address', async () => {
  const probe = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: tlsPort, rejectUnauthorized: false }, () => resolve(s));
    s.once('error', reject);
  });
  const cert = probe.getPeerCertificate(true);
  probe.destroy();
  assert.equal(cert.subject.CN, cert.issuer.CN);
  assert.match(cert.subjectaltname ?? '', /IP Address:127\.0\.0\.1/);
  // It was written to <stateDir>/tls/: the phone imports that file and trusts exactly it.
  const files = readdirSync(join(stateDir, 'tls')).filter((f) => f.endsWith('.pem'));
  assert.equal(files.length, 1);
  alice = await TlsPhone.connect(tlsPort, readFileSync(join(stateDir, 'tls', files[0]!), 'utf8'));
  assert.equal(alice.socket.authorized, true);
});

test('REGISTER over TLS and over UDP', async () => {
  alice.send(aliceRequest({ method: 'REGISTER', ruri: `sip:127.0.0.1:${tlsPort};transport=tls`, callId: 'reg-alice', headers: ['Expires: 300'] }));
  const ok = await alice.nextResponse(200);
  assert.equal(ok.cseq.method, 'REGISTER');
  bob.send(request({ method: 'REGISTER', ruri: `sip:127.0.0.1:${udpPort}`, toUri: `sip:bob@127.0.0.1:${udpPort}`, from: bob, fromUser: 'bob', headers: ['Max-Forwards: 70', 'Expires: 300'] }), udpPort);
  assert.equal((await bob.nextResponse()).status, 200);
});

test('TLS caller to UDP callee: double Record-Route, BYE from the callee comes back on the caller\'s connection', async () => {
  const tlsTransport = proxy.transports.find((t) => t.protocol === 'TLS') as TlsTransport;
  const connections = tlsTransport.connectionCount;
  alice.send(aliceRequest({ method: 'INVITE', ruri: `sip:bob@127.0.0.1:${udpPort}`, callId: 'call-1' }));
  const inv = await bob.nextRequest('INVITE');
  // §16.6 step 8: our Via on the UDP leg is UDP; alice's TLS Via below it, stamped with her source.
  assert.equal(inv.vias[0]!.transport, 'UDP');
  assert.equal(inv.vias[1]!.transport, 'TLS');
  assert.equal(inv.vias[1]!.port, ALICE_PORT);
  // §16.6 step 4 (double record-routing): the callee's side first, then the TLS side.
  assert.deepEqual(inv.headers.values('record-route'), [
    `<sip:127.0.0.1:${udpPort};r2=on;lr>`,
    `<sip:127.0.0.1:${tlsPort};transport=tls;r2=on;lr>`,
  ]);
  // §12.1.1: the UAS copies the Record-Route values into its 2xx.
  const rr = inv.headers.values('record-route').map((v): [string, string] => ['Record-Route', v]);
  bob.sendMessage(createResponse(inv, 200, 'OK', { toTag: 'bob1', extra: [...rr, ['Contact', `<sip:bob@${bob.uri}>`]] }), udpPort);
  const ok = await alice.nextResponse(200);
  assert.equal(ok.headers.values('record-route').length, 2);
  assert.equal(ok.vias.length, 1);

  // The callee hangs up: Route set = the Record-Route as received, R-URI = alice's Contact.
  const bye = [
    `BYE sip:alice@127.0.0.1:${ALICE_PORT};transport=tls SIP/2.0`,
    `Via: SIP/2.0/UDP ${bob.uri};branch=z9hG4bK-bye-1;rport`,
    'Max-Forwards: 70',
    `Route: <sip:127.0.0.1:${udpPort};r2=on;lr>, <sip:127.0.0.1:${tlsPort};transport=tls;r2=on;lr>`,
    `From: <sip:bob@127.0.0.1:${udpPort}>;tag=bob1`,
    `To: <sip:bob@127.0.0.1:${udpPort}>;tag=alice-call-1`,
    'Call-ID: call-1',
    'CSeq: 1 BYE',
    'Content-Length: 0',
    '',
    '',
  ].join('\n');
  bob.send(bye, udpPort);
  const got = await alice.nextRequest('BYE');
  assert.equal(got.vias[0]!.transport, 'TLS');
  assert.equal(got.vias[0]!.port, tlsPort);
  assert.equal(got.headers.has('route'), false);
  alice.sendMessage(createResponse(got, 200));
  assert.equal((await bob.nextResponse((r) => r.cseq.method === 'BYE')).status, 200);
  // RFC 5923: the BYE reused alice's connection; nothing was dialled to port 5071.
  assert.equal(tlsTransport.connectionCount, connections);
});

test('UDP caller to the TLS-registered phone: the INVITE reaches it over its own connection', async () => {
  bob.send(request({ method: 'INVITE', ruri: `sip:alice@127.0.0.1:${udpPort}`, from: bob, fromUser: 'bob', callId: 'call-2', headers: ['Max-Forwards: 70'] }), udpPort);
  const inv = await alice.nextRequest('INVITE');
  assert.equal(inv.uri.toString(), `sip:alice@127.0.0.1:${ALICE_PORT};transport=tls`);
  assert.equal(inv.vias[0]!.transport, 'TLS');
  assert.deepEqual(inv.headers.values('record-route'), [
    `<sip:127.0.0.1:${tlsPort};transport=tls;r2=on;lr>`,
    `<sip:127.0.0.1:${udpPort};r2=on;lr>`,
  ]);
  alice.sendMessage(createResponse(inv, 486, 'Busy Here', { toTag: 'alice2' }));
  assert.equal((await bob.nextResponse((r) => r.status >= 200)).status, 486);
});
