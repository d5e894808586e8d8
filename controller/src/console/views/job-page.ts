/**
 * One job's page: its health across the fleet as a table of nodes (filterable by state, problem,
 * node label selector, node name; paged on the server), its desired version and the versions
 * nodes run, its rollouts, its events, and for operators a form that starts a rollout
 * (start-rollout-form.ts). The list of jobs is jobs-list-page.ts.
 */
import { matchesSelector, type Selector } from '../../desired/core/selector.ts';
import { describeTarget, type JobRecord } from '../../desired/job-record.ts';
import type { FleetIndex, NodeView, Presence } from '../../fleet/core/fleet-index.ts';
import { type JobProblem, jobProblems } from '../../fleet/core/job-problem.ts';
import type { RolloutRecord } from '../../rollout/rollout-store.ts';
import type { ActiveState, JobSubStateKind } from '@launchfleet/shared/job';
import type { ConsoleEvent } from '../core/event-ring.ts';
import { type SafeHtml, html } from '../core/html.ts';
import { type PageRequest, type Paged, href, paginate } from '../core/query.ts';
import { badge, count, plural, timeAt } from '../core/format.ts';
import { type Viewer, page } from './layout.ts';
import { type JobOnNode, jobOnNode, problemRank } from './job-state.ts';
import {
  columnHeads,
  emptyRow,
  filterForm,
  labelChips,
  pager,
  presenceBadge,
  presenceSelect,
  problemOptions,
  select,
  selectorError,
  stateBadge,
  textFilter,
} from './widgets.ts';
import { eventsTable } from './events-table.ts';
import { phaseBadge, rolloutIdCell, rolloutProgress } from './rollout-widgets.ts';
import { startRolloutForm } from './start-rollout-form.ts';

export interface JobNodeFilter {
  /** A sub-state, `~missing` (targeted, not reporting it), or ''. */
  readonly state: string;
  /** An active state, or ''. */
  readonly active: string;
  /** '' | 'any' | a JobProblem. */
  readonly problem: string;
  /** Node label selector (text as typed; parsed by the caller). */
  readonly sel: string;
  readonly selector: Selector | undefined;
  /** Hostname or node id substring. */
  readonly node: string;
  /** '' | online | offline. */
  readonly presence: string;
}

export interface JobNodeRow {
  readonly node: NodeView;
  readonly job: JobOnNode | undefined;
  readonly presence: Presence;
  readonly staleness: number;
}

export interface JobPageModel {
  readonly label: string;
  readonly record: JobRecord | undefined;
  /** Nodes by active state and by sub-state. */
  readonly states: readonly (readonly [ActiveState, number])[];
  readonly subStates: readonly (readonly [JobSubStateKind, number])[];
  readonly reporting: number;
  readonly offline: number;
  readonly problems: Readonly<Record<JobProblem, number>>;
  readonly versions: readonly (readonly [string, number])[];
  readonly atDesired: number;
  readonly missing: number;
  readonly rows: Paged<JobNodeRow>;
  readonly rollouts: readonly RolloutRecord[];
  readonly events: readonly ConsoleEvent[];
}

export const missingState = '~missing';

/**
 * The job's health and the requested page of its node table. Walks only the nodes that report
 * the label (the index's per-state sets) plus, for the `~missing` filter, the job record's
 * target: never the whole fleet.
 */
export function jobPageModel(
  ix: FleetIndex,
  label: string,
  record: JobRecord | undefined,
  f: JobNodeFilter,
  pg: PageRequest,
  now: number,
  rollouts: readonly RolloutRecord[],
  events: readonly ConsoleEvent[],
): JobPageModel {
  const h = ix.jobHealth(label, now, 0);
  const live = record && !record.deleted ? record : undefined;
  let atDesired = 0;
  let missing = 0;
  const missingIds: string[] = [];
  if (live) {
    const want = String(live.version);
    for (const id of live.nodeIds) {
      const n = ix.node(id);
      if (n?.status?.jobs[label] === undefined) {
        missing++;
        missingIds.push(id);
      }
      if (n?.status?.versions[label] === want) atDesired++;
    }
  }
  const q = f.node.toLowerCase();
  const keep = (n: NodeView, job: JobOnNode | undefined): boolean => {
    if (f.problem === 'any' && !job?.problem) return false;
    if (jobProblems.includes(f.problem as JobProblem) && job?.problem !== f.problem) return false;
    if (f.selector && !matchesSelector(f.selector, n.labels)) return false;
    if (q && !n.hostname.toLowerCase().includes(q) && !n.nodeId.toLowerCase().includes(q)) return false;
    if (f.presence && ix.presence(n, now) !== f.presence) return false;
    return true;
  };
  const rows: JobNodeRow[] = [];
  const add = (n: NodeView, job: JobOnNode | undefined) =>
    rows.push({ node: n, job, presence: ix.presence(n, now), staleness: ix.staleness(n, now) });
  if (f.state === missingState) {
    for (const id of missingIds) {
      const n = ix.node(id);
      if (n && keep(n, undefined)) add(n, undefined);
    }
  } else {
    for (const { state, nodes } of ix.stateGroups(label)) {
      if (f.state && state.subState !== f.state) continue;
      if (f.active && state.active !== f.active) continue;
      for (const id of nodes) {
        const n = ix.node(id);
        if (!n) continue;
        const job = jobOnNode(ix, n, label);
        if (keep(n, job)) add(n, job);
      }
    }
  }
  const r = (x: JobNodeRow) => (x.job?.problem ? problemRank[x.job.problem] : 9);
  rows.sort(
    (a, b) =>
      r(a) - r(b) ||
      (a.node.hostname < b.node.hostname ? -1 : a.node.hostname > b.node.hostname ? 1 : 0) ||
      (a.node.nodeId < b.node.nodeId ? -1 : 1),
  );
  return {
    label,
    record,
    states: [...h.states].sort(([a], [b]) => (a < b ? -1 : 1)),
    subStates: [...h.subStates].sort(([a], [b]) => (a < b ? -1 : 1)),
    reporting: h.reporting,
    offline: h.offline,
    problems: h.problemCounts,
    versions: [...h.versions].sort(([, a], [, b]) => b - a),
    atDesired,
    missing,
    rows: paginate(rows, pg),
    rollouts,
    events,
  };
}

