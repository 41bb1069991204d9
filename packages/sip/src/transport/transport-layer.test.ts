/**
 * Transport layer on real sockets (127.0.0.1 and ::1): UDP and TCP delivery, received/rport
 * stamping and response routing (RFC 3261 §18.2, RFC 3581), TCP framing over the wire,
 * keepalives, connection reuse, size limits and failures. No timing thresholds: every wait
 * is for an event.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createResponse, isRequest, parseMessage } from '../message/index.js';
import type { SipParseError, SipRequest, SipResponse } from '../message/index.js';
import { TransportLayer } from './transport-layer.js';
import type { TcpTransport } from './tcp-transport.js';
import type { IncomingMessage, MessageSource, Transport, TransportAddress, TransportSink } from './types.js';
import type { UdpTransport } from './udp-transport.js';

type Event =
  | { kind: 'message'; msg: IncomingMessage }
  | { kind: 'parseError'; error: SipParseError; partial: SipRequest | SipResponse | null; source: MessageSource }
  | { kind: 'transportError'; dest: TransportAddress; err: Error };

/** Records what the layer delivers; tests await events in order. */
class Sink implements TransportSink {
  private readonly queue: Event[] = [];
  private waiter: ((e: Event) => void) | null = null;
  /** When set, parse errors of requests are answered like the transaction layer does. */
  answerWith: TransportLayer | null = null;
  /** The next n messages make onMessage throw (a buggy upper layer). */
  throwOnMessage = 0;

