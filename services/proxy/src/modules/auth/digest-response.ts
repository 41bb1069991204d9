/**
 * The digest computation of RFC 2617 §3.2.2.1–3 as updated by RFC 7616 §3.4.1–3 (SHA-256,
 * SHA-512-256, -sess variants) and RFC 8760 (their use in SIP). Pure functions.
 *
 *   HA1      = H(username:realm:password)                   (stored as subscriber.ha1)
 *   HA1-sess = H(HA1:nonce:cnonce)                           (algorithm "<H>-sess")
 *   HA2      = H(method:digest-uri)                          (qop=auth or none)
 *            = H(method:digest-uri:H(entity-body))          (qop=auth-int)
 *   response = H(HA1:nonce:nc:cnonce:qop:HA2)               (with qop)
 *            = H(HA1:nonce:HA2)                              (RFC 2069 compatibility)
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { digestHex, type DigestHash } from '@voip/storage';

export interface Algorithm {
  /** Name as written in headers: 'MD5', 'SHA-256-sess' … */
  name: string;
  hash: DigestHash;
  sess: boolean;
}

const ALGORITHMS: ReadonlyMap<string, Algorithm> = new Map(
  (['MD5', 'SHA-256', 'SHA-512-256'] as const).flatMap((h): [string, Algorithm][] => [
    [h, { name: h, hash: h, sess: false }],
    [`${h}-SESS`, { name: `${h}-sess`, hash: h, sess: true }],
  ]),
);

/** The algorithm named in credentials or configuration (case-insensitive), or null when unknown. */
export function algorithmByName(name: string): Algorithm | null {
  return ALGORITHMS.get(name.toUpperCase()) ?? null;
}

function bodyHash(hash: DigestHash, body: Buffer): string {
  const alg = hash === 'MD5' ? 'md5' : hash === 'SHA-256' ? 'sha256' : 'sha512-256';
  return createHash(alg).update(body).digest('hex');
}

export interface ResponseInput {
  algorithm: Algorithm;
  /** H(username:realm:password) with the algorithm's hash. */
  ha1: string;
  nonce: string;
  method: string;
  uri: string;
  qop: string | null;
  cnonce: string | null;
  ncText: string | null;
  /** Needed for qop=auth-int only. */
  body?: Buffer;
}

export function computeResponse(i: ResponseInput): string {
  const h = i.algorithm.hash;
  const ha1 = i.algorithm.sess ? digestHex(h, `${i.ha1}:${i.nonce}:${i.cnonce ?? ''}`) : i.ha1;
  const a2 = i.qop === 'auth-int' ? `${i.method}:${i.uri}:${bodyHash(h, i.body ?? Buffer.alloc(0))}` : `${i.method}:${i.uri}`;
  const ha2 = digestHex(h, a2);
  if (i.qop === null) return digestHex(h, `${ha1}:${i.nonce}:${ha2}`);
  return digestHex(h, `${ha1}:${i.nonce}:${i.ncText ?? ''}:${i.cnonce ?? ''}:${i.qop}:${ha2}`);
}

/** Constant-time comparison of two hex digests (a mismatch in length is simply false). */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a.toLowerCase(), 'latin1');
  const y = Buffer.from(b.toLowerCase(), 'latin1');
  return x.length === y.length && timingSafeEqual(x, y);
}
