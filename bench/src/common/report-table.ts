/**
 * Plain-text tables for benchmark reports: right-aligned numbers, left-aligned labels, one header
 * line and a rule, so the output reads well in a terminal and pastes into Markdown code blocks.
 */

export interface Column {
  readonly header: string;
  readonly align: 'left' | 'right';
}

export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    columns
      .map((c, i) => {
        const cell = cells[i] ?? '';
        return c.align === 'right' ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!);
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Fixed decimals; '-' for a value that could not be measured. */
export function fmt(value: number, decimals = 0): string {
  return Number.isFinite(value) ? value.toFixed(decimals) : '-';
}

/** Latency in ms at SIPp's 1 ms resolution: 0 is shown as "<1". */
export function fmtMs(value: number): string {
  if (!Number.isFinite(value)) return '-';
  return value < 1 ? '<1' : value.toFixed(0);
}

/** A ratio like "1.35x"; '-' when either side is missing. */
export function fmtRatio(numerator: number, denominator: number): string {
  if (!Number.isFinite(numerator) || !Number.isFinite(denominator) || denominator === 0) return '-';
  return `${(numerator / denominator).toFixed(2)}x`;
}