  onMessage(msg: IncomingMessage): void {
    if (this.throwOnMessage > 0) {
      this.throwOnMessage--;
      throw new Error('sink bug');
    }
    this.push({ kind: 'message', msg });
  }
  onParseError(error: SipParseError, partial: SipRequest | SipResponse | null, source: MessageSource): void {
    if (this.answerWith !== null && partial !== null && isRequest(partial)) {
      this.answerWith.sendResponse(createResponse(partial, error.status, error.reason), source);
    }
    this.push({ kind: 'parseError', error, partial, source });
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

/** Waits (yielding to the event loop, no time limit of its own) until `pred` holds. */
async function until(pred: () => boolean): Promise<void> {
  while (!pred()) await new Promise((resolve) => setTimeout(resolve, 5));
}

const layers: TransportLayer[] = [];
after(async () => {
  await Promise.all(layers.map((l) => l.close()));
});

async function node(
  protocol: 'UDP' | 'TCP',
  address: string,
  opts: Partial<ConstructorParameters<typeof TransportLayer>[0]> = {},
): Promise<{ layer: TransportLayer; sink: Sink; t: Transport }> {
  const layer = new TransportLayer({ maxMessageSize: 65535, ...opts });
  layers.push(layer);
  const sink = new Sink();
  layer.setSink(sink);
  const t = await layer.listen({ protocol, address, port: 0 });
  return { layer, sink, t };
}

function request(via: string, method = 'OPTIONS', body = ''): Buffer {
  return Buffer.from(
    `${method} sip:bob@example.com SIP/2.0\r\n` +
      `Via: ${via}\r\n` +
      'Max-Forwards: 70\r\n' +
      'From: <sip:alice@example.com>;tag=a1\r\n' +
      'To: <sip:bob@example.com>\r\n' +
      `Call-ID: ${Math.random().toString(36).slice(2)}@test\r\n` +
      `CSeq: 1 ${method}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    'latin1',
  );
}

function hostport(t: Transport): string {
  const a = t.local.address;
  return `${a.includes(':') ? `[${a}]` : a}:${t.local.port}`;
}

for (const [family, address] of [
  ['IPv4', '127.0.0.1'],
  ['IPv6', '::1'],
] as const) {
  describe(`UDP over ${family}`, () => {
    it('delivers a request with its real source; the response returns to it', async () => {
      const a = await node('UDP', address);
      const b = await node('UDP', address);
      a.layer.send(request(`SIP/2.0/UDP ${hostport(a.t)};branch=z9hG4bK1`), { protocol: 'UDP', address, port: b.t.local.port });
      const m = await b.sink.message();
      assert.equal(m.source.protocol, 'UDP');
      assert.equal(m.source.address, address);
      assert.equal(m.source.port, a.t.local.port);
      assert.deepEqual(m.source.local, b.t.local);
      assert.equal(m.source.connectionId, null);
      const req = m.message as SipRequest;
      // sent-by equals the source and no rport: nothing is added (RFC 3261 §18.2.1).
      assert.equal(req.topVia.received, null);
      assert.equal(req.headers.get('via'), `SIP/2.0/UDP ${hostport(a.t)};branch=z9hG4bK1`);
      b.layer.sendResponse(createResponse(req, 200), m.source);
      const r = await a.sink.message();
      assert.equal((r.message as SipResponse).status, 200);
      assert.equal(r.source.port, b.t.local.port);
    });

    it('RFC 3581: bare rport gets the source port and received; the response goes there', async () => {
      const a = await node('UDP', address);
      const b = await node('UDP', address);
      // The client thinks it is 10.1.1.1:4540 (behind NAT); it really sends from a's socket.
      const fake = family === 'IPv4' ? '10.1.1.1:4540' : '[2001:db8::1]:4540';
      a.layer.send(request(`SIP/2.0/UDP ${fake};rport;branch=z9hG4bK2`), { protocol: 'UDP', address, port: b.t.local.port });
      const m = await b.sink.message();
      const via = (m.message as SipRequest).topVia;
      assert.equal(via.rport, a.t.local.port);
      assert.equal(via.received, address);
      assert.equal(via.branch, 'z9hG4bK2');
      b.layer.sendResponse(createResponse(m.message as SipRequest, 200), m.source);
      const r = await a.sink.message();
      assert.equal((r.message as SipResponse).status, 200);
      // The response carries the stamped Via back.
      assert.equal((r.message as SipResponse).topVia.rport, a.t.local.port);
    });

    it('RFC 3581: rport is stamped with received even when sent-by equals the source', async () => {
      const a = await node('UDP', address);
      const b = await node('UDP', address);
      a.layer.send(request(`SIP/2.0/UDP ${hostport(a.t)};rport;branch=z9hG4bK2b`), { protocol: 'UDP', address, port: b.t.local.port });
      const via = ((await b.sink.message()).message as SipRequest).topVia;
      assert.equal(via.received, address);
      assert.equal(via.rport, a.t.local.port);
    });

    it('RFC 3261 §18.2.1: a sent-by host other than the source gets received; the response uses the sent-by port', async () => {
      const a = await node('UDP', address);
      const b = await node('UDP', address);
      const other = family === 'IPv4' ? '192.0.2.55' : '[2001:db8::55]';
      a.layer.send(request(`SIP/2.0/UDP ${other}:${a.t.local.port};branch=z9hG4bK3`), { protocol: 'UDP', address, port: b.t.local.port });
      const m = await b.sink.message();
      const via = (m.message as SipRequest).topVia;
      assert.equal(via.received, address);
      assert.equal(via.rport, null);
      // Without a source hint the response still reaches a: received + sent-by port.
      b.layer.sendResponse(createResponse(m.message as SipRequest, 202));
      assert.equal(((await a.sink.message()).message as SipResponse).status, 202);
    });

    it('ignores CRLF keepalives; reports garbage as a parse error; survives a throwing sink', async () => {
      const a = await node('UDP', address);
      const b = await node('UDP', address);
      const dest: TransportAddress = { protocol: 'UDP', address, port: b.t.local.port };
      a.layer.send(Buffer.from('\r\n\r\n'), dest);
      a.layer.send(Buffer.from('\x00\x01binary junk'), dest);
      const e = await b.sink.next();
      assert.equal(e.kind, 'parseError');
      b.sink.throwOnMessage = 1;
      a.layer.send(request(`SIP/2.0/UDP ${hostport(a.t)};branch=z9hG4bK4`), dest);
      // The next datagram is still processed (the throw was caught and counted).
      const marker = request(`SIP/2.0/UDP ${hostport(a.t)};branch=z9hG4bK5`);
      a.layer.send(marker, dest);
      const m = await b.sink.message();
      assert.equal((m.message as SipRequest).topVia.branch, 'z9hG4bK5');
      assert.equal(b.layer.stats.keepalives, 1);
      assert.equal(b.layer.stats.internalErrors, 1);
    });

    it('reports a send to an unusable destination through onTransportError', async () => {
      const a = await node('UDP', address);
      a.layer.send(Buffer.from('x'), { protocol: 'UDP', address, port: 0 });
      const e = await a.sink.next();
      assert.equal(e.kind, 'transportError');
      assert.equal((e as { err: { code?: string } }).err.code, 'SIP_ERR_BAD_DESTINATION');
      // No TCP listener: no transport at all.
      a.layer.send(Buffer.from('x'), { protocol: 'TCP', address, port: 5060 });
      const e2 = await a.sink.next();
      assert.equal((e2 as { err: { code?: string } }).err.code, 'SIP_ERR_NO_TRANSPORT');
    });
  });

  describe(`TCP over ${family}`, () => {
    it('request and response share one connection, reused in both directions', async () => {
      const a = await node('TCP', address);
      const b = await node('TCP', address);
      const to: TransportAddress = { protocol: 'TCP', address, port: b.t.local.port };
      a.layer.send(request(`SIP/2.0/TCP ${hostport(a.t)};branch=z9hG4bKt1`), to);
      const m = await b.sink.message();
      assert.equal(m.source.protocol, 'TCP');
      assert.notEqual(m.source.connectionId, null);
      assert.notEqual(m.source.port, a.t.local.port); // ephemeral client port
      b.layer.sendResponse(createResponse(m.message as SipRequest, 200), m.source);
      const r = await a.sink.message();
      assert.equal((r.message as SipResponse).status, 200);
      // A second request from a reuses its connection.
      a.layer.send(request(`SIP/2.0/TCP ${hostport(a.t)};branch=z9hG4bKt2`), to);
      const m2 = await b.sink.message();
      assert.equal(m2.source.connectionId, m.source.connectionId);
      // b sending to a's connection address (its NATed "contact") reuses the inbound connection.
      b.layer.send(request(`SIP/2.0/TCP ${hostport(b.t)};branch=z9hG4bKt3`), { protocol: 'TCP', address, port: m.source.port });
      const back = await a.sink.message();
      assert.equal((back.message as SipRequest).topVia.branch, 'z9hG4bKt3');
      assert.equal(back.source.connectionId, r.source.connectionId);
      assert.equal((a.t as TcpTransport).connectionCount, 1);
      assert.equal((b.t as TcpTransport).connectionCount, 1);
    });

    it('frames messages written whole, byte by byte and at random splits', async () => {
      const b = await node('TCP', address);
      const body = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n';
      const msgs = Array.from({ length: 6 }, (_, i) => request(`SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKf${i}`, 'INVITE', body));
      const stream = Buffer.concat(msgs);
      const sock = net.connect({ host: address, port: b.t.local.port });
      await new Promise((resolve) => sock.once('connect', resolve));
      sock.setNoDelay(true);
      // whole
      sock.write(stream);
      // byte by byte
      for (let i = 0; i < stream.length; i++) sock.write(stream.subarray(i, i + 1));
      // random splits
      let seed = 3;
      let pos = 0;
      while (pos < stream.length) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        const n = 1 + (seed % 200);
        sock.write(stream.subarray(pos, pos + n));
        pos += n;
      }
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < msgs.length; i++) {
          const m = await b.sink.message();
          const req = m.message as SipRequest;
          assert.equal(req.topVia.branch, `z9hG4bKf${i}`);
          assert.equal(req.body.toString('latin1'), body);
        }
      }
      sock.destroy();
    });

    it('answers a double-CRLF ping with a single CRLF (RFC 5626 §3.5.1)', async () => {
      const b = await node('TCP', address);
      const sock = net.connect({ host: address, port: b.t.local.port });
      const got = new Promise<string>((resolve) => sock.once('data', (d) => resolve(d.toString('latin1'))));
      sock.write('\r\n\r\n');
      assert.equal(await got, '\r\n');
      sock.destroy();
    });

    it('answers an oversized message 513 on the connection, then closes it', async () => {
      const b = await node('TCP', address, { maxMessageSize: 1000 });
      b.sink.answerWith = b.layer;
      const sock = net.connect({ host: address, port: b.t.local.port });
      const chunks: Buffer[] = [];
      sock.on('data', (d) => chunks.push(d));
      const closed = new Promise((resolve) => sock.once('close', resolve));
      sock.write(request(`SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKbig`, 'INVITE', 'x'.repeat(2000)));
      const e = await b.sink.next();
      assert.equal(e.kind, 'parseError');
      assert.equal((e as { error: SipParseError }).error.status, 513);
      await closed;
      const r = parseMessage(Buffer.concat(chunks));
      assert.equal(r.ok, true);
      assert.equal((r.message as SipResponse).status, 513);
      assert.equal((r.message as SipResponse).topVia.branch, 'z9hG4bKbig');
    });

    it('closes idle connections after the idle timeout', async () => {
      const b = await node('TCP', address, { tcpIdleTimeout: 50 });
      const sock = net.connect({ host: address, port: b.t.local.port });
      await new Promise((resolve) => sock.once('connect', resolve));
      // The server closes it (the client never does); then it is forgotten.
      await new Promise((resolve) => sock.once('close', resolve));
      await until(() => (b.t as TcpTransport).connectionCount === 0);
    });

    it('reports a refused connection through onTransportError', async () => {
      const a = await node('TCP', address);
      // A port that was just free: bind, note, close.
      const probe = net.createServer();
      await new Promise<void>((resolve) => probe.listen(0, address, resolve));
      const port = (probe.address() as net.AddressInfo).port;
      await new Promise((resolve) => probe.close(resolve));
      a.layer.send(request(`SIP/2.0/TCP ${hostport(a.t)};branch=z9hG4bKr`), { protocol: 'TCP', address, port });
      const e = await a.sink.next();
      assert.equal(e.kind, 'transportError');
      assert.equal((e as { dest: TransportAddress }).dest.port, port);
      assert.equal((e as { err: { code?: string } }).err.code, 'ECONNREFUSED');
    });
  });
}

describe('TransportLayer', () => {
  it('viaFor names the advertised host and port, bracketing IPv6', async () => {
    const layer = new TransportLayer({ maxMessageSize: 65535 });
    layers.push(layer);
    const t4 = await layer.listen({ protocol: 'UDP', address: '127.0.0.1', port: 0 });
    const t6 = await layer.listen({ protocol: 'TCP', address: '::1', port: 0 });
    const adv = await layer.listen({ protocol: 'UDP', address: '127.0.0.1', port: 0, advertise: { host: 'sip.example.com', port: 5060 } });
    assert.equal(layer.viaFor(t4, 'z9hG4bKx'), `SIP/2.0/UDP 127.0.0.1:${t4.local.port};branch=z9hG4bKx;rport`);
    assert.equal(layer.viaFor(t6, 'z9hG4bKy'), `SIP/2.0/TCP [::1]:${t6.local.port};branch=z9hG4bKy;rport`);
    assert.equal(layer.viaFor(adv, 'z9hG4bKz'), 'SIP/2.0/UDP sip.example.com:5060;branch=z9hG4bKz;rport');
  });

  it('select() picks by protocol and address family, preferring the given transport', async () => {
    const layer = new TransportLayer({ maxMessageSize: 65535 });
    layers.push(layer);
    const u4 = await layer.listen({ protocol: 'UDP', address: '127.0.0.1', port: 0 });
    const u4b = await layer.listen({ protocol: 'UDP', address: '127.0.0.1', port: 0 });
    const u6 = await layer.listen({ protocol: 'UDP', address: '::1', port: 0 });
    const t4 = await layer.listen({ protocol: 'TCP', address: '127.0.0.1', port: 0 });
    assert.equal(layer.select({ protocol: 'UDP', address: '192.0.2.1', port: 5060 }), u4);
    assert.equal(layer.select({ protocol: 'UDP', address: '192.0.2.1', port: 5060 }, u4b), u4b);
    assert.equal(layer.select({ protocol: 'UDP', address: '2001:db8::1', port: 5060 }, u4b), u6);
    assert.equal(layer.select({ protocol: 'TCP', address: '192.0.2.1', port: 5060 }, u4), t4);
    assert.equal(layer.select({ protocol: 'TCP', address: '2001:db8::1', port: 5060 }), null);
    await assert.rejects(layer.listen({ protocol: 'TLS', address: '127.0.0.1', port: 0 }), { code: 'SIP_ERR_TLS_CREDENTIALS' });
  });

  it('responseRoute follows RFC 3261 §18.2.2 and RFC 3581 §4', async () => {
    const layer = new TransportLayer({ maxMessageSize: 65535 });
    layers.push(layer);
    const udp = await layer.listen({ protocol: 'UDP', address: '127.0.0.1', port: 0 });
    const tcp = await layer.listen({ protocol: 'TCP', address: '127.0.0.1', port: 0 });
    const route = (via: string, source?: MessageSource): [string, number, number | null, string] | null => {
      const req = parseMessage(request(via)).message as SipRequest;
      const r = layer.responseRoute(createResponse(req, 200), source);
      return r === null ? null : [r.address, r.port, r.connectionId, r.transport.protocol];
    };
    const src: MessageSource = { protocol: 'TCP', address: '192.0.2.9', port: 33333, local: tcp.local, connectionId: 12 };
    // Reliable: the request's connection; fallback received (or host) + sent-by port.
    assert.deepEqual(route('SIP/2.0/TCP 192.0.2.1:5070;branch=z9hG4bK;received=192.0.2.9', src), ['192.0.2.9', 5070, 12, 'TCP']);
    assert.deepEqual(route('SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK'), ['192.0.2.1', 5060, null, 'TCP']);
    // maddr wins for UDP, with the sent-by port.
    assert.deepEqual(route('SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK;maddr=192.0.2.77;received=192.0.2.9'), ['192.0.2.77', 5070, null, 'UDP']);
    // received + rport; received + sent-by port; received + default port.
    assert.deepEqual(route('SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK;received=192.0.2.9;rport=40000'), ['192.0.2.9', 40000, null, 'UDP']);
    assert.deepEqual(route('SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK;received=192.0.2.9'), ['192.0.2.9', 5070, null, 'UDP']);
    assert.deepEqual(route('SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK;received=192.0.2.9'), ['192.0.2.9', 5060, null, 'UDP']);
    // Not receiver-tagged: sent-by.
    assert.deepEqual(route('SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK'), ['192.0.2.1', 5070, null, 'UDP']);
    // A sent-by name cannot be resolved here (RFC 3263 §5 is the caller's): no route.
    assert.equal(route('SIP/2.0/UDP proxy.example.com:5070;branch=z9hG4bK'), null);
    // The socket the request came in on is used when it fits.
    const other = await layer.listen({ protocol: 'UDP', address: '127.0.0.1', port: 0 });
    const r = layer.responseRoute(
      createResponse(parseMessage(request('SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK')).message as SipRequest, 200),
      { protocol: 'UDP', address: '192.0.2.1', port: 5070, local: other.local, connectionId: null },
    );
    assert.equal(r?.transport, other);
    assert.notEqual(r?.transport, udp);
  });

  it('applies the UDP receive buffer size option', async () => {
    const plain = await node('UDP', '127.0.0.1');
    const small = await node('UDP', '127.0.0.1', { udpRecvBufferSize: 8192 });
    const s = (small.t as UdpTransport).recvBufferSize;
    assert.ok(s >= 8192, `got ${s}`);
    assert.ok(s < (plain.t as UdpTransport).recvBufferSize, `option ignored: ${s}`);
  });
});
