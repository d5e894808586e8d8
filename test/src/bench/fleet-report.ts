/**
 * How the fleet benchmark prints a measurement: one `FLEET-BENCH {json}` line (for scripts and
 * the results file) and a small human table.
 */

export type Printer = (line: string) => void;

/** Prints the JSON line and the table for one measurement. */
export function report(
  print: Printer,
  name: string,
  data: Record<string, unknown>,
  rows: readonly (readonly [string, string])[],
): void {
  print(`FLEET-BENCH ${JSON.stringify({ measurement: name, ...data })}`);
  const w = Math.max(...rows.map(([k]) => k.length), 10);
  print(`  ${name}`);
  for (const [k, v] of rows) print(`    ${k.padEnd(w)}  ${v}`);
}

/** `123 ms` / `1.23 s` */
export function ms(x: number): string {
  if (!Number.isFinite(x)) return '-';
  return x >= 10_000
    ? `${(x / 1000).toFixed(1)} s`
    : x >= 1000
      ? `${(x / 1000).toFixed(2)} s`
      : `${x.toFixed(x < 10 ? 2 : 0)} ms`;
}

export function mb(bytes: number): string {
  return Number.isFinite(bytes) ? `${(bytes / 1024 / 1024).toFixed(0)} MB` : '-';
}

export function pct(x: number): string {
  return Number.isFinite(x) ? `${x.toFixed(1)} %` : '-';
}
