// Minimal STUN (RFC 5389) Binding responder for ICE-lite (RFC 8445 §2.5): with ICE=force
// the relay is the only candidate it offers, so it must answer the peer's connectivity
// checks on its media ports or an ICE agent never sends media. This is the rare path:
// it runs only for packets whose first byte marks them as STUN (RFC 7983 §7), never for RTP.
import { createHmac } from 'node:crypto';
import { crc32 } from 'node:zlib';

export const STUN_MAGIC = 0x2112a442;
const BINDING_REQUEST = 0x0001;
const BINDING_SUCCESS = 0x0101;
const ATTR_USERNAME = 0x0006;
const ATTR_MESSAGE_INTEGRITY = 0x0008;
const ATTR_XOR_MAPPED_ADDRESS = 0x0020;
const ATTR_USE_CANDIDATE = 0x0025;
const ATTR_FINGERPRINT = 0x8028;
const FINGERPRINT_XOR = 0x5354554e;
const HEADER = 20;

/** RFC 7983 §7: a first byte in 0..3 is STUN; RTP/RTCP start at 128. */
export function looksLikeStun(msg: Buffer): boolean {
  return msg.length >= HEADER && msg[0] < 4 && msg.readUInt32BE(4) === STUN_MAGIC;
}

export interface StunCheck {
  /** The request carried USE-CANDIDATE: the controlling agent nominated this pair. */
  readonly useCandidate: boolean;
  readonly response: Buffer;
}

/**
 * Validates a Binding request against our short-term credentials (RFC 8445 §7.3:
 * USERNAME "ourUfrag:theirUfrag", MESSAGE-INTEGRITY keyed with our password) and builds
 * the success response. Returns null for anything that is not a valid check for us.
 */
export function answerBindingRequest(
  msg: Buffer,
  ufrag: string,
  pwd: string,
  srcAddress: string,
  srcPort: number,
  family: 4 | 6,
): StunCheck | null {
  if (!looksLikeStun(msg) || msg.readUInt16BE(0) !== BINDING_REQUEST) return null;
  const len = msg.readUInt16BE(2);
  if (len % 4 !== 0 || HEADER + len !== msg.length) return null;
  let username: string | null = null;
  let miOffset = -1;
  let useCandidate = false;
  let off = HEADER;
  while (off + 4 <= msg.length) {
    const type = msg.readUInt16BE(off);
    const alen = msg.readUInt16BE(off + 2);
    const vstart = off + 4;
    if (vstart + alen > msg.length) return null;
    if (miOffset >= 0 && type !== ATTR_FINGERPRINT) return null; // RFC 5389 §15.4: only FINGERPRINT may follow
    if (type === ATTR_USERNAME) username = msg.toString('utf8', vstart, vstart + alen);
    else if (type === ATTR_MESSAGE_INTEGRITY) {
      if (alen !== 20) return null;
      miOffset = off;
    } else if (type === ATTR_USE_CANDIDATE) useCandidate = true;
    off = vstart + ((alen + 3) & ~3);
  }
  if (username === null || miOffset < 0) return null;
  if (!username.startsWith(`${ufrag}:`)) return null;
  // RFC 5389 §15.4: the HMAC covers the message up to MESSAGE-INTEGRITY with the length
  // field set as if MESSAGE-INTEGRITY were the last attribute.
  const covered = Buffer.from(msg.subarray(0, miOffset));
  covered.writeUInt16BE(miOffset + 24 - HEADER, 2);
  const expect = createHmac('sha1', pwd).update(covered).digest();
  if (!expect.equals(msg.subarray(miOffset + 4, miOffset + 24))) return null;
  return { useCandidate, response: buildSuccess(msg.subarray(8, 20), pwd, srcAddress, srcPort, family) };
}

function buildSuccess(txid: Buffer, pwd: string, address: string, port: number, family: 4 | 6): Buffer {
  const addrLen = family === 4 ? 4 : 16;
  const xmaLen = 4 + addrLen;
  const total = HEADER + (4 + xmaLen) + 24 + 8;
  const out = Buffer.alloc(total);
  out.writeUInt16BE(BINDING_SUCCESS, 0);
  out.writeUInt32BE(STUN_MAGIC, 4);
  txid.copy(out, 8);
  let off = HEADER;
  // RFC 5389 §15.2: XOR-MAPPED-ADDRESS, port XOR the cookie's high half, address XOR
  // cookie (IPv4) or cookie + transaction id (IPv6).
  out.writeUInt16BE(ATTR_XOR_MAPPED_ADDRESS, off);
  out.writeUInt16BE(xmaLen, off + 2);
  out.writeUInt8(0, off + 4);
  out.writeUInt8(family === 4 ? 1 : 2, off + 5);
  out.writeUInt16BE(port ^ (STUN_MAGIC >>> 16), off + 6);
  const raw = family === 4 ? ipv4Bytes(address) : ipv6Bytes(address);
  for (let i = 0; i < addrLen; i++) out[off + 8 + i] = raw[i] ^ out[4 + i]; // bytes 4..19 = cookie + txid
  off += 4 + xmaLen;
  out.writeUInt16BE(ATTR_MESSAGE_INTEGRITY, off);
  out.writeUInt16BE(20, off + 2);
  out.writeUInt16BE(off + 24 - HEADER, 2);
  createHmac('sha1', pwd).update(out.subarray(0, off)).digest().copy(out, off + 4);
  off += 24;
  out.writeUInt16BE(ATTR_FINGERPRINT, off);
  out.writeUInt16BE(4, off + 2);
  out.writeUInt16BE(total - HEADER, 2);
  out.writeUInt32BE((crc32(out.subarray(0, off)) ^ FINGERPRINT_XOR) >>> 0, off + 4);
  return out;
}

function ipv4Bytes(a: string): number[] {
  return a.split('.').map((x) => Number(x) & 0xff);
}

function ipv6Bytes(a: string): number[] {
  const zone = a.indexOf('%');
  const s = zone < 0 ? a : a.slice(0, zone);
  const [head, tail] = s.includes('::') ? s.split('::') : [s, null];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === null ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out: number[] = [];
  for (const g of groups) {
    const v = parseInt(g, 16) || 0;
    out.push(v >> 8, v & 0xff);
  }
  return out;
}
