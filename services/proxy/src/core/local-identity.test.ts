import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseUri, type Uri } from '@voip/sip';
import { LocalIdentity } from './local-identity.js';

function uri(s: string): Uri {
  const u = parseUri(s);
  if (!('scheme' in u)) throw new Error(`bad test URI ${s}`);
  return u;
}

const udp = (address: string, port: number) => ({ protocol: 'UDP' as const, address, port });

describe('LocalIdentity: uri==myself', () => {
  const id = new LocalIdentity([udp('127.0.0.1', 5060)], ['example.com', '127.0.0.1']);

  test('a domain name is ours at any port', () => {
    assert.equal(id.isMyself(uri('sip:bob@example.com')), true);
    assert.equal(id.isMyself(uri('sip:bob@example.com:5099')), true);
  });

  test('a listen address is ours on the listening port or the default port', () => {
    assert.equal(id.isMyself(uri('sip:127.0.0.1:5060')), true);
    assert.equal(id.isMyself(uri('sip:bob@127.0.0.1')), true);
  });

  test('a domain that is also our listen address names another host on another port (a phone on the same IP)', () => {
    assert.equal(id.isMyself(uri('sip:bob@127.0.0.1:5099')), false);
  });

  test('a foreign host is not ours', () => {
    assert.equal(id.isMyself(uri('sip:bob@192.0.2.1')), false);
  });
});
