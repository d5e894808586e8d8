/**
 * Small renderers shared by the pages. Times are sent as ISO-8601 UTC inside `<time>`; the
 * client script rewrites them in the viewer's own time zone (and keeps the UTC text as the
 * title), so a page without script still shows an unambiguous time.
 */
import { type SafeHtml, html } from './html.ts';

export function isoOf(ms: number): string {
  return new Date(ms).toISOString();
}

/** A point in time (`—` for 0 / never). */
export function timeAt(ms: number | undefined): SafeHtml {
  if (!ms || ms <= 0) return html`<span class="muted">—</span>`;
  const iso = isoOf(ms);
  return html`<time datetime="${iso}">${iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}</time>`;
}

/** A duration in words: `42 s`, `3 min`, `5 h 2 min`, `2 d 4 h`. */
export function duration(ms: number): string {
  if (ms < 0) return 'never';
  const s = Math.round(ms / 1000);
  if (s < 90) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 90) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** A count with thousands separators (fixed, not the server's locale). */
export function count(n: number): string {
  return String(Math.trunc(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A coloured badge; `tone` picks the colour class. */
export function badge(text: string, tone: 'ok' | 'warn' | 'bad' | 'info' | 'muted'): SafeHtml {
  return html`<span class="badge ${tone}">${text}</span>`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${count(n)} ${n === 1 ? one : many}`;
}
