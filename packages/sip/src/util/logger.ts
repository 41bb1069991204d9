/**
 * The logging surface the SIP layers need. pino's Logger satisfies it, so services pass
 * their pino child loggers in; the package itself does not depend on pino.
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
  readonly level?: string;
}

/** A logger that drops everything (tests, embedding without logs). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};
