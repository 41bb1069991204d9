import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostMask, isTargetUri, lcrTransportName, normalizeIp, parseGatewayHost, regexProblem } from './provider-rows.js';

describe('provider rows', () => {
  it('parseGatewayHost: IP to ip_addr, name to hostname, ports, bracketed IPv6 (RFC 3261 §19.1.1 hostport)', () => {
    const ok: [string, string | null, string | null, number | null][] = [
      ['192.0.2.50', '192.0.2.50', null, null],
      ['192.0.2.50:5070', '192.0.2.50', null, 5070],
      ['2001:DB8::9', '2001:db8::9', null, null],
      ['[2001:db8::9]', '2001:db8::9', null, null],
      ['[2001:db8::9]:5080', '2001:db8::9', null, 5080],
      ['PSTN.example.net', null, 'pstn.example.net', null],
      ['pstn.example.net:5061', null, 'pstn.example.net', 5061],
      ['gw1', null, 'gw1', null],
    ];
    for (const [text, ipAddr, hostname, port] of ok) assert.deepEqual(parseGatewayHost(text), { ok: true, ipAddr, hostname, port }, text);
    const bad: [string, RegExp][] = [
      ['192.0.2.50:0', /invalid port "0"/],
      ['192.0.2.50:65536', /invalid port/],
      ['192.0.2.50:', /invalid port ""/],
      ['192.0.2.50:50x', /invalid port/],
      ['999.0.2.50', /invalid gateway host/],
      ['[2001:db8::9', /unterminated IPv6/],
      ['[2001:db8::9]5080', /invalid gateway address/],
      ['[192.0.2.1]:5060', /invalid IPv6 address/],
      ['bad host', /invalid gateway host/],
      ['-gw.example.net', /invalid gateway host/],
      ['', /invalid gateway host/],
      [`${'a'.repeat(65)}`, /invalid gateway host/],
    ];
    for (const [text, re] of bad) {
      const r = parseGatewayHost(text);
      assert.equal(r.ok, false, text);
      if (!r.ok) assert.match(r.reason, re, text);
    }
  });

  it('normalizeIp, hostMask, lcrTransportName', () => {
    assert.equal(normalizeIp('192.0.2.1'), '192.0.2.1');
    assert.equal(normalizeIp('[2001:DB8::1]'), '2001:db8::1');
    assert.equal(normalizeIp('192.0.2.256'), null);
    assert.equal(normalizeIp('example.com'), null);
    assert.equal(hostMask('192.0.2.1'), 32);
    assert.equal(hostMask('2001:db8::1'), 128);
    assert.deepEqual([null, 1, 2, 3, 4, 9].map(lcrTransportName), ['udp', 'udp', 'tcp', 'tls', 'sctp', 'udp']);
  });

  it('regexProblem: column length and the proxy\'s screening (compiles, no backreferences, no nested quantifiers)', () => {
    assert.equal(regexProblem('^sip:.*@pstn\\.example\\.net$', 64), null);
    assert.equal(regexProblem('^1[2-9][0-9]{9}$', 64), null);
    assert.match(regexProblem('', 64)!, /is empty/);
    assert.match(regexProblem('a'.repeat(65), 64)!, /longer than 64/);
    assert.match(regexProblem('^(1', 64)!, /not a usable regular expression/);
    assert.match(regexProblem('^(a+)+$', 64)!, /nested quantifiers/);
    assert.match(regexProblem('^(a)\\1$', 64)!, /backreferences/);
  });

  it('isTargetUri: sip, sips and tel within the column size', () => {
    for (const u of ['sip:bob@example.com', 'SIPS:bob@example.com:5061;transport=tls', 'sip:+12125550100@example.com;user=phone', 'tel:+12125550100', 'tel:555-0100;phone-context=example.com']) {
      assert.equal(isTargetUri(u, 128), true, u);
    }
    for (const u of ['bob@example.com', 'http://example.com/', 'sip:', 'sip:bob@example.com <x>', 'tel:abc', `sip:${'a'.repeat(130)}@example.com`]) {
      assert.equal(isTargetUri(u, 128), false, u);
    }
  });
});
