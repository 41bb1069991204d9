/**
 * Edge filters that see every received message before the transaction layer does (Kamailio
 * runs pike_check_req and secfilter first thing in request_route). A dropped request creates
 * no transaction, gets no answer and costs nothing more than its parse: floods and scanners
 * must not fill the transaction table or draw 400/401 answers.
 *
 * The core declares the interface; modules (pike, secfilter) implement it and the composition
 * root chains them in front of the transaction layer (STYLE.md §1).
 */
import { isRequest, type IncomingMessage, type MessageSource, type SipParseError, type SipRequest, type SipResponse, type TransportAddress, type TransportSink } from '@voip/sip';

export interface RequestFilter {
  /** False drops the request silently. */
  admitRequest(req: SipRequest, source: MessageSource): boolean;
  /** Unparsable input from `source`: false drops it instead of answering 400. */
  admitSource(source: MessageSource): boolean;
}

/** A TransportSink that passes on only what every filter admits; responses always pass. */
export class FilteringSink implements TransportSink {
  constructor(
    private readonly next: TransportSink,
    private readonly filters: readonly RequestFilter[],
  ) {}

  onMessage(msg: IncomingMessage): void {
    const m = msg.message;
    if (isRequest(m)) {
      for (const f of this.filters) if (!f.admitRequest(m, msg.source)) return;
    }
    this.next.onMessage(msg);
  }

  onParseError(error: SipParseError, partial: SipRequest | SipResponse | null, source: MessageSource): void {
    for (const f of this.filters) if (!f.admitSource(source)) return;
    this.next.onParseError(error, partial, source);
  }

  onTransportError(dest: TransportAddress, err: Error): void {
    this.next.onTransportError?.(dest, err);
  }
}
