import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildAnswer, negotiate, parseSdp } from './sdp.js';

const OFFER = [
  'v=0',
  'o=alice 2890844526 2890844526 IN IP4 192.0.2.10',
  's=-',
  'c=IN IP4 192.0.2.10',
  't=0 0',
  'm=video 51372 RTP/AVP 31',
  'm=audio 49170 RTP/AVP 18 8 0 101',
  'a=rtpmap:18 G729/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=ptime:20',
  '',
].join('\r\n');

function parsed(text: string) {
  const r = parseSdp(Buffer.from(text));
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.sdp;
}

describe('parseSdp', () => {
  it('reads origin, connection, media, static and mapped payload types', () => {
    const sdp = parsed(OFFER);
    assert.equal(sdp.origin.sessionId, '2890844526');
    assert.equal(sdp.address, '192.0.2.10');
    assert.equal(sdp.media.length, 2);
    const audio = sdp.media[1]!;
    assert.deepEqual(audio.codecs.map((c) => `${c.payloadType}:${c.name}`), ['18:G729', '8:PCMA', '0:PCMU', '101:TELEPHONE-EVENT']);
    assert.equal(audio.codecs[3]!.fmtp, '0-16');
    assert.equal(audio.ptime, 20);
    assert.equal(audio.direction, 'sendrecv');
  });

  it('media-level c= and direction override the session-level ones (RFC 4566 §5.7, RFC 3264 §5.1)', () => {
    const sdp = parsed('v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\na=sendonly\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 10.0.0.2\r\nm=audio 4002 RTP/AVP 0\r\na=inactive\r\n');
    assert.equal(sdp.media[0]!.address, '10.0.0.2');
    assert.equal(sdp.media[0]!.direction, 'sendonly');
    assert.equal(sdp.media[1]!.direction, 'inactive');
  });

  it('refuses malformed bodies with a reason instead of throwing', () => {
    for (const bad of ['', 'hello', 'v=1\r\n', 'v=0\r\no=x\r\n', 'v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio x RTP/AVP 0\r\n', 'v=0\r\nc=IN IP4\r\n', 'v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 1 RTP/AVP 0\r\na=rtpmap:0 PCMU\r\n']) {
      const r = parseSdp(Buffer.from(bad));
      assert.equal(r.ok, false, JSON.stringify(bad));
    }
    assert.equal(parseSdp(Buffer.alloc(20_000, 0x61)).ok, false);
  });
});

describe('negotiate and buildAnswer (RFC 3264 §6)', () => {
  it('takes the offerer\'s first G.711 codec and telephone-event, declines the other streams with port 0', () => {
    const sdp = parsed(OFFER);
    const n = negotiate(sdp);
    assert.ok(n.ok);
    assert.deepEqual(n.media.codec, { name: 'PCMA', payloadType: 8 });
    assert.equal(n.media.telephoneEvent, 101);
    assert.equal(n.media.remoteAddress, '192.0.2.10');
    assert.equal(n.media.remotePort, 49170);
    const answer = buildAnswer(sdp, n.media, { sessionId: '42', version: 1, address: '198.51.100.7', port: 40000 }).toString();
    const lines = answer.trim().split('\r\n');
    assert.deepEqual(lines.filter((l) => l.startsWith('m=')), ['m=video 0 RTP/AVP 31', 'm=audio 40000 RTP/AVP 8 101']);
    assert.ok(lines.includes('a=rtpmap:8 PCMA/8000'));
    assert.ok(lines.includes('a=rtpmap:101 telephone-event/8000'));
    assert.ok(lines.includes('c=IN IP4 198.51.100.7'));
    assert.ok(lines.includes('o=voicemail 42 1 IN IP4 198.51.100.7'));
    assert.ok(lines.includes('a=sendrecv'));
    // The answer parses back.
    assert.ok(parseSdp(Buffer.from(answer)).ok);
  });

  it('mirrors the direction: sendonly offer (hold) → recvonly answer', () => {
    const n = negotiate(parsed('v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\na=sendonly\r\n'));
    assert.ok(n.ok);
    assert.equal(n.media.direction, 'recvonly');
    assert.equal(n.media.telephoneEvent, null);
  });

  it('no PCMU/PCMA anywhere (or only a disabled stream) → not ok, with what was offered', () => {
    const g729 = negotiate(parsed('v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5000 RTP/AVP 18\r\n'));
    assert.equal(g729.ok, false);
    assert.match(g729.ok ? '' : g729.reason, /G729/);
    const disabled = negotiate(parsed('v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n'));
    assert.equal(disabled.ok, false);
    const pcmu16k = negotiate(parsed('v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5000 RTP/AVP 96\r\na=rtpmap:96 PCMU/16000\r\n'));
    assert.equal(pcmu16k.ok, false, 'PCMU at another clock rate is not G.711 as we speak it');
  });
});
