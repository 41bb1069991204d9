// Coded errors of the relay. Each code maps to the error-reason text returned in an ng
// reply ({ result: "error", "error-reason": ... }); reasons that rtpengine also produces
// use rtpengine's wording so control scripts written for it match ours.

export type RtpErrorCode =
  | 'RTP_ERR_BAD_MESSAGE'
  | 'RTP_ERR_UNKNOWN_COMMAND'
  | 'RTP_ERR_MISSING_PARAM'
  | 'RTP_ERR_NO_SDP'
  | 'RTP_ERR_BAD_SDP'
  | 'RTP_ERR_UNKNOWN_CALL'
  | 'RTP_ERR_UNKNOWN_TAG'
  | 'RTP_ERR_SESSION_LIMIT'
  | 'RTP_ERR_PORTS_EXHAUSTED'
  | 'RTP_ERR_NO_INTERFACE'
  | 'RTP_ERR_MEDIA_MISMATCH'
  | 'RTP_ERR_PROTOCOL'
  | 'RTP_ERR_BIND';

export const RTP_ERRORS: Readonly<Record<RtpErrorCode, string>> = Object.freeze({
  RTP_ERR_BAD_MESSAGE: 'Failed to decode bencode message',
  RTP_ERR_UNKNOWN_COMMAND: 'Unrecognized command',
  RTP_ERR_MISSING_PARAM: 'Missing required parameter',
  RTP_ERR_NO_SDP: 'No SDP body in message',
  RTP_ERR_BAD_SDP: 'Failed to parse SDP',
  RTP_ERR_UNKNOWN_CALL: 'Unknown call-id',
  RTP_ERR_UNKNOWN_TAG: 'Unknown tag',
  RTP_ERR_SESSION_LIMIT: 'Parallel session limit reached',
  RTP_ERR_PORTS_EXHAUSTED: 'Ran out of ports',
  RTP_ERR_NO_INTERFACE: 'No such interface',
  RTP_ERR_MEDIA_MISMATCH: 'Answer has more media sections than the offer',
  RTP_ERR_PROTOCOL: 'Unsupported transport protocol conversion',
  RTP_ERR_BIND: 'Failed to bind media socket',
});

export class RtpError extends Error {
  readonly code: RtpErrorCode;
  readonly detail: string | null;

  constructor(code: RtpErrorCode, detail: string | null = null) {
    super(detail === null ? RTP_ERRORS[code] : `${RTP_ERRORS[code]}: ${detail}`);
    this.name = code;
    this.code = code;
    this.detail = detail;
  }
}
