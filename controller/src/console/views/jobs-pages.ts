/**
 * Jobs: the list (every label a node reports or the controller has a record of, with counts by
 * state and problems) and one job's page: its health across the fleet as a table of nodes
 * (filterable by state, problem, node label selector, node name; paged on the server), its
 * desired version and the versions nodes run, its rollouts, its events, and for operators a
 * form that starts a rollout.
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
import { type Viewer, csrfField, page } from './layout.ts';
import { type JobOnNode, jobOnNode, problemRank } from './job-state.ts';
import {
  emptyRow,
  filterForm,
  labelChips,
  pager,
  presenceBadge,
  problemNames,
  select,
  stateBadge,
  textFilter,
} from './widgets.ts';
import { eventsTable } from './events-table.ts';
import { phaseBadge, rolloutProgress } from './rollout-widgets.ts';

// ---------------------------------------------------------------- the list

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

const problemOptions: readonly (readonly [string, string])[] = [
  ['any', 'any problem'],
  ...jobProblems.map((p) => [p, problemNames[p]] as const),
];

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
        <thead>
          <tr>
            <th scope="col">Label</th>
            <th scope="col">Desired</th>
            <th scope="col">Nodes reporting</th>
            <th scope="col">By state</th>
            <th scope="col">Problems</th>
          </tr>
        </thead>
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

// ---------------------------------------------------------------- one job

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
        select('presence', 'Presence', f.presence, [
          ['online', 'online'],
          ['offline', 'offline'],
        ]),
        textFilter('sel', 'Labels', f.sel, 'site=ams,role in (db)'),
        textFilter('node', 'Node', f.node, 'hostname or id'),
      ])}
      ${selError ? html`<p class="error" role="alert">Label selector: ${selError}</p>` : ''}
      <div id="live-2" data-live>
        <table class="grid" id="job-nodes">
          <thead>
            <tr>
              <th scope="col">Node</th>
              <th scope="col">State</th>
              <th scope="col">Last exit</th>
              <th scope="col">Crashes</th>
              <th scope="col">Version</th>
              <th scope="col">Presence</th>
              <th scope="col">Domain</th>
              <th scope="col">Why</th>
              <th scope="col">Labels</th>
            </tr>
          </thead>
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
                <thead>
                  <tr>
                    <th scope="col">Rollout</th>
                    <th scope="col">To</th>
                    <th scope="col">State</th>
                    <th scope="col">Progress</th>
                    <th scope="col">Started</th>
                    <th scope="col">By</th>
                  </tr>
                </thead>
                <tbody>
                  ${m.rollouts.map(
                    (r) =>
                      html`<tr>
                        <th scope="row">
                          <a class="mono" href="${href(['rollouts', r.spec.rolloutId])}"
                            >${r.spec.rolloutId}</a
                          >
                        </th>
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

/** The operator's form: the plist (today's by default), the target, canary and waves, the gate. */
function startRolloutForm(v: Viewer, rec: JobRecord): SafeHtml {
  const t = rec.target;
  const targetText = t.kind === 'selector' ? t.selector : t.kind === 'nodes' ? t.names.join(' ') : '';
  return html`<details class="panel" id="start-rollout">
    <summary><h2>Start a rollout</h2></summary>
    <form method="post" action="/rollouts" class="stack">
      ${csrfField(v)}
      <input type="hidden" name="label" value="${rec.label}" />
      <label for="plist">Job plist (the new version)</label>
      <textarea id="plist" name="plist" rows="12" spellcheck="false" class="mono" required>
${rec.plist}</textarea>
      <div class="row">
        <label>Domain <input name="domain" value="${rec.domain}" required /></label>
        <label
          >Target
          <select name="targetKind">
            <option value="nodes" ${t.kind === 'nodes' ? html` selected` : ''}>node ids or hostnames</option>
            <option value="selector" ${t.kind === 'selector' ? html` selected` : ''}>label selector</option>
            <option value="all" ${t.kind === 'all' ? html` selected` : ''}>every node</option>
          </select></label
        >
        <label>Nodes / selector <input name="target" value="${targetText}" class="mono" /></label>
      </div>
      <div class="row">
        <label>Canary nodes <input name="canary" type="number" min="0" value="1" /></label>
        <label>Waves (% of target) <input name="waves" value="25,100" pattern="[0-9, ]*" /></label>
        <label>Max unavailable <input name="maxUnavailable" type="number" min="1" value="1" /></label>
        <label>Healthy for (s) <input name="minHealthySeconds" type="number" min="1" value="30" /></label>
        <label>Deadline (s) <input name="progressDeadlineSeconds" type="number" min="1" value="300" /></label>
        <label class="check"
          ><input type="checkbox" name="noAutoRollback" value="1" /> no automatic rollback</label
        >
      </div>
      <button type="submit" class="primary">Start rollout</button>
    </form>
  </details>`;
}
