/**
 * HTML by construction: `html\`...\`` escapes every interpolated value unless it is already
 * `SafeHtml` (another `html` fragment), so a label, hostname or plist string can never become
 * markup. There is no way to mark an arbitrary string safe from outside this module except
 * `trustedAsset`, which the console uses for nothing but its own constant asset paths.
 *
 * Attribute values must be quoted in the template (`href="${url}"`): the escape covers `"` and
 * `'`, so a quoted attribute cannot be left. URLs are built with `href()` (console/core/query.ts)
 * which only makes same-origin paths.
 */

const brand: unique symbol = Symbol('SafeHtml');

/** Markup this module produced (or escaped). */
export interface SafeHtml {
  readonly [brand]: true;
  readonly text: string;
}

function safe(text: string): SafeHtml {
  return { [brand]: true, text };
}

const entities: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/** Escapes text for an element body or a quoted attribute value. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"'`]/g, (c) => entities[c] ?? c);
}

export function isSafeHtml(v: unknown): v is SafeHtml {
  return typeof v === 'object' && v !== null && (v as Partial<SafeHtml>)[brand] === true;
}

/** What may be interpolated: text (escaped), numbers, fragments, lists of them; nothing for null/undefined/false. */
export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

function render(v: HtmlValue): string {
  if (v === null || v === undefined || v === false) return '';
  if (typeof v === 'string') return escapeHtml(v);
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  if (typeof v === 'boolean') return 'true';
  if (isSafeHtml(v)) return v.text;
  if (Array.isArray(v)) return (v as readonly HtmlValue[]).map(render).join('');
  // Anything else (an object posing as a fragment) is shown as text, never trusted.
  return escapeHtml(Object.prototype.toString.call(v));
}

/** The template tag. */
export function html(strings: TemplateStringsArray, ...values: readonly HtmlValue[]): SafeHtml {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? '');
  return safe(out);
}

/** Joins fragments with a separator (escaped like any value). */
export function join(parts: readonly HtmlValue[], sep: HtmlValue = ''): SafeHtml {
  return safe(parts.map(render).join(render(sep)));
}

/** A constant path of the console's own assets (never user data). */
export function trustedAsset(path: `/assets/${string}`): SafeHtml {
  if (!/^\/assets\/[a-z0-9.-]+$/.test(path)) throw new Error(`not an asset path: ${path}`);
  return safe(path);
}

/** JSON for a `<script type="application/json">` or a data attribute: `<` escaped so it cannot close the element. */
export function jsonText(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}
