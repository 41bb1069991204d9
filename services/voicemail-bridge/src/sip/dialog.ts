/**
 * A dialog as its UAS sees it (RFC 3261 §12.1.1), for INVITE sessions and for SUBSCRIBE
 * usages (RFC 6665 §4.1): route set from Record-Route in order, remote target from Contact,
 * remote CSeq from the request, our tag in To. Builds in-dialog requests (§12.2.1.1).
 */
import { CSeq, HeaderList, NameAddr, SipRequest, SipUri, generateTag, type MessageSource, type ServerTransaction, type Uri } from '@voip/sip';

export class Dialog {
  readonly callId: string;
  readonly localTag: string;
  readonly remoteTag: string;
  /** Our side: the To of the request, with our tag. */
  readonly local: NameAddr;
  /** The far end: the From of the request. */
  readonly remote: NameAddr;
  remoteTarget: Uri;
  readonly routeSet: NameAddr[];
  localSeq: number;
  remoteSeq: number;
  /** Where the dialog-creating request came from (fallback next hop when the target does not resolve). */
  readonly source: MessageSource;
  /** Our Contact (the listener the request arrived on). */
  readonly contact: string;
  readonly key: string;

  constructor(req: SipRequest, source: MessageSource, contact: string, localTag = generateTag()) {
    this.callId = req.callId;
    this.localTag = localTag;
    this.remoteTag = req.from.tag ?? '';
    const local = NameAddr.parse(req.headers.get('to') ?? '');
    if (!(local instanceof NameAddr)) throw new Error('unparsable To');
    local.tag = localTag;
    this.local = local;
    this.remote = req.from;
    const c = req.contacts;
    this.remoteTarget = !c.star && c.contacts.length > 0 ? c.contacts[0]!.uri : req.from.uri;
    this.routeSet = req.recordRoutes;
    this.localSeq = 1 + Math.floor(Math.random() * 10_000);
    this.remoteSeq = req.cseq.seq;
    this.source = source;
    this.contact = contact;
    this.key = Dialog.keyOf(this.callId, localTag);
  }

  static keyOf(callId: string, localTag: string): string {
    return `${callId}\n${localTag}`;
  }

  /** §12.2.2: a target refresh (re-INVITE, re-SUBSCRIBE) may update the remote target. */
  refreshTarget(req: SipRequest): void {
    const c = req.contacts;
    if (!c.star && c.contacts.length > 0) this.remoteTarget = c.contacts[0]!.uri;
  }

  /**
   * §12.2.2: requests in a dialog must carry increasing CSeq numbers; a lower one than the
   * last seen is out of order (answered 500). Returns false for such a request.
   */
  acceptRemoteSeq(tx: ServerTransaction): boolean {
    const seq = tx.request.cseq.seq;
    if (seq < this.remoteSeq) return false;
    this.remoteSeq = seq;
    return true;
  }

  /** §12.2.1.1: a request within the dialog (the caller adds the Via when sending). */
  createRequest(method: string, extra: [string, string][] = [], body?: Buffer): SipRequest {
    const h = new HeaderList();
    let ruri: Uri = this.remoteTarget.clone();
    const routes = this.routeSet.map((r) => r.toString());
    const first = this.routeSet[0];
    if (first !== undefined && first.uri instanceof SipUri && !first.uri.lr) {
      // §12.2.1.1 strict router: its URI becomes the R-URI, the remote target the last Route.
      ruri = first.uri.clone();
      (ruri as SipUri).headers.clear();
      routes.shift();
      routes.push(`<${this.remoteTarget.toString()}>`);
    }
    for (const r of routes) h.append('route', r);
    h.append('max-forwards', '70');
    h.append('from', this.local.toString());
    h.append('to', this.remote.toString());
    h.append('call-id', this.callId);
    h.append('cseq', new CSeq(++this.localSeq, method).toString());
    h.append('contact', this.contact);
    for (const [n, v] of extra) h.append(n, v);
    return new SipRequest(method, ruri, h, body ?? Buffer.alloc(0));
  }

  /** The URI the next hop is taken from (§8.1.2): the first Route, else the R-URI. */
  nextHopUri(req: SipRequest): Uri {
    const routes = req.routes;
    return routes.length > 0 ? routes[0]!.uri : req.uri;
  }
}
