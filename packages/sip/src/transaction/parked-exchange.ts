/**
 * What a transaction keeps of its request and last response once only timers are left
 * (RFC 3261 §17: INVITE server Accepted/Confirmed (RFC 6026 §8.7), non-INVITE server Completed,
 * INVITE client Accepted/Completed (RFC 6026 §8.4), non-INVITE client Completed).
 *
 * In those states the machines only match retransmissions by key and re-send bytes they already
 * hold; nothing of the parsed messages is needed. At 1000 calls/s about 100 000 such
 * transactions are alive (64*T1 = 32 s over UDP), and a parsed message, even compacted, was an
 * object graph of ~330-550 B on the JS heap that every scavenge copied and every mark-compact
 * traced. So a lingering machine keeps the request and the response as one run of bytes in
 * parked storage (message/parked-bytes.ts: outside the heap, one Buffer object) and parses
 * them again only if someone asks (`request` / `lastResponse` of a lingering transaction: a log
 * line, an RFC 2543 To-tag comparison, a TU reading an answered transaction); each such read
 * is a fresh parse.
 *
 * Layout: request bytes, then response bytes; `split` is the request's length. The bytes are
 * the wire form (what was received and stamped, or what was sent), so a reparse gives the same
 * message as the one dropped.
 */
import { parseMessage } from '../message/index.js';
import type { SipRequest, SipResponse } from '../message/index.js';
import { parkedConcat, parkedCopy } from '../message/parked-bytes.js';

/** Request and response bytes side by side in parked storage (the response may be absent). */
export function parkExchange(request: Buffer, response: Buffer | null): Buffer {
  if (response === null || response.length === 0) return parkedCopy(request);
  return parkedConcat(request, response);
}

function reparse(bytes: Buffer): SipRequest | SipResponse {
  const r = parseMessage(bytes, { maxSize: Math.max(bytes.length, 1) });
  // The bytes were a message we parsed or serialised ourselves: failing here is a bug.
  if (!r.ok) throw new Error(`parked message does not parse: ${r.error.reason}`);
  return r.message;
}

/** The parked request (a fresh parse). */
export function parkedRequest(parked: Buffer, split: number): SipRequest {
  return reparse(parked.subarray(0, split)) as SipRequest;
}

/** The parked response's bytes, or null when none was parked. */
export function parkedResponseBytes(parked: Buffer, split: number): Buffer | null {
  return split < parked.length ? parked.subarray(split) : null;
}

/** The parked response (a fresh parse), or null when none was parked. */
export function parkedResponse(parked: Buffer, split: number): SipResponse | null {
  const bytes = parkedResponseBytes(parked, split);
  return bytes === null ? null : (reparse(bytes) as SipResponse);
}

/**
 * What every transaction machine keeps of its request and last response: the parsed messages
 * while it works, then (`park`) one run of parked bytes once only timers are left. One base for
 * the four RFC 3261 §17 machines so the storage is written once; the fields are plain slab /
 * offset / length rather than a Buffer object (~100 B of heap per lingering transaction).
 */
export abstract class ParkableExchange {
  /** The request until the exchange is parked; null after. */
  protected req: SipRequest | null;
  /** The last response until the exchange is parked; null after. */
  protected res: SipResponse | null;
  private parkedSlab: ArrayBuffer | null;
  private parkedAt: number;
  private parkedLength: number;
  /** Length of the request's bytes at the start of the parked run. */
  protected split: number;

  constructor(request: SipRequest) {
    this.req = request;
    this.res = null;
    this.parkedSlab = null;
    this.parkedAt = 0;
    this.parkedLength = 0;
    this.split = 0;
  }

  /** The parked bytes as a (transient) view; null while not parked. */
  protected get parked(): Buffer | null {
    return this.parkedSlab === null ? null : Buffer.from(this.parkedSlab, this.parkedAt, this.parkedLength);
  }

  protected set parked(b: Buffer | null) {
    this.parkedSlab = b === null ? null : (b.buffer as ArrayBuffer);
    this.parkedAt = b === null ? 0 : b.byteOffset;
    this.parkedLength = b === null ? 0 : b.length;
  }

  /** The request; once parked a fresh parse of its bytes on each read. */
  get request(): SipRequest {
    return this.req ?? parkedRequest(this.parked!, this.split);
  }

  /** The last response; once parked a fresh parse of its bytes on each read. */
  get lastResponse(): SipResponse | null {
    if (this.parked === null) return this.res;
    return parkedResponse(this.parked, this.split);
  }
}
