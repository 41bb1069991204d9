/**
 * Record-Route values of RFC 3261 §16.6 step 4 across transports: one entry on the socket the
 * request came in on, two (`r2=on`) when it crosses sockets (UDP↔TLS), `transport=tls` on the
 * TLS side, and SIPS URIs when the request is a SIPS request (RFC 5630 §3.2: no transport=tls).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Transport, TransportProtocol } from '@voip/sip';
import { recordRouteValues } from './route-set.js';

function socket(protocol: TransportProtocol, address: string, port: number): Transport {
  return {
    protocol,
    local: { protocol, address, port },
    advertised: { host: address, port },
    reliable: protocol !== 'UDP',
    send: () => undefined,
    close: () => Promise.resolve(),
  };
}

const udp = socket('UDP', '192.0.2.1', 5060);
const tls = socket('TLS', '192.0.2.1', 5061);
const tls6 = socket('TLS', '2001:db8::1', 5061);

test('same socket in and out: one Record-Route, transport=tls on TLS', () => {
  assert.deepEqual(recordRouteValues(udp, udp, null), ['<sip:192.0.2.1:5060;lr>']);
  assert.deepEqual(recordRouteValues(tls, tls, null), ['<sip:192.0.2.1:5061;transport=tls;lr>']);
  assert.deepEqual(recordRouteValues(null, tls6, null), ['<sip:[2001:db8::1]:5061;transport=tls;lr>']);
});

test('UDP in, TLS out (and back): double Record-Route, outbound side first', () => {
  assert.deepEqual(recordRouteValues(udp, tls, null), ['<sip:192.0.2.1:5061;transport=tls;r2=on;lr>', '<sip:192.0.2.1:5060;r2=on;lr>']);
  assert.deepEqual(recordRouteValues(tls, udp, null), ['<sip:192.0.2.1:5060;r2=on;lr>', '<sip:192.0.2.1:5061;transport=tls;r2=on;lr>']);
  assert.deepEqual(recordRouteValues(udp, tls, '203.0.113.5'), ['<sip:203.0.113.5:5061;transport=tls;r2=on;lr>', '<sip:203.0.113.5:5060;r2=on;lr>']);
});

test('a SIPS request gets SIPS Record-Route URIs on TLS sockets (§16.6 step 4)', () => {
  assert.deepEqual(recordRouteValues(tls, tls, null, true), ['<sips:192.0.2.1:5061;lr>']);
  // A UDP side cannot be SIPS; it keeps a sip: URI.
  assert.deepEqual(recordRouteValues(udp, tls, null, true), ['<sips:192.0.2.1:5061;r2=on;lr>', '<sip:192.0.2.1:5060;r2=on;lr>']);
});
