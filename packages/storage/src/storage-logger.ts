/**
 * The logging surface storage needs; pino's Logger (and @voip/sip's Logger) satisfy it.
 * Declared here so the storage layer depends on no SIP code.
 */
export interface StorageLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentStorageLogger: StorageLogger = {
  info() {},
  warn() {},
  error() {},
};
