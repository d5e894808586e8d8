/**
 * Jobs, the list: every label a node reports or the controller has a record of, with counts by
 * state and problems (filterable, paged on the server). One job's page is job-page.ts.
 */
import { type JobRecord } from '../../desired/job-record.ts';
import type { FleetIndex } from '../../fleet/core/fleet-index.ts';
import { type JobProblem, jobProblems } from '../../fleet/core/job-problem.ts';
import type { ActiveState } from '@launchfleet/shared/job';
import { type SafeHtml, html } from '../core/html.ts';
import { type Paged, href } from '../core/query.ts';
import { badge, count, plural } from '../core/format.ts';
import { type Viewer, page } from './layout.ts';
import {
  columnHeads,
  emptyRow,
  filterForm,
  pager,
  problemNames,
  problemOptions,
  select,
  textFilter,
} from './widgets.ts';

export interface JobsListRow {
  readonly label: string;
  readonly record: JobRecord | undefined;
  readonly reporting: number;
  /** Nodes by active state. */
  readonly states: readonly (readonly [ActiveState, number])[];
  readonly problems: Readonly<Record<JobProblem, number>>;
  readonly problemTotal: number;
}

export interface JobsListFilter {
  /** '' | 'any' | a JobProblem. */
  readonly problem: string;
  readonly q: string;
}

export function jobsListModel(
  ix: FleetIndex,
  records: readonly JobRecord[],
  f: JobsListFilter,
): JobsListRow[] {
  const byLabel = new Map<string, JobRecord>();
  for (const r of records) if (!r.deleted) byLabel.set(r.label, r);
  const labels = new Set<string>([...ix.labels(), ...byLabel.keys()]);
  const problems = ix.problemsByLabel();
  const rows: JobsListRow[] = [];
  const q = f.q.toLowerCase();
  for (const label of labels) {
    if (q && !label.toLowerCase().includes(q)) continue;
    const counts: Record<JobProblem, number> = { crash_looping: 0, failed: 0, throttled: 0 };
    for (const p of problems.get(label)?.values() ?? []) counts[p]++;
    const problemTotal = counts.crash_looping + counts.failed + counts.throttled;
    if (f.problem === 'any' && problemTotal === 0) continue;
    if (jobProblems.includes(f.problem as JobProblem) && counts[f.problem as JobProblem] === 0) continue;
    const states = [...ix.stateCounts(label)].sort(([a], [b]) => (a < b ? -1 : 1));
    rows.push({
      label,
      record: byLabel.get(label),
      reporting: states.reduce((s, [, n]) => s + n, 0),
      states,
      problems: counts,
      problemTotal,
    });
  }
  // Problems first, then by label.
  rows.sort(
    (a, b) => b.problemTotal - a.problemTotal || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0),
  );
  return rows;
}

export function jobsListPage(
  v: Viewer,
  q: URLSearchParams,
  f: JobsListFilter,
  p: Paged<JobsListRow>,
): SafeHtml {
  const body = html`<h1>Jobs</h1>
    ${filterForm('/jobs', [textFilter('q', 'Label', f.q, 'com.acme.'), select('problem', 'Problem', f.problem, problemOptions)])}
    <div id="live" data-live>
      <table class="grid" id="jobs">
        ${columnHeads('Label', 'Desired', 'Nodes reporting', 'By state', 'Problems')}
        <tbody>
          ${
            p.items.length === 0
              ? emptyRow(5, 'No job matches.')
              : p.items.map(
                  (r) =>
                    html`<tr>
                      <th scope="row"><a href="${href(['jobs', r.label])}">${r.label}</a></th>
                      <td>
                        ${r.record ? html`v${r.record.version} <span class="muted small">${r.record.domain} · ${plural(r.record.nodeIds.length, 'node')}</span>` : html`<span class="muted">not managed</span>`}
                      </td>
                      <td>${count(r.reporting)}</td>
                      <td>
                        ${r.states.map(([s, n]) => html`<a class="chip" href="${href(['jobs', r.label], { active: s })}">${s} ${count(n)}</a> `)}
                      </td>
                      <td>
                        ${
                          r.problemTotal === 0
                            ? html`<span class="muted">none</span>`
                            : jobProblems
                                .filter((x) => r.problems[x] > 0)
                                .map(
                                  (x) =>
                                    html`<a href="${href(['jobs', r.label], { problem: x })}"
                                      >${badge(`${count(r.problems[x])} ${problemNames[x]}`, x === 'throttled' ? 'warn' : 'bad')}</a
                                    > `,
                                )
                        }
                      </td>
                    </tr>`,
                )
          }
        </tbody>
      </table>
      ${pager(['jobs'], q, p)}
    </div>`;
  return page(v, { title: 'Jobs', section: 'jobs', topics: ['jobs', 'fleet'], body });
}
