import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { calculateHa1 } from '@voip/storage';
import { algorithmByName, computeResponse, sameDigest } from './digest-response.js';

describe('digest response (test vectors)', () => {
  it('RFC 2617 §3.5: MD5, qop=auth', () => {
    const ha1 = calculateHa1('Mufasa', 'testrealm@host.com', 'Circle Of Life');
    const r = computeResponse({
      algorithm: algorithmByName('MD5')!, ha1, nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093', method: 'GET', uri: '/dir/index.html',
      qop: 'auth', cnonce: '0a4f113b', ncText: '00000001',
    });
    assert.equal(r, '6629fae49393a05397450978507c4ef1');
  });

  const rfc7616 = {
    nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v', method: 'GET', uri: '/dir/index.html', qop: 'auth',
    cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ', ncText: '00000001',
  };

  it('RFC 7616 §3.9.1: MD5', () => {
    const ha1 = calculateHa1('Mufasa', 'http-auth@example.org', 'Circle of Life', 'MD5');
    assert.equal(computeResponse({ algorithm: algorithmByName('md5')!, ha1, ...rfc7616 }), '8ca523f5e9506fed4657c9700eebdbec');
  });

  it('RFC 7616 §3.9.1: SHA-256', () => {
    const ha1 = calculateHa1('Mufasa', 'http-auth@example.org', 'Circle of Life', 'SHA-256');
    assert.equal(
      computeResponse({ algorithm: algorithmByName('SHA-256')!, ha1, ...rfc7616 }),
      '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
    );
  });

  it('RFC 2069 compatibility (no qop): H(HA1:nonce:HA2)', () => {
    // RFC 2069 §2.4 example values; the RFC's printed response is known to be wrong (errata 749),
    // so the expected value is the formula's, computed independently with md5sum.
    const ha1 = calculateHa1('Mufasa', 'testrealm@host.com', 'CircleOfLife');
    const r = computeResponse({ algorithm: algorithmByName('MD5')!, ha1, nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093', method: 'GET', uri: '/dir/index.html', qop: null, cnonce: null, ncText: null });
    assert.equal(r, '1949323746fe6a43ef61f9606e7febea');
  });

  it('-sess algorithms hash HA1 with nonce and cnonce; auth-int hashes the body', () => {
    const ha1 = calculateHa1('alice', 'example.com', 'secret', 'SHA-256');
    const base = { ha1, nonce: 'n', method: 'INVITE', uri: 'sip:bob@example.com', cnonce: 'c', ncText: '00000001' };
    const plain = computeResponse({ algorithm: algorithmByName('SHA-256')!, qop: 'auth', ...base });
    const sess = computeResponse({ algorithm: algorithmByName('SHA-256-sess')!, qop: 'auth', ...base });
    assert.notEqual(plain, sess);
    const int1 = computeResponse({ algorithm: algorithmByName('SHA-256')!, qop: 'auth-int', body: Buffer.from('v=0\r\n'), ...base });
    const int2 = computeResponse({ algorithm: algorithmByName('SHA-256')!, qop: 'auth-int', body: Buffer.from('v=1\r\n'), ...base });
    assert.notEqual(int1, int2);
    assert.equal(algorithmByName('SHA-512-256')?.hash, 'SHA-512-256');
    assert.equal(algorithmByName('SHA-1'), null);
  });

  it('compares digests case-insensitively and in constant time', () => {
    assert.ok(sameDigest('ABCDEF', 'abcdef'));
    assert.ok(!sameDigest('abcdef', 'abcde0'));
    assert.ok(!sameDigest('abcdef', 'abcdef0'));
  });
});
