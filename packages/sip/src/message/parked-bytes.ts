/**
 * Outside-the-heap storage for the bytes a finished transaction keeps while it lingers
 * (RFC 3261 §17 / RFC 6026: Timers D, J, L, M = 64*T1, K = T4): the parked header text of its
 * messages (`SipMessage.compact`) and the last response it re-sends.
 *
 * Why not plain `Buffer.from`: small buffers come from Node's shared 8 KB pool slabs, which
 * every short-lived buffer of the same moment (each datagram serialised and sent) also fills.
 * One parked slice keeps its whole slab alive for 32 s, so nearly every pool byte a call ever
 * touched stayed allocated as long as its transactions lingered. Parked bytes get slabs of
 * their own instead: bytes parked at about the same moment expire at about the same moment
 * (64*T1 later), so a slab is freed soon after its last transaction ends.
 *
 * The slab is per thread (module state of each worker), like Node's own pool; nothing here is
 * ever written after it was handed out.
 */

const SLAB_SIZE = 64 * 1024;
/** Larger pieces get an allocation of their own (as Node's pool does above half its size). */
const MAX_PIECE = SLAB_SIZE >>> 3;

let slab: Buffer | null = null;
let used = 0;

/** `n` bytes of the current slab (a fresh slab when it has no room). */
function reserve(n: number): Buffer {
  if (n > MAX_PIECE) return Buffer.allocUnsafeSlow(n);
  if (slab === null || used + n > SLAB_SIZE) {
    slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
    used = 0;
  }
  const out = slab.subarray(used, used + n);
  used += n;
  return out;
}

/** A parked copy of `text` as latin1 bytes (one byte per UTF-16 code unit, as SIP text is read). */
export function parkedLatin1(text: string): Buffer {
  const out = reserve(text.length);
  out.write(text, 0, text.length, 'latin1');
  return out;
}

/** A parked copy of `bytes`. */
export function parkedCopy(bytes: Uint8Array): Buffer {
  const out = reserve(bytes.length);
  out.set(bytes, 0);
  return out;
}

/** A parked copy of `first` followed by `second`, in one piece. */
export function parkedConcat(first: Uint8Array, second: Uint8Array): Buffer {
  const out = reserve(first.length + second.length);
  out.set(first, 0);
  out.set(second, first.length);
  return out;
}
