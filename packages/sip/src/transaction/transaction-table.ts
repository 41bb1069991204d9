import { MAGIC_COOKIE } from '../message/index.js';
import type { SipRequest, SipResponse, Via } from '../message/index.js';
import type { TransportAddress } from '../transport/index.js';
import type { ClientTransactionInternal, ServerTransactionInternal } from './types.js';

const SEP = '\u0000';

/** sent-by of a Via (RFC 3261 §17.2.3 compares it as a whole): host (case-insensitive) and port. */
function sentBy(via: Via): string {
  return via.port === null ? via.host.toLowerCase() : `${via.host.toLowerCase()}:${via.port}`;
}

/** Whether the top Via carries an RFC 3261 branch (§8.1.1.7: starts with the magic cookie). */
export function hasRfc3261Branch(via: Via): boolean {
  const b = via.branch;
  return b !== null && b.length > MAGIC_COOKIE.length && b.startsWith(MAGIC_COOKIE);
}

/**
 * Server transaction key for `req` treated as method `method` (RFC 3261 §17.2.3):
 * - branch with the magic cookie: branch + sent-by + method (ACK is keyed as INVITE so it
 *   finds its INVITE transaction);
 * - otherwise (RFC 2543 peers): Request-URI, From tag, Call-ID, CSeq number, method and the
 *   top Via (protocol, sent-by, branch if any). The To tag is compared after lookup, because
 *   an ACK carries the tag of our response, not the INVITE's.
 */
export function serverKey(req: SipRequest, method: string): { key: string; rfc2543: boolean } {
  const via = req.topVia;
  // Keys are joined, not concatenated: `join` makes one flat string, where `+` makes a tree of
  // cons strings whose leaves (the branch is a slice of the Via text) keep the received header
  // text alive for as long as the transaction lingers (64*T1).
  if (hasRfc3261Branch(via)) {
    return { key: [via.branch!, sentBy(via), method].join(SEP), rfc2543: false };
  }
  const key = [
    '2543', req.callId, req.from.tag ?? '', req.cseq.seq, method,
    via.transport.toUpperCase() + '/' + sentBy(via) + ';' + (via.branch ?? ''), req.uri.toString(),
  ].join(SEP);
  return { key, rfc2543: true };
}

/** Client transaction key (RFC 3261 §17.1.3): branch + CSeq method (one flat string, see serverKey). */
export function clientKey(branch: string, method: string): string {
  return [branch, method].join(SEP);
}

/** The branch of a client transaction key (clientKey's inverse). */
export function branchOfClientKey(key: string): string {
  return key.slice(0, key.lastIndexOf(SEP));
}

function destKey(d: TransportAddress): string {
  return `${d.protocol}|${d.address.toLowerCase()}|${d.port}`;
}

function toTagOf(m: SipRequest | SipResponse): string | null {
  return m.to.tag;
}

/**
 * The one owner of every transaction (STYLE.md 3). Matching follows RFC 3261 §17.1.3 for
 * responses and §17.2.3 (with the RFC 2543 fallback) and §9.2 for requests.
 */
export class TransactionTable {
  private readonly servers: Map<string, ServerTransactionInternal>;
  private readonly clients: Map<string, ClientTransactionInternal>;
  /** Client transactions by destination, to route transport failures to them. */
  private readonly clientsByDest: Map<string, Set<ClientTransactionInternal>>;

  constructor() {
    this.servers = new Map();
    this.clients = new Map();
    this.clientsByDest = new Map();
  }

  get serverCount(): number {
    return this.servers.size;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /**
   * The server transaction a request (not ACK/CANCEL special cases) belongs to, if any.
   * RFC 2543 matches also need the To tag of the creating request (§17.2.3).
   */
  matchRequest(req: SipRequest, key: string): ServerTransactionInternal | null {
    const tx = this.servers.get(key);
    if (tx === undefined) return null;
    if (tx.rfc2543 && toTagOf(req) !== toTagOf(tx.request)) return null;
    return tx;
  }

  /**
   * §17.2.3: an ACK matches the INVITE transaction whose key it shares (method INVITE);
   * under the RFC 2543 rules its To tag must equal the tag of the response we sent.
   */
  matchAck(ack: SipRequest): ServerTransactionInternal | null {
    const { key } = serverKey(ack, 'INVITE');
    const tx = this.servers.get(key);
    if (tx === undefined) return null;
    if (tx.rfc2543) {
      const res = tx.lastResponse;
      const expected = res !== null ? toTagOf(res) : toTagOf(tx.request);
      if (toTagOf(ack) !== expected) return null;
    }
    return tx;
  }

  /**
   * RFC 3261 §9.2: the transaction a CANCEL cancels is found by the §17.2.3 rules applied
   * as if its method were that of the cancelled request; CANCEL applies to INVITE (§9.1).
   */
  matchCancelTarget(cancel: SipRequest): ServerTransactionInternal | null {
    const { key } = serverKey(cancel, 'INVITE');
    const tx = this.servers.get(key);
    if (tx === undefined) return null;
    if (tx.rfc2543 && toTagOf(cancel) !== toTagOf(tx.request)) return null;
    return tx;
  }

  /** §17.1.3: a response matches by its top Via branch and CSeq method. */
  matchResponse(res: SipResponse): ClientTransactionInternal | null {
    const branch = res.topVia.branch;
    if (branch === null) return null;
    return this.clients.get(clientKey(branch, res.cseq.method)) ?? null;
  }

  hasClient(key: string): boolean {
    return this.clients.has(key);
  }

  getServer(key: string): ServerTransactionInternal | null {
    return this.servers.get(key) ?? null;
  }

  getClient(key: string): ClientTransactionInternal | null {
    return this.clients.get(key) ?? null;
  }

  addServer(tx: ServerTransactionInternal): void {
    this.servers.set(tx.id, tx);
  }

  removeServer(tx: ServerTransactionInternal): boolean {
    if (this.servers.get(tx.id) !== tx) return false;
    this.servers.delete(tx.id);
    return true;
  }

  addClient(tx: ClientTransactionInternal): void {
    this.clients.set(tx.id, tx);
    const k = destKey(tx.destination);
    let set = this.clientsByDest.get(k);
    if (set === undefined) {
      set = new Set();
      this.clientsByDest.set(k, set);
    }
    set.add(tx);
  }

  removeClient(tx: ClientTransactionInternal): boolean {
    if (this.clients.get(tx.id) !== tx) return false;
    this.clients.delete(tx.id);
    const k = destKey(tx.destination);
    const set = this.clientsByDest.get(k);
    if (set !== undefined) {
      set.delete(tx);
      if (set.size === 0) this.clientsByDest.delete(k);
    }
    return true;
  }

  /** Client transactions sending to `dest` (a snapshot: callers may terminate them). */
  clientsTo(dest: TransportAddress): ClientTransactionInternal[] {
    const set = this.clientsByDest.get(destKey(dest));
    return set === undefined ? [] : [...set];
  }

  allServers(): ServerTransactionInternal[] {
    return [...this.servers.values()];
  }

  allClients(): ClientTransactionInternal[] {
    return [...this.clients.values()];
  }
}
