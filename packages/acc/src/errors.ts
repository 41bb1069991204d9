/**
 * Coded errors of @voip/acc (STYLE.md, Errors). Each code is listed in docs/accounting.md;
 * errors.test.ts checks that.
 */
export const ACC_ERRORS = {
  ACC_ERR_JOURNAL_HEADER: 'journal %s does not start with a valid voip-acc journal header',
  ACC_ERR_JOURNAL_CLOSED: 'journal sink for %s is closed',
  ACC_ERR_MYSQL_CLOSED: 'MySQL accounting sink is closed',
  ACC_ERR_BAD_URI: 'not a mysql:// URI: %s',
} as const;

export type AccErrorCode = keyof typeof ACC_ERRORS;

export class AccError extends Error {
  readonly code: AccErrorCode;
  constructor(code: AccErrorCode, detail: string) {
    super(ACC_ERRORS[code].replace('%s', detail));
    this.name = code;
    this.code = code;
  }
}
