import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseMessage, silentLogger, SipRequest, SipResponse, createResponse, type IncomingMessage, type Transport, type TransportSink } from '@voip/sip';
import { BINDING_FLAG_NAT, BINDING_FLAG_NAT_PING, type Binding } from '../location/binding.js';
import { LocationStore } from '../location/location-store.js';
import { NatEdgeSink } from './nat-edge-sink.js';
import { NatKeepalive, parseReceived } from './nat-keepalive.js';

interface Sent {
  buf: Buffer;
  address: string;
  port: number;
}

function fakeTransport(protocol: 'UDP' | 'TCP', port: number, sent: Sent[]): Transport {
  return {
    protocol,
    local: { protocol, address: '198.51.100.1', port },
    advertised: { host: '198.51.100.1', port },
    reliable: protocol !== 'UDP',
    send(buf: Buffer, address: string, p: number): void {
      sent.push({ buf, address, port: p });
    },
    close: async () => undefined,
  };
}

function binding(ruid: string, o: Partial<Binding> = {}): Binding {
  return {
    ruid, aor: `${ruid}@example.com`, contact: `sip:${ruid}@10.0.0.5:5060`, received: 'sip:198.51.100.2:40123;transport=udp', path: null,
    expires: Date.now() + 600_000, q: -1, callId: ruid, cseq: 1, lastModified: Date.now(), flags: 0,
    cflags: BINDING_FLAG_NAT | BINDING_FLAG_NAT_PING, userAgent: '', socket: 'udp:198.51.100.1:5060', methods: null, instance: null, regId: 0, ...o,
  };
}

function setup(maxMisses = 2) {
  const sent: Sent[] = [];
  const udp = fakeTransport('UDP', 5060, sent);
  const tcp = fakeTransport('TCP', 5060, sent);
  const location = new LocationStore();
  const ka = new NatKeepalive({
    location,
    transports: { transports: [udp, tcp], viaFor: (t, branch) => `SIP/2.0/${t.protocol} 198.51.100.1:5060;branch=${branch};rport` },
    intervalSeconds: 10,
    maxMisses,
    fromUri: 'sip:keepalive@198.51.100.1',
    logger: silentLogger,
  });
  return { sent, location, ka };
}

function parsed(buf: Buffer): SipRequest {
  const r = parseMessage(buf);
  if (!r.ok || !(r.message instanceof SipRequest)) throw new Error('not a request');
  return r.message;
}

describe('NAT keepalives', () => {
  test('an OPTIONS to the contact as registered goes to its received address; a non-NATed binding gets none', () => {
    const { sent, location, ka } = setup();
    location.upsert(binding('a'));
    location.upsert(binding('plain', { received: null, cflags: 0 }));
    ka.tick();
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.address, '198.51.100.2');
    assert.equal(sent[0]!.port, 40_123);
    const opt = parsed(sent[0]!.buf);
    assert.equal(opt.method, 'OPTIONS');
    assert.equal(opt.uri.toString(), 'sip:a@10.0.0.5:5060');
    assert.ok(opt.vias[0]!.branch!.startsWith('z9hG4bK-nk-'));
  });

  test('answered keepalives keep the binding; K unanswered ones in a row remove it', () => {
    const { sent, location, ka } = setup(2);
    location.upsert(binding('a'));
    location.upsert(binding('b', { received: 'sip:198.51.100.2:40999;transport=udp' }));
    for (let round = 0; round < 4; round++) {
      ka.tick();
      // only "a" answers (any status counts, RFC 5626 §4.4)
      for (const s of sent.splice(0)) {
        const opt = parsed(s.buf);
        if (s.port === 40_123) assert.equal(ka.onResponse(createResponse(opt, 405, 'Method Not Allowed', { toTag: 'x' })), true);
      }
    }
    assert.equal(location.lookup('a@example.com').length, 1);
    assert.equal(location.lookup('b@example.com').length, 0);
    assert.equal(ka.stats.removed, 1);
  });

  test('TCP bindings get CRLFCRLF on their flow', () => {
    const { sent, location, ka } = setup();
    location.upsert(binding('t', { received: 'sip:198.51.100.2:40200;transport=tcp', socket: 'tcp:198.51.100.1:5060' }));
    ka.tick();
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.buf.toString(), '\r\n\r\n');
    assert.equal(sent[0]!.port, 40_200);
  });

  test('the edge sink swallows keepalive replies only, and forces rport on UDP requests before any transaction', () => {
    const { ka } = setup();
    const passed: IncomingMessage[] = [];
    const inner: TransportSink = { onMessage: (m) => passed.push(m), onParseError: () => undefined };
    const sink = new NatEdgeSink(ka, inner, true);
    const source = { protocol: 'UDP' as const, address: '198.51.100.2', port: 1, local: { protocol: 'UDP' as const, address: '198.51.100.1', port: 5060 }, connectionId: null };
    const mine = new SipResponse(200, 'OK');
    mine.headers.set('Via', 'SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bK-nk-abc-1');
    const other = new SipResponse(200, 'OK');
    other.headers.set('Via', 'SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bK-other');
    sink.onMessage({ message: mine, source });
    sink.onMessage({ message: other, source });
    assert.deepEqual(passed.map((p) => p.message), [other]);
    const inv = parsed(Buffer.from('INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-x\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n'));
    sink.onMessage({ message: inv, source: { ...source, port: 40_123 } });
    assert.equal(inv.headers.get('via'), 'SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-x;received=198.51.100.2;rport=40123');
  });

  test('parseReceived', () => {
    assert.deepEqual(parseReceived('sip:198.51.100.2:40123;transport=udp'), { address: '198.51.100.2', port: 40_123 });
    assert.deepEqual(parseReceived('sip:[2001:db8::1]:5060'), { address: '2001:db8::1', port: 5060 });
    assert.equal(parseReceived('sip:host'), null);
    assert.equal(parseReceived('tel:+1'), null);
  });
});
