/**
 * sipctl output: human text by default, one JSON document with --json (for scripts).
 */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: CliIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

export class Output {
  constructor(
    private readonly io: CliIo,
    readonly json: boolean,
  ) {}

  /** Prints `human` (a line or lines) or, with --json, `data`. */
  result(human: string, data: unknown): void {
    if (this.json) this.io.out(`${JSON.stringify(data, null, 2)}\n`);
    else this.io.out(human.endsWith('\n') ? human : `${human}\n`);
  }

  /** A table with a header row; columns padded to their widest cell. */
  table(headers: string[], rows: (string | number | null)[][], data: unknown, empty = '(none)'): void {
    if (this.json) {
      this.io.out(`${JSON.stringify(data, null, 2)}\n`);
      return;
    }
    if (rows.length === 0) {
      this.io.out(`${empty}\n`);
      return;
    }
    const cells = [headers, ...rows.map((r) => r.map((c) => (c === null ? '-' : String(c))))];
    const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
    const lines = cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
    this.io.out(`${lines.join('\n')}\n`);
  }
}
