import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bdecode, bencode, isDict, type BencodeValue } from './bencode.js';

const b = (s: string): Buffer => Buffer.from(s, 'utf8');

function decodeOk(s: string | Buffer): BencodeValue {
  const r = bdecode(typeof s === 'string' ? b(s) : s);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.value;
}

describe('bencode', () => {
  it('decodes the BEP 3 examples', () => {
    assert.equal(decodeOk('4:spam'), 'spam');
    assert.equal(decodeOk('0:'), '');
    assert.equal(decodeOk('i3e'), 3);
    assert.equal(decodeOk('i-3e'), -3);
    assert.equal(decodeOk('i0e'), 0);
    assert.deepEqual(decodeOk('l4:spam4:eggse'), ['spam', 'eggs']);
    assert.deepEqual({ ...(decodeOk('d3:cow3:moo4:spam4:eggse') as object) }, { cow: 'moo', spam: 'eggs' });
    assert.deepEqual({ ...(decodeOk('d4:spaml1:a1:bee') as object) }, { spam: ['a', 'b'] });
  });

  it('decodes an ng offer as Kamailio sends it', () => {
    const sdp = 'v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\n';
    const msg = `d3:sdp${Buffer.byteLength(sdp)}:${sdp}5:flagsl13:trust-addresse7:replacel6:origin18:session-connectione7:call-id5:abc@x13:received-froml3:IP49:192.0.2.1e8:from-tag2:ft7:command5:offere`;
    const d = decodeOk(msg) as Record<string, BencodeValue>;
    assert.equal(d['command'], 'offer');
    assert.equal(d['sdp'], sdp);
    assert.deepEqual(d['replace'], ['origin', 'session-connection']);
    assert.deepEqual(d['received-from'], ['IP4', '192.0.2.1']);
  });

  it('counts string lengths in bytes, not characters', () => {
    const v = 'Grüße';
    const enc = bencode(v);
    assert.equal(enc.toString('utf8'), `${Buffer.byteLength(v)}:${v}`);
    assert.equal(decodeOk(enc), v);
  });

  it('encodes an ng command as the proxy sends it, keys sorted by bytes', () => {
    const enc = bencode({ sdp: 'v=0', 'call-id': 'x', flags: ['a', 'b'], n: 3 });
    assert.equal(enc.toString(), 'd7:call-id1:x5:flagsl1:a1:be1:ni3e3:sdp3:v=0e');
    assert.deepEqual({ ...(decodeOk(enc) as object) }, { 'call-id': 'x', flags: ['a', 'b'], n: 3, sdp: 'v=0' });
  });

  it('leaves undefined dictionary entries out and refuses non-finite numbers', () => {
    const d: Record<string, BencodeValue | undefined> = { 'call-id': 'x', 'to-tag': undefined };
    assert.equal(bencode(d as Record<string, BencodeValue>).toString(), 'd7:call-id1:xe');
    assert.throws(() => bencode(Number.NaN), TypeError);
    assert.throws(() => bencode({ n: Number.POSITIVE_INFINITY }), TypeError);
  });

  it('encodes dictionaries with sorted keys and round-trips nested values', () => {
    const v = { z: 1, a: ['x', 2, { k: 'v' }], m: { b: '', a: -7 } };
    const enc = bencode(v);
    assert.equal(enc.toString(), 'd1:al1:xi2ed1:k1:vee1:md1:ai-7e1:b0:e1:zi1ee');
    assert.deepEqual(JSON.parse(JSON.stringify(decodeOk(enc))), v);
  });

  it('rejects malformed input with a reason instead of throwing', () => {
    const bad = ['', 'i12', 'ie', 'i-e', 'i1x2e', '5:abc', '5:ab', ':ab', 'l', 'l4:spam', 'd3:abc', 'd3:cowe', 'di1ei2ee', 'x', '4spam'];
    const trailing = ['i3ei4e', 'd1:ai1ee trailing', '99999999999:a'];
    for (const s of [...bad, ...trailing]) {
      const r = bdecode(b(s));
      assert.equal(r.ok, false, `accepted ${JSON.stringify(s)}`);
      if (!r.ok) assert.ok(r.reason.length > 0 && r.offset >= 0 && r.offset <= s.length, JSON.stringify(s));
    }
    const r = bdecode(b('d1:ai1ee trailing'));
    assert.deepEqual(r, { ok: false, reason: 'trailing bytes after value', offset: 8 });
  });

  it('caps nesting depth and integer size', () => {
    assert.equal(bdecode(b('l'.repeat(100) + 'e'.repeat(100))).ok, false);
    assert.equal(bdecode(b('i99999999999999999999e')).ok, false);
    assert.equal(bdecode(b('i9007199254740993e')).ok, false);
  });

  it('keeps "__proto__" from the wire as plain data', () => {
    const d = decodeOk('d9:__proto__d1:xi1eee') as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(d), null);
    assert.ok(Object.prototype.hasOwnProperty.call(d, '__proto__'));
    assert.equal(({} as Record<string, unknown>)['x'], undefined);
  });

  it('decodes a sub-range of a buffer (the part after the ng cookie)', () => {
    const msg = b('cookie123 d7:command4:pinge');
    const r = bdecode(msg, 10);
    assert.ok(r.ok);
    assert.equal((r.value as Record<string, string>)['command'], 'ping');
    // end bounds the value too: bytes after it are not read.
    const r2 = bdecode(b('4:spamXYZ'), 0, 6);
    assert.ok(r2.ok);
    assert.equal(r2.value, 'spam');
  });

  it('isDict tells dictionaries from lists, scalars and absent values', () => {
    const r = bdecode(b('d1:dde1:ll1:ae1:s1:x1:ii1ee'));
    assert.ok(r.ok && isDict(r.value));
    assert.equal(isDict(r.value['d']), true);
    assert.equal(isDict(r.value['l']), false);
    assert.equal(isDict(r.value['s']), false);
    assert.equal(isDict(r.value['i']), false);
    assert.equal(isDict(r.value['missing']), false);
    assert.equal(isDict(null), false);
  });

  it('never throws on random bytes', () => {
    let seed = 42;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const alphabet = 'dlie0123456789:-abc';
    for (let i = 0; i < 2000; i++) {
      let s = '';
      const n = Math.floor(rnd() * 30);
      for (let j = 0; j < n; j++) s += alphabet[Math.floor(rnd() * alphabet.length)];
      const r = bdecode(b(s));
      if (r.ok) assert.equal(bencode(r.value).length > 0, true);
    }
  });
});
