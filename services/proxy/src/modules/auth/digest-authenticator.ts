/**
 * Digest authentication of one request against the subscriber table (auth_db's
 * www_authorize / proxy_authorize, RFC 3261 §22.2–22.3, RFC 2617, RFC 7616, RFC 8760), free of
 * SIP message types so it is tested on its own: the caller passes the method, the realm, the
 * header lines of Authorization (or Proxy-Authorization) and the body.
 *
 * Password sources, like auth_db: a plaintext `password` (any algorithm: HA1 is computed with
 * the username as sent), else the precomputed MD5 `ha1` (username without domain) or `ha1b`
 * (username sent as user@domain). A SHA-256 response for an account with only MD5 hashes cannot
 * be checked: the caller re-challenges with MD5 only.
 */
import { calculateHa1 } from '@voip/storage';
import type { SubscriberRepository } from '@voip/storage';
import { parseDigestCredentials, type DigestCredentials } from './digest-credentials.js';
import { algorithmByName, computeResponse, sameDigest, type Algorithm } from './digest-response.js';
import type { NonceManager } from './nonce-manager.js';

export interface AuthInput {
  method: string;
  /** The realm we expect (the SIP domain); credentials for other realms are ignored. */
  realm: string;
  /** Every Authorization / Proxy-Authorization line's value, in order. */
  credentialLines: readonly string[];
  body: Buffer;
  /**
   * Password-guessing protection: true when the account (see `accountKey`) is blocked; the
   * response is then not even checked, so the right password does not get through.
   */
  userBlocked?: (accountKey: string) => boolean;
}

/** The account a username names in `realm`: `user@domain` (lower-case domain). */
export function accountKey(username: string, realm: string): string {
  const at = username.lastIndexOf('@');
  return at > 0 ? `${username.slice(0, at)}@${username.slice(at + 1).toLowerCase()}` : `${username}@${realm.toLowerCase()}`;
}

export type AuthFailure = 'invalid-nonce' | 'unknown-user' | 'wrong-password' | 'replay' | 'unsupported-algorithm' | 'userhash' | 'qop-required';

export type AuthOutcome =
  | { kind: 'authorized'; username: string; domain: string; line: number; credentials: DigestCredentials }
  /** No credentials for this realm: challenge (the usual first request). */
  | { kind: 'no-credentials' }
  /** Credentials that do not parse: 400 (RFC 3261 §21.4.1), as auth_db answers. */
  | { kind: 'malformed'; reason: string }
  /** A good response on an expired nonce: challenge with stale=true (RFC 2617 §3.2.1). */
  | { kind: 'stale'; username: string }
  /** Challenge again; `md5Only` when the account has only MD5 hashes but SHA was tried. */
  | { kind: 'rejected'; reason: AuthFailure; username: string; md5Only: boolean }
  /** The account is blocked for password guessing: refused whatever the response. */
  | { kind: 'blocked'; username: string };

export interface DigestAuthenticatorOptions {
  nonces: NonceManager;
  subscribers: SubscriberRepository;
  /** Offered in this order (RFC 8760 §2.4: most preferred first). */
  algorithms: readonly string[];
  /** Accept RFC 2069-style responses without qop (no nonce-count replay protection for them). */
  allowNoQop: boolean;
}

export class DigestAuthenticator {
  private readonly offered: Algorithm[];

  constructor(private readonly o: DigestAuthenticatorOptions) {
    this.offered = o.algorithms.map((n) => {
      const a = algorithmByName(n);
      if (a === null || a.sess) throw new Error(`unsupported digest algorithm ${n} (MD5, SHA-256, SHA-512-256)`);
      return a;
    });
    if (this.offered.length === 0) throw new Error('at least one digest algorithm must be offered');
  }

  /**
   * Values of the challenge header(s): one per offered algorithm, each with its own nonce,
   * `qop="auth"`; `stale=true` when the previous nonce had expired.
   */
  challenges(realm: string, stale: boolean, md5Only = false): string[] {
    const algs = md5Only ? this.offered.filter((a) => a.hash === 'MD5') : this.offered;
    const list = algs.length > 0 ? algs : [algorithmByName('MD5')!];
    const q = quote(realm);
    return list.map((a) => `Digest realm=${q}, nonce="${this.o.nonces.mint(realm)}", qop="auth", algorithm=${a.name}${stale ? ', stale=true' : ''}`);
  }

