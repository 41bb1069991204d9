/**
 * SIP over TLS on real sockets (127.0.0.1 and ::1) with certificates made by openssl for the
 * test: Content-Length framing over TLS (whole, byte by byte, random splits), CRLF keepalives,
 * connection reuse for responses and for requests to an aliased sent-by (RFC 5923), client
 * certificate verification (mutual TLS), server verification, the minimum TLS version and the
 * idle timeout. No timing thresholds: every wait is for an event.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { createResponse } from '../message/index.js';
import type { SipParseError, SipRequest, SipResponse } from '../message/index.js';
import { createCertificate } from './self-signed-certificate.js';
import type { CertificateFiles } from './self-signed-certificate.js';
import { TransportLayer } from './transport-layer.js';
import type { TransportLayerOptions } from './transport-layer.js';
import type { TlsCredentials, TlsTransport } from './tls-transport.js';
import type { IncomingMessage, MessageSource, Transport, TransportAddress, TransportSink } from './types.js';

type Event =
  | { kind: 'message'; msg: IncomingMessage }
  | { kind: 'parseError'; error: SipParseError; source: MessageSource }
  | { kind: 'transportError'; dest: TransportAddress; err: Error };

class Sink implements TransportSink {
  private readonly queue: Event[] = [];
  private waiter: ((e: Event) => void) | null = null;
  onMessage(msg: IncomingMessage): void {
    this.push({ kind: 'message', msg });
  }
  onParseError(error: SipParseError, _partial: SipRequest | SipResponse | null, source: MessageSource): void {
    this.push({ kind: 'parseError', error, source });
  }
  onTransportError(dest: TransportAddress, err: Error): void {
    this.push({ kind: 'transportError', dest, err });
  }
  private push(e: Event): void {
    if (this.waiter !== null) {
      const w = this.waiter;
      this.waiter = null;
      w(e);
    } else {
      this.queue.push(e);
    }
  }
  next(): Promise<Event> {
    const e = this.queue.shift();
    if (e !== undefined) return Promise.resolve(e);
    return new Promise((resolve) => (this.waiter = resolve));
  }
  async message(): Promise<IncomingMessage> {
    const e = await this.next();
    if (e.kind !== 'message') throw new Error(`expected a message, got ${e.kind}: ${JSON.stringify(e)}`);
    return e.msg;
  }
  get pending(): number {
    return this.queue.length;
  }
}

async function until(pred: () => boolean): Promise<void> {
  while (!pred()) await new Promise((resolve) => setTimeout(resolve, 5));
}

function hostport(t: Transport): string {
  const a = t.local.address;
  return `${a.includes(':') ? `[${a}]` : a}:${t.local.port}`;
}

function request(via: string, method = 'OPTIONS', body = ''): Buffer {
  return Buffer.from(
    `${method} sip:bob@192.0.2.2 SIP/2.0\r\nVia: ${via}\r\nMax-Forwards: 70\r\nFrom: <sip:alice@192.0.2.1>;tag=1\r\n` +
      `To: <sip:bob@192.0.2.2>\r\nCall-ID: tls-${method}-${via.length}@test\r\nCSeq: 1 ${method}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    'latin1',
  );
}

let dir = '';
let ca: CertificateFiles;
let server: CertificateFiles;
let client: CertificateFiles;
let rogue: CertificateFiles;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sip-tls-test-'));
  ca = await createCertificate({ dir, name: 'ca', commonName: 'test CA', subjectAltNames: [], authority: true });
  const issuer = { certificateFile: ca.certificateFile, privateKeyFile: ca.privateKeyFile };
  server = await createCertificate({ dir, name: 'server', commonName: 'proxy', subjectAltNames: ['127.0.0.1', '::1', 'localhost'], issuer });
  client = await createCertificate({ dir, name: 'client', commonName: 'phone', subjectAltNames: ['127.0.0.1'], issuer });
  rogue = await createCertificate({ dir, name: 'rogue', commonName: 'rogue', subjectAltNames: ['127.0.0.1', '::1'] });
});

const layers: TransportLayer[] = [];
after(async () => {
  await Promise.all(layers.map((l) => l.close()));
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

function credentials(c: CertificateFiles, extra: Partial<TlsCredentials> = {}): TlsCredentials {
  return { certificate: c.certificate, privateKey: c.privateKey, ca: ca.certificate, ...extra };
}

async function node(address: string, opts: Partial<TransportLayerOptions> = {}, cert: CertificateFiles = server): Promise<{ layer: TransportLayer; sink: Sink; t: TlsTransport }> {
  const layer = new TransportLayer({ maxMessageSize: 65535, tls: credentials(cert), ...opts });
  layers.push(layer);
  const sink = new Sink();
  layer.setSink(sink);
  const t = (await layer.listen({ protocol: 'TLS', address, port: 0 })) as TlsTransport;
  return { layer, sink, t };
}

/** A raw TLS client (what a phone does), connected and handshaken. */
function connectClient(address: string, port: number, opts: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: address, port, ca: ca.certificate, rejectUnauthorized: false, ...opts }, () => resolve(sock));
    sock.once('error', reject);
  });
}

