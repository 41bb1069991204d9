/** What every bench:* command line shares: option parsers and the exit-code convention. */

/** commander argParser: a positive number ("0.5", "2"). */
export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`expected a positive number, got "${value}"`);
  return n;
}

/** commander argParser: a positive integer. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`expected a positive integer, got "${value}"`);
  return n;
}

/** commander argParser: a comma-separated list of positive integers ("500,1000,2000"). */
export function intList(value: string): number[] {
  const out = value.split(',').map((s) => Number(s.trim()));
  if (out.length === 0 || out.some((n) => !Number.isInteger(n) || n <= 0)) {
    throw new Error(`expected a comma-separated list of positive integers, got "${value}"`);
  }
  return out;
}

/** Runs a bench's main: its resolved value is the exit code; an error prints one line and exits 1. */
export function runMain(main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
