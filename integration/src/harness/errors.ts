/**
 * Coded errors of the integration harness (STYLE.md §7). A failing test shows the code and
 * the message, so the cause (a program that would not start, a port that stayed busy, a
 * missing image) is visible without reading harness code.
 */
export type HarnessErrorCode =
  | 'HARNESS_ERR_SPAWN'          // a program could not be started (ENOENT, EACCES, ...)
  | 'HARNESS_ERR_EXITED'         // a long-running program exited while the test needed it
  | 'HARNESS_ERR_TIMEOUT'        // a wait (readiness, exit, output) ran out of time
  | 'HARNESS_ERR_NO_PORT'        // no free UDP+TCP port pair could be found
  | 'HARNESS_ERR_NOT_BUILT'      // a service's compiled entry (dist/main.js) is missing
  | 'HARNESS_ERR_NO_PROGRAM'     // startProgram() was asked for a program it does not know
  | 'HARNESS_ERR_BACKEND'        // the selected backend cannot run here (no Docker engine, ...)
  | 'HARNESS_ERR_TRACE';         // a SIPp trace file could not be parsed

export class HarnessError extends Error {
  override readonly name = 'HarnessError';
  constructor(
    readonly code: HarnessErrorCode,
    message: string,
    /** Tail of the program's log, when a program is involved. */
    readonly logTail: string = '',
  ) {
    super(logTail ? `${code}: ${message}\n--- log tail ---\n${logTail}` : `${code}: ${message}`);
  }
}
