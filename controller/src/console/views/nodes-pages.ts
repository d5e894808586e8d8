/**
 * Nodes: the list (presence, last seen, health, labels; filterable, paged) and one node's page
 * (its jobs with their state and version against the desired one, inventory, drift, recent
 * events).
 */
import type { NodeHealth, RetryingJob } from '@launchfleet/shared/messages';
import { matchesSelector, type Selector } from '../../desired/core/selector.ts';
import type { FleetIndex, NodeView, Presence } from '../../fleet/core/fleet-index.ts';
import type { ConsoleEvent } from '../core/event-ring.ts';
import { type SafeHtml, html } from '../core/html.ts';
import { type PageRequest, type Paged, href, paginate } from '../core/query.ts';
import { badge, count, duration, timeAt } from '../core/format.ts';
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
  seenCell,
  select,
  selectorError,
  stateBadge,
  textFilter,
} from './widgets.ts';
import { eventsTable } from './events-table.ts';

const healthTone: Readonly<Record<NodeHealth | 'unknown', 'ok' | 'warn' | 'bad' | 'muted'>> = {
  ok: 'ok',
  degraded: 'warn',
  failing: 'bad',
  unknown: 'muted',
};

export interface NodesFilter {
  readonly presence: string;
  readonly health: string;
  readonly sel: string;
  readonly selector: Selector | undefined;
  readonly q: string;
}

export interface NodeRow {
  readonly node: NodeView;
  readonly presence: Presence;
  readonly staleness: number;
  readonly health: NodeHealth | 'unknown';
  readonly jobs: number;
  readonly problems: number;
}

export function nodesListModel(ix: FleetIndex, f: NodesFilter, pg: PageRequest, now: number): Paged<NodeRow> {
  const q = f.q.toLowerCase();
  const rows: NodeRow[] = [];
  for (const n of ix.nodes()) {
    const presence = ix.presence(n, now);
    if (f.presence && presence !== f.presence) continue;
    const health = ix.health(n);
    if (f.health && health !== f.health) continue;
    if (f.selector && !matchesSelector(f.selector, n.labels)) continue;
    if (q && !n.hostname.toLowerCase().includes(q) && !n.nodeId.toLowerCase().includes(q)) continue;
    rows.push({
      node: n,
      presence,
      staleness: ix.staleness(n, now),
      health,
      jobs: n.status ? Object.keys(n.status.jobs).length : 0,
      problems: ix.problemCount(n),
    });
  }
  rows.sort(
    (a, b) =>
      (a.node.hostname < b.node.hostname ? -1 : a.node.hostname > b.node.hostname ? 1 : 0) ||
      (a.node.nodeId < b.node.nodeId ? -1 : 1),
  );
  return paginate(rows, pg);
}

export function nodesListPage(
  v: Viewer,
  q: URLSearchParams,
  f: NodesFilter,
  p: Paged<NodeRow>,
  selError: string | undefined,
): SafeHtml {
  const body = html`<h1>Nodes</h1>
    ${filterForm('/nodes', [
      presenceSelect(f.presence),
      select('health', 'Health', f.health, [
        ['ok', 'ok'],
        ['degraded', 'degraded'],
        ['failing', 'failing'],
        ['unknown', 'unknown'],
      ]),
      textFilter('sel', 'Labels', f.sel, 'site=ams'),
      textFilter('q', 'Name', f.q, 'hostname or id'),
    ])}
    ${selectorError(selError)}
    <div id="live" data-live>
      <table class="grid" id="nodes">
        ${columnHeads('Node', 'Presence', 'Last seen', 'Health', 'Jobs', 'Problems', 'Labels')}
        <tbody>
          ${
            p.items.length === 0
              ? emptyRow(7, 'No node matches.')
              : p.items.map(
                  (r) =>
                    html`<tr>
                      <th scope="row">
                        <a href="${href(['nodes', r.node.nodeId])}">${r.node.hostname || r.node.nodeId}</a
                        >${r.node.revokedAt !== undefined ? html` ${badge('revoked', 'muted')}` : ''}<br /><span
                          class="muted small mono"
                          >${r.node.nodeId}</span
                        >
                      </th>
                      <td>${presenceBadge(r.presence, r.staleness)}</td>
                      <td>${seenCell(lastSeenOf(r.node), r.staleness)}</td>
                      <td>${badge(r.health, healthTone[r.health])}</td>
                      <td class="num">${count(r.jobs)}</td>
                      <td class="num">
                        ${r.problems ? badge(count(r.problems), 'bad') : html`<span class="muted">0</span>`}
                      </td>
                      <td>${labelChips(r.node.labels)}</td>
                    </tr>`,
                )
          }
        </tbody>
      </table>
      ${pager(['nodes'], q, p)}
    </div>`;
  return page(v, { title: 'Nodes', section: 'nodes', topics: ['fleet'], body });
}

