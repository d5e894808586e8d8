/** Plain-text tables and human units for the CLI's default output. */

/** Left-aligned columns separated by two spaces; the header in capitals. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header.map((h) => h.toUpperCase())), ...rows.map(line)].join('\n') + '\n';
}

/** 950ms, 12s, 3m, 2h5m, 4d. `-1` (never) is `never`. */
export function duration(ms: number): string {
  if (ms < 0) return 'never';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  const m = Math.round(s / 60);
  if (m < 120) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${m % 60 ? `${m % 60}m` : ''}`;
  return `${Math.round(h / 24)}d`;
}

/** An epoch-ms time as ISO seconds, or `-`. */
export function time(ms: number): string {
  return ms > 0 ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z') : '-';
}

/** `PRESENCE_ONLINE` -> `online`. */
export function presence(p: unknown): string {
  return typeof p === 'string' ? p.replace(/^PRESENCE_/, '').toLowerCase() : '';
}

/** A field of an API answer as text: strings and numbers as they are, nothing as ''. */
export function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return v === undefined || v === null ? '' : JSON.stringify(v);
}
