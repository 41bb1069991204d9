// Coded errors of the voicemail bridge (STYLE.md §7). One table maps each code to the SIP
// status and reason a request is answered with (or, for HTTP-only codes, the HTTP status);
// errors.test.ts checks that every code is listed in docs/errors.md.

export type VoicemailErrorCode =
  | 'VM_ERR_NO_MAILBOX'
  | 'VM_ERR_UNSUPPORTED_MEDIA'
  | 'VM_ERR_BAD_SDP'
  | 'VM_ERR_NO_SDP'
  | 'VM_ERR_IDENTITY'
  | 'VM_ERR_PORTS_EXHAUSTED'
  | 'VM_ERR_BAD_EVENT'
  | 'VM_ERR_INTERVAL_TOO_BRIEF'
  | 'VM_ERR_NO_DIALOG'
  | 'VM_ERR_METHOD'
  | 'VM_ERR_OVERLOAD'
  | 'VM_ERR_STORAGE'
  | 'VM_ERR_BAD_WAV'
  | 'VM_ERR_CONFIG'
  | 'VM_ERR_SUBSCRIBERS'
  | 'VM_ERR_AMI';

export interface VoicemailErrorInfo {
  /** SIP status (or HTTP status for the HTTP-only codes). */
  status: number;
  reason: string;
}

export const VM_ERRORS: Readonly<Record<VoicemailErrorCode, VoicemailErrorInfo>> = Object.freeze({
  VM_ERR_NO_MAILBOX: { status: 404, reason: 'Not Found - No Such Mailbox' },
  VM_ERR_UNSUPPORTED_MEDIA: { status: 488, reason: 'Not Acceptable Here - No Common Codec' },
  VM_ERR_BAD_SDP: { status: 400, reason: 'Bad Request - Malformed SDP' },
  VM_ERR_NO_SDP: { status: 488, reason: 'Not Acceptable Here - No SDP Offer' },
  VM_ERR_IDENTITY: { status: 403, reason: 'Forbidden - Mailbox Access Needs Asserted Identity' },
  VM_ERR_PORTS_EXHAUSTED: { status: 503, reason: 'Service Unavailable - No Media Ports' },
  VM_ERR_BAD_EVENT: { status: 489, reason: 'Bad Event' },
  VM_ERR_INTERVAL_TOO_BRIEF: { status: 423, reason: 'Interval Too Brief' },
  VM_ERR_NO_DIALOG: { status: 481, reason: 'Call/Transaction Does Not Exist' },
  VM_ERR_METHOD: { status: 405, reason: 'Method Not Allowed' },
  VM_ERR_OVERLOAD: { status: 503, reason: 'Service Unavailable - Too Many Calls' },
  VM_ERR_STORAGE: { status: 500, reason: 'Server Internal Error - Mailbox Storage Failed' },
  VM_ERR_BAD_WAV: { status: 415, reason: 'Unsupported Media Type - WAV must be PCM 16-bit mono' },
  VM_ERR_CONFIG: { status: 0, reason: 'Invalid configuration' },
  VM_ERR_SUBSCRIBERS: { status: 0, reason: 'Subscriber directory unavailable' },
  VM_ERR_AMI: { status: 0, reason: 'Asterisk Manager Interface error' },
});

export class VoicemailError extends Error {
  readonly code: VoicemailErrorCode;
  readonly status: number;
  readonly reason: string;
  readonly detail: string | null;

  constructor(code: VoicemailErrorCode, detail: string | null = null) {
    const info = VM_ERRORS[code];
    super(detail === null ? info.reason : `${info.reason}: ${detail}`);
    this.name = code;
    this.code = code;
    this.status = info.status;
    this.reason = info.reason;
    this.detail = detail;
  }
}
