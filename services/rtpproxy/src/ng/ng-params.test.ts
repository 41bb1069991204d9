import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bdecode, isDict, type BencodeDict } from '@voip/ng';
import { RtpError } from '../errors.js';
import { normalizeDict, parseMediaFlags, parseSignalRequest } from './ng-params.js';

function dict(o: Record<string, unknown>): BencodeDict {
  return normalizeDict(o as BencodeDict);
}

describe('ng parameters', () => {
  it('reads what Kamailio rtpengine_manage("replace-origin replace-session-connection ICE=remove RTP/AVP ...") sends', () => {
    const d = dict({
      command: 'offer',
      'call-id': 'x@y',
      'from-tag': 'ft',
      'via-branch': 'z9hG4bK1',
      sdp: 'v=0\r\n',
      flags: ['trust-address', 'SIP-source-address', 'asymmetric'],
      replace: ['origin', 'session-connection'],
      ICE: 'remove',
      'transport-protocol': 'RTP/AVP',
      'received-from': ['IP4', '192.0.2.1'],
      direction: ['internal', 'external'],
    });
    const { req } = parseSignalRequest(d);
    assert.equal(req.callId, 'x@y');
    assert.equal(req.viaBranch, 'z9hG4bK1');
    assert.equal(req.toTag, null);
    const f = req.flags;
    assert.equal(f.replaceOrigin, true);
    assert.equal(f.replaceSessionConnection, true);
    assert.equal(f.trustAddress, true);
    assert.equal(f.sipSourceAddress, true);
    assert.equal(f.symmetric, false);
    assert.equal(f.ice, 'remove');
    assert.equal(f.transportProtocol, 'RTP/AVP');
    assert.deepEqual(f.receivedFrom, { family: 4, address: '192.0.2.1' });
    assert.deepEqual(f.direction, ['internal', 'external']);
  });

  it('accepts the older all-in-flags spelling and key spellings with spaces', () => {
    const f = parseMediaFlags(dict({ flags: ['replace-origin', 'replace-session-connection', 'ICE=force', 'RTP/AVPF', 'symmetric'], 'address family': 'IP6' })).media;
    assert.equal(f.replaceOrigin, true);
    assert.equal(f.replaceSessionConnection, true);
    assert.equal(f.ice, 'force');
    assert.equal(f.transportProtocol, 'RTP/AVPF');
    assert.equal(f.symmetric, true);
    assert.equal(f.addressFamily, 6);
  });

  it('reports flags it does not act on instead of failing', () => {
    const r = parseMediaFlags(dict({ flags: ['record-call', 'no-such-flag'] }));
    assert.deepEqual(r.ignored, ['no-such-flag']);
  });

  it('requires call-id, from-tag and an SDP body', () => {
    const need = (o: Record<string, unknown>, code: string): void =>
      assert.throws(() => parseSignalRequest(dict(o)), (e: unknown) => e instanceof RtpError && e.code === code);
    need({ 'from-tag': 'a', sdp: 'v=0' }, 'RTP_ERR_MISSING_PARAM');
    need({ 'call-id': 'c', sdp: 'v=0' }, 'RTP_ERR_MISSING_PARAM');
    need({ 'call-id': 'c', 'from-tag': 'a' }, 'RTP_ERR_NO_SDP');
    assert.throws(() => parseMediaFlags(dict({ direction: ['one'] })), RtpError);
    assert.throws(() => parseMediaFlags(dict({ 'address-family': 'IPX' })), RtpError);
  });

  it('normalises keys of a decoded message', () => {
    const r = bdecode(Buffer.from('d7:call id1:c8:from_tag1:f3:sdp3:v=07:command5:offere'));
    assert.ok(r.ok && isDict(r.value));
    const { req } = parseSignalRequest(normalizeDict(r.value));
    assert.equal(req.callId, 'c');
    assert.equal(req.fromTag, 'f');
  });
});