  async authorize(input: AuthInput): Promise<AuthOutcome> {
    // RFC 3261 §22.3: a proxy picks the credentials whose realm is its own; others belong to
    // proxies further downstream and are left in the request.
    let creds: DigestCredentials | null = null;
    let line = -1;
    for (let i = 0; i < input.credentialLines.length; i++) {
      const r = parseDigestCredentials(input.credentialLines[i]!);
      if (!r.ok) {
        // Only a line that at least names our realm may fail the request.
        if (input.credentialLines[i]!.includes(input.realm)) return { kind: 'malformed', reason: r.reason };
        continue;
      }
      if (r.credentials.realm.toLowerCase() === input.realm.toLowerCase()) {
        creds = r.credentials;
        line = i;
        break;
      }
    }
    if (creds === null) return { kind: 'no-credentials' };
    const username = creds.username;
    if (input.userBlocked?.(accountKey(username, input.realm))) return { kind: 'blocked', username };
    if (creds.userhash) return { kind: 'rejected', reason: 'userhash', username, md5Only: false };
    const alg = algorithmByName(creds.algorithm);
    if (alg === null || !this.offered.some((a) => a.hash === alg.hash)) return { kind: 'rejected', reason: 'unsupported-algorithm', username, md5Only: false };
    if (creds.qop === null && !this.o.allowNoQop) return { kind: 'rejected', reason: 'qop-required', username, md5Only: false };
    if (creds.qop !== null && creds.qop !== 'auth' && creds.qop !== 'auth-int') return { kind: 'malformed', reason: `unknown qop ${creds.qop.slice(0, 20)}` };

    const nonceState = this.o.nonces.verify(creds.nonce, input.realm);
    if (nonceState === 'invalid') return { kind: 'rejected', reason: 'invalid-nonce', username, md5Only: false };

    // user@domain in the username parameter selects ha1b (auth_db's use_domain behaviour).
    const at = username.lastIndexOf('@');
    const user = at > 0 ? username.slice(0, at) : username;
    const domain = at > 0 ? username.slice(at + 1) : input.realm;
    const account = await this.o.subscribers.get(user, domain);
    if (account === null) {
      // No user enumeration (docs/security.md): an unknown user costs the same hashing as a
      // wrong password and ends the same way, so neither the answer nor its timing tells them apart.
      const decoy = computeResponse({ algorithm: alg, ha1: calculateHa1(username, creds.realm, creds.nonce, alg.hash), nonce: creds.nonce, method: input.method, uri: creds.uri, qop: creds.qop, cnonce: creds.cnonce, ncText: creds.ncText, body: input.body });
      sameDigest(decoy, creds.response);
      return { kind: 'rejected', reason: 'unknown-user', username, md5Only: false };
    }

    let ha1: string;
    if (account.password !== '') ha1 = calculateHa1(username, creds.realm, account.password, alg.hash);
    else if (alg.hash === 'MD5') ha1 = (at > 0 ? account.ha1b : account.ha1).toLowerCase();
    else return { kind: 'rejected', reason: 'unsupported-algorithm', username, md5Only: true };

    const expected = computeResponse({
      algorithm: alg,
      ha1,
      nonce: creds.nonce,
      method: input.method,
      uri: creds.uri,
      qop: creds.qop,
      cnonce: creds.cnonce,
      ncText: creds.ncText,
      body: input.body,
    });
    if (!sameDigest(expected, creds.response)) return { kind: 'rejected', reason: 'wrong-password', username, md5Only: false };
    // Only a correct response may learn that its nonce is stale (RFC 2617 §3.2.1 stale flag).
    if (nonceState === 'stale') return { kind: 'stale', username };
    if (creds.qop !== null && this.o.nonces.useCount(creds.nonce, creds.nc!) === 'replay') {
      return { kind: 'rejected', reason: 'replay', username, md5Only: false };
    }
    return { kind: 'authorized', username: account.username, domain: account.domain, line, credentials: creds };
  }
}

/** quoted-string with `"` and `\` escaped (RFC 3261 §25.1 quoted-pair). */
function quote(s: string): string {
  let out = '"';
  for (const ch of s) out += ch === '"' || ch === '\\' ? `\\${ch}` : ch;
  return `${out}"`;
}
