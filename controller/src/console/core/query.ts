/**
 * Console URLs: filters and paging live in the query string (links can be shared), parsed here
 * with bounds, and built back with `href` (same-origin paths only, every part encoded).
 */

export const pageSizes = [25, 50, 100, 200] as const;
export const defaultPageSize = 50;

export interface PageRequest {
  /** 1-based. */
  readonly page: number;
  readonly size: number;
}

export interface Paged<T> {
  readonly items: readonly T[];
  readonly total: number;
  readonly page: number;
  readonly pages: number;
  readonly size: number;
}

/** `page` and `size` from a query; anything out of range falls back to the first page / default size. */
export function parsePage(q: URLSearchParams): PageRequest {
  const size = Number(q.get('size'));
  const page = Number(q.get('page'));
  return {
    page: Number.isSafeInteger(page) && page >= 1 && page <= 1_000_000 ? page : 1,
    size: (pageSizes as readonly number[]).includes(size) ? size : defaultPageSize,
  };
}

/** One page of `items` (a page past the end shows the last one). */
export function paginate<T>(items: readonly T[], p: PageRequest): Paged<T> {
  const pages = Math.max(1, Math.ceil(items.length / p.size));
  const page = Math.min(p.page, pages);
  return {
    items: items.slice((page - 1) * p.size, page * p.size),
    total: items.length,
    page,
    pages,
    size: p.size,
  };
}

/** A query parameter as bounded text ('' when absent). */
export function param(q: URLSearchParams, name: string, max = 200): string {
  return (q.get(name) ?? '').trim().slice(0, max);
}

/** A console path with its query; empty values are left out. Path segments are encoded. */
export function href(
  segments: readonly string[],
  query: Readonly<Record<string, string | number | undefined>> = {},
): string {
  const path = `/${segments.map((s) => encodeURIComponent(s)).join('/')}`;
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') qs.set(k, String(v));
  const s = qs.toString();
  return s ? `${path}?${s}` : path;
}

/** The same query with some parameters replaced (page links, filter links). */
export function withParams(
  q: URLSearchParams,
  over: Readonly<Record<string, string | number | undefined>>,
): Record<string, string | number | undefined> {
  const out: Record<string, string | number | undefined> = {};
  for (const [k, v] of q) out[k] = v;
  return { ...out, ...over };
}
