import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStorage } from '@voip/storage';
import { calculateHa1, subscriberHashes } from '@voip/storage';
import { DigestAuthenticator, type AuthInput } from './digest-authenticator.js';
import { algorithmByName, computeResponse } from './digest-response.js';
import { NonceManager } from './nonce-manager.js';

const REALM = 'example.com';

async function setup(opts: { allowNoQop?: boolean; algorithms?: string[] } = {}) {
  let t = 1_800_000_000_000;
  const clock = { now: () => t, advance: (s: number) => (t += s * 1000) };
  const storage = new MemoryStorage();
  await storage.subscribers.add({ username: 'alice', domain: REALM, password: 'secret', ...subscriberHashes('alice', REALM, 'secret'), emailAddress: '' });
  // HA1 only, no plaintext (auth_db calculate_ha1 = 0).
  await storage.subscribers.add({ username: 'bob', domain: REALM, password: '', ...subscriberHashes('bob', REALM, 'b0b'), emailAddress: '' });
  const nonces = new NonceManager({ secret: 'test-secret-0123456789', expiresSeconds: 60, now: clock.now });
  const auth = new DigestAuthenticator({ nonces, subscribers: storage.subscribers, algorithms: opts.algorithms ?? ['SHA-256', 'MD5'], allowNoQop: opts.allowNoQop ?? true });
  return { auth, nonces, clock, storage };
}

/** What a UA does with a challenge (RFC 3261 §22.2): the Authorization value. */
function answer(challenge: string, o: { username: string; password: string; method: string; uri: string; nc?: number; qop?: boolean; realm?: string }): string {
  const nonce = /nonce="([^"]+)"/.exec(challenge)![1]!;
  const realm = o.realm ?? /realm="([^"]+)"/.exec(challenge)![1]!;
  const algName = /algorithm=([A-Za-z0-9-]+)/.exec(challenge)![1]!;
  const alg = algorithmByName(algName)!;
  const qop = o.qop === false ? null : 'auth';
  const ncText = (o.nc ?? 1).toString(16).padStart(8, '0');
  const response = computeResponse({ algorithm: alg, ha1: calculateHa1(o.username, realm, o.password, alg.hash), nonce, method: o.method, uri: o.uri, qop, cnonce: 'c0ffee', ncText });
  const q = qop ? `, qop=auth, nc=${ncText}, cnonce="c0ffee"` : '';
  return `Digest username="${o.username}", realm="${realm}", nonce="${nonce}", uri="${o.uri}", response="${response}", algorithm=${algName}${q}`;
}

function input(lines: string[], method = 'REGISTER'): AuthInput {
  return { method, realm: REALM, credentialLines: lines, body: Buffer.alloc(0) };
}