function lastSeenOf(n: NodeView): number {
  return Math.max(n.statusAt, n.heartbeatAt);
}

// ---------------------------------------------------------------- one node

export interface NodeJobRow {
  readonly label: string;
  readonly job: JobOnNode;
  /** The version the controller wants here, when a job record targets this node. */
  readonly desired: number | undefined;
}

export interface NodePageModel {
  readonly node: NodeView;
  readonly presence: Presence;
  readonly staleness: number;
  readonly jobs: readonly NodeJobRow[];
  /** Labels the controller wants on this node that it does not report. */
  readonly missing: readonly (readonly [string, number])[];
  readonly events: readonly ConsoleEvent[];
  readonly drift: readonly ConsoleEvent[];
  /** The jobs the node's reconciler is retrying (its status's `retrying`), soonest first. */
  readonly retrying: readonly RetryingJob[];
  readonly now: number;
}

/** `desired`: label -> version, for the job records that target this node. */
export function nodePageModel(
  ix: FleetIndex,
  n: NodeView,
  desired: ReadonlyMap<string, number>,
  now: number,
  events: readonly ConsoleEvent[],
): NodePageModel {
  const jobs: NodeJobRow[] = [];
  for (const label of Object.keys(n.status?.jobs ?? {})) {
    const job = jobOnNode(ix, n, label);
    if (job) jobs.push({ label, job, desired: desired.get(label) });
  }
  const r = (x: NodeJobRow) => (x.job.problem ? problemRank[x.job.problem] : 9);
  jobs.sort((a, b) => r(a) - r(b) || (a.label < b.label ? -1 : 1));
  const missing = [...desired]
    .filter(([l]) => n.status?.jobs[l] === undefined)
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return {
    node: n,
    presence: ix.presence(n, now),
    staleness: ix.staleness(n, now),
    jobs,
    missing,
    events: events.slice(0, 50),
    drift: events.filter((e) => e.kind === 'drift').slice(0, 20),
    retrying: n.status?.retrying ?? [],
    now,
  };
}

