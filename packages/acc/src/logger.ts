/**
 * The logging surface @voip/acc needs. pino's Logger satisfies it (as @voip/sip's Logger),
 * so the proxy and radius-acct pass their pino child loggers in.
 */
export interface AccLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** A logger that drops everything (tests, embedding without logs). */
export const silentAccLogger: AccLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