describe('DigestAuthenticator', () => {
  it('offers SHA-256 then MD5 (RFC 8760 §2.4 order), qop=auth, own nonce each', async () => {
    const { auth } = await setup();
    const ch = auth.challenges(REALM, false);
    assert.equal(ch.length, 2);
    assert.match(ch[0]!, /^Digest realm="example\.com", nonce="[A-Za-z0-9_-]{38}", qop="auth", algorithm=SHA-256$/);
    assert.match(ch[1]!, /algorithm=MD5$/);
    assert.match(auth.challenges(REALM, true)[0]!, /, stale=true$/);
    assert.deepEqual(auth.challenges(REALM, false, true).map((c) => /algorithm=(\S+)/.exec(c)![1]), ['MD5']);
  });

  it('no credentials, or credentials for another realm only: challenge', async () => {
    const { auth } = await setup();
    assert.deepEqual(await auth.authorize(input([])), { kind: 'no-credentials' });
    const other = answer(auth.challenges('other.net', false)[1]!, { username: 'alice', password: 'secret', method: 'REGISTER', uri: 'sip:other.net' });
    assert.deepEqual(await auth.authorize(input([other])), { kind: 'no-credentials' });
  });

  for (const alg of [0, 1]) {
    it(`right password (${alg === 0 ? 'SHA-256' : 'MD5'}, plaintext column) is authorized; the same nonce-count again is a replay`, async () => {
      const { auth } = await setup();
      const a = answer(auth.challenges(REALM, false)[alg]!, { username: 'alice', password: 'secret', method: 'REGISTER', uri: 'sip:example.com' });
      const r = await auth.authorize(input(['Digest username="x", realm="elsewhere", nonce="n", uri="u", response="0"', a]));
      assert.equal(r.kind, 'authorized');
      if (r.kind === 'authorized') {
        assert.equal(r.username, 'alice');
        assert.equal(r.domain, REALM);
        assert.equal(r.line, 1);
      }
      assert.deepEqual(await auth.authorize(input([a])), { kind: 'rejected', reason: 'replay', username: 'alice', md5Only: false });
    });
  }

  it('next nonce-count on the same nonce is authorized (RFC 2617 §3.2.2 nonce reuse)', async () => {
    const { auth } = await setup();
    const ch = auth.challenges(REALM, false)[1]!;
    for (const nc of [1, 2, 3]) {
      const r = await auth.authorize(input([answer(ch, { username: 'alice', password: 'secret', method: 'INVITE', uri: 'sip:bob@example.com', nc })], 'INVITE'));
      assert.equal(r.kind, 'authorized', `nc=${nc}`);
    }
  });

  it('wrong password, unknown user, forged nonce: rejected', async () => {
    const { auth } = await setup();
    const ch = auth.challenges(REALM, false)[1]!;
    const wrong = answer(ch, { username: 'alice', password: 'guess', method: 'REGISTER', uri: 'sip:example.com' });
    assert.deepEqual(await auth.authorize(input([wrong])), { kind: 'rejected', reason: 'wrong-password', username: 'alice', md5Only: false });
    const nobody = answer(ch, { username: 'mallory', password: 'x', method: 'REGISTER', uri: 'sip:example.com' });
    assert.equal((await auth.authorize(input([nobody]))).kind, 'rejected');
    const forged = answer('Digest realm="example.com", nonce="ABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGH", algorithm=MD5', { username: 'alice', password: 'secret', method: 'REGISTER', uri: 'sip:example.com' });
    assert.deepEqual(await auth.authorize(input([forged])), { kind: 'rejected', reason: 'invalid-nonce', username: 'alice', md5Only: false });
  });

  it('the response covers the method: a REGISTER answer does not authorize an INVITE', async () => {
    const { auth } = await setup();
    const a = answer(auth.challenges(REALM, false)[1]!, { username: 'alice', password: 'secret', method: 'REGISTER', uri: 'sip:example.com' });
    assert.equal((await auth.authorize(input([a], 'INVITE'))).kind, 'rejected');
  });

  it('an expired nonce with the right password is stale; with a wrong one it is simply rejected', async () => {
    const { auth, clock } = await setup();
    const ch = auth.challenges(REALM, false)[1]!;
    clock.advance(61);
    const good = answer(ch, { username: 'alice', password: 'secret', method: 'REGISTER', uri: 'sip:example.com' });
    assert.deepEqual(await auth.authorize(input([good])), { kind: 'stale', username: 'alice' });
    const bad = answer(ch, { username: 'alice', password: 'nope', method: 'REGISTER', uri: 'sip:example.com' });
    assert.equal((await auth.authorize(input([bad]))).kind, 'rejected');
  });

  it('precomputed ha1 (no plaintext): MD5 works, user@domain uses ha1b, SHA-256 asks for MD5', async () => {
    const { auth } = await setup();
    const [sha, md5] = auth.challenges(REALM, false);
    assert.equal((await auth.authorize(input([answer(md5!, { username: 'bob', password: 'b0b', method: 'REGISTER', uri: 'sip:example.com' })]))).kind, 'authorized');
    const b = await auth.authorize(input([answer(md5!, { username: 'bob@example.com', password: 'b0b', method: 'REGISTER', uri: 'sip:example.com', nc: 2 })]));
    assert.equal(b.kind, 'authorized');
    assert.deepEqual(await auth.authorize(input([answer(sha!, { username: 'bob', password: 'b0b', method: 'REGISTER', uri: 'sip:example.com' })])), {
      kind: 'rejected', reason: 'unsupported-algorithm', username: 'bob', md5Only: true,
    });
  });

  it('no qop (RFC 2069 style) is accepted unless qop is required', async () => {
    const lax = await setup();
    const a = answer(lax.auth.challenges(REALM, false)[1]!, { username: 'alice', password: 'secret', method: 'REGISTER', uri: 'sip:example.com', qop: false });
    assert.equal((await lax.auth.authorize(input([a]))).kind, 'authorized');
    const strict = await setup({ allowNoQop: false });
    const b = answer(strict.auth.challenges(REALM, false)[1]!, { username: 'alice', password: 'secret', method: 'REGISTER', uri: 'sip:example.com', qop: false });
    assert.equal((await strict.auth.authorize(input([b]))).kind, 'rejected');
  });

  it('malformed credentials for our realm are reported as malformed; unknown algorithms are rejected', async () => {
    const { auth } = await setup({ algorithms: ['MD5'] });
    assert.equal((await auth.authorize(input(['Digest username="alice", realm="example.com", nonce="n"']))).kind, 'malformed');
    const a = answer(auth.challenges(REALM, false)[0]!, { username: 'alice', password: 'secret', method: 'REGISTER', uri: 'sip:example.com' }).replace('algorithm=MD5', 'algorithm=SHA-256');
    assert.equal((await auth.authorize(input([a]))).kind, 'rejected');
    assert.throws(() => new DigestAuthenticator({ nonces: new NonceManager({ secret: 'x'.repeat(16) }), subscribers: new MemoryStorage().subscribers, algorithms: ['SHA-1'], allowNoQop: true }));
  });
});
