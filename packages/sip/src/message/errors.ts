/**
 * Coded parse errors of the SIP message layer (STYLE.md §7).
 *
 * Every fault the parser can report has a `SIP_ERR_*` code; one table maps the code to the
 * status a server answers and a reason phrase naming the fault. `SipParseError` is the
 * contract type (docs/design/sip-package-api.md): `status` + `reason`, plus the `code`.
 * The codes are documented in ./README.md (a test checks every code is listed there).
 */

/** What a parse reports: the status to answer (400, 505, 513) and a reason naming the fault. */
export interface SipParseError {
  status: number;
  reason: string;
  /** The `SIP_ERR_*` code when the message layer produced the error. */
  code?: SipErrorCode;
}

interface ErrorTemplate {
  readonly status: number;
  /** Reason phrase; `%s` is replaced by the detail (a header name, mostly). */
  readonly reason: string;
}

/** code -> status and reason phrase. */
export const SIP_ERRORS = {
  // RFC 3261 §21.5.14 / §18.1.1: the message exceeds what we accept.
  SIP_ERR_TOO_LARGE: { status: 513, reason: 'Message Too Large' },
  // Nothing that looks like a SIP message (empty datagram, binary junk).
  SIP_ERR_EMPTY: { status: 400, reason: 'Bad Request - Empty Message' },
  // RFC 3261 §7.1: Request-Line = Method SP Request-URI SP SIP-Version CRLF.
  SIP_ERR_REQUEST_LINE: { status: 400, reason: 'Bad Request - Malformed Request-Line' },
  // RFC 3261 §7.2: Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF.
  SIP_ERR_STATUS_LINE: { status: 400, reason: 'Bad Request - Malformed Status-Line' },
  SIP_ERR_REQUEST_URI: { status: 400, reason: 'Bad Request - Malformed Request-URI' },
  // RFC 3261 §8.2.2 / §21.5.21: a version other than SIP/2.0.
  SIP_ERR_VERSION: { status: 505, reason: 'Version Not Supported' },
  // RFC 3261 §7.3: header line without a name or colon.
  SIP_ERR_HEADER_LINE: { status: 400, reason: 'Bad Request - Malformed Header Line' },
  // No empty line ends the header section.
  SIP_ERR_HEADER_END: { status: 400, reason: 'Bad Request - Incomplete Header Section' },
  // RFC 3261 §8.1.1: To, From, CSeq, Call-ID, Via are mandatory (Max-Forwards: a proxy adds it).
  SIP_ERR_MISSING_HEADER: { status: 400, reason: 'Bad Request - Missing %s' },
  // RFC 3261 §7.3.1: single-valued fields appear once (RFC 4475 §3.3.8, §3.3.9).
  SIP_ERR_DUPLICATE_HEADER: { status: 400, reason: 'Bad Request - Multiple %s Values' },
  SIP_ERR_MALFORMED_HEADER: { status: 400, reason: 'Bad Request - Malformed %s' },
  // RFC 3261 §8.1.1.5: the CSeq method MUST match the request method (RFC 4475 §3.1.2.17).
  SIP_ERR_CSEQ_METHOD: { status: 400, reason: 'Bad Request - CSeq Method Does Not Match Request Method' },
  // RFC 3261 §18.3: on UDP, fewer body octets than Content-Length is a 400.
  SIP_ERR_BODY_TRUNCATED: { status: 400, reason: 'Bad Request - Body Shorter Than Content-Length' },
  // A standalone URI / header value given to a parse function is malformed.
  SIP_ERR_MALFORMED_URI: { status: 400, reason: 'Bad Request - Malformed URI' },
} as const satisfies Record<string, ErrorTemplate>;

export type SipErrorCode = keyof typeof SIP_ERRORS;

/** Builds the error for `code`; `detail` fills the `%s` of the reason. */
export function sipError(code: SipErrorCode, detail?: string): SipParseError {
  const t: ErrorTemplate = SIP_ERRORS[code];
  const reason = detail === undefined ? t.reason.replace(' %s', '') : t.reason.replace('%s', detail);
  return { status: t.status, reason, code };
}

/** A shared, frozen instance of an error (for hot parse paths: no allocation on failure). */
export function frozenError(code: SipErrorCode, detail?: string): SipParseError {
  return Object.freeze(sipError(code, detail));
}

/** Narrowing helper for the `X | SipParseError` results of the parse functions. */
export function isSipParseError(v: unknown): v is SipParseError {
  return typeof v === 'object' && v !== null && typeof (v as SipParseError).status === 'number' &&
    typeof (v as SipParseError).reason === 'string' && !('headers' in v);
}

/**
 * Thrown by the lazy accessors of a message (`msg.from`, `msg.cseq`...) when the header is
 * missing or malformed. `parseMessage` validates what the accessors read, so this only
 * happens for messages built by hand or whose headers were replaced with bad text.
 */
export class SipMessageError extends Error {
  readonly error: SipParseError;
  constructor(error: SipParseError) {
    super(error.reason);
    this.name = 'SipMessageError';
    this.error = error;
  }
}
