import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mediaConnection, parseSdp } from './sdp.js';

const OFFER = [
  'v=0',
  'o=alice 2890844526 2890844526 IN IP4 192.168.1.10',
  's=-',
  'c=IN IP4 192.168.1.10',
  't=0 0',
  'm=audio 49170 RTP/AVP 0 8 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=rtcp:49171',
  'a=sendrecv',
  'm=video 0 RTP/AVP 31',
  '',
].join('\r\n');

describe('parseSdp', () => {
  it('reads origin, connections, media and RTCP (RFC 4566, RFC 3605)', () => {
    const r = parseSdp(OFFER);
    assert.ok(r.ok);
    const s = r.sdp;
    assert.equal(s.origin.address, '192.168.1.10');
    assert.equal(s.origin.sessId, '2890844526');
    assert.deepEqual(s.connection, { addrType: 'IP4', address: '192.168.1.10' });
    assert.equal(s.media.length, 2);
    assert.equal(s.media[0].port, 49170);
    assert.equal(s.media[0].proto, 'RTP/AVP');
    assert.equal(s.media[0].formats, '0 8 101');
    assert.deepEqual(s.media[0].rtcp, { port: 49171, connection: null });
    assert.equal(s.media[1].port, 0);
    assert.deepEqual(mediaConnection(s, s.media[0]), s.connection);
  });

  it('accepts bare LF line ends and media-level IPv6 c= with a=rtcp address', () => {
    const r = parseSdp('v=0\no=- 1 1 IN IP6 2001:db8::1\ns=-\nt=0 0\nm=audio 5000/2 RTP/AVPF 0\nc=IN IP6 2001:db8::2\na=rtcp:6001 IN IP6 2001:db8::3\na=rtcp-mux\n');
    assert.ok(r.ok);
    const m = r.sdp.media[0];
    assert.equal(m.portCount, 2);
    assert.deepEqual(m.connection, { addrType: 'IP6', address: '2001:db8::2' });
    assert.deepEqual(m.rtcp, { port: 6001, connection: { addrType: 'IP6', address: '2001:db8::3' } });
    assert.equal(m.rtcpMux, true);
    assert.equal(r.sdp.connection, null);
  });

  it('rejects malformed bodies with a reason', () => {
    const cases: [string, string][] = [
      ['', 'empty'],
      ['o=- 1 1 IN IP4 1.2.3.4\r\n', 'v=0'],
      ['v=0\r\ns=-\r\n', 'o='],
      ['v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio abc RTP/AVP 0\r\n', 'm='],
      ['v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 70000 RTP/AVP 0\r\n', 'm='],
      ['v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP5 1.2.3.4\r\n', 'c='],
      ['v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 1 RTP/AVP 0\r\na=rtcp:x\r\n', 'rtcp'],
      ['v=0\r\nthis is not sdp\r\n', 'malformed'],
    ];
    for (const [body, why] of cases) {
      const r = parseSdp(body);
      assert.equal(r.ok, false, `accepted (${why}): ${JSON.stringify(body)}`);
    }
  });

  it('caps size', () => {
    assert.equal(parseSdp('v=0\r\n' + 'a=x\r\n'.repeat(20000)).ok, false);
  });
});
