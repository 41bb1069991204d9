/**
 * Branch parameters for requests the proxy forwards.
 *
 * RFC 3261 §16.6 step 8: a proxy that does loop detection builds the branch from a hash over
 * the parts of the request that stay the same when it loops back (To tag, From tag, Call-ID,
 * the Request-URI as received, the Via below ours, CSeq number, Proxy-Require and
 * Proxy-Authorization), plus a part that differs per branch. §16.3 step 4: when a request
 * arrives carrying our own Via, recomputing that hash and finding it equal means a loop (482);
 * a different hash is a spiral, which is legal.
 *
 * RFC 3261 §16.11: a stateless proxy must produce the same branch for a retransmission, so
 * its branch is derived from the received request's branch.
 */
import { randomBytes } from 'node:crypto';
import type { SipRequest } from '@voip/sip';
import { fnv64Hex } from '../util/fnv.js';

const COOKIE = 'z9hG4bK';
/** Marks our loop-detecting branches: z9hG4bK-lp<16 hex hash>.<counter>.<random> */
const LOOP_PREFIX = `${COOKIE}-lp`;
const HASH_LEN = 16;

let counter = 0;
const instance = randomBytes(3).toString('hex');
/**
 * With worker threads (config `workers` > 1) our branches carry the worker's index right after
 * the cookie, `z9hG4bK-w<k>-lp…`, so the thread reading the socket hands each response to the
 * worker holding its client transaction without parsing it (see cluster/dispatch.ts).
 */
let workerPrefix = LOOP_PREFIX;

export function setBranchWorker(index: number | null): void {
  workerPrefix = index === null ? LOOP_PREFIX : `${COOKIE}-w${index}-lp`;
}

/**
 * Hash over the loop-invariant parts of `req` as received; `viaBelow` = the Via under ours.
 * Loop detection needs equality, not secrecy: 64 bits of FNV-1a over the joined fields.
 */
export function loopHash(req: SipRequest, requestUriAsReceived: string, viaBelow: string): string {
  const s =
    (req.to.tag ?? '') + '\0' + (req.from.tag ?? '') + '\0' + req.callId + '\0' + requestUriAsReceived + '\0' +
    viaBelow + '\0' + req.cseq.seq + '\0' + (req.headers.get('proxy-require') ?? '') + '\0' +
    (req.headers.get('proxy-authorization') ?? '');
  return fnv64Hex(s).slice(0, HASH_LEN);
}

export function statefulBranch(hash: string): string {
  counter = (counter + 1) >>> 0;
  return `${workerPrefix}${hash}.${counter.toString(36)}${instance}`;
}

const WORKER_BRANCH_RE = /^z9hG4bK-w\d{1,3}-lp/;

/** The loop hash carried by one of our branches (any worker's), or null for other branches. */
export function hashOfBranch(branch: string): string | null {
  let start: number;
  if (branch.startsWith(LOOP_PREFIX)) start = LOOP_PREFIX.length;
  else {
    const m = WORKER_BRANCH_RE.exec(branch.slice(0, 16));
    if (m === null) return null;
    start = m[0].length;
  }
  return branch.slice(start, start + HASH_LEN);
}

const STATELESS_PREFIX = `${COOKIE}-sl`;

/** §16.11: the same received branch (and next hop) always yields the same forwarded branch. */
export function statelessBranch(receivedBranch: string, nextHop: string): string {
  return `${STATELESS_PREFIX}${fnv64Hex(receivedBranch + '\0' + nextHop)}`;
}

/** True for branches we put on requests forwarded statelessly: their responses are relayed by Via. */
export function isStatelessBranch(branch: string | null): boolean {
  return branch !== null && branch.startsWith(STATELESS_PREFIX);
}
