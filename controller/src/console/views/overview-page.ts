/**
 * The overview: what is broken now, problems first. Only current state: a job that stopped
 * crash-looping, a node that came back, a rollout superseded by a newer one of the same job
 * and an alert that resolved all leave the page (Nomad's users ask exactly this: past failures
 * that stay red are noise).
 */
import type { AlertInstance } from '../../alerts/core/alert-evaluator.ts';
import type { FleetIndex, NodeView } from '../../fleet/core/fleet-index.ts';
import type { JobProblem } from '../../fleet/core/job-problem.ts';
import type { RolloutRecord } from '../../rollout/rollout-store.ts';
import { type SafeHtml, html } from '../core/html.ts';
import { href } from '../core/query.ts';
import { badge, count, duration, plural, timeAt } from '../core/format.ts';
import { type Viewer, page } from './layout.ts';
import { columnHeads, problemNames } from './widgets.ts';
import { phaseBadge, rolloutIdCell, rolloutJobCell, rolloutProgress } from './rollout-widgets.ts';

export interface OverviewData {
  readonly index: FleetIndex;
  readonly now: number;
  /** Rollouts that still speak for their job (rollout-metrics.ts `currentRollouts`). */
  readonly rollouts: readonly RolloutRecord[];
  readonly alerts: readonly AlertInstance[];
}

/** One job in trouble somewhere. */
export interface JobTrouble {
  readonly label: string;
  readonly counts: Readonly<Record<JobProblem, number>>;
  readonly total: number;
  /** A few of its nodes, worst first. */
  readonly sample: readonly { readonly node: NodeView; readonly problem: JobProblem }[];
}

export interface OfflineNode {
  readonly node: NodeView;
  readonly staleness: number;
}

export interface OverviewModel {
  readonly nodes: number;
  readonly online: number;
  readonly offline: readonly OfflineNode[];
  readonly troubles: readonly JobTrouble[];
  readonly rollouts: readonly RolloutRecord[];
  readonly alerts: readonly AlertInstance[];
}

const sampleSize = 3;
const offlineShown = 15;
const rank: Record<JobProblem, number> = { crash_looping: 0, failed: 1, throttled: 2 };
/** Phases worth a look: moving, stopped by a person mid-way, or gone wrong. */
const watchedPhases = new Set([
  'pending',
  'canary',
  'wave',
  'paused',
  'rolling-back',
  'failed',
  'rolled-back',
]);

export function overviewModel(d: OverviewData): OverviewModel {
  const ix = d.index;
  const troubles: JobTrouble[] = [];
  for (const [label, nodes] of ix.problemsByLabel()) {
    const counts: Record<JobProblem, number> = { crash_looping: 0, failed: 0, throttled: 0 };
    const sample: { node: NodeView; problem: JobProblem }[] = [];
    for (const [id, problem] of nodes) {
      counts[problem]++;
      const node = ix.node(id);
      if (!node) continue;
      if (sample.length < sampleSize) sample.push({ node, problem });
      else {
        // Keep the worst few: replace a milder one.
        const i = sample.findIndex((s) => rank[s.problem] > rank[problem]);
        if (i >= 0) sample[i] = { node, problem };
      }
    }
    sample.sort((a, b) => rank[a.problem] - rank[b.problem]);
    troubles.push({ label, counts, total: nodes.size, sample });
  }
  troubles.sort(
    (a, b) =>
      b.counts.crash_looping - a.counts.crash_looping ||
      b.counts.failed - a.counts.failed ||
      b.total - a.total ||
      (a.label < b.label ? -1 : 1),
  );
  let nodes = 0;
  let online = 0;
  const offline: OfflineNode[] = [];
  for (const n of ix.nodes()) {
    if (n.revokedAt !== undefined || !n.registered) continue;
    nodes++;
    if (ix.presence(n, d.now) === 'online') online++;
    else offline.push({ node: n, staleness: ix.staleness(n, d.now) });
  }
  // Most recently lost first: that is the one someone is asking about. Never-seen last.
  offline.sort((a, b) => (a.staleness < 0 ? 1 : b.staleness < 0 ? -1 : a.staleness - b.staleness));
  const rollouts = d.rollouts
    .filter((r) => watchedPhases.has(r.state.phase.kind))
    .sort((a, b) => b.createdAt - a.createdAt);
  return { nodes, online, offline, troubles, rollouts, alerts: d.alerts };
}

function card(title: string, value: string, tone: string, link: string, note: string): SafeHtml {
  return html`<a class="card ${tone}" href="${link}"
    ><span class="card-value">${value}</span><span class="card-title">${title}</span
    ><span class="muted small">${note}</span></a
  >`;
}

function nodeLink(n: NodeView): SafeHtml {
  return html`<a href="${href(['nodes', n.nodeId])}">${n.hostname || n.nodeId}</a>`;
}

