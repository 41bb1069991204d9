import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { answerBindingRequest, looksLikeStun, STUN_MAGIC } from './stun.js';

/** A Binding request as an ICE agent sends it (RFC 8445 §7.2.2): USERNAME, PRIORITY, [USE-CANDIDATE], MI, FINGERPRINT. */
function bindingRequest(username: string, pwd: string, useCandidate: boolean): Buffer {
  const attrs: Buffer[] = [];
  const attr = (type: number, value: Buffer): void => {
    const pad = (4 - (value.length % 4)) % 4;
    const h = Buffer.alloc(4);
    h.writeUInt16BE(type, 0);
    h.writeUInt16BE(value.length, 2);
    attrs.push(h, value, Buffer.alloc(pad));
  };
  attr(0x0006, Buffer.from(username));
  const prio = Buffer.alloc(4);
  prio.writeUInt32BE(1853824767, 0);
  attr(0x0024, prio);
  if (useCandidate) attr(0x0025, Buffer.alloc(0));
  const head = Buffer.alloc(20);
  head.writeUInt16BE(0x0001, 0);
  head.writeUInt32BE(STUN_MAGIC, 4);
  Buffer.from('0123456789ab').copy(head, 8);
  let body = Buffer.concat(attrs);
  head.writeUInt16BE(body.length + 24, 2);
  const mi = createHmac('sha1', pwd).update(Buffer.concat([head, body])).digest();
  const miAttr = Buffer.alloc(4);
  miAttr.writeUInt16BE(0x0008, 0);
  miAttr.writeUInt16BE(20, 2);
  body = Buffer.concat([body, miAttr, mi]);
  head.writeUInt16BE(body.length + 8, 2);
  const fp = Buffer.alloc(8);
  fp.writeUInt16BE(0x8028, 0);
  fp.writeUInt16BE(4, 2);
  fp.writeUInt32BE((crc32(Buffer.concat([head, body])) ^ 0x5354554e) >>> 0, 4);
  return Buffer.concat([head, body, fp]);
}

describe('STUN binding responder (ICE-lite)', () => {
  it('answers a valid check with XOR-MAPPED-ADDRESS, integrity and fingerprint', () => {
    const req = bindingRequest('relay:peer', 'relaypassword0123456789', true);
    assert.ok(looksLikeStun(req));
    const r = answerBindingRequest(req, 'relay', 'relaypassword0123456789', '198.51.100.7', 40000, 4);
    assert.ok(r !== null);
    assert.equal(r.useCandidate, true);
    const res = r.response;
    assert.equal(res.readUInt16BE(0), 0x0101);
    assert.equal(res.readUInt16BE(2), res.length - 20);
    assert.deepEqual(res.subarray(8, 20), req.subarray(8, 20));
    // XOR-MAPPED-ADDRESS decodes back to the source
    assert.equal(res.readUInt16BE(20), 0x0020);
    assert.equal(res.readUInt16BE(26) ^ (STUN_MAGIC >>> 16), 40000);
    const ip = [0, 1, 2, 3].map((i) => res[28 + i] ^ res[4 + i]).join('.');
    assert.equal(ip, '198.51.100.7');
    // FINGERPRINT is valid
    const fpOff = res.length - 8;
    assert.equal(res.readUInt32BE(fpOff + 4), (crc32(res.subarray(0, fpOff)) ^ 0x5354554e) >>> 0);
    // MESSAGE-INTEGRITY is valid under our password
    const miOff = fpOff - 24;
    const covered = Buffer.from(res.subarray(0, miOff));
    covered.writeUInt16BE(miOff + 24 - 20, 2);
    assert.deepEqual(res.subarray(miOff + 4, miOff + 24), createHmac('sha1', 'relaypassword0123456789').update(covered).digest());
  });

  it('maps IPv6 sources', () => {
    const req = bindingRequest('relay:peer', 'pw', false);
    const r = answerBindingRequest(req, 'relay', 'pw', '2001:db8::7', 40000, 6);
    assert.ok(r !== null);
    assert.equal(r.useCandidate, false);
    const raw = [...r.response.subarray(28, 44)].map((b, i) => b ^ r.response[4 + i]);
    assert.equal(raw[0], 0x20);
    assert.equal(raw[1], 0x01);
    assert.equal(raw[15], 0x07);
  });

  it('ignores checks with a wrong username or password, and non-STUN', () => {
    const req = bindingRequest('other:peer', 'pw', false);
    assert.equal(answerBindingRequest(req, 'relay', 'pw', '1.2.3.4', 1, 4), null);
    assert.equal(answerBindingRequest(bindingRequest('relay:peer', 'wrong', false), 'relay', 'pw', '1.2.3.4', 1, 4), null);
    const rtp = Buffer.alloc(172);
    rtp[0] = 0x80;
    assert.equal(looksLikeStun(rtp), false);
    assert.equal(answerBindingRequest(rtp, 'relay', 'pw', '1.2.3.4', 1, 4), null);
    assert.equal(answerBindingRequest(req.subarray(0, 30), 'relay', 'pw', '1.2.3.4', 1, 4), null);
  });
});