function jobNodeRow(m: JobPageModel, row: JobNodeRow): SafeHtml {
  const j = row.job;
  const desired = m.record && !m.record.deleted ? String(m.record.version) : undefined;
  return html`<tr>
    <th scope="row">
      <a href="${href(['nodes', row.node.nodeId])}">${row.node.hostname || row.node.nodeId}</a><br /><span
        class="muted small mono"
        >${row.node.nodeId}</span
      >
    </th>
    <td>${j ? stateBadge(j.state, j.problem) : badge('not reported', 'warn')}</td>
    <td class="num">${j?.detail?.lastExitStatus ?? html`<span class="muted">—</span>`}</td>
    <td class="num">${j?.detail?.successiveCrashes ?? html`<span class="muted">—</span>`}</td>
    <td>
      ${j?.version ?? html`<span class="muted">—</span>`}${desired && j?.version !== undefined && j.version !== desired ? html` ${badge(`desired ${desired}`, 'warn')}` : ''}
    </td>
    <td>${presenceBadge(row.presence, row.staleness)}</td>
    <td>${j?.detail?.domain ?? ''}</td>
    <td class="small">${j?.detail?.reason ?? ''}</td>
    <td>${labelChips(row.node.labels)}</td>
  </tr>`;
}

/** Ids of nodes still to clear listed on the page (all of them are in GetJob). */
const clearingShown = 20;

/**
 * The desired-state facts about the nodes the job is still to be taken away from (a delete the
 * broker did not answer: job-record.ts `clearing`), empty when there are none. Every id goes
 * through `html` (escaped): the record is JSON anyone who can write `lf_jobs` could have written.
 */
export function clearingFacts(rec: JobRecord): SafeHtml {
  const retry = rec.deleted ? 'delete it again' : 'retry the apply';
  if (rec.clearingUnlisted)
    return html`<dt>Still to clear</dt>
      <dd id="job-clearing">
        ${badge('unlisted', 'warn')} more nodes than the record can name may still hold the job; ${retry} (it
        lists the label's keys to find them)
      </dd>`;
  const ids = rec.clearing ?? [];
  if (ids.length === 0) return html``;
  const more = ids.length - clearingShown;
  return html`<dt>Still to clear</dt>
    <dd id="job-clearing">
      ${badge(plural(ids.length, 'node'), 'warn')} may still hold the job (their delete failed); ${retry}:
      ${ids.slice(0, clearingShown).map((id) => html`<a class="mono small" href="${href(['nodes', id])}">${id}</a> `)}${more > 0 ? html`<span class="muted">and ${count(more)} more</span>` : ''}
    </dd>`;
}