export function overviewPage(v: Viewer, m: OverviewModel, now: number): SafeHtml {
  const jobsInTrouble = m.troubles.length;
  const crash = m.troubles.reduce((s, t) => s + t.counts.crash_looping, 0);
  const body = html`<h1>Overview</h1>
    <div id="live" data-live>
      <section class="cards" aria-label="Summary">
        ${card('jobs with problems', count(jobsInTrouble), jobsInTrouble ? 'bad' : 'ok', '/jobs?problem=any', crash ? `${plural(crash, 'node')} crash-looping` : 'none crash-looping')}
        ${card('nodes offline', count(m.offline.length), m.offline.length ? 'bad' : 'ok', '/nodes?presence=offline', `${count(m.online)} of ${count(m.nodes)} online`)}
        ${card('rollouts to watch', count(m.rollouts.length), m.rollouts.some((r) => r.state.phase.kind === 'failed' || r.state.phase.kind === 'rolled-back') ? 'bad' : m.rollouts.length ? 'info' : 'ok', '/rollouts', 'in progress, paused or failed')}
        ${card('alerts firing', count(m.alerts.length), m.alerts.some((a) => a.severity === 'critical') ? 'bad' : m.alerts.length ? 'warn' : 'ok', '#alerts', 'raised by the controller')}
      </section>

      <section aria-labelledby="h-trouble">
        <h2 id="h-trouble">Jobs in trouble</h2>
        ${
          m.troubles.length === 0
            ? html`<p class="all-good">No job is crash-looping, throttled or failing to load anywhere.</p>`
            : html`<table class="grid" id="trouble">
                ${columnHeads('Job', 'Crash-looping', 'Failed to load', 'Throttled', 'Where')}
                <tbody>
                  ${m.troubles.map(
                    (t) =>
                      html`<tr>
                        <th scope="row">
                          <a href="${href(['jobs', t.label], { problem: 'any' })}">${t.label}</a>
                        </th>
                        <td>
                          ${t.counts.crash_looping ? badge(plural(t.counts.crash_looping, 'node'), 'bad') : html`<span class="muted">0</span>`}
                        </td>
                        <td>
                          ${t.counts.failed ? badge(plural(t.counts.failed, 'node'), 'bad') : html`<span class="muted">0</span>`}
                        </td>
                        <td>
                          ${t.counts.throttled ? badge(plural(t.counts.throttled, 'node'), 'warn') : html`<span class="muted">0</span>`}
                        </td>
                        <td>
                          ${t.sample.map((s) => html`${nodeLink(s.node)} <span class="muted small">(${problemNames[s.problem]})</span> `)}${
                            t.total > t.sample.length
                              ? html`<a class="small" href="${href(['jobs', t.label], { problem: 'any' })}"
                                  >+${count(t.total - t.sample.length)} more</a
                                >`
                              : ''
                          }
                        </td>
                      </tr>`,
                  )}
                </tbody>
              </table>`
        }
      </section>

      <section aria-labelledby="h-offline">
        <h2 id="h-offline">Nodes offline or never seen</h2>
        ${
          m.offline.length === 0
            ? html`<p class="all-good">Every enrolled node reported recently.</p>`
            : html`<table class="grid" id="offline">
                  ${columnHeads('Node', 'Unheard for', 'Last seen', 'Health when last seen')}
                  <tbody>
                    ${m.offline.slice(0, offlineShown).map(
                      (o) =>
                        html`<tr>
                          <th scope="row">
                            ${nodeLink(o.node)} <span class="muted small mono">${o.node.nodeId}</span>
                          </th>
                          <td>
                            ${o.staleness < 0 ? badge('never reported', 'bad') : badge(duration(o.staleness), 'bad')}
                          </td>
                          <td>${timeAt(Math.max(o.node.statusAt, o.node.heartbeatAt))}</td>
                          <td>${o.node.status?.health ?? 'unknown'}</td>
                        </tr>`,
                    )}
                  </tbody>
                </table>
                ${m.offline.length > offlineShown ? html`<p><a href="/nodes?presence=offline">All ${count(m.offline.length)} offline nodes →</a></p>` : ''}`
        }
      </section>

      <section aria-labelledby="h-rollouts">
        <h2 id="h-rollouts">Rollouts in progress or failed</h2>
        ${
          m.rollouts.length === 0
            ? html`<p class="all-good">No rollout is running, paused or failed.</p>`
            : html`<table class="grid" id="rollouts">
                ${columnHeads('Rollout', 'Job', 'State', 'Progress', 'Why', 'Started')}
                <tbody>
                  ${m.rollouts.map(
                    (r) =>
                      html`<tr>
                        ${rolloutIdCell(r)} ${rolloutJobCell(r)}
                        <td>${phaseBadge(r.state.phase.kind)}</td>
                        <td>${rolloutProgress(r)}</td>
                        <td>${r.state.outcome?.reason ?? ''}</td>
                        <td>${timeAt(r.state.startedAt ?? r.createdAt)}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>`
        }
      </section>

      <section aria-labelledby="h-alerts" id="alerts">
        <h2 id="h-alerts">Alerts firing</h2>
        ${
          m.alerts.length === 0
            ? html`<p class="all-good">No alert is firing.</p>`
            : html`<table class="grid" id="alert-list">
                ${columnHeads('Alert', 'Severity', 'About', 'Summary')}
                <tbody>
                  ${m.alerts.map(
                    (a) =>
                      html`<tr>
                        <th scope="row">${a.name}</th>
                        <td>${badge(a.severity, a.severity === 'critical' ? 'bad' : 'warn')}</td>
                        <td>
                          ${a.label ? html`<a href="${href(['jobs', a.label])}">${a.label}</a> ` : ''}${a.node ? html`<a href="${href(['nodes', a.node])}" class="mono small">${a.node}</a>` : ''}${a.rollout ? html`<a href="${href(['rollouts', a.rollout])}" class="mono">${a.rollout}</a>` : ''}
                        </td>
                        <td>${a.summary}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>`
        }
      </section>
      <p class="muted small">As of ${timeAt(now)}.</p>
    </div>`;
  return page(v, { title: 'Overview', section: 'overview', topics: ['fleet', 'rollouts', 'alerts'], body });
}
