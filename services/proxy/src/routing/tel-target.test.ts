import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TelUri } from '@voip/sip';
import { telTargetUri } from './tel-target.js';

function tel(s: string): TelUri {
  const t = TelUri.parse(s);
  assert.ok(t instanceof TelUri, s);
  return t;
}

test('a global number loses its visual separators and parameters (RFC 3966 §5.1.1)', () => {
  assert.equal(telTargetUri(tel('tel:+1-(212)-555.0100;ext=12'), 'example.com')?.toString(), 'sip:+12125550100@example.com');
});

test('a local number keeps its digits and is dialled from the given domain', () => {
  assert.equal(telTargetUri(tel('tel:555-0142;phone-context=example.com'), 'example.org')?.toString(), 'sip:5550142@example.org');
  // "#" is escaped in a SIP user part (RFC 3261 §25.1).
  assert.equal(telTargetUri(tel('tel:*31#;phone-context=example.com'), 'example.com')?.toString(), 'sip:*31%23@example.com');
});

test('numbers no dial plan can classify are refused', () => {
  assert.equal(telTargetUri(tel('tel:7042;phone-context=example.com'), 'example.com')?.toString(), 'sip:7042@example.com');
  assert.equal(telTargetUri(tel('tel:AB12;phone-context=example.com'), 'example.com'), null);
  assert.equal(telTargetUri(tel(`tel:+${'1'.repeat(40)}`), 'example.com'), null);
});
