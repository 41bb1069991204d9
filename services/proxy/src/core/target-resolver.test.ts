/**
 * Next hop of a URI (RFC 3263 subset, RFC 3261 §19.1.2 default ports): SIPS and
 * `transport=tls` go over TLS to 5061 unless a port is given; maddr wins over the host.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SipUri, TelUri } from '@voip/sip';
import { TargetResolver, UnresolvableError } from './target-resolver.js';

function uri(s: string): SipUri {
  const u = SipUri.parse(s);
  assert.ok(u instanceof SipUri, s);
  return u;
}

test('sips: and transport=tls resolve to TLS, port 5061 by default', () => {
  const r = new TargetResolver();
  assert.deepEqual(r.resolve(uri('sips:bob@192.0.2.5')), { protocol: 'TLS', address: '192.0.2.5', port: 5061 });
  assert.deepEqual(r.resolve(uri('sip:bob@192.0.2.5;transport=tls')), { protocol: 'TLS', address: '192.0.2.5', port: 5061 });
  assert.deepEqual(r.resolve(uri('sip:bob@192.0.2.5;transport=TLS')), { protocol: 'TLS', address: '192.0.2.5', port: 5061 });
  assert.deepEqual(r.resolve(uri('sips:bob@[2001:db8::5]:5071')), { protocol: 'TLS', address: '2001:db8::5', port: 5071 });
  // A SIPS URI stays on TLS whatever its (deprecated) transport parameter says (RFC 5630 §3.2).
  assert.deepEqual(r.resolve(uri('sips:bob@192.0.2.5;transport=tcp')), { protocol: 'TLS', address: '192.0.2.5', port: 5061 });
  assert.deepEqual(r.resolve(uri('sip:192.0.2.1;transport=tls;maddr=192.0.2.9;lr')), { protocol: 'TLS', address: '192.0.2.9', port: 5061 });
});

test('sip: without transport stays UDP on 5060; a tel: URI cannot be routed', () => {
  const r = new TargetResolver();
  assert.deepEqual(r.resolve(uri('sip:bob@192.0.2.5')), { protocol: 'UDP', address: '192.0.2.5', port: 5060 });
  assert.deepEqual(r.resolve(uri('sip:bob@192.0.2.5;transport=tcp')), { protocol: 'TCP', address: '192.0.2.5', port: 5060 });
  assert.throws(() => r.resolve(new TelUri('+15551234')), UnresolvableError);
});
