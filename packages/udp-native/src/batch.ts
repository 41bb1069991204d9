/**
 * Decoding of a drained batch (udp_native.c `drain`): int32 count, int32 datagrams still queued
 * after this batch, int32 ms its first datagram waited in the queue, then 9 int32 per datagram
 * (offset from the data start, length, port, family, address: IPv4 as one host-order word, IPv6
 * as 16 network-order bytes; queued at), then the datagrams. Pure functions; the datagrams are views
 * of the batch's one buffer, not copies.
 */
export const META_WORDS = 9;
/** Bytes before the per-datagram words: count, still queued, queue wait of the first (ms). */
export const BATCH_HEAD = 12;

/** How long the oldest datagram of a batch waited between the socket and the drain (ms). */
export function batchQueueWaitMs(batch: Buffer): number {
  return batch.readInt32LE(8);
}

export interface DatagramVisitor {
  (datagram: Buffer, address: string, port: number): void;
}

/** Peer address strings, one per distinct address: the same few phones and gateways send all. */
const v4Names = new Map<number, string>();
const v6Names = new Map<string, string>();
const NAME_CACHE_MAX = 65_536;

export function ipv4Name(word: number): string {
  let s = v4Names.get(word);
  if (s === undefined) {
    s = `${(word >>> 24) & 255}.${(word >>> 16) & 255}.${(word >>> 8) & 255}.${word & 255}`;
    if (v4Names.size >= NAME_CACHE_MAX) v4Names.clear();
    v4Names.set(word, s);
  }
  return s;
}

/** RFC 5952 text of 16 address bytes: lowercase, no leading zeros, the longest run of two or more zero groups as "::". */
export function ipv6Name(bytes: Uint8Array, offset: number): string {
  let key = '';
  for (let i = 0; i < 16; i++) key += String.fromCharCode(bytes[offset + i]!);
  let s = v6Names.get(key);
  if (s !== undefined) return s;
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((bytes[offset + 2 * i]! << 8) | bytes[offset + 2 * i + 1]!);
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (g: number[]): string => g.map((x) => x.toString(16)).join(':');
  // IPv4-mapped (::ffff:a.b.c.d) is written with its dotted quad, as inet_ntop and Node do.
  if (bestStart === 0 && bestLen === 5 && groups[5] === 0xffff) {
    s = `::ffff:${bytes[offset + 12]}.${bytes[offset + 13]}.${bytes[offset + 14]}.${bytes[offset + 15]}`;
  } else if (bestStart < 0) s = hex(groups);
  else s = `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
  if (v6Names.size >= NAME_CACHE_MAX) v6Names.clear();
  v6Names.set(key, s);
  return s;
}

/**
 * Calls `visit` for every datagram of a batch, in arrival order; returns how many datagrams were
 * still queued when the batch was drained.
 */
export function forEachDatagram(batch: Buffer, visit: DatagramVisitor): number {
  // napi_create_buffer gives a fresh, aligned ArrayBuffer; an unaligned one (never seen) is copied.
  const b = batch.byteOffset % 4 === 0 ? batch : Buffer.from(batch);
  const count = b.readInt32LE(0);
  const meta = new Int32Array(b.buffer, b.byteOffset + BATCH_HEAD, count * META_WORDS);
  const data = BATCH_HEAD + count * META_WORDS * 4;
  for (let i = 0; i < count; i++) {
    const m = i * META_WORDS;
    const offset = data + meta[m]!;
    const address = meta[m + 3] === 6 ? ipv6Name(b, BATCH_HEAD + (m + 4) * 4) : ipv4Name(meta[m + 4]! >>> 0);
    visit(b.subarray(offset, offset + meta[m + 1]!), address, meta[m + 2]!);
  }
  return b.readInt32LE(4);
}