export function nodePage(v: Viewer, m: NodePageModel): SafeHtml {
  const n = m.node;
  const s = n.status;
  const driftCounts = Object.entries(s?.counters?.drift ?? {}).filter(([, c]) => c > 0);
  const refusals = Object.entries(s?.counters?.signatureRefusals ?? {}).filter(([, c]) => c > 0);
  const body = html`<p class="crumbs"><a href="/nodes">Nodes</a> /</p>
    <h1>${n.hostname || n.nodeId} <span class="muted small mono">${n.nodeId}</span></h1>
    <div id="live" data-live>
      <section class="cards" aria-label="State">
        <div class="card ${m.presence === 'online' ? 'ok' : 'bad'}">
          <span class="card-value">${m.presence}</span
          ><span class="card-title"
            >${m.staleness < 0 ? 'never reported' : `last report ${duration(m.staleness)} ago`}</span
          >
        </div>
        <div class="card ${healthTone[s?.health ?? 'unknown']}">
          <span class="card-value">${s?.health ?? 'unknown'}</span><span class="card-title">health</span>
        </div>
        <div class="card ${m.jobs.some((j) => j.job.problem) ? 'bad' : 'ok'}">
          <span class="card-value">${count(m.jobs.filter((j) => j.job.problem).length)}</span
          ><span class="card-title">jobs with problems</span
          ><span class="muted small">of ${count(m.jobs.length)}</span>
        </div>
        <div class="card ${driftCounts.length ? 'warn' : 'ok'}">
          <span class="card-value">${count(driftCounts.reduce((t, [, c]) => t + c, 0))}</span
          ><span class="card-title">drift repaired</span>
        </div>
      </section>

      <section aria-labelledby="h-jobs">
        <h2 id="h-jobs">Jobs</h2>
        <table class="grid" id="node-jobs">
          ${columnHeads('Label', 'State', 'Domain', 'Last exit', 'Crashes', 'PID', 'Version', 'Why')}
          <tbody>
            ${
              m.jobs.length === 0
                ? emptyRow(8, 'This node reports no job.')
                : m.jobs.map(
                    (j) =>
                      html`<tr>
                        <th scope="row"><a href="${href(['jobs', j.label])}">${j.label}</a></th>
                        <td>${stateBadge(j.job.state, j.job.problem)}</td>
                        <td>${j.job.detail?.domain ?? ''}</td>
                        <td class="num">
                          ${j.job.detail?.lastExitStatus ?? html`<span class="muted">—</span>`}
                        </td>
                        <td class="num">
                          ${j.job.detail?.successiveCrashes ?? html`<span class="muted">—</span>`}
                        </td>
                        <td class="num">${j.job.detail?.pid ?? html`<span class="muted">—</span>`}</td>
                        <td>
                          ${j.job.version ?? html`<span class="muted">—</span>`}${j.desired !== undefined && j.job.version !== String(j.desired) ? html` ${badge(`desired v${j.desired}`, 'warn')}` : ''}
                        </td>
                        <td class="small">${j.job.detail?.reason ?? ''}</td>
                      </tr>`,
                  )
            }${m.missing.map(
              ([l, ver]) =>
                html`<tr>
                  <th scope="row"><a href="${href(['jobs', l])}">${l}</a></th>
                  <td>${badge('not reported', 'warn')}</td>
                  <td colspan="6" class="muted">the controller wants v${ver} here</td>
                </tr>`,
            )}
          </tbody>
        </table>
      </section>

      ${retryingSection(m.retrying, m.now)}

      <section class="split">
        <div>
          <h2>Inventory</h2>
          <dl class="facts">
            <dt>Hostname</dt>
            <dd>${n.hostname || html`<span class="muted">—</span>`}</dd>
            <dt>Node id</dt>
            <dd class="mono">${n.nodeId}</dd>
            <dt>Labels</dt>
            <dd>${labelChips(n.labels)}</dd>
            <dt>Agent</dt>
            <dd>${s?.agentVersion ?? html`<span class="muted">—</span>`}</dd>
            <dt>Domains</dt>
            <dd>${s?.domains?.join(', ') || html`<span class="muted">—</span>`}</dd>
            <dt>Users logged in</dt>
            <dd>${s?.users?.join(', ') || html`<span class="muted">—</span>`}</dd>
            <dt>Enrolled</dt>
            <dd>${timeAt(n.enrolledAt)}</dd>
            ${
              n.revokedAt !== undefined
                ? html`<dt>Revoked</dt>
                    <dd>${timeAt(n.revokedAt)}</dd>`
                : ''
            }
            <dt>Last status</dt>
            <dd>${timeAt(n.statusAt)}</dd>
            <dt>Last heartbeat</dt>
            <dd>${timeAt(n.heartbeatAt)}</dd>
            <dt>Desired-state revision applied</dt>
            <dd>${s?.desiredRevision ?? html`<span class="muted">—</span>`}</dd>
            <dt>Public key</dt>
            <dd class="mono small">${n.publicKey}</dd>
          </dl>
        </div>
        <div>
          <h2>Drift</h2>
          ${
            driftCounts.length === 0 && m.drift.length === 0
              ? html`<p class="muted">
                  No drift reported: the managed jobs are as the controller wrote them.
                </p>`
              : html`<ul class="plain">
                    ${driftCounts.map(([k, c]) => html`<li>${k}: ${count(c)} repaired</li>`)}
                  </ul>
                  ${eventsTable(m.drift, false)}`
          }
          ${
            refusals.length
              ? html`<h2>Bundles refused</h2>
                  <ul class="plain">
                    ${refusals.map(([k, c]) => html`<li>${k}: ${count(c)}</li>`)}
                  </ul>`
              : ''
          }
        </div>
      </section>

      <section aria-labelledby="h-events">
        <h2 id="h-events">Recent events</h2>
        ${eventsTable(m.events, false)}
      </section>
    </div>`;
  return page(v, { title: n.hostname || n.nodeId, section: 'nodes', topics: [`node:${n.nodeId}`], body });
}

/** The jobs the node tries again by itself (`nodes describe`'s "retrying"); nothing when none. */
function retryingSection(jobs: readonly RetryingJob[], now: number): SafeHtml | '' {
  if (jobs.length === 0) return '';
  return html`<section aria-labelledby="h-retrying">
    <h2 id="h-retrying">Retrying</h2>
    <p class="muted small">The node tries these again by itself, each after its own backoff.</p>
    <table class="grid" id="node-retrying">
      ${columnHeads('Label', 'Domain', 'Failures in a row', 'Next attempt', 'Why')}
      <tbody>
        ${jobs.map(
          (r) =>
            html`<tr>
              <th scope="row"><a href="${href(['jobs', r.label])}">${r.label}</a></th>
              <td>${r.domain}</td>
              <td class="num">${count(r.failures)}</td>
              <td>${nextAttempt(r.nextAttemptAt, now)}</td>
              <td class="small">${r.why}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

function nextAttempt(at: number | undefined, now: number): SafeHtml {
  if (at === undefined || at <= 0) return html`being tried now`;
  return html`${at > now ? `in ${duration(at - now)}` : 'due now'}
    <span class="muted small">${timeAt(at)}</span>`;
}