/**
 * Whether a client with these options gets a TLS session the server keeps: the handshake
 * completes and the server does not abort it (TLS 1.3 reports a refused client certificate
 * only after the client's handshake finished, as an alert on the first read).
 */
async function clientAccepted(address: string, port: number, opts: tls.ConnectionOptions, probe: Buffer): Promise<boolean> {
  let sock: tls.TLSSocket;
  try {
    sock = await connectClient(address, port, opts);
  } catch {
    return false;
  }
  return new Promise((resolve) => {
    sock.once('error', () => resolve(false));
    sock.once('close', () => resolve(false));
    // A CRLF ping is answered with a CRLF pong only on an accepted connection.
    sock.once('data', () => {
      resolve(true);
      sock.destroy();
    });
    sock.write(probe);
  });
}

for (const address of ['127.0.0.1', '::1']) {
  describe(`TLS transport over ${address}`, () => {
    it('carries a request and its response on one connection, and reuses it for requests back to the aliased sent-by', async () => {
      const a = await node(address, { tls: credentials(client) }, client);
      const b = await node(address);
      assert.equal(a.t.protocol, 'TLS');
      assert.equal(a.t.reliable, true);
      assert.match(a.layer.viaFor(a.t, 'z9hG4bKx'), /^SIP\/2\.0\/TLS /);
      const to: TransportAddress = { protocol: 'TLS', address, port: b.t.local.port };
      a.layer.send(request(`SIP/2.0/TLS ${hostport(a.t)};branch=z9hG4bKs1;rport`), to);
      const m = await b.sink.message();
      assert.equal(m.source.protocol, 'TLS');
      assert.notEqual(m.source.connectionId, null);
      assert.notEqual(m.source.port, a.t.local.port); // ephemeral client port
      // RFC 3261 §18.2.2: the response goes back on the request's connection.
      b.layer.sendResponse(createResponse(m.message as SipRequest, 200), m.source);
      const r = await a.sink.message();
      assert.equal((r.message as SipResponse).status, 200);
      // RFC 5923: b's request to a's listening address (its sent-by, its Contact) reuses the
      // connection a opened instead of opening a second one.
      assert.equal(b.t.connectionTo(address, a.t.local.port), m.source.connectionId);
      b.layer.send(request(`SIP/2.0/TLS ${hostport(b.t)};branch=z9hG4bKs2`), { protocol: 'TLS', address, port: a.t.local.port });
      const back = await a.sink.message();
      assert.equal((back.message as SipRequest).topVia.branch, 'z9hG4bKs2');
      assert.equal(back.source.connectionId, r.source.connectionId);
      assert.equal(a.t.connectionCount, 1);
      assert.equal(b.t.connectionCount, 1);
    });

    it('does not alias a sent-by on another IP address (no traffic diversion)', async () => {
      const b = await node(address);
      const sock = await connectClient(address, b.t.local.port);
      sock.write(request('SIP/2.0/TLS 192.0.2.77:5061;branch=z9hG4bKfar'));
      const m = await b.sink.message();
      assert.equal((m.message as SipRequest).topVia.branch, 'z9hG4bKfar');
      assert.equal(b.t.connectionTo('192.0.2.77', 5061), null);
      sock.destroy();
    });

    it('frames messages written whole, byte by byte and at random splits', async () => {
      const b = await node(address);
      const body = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n';
      const msgs = Array.from({ length: 5 }, (_, i) => request(`SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bKf${i}`, 'INVITE', body));
      const stream = Buffer.concat(msgs);
      const sock = await connectClient(address, b.t.local.port);
      sock.setNoDelay(true);
      sock.write(stream);
      for (let i = 0; i < stream.length; i++) sock.write(stream.subarray(i, i + 1));
      let seed = 7;
      let pos = 0;
      while (pos < stream.length) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        const n = 1 + (seed % 200);
        sock.write(stream.subarray(pos, pos + n));
        pos += n;
      }
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < msgs.length; i++) {
          const req = (await b.sink.message()).message as SipRequest;
          assert.equal(req.topVia.branch, `z9hG4bKf${i}`);
          assert.equal(req.body.toString('latin1'), body);
        }
      }
      sock.destroy();
    });

    it('answers a double-CRLF ping with a single CRLF (RFC 5626 §3.5.1)', async () => {
      const b = await node(address);
      const sock = await connectClient(address, b.t.local.port);
      const got = new Promise<string>((resolve) => sock.once('data', (d: Buffer) => resolve(d.toString('latin1'))));
      sock.write('\r\n\r\n');
      assert.equal(await got, '\r\n');
      sock.destroy();
    });

    it('reports a stream without Content-Length as a 400 and closes the connection', async () => {
      const b = await node(address);
      const sock = await connectClient(address, b.t.local.port);
      const closed = new Promise((resolve) => sock.once('close', resolve));
      sock.write(Buffer.from('OPTIONS sip:x@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/TLS 192.0.2.1;branch=z9hG4bKn\r\nCall-ID: n@t\r\n\r\n', 'latin1'));
      const e = await b.sink.next();
      assert.equal(e.kind, 'parseError');
      assert.equal((e as { error: SipParseError }).error.status, 400);
      await closed;
    });
  });
}

