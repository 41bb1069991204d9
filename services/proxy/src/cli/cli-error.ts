/** An error sipctl reports as one line on stderr with a non-zero exit status. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    /** 1 = the operation failed, 2 = usage error, 3 = not found. */
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
