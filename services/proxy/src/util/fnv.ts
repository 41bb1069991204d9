/**
 * FNV-1a over the UTF-16 code units of a string: the proxy's one non-cryptographic hash, for
 * equality checks and stable steering (loop-detecting branches, stateless branches, which worker
 * owns a Call-ID). No crypto object or Buffer is allocated, so it costs nothing on the SIP path.
 */
const OFFSET = 0x811c9dc5;
const PRIME = 0x01000193;

/** 32-bit FNV-1a (optionally from another offset basis, for an independent second lane). */
export function fnv1a32(s: string, offset = OFFSET): number {
  let h = offset;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), PRIME);
  return h >>> 0;
}

const SECOND_LANE = OFFSET ^ 0x5bd1e995;

/** 64 bits as 16 hex digits: two FNV-1a lanes with different offset bases, in one pass over `s`. */
export function fnv64Hex(s: string): string {
  let a = OFFSET;
  let b = SECOND_LANE;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, PRIME);
    b = Math.imul(b ^ c, PRIME);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}
