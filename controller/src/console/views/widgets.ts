/**
 * Pieces several pages use: pagers, filter forms' fields, state badges, label chips.
 */
import type { JobStateReport } from '@launchfleet/shared/job';
import { type JobProblem, jobProblems } from '../../fleet/core/job-problem.ts';
import { activeTone } from './job-state.ts';
import type { Presence } from '../../fleet/core/fleet-index.ts';
import { type SafeHtml, html } from '../core/html.ts';
import { type Paged, href, withParams } from '../core/query.ts';
import { badge, count, duration, timeAt } from '../core/format.ts';

export const problemNames: Readonly<Record<JobProblem, string>> = {
  crash_looping: 'crash-looping',
  failed: 'failed to load',
  throttled: 'throttled',
};

/** The problem filter's options: any problem, or one. */
export const problemOptions: readonly (readonly [string, string])[] = [
  ['any', 'any problem'],
  ...jobProblems.map((p) => [p, problemNames[p]] as const),
];

/**
 * A job's typed state on a node: the fleet problem first when the index sees one, else the
 * sub-state coloured by its active state; the three words are always there to read.
 */
export function stateBadge(state: JobStateReport, problem: JobProblem | undefined): SafeHtml {
  const words = html`<span class="muted small" title="sub-state · active state · result"
    >${state.subState} · ${state.active} · ${state.result}</span
  >`;
  if (problem === 'crash_looping' || problem === 'failed')
    return html`${badge(problemNames[problem], 'bad')} ${words}`;
  if (problem === 'throttled') return html`${badge('throttled', 'warn')} ${words}`;
  return html`${badge(state.subState, activeTone[state.active])}
    <span class="muted small">${state.active} · ${state.result}</span>`;
}

export function presenceBadge(p: Presence, staleness: number): SafeHtml {
  if (p === 'online') return badge('online', 'ok');
  return html`${badge(staleness < 0 ? 'never seen' : 'offline', 'bad')}${
    staleness >= 0 ? html` <span class="muted small">${duration(staleness)}</span>` : ''
  }`;
}

export function labelChips(labels: Readonly<Record<string, string>>): SafeHtml {
  const entries = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length === 0) return html`<span class="muted">—</span>`;
  return html`${entries.map(([k, v]) => html`<span class="chip">${k}=${v}</span> `)}`;
}

/** "1–50 of 10,000" and previous/next links that keep the filters. */
export function pager(path: readonly string[], q: URLSearchParams, p: Paged<unknown>): SafeHtml {
  const first = p.total === 0 ? 0 : (p.page - 1) * p.size + 1;
  const last = Math.min(p.total, p.page * p.size);
  const link = (page: number, text: string, rel: string) =>
    html`<a href="${href(path, withParams(q, { page }))}" rel="${rel}">${text}</a>`;
  return html`<nav class="pager" aria-label="Pages">
    <span>${count(first)}–${count(last)} of ${count(p.total)}</span>
    ${p.page > 1 ? link(p.page - 1, '← Previous', 'prev') : html`<span class="muted">← Previous</span>`}
    <span class="muted">page ${count(p.page)} of ${count(p.pages)}</span>
    ${p.page < p.pages ? link(p.page + 1, 'Next →', 'next') : html`<span class="muted">Next →</span>`}
  </nav>`;
}

/** A `<select>` of a filter; the current value stays selected. */
export function select(
  name: string,
  label: string,
  current: string,
  options: readonly (readonly [string, string])[],
): SafeHtml {
  return html`<label
    >${label}
    <select name="${name}">
      <option value="">any</option>
      ${options.map(([v, t]) => html`<option value="${v}" ${v === current ? html` selected` : ''}>${t}</option>`)}
    </select></label
  >`;
}

export function textFilter(name: string, label: string, current: string, placeholder: string): SafeHtml {
  return html`<label
    >${label} <input type="search" name="${name}" value="${current}" placeholder="${placeholder}" data-filter
  /></label>`;
}

/** The filter form: GET to the same page, so the filters are the URL. */
export function filterForm(action: string, fields: readonly SafeHtml[]): SafeHtml {
  return html`<form class="filters" method="get" action="${action}" role="search">
    ${fields}
    <button type="submit">Filter</button> <a href="${action}">Clear</a>
  </form>`;
}

export function seenCell(lastSeen: number, staleness: number): SafeHtml {
  if (lastSeen <= 0) return html`<span class="muted">never</span>`;
  return html`${timeAt(lastSeen)} <span class="muted small">(${duration(staleness)} ago)</span>`;
}

/** An empty-state row of a table. */
export function emptyRow(cols: number, text: string): SafeHtml {
  return html`<tr>
    <td colspan="${cols}" class="muted empty">${text}</td>
  </tr>`;
}

/** A table's column headings: one `<th scope="col">` a name. */
export function columnHeads(...names: readonly string[]): SafeHtml {
  return html`<thead>
    <tr>
      ${names.map((n) => html`<th scope="col">${n}</th>`)}
    </tr>
  </thead>`;
}

/** The presence filter of the node and job pages. */
export function presenceSelect(current: string): SafeHtml {
  return select('presence', 'Presence', current, [
    ['online', 'online'],
    ['offline', 'offline'],
  ]);
}

/** Why a filter's label selector was refused, or nothing. */
export function selectorError(why: string | undefined): SafeHtml | '' {
  return why ? html`<p class="error" role="alert">Label selector: ${why}</p>` : '';
}
