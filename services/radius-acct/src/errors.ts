/**
 * Coded errors of radius-acct (STYLE.md, Errors); each is listed in docs/accounting.md
 * (errors.test.ts checks it). The CLI prints the message and exits with `exitCode`.
 */
export const RADIUS_ACCT_ERRORS = {
  RADIUS_ACCT_ERR_CONFIG: { exitCode: 2, template: 'invalid configuration: %s' },
  RADIUS_ACCT_ERR_SOURCE: { exitCode: 3, template: 'cannot open the record source: %s' },
  RADIUS_ACCT_ERR_PROGRESS: { exitCode: 4, template: 'cannot read the saved progress: %s' },
} as const;

export type RadiusAcctErrorCode = keyof typeof RADIUS_ACCT_ERRORS;

export class RadiusAcctError extends Error {
  readonly code: RadiusAcctErrorCode;
  readonly exitCode: number;
  constructor(code: RadiusAcctErrorCode, detail: string) {
    super(RADIUS_ACCT_ERRORS[code].template.replace('%s', detail));
    this.name = code;
    this.code = code;
    this.exitCode = RADIUS_ACCT_ERRORS[code].exitCode;
  }
}