describe('TLS client certificate verification (verifyClient)', () => {
  const ping = Buffer.from('\r\n\r\n', 'latin1');

  it('refuses a client without a certificate and one whose certificate is not from the CA; accepts a CA-issued one', async () => {
    const b = await node('127.0.0.1', { tls: credentials(server, { verifyClient: true }) });
    const port = b.t.local.port;
    assert.equal(await clientAccepted('127.0.0.1', port, {}, ping), false, 'no client certificate');
    assert.equal(await clientAccepted('127.0.0.1', port, { cert: rogue.certificate, key: rogue.privateKey }, ping), false, 'self-signed client certificate');
    await until(() => b.t.handshakeFailures >= 2);
    assert.equal(b.t.connectionCount, 0);
    assert.equal(await clientAccepted('127.0.0.1', port, { cert: client.certificate, key: client.privateKey }, ping), true, 'CA-issued client certificate');
    // Nothing reached SIP from the refused clients.
    assert.equal(b.sink.pending, 0);
  });

  it('without verifyClient any client connects (digest authenticates above the transport)', async () => {
    const b = await node('127.0.0.1');
    assert.equal(await clientAccepted('127.0.0.1', b.t.local.port, {}, ping), true);
  });

  it('refuses clients below minVersion', async () => {
    const b = await node('127.0.0.1', { tls: credentials(server, { minVersion: 'TLSv1.3' }) });
    assert.equal(await clientAccepted('127.0.0.1', b.t.local.port, { maxVersion: 'TLSv1.2' }, ping), false);
    assert.equal(await clientAccepted('127.0.0.1', b.t.local.port, { minVersion: 'TLSv1.3' }, ping), true);
  });
});

describe('TLS server verification (verifyServer)', () => {
  it('sends to a server whose certificate chains to the CA; reports a self-signed one through onTransportError', async () => {
    const a = await node('127.0.0.1', { tls: credentials(client, { verifyServer: true }) }, client);
    const good = await node('127.0.0.1');
    const bad = await node('127.0.0.1', { tls: credentials(rogue) }, rogue);
    a.layer.send(request(`SIP/2.0/TLS ${hostport(a.t)};branch=z9hG4bKv1`), { protocol: 'TLS', address: '127.0.0.1', port: good.t.local.port });
    assert.equal(((await good.sink.message()).message as SipRequest).topVia.branch, 'z9hG4bKv1');
    a.layer.send(request(`SIP/2.0/TLS ${hostport(a.t)};branch=z9hG4bKv2`), { protocol: 'TLS', address: '127.0.0.1', port: bad.t.local.port });
    const e = await a.sink.next();
    assert.equal(e.kind, 'transportError');
    assert.equal((e as { dest: TransportAddress }).dest.port, bad.t.local.port);
    assert.equal(bad.sink.pending, 0);
  });
});

describe('TLS connection management', () => {
  it('closes idle connections after the idle timeout', async () => {
    const b = await node('127.0.0.1', { tcpIdleTimeout: 50 });
    const sock = await connectClient('127.0.0.1', b.t.local.port);
    await until(() => b.t.connectionCount === 1);
    await new Promise((resolve) => sock.once('close', resolve));
    await until(() => b.t.connectionCount === 0);
  });

  it('refuses listening without credentials, and with a key that does not match the certificate', async () => {
    const layer = new TransportLayer({ maxMessageSize: 65535 });
    layers.push(layer);
    await assert.rejects(layer.listen({ protocol: 'TLS', address: '127.0.0.1', port: 0 }), { code: 'SIP_ERR_TLS_CREDENTIALS' });
    const mismatched = new TransportLayer({ maxMessageSize: 65535, tls: { certificate: server.certificate, privateKey: rogue.privateKey } });
    layers.push(mismatched);
    await assert.rejects(mismatched.listen({ protocol: 'TLS', address: '127.0.0.1', port: 0 }));
  });

  it('the lab certificate is self-signed, names its hosts and verifies as its own trust anchor', async () => {
    const lab = await createCertificate({ dir, name: 'lab', commonName: 'sip-proxy lab', subjectAltNames: ['127.0.0.1', 'sip.example.test'] });
    const b = await node('127.0.0.1', { tls: { certificate: lab.certificate, privateKey: lab.privateKey } }, lab);
    const sock = await connectClient('127.0.0.1', b.t.local.port, { ca: lab.certificate, rejectUnauthorized: true });
    assert.equal(sock.authorized, true);
    const peer = sock.getPeerCertificate();
    assert.equal(peer.subject.CN, 'sip-proxy lab');
    assert.equal(peer.issuer.CN, 'sip-proxy lab');
    assert.match(peer.subjectaltname ?? '', /IP Address:127\.0\.0\.1/);
    assert.match(peer.subjectaltname ?? '', /DNS:sip\.example\.test/);
    sock.destroy();
  });
});
