import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDigestCredentials, MAX_CREDENTIALS_LENGTH } from './digest-credentials.js';

const GOOD =
  'Digest username="alice", realm="example.com", nonce="abc123", uri="sip:example.com", response="6629FAE49393A05397450978507C4EF1", algorithm=MD5, cnonce="0a4f113b", qop=auth, nc=0000000a, opaque="xyz"';

describe('parseDigestCredentials', () => {
  it('reads every field (quoted and token values, any order, case-insensitive names)', () => {
    const r = parseDigestCredentials(GOOD);
    assert.ok(r.ok);
    const c = r.credentials;
    assert.equal(c.username, 'alice');
    assert.equal(c.realm, 'example.com');
    assert.equal(c.nonce, 'abc123');
    assert.equal(c.uri, 'sip:example.com');
    assert.equal(c.response, '6629fae49393a05397450978507c4ef1');
    assert.equal(c.algorithm, 'MD5');
    assert.equal(c.qop, 'auth');
    assert.equal(c.nc, 10);
    assert.equal(c.ncText, '0000000a');
    assert.equal(c.opaque, 'xyz');
    const r2 = parseDigestCredentials('digest  REALM="r",Username = "u" ,\tnonce="n",uri="sip:x",response="00"');
    assert.ok(r2.ok);
    assert.equal(r2.credentials.username, 'u');
    assert.equal(r2.credentials.algorithm, 'MD5');
    assert.equal(r2.credentials.qop, null);
    assert.equal(r2.credentials.nc, null);
  });

  it('unescapes quoted-pairs', () => {
    const r = parseDigestCredentials('Digest username="a\\"b\\\\c", realm="r", nonce="n", uri="u", response="0"');
    assert.ok(r.ok);
    assert.equal(r.credentials.username, 'a"b\\c');
  });

  it('rejects malformed credentials with a reason, never throws', () => {
    const bad = [
      'Basic YWxhZGRpbjpvcGVuc2VzYW1l',
      '',
      'Digest',
      'Digest username="alice", realm="r", nonce="n", uri="u"',
      'Digest username="alice, realm="r", nonce="n", uri="u", response="0"',
      'Digest username="a" realm="r", nonce="n", uri="u", response="0"',
      'Digest username="a", username="b", realm="r", nonce="n", uri="u", response="0"',
      'Digest username="a", realm="r", nonce="n", uri="u", response="0", qop=auth',
      'Digest username="a", realm="r", nonce="n", uri="u", response="0", qop=auth, cnonce="c", nc=1',
      'Digest username="a", realm="r", nonce="n", uri="u", response="0", qop=auth, cnonce="c", nc=0000000g',
      'Digest username=, realm="r"',
      `Digest username="${'a'.repeat(MAX_CREDENTIALS_LENGTH)}", realm="r", nonce="n", uri="u", response="0"`,
      `Digest ${Array.from({ length: 40 }, (_, i) => `p${i}=x`).join(', ')}`,
    ];
    for (const b of bad) {
      const r = parseDigestCredentials(b);
      assert.equal(r.ok, false, b.slice(0, 60));
    }
  });

  it('survives every truncation of a valid header', () => {
    for (let i = 0; i < GOOD.length; i++) parseDigestCredentials(GOOD.slice(0, i));
  });

  it('flags userhash (RFC 7616 §3.4.4)', () => {
    const r = parseDigestCredentials('Digest username="488869477bf257147b804c45308cd62ac4e25eb717b12b298c79e62dcea254ec", realm="r", nonce="n", uri="u", response="0", userhash=true');
    assert.ok(r.ok && r.credentials.userhash);
  });
});