export function jobPage(
  v: Viewer,
  q: URLSearchParams,
  f: JobNodeFilter,
  m: JobPageModel,
  canStart: boolean,
  selError: string | undefined,
): SafeHtml {
  const rec = m.record;
  const stateOptions: (readonly [string, string])[] = [
    ...m.subStates.map(([s, n]) => [s, `${s} (${count(n)})`] as const),
    [missingState, `not reported (${count(m.missing)})`],
  ];
  const body = html`<p class="crumbs"><a href="/jobs">Jobs</a> /</p>
    <h1 class="mono">${m.label}</h1>
    <div id="live" data-live>
      <section class="cards" aria-label="Health">
        <div class="card ${m.problems.crash_looping ? 'bad' : 'ok'}">
          <span class="card-value">${count(m.problems.crash_looping)}</span
          ><span class="card-title">crash-looping</span>
        </div>
        <div class="card ${m.problems.failed ? 'bad' : 'ok'}">
          <span class="card-value">${count(m.problems.failed)}</span
          ><span class="card-title">failed to load</span>
        </div>
        <div class="card ${m.problems.throttled ? 'warn' : 'ok'}">
          <span class="card-value">${count(m.problems.throttled)}</span
          ><span class="card-title">throttled</span>
        </div>
        <div class="card ${m.offline ? 'warn' : 'ok'}">
          <span class="card-value">${count(m.reporting)}</span><span class="card-title">nodes reporting</span
          ><span class="muted small">${count(m.offline)} of them offline</span>
        </div>
      </section>
      <section class="split">
        <div>
          <h2>Desired state</h2>
          ${
            rec
              ? html`<dl class="facts">
                  <dt>Version</dt>
                  <dd>v${rec.version}${rec.deleted ? html` ${badge('deleted', 'muted')}` : ''}</dd>
                  <dt>Domain</dt>
                  <dd>${rec.domain}</dd>
                  <dt>Target</dt>
                  <dd>${describeTarget(rec.target)} · ${plural(rec.nodeIds.length, 'node')}</dd>
                  <dt>At desired version</dt>
                  <dd>
                    ${count(m.atDesired)} of
                    ${count(rec.nodeIds.length)}${m.missing ? html` · <a href="${href(['jobs', m.label], { state: missingState })}">${count(m.missing)} not reporting it</a>` : ''}
                  </dd>
                  <dt>Last changed</dt>
                  <dd>${timeAt(rec.updatedAt)} by ${rec.updatedBy}</dd>
                  ${clearingFacts(rec)}
                </dl>`
              : html`<p class="muted">No job record: nodes run this label from their own plists.</p>`
          }
        </div>
        <div>
          <h2>Versions running</h2>
          ${
            m.versions.length === 0
              ? html`<p class="muted">No node reports a version.</p>`
              : html`<ul class="plain">
                  ${m.versions.map(
                    ([ver, n]) =>
                      html`<li>
                        <span class="mono">${ver}</span>:
                        ${plural(n, 'node')}${rec && String(rec.version) === ver ? html` ${badge('desired', 'ok')}` : ''}
                      </li>`,
                  )}
                </ul>`
          }
          <h2>By state</h2>
          <p>
            ${m.states.map(([s, n]) => html`<a class="chip" href="${href(['jobs', m.label], { active: s })}">${s} ${count(n)}</a> `)}
          </p>
          <p>
            ${m.subStates.map(([s, n]) => html`<a class="chip" href="${href(['jobs', m.label], { state: s })}">${s} ${count(n)}</a> `)}
          </p>
        </div>
      </section>
    </div>

    <section aria-labelledby="h-nodes">
      <h2 id="h-nodes">Health across the fleet</h2>
      ${filterForm(href(['jobs', m.label]), [
        select('state', 'Sub-state', f.state, stateOptions),
        select(
          'active',
          'Active',
          f.active,
          m.states.map(([s, n]) => [s, `${s} (${count(n)})`] as const),
        ),
        select('problem', 'Problem', f.problem, problemOptions),
        presenceSelect(f.presence),
        textFilter('sel', 'Labels', f.sel, 'site=ams,role in (db)'),
        textFilter('node', 'Node', f.node, 'hostname or id'),
      ])}
      ${selectorError(selError)}
      <div id="live-2" data-live>
        <table class="grid" id="job-nodes">
          ${columnHeads('Node', 'State', 'Last exit', 'Crashes', 'Version', 'Presence', 'Domain', 'Why', 'Labels')}
          <tbody>
            ${m.rows.items.length === 0 ? emptyRow(9, 'No node matches these filters.') : m.rows.items.map((row) => jobNodeRow(m, row))}
          </tbody>
        </table>
        ${pager(['jobs', m.label], q, m.rows)}
      </div>
    </section>

    <div id="live-3" data-live>
      <section aria-labelledby="h-rollouts">
        <h2 id="h-rollouts">Rollouts of this job</h2>
        ${
          m.rollouts.length === 0
            ? html`<p class="muted">None yet.</p>`
            : html`<table class="grid">
                ${columnHeads('Rollout', 'To', 'State', 'Progress', 'Started', 'By')}
                <tbody>
                  ${m.rollouts.map(
                    (r) =>
                      html`<tr>
                        ${rolloutIdCell(r)}
                        <td>v${r.spec.toVersion}</td>
                        <td>${phaseBadge(r.state.phase.kind)}</td>
                        <td>${rolloutProgress(r)}</td>
                        <td>${timeAt(r.state.startedAt ?? r.createdAt)}</td>
                        <td>${r.createdBy}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>`
        }
      </section>
      <section aria-labelledby="h-events">
        <h2 id="h-events">Recent events</h2>
        ${eventsTable(m.events, true)}
      </section>
    </div>
    ${canStart && rec ? startRolloutForm(v, rec) : ''}`;
  return page(v, {
    title: m.label,
    section: 'jobs',
    topics: [`job:${m.label}`, 'rollouts'],
    body,
  });
}
