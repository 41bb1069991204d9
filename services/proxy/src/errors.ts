/**
 * Coded proxy errors (STYLE.md §7): one table maps each code to the SIP status and reason
 * phrase the proxy answers with. Every code is documented in docs/errors.md (a test checks).
 */
export const PROXY_ERRORS = {
  SIP_ERR_TOO_MANY_HOPS: { status: 483, reason: 'Too Many Hops' },
  SIP_ERR_MESSAGE_TOO_LARGE: { status: 513, reason: 'Message Too Large' },
  SIP_ERR_LOOP_DETECTED: { status: 482, reason: 'Loop Detected' },
  SIP_ERR_BAD_EXTENSION: { status: 420, reason: 'Bad Extension' },
  SIP_ERR_UNSUPPORTED_URI_SCHEME: { status: 416, reason: 'Unsupported URI Scheme' },
  SIP_ERR_NOT_FOUND: { status: 404, reason: 'Not Found' },
  SIP_ERR_INTERVAL_TOO_BRIEF: { status: 423, reason: 'Interval Too Brief' },
  SIP_ERR_INVALID_CONTACT: { status: 400, reason: 'Bad Request - Invalid Contact' },
  SIP_ERR_INVALID_CSEQ: { status: 400, reason: 'Bad Request - Invalid CSeq number' },
  SIP_ERR_TOO_MANY_CONTACTS: { status: 403, reason: 'Forbidden - Too many registered contacts' },
  SIP_ERR_NOT_LOCAL_DOMAIN: { status: 403, reason: 'Forbidden - Not a local domain' },
  SIP_ERR_UNRESOLVABLE: { status: 478, reason: 'Unresolvable destination' },
  SIP_ERR_NO_ROUTING_DECISION: { status: 500, reason: 'Server Internal Error - no routing decision' },
  SIP_ERR_INTERNAL: { status: 500, reason: 'Server Internal Error' },
  SIP_ERR_REQUEST_TIMEOUT: { status: 408, reason: 'Request Timeout' },
  SIP_ERR_TRANSPORT_FAILURE: { status: 503, reason: 'Service Unavailable - transport failure' },
  // Chapter 5: digest authentication and identity checks.
  SIP_ERR_UNAUTHORIZED: { status: 401, reason: 'Unauthorized' },
  SIP_ERR_PROXY_AUTH_REQUIRED: { status: 407, reason: 'Proxy Authentication Required' },
  SIP_ERR_FORBIDDEN_FROM: { status: 403, reason: 'Forbidden, use From=ID' },
  SIP_ERR_FORBIDDEN_TO: { status: 403, reason: 'Forbidden, use To=ID' },
  SIP_ERR_RELAY_FORBIDDEN: { status: 403, reason: 'Forbidden - Relaying Denied' },
  SIP_ERR_BAD_CREDENTIALS: { status: 400, reason: 'Bad Request - Malformed Credentials' },
  SIP_ERR_AUTH_BACKEND: { status: 500, reason: 'Server Internal Error - Authentication Backend Unavailable' },
  // Edge protection (docs/security.md).
  SIP_ERR_AUTH_BLOCKED: { status: 403, reason: 'Forbidden' },
  SIP_ERR_OVERLOADED: { status: 503, reason: 'Service Unavailable' },
} as const satisfies Record<string, { status: number; reason: string; warning?: string }>;

export type ProxyErrorCode = keyof typeof PROXY_ERRORS;

/** An error that carries its coded SIP answer up to the place that replies. */
export class ProxyError extends Error {
  readonly status: number;
  readonly reason: string;
  constructor(readonly code: ProxyErrorCode, detail?: string) {
    const e = PROXY_ERRORS[code];
    super(detail ? `${code}: ${detail}` : code);
    this.name = 'ProxyError';
    this.status = e.status;
    this.reason = e.reason;
  }
}
