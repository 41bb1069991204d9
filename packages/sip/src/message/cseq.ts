import { isToken, scanToken, skipWs } from './chars.js';
import { frozenError, type SipParseError } from './errors.js';

const BAD_CSEQ = frozenError('SIP_ERR_MALFORMED_HEADER', 'CSeq');

/** CSeq = 1*DIGIT LWS Method (RFC 3261 §20.16). */
export class CSeq {
  seq: number;
  method: string;

  constructor(seq: number, method: string) {
    this.seq = seq;
    this.method = method;
  }

  static parse(s: string): CSeq | SipParseError {
    const bad = BAD_CSEQ;
    let i = skipWs(s, 0);
    let seq = 0;
    const start = i;
    while (i < s.length) {
      const c = s.charCodeAt(i);
      if (c < 0x30 || c > 0x39) break;
      seq = seq * 10 + (c - 0x30);
      // RFC 3261 §8.1.1.5: the sequence number MUST be less than 2**31 (RFC 4475 §3.1.2.4)
      if (seq >= 0x80000000) return bad;
      i++;
    }
    if (i === start) return bad;
    const m = skipWs(s, i);
    if (m === i) return bad; // LWS required
    const e = scanToken(s, m);
    if (e === m || skipWs(s, e) !== s.length) return bad;
    return new CSeq(seq, s.slice(m, e));
  }

  clone(): CSeq {
    return new CSeq(this.seq, this.method);
  }

  toString(): string {
    return this.seq + ' ' + this.method;
  }
}

/** True for a valid Method token (RFC 3261 §25.1: Method = INVITEm / ... / extension-method). */
export function isMethod(s: string): boolean {
  return isToken(s);
}
