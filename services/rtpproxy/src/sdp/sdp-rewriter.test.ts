import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSdp, type SessionDescription } from './sdp.js';
import { rewriteSdp, type RewriteOptions } from './sdp-rewriter.js';

function sdp(text: string): SessionDescription {
  const r = parseSdp(text);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.sdp;
}

const NATED = [
  'v=0',
  'o=alice 100 200 IN IP4 192.168.1.10',
  's=call',
  'c=IN IP4 192.168.1.10',
  't=0 0',
  'a=ice-ufrag:abcd',
  'm=audio 49170 RTP/AVP 0 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtcp:49171',
  'a=candidate:1 1 UDP 2130706431 192.168.1.10 49170 typ host',
  'a=ice-pwd:secretsecretsecretsecret',
  'a=sendrecv',
  'm=video 0 RTP/AVP 31',
  'a=inactive',
  '',
].join('\r\n');

const base: RewriteOptions = {
  anchors: [{ address: '203.0.113.5', addrType: 'IP4', rtpPort: 30000, rtcpPort: 30001 }, null],
  replaceOrigin: false,
  replaceSessionConnection: false,
  ice: null,
  iceCredentials: null,
  transportProtocol: null,
};

describe('rewriteSdp', () => {
  it('points c= and m= at the relay and states the RTCP port (RFC 3605)', () => {
    const out = rewriteSdp(sdp(NATED), base);
    const lines = out.split('\r\n');
    assert.ok(lines.includes('c=IN IP4 203.0.113.5'));
    assert.ok(lines.includes('m=audio 30000 RTP/AVP 0 101'));
    assert.ok(lines.includes('a=rtcp:30001'));
    assert.ok(!lines.includes('a=rtcp:49171'));
    assert.ok(!out.includes('192.168.1.10 49170 typ') || out.includes('a=candidate'), 'ICE untouched without ICE flag');
    // origin kept unless replace origin
    assert.ok(lines.includes('o=alice 100 200 IN IP4 192.168.1.10'));
    // disabled stream stays disabled (RFC 3264 §8.2)
    assert.ok(lines.includes('m=video 0 RTP/AVP 31'));
    assert.ok(out.endsWith('\r\n'));
  });

  it('replaces the origin address when asked', () => {
    const out = rewriteSdp(sdp(NATED), { ...base, replaceOrigin: true });
    assert.ok(out.includes('o=alice 100 200 IN IP4 203.0.113.5\r\n'));
  });

  it('removes every ICE attribute with ICE=remove', () => {
    const out = rewriteSdp(sdp(NATED), { ...base, ice: 'remove' });
    assert.ok(!/a=(candidate|ice-)/.test(out), out);
    assert.ok(out.includes('a=sendrecv'));
  });

  it('makes the relay the only ICE-lite candidate with ICE=force', () => {
    const out = rewriteSdp(sdp(NATED), { ...base, ice: 'force', iceCredentials: { ufrag: 'relayufrag', pwd: 'relaypwdrelaypwdrelaypwd' } });
    assert.ok(!out.includes('192.168.1.10 49170 typ host'));
    assert.ok(out.includes('a=ice-lite\r\n'));
    assert.ok(out.includes('a=ice-ufrag:relayufrag\r\n'));
    assert.match(out, /a=candidate:1 1 UDP \d+ 203\.0\.113\.5 30000 typ host\r\n/);
    assert.match(out, /a=candidate:1 2 UDP \d+ 203\.0\.113\.5 30001 typ host\r\n/);
  });

  it('keeps a session c= used by no relayed stream unless session-connection is asked', () => {
    const text = 'v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 10.0.0.2\r\n';
    const kept = rewriteSdp(sdp(text), { ...base, anchors: [base.anchors[0]] });
    assert.ok(kept.includes('c=IN IP4 10.0.0.1\r\n'));
    assert.ok(kept.includes('c=IN IP4 203.0.113.5\r\n'));
    const replaced = rewriteSdp(sdp(text), { ...base, anchors: [base.anchors[0]], replaceSessionConnection: true });
    assert.ok(!/c=IN IP4 10\.0\.0\./.test(replaced), replaced);
  });

  it('bridges IPv4 to IPv6 by writing the relay family', () => {
    const out = rewriteSdp(sdp(NATED), { ...base, anchors: [{ address: '2001:db8::5', addrType: 'IP6', rtpPort: 30002, rtcpPort: 30003 }, null], replaceOrigin: true });
    assert.ok(out.includes('c=IN IP6 2001:db8::5\r\n'));
    assert.ok(out.includes('o=alice 100 200 IN IP6 2001:db8::5\r\n'));
  });

  it('changes the transport protocol label when asked', () => {
    const out = rewriteSdp(sdp(NATED), { ...base, transportProtocol: 'RTP/AVPF' });
    assert.ok(out.includes('m=audio 30000 RTP/AVPF 0 101\r\n'));
  });

  it('leaves lines it does not anchor byte for byte', () => {
    const out = rewriteSdp(sdp(NATED), base);
    for (const l of ['s=call', 't=0 0', 'a=rtpmap:0 PCMU/8000', 'a=inactive', 'a=ice-ufrag:abcd']) assert.ok(out.includes(`${l}\r\n`), l);
  });

  it('requires one anchor per media section', () => {
    assert.throws(() => rewriteSdp(sdp(NATED), { ...base, anchors: [null] }), RangeError);
  });
});
