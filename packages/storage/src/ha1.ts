/**
 * HA1 values of the subscriber table (the book's calculate_ha1 / `openserctl add`).
 * Lives in storage because provisioning writes them; the auth module reads them.
 *
 * RFC 2617 §3.2.2.2: A1 = username ":" realm ":" password, HA1 = H(A1). RFC 7616 §3.4.2 keeps the
 * form and adds SHA-256 (RFC 8760 adds SHA-512-256 for SIP). The realm is the SIP domain.
 */
import { createHash } from 'node:crypto';

export type DigestHash = 'MD5' | 'SHA-256' | 'SHA-512-256';

export function digestHex(alg: DigestHash, text: string): string {
  switch (alg) {
    case 'MD5':
      return createHash('md5').update(text, 'utf8').digest('hex');
    case 'SHA-256':
      return createHash('sha256').update(text, 'utf8').digest('hex');
    case 'SHA-512-256':
      return createHash('sha512-256').update(text, 'utf8').digest('hex');
  }
}

/** H(username:realm:password). */
export function calculateHa1(username: string, realm: string, password: string, alg: DigestHash = 'MD5'): string {
  return digestHex(alg, `${username}:${realm}:${password}`);
}

/**
 * The two MD5 HA1 columns Kamailio's kamctl writes: `ha1` for username, `ha1b` for clients
 * that put user@domain in the username parameter.
 */
export function subscriberHashes(username: string, domain: string, password: string): { ha1: string; ha1b: string } {
  return {
    ha1: calculateHa1(username, domain, password),
    ha1b: calculateHa1(`${username}@${domain}`, domain, password),
  };
}
