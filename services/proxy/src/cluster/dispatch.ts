/**
 * Which worker thread owns a received message, decided from the raw bytes (no full parse on the
 * thread that reads the sockets):
 *  - a response whose top Via carries our worker-tagged branch (`z9hG4bK-w<k>-lp…`, set by
 *    core/branch.ts) goes to worker k, which holds its client transaction (RFC 3261 §17.1.3);
 *  - everything else by a hash of its Call-ID, so retransmissions, ACKs and CANCELs of a request
 *    reach the worker holding its server transaction (§17.2.3, §9.2);
 *  - no Call-ID at all (garbage): worker 0, which answers or drops it like any malformed input.
 */
import { fnv1a32 } from '../util/fnv.js';

const HEAD_SCAN = 4096;
const VIA_LINE = /^(?:via|v)[ \t]*:([^\r\n]*)/im;
const WORKER_TAG = /branch[ \t]*=[ \t]*z9hG4bK-w(\d{1,3})-lp/i;
const CALL_ID_LINE = /^(?:call-id|i)[ \t]*:[ \t]*([^\r\n]{1,512})/im;

/** FNV-1a over the Call-ID: stable across threads and restarts. */
export function callIdHash(callId: string): number {
  return fnv1a32(callId);
}

export function ownerOf(buf: Buffer, workers: number): number {
  if (workers <= 1) return 0;
  const head = buf.toString('latin1', 0, Math.min(buf.length, HEAD_SCAN));
  if (head.startsWith('SIP/')) {
    const via = VIA_LINE.exec(head);
    const tag = via === null ? null : WORKER_TAG.exec(via[1]!);
    if (tag !== null) {
      const k = Number(tag[1]);
      if (k < workers) return k;
    }
  }
  const cid = CALL_ID_LINE.exec(head);
  if (cid === null) return 0;
  return callIdHash(cid[1]!.trim()) % workers;
}
