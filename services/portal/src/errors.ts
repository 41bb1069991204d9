// Coded errors of the portal (STYLE.md §7). One table maps each code to the HTTP status and the
// reason pages and the JSON API answer with; errors.test.ts checks that every code is listed in
// docs/errors.md.

export type PortalErrorCode =
  | 'PORTAL_ERR_BAD_INPUT'
  | 'PORTAL_ERR_UNAUTHENTICATED'
  | 'PORTAL_ERR_FORBIDDEN'
  | 'PORTAL_ERR_CSRF'
  | 'PORTAL_ERR_THROTTLED'
  | 'PORTAL_ERR_NOT_FOUND'
  | 'PORTAL_ERR_DUPLICATE'
  | 'PORTAL_ERR_READ_ONLY'
  | 'PORTAL_ERR_STORAGE'
  | 'PORTAL_ERR_UPSTREAM'
  | 'PORTAL_ERR_MAIL'
  | 'PORTAL_ERR_CONFIG';

export interface PortalErrorInfo {
  /** HTTP status (0: start-up only). */
  status: number;
  reason: string;
}

export const PORTAL_ERRORS: Readonly<Record<PortalErrorCode, PortalErrorInfo>> = Object.freeze({
  PORTAL_ERR_BAD_INPUT: { status: 400, reason: 'Invalid input' },
  PORTAL_ERR_UNAUTHENTICATED: { status: 401, reason: 'Sign-in required' },
  PORTAL_ERR_FORBIDDEN: { status: 403, reason: 'Not allowed for this account' },
  PORTAL_ERR_CSRF: { status: 403, reason: 'Missing or wrong CSRF token' },
  PORTAL_ERR_THROTTLED: { status: 429, reason: 'Too many failed sign-ins' },
  PORTAL_ERR_NOT_FOUND: { status: 404, reason: 'No such entry' },
  PORTAL_ERR_DUPLICATE: { status: 409, reason: 'Already exists' },
  PORTAL_ERR_READ_ONLY: { status: 409, reason: 'Read-only: the portal serves a provisioning file' },
  PORTAL_ERR_STORAGE: { status: 503, reason: 'Database unavailable' },
  PORTAL_ERR_UPSTREAM: { status: 502, reason: 'Proxy or voicemail service did not answer' },
  PORTAL_ERR_MAIL: { status: 502, reason: 'Confirmation mail could not be sent' },
  PORTAL_ERR_CONFIG: { status: 0, reason: 'Invalid configuration' },
});

export class PortalError extends Error {
  readonly code: PortalErrorCode;
  readonly status: number;
  constructor(code: PortalErrorCode, detail?: string) {
    const info = PORTAL_ERRORS[code];
    super(detail === undefined ? info.reason : `${info.reason}: ${detail}`);
    this.name = code;
    this.code = code;
    this.status = info.status;
  }
}
